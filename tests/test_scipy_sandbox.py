"""SciPy, an extra package examples/hw1p1 lets students import (`packages:` in its config), works in the sandbox.

A GELU that uses `from scipy.special import erf` (no fallback) gets full marks in both sandboxes: the hardened
one (as root: student code runs as the unprivileged account, which must be able to load SciPy's compiled
modules) and the portable one. Skipped where SciPy is not importable: the suite's own environment
(tests/requirements.txt) does not install it, so that the Softmax assignment stays as light as it is. To run
it, use a separate environment with SciPy, as the README says ("Testing").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import load_assignment
from autograder.fixtures import load_cases
from autograder.grade import check_name
from helpers import TEST_ACCOUNT

pytest.importorskip("scipy.special", reason="SciPy is not installed (see README, Testing: SciPy in the sandbox)")

PROJECT = Path(__file__).resolve().parent.parent
HW = PROJECT / "examples" / "hw1p1"
ASSIGNMENT = load_assignment(HW / "assignment.yaml")
FALLBACK = '''try:
    from scipy.special import erf
except ImportError:  # the same function, one number at a time
    erf = np.vectorize(math.erf, otypes=[float])
'''
SCIPY_ONLY = "from scipy.special import erf  # SciPy's or nothing: an ImportError would fail every activation\n"


def scipy_submission(tmp_path: Path) -> Path:
    """The reference, with a GELU that imports SciPy's erf and has no fallback."""
    folder = tmp_path / "submission"
    shutil.copytree(HW / ASSIGNMENT.reference, folder, ignore=shutil.ignore_patterns("__pycache__"))
    activation = folder / "mytorch" / "nn" / "activation.py"
    text = activation.read_text(encoding="utf-8")
    assert text.count(FALLBACK) == 1
    activation.write_text(text.replace(FALLBACK, SCIPY_ONLY), encoding="utf-8")
    return folder


def gelu_checks() -> set[str]:
    return {check_name(case, check) for case in load_cases(HW / "test_cases") if case.problem.name == "gelu"
            for check in case.checks}


def account_can_import_scipy(account: str) -> bool:
    """Whether the sandbox's account can import SciPy with this Python (setup.sh checks the same for NumPy): not
    when the Python lives under a folder only root reads, such as a pyenv Python in /root."""
    runuser = shutil.which("runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    proc = subprocess.run([runuser or "runuser", "-u", account, "--", sys.executable, "-c", "import scipy.special"],
                          capture_output=True, cwd="/")
    return proc.returncode == 0


@pytest.mark.parametrize("backend", ["hardened", "portable"])
def test_a_gelu_using_scipy_erf_gets_full_marks_in_the_sandbox(tmp_path, backend, sandbox_account):
    """Graded by the CLI in a fresh process, as on Gradescope: nothing SciPy imports is loaded beforehand."""
    if backend == "hardened" and sys.platform != "linux":
        pytest.skip("the hardened sandbox is Linux's")
    if backend == "hardened" and sandbox_account is not None and not account_can_import_scipy(TEST_ACCOUNT):
        pytest.skip(f"the account {TEST_ACCOUNT} cannot import SciPy with {sys.executable} (a Python under /root?); "
                    "make the environment from /usr/bin/python3 (README, Testing)")
    results = tmp_path / "results.json"
    env = dict(os.environ, AUTOGRADER_SANDBOX_USER=TEST_ACCOUNT)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(scipy_submission(tmp_path)),
                           "--assignment", str(HW), "--sandbox", backend, "--results", str(results), "--quiet"],
                          capture_output=True, text=True, timeout=600, cwd=PROJECT, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(results.read_text())
    tests = {t["name"]: t for t in document["tests"]}
    assert gelu_checks() <= set(tests) and gelu_checks()
    failed = {name: t["output"] for name, t in tests.items() if t["status"] != "passed"}
    assert not failed, failed
    assert document["score"] == sum(t["max_score"] for t in document["tests"])
