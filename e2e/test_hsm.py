"""Key custody in a hardware security module (SoftHSM2 through PKCS #11): with `key.store pkcs11` every key version
is kept in the database only wrapped (RFC 5649) under a sensitive, never-extractable AES-256 key that OpenSC's
pkcs11-tool made in the token; a rotation in the HSM is picked up and re-sealed by a running server; a bank that began
with data/master.key moves into the HSM by a rotation; a wrong PIN, a missing module or key, an extractable key, or a
server configured without the HSM stop the start with the reason.
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


def hsm_env(token):
    return {k: v for k, v in token.items() if k.startswith(("ICHIGO_", "SOFTHSM"))}


def key_versions(data):
    import sqlite3
    db = sqlite3.connect(os.path.join(data, "ichigo.sqlite"))
    try:
        return db.execute("SELECT version, wrapped_by, length(wrapped), retired_at FROM key_versions "
                          "ORDER BY version").fetchall()
    finally:
        db.close()


def verify(server, user, secret):
    status, body = server.api("POST", f"/api/v1/users/{user}/verify", {"code": pyotp.TOTP(secret, interval=60).now()})
    return status == 200 and body.get("result") == "accepted", (status, body)


def test_keys_wrapped_by_the_hsm(token, tmp_path):
    data = str(tmp_path / "data")
    result = ichigo(token, data, "bench-seed", "--users", "3", "--out", str(tmp_path / "seeds.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not os.path.exists(os.path.join(data, "master.key")), "no plain master key with the HSM"
    # The database holds version 1 only wrapped by the HSM (RFC 5649: the version number, 32 bytes and an 8-byte check).
    assert key_versions(data) == [(1, "pkcs11:ichigo/kek", 48, None)]
    objects = subprocess.run(["pkcs11-tool", "--module", MODULE, "--login", "--pin", "135790", "--token-label",
                              "ichigo", "--list-objects"], env=token, capture_output=True, text=True).stdout
    kek = objects[objects.index("label:      kek"):].split("Secret Key Object")[0]
    assert "never extractable" in kek and "sensitive" in kek, kek
    seeds = [line.split() for line in open(tmp_path / "seeds.txt")]
    # Seeds sealed under the unwrapped key open in a server started later, and again after a rotation in the HSM
    # that the running server picks up and re-seals by itself.
    server = Server(data, free_port(), extra_env=dict(hsm_env(token), ICHIGO_KEYS_ACTIVATION_DELAY_MS="1000"))
    try:
        ok, answer = verify(server, *seeds[0])
        assert ok, answer
        result = ichigo(dict(token, ICHIGO_KEYS_ACTIVATION_DELAY_MS="1000"), data, "keys", "rotate", "--wait")
        assert result.returncode == 0 and "key version 2 made in pkcs11:ichigo/kek" in result.stdout, result
        assert "3 of 3 seeds under key version 2" in result.stdout, result.stdout
        ok, answer = verify(server, *seeds[1])
        assert ok, answer
    finally:
        server.stop()
    versions = key_versions(data)
    assert [v[:3] for v in versions] == [(1, "pkcs11:ichigo/kek", 48), (2, "pkcs11:ichigo/kek", 48)], versions
    assert versions[0][3] is not None and versions[1][3] is None, "version 1 retired once nothing used it"
    result = ichigo(token, data, "keys", "check")
    assert result.returncode == 0 and "3 seed(s) open (version 2: 3); 0 do not" in result.stdout, result.stdout
    result = ichigo(token, data, "audit", "verify")
    assert result.returncode == 0 and "audit trail intact" in result.stdout, result.stdout + result.stderr
    # What stops the start, with the reason, and never falls back to a file.
    for change, reason in ((dict(ICHIGO_PKCS11_PIN="000000"), "CKR_PIN_INCORRECT"),
                           (dict(ICHIGO_PKCS11_MODULE="/nonexistent/pkcs11.so"), "cannot load"),
                           (dict(ICHIGO_PKCS11_KEY="missing"), "no secret key labelled missing"),
                           (dict(ICHIGO_PKCS11_KEY="soft"), "extractable"),
                           (dict(ICHIGO_KEY_STORE="file"), "wrapped by pkcs11:ichigo/kek, a key store not configured here")):
        result = ichigo(dict(token, **change), data, "migrate")
        assert result.returncode != 0 and reason in result.stdout + result.stderr, (change, result.stderr)
    assert not os.path.exists(os.path.join(data, "master.key")), "the file store made no key in passing"


def test_moving_from_the_key_file_into_the_hsm(token, tmp_path):
    """A bank that began with data/master.key moves into the HSM while serving: the server is restarted with the HSM
    configured (the file still beside it), `keys rotate` re-wraps every version under the HSM and makes a new one, the
    server re-seals, the file is deleted, and everything still opens and verifies."""
    data = str(tmp_path / "data")
    file_env = {k: v for k, v in token.items() if not k.startswith("ICHIGO_")}
    result = ichigo(file_env, data, "bench-seed", "--users", "4", "--out", str(tmp_path / "seeds.txt"))
    assert result.returncode == 0, result.stderr
    assert os.path.exists(os.path.join(data, "master.key"))
    assert key_versions(data) == [(1, "master-key", 32, None)]  # no key: a 32-byte check value of the file's key
    seeds = [line.split() for line in open(tmp_path / "seeds.txt")]
    env = dict(hsm_env(token), ICHIGO_KEYS_ACTIVATION_DELAY_MS="1000")
    server = Server(data, free_port(), extra_env=env)
    try:
        ok, answer = verify(server, *seeds[0])
        assert ok, answer
        result = ichigo(dict(token, ICHIGO_KEYS_ACTIVATION_DELAY_MS="1000"), data, "keys", "rotate", "--wait")
        assert result.returncode == 0 and "4 of 4 seeds under key version 2" in result.stdout, result
        ok, answer = verify(server, *seeds[1])
        assert ok, answer
    finally:
        server.stop()
    versions = key_versions(data)
    assert [v[:3] for v in versions] == [(1, "pkcs11:ichigo/kek", 48), (2, "pkcs11:ichigo/kek", 48)], versions
    result = ichigo(token, data, "keys", "status")
    assert "no longer needed" in result.stderr, result.stderr
    os.remove(os.path.join(data, "master.key"))
    server = Server(data, free_port(), extra_env=hsm_env(token))
    try:
        for user, secret in seeds[2:]:
            ok, answer = verify(server, user, secret)
            assert ok, answer
    finally:
        server.stop()
    result = ichigo(token, data, "audit", "verify")
    assert result.returncode == 0 and "audit trail intact" in result.stdout, result.stdout + result.stderr
    # The file store alone can no longer open this database.
    result = ichigo(file_env, data, "migrate")
    assert result.returncode != 0 and "not configured here" in result.stderr, result.stderr
