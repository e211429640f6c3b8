"""Helpers that drive the retail screens with plain HTTP (requests), as a browser would."""
import email
import glob
import os
import re
import time

import requests


def csrf(html):
    return re.search(r'name="_csrf" value="([^"]*)"', html).group(1)


def screen_id(html):
    match = re.search(r'id="screen-id">([A-Z0-9]+)<', html)
    return match and match.group(1)


def wait_for_eml(data_dir, predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(data_dir, "outbox", "*.eml"))):
            message = email.message_from_bytes(open(path, "rb").read())
            text = message.get_payload(decode=True).decode("utf-8")
            if predicate(message, text):
                return message, text
        time.sleep(0.2)
    raise AssertionError("mail did not arrive")


def customer_through_bot003(server, login_id, activation="2468", accounts=()):
    """Creates a customer (with `accounts`: (name, number, balance) in branch 001), logs in and issues a software
    token (BOT001–BOT003).

    Returns the logged-in session, サービスID, ユーザID and the BOT003 page."""
    status, user = server.api("POST", "/api/v1/users", {
        "loginId": login_id, "name": "高橋 次郎", "email": f"{login_id}@example.jp",
        "loginPassword": "ichigo2026", "confirmationPassword": "kakunin1"})
    assert status == 201, user
    for name, number, balance in accounts:
        status, account = server.api("POST", f"/api/v1/users/{user['id']}/accounts",
                                     {"name": name, "branch": "001", "number": number, "balance": balance})
        assert status == 201, account
    session = requests.Session()
    page = session.get(server.base + "/login").text
    page = session.post(server.base + "/login", data={"_csrf": csrf(page), "loginId": login_id, "password": "ichigo2026"}).text
    page = session.get(server.base + "/otp/issue").text
    page = session.post(server.base + "/otp/issue", data={
        "_csrf": csrf(page), "phoneEmail": f"{login_id}.phone@example.jp",
        "phoneEmailConfirmation": f"{login_id}.phone@example.jp",
        "activationPassword": activation, "activationPasswordConfirmation": activation}).text
    assert screen_id(page) == "BOT002", page
    _, text = wait_for_eml(server.data_dir, lambda m, t: m["To"] == f"{login_id}@example.jp" and "メール通知パスワード:" in t)
    code = re.search(r"メール通知パスワード: (\d+)", text).group(1)
    page = session.post(server.base + "/otp/issue/confirm", data={
        "_csrf": csrf(page), "action": "confirm", "confirmationPassword": "kakunin1", "mailPassword": code}).text
    assert screen_id(page) == "BOT003", page
    service_id = re.search(r'id="service-id">(\d+)<', page).group(1)
    app_user_id = re.search(r'id="app-user-id">(\d+)<', page).group(1)
    return session, service_id, app_user_id, page


def start_use(server, session, code):
    """BOK001 with `code`; returns the resulting page."""
    page = session.get(server.base + "/otp/start").text
    assert screen_id(page) == "BOK001", page
    return session.post(server.base + "/otp/start", data={"_csrf": csrf(page), "action": "start", "otp": code}).text


def balances(server, session):
    """The customer's balances as the top page shows them (BTP001): {account number: yen}."""
    page = session.get(server.base + "/top").text
    return {number: int(amount.replace(",", ""))
            for number, amount in re.findall(r'data-account="(\d+)">([\d,]+)', page)}
