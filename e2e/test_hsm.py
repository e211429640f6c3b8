"""The master key in a hardware security module (SoftHSM2 through PKCS #11): `ichigo` with `key.store pkcs11` keeps
the master key only wrapped (RFC 5649) under a sensitive, never-extractable AES-256 key that OpenSC's pkcs11-tool made
in the token; seeds sealed before a restart open after it; a wrong PIN, a missing module or key, an extractable key and
a plain master.key beside the HSM stop the start with the reason.
"""
import os
import shutil
import subprocess
import tempfile

import pyotp
import pytest

from conftest import BINARY, Server, free_port

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
pytestmark = pytest.mark.skipif(not (os.path.exists(MODULE) and shutil.which("pkcs11-tool")),
                                reason="softhsm2 and opensc are not installed")


@pytest.fixture
def token(tmp_path):
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "ichigo", "--pin", "135790",
                    "--so-pin", "864200"], env=env, check=True, capture_output=True)

    def keygen(label, *extra):
        subprocess.run(["pkcs11-tool", "--module", MODULE, "--login", "--pin", "135790", "--token-label", "ichigo",
                        "--keygen", "--key-type", "AES:32", "--label", label, *extra], env=env, check=True,
                       capture_output=True)

    keygen("kek", "--sensitive")
    keygen("soft", "--sensitive", "--extractable")
    env.update(ICHIGO_KEY_STORE="pkcs11", ICHIGO_PKCS11_MODULE=MODULE, ICHIGO_PKCS11_TOKEN="ichigo",
               ICHIGO_PKCS11_KEY="kek", ICHIGO_PKCS11_PIN="135790")
    return env


def ichigo(env, data, *args):
    return subprocess.run([BINARY, *args], env=dict(env, ICHIGO_DATA_DIRECTORY=data), capture_output=True, text=True,
                          timeout=120)


def test_master_key_wrapped_by_the_hsm(token, tmp_path):
    data = str(tmp_path / "data")
    result = ichigo(token, data, "bench-seed", "--users", "3", "--out", str(tmp_path / "seeds.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not os.path.exists(os.path.join(data, "master.key")), "no plain master key with the HSM"
    wrapped = open(os.path.join(data, "master.key.wrapped")).read().strip()
    assert len(wrapped) == 56  # base64 of 40 bytes: 32 wrapped and the RFC 5649 check
    objects = subprocess.run(["pkcs11-tool", "--module", MODULE, "--login", "--pin", "135790", "--token-label",
                              "ichigo", "--list-objects"], env=token, capture_output=True, text=True).stdout
    kek = objects[objects.index("label:      kek"):].split("Secret Key Object")[0]
    assert "never extractable" in kek and "sensitive" in kek, kek
    seeds = [line.split() for line in open(tmp_path / "seeds.txt")]
    # Seeds sealed under the unwrapped key open in a server started later, and again after a restart.
    for attempt in range(2):
        server = Server(data, free_port(), extra_env={k: v for k, v in token.items() if k.startswith(("ICHIGO_", "SOFTHSM"))})
        try:
            user, secret = seeds[attempt]
            status, body = server.api("POST", f"/api/v1/users/{user}/verify",
                                      {"code": pyotp.TOTP(secret, interval=60).now()})
            assert status == 200 and body.get("accepted") is not False, (status, body)
        finally:
            server.stop()
    # What stops the start, with the reason, and never falls back to a file.
    for change, reason in ((dict(ICHIGO_PKCS11_PIN="000000"), "CKR_PIN_INCORRECT"),
                           (dict(ICHIGO_PKCS11_MODULE="/nonexistent/pkcs11.so"), "cannot load"),
                           (dict(ICHIGO_PKCS11_KEY="missing"), "no secret key labelled missing"),
                           (dict(ICHIGO_PKCS11_KEY="soft"), "extractable"),
                           (dict(ICHIGO_PKCS11_KEY="other-kek-that-is-not-there"), "no secret key")):
        result = ichigo(dict(token, **change), data, "migrate")
        assert result.returncode != 0 and reason in result.stdout + result.stderr, (change, result.stderr)
    with open(os.path.join(data, "master.key"), "w") as f:
        f.write("x" * 44)
    result = ichigo(token, data, "migrate")
    assert result.returncode != 0 and "plain master key" in result.stderr, result.stderr
