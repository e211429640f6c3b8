"""The corporate journey in a real browser (headless Chromium via Selenium) against `ichigo serve`, with aiosmtpd
receiving the mail, hardware tokens written by the independent python-pskc package and imported with
`ichigo tokens import`, and every code computed by pyotp.

The administrator switches the contract to individual mode, registers one hardware token for two users and a
software token for themself, gives one user transfer authority and another approval authority (each confirmed
with OTP); the first creates a transfer, the second approves it with OTP; five wrong codes stop both sharers; the
administrator unlocks them (selecting one selects both) and revokes one token. Screenshots: test-output/screenshots/corp-*.
"""
import base64
import os
import re
import subprocess
import time

import pyotp
import pytest

from conftest import BINARY, ROOT
from test_browser_journey import SHOTS, stack, subject  # noqa: F401  (the stack fixture: server + SMTP sink)

def page_gone(element):
    """Whether `element` no longer belongs to the page shown (the page was replaced)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


PASSWORD = "ichigo2026"
CONFIRMATION = "kakunin1"


class Codes:
    """Hands out codes for steps later than the last one used for each token (a code works once), waiting for
    the next 60-second step when the window (±1 step) is used up."""

    def __init__(self):
        self.last = {}

    def next(self, name, totp):
        while True:
            now = int(time.time()) // 60
            step = max(self.last.get(name, now - 2) + 1, now - 1)
            if step <= now + 1:
                self.last[name] = step
                return totp.at(step * 60)
            time.sleep(2)


def test_corporate_journey(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server, smtp = stack
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        if old.startswith("corp-"):
            os.remove(os.path.join(SHOTS, old))
    counter = [0]
    codes = Codes()

    def shot(name):
        counter[0] += 1
        browser.save_screenshot(os.path.join(SHOTS, f"corp-{counter[0]:02d}-{name}.png"))

    def screen_id():
        return browser.find_element(By.ID, "screen-id").text

    def wait_screen(expected, timeout=15):
        script = "var e = document.getElementById('screen-id'); return e ? e.textContent : null;"
        WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script) == expected)

    def fill(field_id, value):
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(element_id):
        browser.find_element(By.ID, element_id).click()

    def keyboard(field_id, value):
        """Types by mouse alone on the shuffled software keyboard."""
        browser.find_element(By.CSS_SELECTOR, f'button.swkb[data-target="{field_id}"]').click()
        panel = browser.find_element(By.ID, "swkb-panel")
        for char in value:
            panel.find_element(By.CSS_SELECTOR, f'button.swkb-key[data-key="{char}"]').click()
        panel.find_element(By.CSS_SELECTOR, "button.swkb-close").click()
        assert browser.find_element(By.ID, field_id).get_attribute("value") == value

    def login(path, login_id, otp=None, expect=None):
        browser.get(server.base + path)
        fill("loginId", login_id)
        keyboard("password", PASSWORD)
        click("login")
        if otp is not None:
            wait_screen("HLI003")
            fill("otp", otp)
            click("submit")
        if expect:
            wait_screen(expect)

    def logout():
        click("logout")
        WebDriverWait(browser, 10).until(EC.url_contains("login"))

    # The contract, in shared mode to begin with, its four users and two accounts (JSON API).
    status, contract = server.api("POST", "/api/v1/contracts", {"name": "いちご商事株式会社", "usageMode": "shared", "pin": "1234"})
    assert status == 201, contract
    users = {}
    for login_id, role in (("c-master", "master"), ("c-admin", "administrator"), ("c-staff", "ordinary"), ("c-keiri", "ordinary")):
        status, user = server.api("POST", f"/api/v1/contracts/{contract['id']}/users", {
            "loginId": login_id, "name": f"いちご商事 {login_id}", "role": role, "email": f"{login_id}@ichigo-shoji.example.jp",
            "loginPassword": PASSWORD, "confirmationPassword": CONFIRMATION})
        assert status == 201, user
        users[login_id] = user["id"]
    accounts = {}
    for name, number, balance in (("普通預金", "3000001", 2000000), ("当座預金", "3000002", 0)):
        status, account = server.api("POST", f"/api/v1/users/{users['c-master']}/accounts",
                                     {"name": name, "branch": "001", "number": number, "balance": balance})
        assert status == 201, account
        accounts[number] = account["id"]

    # Hardware tokens from a vendor file written by python-pskc (pre-shared AES key, MAC), imported by the CLI.
    pskc_file, key_file, seeds_file = tmp_path / "batch.pskc.xml", tmp_path / "batch.key", tmp_path / "seeds.txt"
    subprocess.run([os.path.join(ROOT, "scripts", "make-pskc"), "--count", "3", "--first-serial", "500",
                    "--out", str(pskc_file), "--psk-file", str(key_file), "--seeds-out", str(seeds_file)], check=True)
    result = server.cli("tokens", "import", str(pskc_file), "--key-file", str(key_file))
    assert result.returncode == 0 and "imported 3 hardware tokens" in result.stdout, result.stdout + result.stderr
    seeds = dict(line.split() for line in seeds_file.read_text().splitlines())
    hardware_serial = "SKTH00000500"
    hardware = pyotp.TOTP(base64.b32encode(bytes.fromhex(seeds[hardware_serial])).decode(), interval=60)

    # A software token provisioned to the administrator (through the JSON API, as the bank's system would).
    status, enrolment = server.api("POST", f"/api/v1/users/{users['c-admin']}/token")
    assert status == 201, enrolment
    software_serial = enrolment["serial"]
    software = pyotp.parse_uri(enrolment["otpauthUri"])

    # 管理者ログイン (the administrator has no token in use yet: no OTP page).
    browser.get(server.base + "/corp/admin/login")
    wait_screen("HLI002")
    shot("HLI002-admin-login")
    login("/corp/admin/login", "c-admin", expect="HKG001")
    shot("HKG001-menu")

    # ご契約先管理情報変更 → 利用者情報登録／変更 (ワンタイムパスワードの設定) → 変更 → individual mode.
    click("menu-contract")
    wait_screen("HKJ001")
    shot("HKJ001-contract-menu")
    click("menu-user-registration")
    wait_screen("HKJ002")
    assert browser.find_element(By.ID, "current-mode").text == "全ての利用者が同じトークンを使用する"
    shot("HKJ002-settings-shared")
    click("change-mode")
    wait_screen("HTS001")
    assert browser.find_element(By.ID, "mode-warning").text == "利用形態を変更する場合は、トークンの利用登録が解除されます。"
    browser.find_element(By.ID, "mode-individual").click()
    shot("HTS001-mode")
    click("next")
    wait_screen("HTS002")
    keyboard("confirmationPassword", CONFIRMATION)
    shot("HTS002-mode-confirm")
    click("execute")
    # Seed 004: after the change the administrator goes straight on to 利用登録 (HTS003).
    wait_screen("HTS003")
    shot("HTS003-after-mode-change")
    browser.get(server.base + "/corp/admin/contract/users")
    wait_screen("HKJ002")
    assert browser.find_element(By.ID, "current-mode").text == "全ての利用者が異なるトークンを使用する"
    shot("HKJ002-settings-individual")

    # 利用登録: the hardware token for staff and keiri (mixed mode), with the token's OTP and the contract PIN.
    click("register-token")
    wait_screen("HTS003")
    browser.find_element(By.ID, "user-c-staff").click()
    browser.find_element(By.ID, "user-c-keiri").click()
    fill("serial", hardware_serial)
    fill("otp", codes.next("hw", hardware))
    keyboard("pin", "1234")
    shot("HTS003-register-hardware")
    click("ok")
    wait_screen("HTS004")
    assert browser.find_element(By.ID, "registered-serial").text == hardware_serial
    shot("HTS004-registered")
    # The software token for the administrator.
    browser.get(server.base + "/corp/admin/otp-settings/register")
    wait_screen("HTS003")
    browser.find_element(By.ID, "user-c-admin").click()
    fill("serial", software_serial)
    fill("otp", codes.next("sw", software))
    keyboard("pin", "1234")
    click("ok")
    wait_screen("HTS004")
    assert browser.find_element(By.ID, "registered-serial").text == software_serial
    status, token = server.api("GET", f"/api/v1/tokens/{hardware_serial}")
    assert token["state"] == "active" and sorted(token["users"]) == sorted([users["c-staff"], users["c-keiri"]]), token
    registered = smtp.wait_for(lambda m: "利用開始登録完了のご案内" in subject(m) and m["To"] == "c-staff@ichigo-shoji.example.jp")
    assert hardware_serial in registered.get_payload(decode=True).decode()

    # From now on the administrator's login asks for the OTP.
    logout()
    login("/corp/admin/login", "c-admin", otp=codes.next("sw", software), expect="HKG001")

    def give(login_id, authority, account, limit, screenshots=False):
        browser.get(server.base + "/corp/admin/users-menu")
        wait_screen("HRK001")
        if screenshots:
            shot("HRK001-users-menu")
        click("menu-user-info")
        wait_screen("HRK002")
        browser.find_element(By.ID, f"user-{login_id}").click()
        if screenshots:
            shot("HRK002-users")
        click("change")
        wait_screen("HRK003")
        if screenshots:
            shot("HRK003-basic")
        click("next")
        wait_screen("HRK004")
        browser.find_element(By.ID, f"authority-{authority}").click()
        if screenshots:
            shot("HRK004-authority")
        click("next")
        wait_screen("HRK005")
        box = browser.find_element(By.ID, f"use-{account}")
        if not box.is_selected():
            box.click()
        fill(f"limit-{account}", str(limit))
        if screenshots:
            shot("HRK005-accounts")
        click("next")
        wait_screen("HRK006")
        keyboard("confirmationPassword", CONFIRMATION)
        fill("otp", codes.next("sw", software))
        if screenshots:
            shot("HRK006-confirm")
        click("execute")
        wait_screen("HRK007")
        assert "ログアウト" in browser.find_element(By.ID, "relogin-note").text
        if screenshots:
            shot("HRK007-result")

    main_account = accounts["3000001"]
    give("c-staff", "transfer", main_account, 1000000, screenshots=True)
    give("c-keiri", "transfer_approval", main_account, 1000000)
    logout()

    # staff creates transfer data (利用者ログイン with the hardware token's OTP).
    browser.get(server.base + "/corp/login")
    wait_screen("HLI001")
    shot("HLI001-user-login")
    browser.find_element(By.ID, "loginId").send_keys("c-staff")
    keyboard("password", PASSWORD)
    click("login")
    wait_screen("HLI003")
    shot("HLI003-otp")
    fill("otp", codes.next("hw", hardware))
    click("submit")
    wait_screen("HTP001")
    shot("HTP001-top")
    click("to-transfer")
    wait_screen("HFF001")
    fill("payeeBank", "9999")
    fill("payeeBranch", "001")
    fill("payeeAccount", "3000002")
    fill("payeeName", "イチゴシヨウジ")
    fill("amount", "120000")
    shot("HFF001-transfer")
    click("next")
    wait_screen("HFF002")
    keyboard("confirmationPassword", CONFIRMATION)
    shot("HFF002-confirm")
    click("confirm")
    wait_screen("HFF003")
    shot("HFF003-created")
    logout()

    # keiri approves with the confirmation password and an OTP of the shared token.
    login("/corp/login", "c-keiri", otp=codes.next("hw", hardware), expect="HTP001")
    click("to-approvals")
    wait_screen("HSN001")
    shot("HSN001-approvals")
    browser.find_element(By.CSS_SELECTOR, "a.approve-link").click()
    wait_screen("HSN002")
    keyboard("confirmationPassword", CONFIRMATION)
    fill("otp", codes.next("hw", hardware))
    shot("HSN002-approve")
    click("approve")
    wait_screen("HSN003")
    shot("HSN003-approved")
    status, listed = server.api("GET", f"/api/v1/users/{users['c-master']}/accounts")
    balances = {a["number"]: a["balance"] for a in listed["accounts"]} if isinstance(listed, dict) and "accounts" in listed else {a["number"]: a["balance"] for a in listed}
    assert balances == {"3000001": 1880000, "3000002": 120000}, listed
    logout()

    # Five wrong codes at staff's login stop the token for both sharers; the fourth warns.
    browser.get(server.base + "/corp/login")
    fill("loginId", "c-staff")
    keyboard("password", PASSWORD)
    click("login")
    wait_screen("HLI003")
    right = {hardware.at(t) for t in (time.time() - 60, time.time(), time.time() + 60)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in right)
    for attempt in range(1, 6):
        fill("otp", wrong)
        old_page = browser.find_element(By.TAG_NAME, "html")
        click("submit")
        # The old page is gone: Chromium may say so with "Node … does not belong to the document" instead of
        # a stale-element error when the check runs while the new page loads.
        WebDriverWait(browser, 15).until(lambda _: page_gone(old_page))
        wait_screen("HLI003")
        if attempt == 4:
            assert "あと1回" in browser.find_element(By.ID, "otp-error").text
            shot("HLI003-last-try")
    assert "管理者" in browser.find_element(By.ID, "page-error").text
    shot("HLI003-stopped")
    status, token = server.api("GET", f"/api/v1/tokens/{hardware_serial}")
    assert token["state"] == "locked", token

    # The administrator unlocks: selecting keiri selects staff too (same token).
    login("/corp/admin/login", "c-admin", otp=codes.next("sw", software), expect="HKG001")
    browser.get(server.base + "/corp/admin/users-menu")
    click("menu-otp")
    wait_screen("HOM001")
    shot("HOM001-otp-menu")
    click("menu-unlock")
    wait_screen("HOM002")
    browser.find_element(By.ID, "user-c-keiri").click()
    assert browser.find_element(By.ID, "user-c-staff").is_selected()
    keyboard("confirmationPassword", CONFIRMATION)
    shot("HOM002-unlock")
    click("unlock")
    wait_screen("HOM003")
    shot("HOM003-unlocked")
    status, token = server.api("GET", f"/api/v1/tokens/{hardware_serial}")
    assert token["state"] == "active", token

    # トークンの失効: staff's (shared) hardware token, with the administrator's OTP.
    browser.get(server.base + "/corp/admin/otp")
    click("menu-revoke")
    wait_screen("HOM004")
    browser.find_element(By.ID, "user-c-staff").click()
    keyboard("confirmationPassword", CONFIRMATION)
    fill("otp", codes.next("sw", software))
    shot("HOM004-revoke")
    click("revoke")
    wait_screen("HOM005")
    shot("HOM005-revoked")
    status, token = server.api("GET", f"/api/v1/tokens/{hardware_serial}")
    assert token["state"] == "revoked", token
    # A fresh, valid code of the revoked token never verifies again.
    status, reply = server.api("POST", f"/api/v1/users/{users['c-keiri']}/verify", {"code": codes.next("hw", hardware)})
    assert status in (403, 409), reply

    # The operator console sees the same inventory and trail.
    result = server.cli("tokens", "list", "--serial", "SKTH000005")
    assert "SKTH00000500\thardware\trevoked" in result.stdout, result.stdout
    env = dict(server.env, ICHIGO_OPERATOR_PASSWORD="operator2026")
    created = subprocess.run([BINARY, "operator", "create", "op1", "--name", "窓口 一郎"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr
    logout()
    browser.get(server.base + "/operator/login")
    fill("loginId", "op1")
    keyboard("password", "operator2026")
    shot("OLI001-operator-login")
    click("login")
    wait_screen("OTP001")
    shot("OTP001-operator-menu")
    browser.get(server.base + "/operator/tokens?unassigned=1")
    wait_screen("OTK001")
    assert "SKTH00000501" in browser.page_source and "SKTH00000500" not in browser.page_source
    shot("OTK001-inventory")
    browser.get(server.base + f"/operator/tokens/{hardware_serial}")
    wait_screen("OTK002")
    shot("OTK002-token")
    browser.get(server.base + f"/operator/audit?party={hardware_serial}")
    wait_screen("OAU001")
    # The console names each action in Japanese, with the internal name on hover.
    actions = [(e.text, e.get_attribute("title")) for e in browser.find_elements(By.CSS_SELECTOR, "#audit td.action")]
    for expected, label in (("token.import", "トークン取込"), ("token.register", "トークン利用登録"),
                            ("token.lock", "ワンタイムパスワード利用停止"),
                            ("token.unlock", "ワンタイムパスワード利用停止解除"), ("token.revoke", "トークンの失効")):
        assert (label, expected) in actions, actions
    shot("OAU001-audit")
