"""The JSON API through the real server and database, with codes from independent implementations."""
import os
import sqlite3
import stat
import subprocess
import time

import pyotp


def oathtool_code(secret, at):
    result = subprocess.run(["oathtool", "--totp", "-b", "--time-step-size=60s", "--now", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at)), secret],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_enrol_activate_verify_with_pyotp_and_oathtool(server):
    status, user = server.api("POST", "/api/v1/users", {"loginId": "e2e01", "name": "E2E 太郎"})
    assert status == 201, user
    status, enrolment = server.api("POST", f"/api/v1/users/{user['id']}/token")
    assert status == 201, enrolment
    assert enrolment["serial"].startswith("SKTS") and enrolment["period"] == 60
    totp = pyotp.parse_uri(enrolment["otpauthUri"])
    assert totp.interval == 60 and totp.digits == 6
    now = int(time.time())
    code = totp.at(now)
    assert oathtool_code(totp.secret, now) == code  # two independent implementations agree

    status, body = server.api("POST", f"/api/v1/users/{user['id']}/token/activate", {"code": code})
    assert status == 200 and body["state"] == "active", body
    # Once only: the same code is refused afterwards.
    status, body = server.api("POST", f"/api/v1/users/{user['id']}/verify", {"code": code})
    assert status == 403 and body["error"]["code"] == "otp.invalid"
    # The next step's code is accepted (inside the ±1 window).
    status, body = server.api("POST", f"/api/v1/users/{user['id']}/verify", {"code": totp.at(now + 60)})
    assert status == 200 and body["result"] == "accepted", body

    status, token = server.api("GET", f"/api/v1/tokens/{enrolment['serial']}")
    assert status == 200 and token["state"] == "active" and token["users"] == [user["id"]]


def test_secrets_at_rest_and_audit_verify_detects_tampering(server):
    status, user = server.api("POST", "/api/v1/users", {"loginId": "e2e02", "name": "E2E 花子"})
    status, enrolment = server.api("POST", f"/api/v1/users/{user['id']}/token")
    secret = pyotp.parse_uri(enrolment["otpauthUri"]).secret
    server.api("POST", f"/api/v1/users/{user['id']}/token/activate", {"code": pyotp.parse_uri(enrolment["otpauthUri"]).now()})

    # Key files are private; the seed is not in the database file in clear.
    for name in ("master.key", "api.key"):
        assert stat.S_IMODE(os.stat(os.path.join(server.data_dir, name)).st_mode) == 0o600
    server.stop()
    import base64
    raw_seed = base64.b32decode(secret + "=" * (-len(secret) % 8))
    for name in os.listdir(server.data_dir):
        if name.startswith("ichigo.sqlite"):
            assert raw_seed not in open(os.path.join(server.data_dir, name), "rb").read()

    result = server.cli("audit", "verify")
    assert result.returncode == 0 and "intact" in result.stdout, result.stdout + result.stderr

    db = sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite"))
    db.executescript("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'refused' WHERE seq = 3;")
    db.commit()
    db.close()
    result = server.cli("audit", "verify")
    assert result.returncode == 1 and "BROKEN" in result.stdout, result.stdout + result.stderr


def test_server_log_has_no_secrets(server):
    status, user = server.api("POST", "/api/v1/users", {"loginId": "e2e03", "name": "E2E"})
    status, enrolment = server.api("POST", f"/api/v1/users/{user['id']}/token")
    totp = pyotp.parse_uri(enrolment["otpauthUri"])
    code = totp.now()
    server.api("POST", f"/api/v1/users/{user['id']}/token/activate", {"code": code})
    server.api("POST", f"/api/v1/users/{user['id']}/verify", {"code": "000000"})
    server.stop()
    assert server.process.returncode == 0, "the server must stop gracefully on SIGTERM"
    log = open(os.path.join(server.data_dir, "server.log")).read()
    assert totp.secret not in log and code not in log and server.api_key not in log
