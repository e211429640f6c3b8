"""Passkeys in a real browser: headless Chromium's virtual authenticator (CTAP2, internal transport, resident keys,
user verification) driven by Selenium, against `ichigo serve` reached as http://localhost:PORT (an IP address is no
valid RP ID).

A retail customer without a token registers a passkey after the step-up (confirmation password and a mail
notification password received by an aiosmtpd SMTP sink), is mailed about it, signs out, finds password + OTP refused (policy
required-once-registered), signs in with the passkey alone, approves a transfer with it; a second tab that replaces
the pending transfer makes the first tab's approval worthless and no money moves; a page on another origin cannot
use the credential (the browser refuses an RP ID that is not its own), and an assertion a relay page obtains on a
look-alike origin is refused by the server. The operator removes the passkey and the customer is mailed.

Screenshots: test-output/screenshots/passkey-*.png.
"""
import http.server
import json
import os
import re
import shutil
import socketserver
import sqlite3
import tempfile
import threading

import pytest
import requests

from conftest import ROOT, Server, free_port
from retail import balances, csrf, screen_id
from test_browser_journey import SMTPSink, body
from test_corporate_journey import page_gone

SHOTS = os.path.join(ROOT, "test-output", "screenshots")
PASSWORD = "ichigo2026"
CONFIRMATION = "kakunin1"


@pytest.fixture
def passkey_server():
    """The server with its mail going over SMTP to an aiosmtpd sink (`instance.smtp`)."""
    smtp = SMTPSink()
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    instance = Server(data_dir, free_port(), extra_env={
        "ICHIGO_SMTP_HOST": "127.0.0.1", "ICHIGO_SMTP_PORT": str(smtp.port), "ICHIGO_SMTP_SECURITY": "plain"})
    instance.local = f"http://localhost:{instance.port}"
    instance.smtp = smtp
    yield instance
    instance.stop()
    smtp.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def wait_for_mail(server, predicate):
    """The first mail aiosmtpd received for which `predicate(message, text)` holds: (message, text)."""
    message = server.smtp.wait_for(lambda m: predicate(m, body(m)))
    return message, body(message)


def add_authenticator(browser):
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
    options = VirtualAuthenticatorOptions()
    options.protocol = Protocol.CTAP2
    options.transport = Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    options.is_user_consenting = True
    browser.add_virtual_authenticator(options)


def audit_rows(server, action):
    with sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite")) as db:
        return db.execute("SELECT outcome, reason FROM audit_log WHERE action = ? ORDER BY seq", (action,)).fetchall()


class Site(http.server.SimpleHTTPRequestHandler):
    """Serves one page (set per test) on another origin: a phishing page."""
    page = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(Site.page)

    def log_message(self, *args):
        pass


RELAY = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>pending</title></head><body><p>偽サイト</p>
<script>
function b(s){s=s.replace(/-/g,'+').replace(/_/g,'/');while(s.length%4)s+='=';var x=atob(s),a=new Uint8Array(x.length);for(var i=0;i<x.length;i++)a[i]=x.charCodeAt(i);return a.buffer;}
function e(buf){var a=new Uint8Array(buf),s='';for(var i=0;i<a.length;i++)s+=String.fromCharCode(a[i]);return btoa(s).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');}
var o=OPTIONS;o.challenge=b(o.challenge);o.allowCredentials=[];
navigator.credentials.get({publicKey:o}).then(function(c){
  var r=c.response;document.title='ok';
  document.body.setAttribute('data-result',JSON.stringify({id:c.id,rawId:e(c.rawId),type:c.type,response:{clientDataJSON:e(r.clientDataJSON),authenticatorData:e(r.authenticatorData),signature:e(r.signature),userHandle:r.userHandle?e(r.userHandle):null}}));
}).catch(function(err){document.title='error:'+err.name;});
</script></body></html>"""


def test_passkey_journey(passkey_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = passkey_server
    base = server.local
    os.makedirs(SHOTS, exist_ok=True)
    browser.set_window_size(1280, 1000)

    def shot(name):
        browser.save_screenshot(os.path.join(SHOTS, f"passkey-{name}.png"))

    def wait_screen(expected, timeout=15):
        from selenium.common.exceptions import TimeoutException
        script = "var e = document.getElementById('screen-id'); return e ? e.textContent.trim() : null;"
        try:
            WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script) == expected)
        except TimeoutException:
            shot("FAILED")
            raise AssertionError(f"expected {expected} at {browser.current_url}: " + browser.find_element(By.TAG_NAME, "main").text[:600])

    def text(element_id):
        return browser.find_element(By.ID, element_id).text

    def fill(field_id, value):
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(element_id):
        # A click that leaves the page: wait until the old page is gone, so the next check reads the new one.
        old = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.ID, element_id).click()
        WebDriverWait(browser, 15).until(lambda d: page_gone(old))

    def press(element_id):
        # A click that stays on the page (a ceremony that fails in the browser).
        browser.find_element(By.ID, element_id).click()

    def password_login(expect):
        browser.get(base + "/login")
        wait_screen("BLI001")
        fill("loginId", "pk-taro")
        fill("password", PASSWORD)
        click("login")
        wait_screen(expect)

    # A customer with an account and a registered address, no token yet (JSON API, as the bank's system would).
    status, user = server.api("POST", "/api/v1/users", {
        "loginId": "pk-taro", "name": "鈴木 太郎", "email": "pk-taro@example.jp",
        "loginPassword": PASSWORD, "confirmationPassword": CONFIRMATION})
    assert status == 201, user
    status, account = server.api("POST", f"/api/v1/users/{user['id']}/accounts",
                                 {"name": "普通預金", "branch": "001", "number": "7000001", "balance": 500000})
    assert status == 201, account

    browser.get(base + "/login")
    add_authenticator(browser)
    wait_screen("BLI001")
    assert "パスキーでログイン" in text("pk-login")
    shot("BLI001-login")
    password_login("BTP001")

    # パスキーの管理 (BPK001) → 登録 → 本人確認 (BPK002) with a mail notification password → 作成 (BPK003).
    click("nav-passkeys")
    wait_screen("BPK001")
    assert "登録されているパスキーはありません。" in text("pk-none")
    shot("BPK001-empty")
    click("pk-register")
    wait_screen("BPK002")
    click("pk-send-mail")
    wait_screen("BPK002")
    _, mail = wait_for_mail(server, lambda m, t: m["To"] == "pk-taro@example.jp" and "パスキーの登録" in t and "メール通知パスワード:" in t)
    code = re.search(r"メール通知パスワード: (\d+)", mail).group(1)
    # A wrong mail password is refused and nothing is registered.
    fill("confirmationPassword", CONFIRMATION)
    fill("mailPassword", "00000000" if code != "00000000" else "11111111")
    click("pk-stepup")
    assert "メール通知パスワードが正しくありません。" in text("mailPassword-error")
    fill("confirmationPassword", CONFIRMATION)
    fill("mailPassword", code)
    shot("BPK002-stepup")
    click("pk-stepup")
    wait_screen("BPK003")
    fill("name", "私のスマートフォン")
    shot("BPK003-create")
    click("pk-create")
    wait_screen("BPK001")
    assert "パスキーを登録しました。" in text("flash")
    rows = browser.find_elements(By.CSS_SELECTOR, "table#passkeys tr[data-credential]")
    assert len(rows) == 1 and "私のスマートフォン" in rows[0].text
    shot("BPK001-registered")
    _, notice = wait_for_mail(server, lambda m, t: m["To"] == "pk-taro@example.jp" and "「私のスマートフォン」" in t and "登録されました" in t)
    assert "お心当たりのない場合" in notice
    assert [r[0] for r in audit_rows(server, "passkey.register")] == ["ok"]

    # Signed out, the login page offers the passkey as autofill (conditional mediation); Chromium's virtual
    # authenticator answers such a request at once, so the customer is signed in without typing anything.
    click("logout")
    wait_screen("BTP001")
    assert [r[0] for r in audit_rows(server, "login.passkey")] == ["accepted"]
    shot("BTP001-after-passkey")

    # Without the authenticator at hand, the password no longer signs this customer in (required-once-registered).
    saved = browser.get_credentials()
    assert len(saved) == 1 and saved[0].rp_id == "localhost" and saved[0].is_resident_credential
    browser.remove_all_credentials()
    click("logout")
    wait_screen("BLI001")
    password_login("BLI001")
    assert "パスキーでログインしてください" in text("page-error")
    shot("BLI001-passkey-required")
    # パスキーでログイン with no passkey on the device: the ceremony fails in the browser and the page says so.
    press("pk-login")
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.CSS_SELECTOR, "#pk-login-form .passkey-message").is_displayed())
    assert "取り消されたか" in browser.find_element(By.CSS_SELECTOR, "#pk-login-form .passkey-message").text
    shot("BLI001-passkey-cancelled")
    browser.add_credential(saved[0])
    browser.get(base + "/login")
    wait_screen("BTP001")

    # A transfer approved with the passkey (BFK002): the challenge is bound to this pending transfer.
    def enter_transfer(account_number, amount, name="タナカ ハナコ"):
        browser.get(base + "/transfer")
        wait_screen("BFK001")
        fill("payeeBank", "0001")
        fill("payeeBranch", "123")
        fill("payeeAccount", account_number)
        fill("payeeName", name)
        fill("amount", str(amount))
        click("next")
        wait_screen("BFK002")

    enter_transfer("1234567", 30000)
    assert re.fullmatch(r"[0-9A-F]{8}", text("pk-fingerprint"))
    shot("BFK002-passkey")
    click("pk-approve")
    wait_screen("BFK003")
    shot("BFK003-passkey-done")
    session = requests.Session()
    session.cookies.set("ichigo_session", browser.get_cookie("ichigo_session")["value"])
    assert balances(server, session)["7000001"] == 470000

    # Another tab replaces the pending transfer: the first tab's approval is refused and no money moves.
    enter_transfer("1234567", 10000)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    enter_transfer("7654321", 90000, name="アクマ サギ")
    browser.switch_to.window(first)
    click("pk-approve")
    wait_screen("BFK002")
    assert "承認しようとした内容が変更された" in text("page-error")
    shot("BFK002-changed-in-another-tab")
    assert balances(server, session)["7000001"] == 470000
    assert any(r[0] == "refused" and "approved_data_changed" in (r[1] or "") for r in audit_rows(server, "transfer.passkey"))

    # A page on another origin cannot use the credential: 127.0.0.1 may not claim the RP ID localhost.
    other_port = free_port()
    site = socketserver.TCPServer(("127.0.0.1", other_port), Site)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        login_page = requests.Session()
        html = login_page.get(server.base + "/login").text
        options = re.search(r'<script type="application/json" class="passkey-options">(.*?)</script>', html).group(1)
        Site.page = RELAY.replace("OPTIONS", options).encode()
        browser.get(f"http://127.0.0.1:{other_port}/")
        WebDriverWait(browser, 15).until(lambda d: d.title != "pending")
        assert browser.title.startswith("error:"), browser.title
        # A look-alike on localhost's own site (another port) gets an assertion, relays it with the bank's
        # session: the server refuses its origin.
        browser.get(f"http://localhost:{other_port}/")
        WebDriverWait(browser, 15).until(lambda d: d.title != "pending")
        assert browser.title == "ok", browser.title
        relayed = browser.find_element(By.TAG_NAME, "body").get_attribute("data-result")
        answer = login_page.post(server.base + "/login/passkey", data={"_csrf": csrf(html), "credential": relayed})
        assert screen_id(answer.text) == "BLI001" and "パスキーによる認証ができませんでした" in answer.text
        assert any(r[0] == "refused" and "origin_not_allowed" in (r[1] or "") for r in audit_rows(server, "login.passkey"))
    finally:
        site.shutdown()
        site.server_close()

    # The bank removes the passkey (a lost phone): the customer is mailed, and password + OTP work again.
    result = server.cli("passkeys", "list", "pk-taro")
    assert result.returncode == 0 and "私のスマートフォン" in result.stdout, result.stdout + result.stderr
    result = server.cli("passkeys", "remove", "pk-taro", "--all")
    assert result.returncode == 0 and "1 passkey(s) removed" in result.stdout, result.stdout + result.stderr
    wait_for_mail(server, lambda m, t: m["To"] == "pk-taro@example.jp" and "当行にて" in t and "削除しました" in t)
    browser.remove_all_credentials()
    browser.get(base + "/top")
    wait_screen("BTP001")
    click("logout")
    wait_screen("BLI001")
    password_login("BTP001")
    shot("BTP001-password-again")
