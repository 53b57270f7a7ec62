"""Fair to correct code in any style, strict with wrong code: each mistake loses exactly the points it should.

Which checks a mistake must fail is stated as a rule over the fixtures (method,
batch size, tags), not as a list of names, so the rules stay true when cases
are added.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import pytest

from autograder.fixtures import Case, load_cases
from autograder.grade import grade_submission, hidden_output
from autograder.paths import DEFAULT_FIXTURES
from autograder.results import CheckResult, GradingResult
from helpers import PROJECT, SOFTMAX, SUBMISSIONS, problem_cases, problem_checks
import helpers

# Every submission here is a Softmax layer: each is graded on the Softmax problem's checks only.
CASES: dict[str, Case] = {case.name: case for case in problem_cases(SOFTMAX)}


@functools.lru_cache(maxsize=None)
def grade(path: Path) -> GradingResult:
    """Grade once per test session: several tests read the same submission's result (none changes it)."""
    return helpers.grade(path, problem=SOFTMAX)


def batch_size(check: CheckResult) -> int:
    return CASES[check.case].inputs["Z"].shape[0]


def graded(result: GradingResult) -> list[CheckResult]:
    """The checks worth points (informational ones, such as the efficiency note, are worth 0)."""
    return [c for c in result.checks if c.max_score > 0]


def failures(result: GradingResult) -> dict[str, str]:
    return {c.name: c.message for c in graded(result) if not c.passed}


CORRECT = [
    "loops_full_jacobian", "einsum", "logsumexp", "debug_prints", "keeps_state", "apply_along_axis",
    "float32",
]


@pytest.mark.parametrize("name", CORRECT)
def test_correct_submission_in_any_style_gets_full_marks(name):
    result = grade(SUBMISSIONS / f"{name}.py")
    assert failures(result) == {}
    assert result.score == result.max_score > 0


def test_reference_gets_full_marks():
    """On the whole assignment: every problem's checks, worth what the fixtures say."""
    result = grade_submission(PROJECT / "reference")
    assert failures(result) == {} and result.score == result.max_score
    assert result.max_score == sum(check.points for case in load_cases(DEFAULT_FIXTURES) for check in case.checks)


def test_graded_on_its_problem_only():
    """helpers.grade grades the checks of the one problem, all of them (grade_submission's `problems`)."""
    result = grade(PROJECT / "reference")
    assert {c.name for c in graded(result)} == problem_checks(SOFTMAX)
    assert result.score == result.max_score == sum(k.points for c in CASES.values() for k in c.checks)


def test_printing_does_not_cost_points_and_is_shown_with_its_test():
    result = grade(SUBMISSIONS / "debug_prints.py")
    assert result.score == result.max_score
    by_name = {c.name: c for c in graded(result)}
    for check in by_name.values():
        if check.visibility != "visible":  # a hidden test says that the code printed, never what
            assert check.output == hidden_output("forward: Z.shape = ") and "Z.shape" not in check.output
            continue
        assert check.output.startswith("forward: Z.shape = ")
        assert len(check.output) <= 4000 + 200, "printed output must be kept to the configured size"
    small = by_name["writeup_example: backward (dLdZ)"].output
    assert "backward: dLdA.shape = (1, 3)" in small and "sample 0: dLdZ" in small
    assert "backward" not in by_name["writeup_example: forward (A)"].output


# Each mistake and the checks it must fail, as a rule over (check, case).
Rule = Callable[[CheckResult, Case], bool]
MISTAKES: dict[str, tuple[Path, Rule]] = {
    # normalises columns: every forward is wrong; backward is graded with the reference A, so it passes
    "wrong_axis": (SUBMISSIONS / "wrong_axis.py", lambda check, case: check.method == "forward"),
    # element-wise derivative: every backward is wrong
    "diagonal_only": (SUBMISSIONS / "diagonal_only.py", lambda check, case: check.method == "backward"),
    # dividing by N changes nothing for a batch of one
    "divides_by_batch": (SUBMISSIONS / "divides_by_batch.py",
                         lambda check, case: check.method == "backward" and batch_size(check) > 1),
    # squeeze only hurts a batch of one, in both methods
    "squeezed_shapes": (SUBMISSIONS / "squeezed_shapes.py", lambda check, case: batch_size(check) == 1),
    # 0.1 % too large everywhere: nothing passes
    "off_by_0_1_percent": (SUBMISSIONS / "off_by_0_1_percent.py", lambda check, case: True),
    # the writeup's code: no max-subtraction, so only the forward of the stability cases breaks
    "demo": (SUBMISSIONS / "demo", lambda check, case: check.method == "forward" and "stability" in case.tags),
    "student_template": (PROJECT / "student_template", lambda check, case: True),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_loses_exactly_the_right_points(name):
    path, rule = MISTAKES[name]
    result = grade(path)
    should_fail = {c.name for c in graded(result) if rule(c, CASES[c.case])}
    assert should_fail, "the rule selects no check, so this test would prove nothing"
    assert set(failures(result)) == should_fail
    lost = sum(c.max_score for c in graded(result) if c.name in should_fail)
    assert result.score == pytest.approx(result.max_score - lost)
    if name not in ("off_by_0_1_percent", "student_template"):
        assert result.score > 0


def test_squeezed_output_is_reported_as_a_shape_problem():
    message = failures(grade(SUBMISSIONS / "squeezed_shapes.py"))["writeup_example: forward (A)"]
    assert "(1, 3)" in message and "(3,)" in message


def test_small_error_is_reported_with_the_tolerance_and_the_numbers():
    result = grade(SUBMISSIONS / "off_by_0_1_percent.py")
    message = failures(result)["writeup_example: forward (A)"]
    assert "1e-05" in message  # the tolerance it missed
    assert "0.7007" in message  # the student's own value (0.7 * 1.001), visible case


def test_a_small_factor_is_never_shown_as_1_times():
    result = grade(SUBMISSIONS / "off_by_0_1_percent.py")
    for name, message in failures(result).items():
        assert "is 1 times the expected" not in message, (name, message)
