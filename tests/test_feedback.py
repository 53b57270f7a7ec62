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

from autograder import diagnose, efficiency, mistakes
from autograder.compare import compare
from autograder.config import Limits
from autograder.fixtures import Case, Tolerance, load_cases
from autograder.grade import explain_error, grade_submission
from autograder.paths import DEFAULT_FIXTURES
from autograder.results import CheckResult, GradingResult, to_gradescope
from helpers import PROJECT, SUBMISSIONS

MISTAKES = SUBMISSIONS / "mistakes"
LIMITS = Limits(call_timeout=3, import_timeout=5, budget=20)
CASES = load_cases(DEFAULT_FIXTURES)
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
        return grade_submission(MISTAKES / source, limits=LIMITS)
    folder = Path(tempfile.mkdtemp(dir=WORK.name))
    target = folder / "mytorch" / "nn" / "activation.py"
    target.parent.mkdir(parents=True)
    target.write_text(source)
    return grade_submission(folder, limits=LIMITS)


def graded_checks(result: GradingResult) -> list[CheckResult]:
    return [c for c in result.checks if "efficiency" not in c.tags]


def failed(result: GradingResult) -> list[CheckResult]:
    return [c for c in graded_checks(result) if not c.passed]


def hint(name: str) -> str:
    return mistakes.named(name).hint


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
    "returns_jacobian.py": {"backward": hint("returns_jacobian")},
    "raises_in_backward.py": {"backward": hint("raises_in_backward")},
}

# A first line with numbers or a place, by kind of failure: the hint never replaces it.
FACTS = re.compile(r"values are outside the tolerance|value\(s\) out of \d+|expected shape \(|returned None instead"
                   r"|returned a list of shape|modified its input|raised \w+Error: .*\d")


def test_there_is_one_submission_per_named_mistake():
    files = {p.name for p in MISTAKES.glob("*.py")}
    assert files == set(NAMED)
    assert {name.removesuffix(".py") for name in NAMED} <= set(mistakes.BY_NAME)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_failing_tests_name_the_mistake_and_give_the_numbers(name):
    result = graded(name)
    wanted = NAMED[name]
    bad = failed(result)
    assert bad, f"{name} passed every test"
    for check in bad:
        assert check.method in wanted, f"{check.name} should pass:\n{check.message}"
        assert wanted[check.method] in check.message, f"{check.name} does not name the mistake:\n{check.message}"
        first = check.message.splitlines()[0]
        assert FACTS.search(first), f"{check.name}: the first line should give the facts:\n{check.message}"
        assert len(check.message.splitlines()) <= 12, check.message
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
        assert diagnose.single_sample_note("backward", batch(check.case), advice=False) in check.message
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
    result = grade_submission(PROJECT / "reference", limits=LIMITS)
    assert result.score == result.max_score
    assert all(c.passed and c.message == "" for c in graded_checks(result))
    info = [c for c in result.checks if "efficiency" in c.tags]
    assert len(info) == 1 and info[0].max_score == 0 and info[0] is result.checks[-1]


def test_float32_code_gets_no_diagnosis_of_a_mistake():
    """Where correct float32 code misses the tolerance, the feedback says rounding, never a mistake."""
    hints = [m.hint for m in mistakes.CATALOGUE]
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
    names = [m.name for m in mistakes.CATALOGUE]
    assert len(names) == len(set(names))
    for mistake in mistakes.CATALOGUE:
        assert mistake.method in ("forward", "backward")
        assert mistake.hint.startswith("Looks like ") and len(mistake.hint) < 400
        compile(mistake.mutant, f"<mutant {mistake.name}>", "exec")


@pytest.mark.parametrize("mistake", [m for m in mistakes.CATALOGUE], ids=lambda m: m.name)
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
        shown += 1
        assert mistake.hint in diagnose.hints(check, case, produced, verdict), (mistake.name, case.name)
    if mistake.name not in ("modifies_input", "returns_list", "returns_none", "raises_in_backward", "missing_keepdims"):
        assert shown, f"{mistake.name} shows on no case"


def _run_mutant(mistake: mistakes.Mistake, case: Case):
    """Run the mutant in this (test) process on one case, as the worker would: forward, then backward with the reference A."""
    namespace: dict = {}
    exec(compile(mistake.mutant, f"<mutant {mistake.name}>", "exec"), namespace)  # our own trusted source
    layer = namespace["Softmax"]()
    z = case.inputs["Z"].copy()
    with np.errstate(all="ignore"):
        if mistake.method == "forward":
            return layer.forward(z), not np.array_equal(z, case.inputs["Z"])
        layer.forward(z.copy())
        layer.A = case.expected["A"].copy()
        return layer.backward(case.inputs["dLdA"].copy()), False


@pytest.mark.parametrize("mistake", [m for m in mistakes.CATALOGUE], ids=lambda m: m.name)
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
    assert not any(m.hint in found for m in mistakes.CATALOGUE)
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
    assert hint("missing_keepdims") in text
    assert f"({n},{c}) ({n},)" in text  # shapes stay
    assert "0.123456" not in text and "2.5e-3" not in text and "7.75" not in text
    visible = next(c for c in CASES if not c.hidden)
    assert "0.123456" in explain_error(outcome, visible)
    outcome.error = {"type": "NotImplementedError", "message": "", "frames": [], "not_implemented": True}
    assert "not implemented yet" in explain_error(outcome, visible)


# -- hidden tests leak no hidden data -----------------------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


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
    assert note.name == efficiency.NAME and note.max_score == 0 and note.score == 0 and note.tags == ("efficiency",)
    assert "no points" in note.message and re.search(r"about \d+ times as long", note.message)
    assert efficiency.informational_checks(_timed(1e-6), CASES)[0].message == ""
    assert efficiency.informational_checks([], CASES) == []


def test_efficiency_note_for_a_triple_loop_backward():
    result = grade_submission(SUBMISSIONS / "demo", limits=LIMITS)
    note = result.checks[-1]
    assert note.name == efficiency.NAME and note.max_score == 0 and "efficiency" in note.tags
    assert re.search(r"your backward took [\d.]+ ms on .*, about \d+ times as long as a vectorised backward", note.message)
    assert note.score == 0 and result.score == sum(c.score for c in graded_checks(result))


# -- the diagnosed mistakes, as data (for the class report) ---------------------------------------------

@pytest.mark.parametrize("name", sorted(p.stem for p in MISTAKES.glob("*.py")))
def test_each_check_carries_the_catalogue_mistake_diagnosed_in_it(name):
    result = graded(f"{name}.py")
    checks = graded_checks(result)
    assert {c.mistakes for c in checks} <= {(), (name,)}, name
    assert not any(c.mistakes for c in checks if c.passed)
    named = [c for c in checks if c.mistakes]
    assert named, f"{name}: no failed check names it"
    assert all(mistakes.named(name).hint in c.message for c in named)  # the same diagnosis as the hint
    document = to_gradescope(result)
    assert [t.get("extra_data", {}).get("mistakes", []) for t in document["tests"]] == \
        [list(c.mistakes) for c in result.checks]


def test_structural_facts_and_unknown_failures_carry_no_mistake_name():
    result = graded((SUBMISSIONS / "off_by_0_1_percent.py").read_text())  # "every value is 1.001 times ..."
    checks = graded_checks(result)
    assert all(not c.passed for c in checks) and any("times the expected" in c.message for c in checks)
    assert all(c.mistakes == () for c in checks)
    assert all("extra_data" not in t for t in to_gradescope(result)["tests"])
