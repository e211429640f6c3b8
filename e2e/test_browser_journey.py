"""The whole retail software-token journey in a real browser (headless Chromium via Selenium), against
`ichigo serve` on 127.0.0.1, with a real SMTP server (aiosmtpd) receiving the bank's mail.

Screenshots of every screen go to test-output/screenshots/.
"""
import email
import email.header
import mailbox
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pyotp
import pytest
import requests

from conftest import ROOT, Server, free_port

SHOTS = os.path.join(ROOT, "test-output", "screenshots")


class SMTPSink:
    """aiosmtpd with the Mailbox handler: every message lands in a maildir."""

    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="ichigo-smtp-")
        self.maildir = os.path.join(self.dir, "mail")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "smtpd.log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}", "-c",
             "aiosmtpd.handlers.Mailbox", *extra_args, self.maildir],
            stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(1.0)

    def messages(self):
        if not os.path.isdir(self.maildir):
            return []
        return [m for m in mailbox.Maildir(self.maildir, factory=None)]

    def wait_for(self, predicate, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in self.messages():
                if predicate(message):
                    return message
            time.sleep(0.2)
        raise AssertionError("no such mail arrived: " + repr([subject(m) for m in self.messages()]))

    def stop(self):
        os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def subject(message):
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


def body(message):
    return message.get_payload(decode=True).decode("utf-8")


@pytest.fixture
def stack():
    smtp = SMTPSink()
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    server = Server(data_dir, free_port(), extra_env={
        "ICHIGO_SMTP_HOST": "127.0.0.1", "ICHIGO_SMTP_PORT": str(smtp.port), "ICHIGO_SMTP_SECURITY": "plain"})
    yield server, smtp
    server.stop()
    smtp.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_software_token_journey(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server, smtp = stack
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        if re.match(r"\d\d-", old):  # this test's numbered screenshots from an earlier run
            os.remove(os.path.join(SHOTS, old))
    shot_number = [0]

    def shot(name):
        shot_number[0] += 1
        browser.save_screenshot(os.path.join(SHOTS, f"{shot_number[0]:02d}-{name}.png"))

    def screen_id():
        return browser.find_element(By.ID, "screen-id").text

    def go(url_part, timeout=15):
        WebDriverWait(browser, timeout).until(EC.url_contains(url_part))

    def fill(field_id, value):
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(element_id):
        browser.find_element(By.ID, element_id).click()

    def type_with_software_keyboard(field_id, value):
        """Type by mouse only on the on-screen keyboard (random layout)."""
        toggle = browser.find_element(By.CSS_SELECTOR, f'button.swkb[data-target="{field_id}"]')
        toggle.click()
        panel = browser.find_element(By.ID, "swkb-panel")
        assert panel.is_displayed()
        for char in value:
            panel.find_element(By.CSS_SELECTOR, f'button.swkb-key[data-key="{char}"]').click()
        panel.find_element(By.CSS_SELECTOR, "button.swkb-close").click()
        assert browser.find_element(By.ID, field_id).get_attribute("value") == value

    # A customer with a registered address and two accounts, created through the JSON API.
    status, user = server.api("POST", "/api/v1/users", {
        "loginId": "hanako", "name": "佐藤 花子", "email": "hanako@example.jp",
        "loginPassword": "ichigo2026", "confirmationPassword": "kakunin1"})
    assert status == 201, user
    for name, number, balance in (("普通預金", "1111111", 500000), ("貯蓄預金", "2222222", 0)):
        status, account = server.api("POST", f"/api/v1/users/{user['id']}/accounts",
                                     {"name": name, "branch": "001", "number": number, "balance": balance})
        assert status == 201, account

    base = server.base
    # Login (no OTP yet).
    browser.get(base + "/login")
    assert screen_id() == "BLI001"
    shot("BLI001-login")
    fill("loginId", "hanako")
    type_with_software_keyboard("password", "ichigo2026")
    click("login")
    go("/top")
    assert screen_id() == "BTP001"
    shot("BTP001-top")

    # BOP001: 未登録.
    click("to-otp")
    go("/otp")
    assert screen_id() == "BOP001"
    assert browser.find_element(By.ID, "status").text == "未登録"
    shot("BOP001-unregistered")

    # BOT001: first a mistake, then the real input.
    click("action-issue")
    go("/otp/issue")
    assert screen_id() == "BOT001"
    fill("phoneEmail", "hanako.phone@example.jp")
    fill("phoneEmailConfirmation", "hanako.other@example.jp")
    click("next")
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "phoneEmailConfirmation-error")))
    assert "一致しません" in browser.find_element(By.ID, "phoneEmailConfirmation-error").text
    assert browser.find_element(By.ID, "phoneEmail").get_attribute("value") == "hanako.phone@example.jp"
    shot("BOT001-errors")
    fill("phoneEmailConfirmation", "hanako.phone@example.jp")
    type_with_software_keyboard("activationPassword", "2468")
    type_with_software_keyboard("activationPasswordConfirmation", "2468")
    shot("BOT001-input")
    click("next")
    go("/otp/issue/confirm")
    assert screen_id() == "BOT002"
    assert browser.find_element(By.ID, "phone-email").text == "hanako.phone@example.jp"
    shot("BOT002-confirm")

    # The mail notification password arrives at the registered address over SMTP.
    message = smtp.wait_for(lambda m: "メール通知パスワード" in subject(m))
    assert message["To"] == "hanako@example.jp"
    text = body(message)
    assert "佐藤 花子 様" in text and "送信日時:" in text
    mail_password = re.search(r"メール通知パスワード: (\d+)", text).group(1)

    type_with_software_keyboard("confirmationPassword", "kakunin1")
    fill("mailPassword", mail_password)
    click("confirm")
    go("/otp/issue/done")
    assert screen_id() == "BOT003"
    service_id = browser.find_element(By.ID, "service-id").text
    app_user_id = browser.find_element(By.ID, "app-user-id").text
    assert len(service_id) == 8 and len(app_user_id) == 12
    shot("BOT003-complete")

    # The token-issuance mail to the phone: download link, IDs, never the activation password.
    issued = smtp.wait_for(lambda m: "トークン発行のご案内" in subject(m))
    assert issued["To"] == "hanako.phone@example.jp"
    issued_text = body(issued)
    assert service_id in issued_text and app_user_id in issued_text and "https://" in issued_text
    assert "2468" not in issued_text

    click("to-bop")
    go("/otp")
    assert browser.find_element(By.ID, "status").text == "トークン発行済"
    shot("BOP001-issued")

    # Provisioning over HTTP, as the phone app does.
    response = requests.post(base + "/app/v1/provision", json={
        "serviceId": service_id, "userId": app_user_id, "activationPassword": "2468", "consent": True}, timeout=10)
    assert response.status_code == 200, response.text
    provisioned = response.json()
    assert provisioned["serial"].startswith("SKTS") and provisioned["period"] == 60
    totp = pyotp.TOTP(provisioned["secret"], interval=60, digits=6)

    # BOK001 → BOK002.
    browser.get(base + "/otp")
    click("action-start")
    go("/otp/start")
    assert screen_id() == "BOK001"
    shot("BOK001-start")
    step = int(time.time()) // 60
    fill("otp", totp.at(step * 60))
    click("start")
    go("/otp/start/done")
    assert screen_id() == "BOK002"
    shot("BOK002-started")
    smtp.wait_for(lambda m: "利用開始登録完了のご案内" in subject(m))

    # Log out and in again: the OTP page appears.
    click("logout")
    go("/login")
    fill("loginId", "hanako")
    fill("password", "ichigo2026")
    click("login")
    go("/login/otp")
    assert screen_id() == "BLI002"
    shot("BLI002-login-otp")
    fill("otp", totp.at((step + 1) * 60))  # the next step: inside the window, later than the last accepted
    click("submit")
    go("/top")
    assert screen_id() == "BTP001"

    # Transfer with confirmation password and OTP.
    click("to-transfer")
    go("/transfer")
    assert screen_id() == "BFK001"
    fill("payeeBank", "9999")
    fill("payeeBranch", "001")
    fill("payeeAccount", "2222222")
    fill("payeeName", "サトウ ハナコ")
    fill("amount", "12345")
    shot("BFK001-transfer")
    click("next")
    go("/transfer/confirm")
    assert screen_id() == "BFK002"
    type_with_software_keyboard("confirmationPassword", "kakunin1")
    # Each OTP is accepted once per token, so every use takes the next step's code: the server's window is
    # centred on the drift it learned, so step+2 is accepted now whatever minute it is.
    fill("otp", totp.at((step + 2) * 60))
    shot("BFK002-confirm")
    click("confirm")
    go("/transfer/done")
    assert screen_id() == "BFK003"
    shot("BFK003-done")
    status, accounts = server.api("GET", f"/api/v1/users/{user['id']}/accounts")
    assert sorted(a["balance"] for a in accounts["accounts"]) == [12345, 500000 - 12345]

    # BOS001 → BOS002: cancel with confirmation password and OTP.
    browser.get(base + "/otp")
    click("action-cancel")
    go("/otp/cancel")
    assert screen_id() == "BOS001"
    type_with_software_keyboard("confirmationPassword", "kakunin1")
    fill("otp", totp.at((step + 3) * 60))
    shot("BOS001-cancel")
    click("cancel-otp")
    go("/otp/cancel/done")
    assert screen_id() == "BOS002"
    shot("BOS002-cancelled")

    # Re-issue is refused today.
    browser.get(base + "/otp")
    assert browser.find_element(By.ID, "status").text == "未登録"
    assert "翌日以降" in browser.find_element(By.ID, "issue-blocked").text
    assert not browser.find_elements(By.ID, "action-issue")
    shot("BOP001-reissue-refused")

    # Log out and in: no OTP page any more.
    click("logout")
    go("/login")
    fill("loginId", "hanako")
    fill("password", "ichigo2026")
    click("login")
    go("/top")
    assert screen_id() == "BTP001"

    # English is one click away.
    click("lang-switch")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("var e = document.getElementById('title'); return e ? e.textContent.trim() : null;")
        == "Top page")
    shot("BTP001-english")

    # The audit trail is intact after the journey.
    server.stop()
    result = server.cli("audit", "verify")
    assert result.returncode == 0, result.stdout
