"""Feedback that teaches: each typical mistake is named, with the numbers, and hidden data never leaks.

Most tests grade a real submission through the in-process API (each one once,
cached); the catalogue and the recognisers are also tested directly on the
fixtures, without the sandbox.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from autograder import diagnose, efficiency
from autograder.audit import config_mutants
from autograder.compare import compare
from autograder.config import Limits, load_assignment
from autograder.feedback import Mistake, feedback_path, load_feedback
from autograder.fixtures import Case, Tolerance
from autograder.grade import explain_error
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from autograder.results import CheckResult, GradingResult, to_gradescope
from helpers import PROJECT, SOFTMAX, SUBMISSIONS, grade, problem_cases, reference_source

MISTAKES = SUBMISSIONS / "mistakes"
# The Softmax problem's catalogue, as its config declares it and grading reads it (test_cases/feedback/softmax.yaml),
# and each mistake's mutant (the reference with the mistake's patch).
FEEDBACK = load_feedback(feedback_path(DEFAULT_FIXTURES, SOFTMAX))
CATALOGUE = FEEDBACK.mistakes
MUTANTS = {m.name: m.source for m in config_mutants(load_assignment(DEFAULT_CONFIG)) if m.problem == SOFTMAX}
LIMITS = Limits(call_timeout=3, import_timeout=5, budget=20)
CASES = problem_cases(SOFTMAX)  # every submission here is a Softmax: graded on its checks only (helpers.grade)
SINGLE = {c.name for c in CASES if c.inputs["Z"].shape[0] == 1}
STABILITY = {c.name for c in CASES if "stability" in c.tags}

FLOAT32 = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        z = Z.astype(np.float32)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        a = self.A.astype(np.float32)
        g = dLdA.astype(np.float32)
        return a * (g - (g * a).sum(axis=1, keepdims=True))
"""

# Not in the catalogue: right for N = 1, and for a batch only row 0 is right.
FIRST_ROW_INNER = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        dot = dLdA[0] @ self.A[0]
        return self.A * (dLdA - dot)
"""

# Puts its inputs into the exception message: hidden inputs must not reach the feedback.
LEAKY_ERROR = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        raise ValueError("cannot handle " + repr(Z.ravel()[:8].tolist()) + " " + str(Z[:2]))

    def backward(self, dLdA):
        raise ValueError("cannot handle " + repr(dLdA.ravel()[:8].tolist()) + " " + str(self.A[:2]))
"""


WORK = tempfile.TemporaryDirectory(prefix="feedback-")  # removed when the test session ends


@functools.lru_cache(maxsize=None)
def graded(source: str) -> GradingResult:
    """Grade a submission once: a file name in tests/submissions/mistakes, or an inline source."""
    if source.endswith(".py") and "\n" not in source:
        return grade(MISTAKES / source, limits=LIMITS)
    folder = Path(tempfile.mkdtemp(dir=WORK.name))
    target = folder / "mytorch" / "nn" / "activation.py"
    target.parent.mkdir(parents=True)
    target.write_text(source)
    return grade(folder, limits=LIMITS)


def graded_checks(result: GradingResult) -> list[CheckResult]:
    return [c for c in result.checks if "efficiency" not in c.tags]


def failed(result: GradingResult) -> list[CheckResult]:
    return [c for c in graded_checks(result) if not c.passed]


def hint(name: str) -> str:
    return FEEDBACK.by_name[name].hint


def batch(name: str) -> int:
    return next(c for c in CASES if c.name == name).inputs["Z"].shape[0]


# -- every typical mistake, written as a student would, is named -----------------------------
# file -> {method: the text its failing checks must contain}; checks of other methods must pass
NAMED = {
    "wrong_axis.py": {"forward": hint("wrong_axis")},
    "global_sum.py": {"forward": hint("global_sum")},
    "no_normalisation.py": {"forward": hint("no_normalisation")},
    "no_max_subtraction.py": {"forward": hint("no_max_subtraction")},
    "global_max.py": {"forward": hint("global_max")},
    "constant_offset.py": {"forward": hint("constant_offset")},
    "squeezed_shapes.py": {"forward": hint("squeezed_shapes"), "backward": "The values are right; only the shape is wrong."},
    "missing_keepdims.py": {"forward": hint("missing_keepdims")},
    "modifies_input.py": {"forward": hint("modifies_input")},
    "returns_list.py": {"forward": hint("returns_list")},
    "returns_none.py": {"forward": hint("returns_none"), "backward": hint("returns_none")},
    "diagonal_only.py": {"backward": hint("diagonal_only")},
    "missing_outer_term.py": {"backward": hint("missing_outer_term")},
    "returns_dLdA.py": {"backward": hint("returns_dLdA")},
    "sign_error.py": {"backward": hint("sign_error")},
    "divides_by_batch.py": {"backward": hint("divides_by_batch")},
    "right_for_single_sample.py": {"backward": hint("right_for_single_sample")},
    "first_row_only.py": {"backward": hint("first_row_only")},
    "backward_wrong_axis.py": {"backward": hint("backward_wrong_axis")},
    "returns_jacobian.py": {"backward": hint("returns_jacobian")},
    "raises_in_backward.py": {"backward": hint("raises_in_backward")},
}

# A first line with numbers or a place, by kind of failure: the hint never replaces it.
FACTS = re.compile(r"values are outside the tolerance|value\(s\) out of \d+|expected shape \(|returned None instead"
                   r"|returned a list of shape|modified its input|raised \w+Error: .*\d")
# In a non-visible test, the student's own message is withheld (grade.hidden_error), and no shape is quoted:
# not the expected one (the test's data), nor the returned one (the student's choice; grade.hidden_outcome, compare).
HIDDEN_FACTS = re.compile(FACTS.pattern.replace(r"raised \w+Error: .*\d", r"raised \w+Error: \(not shown")
                          .replace("returned a list of shape", r"returned a list\.")
                          .replace(r"expected shape \(", "shape is not the expected one"))


def test_there_is_one_submission_per_named_mistake():
    files = {p.name for p in MISTAKES.glob("*.py")}
    assert files == set(NAMED)
    assert {name.removesuffix(".py") for name in NAMED} <= set(FEEDBACK.by_name)


def _case_shows(mistake_name: str, case_name: str) -> bool:
    """Whether a catalogue mistake's output on a case is evidence of it (wrong there, and not ~zero).

    A mistake that does not show as an array (a wrong type, an exception) is recognised by kind: True.
    """
    mistake = FEEDBACK.by_name[mistake_name]
    case = _case(case_name)
    check = next(c for c in case.checks if c.method == mistake.method)
    produced = mistake.produce(_arrays(case))
    return produced is None or diagnose.shows(produced, case.expected[check.output], case.tolerance)


REFERENCE = re.compile(r"^Same (?:import error|problem|error|failure) as test (\d+\.\d+) \(([^)]*\)?)\): .+$")


def _full(result: GradingResult, check: CheckResult) -> str:
    """The check's message, or the full message of the test its one-line reference points to."""
    hit = REFERENCE.match(check.message)
    if not hit:
        return check.message
    assert "\n" not in check.message, check.message
    carrier = next(c for c in result.checks if c.number == hit.group(1))
    assert not REFERENCE.match(carrier.message) and carrier.name == hit.group(2)
    assert carrier.visibility == "visible" or carrier.visibility == check.visibility, "refers to a test it may not see"
    return carrier.message


@pytest.mark.parametrize("name", sorted(NAMED))
def test_failing_tests_name_the_mistake_and_give_the_numbers(name):
    result = graded(name)
    wanted = NAMED[name]
    bad = failed(result)
    assert bad, f"{name} passed every test"
    others = [m.hint for m in CATALOGUE if m.hint not in wanted.values()]
    for check in bad:
        assert check.method in wanted, f"{check.name} should pass:\n{check.message}"
        message = _full(result, check)
        mistake = name.removesuffix(".py")
        if FEEDBACK.by_name[mistake].method == check.method and not _case_shows(mistake, check.case):
            # the mistake's output here is within tolerance of zero: no evidence, so no hint, but no wrong one either
            assert wanted[check.method] not in message, message
        else:
            assert wanted[check.method] in message, f"{check.name} does not name the mistake:\n{message}"
        assert not any(h in message for h in others), f"{check.name} names another mistake:\n{message}"
        first = message.splitlines()[0]
        facts = FACTS if check.visibility == "visible" else HIDDEN_FACTS
        assert facts.search(first), f"{check.name}: the first line should give the facts:\n{message}"
        assert len(message.splitlines()) <= 12, message
    assert {c.method for c in bad} == set(wanted)


def test_mistakes_fail_exactly_where_they_show():
    """Right-for-N=1 mistakes pass the single-sample tests; overflow mistakes fail only the stability tests."""
    for name in ("global_sum.py", "divides_by_batch.py", "right_for_single_sample.py", "first_row_only.py",
                 "raises_in_backward.py", "missing_keepdims.py"):
        assert {c.case for c in failed(graded(name))} == {c.name for c in CASES} - SINGLE, name
    for name in ("no_max_subtraction.py", "global_max.py"):
        assert {c.case for c in failed(graded(name))} == STABILITY, name
    assert {c.case for c in failed(graded("squeezed_shapes.py"))} == SINGLE


def test_constant_factor_and_offset_are_stated():
    for check in failed(graded("divides_by_batch.py")):
        n = batch(check.case)
        factor = f"{1 / n:.2g}" if check.visibility != "visible" else f"{1 / n:.6g}"  # coarser when hidden
        assert f"Every value is {factor} times the expected one (= 1/N with N = {n})" in check.message, check.message
    for check in failed(graded("constant_offset.py")):
        assert "off by the same amount, +0.0001" in check.message, check.message


def test_stability_failures_explain_overflow_and_the_trick():
    for check in failed(graded("no_max_subtraction.py")):
        assert "NaN value(s)" in check.message and "max" in check.message and "overflow" in check.message


def test_only_some_rows_right_and_right_for_one_sample_only():
    result = graded(FIRST_ROW_INNER)
    bad = failed(result)
    assert bad and all(c.method == "backward" and c.case not in SINGLE for c in bad)
    for check in bad:
        assert "Only row 0 is right" in check.message, check.message
        assert diagnose.single_sample_note("backward", batch(check.case)) in check.message
        assert "rows with wrong values: 1" in check.message


def test_errors_show_the_students_frames_and_a_hint():
    check = failed(graded("raises_in_backward.py"))[0]
    lines = check.message.splitlines()
    assert lines[0].startswith("Softmax.backward raised ValueError")
    assert "Traceback (your code only):" in lines
    assert any(re.search(r"raises_in_backward\.py, line \d+, in backward", line) for line in lines)
    assert "dLdZ = dLdA @ J" in check.message


# -- correct code gets no diagnosis ------------------------------------------------------------

def test_reference_passes_with_no_message():
    result = grade(PROJECT / "reference", limits=LIMITS)
    assert result.score == result.max_score
    assert all(c.passed and c.message == "" for c in graded_checks(result))
    info = [c for c in result.checks if "efficiency" in c.tags]
    assert len(info) == 1 and info[0].max_score == 0 and info[0] is result.checks[-1]


def test_float32_code_gets_no_diagnosis_of_a_mistake():
    """Where correct float32 code misses the tolerance, the feedback says rounding, never a mistake."""
    hints = [m.hint for m in CATALOGUE]
    for check in failed(graded(FLOAT32)):
        assert "Looks like rounding error, not a wrong formula" in check.message, check.message
        assert "(your array is float32)" in check.message
        assert not any(h in check.message for h in hints)
        assert "single-sample" not in check.message and " right" not in check.message.split("Looks like")[0]


def test_float32_code_gets_full_marks():
    result = graded(FLOAT32)
    assert result.score == result.max_score


def test_catalogue_is_silent_on_correct_and_float32_outputs():
    for case in CASES:
        for check in case.checks:
            expected = case.expected[check.output]
            for actual in (expected, expected.astype(np.float32)):
                assert diagnose.catalogue_matches(check, case, actual.astype(np.float64)) == []


# -- the catalogue -------------------------------------------------------------------------------

def _arrays(case: Case) -> dict[str, np.ndarray]:
    return {"Z": case.inputs["Z"].copy(), "dLdA": case.inputs["dLdA"].copy(), "A": case.expected["A"].copy()}


def _verdict(case: Case, check, actual: np.ndarray):
    described = {"kind": "ndarray", "type": "ndarray", "dtype_name": actual.dtype.name, "shape": list(actual.shape)}
    return compare(described, actual, case.expected[check.output], case.tolerance, what="x", show_values=True)


def test_catalogue_entries_are_well_formed():
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))
    for mistake in CATALOGUE:
        assert mistake.method in ("forward", "backward")
        assert mistake.hint.startswith("Looks like ") and len(mistake.hint) < 400
        compile(MUTANTS[mistake.name], f"<mutant {mistake.name}>", "exec")


@pytest.mark.parametrize("mistake", [m for m in CATALOGUE], ids=lambda m: m.name)
def test_each_mistake_is_recognised_from_what_it_produces(mistake):
    shown = 0
    for case in CASES:
        check = next(c for c in case.checks if c.method == mistake.method)
        produced = mistake.produce(_arrays(case))
        if produced is None:
            continue
        verdict = _verdict(case, check, produced)
        if verdict.passed:
            continue  # this case does not show the mistake (for example N = 1)
        found = diagnose.hints(check, case, produced, verdict)
        if not diagnose.shows(produced, case.expected[check.output], case.tolerance):
            # within tolerance of zero (first row only, where that row is ~0): an unfilled array looks the same
            assert mistake.hint not in found and not any("times the expected" in h for h in found), (case.name, found)
            continue
        shown += 1
        assert mistake.hint in found, (mistake.name, case.name)
    if mistake.name not in ("modifies_input", "returns_list", "returns_none", "raises_in_backward", "missing_keepdims"):
        assert shown, f"{mistake.name} shows on no case"


def _run_mutant(mistake: Mistake, case: Case):
    """Run the mutant in this (test) process on one case, as the worker would: forward, then backward with the reference A."""
    namespace: dict = {}
    exec(compile(MUTANTS[mistake.name], f"<mutant {mistake.name}>", "exec"), namespace)  # our own trusted source
    layer = namespace["Softmax"]()
    z = case.inputs["Z"].copy()
    with np.errstate(all="ignore"):
        if mistake.method == "forward":
            return layer.forward(z), not np.array_equal(z, case.inputs["Z"])
        layer.forward(z.copy())
        layer.A = case.expected["A"].copy()
        return layer.backward(case.inputs["dLdA"].copy()), False


@pytest.mark.parametrize("mistake", [m for m in CATALOGUE], ids=lambda m: m.name)
def test_each_mutant_makes_its_mistake_and_is_caught(mistake):
    caught = False
    for case in CASES:
        check = next(c for c in case.checks if c.method == mistake.method)
        try:
            out, mutated = _run_mutant(mistake, case)
        except ValueError:
            caught = True
            continue
        produced = mistake.produce(_arrays(case))
        if produced is not None:
            assert isinstance(out, np.ndarray)
            assert diagnose.same_values(out.astype(np.float64), produced.astype(np.float64),
                                        Tolerance(rtol=1e-9, atol=1e-15)), (mistake.name, case.name)
        if not isinstance(out, np.ndarray) or mutated or not _verdict(case, check, out).passed:
            caught = True
    assert caught, f"the mutant of {mistake.name} passes every case"


# -- structural recognisers on synthetic outputs ------------------------------------------------

def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def _hints_for(case: Case, method: str, actual: np.ndarray) -> list[str]:
    check = next(c for c in case.checks if c.method == method)
    return diagnose.hints(check, case, actual, _verdict(case, check, actual))


def test_structural_recognisers():
    case = _case("small_batch")
    dz = case.expected["dLdZ"]
    assert "Every value is 2 times the expected one (= 2)." in _hints_for(case, "backward", 2 * dz)
    assert any("off by the same amount, -0.003" in h for h in _hints_for(case, "backward", dz - 0.003))
    assert "The values are right but transposed: rows are samples, columns are classes." \
        in _hints_for(case, "backward", dz.T.copy())
    assert "The values are right; only the shape is wrong." in _hints_for(case, "backward", dz.reshape(1, -1))
    assert any("all zeros" in h for h in _hints_for(case, "backward", np.zeros_like(dz)))
    some = dz.copy()
    some[1:3] = 0
    assert any(h.startswith("Rows 0, 3 are right") for h in _hints_for(case, "backward", some))
    a = case.expected["A"] * np.array([[1.0], [2.0], [1.0], [0.5]])
    assert any("proportions are right" in h for h in _hints_for(case, "forward", a))


def test_nan_on_large_logits_is_explained_even_when_no_mistake_matches():
    case = _case("stability_hundreds")
    a = case.expected["A"].astype(np.float32)
    a[1] = np.nan  # no catalogue mistake gives exactly this
    found = _hints_for(case, "forward", a)
    assert any("float32 overflows already above 88" in h and "Subtract each row's maximum" in h for h in found)
    assert not any(m.hint in found for m in CATALOGUE)
    found = _hints_for(case, "backward", np.where(np.arange(case.expected["dLdZ"].size).reshape(
        case.expected["dLdZ"].shape) == 0, np.inf, case.expected["dLdZ"]))
    assert any("Use self.A" in h for h in found)


def test_rounding_is_not_read_as_a_mistake():
    # The default atol (1e-6) already accepts rounding-sized errors; a case with a tighter
    # tolerance is where a near miss can fail, and it must be called rounding, not a mistake.
    case = dataclasses.replace(_case("many_classes"), tolerance=Tolerance(rtol=1e-5, atol=1e-9))
    dz = case.expected["dLdZ"].copy()
    dz[np.unravel_index(np.argmin(np.abs(dz)), dz.shape)] += 1e-7  # fails only a tiny entry
    found = _hints_for(case, "backward", dz)
    assert len(found) == 1 and found[0].startswith("Looks like rounding error")


def test_shape_hints_name_what_the_shape_suggests():
    case = _case("small_batch")
    n, c = case.inputs["Z"].shape
    assert any("one sample's Jacobian (C, C)" in h for h in _hints_for(case, "backward", np.ones((c, c))))
    assert any("(N, N, C)" in h for h in _hints_for(case, "backward", np.ones((n, n, c))))
    assert any("lost its batch dimension" in h for h in _hints_for(case, "backward", np.ones(c)))


def test_error_hints_and_hidden_messages_are_scrubbed():
    hidden = next(c for c in CASES if c.hidden)
    n, c = hidden.inputs["Z"].shape
    outcome = SimpleNamespace(kind="error", phase="call", method="forward", error={
        "type": "ValueError", "message": f"operands could not be broadcast together with shapes ({n},{c}) ({n},) "
                                         "[0.123456 -2.5e-3 7.75]", "frames": [], "not_implemented": False})
    text = explain_error(outcome, hidden)
    assert hint("missing_keepdims") in text  # the hint was matched on the message as it was
    assert "raised ValueError: (not shown" in text and "broadcast" not in text  # the message itself is withheld
    assert not re.search(r"\d", text.split("Looks like")[0])
    visible = next(c for c in CASES if not c.hidden)
    assert "0.123456" in explain_error(outcome, visible)
    outcome.error = {"type": "NotImplementedError", "message": "", "frames": [], "not_implemented": True}
    assert "not implemented yet" in explain_error(outcome, visible)


def test_hidden_errors_show_no_digit_of_the_students_text():
    """Class, file and function names, code lines and line numbers can all carry a number (compile()
    takes any file name, leading newlines make any line number): in a hidden test none is shown."""
    hidden = next(c for c in CASES if c.hidden)
    visible = next(c for c in CASES if not c.hidden)
    outcome = SimpleNamespace(kind="error", phase="call", method="backward", notes=["forward() raised E77 first"],
                              error={"type": "Err4242", "message": "secret 31337 and 271828",
                                     "frames": [{"file": "x1618.py", "line": 9001, "function": "f1414",
                                                 "code": "raise Err4242(31337)"}], "not_implemented": False})
    text = explain_error(outcome, hidden)
    assert not re.search(r"\d", text), text
    # words carry numbers as well as digits do ("minus two point seven"): nothing of the student's is shown
    assert text == ("Softmax.backward raised an exception of a class of your own: (not shown: a test that is not "
                    "visible shows no message or traceback)"), text
    for words in ("secret", "Err", "x1618", "f1414", "Traceback", "Note"):
        assert words not in text
    shown = explain_error(outcome, visible)
    assert "secret 31337" in shown and "line 9001" in shown and "E77" in shown
    outcome.error = {"type": "NotImplementedError", "message": "", "frames": [], "not_implemented": True}
    assert "not implemented yet" in explain_error(outcome, visible)


# -- hidden tests leak no hidden data -----------------------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def raises_in_backward(least_rows: int) -> str:
    """The reference, with a backward that raises ValueError for batches of at least `least_rows` rows."""
    source = reference_source(SOFTMAX)
    head = "    def backward(self, dLdA):\n"
    assert source.count(head) == 1
    return source.replace(head, head + f"        if dLdA.shape[0] >= {least_rows}:\n"
                                       "            raise ValueError('backward failed')\n")


def _backward_failures(least_rows: int) -> tuple[list[CheckResult], list[CheckResult]]:
    result = graded(raises_in_backward(least_rows))
    failures = [c for c in failed(result) if c.method == "backward"]
    return [c for c in failures if c.visibility == "visible"], [c for c in failures if c.visibility != "visible"]


def test_a_hidden_error_names_the_visible_test_that_shows_the_same_exception():
    visible, hidden = _backward_failures(1)  # every backward raises
    assert visible and hidden
    first = min(visible, key=lambda c: [int(n) for n in c.number.split(".")])
    for check in hidden:
        assert (f"Softmax.backward raised ValueError: (not shown in a test that is not visible; visible test "
                f"{first.number} ({first.name}) raised ValueError too and shows its message)") in check.message, \
            check.message
        assert "shows no message" not in check.message
    assert "backward failed" in first.message


def test_a_hidden_error_no_visible_test_shows_claims_no_visible_test_does():
    largest_visible = max(c.inputs["Z"].shape[0] for c in CASES if not c.hidden)
    visible, hidden = _backward_failures(largest_visible + 1)  # only the hidden batches raise
    assert not visible and hidden
    for check in hidden:
        assert check.message.startswith("Softmax.backward raised ValueError: (not shown: a test that is not visible "
                                        "shows no message or traceback)"), check.message
        assert "visible test " not in check.message and "show theirs" not in check.message


def _significant_digits(token: str) -> int:
    mantissa = re.split(r"[eE]", token)[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_hidden_tests_leak_no_hidden_values():
    hidden = [c for c in CASES if c.hidden]
    assert hidden
    values = np.concatenate([np.abs(a).ravel() for c in hidden for a in (*c.inputs.values(), *c.expected.values())])
    values = np.unique(values[values > 0])
    sources = sorted(NAMED) + [FIRST_ROW_INNER, LEAKY_ERROR]
    checked = 0
    for source in sources:
        result = graded(source)
        for check in result.checks:
            if check.visibility == "visible":
                continue
            checked += 1
            for token in NUMBER.findall(check.message):
                if _significant_digits(token) < 3:
                    continue
                x = abs(float(token))
                close = values[np.isclose(values, x, rtol=1e-3, atol=0)]
                assert close.size == 0, f"{source}: {check.name} shows {token}, a hidden value:\n{check.message}"
        assert "hidden_" not in "\n".join(
            c.message for c in result.checks if c.visibility == "visible"), source
    assert checked


def test_the_leak_test_would_notice_values():
    """The leak test above is not vacuous: visible messages do show case values with several digits."""
    check = next(c for c in graded("wrong_axis.py").checks if c.case == "small_batch" and c.method == "forward")
    expected = _case("small_batch").expected["A"]
    shown = [abs(float(t)) for t in NUMBER.findall(check.message) if _significant_digits(t) >= 3]
    assert any(np.isclose(expected, x, rtol=1e-3).any() for x in shown)


# -- the efficiency note -------------------------------------------------------------------------

def _timed(seconds: float) -> list:
    out = []
    for case in CASES:
        check = next(c for c in case.checks if c.method == "backward")
        out.append((case, check, SimpleNamespace(kind="ok", seconds=seconds), None))
    return out


def test_efficiency_note_only_when_far_slower():
    slow = efficiency.informational_checks(_timed(0.05), CASES)
    assert len(slow) == 1
    note = slow[0]
    assert note.name == efficiency.note_name("backward") and note.max_score == 0 and note.score == 0 and note.tags == ("efficiency",)
    assert "no points" in note.message and re.search(r"about \d+ times as long", note.message)
    assert efficiency.informational_checks(_timed(1e-6), CASES)[0].message == ""
    assert efficiency.informational_checks([], CASES) == []


def test_efficiency_note_quotes_times_of_visible_tests_only():
    """Student code chooses how long it takes: the times of a hidden test are never quoted."""
    note = efficiency.informational_checks(_timed(0.05), CASES)[0].message
    quoted = re.search(r"took [\d.]+ ms on test (\w+) ", note)
    assert quoted and not next(c for c in CASES if c.name == quoted.group(1)).hidden, note
    hidden_only = [t for t in _timed(0.05) if t[0].hidden]
    assert hidden_only
    note = efficiency.informational_checks(hidden_only, CASES)[0].message
    assert "no points" in note and "hidden" in note and " ms" not in note, note
    assert not any(case.name in note for case, *_ in hidden_only)
    assert set(re.findall(r"\d+", note.split("\n")[0])) == {f"{efficiency.SLOW_RATIO:g}"}, note


def test_efficiency_note_for_a_triple_loop_backward():
    result = grade(SUBMISSIONS / "demo", limits=LIMITS)
    note = result.checks[-1]
    assert note.name == efficiency.note_name("backward") and note.max_score == 0 and "efficiency" in note.tags
    assert re.search(r"your backward took [\d.]+ ms on .*, about \d+ times as long as a vectorised backward", note.message)
    assert note.score == 0 and result.score == sum(c.score for c in graded_checks(result))


# -- hints are claims: given where the evidence holds, across checks (issue 13) -----------------

# The writeup's loop with math.exp and no max-subtraction: OverflowError on large logits, every batch right.
MATH_EXP_LOOP = """\
import math
import numpy as np


class Softmax:
    def forward(self, Z):
        N, C = Z.shape
        A = np.zeros((N, C))
        for i in range(N):
            exps = [math.exp(z) for z in Z[i]]
            total = sum(exps)
            for j in range(C):
                A[i, j] = exps[j] / total
        self.A = A
        return A

    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return self.A * (dLdA - inner)
"""

ZEROS_BACKWARD = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        dLdZ = np.zeros_like(dLdA)
        return dLdZ
"""

AXIS0_BOTH = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=0, keepdims=True))
        self.A = e / e.sum(axis=0, keepdims=True)
        return self.A

    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=0, keepdims=True)
        return self.A * (dLdA - inner)
"""

IMPORTS_TORCH = """\
import numpy as np
import torch


class Softmax:
    def forward(self, Z):
        return torch.softmax(Z, 1)

    def backward(self, dLdA):
        return dLdA
"""

OVERFLOW_HINT = "Looks like exp() overflowed: math.exp raises OverflowError"
KEEPDIMS_ADVICE = "without axis=1 (keepdims=True)"
ALL_CATALOGUE_HINTS = [m.hint for m in CATALOGUE]


def test_math_exp_overflow_is_explained_by_max_subtraction_not_keepdims():
    result = graded(MATH_EXP_LOOP)
    bad = failed(result)
    assert {c.case for c in bad} == STABILITY and all(c.method == "forward" for c in bad)
    for check in bad:
        message = _full(result, check)
        assert "OverflowError" in message and OVERFLOW_HINT in message and "subtract each row's maximum" in message
        assert "single-sample" not in message and KEEPDIMS_ADVICE not in message, message
        assert not any(h in message for h in ALL_CATALOGUE_HINTS), message


def _overflow_outcome(method: str, etype: str = "OverflowError", message: str = "math range error"):
    return SimpleNamespace(kind="error", phase="call", method=method, error={
        "type": etype, "message": message, "frames": [], "not_implemented": False})


def test_overflow_hint_needs_logits_that_overflow():
    large, small = _case("stability_hundreds"), _case("small_batch")
    assert OVERFLOW_HINT in explain_error(_overflow_outcome("forward"), large)
    assert "Looks like" not in explain_error(_overflow_outcome("forward"), small)  # the logits cannot overflow exp
    assert "Use self.A" not in explain_error(_overflow_outcome("backward"), small)
    assert "use self.A" in explain_error(_overflow_outcome("backward"), large)
    underflow = _overflow_outcome("forward", "ZeroDivisionError", "float division by zero")
    assert "underflowed to 0" in explain_error(underflow, large)
    assert "Looks like" not in explain_error(underflow, small)  # a zero sum there is something else
    assert "Looks like" not in explain_error(_overflow_outcome("forward", "ValueError", "math range error"), large)


def test_all_zero_backward_is_said_as_such_and_nothing_else():
    result = graded(ZEROS_BACKWARD)
    bad = failed(result)
    assert bad and {c.method for c in bad} == {"backward"} and len(bad) == len(CASES)
    for check in bad:
        assert "Your output is all zeros" in check.message, check.message
        assert hint("first_row_only") not in check.message, check.message  # two_classes: row 0 is ~0 there
        assert not any(h in check.message for h in ALL_CATALOGUE_HINTS), check.message
        assert "times the expected" not in check.message and "single-sample" not in check.message


def test_first_row_only_is_not_matched_where_that_row_is_about_zero():
    case = _case("two_classes")
    check = next(c for c in case.checks if c.method == "backward")
    assert np.all(np.abs(case.expected["dLdZ"][0]) <= case.tolerance.atol)  # why this case is the one
    zeros = np.zeros_like(case.expected["dLdZ"])
    assert diagnose.catalogue_matches(check, case, zeros) == []
    found = _hints_for(case, "backward", zeros)
    assert found == ["Your output is all zeros: is the array created but never filled in?"]


def test_wrong_axis_in_both_methods_is_named_in_backward_too_never_diagonal_only():
    result = graded(AXIS0_BOTH)
    bad = failed(result)
    backward = [c for c in bad if c.method == "backward"]
    assert {c.case for c in backward} >= SINGLE
    for check in backward:
        message = _full(result, check)
        assert hint("backward_wrong_axis") in message, message
        assert hint("diagonal_only") not in message, message
    for check in (c for c in bad if c.method == "forward"):
        assert hint("wrong_axis") in _full(result, check)


def test_two_mistakes_that_explain_the_same_check_are_both_named():
    """With only N = 1 graded, the Jacobian's diagonal and the sum over axis 0 give the same numbers: say both."""
    only = {f"{name}: backward (dLdZ)" for name in SINGLE}
    for source in (AXIS0_BOTH, (MISTAKES / "diagonal_only.py").read_text()):
        folder = Path(tempfile.mkdtemp(dir=WORK.name))
        (folder / "activation.py").write_text(source)
        result = grade(folder, limits=LIMITS, only=only)
        bad = failed(result)
        assert {c.case for c in bad} == SINGLE
        for check in bad:
            assert hint("diagonal_only") in check.message and hint("backward_wrong_axis") in check.message


def test_contradicted_rules_out_a_mistake_another_check_disproves():
    case = _case("small_batch")
    check = next(c for c in case.checks if c.method == "backward")
    wrong = FEEDBACK.by_name["backward_wrong_axis"].produce(_arrays(case))
    item = lambda array, passed: (case, check, SimpleNamespace(kind="ok", array=array),  # noqa: E731
                                  SimpleNamespace(passed=passed, message=""))
    assert "diagonal_only" in diagnose.contradicted([item(wrong, False)]).get(("softmax", "backward"), set())
    assert "backward_wrong_axis" not in diagnose.contradicted([item(wrong, False)]).get(("softmax", "backward"), set())
    # NaN (overflow can hide a mistake) and exceptions are no evidence either way
    assert diagnose.contradicted([item(np.full_like(wrong, np.nan), False)]) == {}
    # a passed check rules out every mistake that would show on it
    assert {"diagonal_only", "backward_wrong_axis"} <= diagnose.contradicted([item(case.expected["dLdZ"], True)])[("softmax", "backward")]


def test_shared_import_error_is_explained_once_then_referred_to():
    result = graded(IMPORTS_TORCH)
    checks = graded_checks(result)
    assert all(not c.passed for c in checks)
    first = checks[0]
    assert first.message.startswith("Your file could not be imported: ModuleNotFoundError: No module named 'torch'")
    assert "line 2" in first.message and "import torch" in first.message
    for check in checks[1:]:
        assert check.message == ("Same import error as test 1.1 (writeup_example: forward (A)): "
                                 "ModuleNotFoundError: No module named 'torch'"), check.message
    assert sum(len(c.message) for c in checks) < 3 * 1024


def _result(number: str, visibility: str, message: str) -> CheckResult:
    return CheckResult(name=f"case{number}: forward (A)", number=number, case=f"case{number}", method="forward",
                       max_score=1, score=0, visibility=visibility, tags=("forward",), message=message)


def test_the_full_text_goes_to_a_visible_test_and_no_test_refers_to_one_it_may_not_see():
    from autograder.grade import _explain_once

    shared = "Softmax.forward raised NameError: name 'np' is not defined\nTraceback (your code only):\n  x.py, line 3"
    checks = [_result("1.1", "hidden", shared), _result("2.1", "after_due_date", shared),
              _result("3.1", "visible", shared), _result("4.1", "visible", shared), _result("5.1", "hidden", shared)]
    _explain_once(checks)
    full = [c.number for c in checks if c.message == shared]
    assert full == ["3.1"]
    for check in checks:
        if check.number != "3.1":
            assert check.message.startswith("Same error as test 3.1 (case3.1: forward (A)): Softmax.forward raised")
    hidden_only = [_result("1.1", "hidden", shared), _result("2.1", "after_due_date", shared),
                   _result("3.1", "hidden", shared)]
    _explain_once(hidden_only)
    assert [c.message == shared for c in hidden_only] == [True, True, False]
    assert hidden_only[2].message.startswith("Same error as test 1.1 ")
    short = [_result("1.1", "visible", "Softmax.forward is not implemented yet."),
             _result("2.1", "visible", "Softmax.forward is not implemented yet.")]
    _explain_once(short)
    assert all(c.message == "Softmax.forward is not implemented yet." for c in short)  # a reference is no shorter

# -- the diagnosed mistakes, as data (for the class report) ---------------------------------------------

@pytest.mark.parametrize("name", sorted(p.stem for p in MISTAKES.glob("*.py")))
def test_each_check_carries_the_catalogue_mistake_diagnosed_in_it(name):
    result = graded(f"{name}.py")
    checks = graded_checks(result)
    assert {c.mistakes for c in checks} <= {(), (name,)}, name
    assert not any(c.mistakes for c in checks if c.passed)
    named = [c for c in checks if c.mistakes]
    assert named, f"{name}: no failed check names it"
    assert all(FEEDBACK.by_name[name].hint in _full(result, c) for c in named)  # the same diagnosis as the hint
    document = to_gradescope(result)
    assert [t.get("extra_data", {}).get("mistakes", []) for t in document["tests"]] == \
        [list(c.mistakes) for c in result.checks]


def test_structural_facts_and_unknown_failures_carry_no_mistake_name():
    result = graded((SUBMISSIONS / "off_by_0_1_percent.py").read_text())  # "every value is 1.001 times ..."
    checks = graded_checks(result)
    assert all(not c.passed for c in checks) and any("times the expected" in c.message for c in checks)
    assert all(c.mistakes == () for c in checks)
    assert all("extra_data" not in t for t in to_gradescope(result)["tests"])
