"""Shared helpers for the test suite: build a Gradescope-like AUTOGRADER_ROOT and run it."""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from autograder.fixtures import Case, Check, load_cases
from autograder.grade import check_name, grade_submission
from autograder.paths import DEFAULT_FIXTURES
from autograder.results import GradingResult

PROJECT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SOURCE_PARTS = ("autograder", "test_cases", "requirements.txt", "run_autograder", "setup.sh")
FIXTURES = DEFAULT_FIXTURES  # the root assignment's fixtures
# The root assignment's problem that most tests are about: its submissions (tests/submissions/*.py)
# are Softmax layers. A test about Softmax grades and counts the checks of this problem only, so that
# adding a problem to the root assignment changes none of its figures (see test_assignment_grows.py).
SOFTMAX = "softmax"
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


@functools.lru_cache(maxsize=None)
def _cases(fixtures: Path) -> tuple[Case, ...]:
    return tuple(load_cases(fixtures))


def problem_cases(problem: str = SOFTMAX, fixtures: Path = FIXTURES) -> list[Case]:
    """The cases of one problem (by its name in the config), in case order."""
    cases = [case for case in _cases(Path(fixtures)) if case.problem.name == problem]
    assert cases, f"no fixture in {fixtures} grades problem {problem!r}"
    return cases


def problem_checks(problem: str = SOFTMAX, fixtures: Path = FIXTURES) -> set[str]:
    """The names of the graded checks (Gradescope tests) of one problem."""
    return {check_name(case, check) for case in problem_cases(problem, fixtures) for check in case.checks}


def problem_points(problem: str = SOFTMAX, fixtures: Path = FIXTURES) -> float:
    """What one problem's checks are worth together: its full marks."""
    return sum(check.points for case in problem_cases(problem, fixtures) for check in case.checks)


def checks_where(rule: Callable[[Case, Check], bool], problem: str = SOFTMAX) -> dict[str, float]:
    """The checks of one problem that a rule over (case, check) selects: name -> points."""
    return {check_name(case, check): check.points for case in problem_cases(problem) for check in case.checks
            if rule(case, check)}


def handout_checks(fixtures: Path = FIXTURES) -> dict[str, float]:
    """The visible checks of the whole assignment, which the student handout grades: name -> points."""
    return {check_name(case, check): check.points for case in _cases(Path(fixtures)) if case.visibility == "visible"
            for check in case.checks}


# What the writeup's own code (tests/submissions/demo) fails: no max-subtraction, so the forward of the
# stability cases overflows; everything else is right.
DEMO_FAILS = functools.partial(checks_where, lambda case, check: "stability" in case.tags and check.method == "forward")


def grade(submission: Path, *, problem: str = SOFTMAX, **kwargs: Any) -> GradingResult:
    """Grade a submission on the checks of one problem (the one it is an example of)."""
    return grade_submission(submission, problems=[problem], **kwargs)


def reference_class(problem: str = SOFTMAX) -> type:
    """The reference's class of one problem of the root assignment (by its name in the config)."""
    from autograder.config import load_assignment
    from autograder.generate import load_reference_class
    from autograder.paths import DEFAULT_CONFIG

    assignment = load_assignment(DEFAULT_CONFIG)
    return load_reference_class(assignment, assignment.problems[problem])


def reference_source(problem: str = SOFTMAX) -> str:
    """The reference's file of one problem, with the classes of the other problems that share it left out:
    a submission of that problem alone, to edit into a mistake (the class's text is then found once)."""
    cases = problem_cases(problem)
    source = (PROJECT / "reference" / cases[0].problem.file).read_text()
    others = {case.problem.class_name for case in _cases(FIXTURES)} - {cases[0].problem.class_name}
    lines = source.splitlines(keepends=True)
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.ClassDef) and node.name in others:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            del lines[start:node.end_lineno]
    return "".join(lines)


def problem_fixtures(dest: Path, problem: str | None = SOFTMAX, fixtures: Path = FIXTURES) -> Path:
    """A copy of a fixture folder at `dest` that holds one problem's fixtures and feedback (None: all)."""
    others = {case.path for case in _cases(Path(fixtures)) if problem is not None and case.problem.name != problem}
    others |= {p for p in (Path(fixtures) / "feedback").glob("*") if problem is not None and p.stem != problem}
    drop = {p.resolve() for p in others}

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == "__pycache__" or (Path(folder) / n).resolve() in drop}

    shutil.copytree(fixtures, dest, ignore=ignore)
    return dest


def make_root(tmp: Path, submission: Path, *, place: str = "mytorch/nn/activation.py",
              problem: str | None = SOFTMAX) -> Path:
    """A fresh AUTOGRADER_ROOT: source/ (a copy of the grader), submission/, results/.

    `submission` is a folder (copied as is) or a single .py file (copied to `place`). The fixtures
    copied are those of `problem` (the one the submission is an example of), or all for None.
    """
    root = tmp / "autograder"
    source = root / "source"
    source.mkdir(parents=True)
    for part in SOURCE_PARTS:
        src = PROJECT / part
        if part == "test_cases":
            problem_fixtures(source / part, problem)
        elif src.is_dir():
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
    """Grade one submission end to end through run_autograder; return the results document
    (on the checks of make_root's `problem`, Softmax unless told)."""
    root = make_root(tmp, submission, **kwargs)
    results, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    return results


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tests of a results document keyed by name."""
    return {t["name"]: t for t in results["tests"]}


def failed_names(results: dict[str, Any]) -> set[str]:
    return {t["name"] for t in results["tests"] if t["status"] == "failed"}


# -- adding a problem to an assignment, as an instructor would --------------------------------------
# test_problems.py adds ReLU beside Softmax and grades it; test_assignment_grows.py adds it to a copy of
# the repository and runs other test files there, which must not notice (they follow the assignment).

def add_problem(config: Path, reference: Path, template: Path, *, file: str, problem: str, cases: str,
                solution: str, stub: str) -> None:
    """Add a problem to an assignment: its class to the reference's and the template's `file`, its entry
    (config text, indented under `problems:`) before the config's top-level `defaults:`, and its cases
    (config text, indented under `cases:`, the config's last key) at the config's end."""
    for folder, code in ((reference, solution), (template, stub)):
        with open(folder / file, "a") as handle:
            handle.write(code)
    text = config.read_text()
    assert "\ndefaults:" in text, f"{config}: no top-level 'defaults:' to add the problem before"
    text = text.replace("\ndefaults:", problem.rstrip() + "\n\ndefaults:", 1)
    config.write_text(text.rstrip("\n") + "\n" + cases)
