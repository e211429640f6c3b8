"""`ichigo-token` against a real `ichigo serve`: scripted setup, show --json accepted by BOK001, the
interactive prompts in a pseudo-terminal, and its error messages."""
import json
import os
import shutil
import subprocess
import tempfile

import pexpect

from conftest import ROOT
from retail import customer_through_bot003, screen_id, start_use

TOKEN_BIN = os.environ.get("ICHIGO_TOKEN_BIN", os.path.join(ROOT, ".build", "debug", "ichigo-token"))


def token_cli(home, *args, check=True):
    env = dict(os.environ, ICHIGO_TOKEN_HOME=home, LANG="ja_JP.UTF-8")
    result = subprocess.run([TOKEN_BIN, *args], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_scripted_setup_then_show_json_is_accepted_by_bok001(server):
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        session, service_id, app_user_id, _ = customer_through_bot003(server, "tok01")
        wrong = token_cli(home, "setup", "--server", server.base, "--service-id", service_id, "--user-id", app_user_id,
                          "--activation-password", "0000", "--agree", check=False)
        assert wrong.returncode == 1
        assert "利用開始パスワードが正しくありません" in wrong.stderr and "あと4回" in wrong.stderr
        assert "0000" not in wrong.stdout + wrong.stderr

        result = token_cli(home, "setup", "--server", server.base, "--service-id", service_id, "--user-id", app_user_id,
                           "--activation-password", "2468", "--agree")
        assert "SKTS" in result.stdout
        shown = json.loads(token_cli(home, "show", "--json").stdout)
        assert shown["serial"].startswith("SKTS") and len(shown["code"]) == 6 and 1 <= shown["secondsLeft"] <= 60
        listed = json.loads(token_cli(home, "list", "--json").stdout)
        assert [t["serial"] for t in listed] == [shown["serial"]]
        for name in ("config/tokens.json", "data/store.key"):
            assert os.stat(os.path.join(home, name)).st_mode & 0o777 == 0o600

        page = start_use(server, session, shown["code"])
        assert screen_id(page) == "BOK002", page

        # The same setup again is refused: a seed is delivered once.
        again = token_cli(home, "setup", "--server", server.base, "--service-id", service_id, "--user-id", app_user_id,
                          "--activation-password", "2468", "--agree", check=False)
        assert again.returncode == 1 and "既に初期設定済み" in again.stderr

        watched = token_cli(home, "show", "--watch", "--frames", "2")
        assert "ワンタイムパスワード" in watched.stdout and "残り" in watched.stdout

        assert "削除しました" in token_cli(home, "remove", shown["serial"]).stdout
        assert token_cli(home, "list", "--json").stdout.strip() == "[]"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_setup_answered_at_its_prompts_in_a_terminal(server):
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        session, service_id, app_user_id, _ = customer_through_bot003(server, "tok02", activation="13579")
        env = dict(os.environ, ICHIGO_TOKEN_HOME=home, LANG="ja_JP.UTF-8")
        child = pexpect.spawn(TOKEN_BIN, ["setup", "--server", server.base], env=env, encoding="utf-8", timeout=30)
        child.expect("サービスID: ")
        child.sendline(service_id)
        child.expect("ユーザID: ")
        child.sendline(app_user_id)
        child.expect("利用開始パスワード: ")
        child.sendline("13579")
        child.expect(r"\[y/N\]: ")
        typed = child.before
        assert "13579" not in typed, "the activation password was echoed"
        child.sendline("y")
        child.expect("初期設定が完了しました")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        shown = json.loads(token_cli(home, "show", "--json").stdout)
        page = start_use(server, session, shown["code"])
        assert screen_id(page) == "BOK002"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_clear_errors_for_unreachable_server_and_refused_consent():
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        result = token_cli(home, "setup", "--server", "http://127.0.0.1:9", "--service-id", "12345678", "--user-id",
                           "123456789012", "--activation-password", "1234", "--agree", check=False)
        assert result.returncode == 1 and "サーバーに接続できません" in result.stderr
        result = token_cli(home, "--lang", "en", "show", check=False) if False else token_cli(home, "show", "--lang", "en", check=False)
        assert result.returncode == 1 and "No token is set up" in result.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_tls_failure_is_reported_as_such():
    """A server whose certificate is not trusted: setup says the secure connection failed."""
    import http.server
    import ssl
    import threading
    from conftest import free_port

    work = tempfile.mkdtemp(prefix="ichigo-tls-")
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    port = free_port()
    httpd = http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        result = token_cli(home, "setup", "--server", f"https://localhost:{port}", "--service-id", "12345678",
                           "--user-id", "123456789012", "--activation-password", "1234", "--agree", check=False)
        assert result.returncode == 1 and "安全な接続（TLS）を確立できません" in result.stderr, result.stderr
    finally:
        httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
