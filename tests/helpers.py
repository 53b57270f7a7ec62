"""Shared helpers for the test suite: build a Gradescope-like AUTOGRADER_ROOT and run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SOURCE_PARTS = ("autograder", "test_cases", "requirements.txt", "run_autograder", "setup.sh")
TEST_ACCOUNT = "autograder-sbx-test"  # the account student code runs as in tests, as root (conftest.sandbox_account)


def _pinned(package: str) -> str:
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1].strip()
    raise LookupError(package)


# The committed fixtures and golden files were made with the pinned NumPy. Another version (1.26
# is supported) may round exp() and sums differently in the last bits: byte-for-byte comparisons
# with committed files hold only on the pinned version; elsewhere they compare up to rounding.
PINNED_NUMPY = _pinned("numpy")
ON_PINNED_NUMPY = __import__("numpy").__version__ == PINNED_NUMPY


def make_root(tmp: Path, submission: Path, *, place: str = "mytorch/nn/activation.py") -> Path:
    """A fresh AUTOGRADER_ROOT: source/ (a copy of the grader), submission/, results/.

    `submission` is a folder (copied as is) or a single .py file (copied to `place`).
    """
    root = tmp / "autograder"
    source = root / "source"
    source.mkdir(parents=True)
    for part in SOURCE_PARTS:
        src = PROJECT / part
        if src.is_dir():
            shutil.copytree(src, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, source / part)
    target = root / "submission"
    if submission.is_dir():
        shutil.copytree(submission, target)
    else:
        (target / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(submission, target / place)
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, *, timeout: float = 120) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """Run run_autograder with AUTOGRADER_ROOT=root; return the parsed results and the process."""
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=timeout)
    results = json.loads((root / "results" / "results.json").read_text())
    return results, proc


def grade_file(tmp: Path, submission: Path, **kwargs: Any) -> dict[str, Any]:
    """Grade one submission end to end through run_autograder; return the results document."""
    root = make_root(tmp, submission, **kwargs)
    results, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    return results


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tests of a results document keyed by name."""
    return {t["name"]: t for t in results["tests"]}


def failed_names(results: dict[str, Any]) -> set[str]:
    return {t["name"] for t in results["tests"] if t["status"] == "failed"}
