"""One suite over every sandbox backend: the same submission gets the same scores and messages from each.

The hardened backend is Gradescope's; the portable one is students' (and the
only one on Windows and macOS). Both are run here on Linux, as root: the
portable backend forced, as `--sandbox portable` does. Honest styles, the
catalogue's mistakes and broken submissions must be graded identically,
check by check (timings aside); hangs, crashes, floods and exits are then
checked on each backend for what they must say.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.limits import Limits
from autograder.results import GradingResult
import helpers
from helpers import PROJECT, SOFTMAX, SUBMISSIONS, problem_points

BACKENDS = ("hardened", "portable")
HOSTILE = SUBMISSIONS / "hostile"
# limits that make a hang cost seconds; every honest submission here takes milliseconds
QUICK = Limits(call_timeout=1.0, call_multiple=1.0, import_timeout=3.0, budget=5.0)
SAME_EVERYWHERE = sorted(
    [p for p in SUBMISSIONS.glob("*.py")] + [p for p in (SUBMISSIONS / "mistakes").glob("*.py")]
    + [PROJECT / "reference", PROJECT / "student_template", SUBMISSIONS / "demo"]
    + [HOSTILE / name for name in ("floods_output.py", "segfaults.py", "exits_at_import.py", "prints_json.py",
                                   "unsafe_text.py", "slow_but_correct.py")],
    key=str)


@functools.lru_cache(maxsize=None)
def grade(path: Path, backend: str, quick: bool = False) -> GradingResult:
    """On the Softmax checks: every submission here is a Softmax layer."""
    return helpers.grade(path, problem=SOFTMAX, sandbox_backend=backend, limits=QUICK if quick else None)


# Python's warnings printed by student code: a worker forked inside a pytest test inherits pytest's
# warning recorder and prints none (local_pytest.py grades outside it for that reason), a started one
# prints them. Graded from the command line, both print them (test_cli_output_is_the_same).
WARNING_LINES = re.compile(r"^.*Warning: .*\n(?:  .*\n)?", re.MULTILINE)


def shown(result: GradingResult) -> list[tuple[str, float, str, str]]:
    """Each check as the student reads it: name, score, message, output; times (which vary) left out."""
    def steady(text: str) -> str:
        return re.sub(r"\d+(\.\d+)? (ms|s)\b|about \d+ times", "#", text)
    # a hidden test shows only whether there was output, so a warning alone makes it differ: visible ones compared
    return [(c.name, c.score, steady(c.message), WARNING_LINES.sub("", c.output) if c.visibility == "visible" else "")
            for c in result.checks if c.max_score > 0]  # the efficiency note is a timing: it varies run to run


@pytest.mark.parametrize("path", SAME_EVERYWHERE, ids=lambda p: p.stem)
def test_every_backend_grades_alike(path):
    hardened, portable = (grade(path, backend) for backend in BACKENDS)
    assert hardened.score == portable.score
    assert shown(hardened) == shown(portable)


@pytest.mark.parametrize("backend", BACKENDS)
def test_honest_styles_keep_full_marks(backend):
    for name in ("loops_full_jacobian", "einsum", "logsumexp", "debug_prints", "keeps_state", "float32"):
        result = grade(SUBMISSIONS / f"{name}.py", backend)
        assert result.score == result.max_score == problem_points(SOFTMAX), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hang_in_every_method_fails_every_test_within_the_budget(backend, tmp_path):
    (tmp_path / "activation.py").write_text("class Softmax:\n    def forward(self, Z):\n        while True:\n"
                                            "            pass\n\n    def backward(self, dLdA):\n"
                                            "        while True:\n            pass\n")
    result = grade(tmp_path / "activation.py", backend, quick=True)
    assert result.score == 0
    assert result.execution_time < QUICK.budget + 2
    graded = [c for c in result.checks if c.max_score > 0]
    assert "did not return within its time limit" in graded[0].message
    assert all("time limit" in c.message or "time budget" in c.message for c in graded)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hang_in_backward_costs_backward_only(backend):
    result = grade(HOSTILE / "hangs_in_backward.py", backend, quick=True)
    forward = [c for c in result.checks if c.method == "forward"]
    backward = [c for c in result.checks if c.method == "backward" and c.max_score > 0]
    assert forward[0].passed and "time limit" in backward[0].message
    assert not any(c.passed for c in backward)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hang_at_import_fails_every_test_once(backend):
    result = grade(HOSTILE / "hangs_at_import.py", backend, quick=True)
    assert result.score == 0 and result.execution_time < QUICK.import_timeout + 3
    assert "Importing your file took longer than 3 s" in result.checks[0].message


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_crash_is_named_and_costs_that_method_only(backend):
    result = grade(HOSTILE / "segfaults.py", backend)
    backward = next(c for c in result.checks if c.method == "backward")
    assert "segmentation fault (SIGSEGV)" in backward.message
    assert all(c.passed for c in result.checks if c.method == "forward")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_flood_of_output_is_cut_and_the_answers_count(backend):
    result = grade(HOSTILE / "floods_output.py", backend)
    assert result.score == result.max_score
    first = result.checks[0].output
    assert "bytes of output cut" in first and len(first) < 5000 and "\x1b" not in first


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_exit_at_import_or_in_a_call_is_said(backend, tmp_path):
    result = grade(HOSTILE / "exits_at_import.py", backend)
    assert result.score == 0 and "exit" in result.checks[0].message.lower()
    (tmp_path / "activation.py").write_text(
        "import os\nimport numpy as np\n\nclass Softmax:\n    def forward(self, Z):\n"
        "        e = np.exp(Z - Z.max(axis=1, keepdims=True))\n        return e / e.sum(axis=1, keepdims=True)\n\n"
        "    def backward(self, dLdA):\n        os._exit(3)\n")
    exits = grade(tmp_path / "activation.py", backend)
    backward = next(c for c in exits.checks if c.method == "backward")
    assert "exited with status 3" in backward.message
    assert all(c.passed for c in exits.checks if c.method == "forward")


@pytest.mark.parametrize("name", ["demo", "floods_output.py"])
def test_cli_output_is_the_same(name, tmp_path):
    """The whole report of `python -m autograder grade`, warnings included, from either backend."""
    path = SUBMISSIONS / name if (SUBMISSIONS / name).exists() else HOSTILE / name
    reports = []
    for backend in BACKENDS:
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--sandbox", backend],
                              cwd=PROJECT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        reports.append(re.sub(r"\d+(\.\d+)? ms|about \d+ times", "#", proc.stdout))
    assert reports[0] == reports[1]
