"""A student's wrong environment is one line that names the fix, never a traceback (autograder/preflight.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder import preflight
from helpers import PROJECT

def _bare_pythons() -> list[Path]:
    """Pythons 3.10+ on this machine that cannot import numpy (pyenv's, the system's); none where unreadable."""
    candidates = [Path("/usr/bin/python3")]
    try:
        candidates += sorted(Path("/root/.pyenv/versions").glob("3.1[0-3]*/bin/python"))
    except OSError:  # not root: pyenv's folder is root's alone
        pass
    found = []
    for python in candidates:
        try:
            check = subprocess.run([str(python), "-c", "import sys, numpy; assert sys.version_info >= (3, 10)"],
                                   capture_output=True)
        except OSError:
            continue
        if check.returncode != 0 and b"No module named 'numpy'" in check.stderr:
            found.append(python)
    return found


BARE_PYTHONS = _bare_pythons()


def test_a_python_older_than_3_10_is_told_to_use_a_newer_one(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    line = preflight.problem()
    assert line is not None and "3.9.18" in line and "needs Python 3.10 or newer" in line and "\n" not in line


def test_a_missing_package_next_to_a_virtual_environment_is_told_to_activate_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".venv").mkdir()
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)  # not in a virtual environment
    monkeypatch.setitem(sys.modules, "gradescope_utils", None)  # `import gradescope_utils` fails
    line = preflight.problem()
    assert line is not None and line.startswith("gradescope-utils is not installed for this Python")
    assert "activate the virtual environment with `source .venv/bin/activate`" in line


def test_a_missing_pyyaml_is_found_out_without_importing_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "yaml", None)  # not installed, as far as the import system can tell
    line = preflight.problem()
    assert line is not None and line.startswith("pyyaml is not installed for this Python")


def test_nothing_is_said_when_all_is_there():
    assert preflight.problem() is None


@pytest.mark.skipif(not BARE_PYTHONS, reason="needs a Python 3.10+ without numpy (pyenv's)")
def test_the_wrong_interpreter_gets_one_line_from_both_commands(tmp_path):
    (tmp_path / "autograder").symlink_to(PROJECT / "autograder")
    (tmp_path / "conftest.py").write_text("from autograder.preflight import problem\n\nif problem() is None:\n"
                                          "    pytest_plugins = ['autograder.local_pytest']\n")
    proc = subprocess.run([str(BARE_PYTHONS[0]), "-m", "autograder"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: numpy is not installed for this Python") and proc.stderr.count("\n") == 1
    assert "python -m pip install -r requirements.txt" in proc.stderr
