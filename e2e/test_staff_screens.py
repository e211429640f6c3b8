"""Issue 22 — the corporate and operator screens as bank staff read them — checked in a real browser (headless
Chromium via Selenium) against `ichigo serve --demo`, by the words on the screens (labels, headings, link and button
texts), never by element IDs (except the screen-id every page shows).

1. HTP001 for a user without account authority says there is no account instead of an empty table.
2. Seed 002's captions: 「ワンタイムパスワードの利用停止解除」 and 「トークンの失効」 (HOM001, HOM004/HOM005); the corporate
   forms' heading 「確認パスワードの入力」 over a field labelled 「確認パスワード」 (HTS002, HRK006, HOM002, HOM004).
3. The corporate menu shows 振込振替 and 承認 only to users with that authority.
4. HLI003 with a stopped token says what happened and whom to contact, links back to the login page and offers no
   code field and no 認証する.
5. After a usage-mode change (HTS001 → HTS002 実行) the administrator lands on 利用登録 (HTS003), told to go on.
6. The software keyboard types a password with symbols (an operator created with `ichigo operator create` logs in
   by mouse alone, through the 記号 layer); `ichigo operator create` refuses a space or a full-width character.
7. The operator console at 1280x800: OTK002 and OAU001 tables fit their panel; people by login ID and name,
   contracts by name, internal IDs on hover; the audit search's 操作 is a list of Japanese action names that filters.
8. The demo PSKC file's TOTP keys carry no OCRA suite in <Suite>.
9. After 失効 (by the administrator's HOM004 or the operator console) each user of the token is told at the next
   login: retail on BTP001 (and BOP001), a corporate user on HTP001, an approver on HOR001.

Every changed screen is saved at 1280x800 and at 400x800 (whole page):
test-output/screenshots/staff-NN-<screen>-<what>-<width>.png.
Codes come from pyotp with the seeds of the demo PSKC file (read with python-pskc).
"""
import base64
import itertools
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import pskc
import pyotp
import pytest

from conftest import BINARY, ROOT, Server, free_port

SHOTS = os.path.join(ROOT, "test-output", "screenshots")
PASSWORD = "ichigo2026"
CONFIRMATION = "kakunin1"
PIN = "1234"
CONTACT = "いちご銀行 法人ヘルプデスク 0120-22-2222"
KEYBOARD = "ソフトウェアキーボードを使用して入力する"
SYMBOLS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
WIDE, NARROW = (1280, 800), (400, 800)
SHOT_NUMBERS = itertools.count(1)


@pytest.fixture
def demo():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-staff-")
    instance = Server(data_dir, free_port(), extra_env={"ICHIGO_BANK_CONTACT": CONTACT}, args=("--demo",))
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def clean_screenshots():
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        if old.startswith("staff-"):
            os.remove(os.path.join(SHOTS, old))


def fobs(server):
    """The demo hardware tokens as key fobs: serial → pyotp TOTP, from the vendor file the demo wrote."""
    container = pskc.PSKC(os.path.join(server.data_dir, "demo-tokens.pskc.xml"))
    container.encryption.key = bytes.fromhex(open(os.path.join(server.data_dir, "demo-tokens.key")).read().strip())
    return {key.serial: pyotp.TOTP(base64.b32encode(key.secret).decode(), interval=60) for key in container.keys}


class Codes:
    """Codes for 60-second steps later than the last one used for each token (a code works once); the previous
    step only early in the minute (it stops working at the minute's end), otherwise this step and the next, then a
    wait for the next minute."""

    def __init__(self, fobs):
        self.fobs = fobs
        self.last = {}

    def next(self, serial):
        started = time.time()
        try:
            return self._next(serial)
        finally:
            print(f"[{time.strftime('%H:%M:%S')}] code for {serial}: waited {time.time() - started:.1f}s")

    def _next(self, serial):
        while True:
            now = time.time()
            step = int(now) // 60
            earliest = step - 1 if now % 60 < 55 else step
            candidate = max(self.last.get(serial, earliest - 1) + 1, earliest)
            if candidate <= step + 1:
                self.last[serial] = candidate
                return self.fobs[serial].at(candidate * 60)
            time.sleep(1)

    def wrong(self, serial):
        """A code that is none of the token's codes near now."""
        now = time.time()
        right = {self.fobs[serial].at(now + delta) for delta in (-120, -60, 0, 60, 120)}
        return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in right)


def lit(text):
    """`text` as an XPath string literal."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


class Person:
    """A person at the browser: finds things by the words on the screen."""

    def __init__(self, browser, base):
        from selenium.webdriver.common.by import By
        self.By = By
        self.browser = browser
        self.base = base
        self.findings = []
        self.set_viewport(*WIDE)

    # Viewport and screenshots

    def set_viewport(self, width, height):
        self.browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def overflow(self):
        """How far the page is wider than the viewport (0: no horizontal scrolling)."""
        return self.browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")

    def broken_buttons(self):
        """Buttons (and links drawn as buttons) in main that are split over two lines or overlap another."""
        return self.browser.execute_script("""
            var buttons = Array.from(document.querySelectorAll('main button, main a.button'))
              .filter(function (b) { return b.offsetParent !== null; });
            var out = [];
            buttons.forEach(function (b, i) {
              if (b.getClientRects().length > 1) out.push('split: ' + b.textContent.trim());
              var r = b.getBoundingClientRect();
              buttons.slice(i + 1).forEach(function (c) {
                var q = c.getBoundingClientRect();
                if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1)
                  out.push('overlap: ' + b.textContent.trim() + ' / ' + c.textContent.trim());
              });
            });
            return out;""")

    def shots(self, name):
        """Saves the whole page at 1280x800 and at 400x800, and notes it in `findings` if the page is wider than
        the viewport at either width (a table may scroll inside its panel at 400 px, the page may not)."""
        number = next(SHOT_NUMBERS)
        overflow = {}
        for width, height in (WIDE, NARROW):
            self.set_viewport(width, height)
            time.sleep(0.15)
            overflow[width] = self.overflow()
            broken = self.broken_buttons()
            if broken:
                self.findings.append((f"{name} at {width} px: buttons split or overlapping", broken))
            metrics = self.browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self.browser.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": max(width, size["width"]), "height": max(height, size["height"]),
                         "scale": 1}})
            path = os.path.join(SHOTS, f"staff-{number:02d}-{name}-{width}.png")
            with open(path, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
        self.set_viewport(*WIDE)
        time.sleep(0.1)
        if any(overflow.values()):
            self.findings.append((name, overflow))

    # Reading

    def screen(self):
        return self.browser.execute_script(
            "var e = document.getElementById('screen-id'); return e ? e.textContent.trim() : null;")

    def wait_screen(self, expected, timeout=15):
        print(f"[{time.strftime('%H:%M:%S')}] -> {expected}")
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            WebDriverWait(self.browser, timeout).until(lambda _: self.screen() == expected)
        except Exception:
            raise AssertionError(f"expected {expected}, at {self.screen()} ({self.browser.current_url}): {self.main()[:800]}")

    def main(self):
        return self.browser.find_element(self.By.TAG_NAME, "main").text

    def title(self):
        return self.browser.find_element(self.By.TAG_NAME, "h1").text.strip()

    def headings(self):
        return [h.text.strip() for h in self.browser.find_elements(self.By.TAG_NAME, "h2")]

    def labels(self):
        return [label.text.strip() for label in self.browser.find_elements(self.By.XPATH, "//main//label")]

    def menu(self):
        """The link texts of the menu bar under the header."""
        return [a.text.strip() for a in self.browser.find_elements(self.By.XPATH, "//nav[contains(@class, 'global')]//a")]

    def alerts(self):
        """What the page says in its alerts (role=alert: errors and notices)."""
        return [e.text.strip() for e in self.browser.find_elements(self.By.XPATH, "//main//*[@role='alert']")]

    def visible(self, xpath):
        return [e for e in self.browser.find_elements(self.By.XPATH, xpath) if e.is_displayed()]

    def buttons(self, text):
        """Buttons and button-like links that read `text`."""
        return self.visible(f"//main//button[normalize-space(.)={lit(text)}] | //main//a[normalize-space(.)={lit(text)}]"
                            f" | //header//button[normalize-space(.)={lit(text)}]"
                            f" | //nav//a[normalize-space(.)={lit(text)}]")

    def field(self, label):
        """The input a label starting with `label` (after 必須) names."""
        for element in self.visible("//main//label"):
            words = element.text.replace("[必須]", "").replace("必須", "").strip()
            if words == label or words.startswith(label + " ") or words.startswith(label + "("):
                return self.browser.find_element(self.By.ID, element.get_attribute("for"))
        raise AssertionError(f"no field labelled {label!r}: {self.labels()}")

    def row_input(self, cell_text):
        """The checkbox or radio button in the table row with a cell reading `cell_text`."""
        rows = self.visible(f"//main//tr[td[normalize-space(.)={lit(cell_text)}]]//input")
        assert rows, f"no row for {cell_text!r}: {self.main()[:500]}"
        return rows[0]

    # Acting

    def open(self, path):
        self.browser.get(self.base + path)

    def press(self, text, then=None):
        """Clicks the button or link reading `text`; with `then`, waits for that screen."""
        found = self.buttons(text)
        assert found, f"no button or link {text!r} on {self.screen()}: {self.main()[:600]}"
        old = self.browser.find_element(self.By.TAG_NAME, "html")
        found[0].click()
        if then:
            from selenium.webdriver.support.ui import WebDriverWait
            from test_corporate_journey import page_gone
            WebDriverWait(self.browser, 15).until(lambda _: page_gone(old))
            self.wait_screen(then)

    def choose(self, label):
        """Clicks the radio button or checkbox labelled `label`."""
        found = self.visible(f"//main//label[normalize-space(.)={lit(label)}]")
        assert found, f"no choice {label!r}"
        found[0].click()

    def type(self, label, value):
        element = self.field(label)
        element.clear()
        element.send_keys(value)

    def keyboard(self, label, value):
        """Types `value` into the field labelled `label` by mouse alone on the shuffled software keyboard,
        switching between its lower-case, upper-case and 記号 (symbols) layers by their keys' words. Returns the
        layers used."""
        element = self.field(label)
        toggle = element.find_element(self.By.XPATH, f"following-sibling::button[normalize-space(.)={lit(KEYBOARD)}]")
        toggle.click()
        panel = self.browser.find_element(self.By.XPATH, f"//div[@aria-label={lit(KEYBOARD)}]")
        assert panel.is_displayed()
        used = set()
        for char in value:
            for _ in range(3):
                keys = self.keys(panel)
                if char in keys:
                    keys[char].click()
                    break
                if char.isascii() and char.isupper():
                    layer = "ABC"
                elif char.isascii() and char.islower():
                    layer = "abc" if "abc" in keys else "英字"
                else:
                    layer = "記号"
                assert layer in keys, f"no key {char!r} and no layer key {layer!r}: {sorted(keys)}"
                keys[layer].click()
                used.add(layer)
            else:
                raise AssertionError(f"the software keyboard has no key {char!r}")
        self.visible(f"//div[@aria-label={lit(KEYBOARD)}]//button[normalize-space(.)='閉じる']")[0].click()
        assert element.get_attribute("value") == value
        return used

    def keys(self, panel):
        """The software keyboard's buttons by the words on them (one round trip)."""
        return dict(self.browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('button'))"
            ".filter(function (b) { return b.offsetParent !== null; })"
            ".map(function (b) { return [b.textContent.trim(), b]; });", panel))

    def login(self, path, login_id, otp=None, expect=None):
        self.open(path)
        self.type("ログインID", login_id)
        self.keyboard("ログインパスワード", PASSWORD)
        self.press("ログイン")
        if otp is not None:
            self.wait_screen("HLI003")
            self.type("ワンタイムパスワード", otp)
            self.press("認証する")
        if expect:
            self.wait_screen(expect)

    def logout(self):
        self.press("ログアウト")
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(self.browser, 10).until(lambda d: "login" in d.current_url)


def check_confirmation_form(person):
    """Seed 002's word on a corporate form: the heading 確認パスワードの入力 over a field labelled 確認パスワード, and
    nowhere the retail seeds' 確認用パスワード."""
    assert "確認パスワードの入力" in person.headings(), person.headings()
    assert person.field("確認パスワード").is_displayed()
    assert "確認用パスワード" not in person.browser.find_element(person.By.TAG_NAME, "body").text


def test_corporate_screens(demo, browser):
    """Points 1–5 and 9 (corporate): the demo contract いちご商事株式会社 in individual mode."""
    server = demo
    codes = Codes(fobs(server))
    me = Person(browser, server.base)
    shots = me.shots

    # 管理者ログイン: ichigo-admin has no token yet, so the password is enough.
    me.login("/corp/admin/login", "ichigo-admin", expect="HKG001")

    # 2. HOM001 (利用者管理 → ワンタイムパスワードの管理) offers seed 002's two captions.
    me.press("利用者管理", then="HRK001")
    me.press("ワンタイムパスワードの管理", then="HOM001")
    assert me.buttons("ワンタイムパスワードの利用停止解除") and me.buttons("トークンの失効")
    assert not me.buttons("ワンタイムパスワード利用停止解除一覧") and not me.buttons("トークン失効")
    shots("HOM001-captions")
    me.press("トークンの失効", then="HOM004")
    assert me.title() == "トークンの失効"
    assert "利用登録されているトークンはありません。" in me.main(), me.main()

    # 5. A usage-mode change goes on to 利用登録 (HTS003) with a flash saying so; twice, to come back to
    # individual mode: 管理業務 → ご契約先管理情報変更 → 利用者情報登録／変更 → 変更 → HTS001 → 次へ → HTS002 → 実行.
    def change_mode(label, screenshots):
        me.press("ご契約先管理情報変更", then="HKJ001")
        me.press("利用者情報登録／変更", then="HKJ002")
        me.press("変更", then="HTS001")
        me.choose(label)
        me.press("次へ", then="HTS002")
        # 2. HTS002 asks for the 確認パスワード under seed 002's heading.
        check_confirmation_form(me)
        if screenshots:
            shots("HTS002-confirmation-password")
        me.keyboard("確認パスワード", CONFIRMATION)
        me.press("実行", then="HTS003")
        assert me.title() == "ワンタイムパスワード利用登録"
        flash = me.visible("//main//p[contains(@class, 'flash')]")
        assert flash and flash[0].text == ("利用形態を変更しました。トークンの利用登録はすべて解除されました。"
                                          "続けて、トークンの利用登録を行ってください。"), [f.text for f in flash]
        assert "トークン情報の入力" in me.headings() and me.buttons("OK")
        if screenshots:
            shots("HTS003-after-mode-change")

    change_mode("全ての利用者が同じトークンを使用する", screenshots=True)
    change_mode("全ての利用者が異なるトークンを使用する", screenshots=False)
    assert "利用者の選択" in me.headings()

    # 利用登録 on HTS003: SKTH00000001 for ichigo-staff and ichigo-keiri (one token shared by two users).
    me.row_input("ichigo-staff").click()
    me.row_input("ichigo-keiri").click()
    me.type("シリアル番号", "SKTH00000001")
    me.type("ワンタイムパスワード", codes.next("SKTH00000001"))
    me.keyboard("ご契約先確認暗証番号", PIN)
    me.press("OK", then="HTS004")
    assert "SKTH00000001" in me.main()
    # … and SKTH00000002 for the administrator (利用者情報登録／変更 → 利用登録).
    me.press("ご契約先管理情報変更", then="HKJ001")
    me.press("利用者情報登録／変更", then="HKJ002")
    me.press("利用登録", then="HTS003")
    me.row_input("ichigo-admin").click()
    me.type("シリアル番号", "SKTH00000002")
    me.type("ワンタイムパスワード", codes.next("SKTH00000002"))
    me.keyboard("ご契約先確認暗証番号", PIN)
    me.press("OK", then="HTS004")

    me.logout()

    # 1 and 3. ichigo-staff (一般ユーザ without authority or account): HTP001 says there is no account and the menu
    # offers neither 振込振替 nor 承認.
    me.open("/corp/login")
    me.type("ログインID", "ichigo-staff")
    me.keyboard("ログインパスワード", PASSWORD)
    me.press("ログイン", then="HLI003")
    # 4 (the way out): HLI003 has 戻る next to 認証する.
    assert me.buttons("戻る") and me.buttons("認証する")
    shots("HLI003-otp-with-back")
    me.press("戻る", then="HLI001")
    me.type("ログインID", "ichigo-staff")
    me.keyboard("ログインパスワード", PASSWORD)
    me.press("ログイン", then="HLI003")
    me.type("ワンタイムパスワード", codes.next("SKTH00000001"))
    me.press("認証する", then="HTP001")
    text = me.main()
    assert "ご利用いただける口座はありません。" in text, text
    assert "口座一覧" in me.headings()
    assert not me.visible("//main//th[normalize-space(.)='残高']"), "an empty accounts table is shown"
    assert me.menu() == ["トップページ", "パスキーの管理"], me.menu()
    assert not me.buttons("振込振替データ作成") and not me.buttons("承認待ちデータ一覧")
    shots("HTP001-no-accounts-no-transfer-menu")
    # The server refuses what the menu no longer offers.
    me.open("/corp/transfers/new")
    assert "権限がありません" in browser.find_element(me.By.TAG_NAME, "body").text
    me.open("/corp/top")
    me.logout()

    # 3. ichigo-keiri (承認 authority, two accounts): 承認 is offered, 振込振替 is not; the accounts are listed.
    me.login("/corp/login", "ichigo-keiri", otp=codes.next("SKTH00000001"), expect="HTP001")
    assert me.menu() == ["トップページ", "承認", "パスキーの管理"], me.menu()
    assert me.buttons("承認待ちデータ一覧 (0)") and not me.buttons("振込振替データ作成")
    assert me.visible("//main//th[normalize-space(.)='残高']") and "2000001" in me.main()
    assert "ご利用いただける口座はありません" not in me.main()
    shots("HTP001-approver-menu")
    me.logout()

    # 4. Five wrong codes stop SKTH00000001: HLI003 then says what happened and whom to contact, offers the way
    # back to the login page, and no code field or 認証する.
    me.open("/corp/login")
    me.type("ログインID", "ichigo-staff")
    me.keyboard("ログインパスワード", PASSWORD)
    me.press("ログイン", then="HLI003")
    wrong = codes.wrong("SKTH00000001")
    for attempt in range(1, 6):
        old = browser.find_element(me.By.TAG_NAME, "html")
        me.type("ワンタイムパスワード", wrong)
        me.press("認証する")
        from selenium.webdriver.support.ui import WebDriverWait
        from test_corporate_journey import page_gone
        WebDriverWait(browser, 15).until(lambda _: page_gone(old))
        me.wait_screen("HLI003")
        if attempt == 4:
            assert any("あと1回" in line for line in me.main().splitlines()), me.main()

    def check_stopped():
        text = me.main()
        assert "ワンタイムパスワードの誤入力が規定回数を超えたため" in text, text
        assert "同じトークンをご利用の利用者も停止されています" in text
        assert "ご契約先の管理者（マスターユーザ・管理者ユーザ）に利用停止解除をご依頼ください" in text
        assert "利用停止が解除されるまで入力できません" in text
        assert "ご不明な点は、次の窓口までお問い合わせください： " + CONTACT in text, text
        assert me.buttons("ログイン画面へ戻る")
        assert not me.buttons("認証する"), "HLI003 still offers 認証する with a stopped token"
        assert "ワンタイムパスワード" not in " ".join(me.labels()), me.labels()
        assert not me.visible("//main//input[@type='text' or @type='password']")

    check_stopped()
    shots("HLI003-stopped")
    me.press("ログイン画面へ戻る", then="HLI001")
    # The user sharing the token is told the same at once after the password.
    me.type("ログインID", "ichigo-keiri")
    me.keyboard("ログインパスワード", PASSWORD)
    me.press("ログイン", then="HLI003")
    check_stopped()
    me.press("ログイン画面へ戻る", then="HLI001")
    assert me.buttons("ログイン")

    # 2. HOM002 (ワンタイムパスワードの利用停止解除): 確認パスワード; selecting one sharer selects both.
    me.login("/corp/admin/login", "ichigo-admin", otp=codes.next("SKTH00000002"), expect="HKG001")
    me.press("利用者管理", then="HRK001")
    me.press("ワンタイムパスワードの管理", then="HOM001")
    me.press("ワンタイムパスワードの利用停止解除", then="HOM002")
    check_confirmation_form(me)
    me.row_input("ichigo-keiri").click()
    assert me.row_input("ichigo-staff").is_selected()
    me.keyboard("確認パスワード", CONFIRMATION)
    shots("HOM002-unlock-confirmation-password")
    me.press("停止解除", then="HOM003")

    # 2 and 3. The administrator gives ichigo-keiri 振込振替 too: HRK006 (利用者登録確認) asks for the 確認パスワード
    # under seed 002's heading, and the OTP.
    me.press("利用者管理", then="HRK001")
    me.press("利用者情報の管理", then="HRK002")
    me.row_input("ichigo-keiri").click()
    me.press("変更", then="HRK003")
    me.press("次へ", then="HRK004")
    me.choose("振込振替")
    me.press("次へ", then="HRK005")
    me.press("変更", then="HRK006")
    check_confirmation_form(me)
    me.keyboard("確認パスワード", CONFIRMATION)
    shots("HRK006-confirmation-password")
    me.type("ワンタイムパスワード", codes.next("SKTH00000002"))
    me.press("実行", then="HRK007")
    me.logout()

    # 3. At the next login ichigo-keiri is offered 振込振替 as well as 承認.
    me.login("/corp/login", "ichigo-keiri", otp=codes.next("SKTH00000001"), expect="HTP001")
    assert me.menu() == ["トップページ", "振込振替", "承認", "パスキーの管理"], me.menu()
    assert me.buttons("振込振替データ作成") and me.buttons("承認待ちデータ一覧 (0)")
    shots("HTP001-transfer-and-approval-menu")
    me.press("振込振替", then="HFF001")
    me.logout()

    me.login("/corp/admin/login", "ichigo-admin", otp=codes.next("SKTH00000002"), expect="HKG001")
    # 2 and 9. HOM004 (トークンの失効) revokes ichigo-staff's token, shared with ichigo-keiri.
    me.press("利用者管理", then="HRK001")
    me.press("ワンタイムパスワードの管理", then="HOM001")
    me.press("トークンの失効", then="HOM004")
    assert me.title() == "トークンの失効"
    check_confirmation_form(me)
    me.row_input("ichigo-staff").click()
    me.keyboard("確認パスワード", CONFIRMATION)
    me.type("ワンタイムパスワード", codes.next("SKTH00000002"))
    shots("HOM004-revoke")
    me.press("失効", then="HOM005")
    assert me.title() == "トークンの失効結果"
    assert "SKTH00000001" in me.main()
    shots("HOM005-revoked")
    me.logout()

    # 9. ichigo-staff logs in with the password alone and reads on HTP001 that the token was revoked and what to do.
    me.login("/corp/login", "ichigo-staff", expect="HTP001")
    notice = " ".join(me.alerts())
    assert "ご利用のトークン（シリアル番号 SKTH00000001）は失効しました。" in notice, me.main()
    assert "ワンタイムパスワードが必要なお取引はできません" in notice
    assert "ご契約先の管理者（マスターユーザ・管理者ユーザ）に新しいトークンの利用登録をご依頼ください。" in notice
    shots("HTP001-revoked-notice")
    me.logout()
    # 9. The approver ichigo-keiri is sent to first-use registration (HOR001), told why and what to enter.
    me.login("/corp/login", "ichigo-keiri", expect="HOR001")
    notice = " ".join(me.alerts())
    assert "ご利用のトークン（シリアル番号 SKTH00000001）は失効しました。" in notice, me.main()
    assert "新しいトークン裏面の「シリアル番号」と「ワンタイムパスワード」を入力して、利用開始登録を行ってください。" in notice
    assert me.field("シリアル番号") and me.buttons("登録")
    shots("HOR001-revoked-notice")
    me.logout()

    assert not me.findings, f"screens that look broken (page wider than the viewport, in px; split or overlapping buttons): {me.findings}"


def test_operator_console_and_software_keyboard(demo, browser):
    """Points 6, 7 and 9 (retail, revoked from the operator console)."""
    from selenium.webdriver.support.ui import Select

    server = demo
    codes = Codes(fobs(server))
    me = Person(browser, server.base)
    def operators():
        with sqlite3.connect(os.path.join(server.data_dir, "ichigo.sqlite")) as db:
            return [row[0] for row in db.execute("SELECT login_id FROM operators ORDER BY login_id")]

    def create_operator(login_id, password):
        env = dict(server.env, ICHIGO_OPERATOR_PASSWORD=password)
        return subprocess.run([BINARY, "operator", "create", login_id, "--name", "窓口 花子"],
                              env=env, capture_output=True, text=True, timeout=60)

    # 6. `ichigo operator create` refuses a space and a full-width character, says why, creates nothing.
    for refused in ("madoguchi 2026", "madoguchi－2026", "ｍａｄｏｇｕｃｈｉ2026"):
        result = create_operator("madoguchi", refused)
        said = result.stdout + result.stderr
        assert result.returncode != 0, said
        assert "空白・全角文字は使えません" in said and "Nothing was created" in said, said
        assert refused not in said, "the refused password is echoed"
    assert operators() == []
    # … and accepts letters, digits and symbols.
    password = "Madoguchi-2026!"
    created = create_operator("madoguchi", password)
    assert created.returncode == 0, created.stdout + created.stderr
    assert operators() == ["madoguchi"]

    # 6. The operator logs in typing the password by mouse alone; the 記号 layer has all 32 ASCII symbols.
    me.open("/operator/login")
    me.wait_screen("OLI001")
    me.type("ログインID", "madoguchi")
    me.field("ログインパスワード").find_element(
        me.By.XPATH, f"following-sibling::button[normalize-space(.)={lit(KEYBOARD)}]").click()
    panel = browser.find_element(me.By.XPATH, f"//div[@aria-label={lit(KEYBOARD)}]")
    me.keys(panel)["記号"].click()
    keys = list(me.keys(panel))
    assert sorted(k for k in keys if len(k) == 1) == sorted("0123456789" + SYMBOLS), keys
    assert "英字" in keys and "ABC" in keys
    me.shots("OLI001-keyboard-symbols")
    panel.find_element(me.By.XPATH, ".//button[normalize-space(.)='閉じる']").click()
    layers = me.keyboard("ログインパスワード", password)
    assert {"記号", "ABC"} <= layers, layers
    me.press("ログイン", then="OTP001")

    # The operator assigns SKTH00000003 to the retail customer yamada (営業店窓口受付) in OTK002.
    me.press("トークン在庫一覧", then="OTK001")
    browser.find_element(me.By.XPATH, "//main//a[normalize-space(.)='SKTH00000003']").click()
    me.wait_screen("OTK002")
    me.type("割当先の個人のお客さまのログインID", "yamada")
    me.press("割当（営業店窓口受付）", then="OTK002")
    assert "yamada" in me.main()
    me.logout()

    # ichigo-admin registers SKTH00000004 for ichigo-staff (a contract's token for the console to name).
    me.login("/corp/admin/login", "ichigo-admin", expect="HKG001")
    me.press("ご契約先管理情報変更", then="HKJ001")
    me.press("利用者情報登録／変更", then="HKJ002")
    me.press("利用登録", then="HTS003")
    me.row_input("ichigo-staff").click()
    me.type("シリアル番号", "SKTH00000004")
    me.type("ワンタイムパスワード", codes.next("SKTH00000004"))
    me.keyboard("ご契約先確認暗証番号", PIN)
    me.press("OK", then="HTS004")
    me.logout()

    # yamada starts the token (BOP001 → ワンタイムパスワード利用開始 → BOK001), logs out and in with a code.
    me.login("/login", "yamada", expect="BTP001")
    me.press("ワンタイムパスワード申請", then="BOP001")
    me.press("ワンタイムパスワード利用開始", then="BOK001")
    me.type("ワンタイムパスワード", codes.next("SKTH00000003"))
    me.press("利用開始する", then="BOK002")
    me.logout()
    me.open("/login")
    me.type("ログインID", "yamada")
    me.keyboard("ログインパスワード", PASSWORD)
    me.press("ログイン", then="BLI002")
    me.type("ワンタイムパスワード", codes.next("SKTH00000003"))
    me.press("認証する", then="BTP001")
    me.logout()

    # 7 and 9. The operator revokes yamada's token in the console (OTK002 → 失効).
    me.open("/operator/login")
    me.type("ログインID", "madoguchi")
    me.keyboard("ログインパスワード", password)
    me.press("ログイン", then="OTP001")
    me.press("トークン在庫一覧", then="OTK001")
    browser.find_element(me.By.XPATH, "//main//a[normalize-space(.)='SKTH00000003']").click()
    me.wait_screen("OTK002")
    me.press("失効", then="OTK002")
    assert me.visible("//main//table//tr[2]/td[3]")[0].text == "失効"

    def cells(column):
        """The texts and titles of the audit table's column headed `column`."""
        headers = [th.text.strip() for th in me.visible("//main//table[.//th[normalize-space(.)='詳細']]//tr[1]/th")]
        index = headers.index(column) + 1
        return [(td.text.strip(), td.get_attribute("title") or "")
                for td in me.visible(f"//main//table[.//th[normalize-space(.)='詳細']]//tr[position() > 1]/td[{index}]")]

    def split_serials():
        """Serial numbers in the audit table's 対象 column that the browser breaks over two lines."""
        return browser.execute_script("""
            var out = [];
            document.querySelectorAll('main table td').forEach(function (td) {
              var text = td.textContent.trim();
              if (!/^SKTH[0-9]{8}$/.test(text)) return;
              var range = document.createRange();
              range.selectNodeContents(td);
              var tops = new Set(Array.from(range.getClientRects()).map(function (r) { return Math.round(r.top); }));
              if (tops.size > 1) out.push(text);
            });
            return out;""")

    def fits():
        """Every table in main ends inside main's content box, none scrolls sideways, the page does not either."""
        return browser.execute_script("""
            var main = document.querySelector('main'), box = main.getBoundingClientRect();
            var style = getComputedStyle(main), right = box.right - parseFloat(style.paddingRight);
            var out = [];
            main.querySelectorAll('table').forEach(function (table, i) {
              var r = table.getBoundingClientRect(), wrap = table.parentElement;
              if (r.right > right + 1) out.push('table ' + i + ' ends at ' + r.right + ' > ' + right);
              if (wrap.scrollWidth > wrap.clientWidth + 1) out.push('table ' + i + ' scrolls: ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
              var last = table.querySelector('tr th:last-child');
              if (last && last.getBoundingClientRect().right > right + 1) out.push('last column of table ' + i + ' cut off');
            });
            if (main.scrollWidth > main.clientWidth + 1) out.push('main scrolls: ' + main.scrollWidth + ' > ' + main.clientWidth);
            if (document.documentElement.scrollWidth > window.innerWidth) out.push('page scrolls sideways');
            return out;""")

    # 7. OTK002 at 1280x800: fits, serials in one piece; actors as login ID（name） with the internal ID on hover;
    # action names in words.
    assert fits() == [], fits()
    assert split_serials() == [], split_serials()
    actors = cells("実行者")
    assert any(text == "madoguchi（窓口 花子）" and title.startswith("operator:O") for text, title in actors), actors
    assert any(text == "yamada（山田 太郎）" and title.startswith("user:U") for text, title in actors), actors
    actions = cells("操作")
    assert ("トークンの失効", "token.revoke") in actions and ("トークン割当（営業店窓口受付）", "token.assign") in actions, actions
    assert not any(re.search(r"\b[UCTO][0-9a-f]{24}\b", text) for text, _ in actors + cells("対象")), "internal IDs shown"
    me.shots("OTK002-token-revoked")

    # 7. A contract's token: ご契約先 by name, the contract ID on hover; holders by login ID and name.
    me.open("/operator/tokens/SKTH00000004")
    me.wait_screen("OTK002")
    owner = me.visible("//main//table[.//th[normalize-space(.)='ご契約先']]//tr[2]/td[4]")[0]
    assert owner.text == "いちご商事株式会社" and re.fullmatch(r"C[0-9a-f]{24}", owner.get_attribute("title")), \
        (owner.text, owner.get_attribute("title"))
    assert "ichigo-staff いちご商事 担当者" in me.main()
    assert any(text == "ichigo-admin（いちご商事 管理者）" for text, _ in cells("実行者")), cells("実行者")
    assert fits() == [], fits()
    me.shots("OTK002-contract-token")

    # 7. OAU001: the whole trail fits at 1280x800; 操作 is a list of Japanese names; choosing one filters.
    me.press("監査ログ", then="OAU001")
    assert fits() == [], fits()
    assert split_serials() == [], split_serials()
    select = Select(me.field("操作"))
    options = [o.text for o in select.options]
    assert options[0] == "すべての操作" and "トークンの失効" in options and "ワンタイムパスワード利用停止解除" in options
    assert not [o for o in options if re.fullmatch(r"[a-z_.]+", o)], options
    assert "contract.create" in [o.get_attribute("value") for o in select.options]
    everything = cells("操作")
    assert len({text for text, _ in everything}) > 3, everything
    subjects = cells("対象")
    assert any(text == "いちご商事株式会社" and re.fullmatch(r"C[0-9a-f]{24}", title) for text, title in subjects), subjects
    assert any(text == "yamada（山田 太郎）" and re.fullmatch(r"U[0-9a-f]{24}", title) for text, title in subjects), subjects
    assert any(text == "madoguchi（窓口 花子）" and re.fullmatch(r"O[0-9a-f]{24}", title) for text, title in subjects), subjects
    def detached_labels():
        """Search-form labels that end a line while their field starts the next (at the current width)."""
        return browser.execute_script("""
            var out = [];
            document.querySelectorAll('main form label[for]').forEach(function (label) {
              var field = document.getElementById(label.getAttribute('for'));
              var l = label.getBoundingClientRect(), f = field.getBoundingClientRect();
              if (f.top >= l.bottom - 1 && f.left < l.left - 1) out.push(label.textContent);
            });
            return out;""")

    assert detached_labels() == [], detached_labels()
    me.set_viewport(*NARROW)
    assert detached_labels() == [], detached_labels()
    me.set_viewport(*WIDE)
    me.shots("OAU001-audit-all")
    select.select_by_visible_text("トークンの失効")
    me.press("検索", then="OAU001")
    assert Select(me.field("操作")).first_selected_option.text == "トークンの失効"
    filtered = cells("操作")
    assert filtered and set(filtered) == {("トークンの失効", "token.revoke")}, filtered
    assert len(filtered) < len(everything)
    assert any(text == "SKTH00000003" for text, _ in cells("対象"))
    assert fits() == [], fits()
    me.shots("OAU001-audit-revocations")

    # 7. OUS002 (利用者詳細) uses the same table.
    me.open("/operator/users/yamada")
    me.wait_screen("OUS002")
    assert fits() == [], fits()
    me.shots("OUS002-customer")
    me.logout()

    # 9. yamada logs in with the password alone and reads on BTP001 (and BOP001) that the token was revoked.
    me.login("/login", "yamada", expect="BTP001")
    notice = " ".join(me.alerts())
    assert "ご利用のトークン（シリアル番号 SKTH00000003）は失効しました。" in notice, me.main()
    assert "「ワンタイムパスワード申請」から新しいトークンを発行してください。" in notice
    me.shots("BTP001-revoked-notice")
    me.press("ワンタイムパスワード申請", then="BOP001")
    assert "失効しました" in " ".join(me.alerts())
    me.shots("BOP001-revoked-notice")
    me.logout()

    assert not me.findings, f"screens that look broken (page wider than the viewport, in px; split or overlapping buttons): {me.findings}"


def test_demo_pskc_totp_keys_name_their_hash_in_suite(demo):
    """8. The demo file's TOTP keys: <Suite> is the HMAC hash (RFC 6030), not an OCRA suite; the signing suite is
    in the key's Extensions; python-pskc reads the file and its codes match the server's."""
    ns = {"pskc": "urn:ietf:params:xml:ns:keyprov:pskc"}
    tree = ElementTree.parse(os.path.join(demo.data_dir, "demo-tokens.pskc.xml"))
    keys = tree.findall(".//pskc:KeyPackage/pskc:Key", ns)
    assert len(keys) == 5
    for key in keys:
        assert key.get("Algorithm") == "urn:ietf:params:xml:ns:keyprov:pskc:totp"
        suite = key.find("pskc:AlgorithmParameters/pskc:Suite", ns)
        assert suite is not None and suite.text == "HMAC-SHA1", ElementTree.tostring(key)[:400]
        assert not any("OCRA" in (e.text or "") for e in key.find("pskc:AlgorithmParameters", ns).iter())
        signing = key.find("pskc:Extensions/{urn:ichigo:pskc:transaction-signing}OCRASuite", ns)
        assert signing is not None and signing.text.startswith("OCRA-1:"), ElementTree.tostring(key)[:600]
    container = pskc.PSKC(os.path.join(demo.data_dir, "demo-tokens.pskc.xml"))
    assert {key.algorithm_suite for key in container.keys} == {"HMAC-SHA1"}
