"""Mail delivery to a real SMTP server: STARTTLS with a certificate the server checks, and the outbox
folder when no SMTP server is configured."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import requests

from conftest import Server, free_port
from test_browser_journey import SMTPSink, body, subject


def start_issuance(server, login_id):
    """Creates a customer and runs BOT001 with plain HTTP, which sends the mail notification password."""
    status, user = server.api("POST", "/api/v1/users", {
        "loginId": login_id, "name": "鈴木 一郎", "email": f"{login_id}@example.jp",
        "loginPassword": "ichigo2026", "confirmationPassword": "kakunin1"})
    assert status == 201, user
    session = requests.Session()
    page = session.get(server.base + "/login").text
    csrf = re.search(r'name="_csrf" value="([^"]*)"', page).group(1)
    page = session.post(server.base + "/login", data={"_csrf": csrf, "loginId": login_id, "password": "ichigo2026"}).text
    page = session.get(server.base + "/otp/issue").text
    csrf = re.search(r'name="_csrf" value="([^"]*)"', page).group(1)
    response = session.post(server.base + "/otp/issue", data={
        "_csrf": csrf, "phoneEmail": "p@example.jp", "phoneEmailConfirmation": "p@example.jp",
        "activationPassword": "1357", "activationPasswordConfirmation": "1357"})
    assert response.url.endswith("/otp/issue/confirm"), response.text


def test_starttls_delivery_with_a_verified_certificate():
    certs = tempfile.mkdtemp(prefix="ichigo-tls-")
    cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    smtp = SMTPSink(extra_args=["--tlscert", cert, "--tlskey", key])  # STARTTLS required by default
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    server = Server(data_dir, free_port(), extra_env={
        "ICHIGO_SMTP_HOST": "localhost", "ICHIGO_SMTP_PORT": str(smtp.port), "ICHIGO_SMTP_SECURITY": "starttls",
        "ICHIGO_SMTP_CA_FILE": cert})
    try:
        start_issuance(server, "tls01")
        message = smtp.wait_for(lambda m: "メール通知パスワード" in subject(m))
        assert message["To"] == "tls01@example.jp"
        assert message["Content-Type"].lower().startswith("text/plain; charset=utf-8")
        assert "鈴木 一郎 様" in body(message)
    finally:
        server.stop()
        smtp.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(certs, ignore_errors=True)


def test_untrusted_certificate_is_refused_and_retried_not_lost():
    certs = tempfile.mkdtemp(prefix="ichigo-tls-")
    cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    smtp = SMTPSink(extra_args=["--tlscert", cert, "--tlskey", key])
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    # No CA file: the self-signed certificate is not trusted, so nothing may be sent.
    server = Server(data_dir, free_port(), extra_env={
        "ICHIGO_SMTP_HOST": "localhost", "ICHIGO_SMTP_PORT": str(smtp.port), "ICHIGO_SMTP_SECURITY": "starttls"})
    try:
        start_issuance(server, "tls02")
        time.sleep(3)
        assert smtp.messages() == []
        server.stop()
        import sqlite3
        db = sqlite3.connect(os.path.join(data_dir, "ichigo.sqlite"))
        rows = db.execute("SELECT sent_at, attempts, last_error FROM mail_outbox").fetchall()
        assert len(rows) == 1 and rows[0][0] is None and rows[0][1] >= 1, rows  # kept for retry
    finally:
        server.stop()
        smtp.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(certs, ignore_errors=True)


def test_outbox_folder_without_smtp(server):
    start_issuance(server, "eml01")
    deadline = time.time() + 10
    files = []
    while time.time() < deadline and not files:
        files = glob.glob(os.path.join(server.data_dir, "outbox", "*.eml"))
        time.sleep(0.2)
    assert len(files) == 1
    import email
    message = email.message_from_bytes(open(files[0], "rb").read())
    assert message["To"] == "eml01@example.jp"
    assert "メール通知パスワード" in subject(message)
