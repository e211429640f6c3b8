"""`ichigo-token sign` end to end: a hardware token read from a PSKC file written by python-pskc, with an OCRA suite,
signs transfers whose codes the independent `oath` package computes the same; a token without a suite says so."""
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import oath
import pskc

from conftest import ROOT

TOKEN_BIN = os.environ.get("ICHIGO_TOKEN_BIN", os.path.join(ROOT, ".build", "debug", "ichigo-token"))


def token_cli(home, *args, lang="ja_JP.UTF-8", stdin=None):
    env = dict(os.environ, ICHIGO_TOKEN_HOME=home, LANG=lang)
    return subprocess.run([TOKEN_BIN, *args], env=env, capture_output=True, text=True, timeout=60, input=stdin)


def hold(home, tmp_path, serial, secret, suite=None):
    """Writes a one-key PSKC file (an OCRA key when `suite` is given, else TOTP) and adds it with hardware add."""
    container = pskc.PSKC()
    if suite:
        container.add_key(secret=secret, serial=serial, manufacturer="Ichigo", algorithm_suite=suite,
                          algorithm="urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1", response_length=8,
                          response_encoding="DECIMAL")
    else:
        container.add_key(secret=secret, serial=serial, manufacturer="Ichigo", time_interval=60,
                          algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp", response_length=6)
    path = tmp_path / (serial + ".xml")
    container.write(str(path))
    result = token_cli(home, "hardware", "add", str(path), "--serial", serial)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sign_with_the_suite_from_the_pskc_file_agrees_with_oath(tmp_path):
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        secret = secrets.token_bytes(32)
        suite = "OCRA-1:HOTP-SHA256-8:QN20-T1M"
        hold(home, tmp_path, "SKTH00000901", secret, suite)
        before = int(time.time()) // 60
        result = token_cli(home, "sign", "--account", "0012345", "--amount", "1,250,000", "--json")
        after = int(time.time()) // 60
        assert result.returncode == 0, result.stdout + result.stderr
        signed = json.loads(result.stdout)
        assert signed["challenge"] == "12500000012345"  # amount, then the 7-digit account
        assert before <= signed["timeStep"] <= after
        expected = oath.str2ocrasuite(suite)(secret, Q="12500000012345", T_precomputed=signed["timeStep"])
        assert signed["code"] == expected and len(expected) == 8

        # Asked at the terminal (stdin), in English: the same transfer in the same minute gives the same code.
        asked = token_cli(home, "sign", lang="en_US.UTF-8", stdin="0012345\n1250000\n")
        assert asked.returncode == 0, asked.stdout + asked.stderr
        if int(time.time()) // 60 == signed["timeStep"]:
            assert asked.stdout.strip().endswith(": " + expected), asked.stdout
        assert "1,250,000 yen to account 0012345" in asked.stdout

        # Another payee: another code (in the same minute).
        other = json.loads(token_cli(home, "sign", "--account", "0012346", "--amount", "1250000", "--json").stdout)
        if other["timeStep"] == signed["timeStep"]:
            assert other["code"] != signed["code"]
        assert other["code"] == oath.str2ocrasuite(suite)(secret, Q="12500000012346", T_precomputed=other["timeStep"])

        # Malformed input: a message, exit 1, no code.
        bad = token_cli(home, "sign", "--account", "123-4567", "--amount", "5")
        assert bad.returncode == 1 and "7桁" in bad.stderr and bad.stdout == ""
        bad = token_cli(home, "sign", "--account", "1234567", "--amount", "05")
        assert bad.returncode == 1 and "振込金額" in bad.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_counter_and_pin_suite_given_with_suite_moves_its_counter(tmp_path):
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        secret = secrets.token_bytes(20)
        hold(home, tmp_path, "SKTH00000902", secret)
        suite = "OCRA-1:HOTP-SHA512-10:C-QN64-PSHA256"
        ocra = oath.str2ocrasuite(suite)
        for counter in range(3):
            result = token_cli(home, "sign", "--suite", suite, "--pin", "2468", "--account", "7654321", "--amount",
                               "3000", "--json")
            assert result.returncode == 0, result.stdout + result.stderr
            signed = json.loads(result.stdout)
            assert signed["counter"] == counter
            assert signed["code"] == ocra(secret, C=counter, Q="30007654321", P="2468")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_token_without_suite_says_so_in_japanese_and_english(tmp_path):
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        hold(home, tmp_path, "SKTH00000903", secrets.token_bytes(20))
        ja = token_cli(home, "sign", "--account", "1234567", "--amount", "1")
        assert ja.returncode == 1 and "取引認証（OCRA）の設定がありません" in ja.stderr and ja.stdout == ""
        en = token_cli(home, "sign", "--account", "1234567", "--amount", "1", lang="en_US.UTF-8")
        assert en.returncode == 1 and "has no transaction-signing (OCRA) suite" in en.stderr
        # Nothing is asked for a token that cannot sign.
        asked = token_cli(home, "sign", stdin="")
        assert asked.returncode == 1 and "振込先" not in asked.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)


def signing_server(signing):
    """`ichigo serve` with transaction signing `off` or `required` (ICHIGO_TRANSFER_SIGNING)."""
    from conftest import Server, free_port
    return Server(tempfile.mkdtemp(prefix="ichigo-e2e-"), free_port(), extra_env={"ICHIGO_TRANSFER_SIGNING": signing})


def set_up_app(server, home, login_id):
    """BOT001–BOT003 for a new customer with two accounts, then `ichigo-token setup` against the server and BOK001 with
    its code; returns the logged-in session."""
    from retail import customer_through_bot003, screen_id, start_use
    session, service_id, app_user_id, _ = customer_through_bot003(
        server, login_id, accounts=(("普通預金", "1111111", 500000), ("貯蓄預金", "2222222", 0)))
    result = token_cli(home, "setup", "--server", server.base, "--service-id", service_id, "--user-id", app_user_id,
                       "--activation-password", "2468", "--agree")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(token_cli(home, "show", "--json").stdout)
    assert screen_id(start_use(server, session, shown["code"])) == "BOK002"
    return session


def test_a_token_set_up_at_a_signing_bank_gets_the_suite_and_its_code_moves_the_money():
    from retail import balances, csrf, screen_id
    import re
    server = signing_server("required")
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        session = set_up_app(server, home, "signer1")
        # The provisioning answer carried the bank's suite: the app signs without --suite.
        listed = token_cli(home, "list", "--json")
        assert "OCRA-1:HOTP-SHA1-6:QN20-T1M" in listed.stdout, listed.stdout
        page = session.get(server.base + "/transfer").text
        page = session.post(server.base + "/transfer", data={
            "_csrf": csrf(page), "account": re.search(r'<option value="([^"]+)"[^>]*>普通預金', page).group(1),
            "payeeBank": "9999", "payeeBranch": "001", "payeeAccount": "2222222", "payeeName": "タカハシ ジロウ",
            "amount": "12345"}).text
        assert screen_id(page) == "BFK002", page
        assert re.search(r'id="sign-challenge-text">(\d+)<', page).group(1) == "123452222222"
        signed = token_cli(home, "sign", "--account", "2222222", "--amount", "12,345", "--json")
        assert signed.returncode == 0, signed.stdout + signed.stderr
        code = json.loads(signed.stdout)["code"]
        assert len(code) == 6
        page = session.post(server.base + "/transfer/confirm", data={
            "_csrf": csrf(page), "confirmationPassword": "kakunin1", "signature": code,
            "transferID": re.search(r'name="transferID" value="([^"]+)"', page).group(1)}).text
        assert screen_id(page) == "BFK003", page
        assert balances(server, session) == {"1111111": 500000 - 12345, "2222222": 12345}
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(server.data_dir, ignore_errors=True)


def test_a_token_set_up_with_the_policy_off_has_no_suite():
    server = signing_server("off")
    home = tempfile.mkdtemp(prefix="ichigo-token-")
    try:
        set_up_app(server, home, "signer2")
        refused = token_cli(home, "sign", "--account", "2222222", "--amount", "1")
        assert refused.returncode == 1 and "取引認証（OCRA）の設定がありません" in refused.stderr
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(server.data_dir, ignore_errors=True)
