"""取引認証 in a real browser (headless Chromium via Selenium) against `ichigo serve --transfer-signing required`:
a retail transfer signed with the real `ichigo-token sign` goes through; a second tab that replaces the pending
transfer (another payee) makes the first tab's code fail, and no money moves.

Screenshots go to test-output/screenshots/ (sign-*.png).
"""
import json
import os
import re
import shutil
import tempfile

import pytest

from conftest import ROOT, Server, free_port
from retail import balances, customer_through_bot003, screen_id, start_use
from test_ocra_sign import token_cli

SHOTS = os.path.join(ROOT, "test-output", "screenshots")


@pytest.fixture
def signing_server():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    instance = Server(data_dir, free_port(), args=("--transfer-signing", "required"))
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_a_signed_transfer_and_a_second_tab_that_changes_the_payee(signing_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    server = signing_server
    base = server.base
    os.makedirs(SHOTS, exist_ok=True)
    home = str(tmp_path / "token-home")
    os.makedirs(home)

    # A customer with two accounts issues a software token; ichigo-token is set up against the server (getting the
    # bank's OCRA suite with the seed) and its first code starts use (BOK001).
    session, service_id, app_user_id, _ = customer_through_bot003(
        server, "tabs", accounts=(("普通預金", "1111111", 500000), ("貯蓄預金", "2222222", 0)))
    result = token_cli(home, "setup", "--server", base, "--service-id", service_id, "--user-id", app_user_id,
                       "--activation-password", "2468", "--agree")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(token_cli(home, "show", "--json").stdout)
    assert screen_id(start_use(server, session, shown["code"])) == "BOK002"

    # The browser continues that logged-in session (its OTP step is spent; a new login would wait for the next one).
    browser.get(base + "/login")
    browser.add_cookie({"name": "ichigo_session", "value": session.cookies["ichigo_session"], "path": "/"})

    def wait_screen(expected, timeout=15):
        # Read the screen ID in one script call: a find_element followed by .text can meet the element of the
        # page being replaced (stale element reference) while the browser navigates.
        script = "var e = document.getElementById('screen-id'); return e ? e.textContent.trim() : null;"
        WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script) == expected)

    def fill(field_id, value):
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def enter_transfer(bank, account, amount):
        browser.get(base + "/transfer")
        wait_screen("BFK001")
        fill("payeeBank", bank)
        fill("payeeBranch", "001")
        fill("payeeAccount", account)
        fill("payeeName", "タカハシ ジロウ")
        fill("amount", amount)
        browser.find_element(By.ID, "next").click()
        wait_screen("BFK002")

    def sign(account, amount):
        signed = token_cli(home, "sign", "--account", account, "--amount", amount, "--json")
        assert signed.returncode == 0, signed.stdout + signed.stderr
        return json.loads(signed.stdout)["code"]

    # Tab 1: BFK002 shows the challenge of the pending transfer and asks for the 取引認証番号 instead of the OTP.
    first = browser.current_window_handle
    enter_transfer("9999", "2222222", "12345")
    assert browser.find_element(By.ID, "sign-challenge-text").text == "123452222222"
    assert "トークンアプリで「取引認証」を選び" in browser.find_element(By.ID, "sign-howto").text
    assert not browser.find_elements(By.ID, "otp")
    browser.save_screenshot(os.path.join(SHOTS, "sign-BFK002.png"))
    first_code = sign("2222222", "12345")

    # Tab 2 (same session): another payee replaces the pending transfer.
    browser.switch_to.new_window("tab")
    enter_transfer("0001", "3333333", "12345")
    assert browser.find_element(By.ID, "sign-challenge-text").text == "123453333333"

    # Back in tab 1: the code for the transfer it showed is refused, with a clear message; nothing moves.
    browser.switch_to.window(first)
    fill("confirmationPassword", "kakunin1")
    fill("signature", first_code)
    browser.find_element(By.ID, "confirm").click()
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.ID, "page-error")))
    assert "お振込内容が変更されたため" in browser.find_element(By.ID, "page-error").text
    assert screen_id(browser.page_source) == "BFK002"
    browser.save_screenshot(os.path.join(SHOTS, "sign-BFK002-changed.png"))
    # The page now shows the pending transfer as the server holds it: the other payee.
    assert browser.find_element(By.ID, "sign-challenge-text").text == "123453333333"
    assert balances(server, session) == {"1111111": 500000, "2222222": 0}

    # Entered again and signed with ichigo-token: the transfer goes through.
    enter_transfer("9999", "2222222", "12345")
    code = sign("2222222", "12,345")
    fill("confirmationPassword", "kakunin1")
    fill("signature", code)
    browser.find_element(By.ID, "confirm").click()
    wait_screen("BFK003")
    browser.save_screenshot(os.path.join(SHOTS, "sign-BFK003.png"))
    assert balances(server, session) == {"1111111": 500000 - 12345, "2222222": 12345}

    # The audit trail is intact and records what was signed.
    server.stop()
    result = server.cli("audit", "verify")
    assert result.returncode == 0, result.stdout
    searched = server.cli("audit", "search", "--action", "transfer")
    assert "challenge=123452222222" in searched.stdout, searched.stdout
