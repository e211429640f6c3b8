"""The WebAuthn fixture Tests/WebAuthnTests/Fixtures/cases.json really holds py_webauthn's verdicts: every case is
verified again here with the `webauthn` package (3.0.1) and must get the verdict the file records, and
scripts/make-webauthn-cases, run again, writes exactly the committed bytes. (WebAuthnTests checks Ichigo's verdict
against every case in the file.)"""
import base64
import json
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
import fido2  # noqa: F401  -- the script needs it; a missing package must fail here, not be skipped
import webauthn
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "make-webauthn-cases")
FIXTURE = os.path.join(ROOT, "Tests", "WebAuthnTests", "Fixtures", "cases.json")
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verdict(case):
    credential = {"id": case["credentialID"], "rawId": case["credentialID"], "type": "public-key"}
    try:
        if case["kind"] == "registration":
            roots = [x509.load_der_x509_certificate(unb64(root)).public_bytes(serialization.Encoding.PEM)
                     for root in case.get("trustedRoots", [])]
            credential["response"] = {"clientDataJSON": case["clientDataJSON"],
                                      "attestationObject": case["attestationObject"]}
            webauthn.verify_registration_response(
                credential=credential, expected_challenge=unb64(case["challenge"]), expected_rp_id=case["rpID"],
                expected_origin=case["origins"], require_user_verification=True, supported_pub_key_algs=ALGORITHMS,
                pem_root_certs_bytes_by_fmt={"packed": roots} if roots else None)
        else:
            credential["response"] = {"clientDataJSON": case["clientDataJSON"],
                                      "authenticatorData": case["authenticatorData"], "signature": case["signature"]}
            webauthn.verify_authentication_response(
                credential=credential, expected_challenge=unb64(case["challenge"]), expected_rp_id=case["rpID"],
                expected_origin=case["origins"], credential_public_key=unb64(case["credentialPublicKey"]),
                credential_current_sign_count=case["storedSignCount"], require_user_verification=True)
        return "accept"
    except Exception:  # noqa: BLE001 -- any exception is py_webauthn refusing
        return "refuse"


def test_every_committed_verdict_is_py_webauthns():
    with open(FIXTURE, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    assert len(cases) >= 3000
    wrong = [(case["id"], case["kind"], case["mutation"], case["pyWebauthn"]) for case in cases
             if verdict(case) != case["pyWebauthn"]]
    assert not wrong, "py_webauthn now answers otherwise on %d cases, e.g. %s" % (len(wrong), wrong[:10])
    verdicts = {case["pyWebauthn"] for case in cases}
    assert verdicts == {"accept", "refuse"}
    # Each recorded disagreement is one (Ichigo's verdict differs from py_webauthn's) and says why.
    assert all(case["ichigo"] != case["pyWebauthn"] and case["why"] for case in cases if "ichigo" in case)


def test_committed_fixture_is_what_the_script_writes(tmp_path):
    out = tmp_path / "cases.json"
    result = subprocess.run([sys.executable, SCRIPT, str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(FIXTURE, "rb") as f:
        committed = f.read()
    assert out.read_bytes() == committed, "the committed WebAuthn fixture differs from what scripts/make-webauthn-cases writes"
