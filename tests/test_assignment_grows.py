"""Adding a problem to an assignment breaks no unrelated test: the tests follow the assignment they are given.

A copy of the repository gets a ReLU problem beside Softmax in the root assignment (test_problems.RELU_*,
added as an instructor would, then `generate`), and another one in examples/hw1p1; test files that grade
the Softmax examples, count checks or compare golden results are then run in the copy, and must pass there
as they do here. A test that hard-codes the root assignment's checks or totals, or grades a Softmax file on
every problem, fails this one (issue 11: "adding a problem to an assignment breaks no unrelated test").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PROJECT
from test_problems import RELU, RELU_CASES, RELU_PROBLEM, RELU_REFERENCE, RELU_STUB, SUFFIX, add_relu, cli

HW = Path("examples") / "hw1p1"
# Run in the copy: a handful of the files that broke when a problem was added, quick ones or their quick tests
# (-k leaves out what is slow and proves nothing more here: handouts, packaging, audits, the sandbox's limits).
RUNS = {
    "root": (["tests/test_golden.py", "tests/test_styles.py", "tests/test_feedback.py", "tests/test_end_to_end.py",
              "tests/test_fixtures.py", "tests/test_reference.py", "tests/test_config.py", "tests/test_problems.py"],
             "not handout and not package and not audit"),
    "hw1p1": (["tests/test_hw1p1.py"], "styles or fixtures_are or full_marks or missing_models or class_missing"),
}

def copy_repository(dest: Path) -> Path:
    """The repository's files as a fresh clone has them (no Git data, virtual environment or caches)."""
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".hypothesis", "*.pyc"))
    return dest


def add_to_hw1p1(root: Path) -> str:
    """The same ReLU, under other names (hw1p1 has a ReLU of its own), added to examples/hw1p1; its name."""
    from autograder.config import load_assignment
    from helpers import add_problem

    taken = load_assignment(root / HW / "assignment.yaml").problems
    suffix = next(s for s in ("_extra", "_extra2", "_extra3") if f"relu{s}" not in taken)

    def named(text: str) -> str:
        return text.replace("relu", f"relu{suffix}").replace("ReLU", f"ReLU{suffix.title().replace('_', '')}")

    home = root / HW
    add_problem(home / "assignment.yaml", home / "reference", home / "student_template",
                file="mytorch/nn/activation.py", problem=named(RELU_PROBLEM), cases=named(RELU_CASES),
                solution=named(RELU_REFERENCE), stub=named(RELU_STUB))
    return f"relu{suffix}"


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> tuple[Path, str]:
    root = copy_repository(tmp_path_factory.mktemp("grown") / "repo")
    assert add_relu(root, suffix=SUFFIX) == RELU  # "relu", unless the root assignment has one already
    added = add_to_hw1p1(root)
    for args in (("generate",), ("generate", "--assignment", str(HW))):
        proc = cli(root, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "2 written" in proc.stdout, proc.stdout  # the two new cases, and nothing else changed
    return root, added


@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_problem_added_to_the_assignment_breaks_none_of_these_tests(grown, run):
    files, selection = RUNS[run]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files,
                           "-k", selection], cwd=grown[0], capture_output=True, text=True, timeout=600)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary

def test_the_copy_really_has_the_added_problems(grown):
    """A test of the test: the copy grades ReLU cases in both assignments, so the run above proves something."""
    from autograder.fixtures import load_cases

    root, added = grown
    root_cases = {case.problem.name for case in load_cases(root / "test_cases")}
    hw_cases = {case.problem.name for case in load_cases(root / HW / "test_cases")}
    assert {"softmax", RELU} <= root_cases and added in hw_cases
