"""The OCRA fixture Tests/OTPTests/Fixtures/OCRA/vectors.json really comes from the independent `oath` package:
scripts/make-ocra-vectors, run again here, writes exactly the committed bytes. (OTPTests checks Ichigo's OCRA against
every case in the file.)"""
import os
import subprocess
import sys

import oath  # noqa: F401  -- the script needs it; a missing package must fail here, not be skipped

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "make-ocra-vectors")
FIXTURE = os.path.join(ROOT, "Tests", "OTPTests", "Fixtures", "OCRA", "vectors.json")


def test_committed_fixture_is_what_oath_writes(tmp_path):
    out = tmp_path / "vectors.json"
    result = subprocess.run([sys.executable, SCRIPT, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    regenerated = out.read_bytes()
    committed = open(FIXTURE, "rb").read()
    assert len(committed) > 500_000
    assert regenerated == committed, "the committed OCRA fixture differs from what scripts/make-ocra-vectors writes"
