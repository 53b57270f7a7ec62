"""The unpacked handout as students on Windows and macOS run it, simulated here (tests/platforms/).

Each simulation is a sitecustomize on PYTHONPATH, loaded in the grader and
in every worker it starts, that takes away what that system lacks (Windows:
fork, sessions, descriptor passing, resource, fcntl, pwd, user ids; macOS:
/proc, prctl, pidfd, os.waitid, and the user is not root). The grader must
choose the portable backend by itself, and `python -m autograder` and
`python -m pytest` must give the right score, with no traceback and no
temporary folder left over.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import load_assignment
from autograder.fixtures import load_cases
from autograder.package import handout_files, handout_split
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT, SUBMISSIONS, handout_checks

SIMULATIONS = Path(__file__).resolve().parent / "platforms"
STUDENT_FILE = Path("mytorch/nn/activation.py")
HANGS = "class Softmax:\n    def forward(self, Z):\n        while True:\n            pass\n\n" \
        "    def backward(self, dLdA):\n        while True:\n            pass\n"
VISIBLE_POINTS = sum(handout_checks().values())  # the handout's tests: the visible ones of the whole assignment
SUBMISSION_SCORES = {  # what each gets on the visible tests
    "correct": ((PROJECT / "reference" / STUDENT_FILE).read_text(), VISIBLE_POINTS),
    "template": ((PROJECT / "student_template" / STUDENT_FILE).read_text(), 0),
    "hangs": (HANGS, 0),
    "syntax_error": ((SUBMISSIONS / "syntax_error.py").read_text(), 0),
}
HANG_BUDGET = 4.0  # seconds: the handout's budget in this test, so that a hanging submission costs little here


@pytest.fixture(scope="module")
def handout_files_once() -> dict:
    assignment = load_assignment(DEFAULT_CONFIG)
    return handout_files(assignment, *handout_split(assignment, load_cases(DEFAULT_FIXTURES)))


def unpack(files: dict, folder: Path, student_code: str) -> Path:
    for name, (content, mode) in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        os.chmod(folder / name, mode)
    (folder / STUDENT_FILE).write_text(student_code)
    for fixture in (folder / "test_cases").glob("*.yaml"):  # a smaller budget: the hang costs seconds, not 30
        fixture.write_text(re.sub(r"budget: [0-9.]+", f"budget: {HANG_BUDGET}", fixture.read_text()))
    return folder


def run(folder: Path, platform: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SIMULATIONS / platform), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    env.pop("AUTOGRADER_SANDBOX", None)
    return subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("platform", ["windows", "macos"])
@pytest.mark.parametrize("submission", list(SUBMISSION_SCORES))
def test_the_handout_grades_right_on_a_simulated_laptop(handout_files_once, tmp_path, platform, submission):
    code, score = SUBMISSION_SCORES[submission]
    folder = unpack(handout_files_once, tmp_path / "hw1", code)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    graded = run(folder, platform, tmp, "-m", "autograder")
    assert graded.returncode == 0, graded.stderr
    assert graded.stdout.rstrip().splitlines()[-1] == f"Total: {score:g}/{VISIBLE_POINTS:g}", graded.stdout[-2000:]
    tested = run(folder, platform, tmp, "-m", "pytest", "-q")
    assert tested.returncode == (0 if score == VISIBLE_POINTS else 1), tested.stdout[-3000:]
    assert f"Total: {score:g}/{VISIBLE_POINTS:g} (the tests that ran)" in tested.stdout
    for proc in (graded, tested):
        assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr  # the grader's own
        assert "please report it" not in proc.stdout + proc.stderr
    assert list(tmp.iterdir()) == []  # no temporary folder outlives a run


@pytest.mark.parametrize("platform", ["windows", "macos"])
def test_the_simulation_takes_away_what_the_system_lacks(platform, tmp_path):
    """A test of the test: under each simulation, the hardened backend is not available and portable is chosen."""
    probe = ("from autograder.sandbox.choose import choose, hardened_missing\n"
             "print(choose(), '|', ', '.join(hardened_missing()))")
    proc = run(PROJECT, platform, tmp_path, "-c", probe)
    chosen, missing = proc.stdout.strip().split(" | ")
    assert chosen == "portable"
    expected = {"windows": ["os.fork", "the resource module", "the pwd module", "the fcntl module"],
                "macos": ["os.waitid", "/proc", "prctl"]}[platform]
    assert all(item in missing for item in expected), missing
