"""`ichigo tokens import` against PSKC files written by the independent python-pskc package: both encryption
kinds import and their seeds verify (codes by pyotp); a wrong key, a tampered MAC, a duplicate serial and a
malformed file each import nothing."""
import base64
import os
import secrets
import subprocess

import pskc
import pyotp

from conftest import ROOT

MAKE = os.path.join(ROOT, "scripts", "make-pskc")


def count(server):
    listing = server.cli("tokens", "list", "--kind", "hardware", "--limit", "10000").stdout
    return sum(1 for line in listing.splitlines() if line.startswith("SKTH"))


def check_seed_verifies(server, serial, seed_hex, login):
    """Hands the token to a retail customer and activates it with pyotp's code from the vendor's seed."""
    status, user = server.api("POST", "/api/v1/users", {"loginId": login, "name": "テスト"})
    assert status == 201, user
    assigned = server.cli("tokens", "assign", serial, login)
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    totp = pyotp.TOTP(base64.b32encode(bytes.fromhex(seed_hex)).decode(), interval=60)
    status, reply = server.api("POST", f"/api/v1/users/{user['id']}/token/activate", {"code": totp.now()})
    assert status == 200, reply


def test_preshared_key_and_pbkdf2_files_import_and_verify(server, tmp_path):
    psk_file, psk_key, psk_seeds = tmp_path / "a.xml", tmp_path / "a.key", tmp_path / "a.seeds"
    subprocess.run([MAKE, "--count", "20", "--first-serial", "1", "--out", str(psk_file), "--psk-file", str(psk_key),
                    "--seeds-out", str(psk_seeds)], check=True)
    result = server.cli("tokens", "import", str(psk_file), "--key-file", str(psk_key))
    assert result.returncode == 0 and "imported 20 hardware tokens" in result.stdout, result.stdout + result.stderr
    serial, seed = psk_seeds.read_text().splitlines()[3].split()
    check_seed_verifies(server, serial, seed, "pskuser")

    password, pb_file, pb_seeds = tmp_path / "pw", tmp_path / "b.xml", tmp_path / "b.seeds"
    password.write_text("vendor-password-2026")
    subprocess.run([MAKE, "--count", "5", "--first-serial", "100", "--out", str(pb_file), "--password-file",
                    str(password), "--iterations", "2000", "--seeds-out", str(pb_seeds)], check=True)
    # The password comes from the environment here (never from an argument).
    env = dict(server.env, ICHIGO_PSKC_PASSWORD="vendor-password-2026")
    result = subprocess.run([server_binary(), "tokens", "import", str(pb_file)], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "imported 5 hardware tokens" in result.stdout, result.stdout + result.stderr
    serial, seed = pb_seeds.read_text().splitlines()[-1].split()
    check_seed_verifies(server, serial, seed, "pbuser")
    assert count(server) == 25
    # The seed is nowhere in the database file in clear.
    database = open(os.path.join(server.data_dir, "ichigo.sqlite"), "rb").read()
    assert bytes.fromhex(seed) not in database


def server_binary():
    from conftest import BINARY
    return BINARY


def test_bad_files_import_nothing(server, tmp_path):
    good, key, seeds = tmp_path / "good.xml", tmp_path / "good.key", tmp_path / "good.seeds"
    subprocess.run([MAKE, "--count", "10", "--first-serial", "300", "--out", str(good), "--psk-file", str(key),
                    "--seeds-out", str(seeds)], check=True)

    def refused(path, *extra):
        result = server.cli("tokens", "import", str(path), *extra)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "nothing imported" in result.stdout, result.stdout
        assert count(server) == 0
        return result.stdout

    # A wrong key.
    wrong = tmp_path / "wrong.key"
    wrong.write_text(secrets.token_bytes(16).hex())
    refused(good, "--key-file", str(wrong))
    # A tampered MAC in the seventh key package: reported with its position.
    text = good.read_text()
    macs = [i for i in range(len(text)) if text.startswith("<pskc:ValueMAC>", i)]
    start = macs[6] + len("<pskc:ValueMAC>")
    flipped = "B" if text[start] != "B" else "C"
    tampered = tmp_path / "tampered.xml"
    tampered.write_text(text[:start] + flipped + text[start + 1:])
    assert "key package 7" in refused(tampered, "--key-file", str(key))
    # A duplicate serial inside one file.
    container = pskc.PSKC()
    for serial in ("SKTH00000900", "SKTH00000901", "SKTH00000900"):
        container.add_key(secret=secrets.token_bytes(20), serial=serial,
                          algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp", response_length=6, time_interval=60)
    container.encryption.setup_preshared_key(key=bytes.fromhex(key.read_text().strip()))
    duplicate = tmp_path / "duplicate.xml"
    container.write(str(duplicate))
    assert "key package 3" in refused(duplicate, "--key-file", str(key))
    # A malformed (truncated) file.
    malformed = tmp_path / "malformed.xml"
    malformed.write_text(text[: len(text) // 2])
    refused(malformed, "--key-file", str(key))
    # The good file imports, once; a second import of the same serials changes nothing.
    result = server.cli("tokens", "import", str(good), "--key-file", str(key))
    assert result.returncode == 0, result.stdout
    assert count(server) == 10
    again = server.cli("tokens", "import", str(good), "--key-file", str(key))
    assert again.returncode == 1 and "already in the database" in again.stdout
    assert count(server) == 10


def test_ichigo_token_holds_a_hardware_token_like_the_key_fob(server, tmp_path):
    """`ichigo-token hardware add` reads the vendor's file; its code is pyotp's and starts the token at the bank."""
    import json
    import time
    from test_soft_token import token_cli
    batch, key, seeds = tmp_path / "fob.xml", tmp_path / "fob.key", tmp_path / "fob.seeds"
    subprocess.run([MAKE, "--count", "3", "--first-serial", "700", "--out", str(batch), "--psk-file", str(key),
                    "--seeds-out", str(seeds)], check=True)
    assert server.cli("tokens", "import", str(batch), "--key-file", str(key)).returncode == 0
    home = str(tmp_path / "home")
    os.makedirs(home)
    token_cli(home, "hardware", "add", str(batch), "--serial", "SKTH00000701", "--key-file", str(key))
    refused = token_cli(home, "hardware", "add", str(batch), "--serial", "SKTH00000701", "--key-file",
                        str(tmp_path / "fob.seeds"), check=False)
    assert refused.returncode != 0
    shown = json.loads(token_cli(home, "show", "--serial", "SKTH00000701", "--json").stdout)
    seed = dict(line.split() for line in seeds.read_text().splitlines())["SKTH00000701"]
    expected = pyotp.TOTP(base64.b32encode(bytes.fromhex(seed)).decode(), interval=60)
    assert shown["code"] in {expected.at(time.time() - 2), expected.at(time.time())}
    check_seed_verifies(server, "SKTH00000701", seed, "fobuser")
