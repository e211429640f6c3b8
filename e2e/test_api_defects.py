"""Issue 9, against a live `ichigo serve` over raw sockets: errors raised below the routes (the HTTP parser) are
in the API's error shape (defect 7); the data folder is owner-only (defect 9); an https:// public URL gives
Secure __Host- cookies and HSTS (defect 11)."""
import json
import re
import os
import shutil
import socket
import stat
import tempfile

import pytest

from conftest import Server, free_port


def exchange(server, raw, timeout=10):
    """Sends raw bytes, reads until the server closes (or the answer is complete); returns status, headers, body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        conn.sendall(raw)
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                headers = dict(
                    line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
                length = int(headers.get(b"content-length", headers.get(b"Content-Length", b"-1")))
                if length >= 0 and len(rest) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
    return status, headers, body


def error_of(body):
    document = json.loads(body)
    assert set(document) == {"error"}, document
    assert document["error"]["code"] and document["error"]["message"], document
    return document["error"]["code"]


def test_an_over_long_path_answers_in_the_error_shape(server):
    status, headers, body = exchange(server, b"GET /api/v1/users/" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status in (400, 414, 431), status
    assert headers["content-type"].startswith("application/json")
    assert error_of(body) in ("request.header_too_large", "request.malformed")
    # Answered below the router, it still has an ID to quote, and the server's log has a line with it.
    assert re.fullmatch(r"[0-9a-f]{16,32}", headers["x-request-id"]), headers
    assert headers["x-request-id"] in server.log_text()


def test_a_malformed_request_line_answers_in_the_error_shape(server):
    status, headers, body = exchange(server, b"GET / HTTP/9\x00\r\n\r\n")
    assert status == 400
    assert error_of(body) == "request.malformed"


def test_a_malformed_chunked_body_is_malformed_not_too_large(server):
    body = b'{"loginId":"chunky","name":"x"}'
    raw = (b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.api_key.encode() +
           b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"ZZ\r\n" + body + b"\r\n0\r\n\r\n")
    status, headers, answer = exchange(server, raw)
    assert status == 400, (status, answer)
    assert error_of(answer) == "request.malformed"
    # Nothing was created.
    code, _ = server.api("GET", "/api/v1/users/none")
    assert code == 404


def test_a_well_formed_chunked_body_still_works(server):
    body = b'{"loginId":"chunky2","name":"x"}'
    raw = (b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.api_key.encode() +
           b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
           format(len(body), "x").encode() + b"\r\n" + body + b"\r\n0\r\n\r\n")
    status, headers, answer = exchange(server, raw)
    assert status == 201, answer
    assert headers["cache-control"] == "no-store"


def test_every_file_in_the_data_folder_is_owner_only(server):
    # The server has written its database, WAL and keys; a mail lands in the outbox folder.
    code, user = server.api("POST", "/api/v1/users", {"loginId": "modes", "name": "x"})
    assert code == 201
    assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
    seen = []
    for folder, dirs, files in os.walk(server.data_dir):
        for name in files:
            if name == "server.log":  # written by the test, not by Ichigo
                continue
            mode = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
            seen.append(name)
            assert mode == 0o600, f"{name} is {oct(mode)}"
    assert "ichigo.sqlite" in seen and "master.key" in seen and "api.key" in seen, seen


@pytest.fixture
def https_server():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-https-")
    instance = Server(data_dir, free_port(), args=("--public-url", "https://ib.bank.example.jp"))
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_an_https_public_url_gives_secure_host_cookies_and_hsts(https_server):
    status, headers, _ = exchange(https_server, b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200
    cookie = headers["set-cookie"]
    assert cookie.startswith("__Host-ichigo_session=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert headers["strict-transport-security"].startswith("max-age=")


def test_plain_http_sends_no_hsts(server):
    status, headers, _ = exchange(server, b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200
    assert "strict-transport-security" not in headers
    assert headers["set-cookie"].startswith("ichigo_session=") and "Secure" not in headers["set-cookie"]


def test_audit_verify_finds_the_newest_records_deleted(server):
    import sqlite3
    for index in range(5):
        code, _ = server.api("POST", "/api/v1/users", {"loginId": f"audit{index}", "name": "x"})
        assert code == 201
    checkpoint = server.cli("audit", "checkpoint", "--out", os.path.join(server.data_dir, "checkpoints.txt"))
    assert checkpoint.returncode == 0, checkpoint.stdout + checkpoint.stderr
    assert checkpoint.stdout.startswith("ichigo-audit-head v1 ")
    ok = server.cli("audit", "verify", "--anchor", os.path.join(server.data_dir, "checkpoints.txt"))
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    server.stop()
    # An attacker with write access to the database removes the newest three records.
    db = sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite"))
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) FROM audit_log) - 3")
    db.commit()
    db.close()
    found = server.cli("audit", "verify")
    assert found.returncode == 1, found.stdout + found.stderr
    assert "deleted" in found.stdout, found.stdout
    anchored = server.cli("audit", "verify", "--anchor", os.path.join(server.data_dir, "checkpoints.txt"))
    assert anchored.returncode == 1 and anchored.stdout.count("deleted") >= 2, anchored.stdout
