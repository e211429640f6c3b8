"""Passkeys for a corporate contract in a real browser (Chromium's virtual authenticator via Selenium) against
`ichigo serve --demo`, reached as http://localhost:PORT.

Passkeys are personal even where users share one hardware token. The administrator (no token of their own) registers
a passkey after a mail step-up and approves a permission change (HRK006) with it; the demo fob SKTH00000001 is
registered for ichigo-staff and ichigo-keiri together; keiri registers their own passkey (step-up with the shared
fob's OTP); staff creates transfer data with password + OTP; keiri signs in with the passkey alone and approves the
transfer (HSN002). The audit trail names keiri and their credential. Screenshots: test-output/screenshots/passkey-corp-*.png.
"""
import base64
import os
import re
import shutil
import sqlite3
import tempfile

import pskc
import pyotp
import pytest

from conftest import ROOT, Server, free_port
from retail import wait_for_eml
from test_corporate_journey import Codes, page_gone

SHOTS = os.path.join(ROOT, "test-output", "screenshots")
PASSWORD = "ichigo2026"
CONFIRMATION = "kakunin1"


@pytest.fixture
def demo_server():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    instance = Server(data_dir, free_port(), args=("--demo",))
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def audit(server, action):
    with sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite")) as db:
        return db.execute(
            "SELECT actor, outcome, reason FROM audit_log WHERE action = ? ORDER BY seq", (action,)).fetchall()


def test_users_sharing_a_fob_each_sign_in_and_approve_with_their_own_passkey(demo_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
    from selenium.webdriver.support.ui import WebDriverWait

    server = demo_server
    base = f"http://localhost:{server.port}"
    os.makedirs(SHOTS, exist_ok=True)
    browser.set_window_size(1280, 1000)
    codes = Codes()

    container = pskc.PSKC(os.path.join(server.data_dir, "demo-tokens.pskc.xml"))
    container.encryption.key = bytes.fromhex(open(os.path.join(server.data_dir, "demo-tokens.key")).read().strip())
    seed = next(key.secret for key in container.keys if key.serial == "SKTH00000001")
    fob = pyotp.TOTP(base64.b32encode(seed).decode(), interval=60)

    def shot(name):
        browser.save_screenshot(os.path.join(SHOTS, f"passkey-corp-{name}.png"))

    def wait_screen(expected, timeout=20):
        script = "var e = document.getElementById('screen-id'); return e ? e.textContent.trim() : null;"
        WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script) == expected)

    def fill(field_id, value):
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(element_id):
        old = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.ID, element_id).click()
        WebDriverWait(browser, 15).until(lambda d: page_gone(old))

    def new_authenticator():
        """A person's own device: a fresh virtual authenticator (the previous person's is taken away)."""
        no_authenticator()
        options = VirtualAuthenticatorOptions()
        options.protocol = Protocol.CTAP2
        options.transport = Transport.INTERNAL
        options.has_resident_key = True
        options.has_user_verification = True
        options.is_user_verified = True
        options.is_user_consenting = True
        browser.add_virtual_authenticator(options)

    def no_authenticator():
        if getattr(browser, "_authenticator_id", None):
            browser.remove_virtual_authenticator()

    def password_login(path, login_id, expect, otp=None):
        browser.get(base + path)
        if not browser.find_elements(By.ID, "loginId"):
            shot("FAILED")
            raise AssertionError(f"no login form at {browser.current_url}: " + browser.find_element(By.TAG_NAME, "main").text[:500])
        fill("loginId", login_id)
        fill("password", PASSWORD)
        click("login")
        if otp is not None:
            wait_screen("HLI003")
            fill("otp", otp)
            click("submit")
        wait_screen(expect)

    def logout():
        # The person leaves with their device: no authenticator stays to answer the next login page's autofill.
        no_authenticator()
        click("logout")

    def register_passkey(path, name, prefix, otp=None, mail_to=None):
        browser.get(base + path)
        wait_screen("HPK001")
        click("pk-register")
        wait_screen("HPK002")
        if otp is None:
            click("pk-send-mail")
            wait_screen("HPK002")
            _, text = wait_for_eml(server.data_dir, lambda m, t: m["To"] == mail_to and "パスキーの登録" in t)
            fill("mailPassword", re.search(r"メール通知パスワード: (\d+)", text).group(1))
        else:
            fill("otp", otp)
        fill("confirmationPassword", CONFIRMATION)
        shot(prefix + "-HPK002-stepup")
        click("pk-stepup")
        wait_screen("HPK003")
        fill("name", name)
        shot(prefix + "-HPK003-create")
        click("pk-create")
        wait_screen("HPK001")
        assert "パスキーを登録しました。" in browser.find_element(By.ID, "flash").text
        shot(prefix + "-HPK001-registered")

    # 管理者ログイン (HLI002): the administrator, with no token, registers a passkey after a mail step-up.
    browser.get(base + "/corp/admin/login")
    new_authenticator()
    password_login("/corp/admin/login", "ichigo-admin", "HKG001")
    register_passkey("/corp/admin/passkeys", "管理者のPC", "admin", mail_to="admin@ichigo-shoji.example.jp")

    # 利用者情報変更: staff gets 振込振替 up to 1,000,000 yen from 001-2000001, approved at HRK006 with the passkey.
    browser.get(base + "/corp/admin/users-menu")
    wait_screen("HRK001")
    browser.get(base + "/corp/admin/users")
    wait_screen("HRK002")
    browser.find_element(By.ID, "user-ichigo-staff").click()
    click("change")
    wait_screen("HRK003")
    click("next")
    wait_screen("HRK004")
    browser.find_element(By.ID, "authority-transfer").click()
    click("next")
    wait_screen("HRK005")
    box = browser.find_element(By.ID, "use-DC1")
    if not box.is_selected():
        box.click()
    fill("limit-DC1", "1000000")
    click("next")
    wait_screen("HRK006")
    assert "権限・限度額の変更にのみ有効" in browser.find_element(By.ID, "pk-approve-lead").text
    shot("admin-HRK006-passkey")
    click("pk-approve")
    wait_screen("HRK007")
    shot("admin-HRK007-done")
    rows = audit(server, "user.permissions")
    assert rows and rows[-1][1] == "ok" and "approved_with=passkey" in rows[-1][2], rows

    # 利用登録: the demo fob for staff and keiri together (the contract is in individual mode; they share it).
    browser.get(base + "/corp/admin/otp-settings/register")
    wait_screen("HTS003")
    browser.find_element(By.ID, "user-ichigo-staff").click()
    browser.find_element(By.ID, "user-ichigo-keiri").click()
    fill("serial", "SKTH00000001")
    fill("otp", codes.next("fob", fob))
    fill("pin", "1234")
    click("ok")
    wait_screen("HTS004")
    logout()

    # keiri, on their own device, logs in with password + the shared fob's OTP and registers their own passkey.
    new_authenticator()
    password_login("/corp/login", "ichigo-keiri", "HTP001", otp=codes.next("fob", fob))
    register_passkey("/corp/passkeys", "経理のスマートフォン", "keiri", otp=codes.next("fob", fob))
    keiri_credential = browser.get_credentials()[0]
    logout()

    # staff (no passkey, no authenticator) creates transfer data with password + the shared fob's OTP.
    password_login("/corp/login", "ichigo-staff", "HTP001", otp=codes.next("fob", fob))
    click("to-transfer")
    wait_screen("HFF001")
    fill("payeeBank", "0005")
    fill("payeeBranch", "321")
    fill("payeeAccount", "7777777")
    fill("payeeName", "トリヒキサキ")
    fill("amount", "250000")
    click("next")
    wait_screen("HFF002")
    fill("confirmationPassword", CONFIRMATION)
    click("confirm")
    wait_screen("HFF003")
    logout()

    # keiri signs in with the passkey alone (autofill on HLI001) and approves with it at HSN002.
    new_authenticator()
    browser.add_credential(keiri_credential)
    browser.get(base + "/corp/login")
    wait_screen("HTP001")
    shot("keiri-HTP001-after-passkey")
    click("to-approvals")
    wait_screen("HSN001")
    browser.find_element(By.CSS_SELECTOR, "a.approve-link").click()
    wait_screen("HSN002")
    shot("keiri-HSN002-passkey")
    click("pk-approve")
    wait_screen("HSN003")
    shot("keiri-HSN003-approved")
    # The approval names keiri and keiri's own passkey, not the fob keiri shares with staff.
    with sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite")) as db:
        keiri_id, = db.execute("SELECT id FROM users WHERE login_id = 'ichigo-keiri'").fetchone()
        credentials = [row[0] for row in db.execute("SELECT credential_id FROM passkeys WHERE user_id = ?", (keiri_id,))]
    assert len(credentials) == 1
    approvals = audit(server, "transfer.approve")
    assert len(approvals) == 1 and approvals[0][0] == "user:" + keiri_id, approvals
    assert "approved_with=passkey credential=" + credentials[0][:16] in approvals[0][2], approvals
    assert [r[1] for r in audit(server, "transfer.approve.passkey")] == ["accepted"]
    assert any(r[0] == "user:" + keiri_id and r[1] == "accepted" for r in audit(server, "login.passkey"))
