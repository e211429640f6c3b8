"""A bank that allows standard authenticator apps: BOT003 shows the otpauth QR code once; zbarimg reads the
exact Key URI back from a screenshot; pyotp, configured from that URI, produces a code BOK001 accepts."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pyotp
import pytest

from conftest import ROOT, Server, free_port
from retail import customer_through_bot003, screen_id, start_use


@pytest.fixture
def qr_server():
    data_dir = tempfile.mkdtemp(prefix="ichigo-e2e-")
    instance = Server(data_dir, free_port(), extra_env={"ICHIGO_RETAIL_ALLOW_AUTHENTICATOR_APPS": "true"})
    yield instance
    instance.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_qr_code_decodes_to_the_key_uri_and_its_codes_are_accepted(qr_server, browser):
    from selenium.webdriver.common.by import By

    server = qr_server
    session, service_id, app_user_id, page = customer_through_bot003(server, "qr01")
    # The requests session saw BOT003 first and consumed the QR; run the browser through its own issuance.
    assert 'id="otpauth-qr"' in page
    assert "60秒" in page  # the warning about apps that ignore a 60-second period

    browser.get(server.base + "/login")
    # Use the requests session's cookie in the browser would show BOT003 again; instead prove "shown once":
    reload = session.get(server.base + "/otp/issue/done").text
    assert "<svg" not in reload, reload[reload.find("otpauth-qr")-300:reload.find("otpauth-qr")+100]
    assert "id=\"qr-shown\"" in reload

    # Extract the SVG the customer saw, render it in the browser, screenshot it, decode with zbarimg.
    svg = page[page.index("<svg"):page.index("</svg>") + len("</svg>")]
    work = tempfile.mkdtemp(prefix="ichigo-qr-")
    try:
        svg_path = os.path.join(work, "qr.html")
        open(svg_path, "w").write("<html><body style='margin:0;background:#fff'>" + svg + "</body></html>")
        browser.get("file://" + svg_path)
        png = os.path.join(ROOT, "test-output", "screenshots")
        os.makedirs(png, exist_ok=True)
        png_path = os.path.join(png, "BOT003-otpauth-qr.png")
        browser.find_element(By.ID, "otpauth-qr").screenshot(png_path)
        decoded = subprocess.run(["zbarimg", "--quiet", "--raw", png_path], capture_output=True, text=True, check=True)
        uri = decoded.stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    assert uri.startswith("otpauth://totp/")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    assert query["period"] == ["60"] and query["digits"] == ["6"] and query["algorithm"] == ["SHA1"]
    assert query["issuer"] == ["いちご銀行"]
    totp = pyotp.parse_uri(uri)
    assert totp.interval == 60

    # The provisioning endpoint is closed for this issuance: the seed was delivered by the QR.
    import requests
    response = requests.post(server.base + "/app/v1/provision", json={
        "serviceId": service_id, "userId": app_user_id, "activationPassword": "2468", "consent": True}, timeout=10)
    assert response.status_code == 404

    # A wrongly configured app (30 s period) is caught by BOK001's first-code check.
    wrong_app = pyotp.TOTP(totp.secret, interval=30)
    now = time.time()
    if wrong_app.at(now) != totp.at(now):
        page = start_use(server, session, wrong_app.at(now))
        assert screen_id(page) == "BOK001" and "ワンタイムパスワードが正しくありません" in page
    page = start_use(server, session, totp.at(time.time()))
    assert screen_id(page) == "BOK002", page

    # The server log never contains the Key URI or the secret.
    server.stop()
    log = open(os.path.join(server.data_dir, "server.log")).read()
    assert totp.secret not in log and "otpauth://" not in log
