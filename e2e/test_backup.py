"""Online backups of the SQLite database: `ichigo backup` under verification load is a consistent copy holding every
verification acknowledged before it began; `ichigo restore` checks a copy (intact, known migrations, audit trail
verifies with the master key) before it replaces anything, and refuses a damaged or edited copy, or a data directory
in use, leaving everything as it was.
"""
import hashlib
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time

import pyotp

from conftest import BINARY, Server, free_port
from test_audit_stream import seed, wait_until


def ichigo(data, *args):
    env = dict(os.environ, ICHIGO_DATA_DIRECTORY=data, ICHIGO_PASSWORD_SCRYPT_LOG_ROUNDS="10")
    return subprocess.run([BINARY, *args], env=env, capture_output=True, text=True, timeout=300)


class Load:
    """Verifications from four threads, each user once with the code of the moment; records (user, status, sent at,
    answered at) on the monotonic clock."""

    def __init__(self, server, seeds):
        self.server = server
        self.seeds = list(seeds)
        self.results = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(4)]
        for thread in self.threads:
            thread.start()

    def work(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        while self.running:
            with self.lock:
                if not self.seeds:
                    return
                user, secret = self.seeds.pop()
            sent = time.monotonic()
            connection.request("POST", f"/api/v1/users/{user}/verify",
                               json.dumps({"code": pyotp.TOTP(secret, interval=60).now()}),
                               {"Authorization": "Bearer " + self.server.api_key, "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            with self.lock:
                self.results.append((user, response.status, sent, time.monotonic()))

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)


def used_users(database_path):
    database = sqlite3.connect(database_path)
    used = {row[0] for row in database.execute(
        "SELECT u.id FROM users u JOIN tokens t ON t.id = u.token_id WHERE t.last_step >= 0")}
    audited = {row[0] for row in database.execute(
        "SELECT DISTINCT u.id FROM audit_log a JOIN tokens t ON a.subject = t.serial JOIN users u ON u.token_id = t.id "
        "WHERE a.action = 'otp.verify' AND a.outcome = 'accepted'")}
    database.close()
    return used, audited


def snapshot(directory):
    """Every file in the data directory with its SHA-256 (the lock file's PID aside)."""
    result = {}
    for root, _, files in os.walk(directory):
        for name in files:
            if name in ("ichigo.lock", "server.log"):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return result


def test_backup_under_load_restores_every_acknowledged_verification(tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data)
    seeds = seed(data, 1500)
    server = Server(data, free_port())
    backup = str(tmp_path / "ichigo-backup.sqlite")
    try:
        load = Load(server, seeds)
        assert wait_until(lambda: len(load.results) >= 100, 60), "the load did not start"
        began = time.monotonic()
        made = ichigo(data, "backup", "--out", backup)
        ended = time.monotonic()
        assert made.returncode == 0, made.stdout + made.stderr
        assert "backup written" in made.stdout
        # A restore while the server runs is refused, and names the server.
        refused = ichigo(data, "restore", "--from", backup)
        assert refused.returncode != 0 and "in use" in refused.stderr and "ichigo serve" in refused.stderr, \
            refused.stderr
        assert wait_until(lambda: any(sent > ended for _, _, sent, _ in load.results), 30)
        load.stop()
    finally:
        server.stop()
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert not os.path.exists(backup + "-wal"), "the copy is one file"
    before = {user for user, status, _, answered in load.results if status == 200 and answered < began}
    after = {user for user, status, sent, _ in load.results if status == 200 and sent > ended}
    assert len(before) >= 100 and after
    live_used, _ = used_users(os.path.join(data, "ichigo.sqlite"))
    assert before | after <= live_used

    restored = ichigo(data, "restore", "--from", backup)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "the audit trail verifies" in restored.stdout
    used, audited = used_users(os.path.join(data, "ichigo.sqlite"))
    assert before <= used, f"{len(before - used)} verifications acknowledged before the backup began are missing"
    assert before <= audited, "an acknowledged verification has no audit record in the copy"
    assert not (after <= used), "verifications made after the backup finished are in the copy: not a snapshot"
    verified = ichigo(data, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout, verified.stdout
    # The restore is in the trail, and the replaced database is kept.
    database = sqlite3.connect(os.path.join(data, "ichigo.sqlite"))
    actor, action, reason = database.execute(
        "SELECT actor, action, reason FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    database.close()
    assert (actor, action) == ("cli", "backup.restore") and "records" in reason, reason
    kept = [name for name in os.listdir(data) if name.startswith("before-restore-")]
    assert len(kept) == 1 and os.path.exists(os.path.join(data, kept[0], "ichigo.sqlite"))
    assert "are lost from the database" in restored.stdout
    # The server starts on the restored database; the code accepted before the backup is a replay there.
    user, secret = next((u, s) for u, s in seeds if u in before)
    database = sqlite3.connect(os.path.join(data, "ichigo.sqlite"))
    (step,) = database.execute("SELECT t.last_step FROM users u JOIN tokens t ON t.id = u.token_id WHERE u.id = ?",
                               (user,)).fetchone()
    database.close()
    server = Server(data, free_port())
    try:
        status, body = server.api("POST", f"/api/v1/users/{user}/verify",
                                  {"code": pyotp.TOTP(secret, interval=60).at(step * 60)})
        assert status == 403 and body["error"]["code"] == "otp.invalid", body
    finally:
        server.stop()


def test_a_damaged_or_edited_copy_is_refused_and_nothing_changes(tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data)
    seed(data, 50)
    server = Server(data, free_port())
    server.stop()
    backup = str(tmp_path / "good.sqlite")
    assert ichigo(data, "backup", "--out", backup).returncode == 0
    # Refused: a backup over an existing file.
    again = ichigo(data, "backup", "--out", backup)
    assert again.returncode != 0 and "exists" in again.stderr

    damaged = str(tmp_path / "damaged.sqlite")
    shutil.copy(backup, damaged)
    with open(damaged, "r+b") as f:
        f.seek(4096 * 3 + 100)
        f.write(os.urandom(3000))
    edited = str(tmp_path / "edited.sqlite")
    shutil.copy(backup, edited)
    database = sqlite3.connect(edited)
    # As someone with the file would: the append-only trigger first, then the record.
    database.execute("DROP TRIGGER audit_log_no_update")
    database.execute("UPDATE audit_log SET outcome = 'refused' WHERE seq = 7")
    database.commit()
    database.close()
    not_sqlite = str(tmp_path / "notes.txt")
    with open(not_sqlite, "w") as f:
        f.write("not a database\n" * 1000)

    before = snapshot(data)
    for copy, why in ((damaged, "damaged"), (edited, "does not verify"), (not_sqlite, "not an SQLite database")):
        result = ichigo(data, "restore", "--from", copy)
        assert result.returncode != 0, result.stdout
        assert "restore refused" in result.stdout and why in result.stdout, result.stdout
        assert "nothing was changed" in result.stdout
        assert snapshot(data) == before, f"restoring the {why} copy changed the data directory"
    # The good copy still restores.
    result = ichigo(data, "restore", "--from", backup)
    assert result.returncode == 0, result.stdout + result.stderr


def test_after_a_restore_the_stream_sends_the_new_trail_from_the_copys_end(tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data)
    seeds = seed(data, 30)
    out = str(tmp_path / "audit.jsonl")
    env = {"ICHIGO_AUDIT_STREAM": f"file:{out}"}

    def verify(server, users):
        for user, secret in users:
            assert server.api("POST", f"/api/v1/users/{user}/verify",
                              {"code": pyotp.TOTP(secret, interval=60).now()})[0] == 200

    def streamed():
        return {(line["seq"], line["hash"]) for line in map(json.loads, open(out))} if os.path.exists(out) else set()

    def in_database():
        database = sqlite3.connect(os.path.join(data, "ichigo.sqlite"))
        rows = set(database.execute("SELECT seq, hash FROM audit_log"))
        database.close()
        return rows

    server = Server(data, free_port(), extra_env=env)
    try:
        verify(server, seeds[:10])
        backup = str(tmp_path / "copy.sqlite")
        assert ichigo(data, "backup", "--out", backup).returncode == 0
        verify(server, seeds[10:20])
        assert wait_until(lambda: streamed() >= in_database(), 15)
    finally:
        server.stop()
    before = in_database()
    restored = ichigo(data, "restore", "--from", backup)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    server = Server(data, free_port(), extra_env=env)
    try:
        verify(server, seeds[20:30])
        assert wait_until(lambda: streamed() >= in_database(), 15), "the new trail did not reach the file"
    finally:
        server.stop()
    after = in_database()
    forked = {seq for seq, _ in after - before}
    copy_end = min(forked) - 1
    # The first record after the copy's end is the restore itself; the numbers after it are used again.
    database = sqlite3.connect(os.path.join(data, "ichigo.sqlite"))
    assert database.execute("SELECT action FROM audit_log WHERE seq = ?", (copy_end + 1,)).fetchone()[0] == \
        "backup.restore"
    database.close()
    assert {seq for seq, _ in before} & forked, "no sequence number was used again"
    # The file has both histories: everything before the restore, and everything after, with no gap.
    assert streamed() >= before | after
    # The file's last line named a record the restored database does not hold (or holds with another hash); the
    # cursor, set by the restore to the copy's end, matched.
    log = server.log_text()
    assert "with another hash" in log or "does not hold" in log, log
    assert "audit stream resumes after record %d" % copy_end in log, log
