"""The real server on PostgreSQL (`ichigo serve --database postgres://…`): a customer, a token and codes over the JSON
API, stored in PostgreSQL with its audit chain intact. Runs when ICHIGO_TEST_POSTGRES_URL names a server
(scripts/with-postgres starts one; scripts/test runs pytest under it)."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pyotp
import pytest

from conftest import BINARY, Server, free_port

BASE_URL = os.environ.get("ICHIGO_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="ICHIGO_TEST_POSTGRES_URL is not set: run under scripts/with-postgres (scripts/test does)")


def psql(url, sql):
    result = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def database():
    """A database of its own, dropped afterwards."""
    name = "ichigo_e2e_" + uuid.uuid4().hex
    psql(BASE_URL, f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(BASE_URL)
    yield urllib.parse.urlunsplit(parts._replace(path="/" + name))
    psql(BASE_URL, f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def pg_server(database):
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-pg-")
    instance = Server(data_dir, free_port(), args=("--database", database))
    instance.database = database
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_customer_token_and_codes_on_postgres(pg_server):
    status, user = pg_server.api("POST", "/api/v1/users", {"loginId": "pg01", "name": "ポスグレ 太郎"})
    assert status == 201, user
    status, enrolment = pg_server.api("POST", f"/api/v1/users/{user['id']}/token")
    assert status == 201, enrolment
    totp = pyotp.parse_uri(enrolment["otpauthUri"])
    now = int(time.time())
    status, body = pg_server.api("POST", f"/api/v1/users/{user['id']}/token/activate", {"code": totp.at(now)})
    assert status == 200 and body["state"] == "active", body
    # Once only, across the database: the same code is refused, the next step's is accepted.
    status, body = pg_server.api("POST", f"/api/v1/users/{user['id']}/verify", {"code": totp.at(now)})
    assert status == 403 and body["error"]["code"] == "otp.invalid", body
    status, body = pg_server.api("POST", f"/api/v1/users/{user['id']}/verify", {"code": totp.at(now + 60)})
    assert status == 200 and body["result"] == "accepted", body

    # The data is in PostgreSQL, not in a SQLite file in the data directory.
    assert psql(pg_server.database, "SELECT login_id || ' ' || state FROM users JOIN tokens ON tokens.id = users.token_id") \
        == "pg01 active"
    assert not os.path.exists(os.path.join(pg_server.data_dir, "ichigo.sqlite"))
    actions = psql(pg_server.database, "SELECT string_agg(action || ':' || outcome, ' ' ORDER BY seq) FROM audit_log")
    assert "token.activate:accepted" in actions and "otp.verify:refused" in actions and "otp.verify:accepted" in actions
    head = psql(pg_server.database, "SELECT seq FROM audit_chain_head")
    assert head == psql(pg_server.database, "SELECT max(seq) FROM audit_log")

    pg_server.stop()
    assert pg_server.process.returncode == 0, "the server must stop gracefully on SIGTERM"
    result = pg_server.cli("audit", "verify", "--database", pg_server.database)
    assert result.returncode == 0 and "intact" in result.stdout, result.stdout + result.stderr
    # The instance's signed head outside the database names the trail's last record and is checked by verify.
    signed = open(os.path.join(pg_server.data_dir, "audit-postgres.head")).read().split()
    assert signed[2].lstrip("0") == head and signed[3] == psql(pg_server.database, f"SELECT hash FROM audit_log WHERE seq = {head}")
    assert "1 signed head(s)" in result.stdout, result.stdout

    # The database's owner deletes the newest record and moves the head row back: the chain alone is still valid,
    # but the signed head shows it.
    psql(pg_server.database, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete; "
         f"DELETE FROM audit_log WHERE seq = {head}; "
         f"UPDATE audit_chain_head SET seq = a.seq, hash = a.hash FROM audit_log a WHERE a.seq = {int(head) - 1}; "
         "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete")
    result = pg_server.cli("audit", "verify", "--database", pg_server.database)
    assert result.returncode == 1 and "BROKEN" in result.stdout and "deleted" in result.stdout, result.stdout
    log = open(os.path.join(pg_server.data_dir, "server.log")).read()
    password = urllib.parse.urlsplit(pg_server.database).password
    assert password and password not in log and totp.secret not in log


def test_migrate_twice_and_a_wrong_url(database):
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-pg-")
    try:
        env = dict(os.environ, ICHIGO_DATABASE_URL=database, ICHIGO_DATA_DIRECTORY=data_dir)
        for _ in range(2):
            result = subprocess.run([BINARY, "migrate"], env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0 and "up to date" in result.stdout, result.stdout + result.stderr
            password = urllib.parse.urlsplit(database).password
            assert password not in result.stdout + result.stderr
        assert psql(database, "SELECT count(*) > 0 AND count(*) = count(DISTINCT id) FROM schema_migrations") == "t"
        env["ICHIGO_DATABASE_URL"] = "mysql://nobody@localhost/ichigo"
        result = subprocess.run([BINARY, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "postgres://" in result.stdout + result.stderr
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
