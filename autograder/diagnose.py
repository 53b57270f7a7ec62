"""Hints for recognisable mistakes: "Looks like ..." lines added under the numbers of a failed check.

Three sources. Those about one problem come from its data (feedback.py: the
config's ``mistakes`` and ``feedback``, copied into the fixtures folder), so an
instructor extends them without touching the grader, and a problem without
such data gets none of them:

- its catalogued mistakes: the student's array is compared with what each
  mistake would return for the same case (a NumPy expression of the case's
  arrays), or their kind of value or exception is recognised;
- structural recognisers: facts that are not one array. The general ones
  apply to every problem whose output has one sample per row: a constant
  factor (with its value), a constant offset, some rows right and others
  not, values right but shaped wrong, all zeros, rounding. Those a problem
  switches on: rows that do not sum to 1, NaN on large inputs (in its words);
- error signs: patterns in an exception's message that point to a mistake.

A hint never replaces the numbers compare.py gives, and for hidden tests it
never shows values computed from the hidden inputs (factors, error sizes,
row numbers and shapes are fine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterable

import numpy as np

from .compare import Verdict, fmt, within
from .expressions import evaluate
from .feedback import Feedback, Mistake, case_arrays, feedback_of
from .fixtures import Case, Check, Tolerance

# A wrong output "matches" a mistake within the case tolerance, loosened to
# these floors so that a float32 version of the same mistake still matches.
LOOSE_RTOL = 1e-4
LOOSE_ATOL = 1e-7
# Errors below this fraction of the largest expected value are rounding, not a mistake.
NEAR_MISS = 1e-6


@dataclass(frozen=True)
class Diagnosis:
    """One recognised mistake or fact: `name` is a catalogued mistake's (then `mistake`) or a structural one."""

    name: str
    text: str
    mistake: bool = False


# -- matching ---------------------------------------------------------------------------------

def _loose(tol: Tolerance) -> Tolerance:
    return Tolerance(rtol=max(10 * tol.rtol, LOOSE_RTOL), atol=max(10 * tol.atol, LOOSE_ATOL))


def same_values(x: np.ndarray, y: np.ndarray, tol: Tolerance) -> bool:
    """Same shape, NaN and inf in the same places, finite values within `tol` of each other."""
    if x.shape != y.shape:
        return False
    fx, fy = np.isfinite(x), np.isfinite(y)
    if not (np.array_equal(np.isnan(x), np.isnan(y)) and np.array_equal(np.isposinf(x), np.isposinf(y))
            and np.array_equal(np.isneginf(x), np.isneginf(y))):
        return False
    return bool(np.all(within(x[fx], y[fy], tol)))


def _comparable(actual: np.ndarray, produced: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
    """`actual` in the produced shape, or None when the shapes tell them apart.

    A wrongly shaped answer may differ from the mistake's by axes of length 1
    only (a (C, C) Jacobian against the (1, C, C) the mistake gives for N = 1),
    but not have more axes than both: a (1, ..., 1, 1, C) answer for N = 1 is
    not the squeezed (C,) of a mistake.
    """
    if actual.shape == produced.shape:
        return actual
    if actual.ndim > max(produced.ndim, expected.ndim):
        return None
    if actual.shape != expected.shape and actual.size == produced.size \
            and np.squeeze(actual).shape == np.squeeze(produced).shape:
        return actual.reshape(produced.shape)
    return None


def shows(produced: Any, expected: np.ndarray, tol: Tolerance) -> bool:
    """True when a mistake's output on a case is evidence: an array, wrong there, and not just zeros.

    A mistake whose output is within tolerance of zero everywhere (say
    "first row only" where the first row's expected values are ~0) cannot be
    told from an array that was never filled in: matching it proves nothing.
    """
    if not isinstance(produced, np.ndarray) or produced.dtype.kind not in "fiu":
        return False
    produced = produced.astype(np.float64)
    if produced.shape == expected.shape and same_values(produced, expected, tol):
        return False  # the mistake gives the right answer here: it explains nothing
    return not same_values(produced, np.zeros_like(produced), _loose(tol))


def matches(actual: np.ndarray, produced: Any, expected: np.ndarray, tol: Tolerance) -> bool:
    """True when `actual` is what a mistake produced, and the mistake is visible on this case."""
    if not shows(produced, expected, tol):
        return False
    produced = produced.astype(np.float64)
    shaped = _comparable(actual, produced, expected)
    return shaped is not None and same_values(shaped, produced, _loose(tol))


def produced_by(mistake: Mistake, case: Case, feedback: Feedback | None = None) -> Any:
    """What a catalogued mistake returns on a case (None when it cannot be computed)."""
    feedback = feedback_of(case) if feedback is None else feedback
    try:
        return feedback.produced(mistake, case_arrays(case), case.inputs)
    except Exception:  # noqa: BLE001 - a faulty catalogue entry must not stop grading
        return None


def catalogue_matches(check: Check, case: Case, actual: np.ndarray,
                      excluded: Collection[str] = ()) -> list[Mistake]:
    """The case's problem's mistakes whose output for this case is what the student returned (but those
    `excluded`)."""
    if check.output not in case.expected:
        return []
    feedback = feedback_of(case)
    expected = case.expected[check.output]
    found = []
    for mistake in feedback.mistakes:
        if mistake.method != check.method or mistake.name in excluded:
            continue
        if matches(actual, produced_by(mistake, case, feedback), expected, case.tolerance):
            found.append(mistake)
    return found


# -- structural recognisers -------------------------------------------------------------------

@dataclass
class Context:
    """What a structural recogniser may look at."""

    check: Check
    case: Case
    actual: np.ndarray  # float64
    expected: np.ndarray
    verdict: Verdict
    named: tuple[str, ...]  # catalogue mistakes already recognised
    dtype: np.dtype  # what the student returned, before conversion to float64
    feedback: Feedback = Feedback()  # what the case's problem switches on

    @property
    def hidden(self) -> bool:
        return self.case.hidden


def _ratio_name(k: float, n: int, c: int) -> str:
    for value, name in ((-1.0, "-1: the sign is flipped"), (1.0 / n, f"1/N with N = {n}"), (float(n), f"N = {n}"),
                        (1.0 / c, f"1/C with C = {c}"), (float(c), f"C = {c}"), (0.5, "1/2"), (2.0, "2")):
        if value != 1.0 and abs(k - value) <= 1e-6 * abs(value):
            return f" (= {name})"
    return ""


def _constant_factor(ctx: Context) -> list[str]:
    a, e = ctx.actual, ctx.expected
    if ctx.verdict.kind != "values" or a.ndim != 2:
        return []
    denominator = float(np.sum(e * e))
    if denominator == 0 or np.all(within(a, np.zeros_like(a), ctx.case.tolerance)):
        return []  # an output within tolerance of zero is "times 0" for any tiny factor: no claim
    k = float(np.sum(a * e)) / denominator
    if not np.isfinite(k) or abs(k) < 1e-12 or abs(k - 1) < 1e-9 or not np.all(within(a, k * e, ctx.case.tolerance)):
        return []
    if abs(k + 1) < 1e-9 and ctx.named:
        return []  # a named sign error says it already
    n, c = e.shape
    shown = f"{k:.2g}" if ctx.hidden else fmt(k)
    if shown.lstrip("-") == "1":  # two digits would hide a small factor such as 1.001
        shown = f"{k:.4g}"
    return [f"Every value is {shown} times the expected one{_ratio_name(k, n, c)}."]


def _constant_offset(ctx: Context) -> list[str]:
    a, e = ctx.actual, ctx.expected
    if ctx.verdict.kind != "values":
        return []
    d = float(np.mean(a - e))
    if d == 0 or not np.all(within(a, e + d, ctx.case.tolerance)):
        return []
    shown = f"{d:+.2g}" if ctx.hidden else f"{d:+.4g}"
    return [f"Every value is off by the same amount, {shown}: is a constant added (or subtracted) somewhere?"]


def _row_sums(ctx: Context) -> list[str]:
    """Forward only, when the problem switches it on (rows_sum_to_one): rows that should sum to 1 and do not."""
    a, e = ctx.actual, ctx.expected
    if not ctx.feedback.rows_sum_to_one or ctx.check.method != "forward" or ctx.verdict.kind != "values" \
            or a.ndim != 2:
        return []
    if not np.allclose(e.sum(axis=1), 1.0, rtol=0, atol=1e-9):
        return []  # not a softmax output: nothing to say
    sums = a.sum(axis=1)
    off = np.abs(sums - 1) > 1e-6 * a.shape[1]
    if not off.any():
        return []
    rows = [int(i) for i in np.flatnonzero(off)]
    proportional = bool(np.all(within(a, sums[:, None] * e, ctx.case.tolerance)))
    should = f"Each row of {ctx.check.output} should sum to 1"
    if ctx.hidden:
        text = f"{should}; {len(rows)} of your {a.shape[0]} rows do not."
    elif len(rows) == 1:
        text = f"{should}; your row {rows[0]} sums to {fmt(float(sums[rows[0]]))}."
    elif float(sums[off].min()) == float(sums[off].max()):
        text = f"{should}; {len(rows)} of your {a.shape[0]} rows sum to {fmt(float(sums[rows[0]]))}."
    else:
        text = (f"{should}; {len(rows)} of your {a.shape[0]} rows do not "
                f"(their sums range from {fmt(float(sums[off].min()))} to {fmt(float(sums[off].max()))}).")
    if proportional and not ctx.named:
        text += " Within each row the proportions are right: divide each row by its own sum."
    return [text]


def _rows(ctx: Context) -> list[str]:
    """Some rows right and others not: what the wrong ones look like (when no mistake was named)."""
    a = ctx.actual
    bad = ctx.verdict.bad_rows
    if ctx.verdict.kind != "values" or a.ndim != 2 or a.shape[0] < 2 or not bad or ctx.named:
        return []
    n = a.shape[0]
    if not np.any(a):
        return []  # said by _all_zero
    good = [r for r in range(n) if r not in set(bad)]
    if not good:
        return []
    if all(not np.any(a[r]) for r in bad):
        return [f"{_rows_text(good)} right but every wrong row is all zeros: does a loop stop early, or skip rows?"]
    if good == [0]:
        return ["Only row 0 is right: the code may treat the batch as a single sample "
                "(a sum or maximum without axis=1, or values taken from the first row)."]
    return [f"{_rows_text(good)} right ({len(good)} of {n})."]


def _all_zero(ctx: Context) -> list[str]:
    """Every value zero where the expected ones are not: said as such, whatever N is."""
    if ctx.verdict.kind != "values" or np.any(ctx.actual):
        return []
    return ["Your output is all zeros: is the array created but never filled in?"]


def _rows_text(rows: list[int]) -> str:
    if len(rows) == 1:
        return f"Row {rows[0]} is"
    return "Rows " + ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "") + " are"


def _reshaped_values(ctx: Context) -> list[str]:
    """Right values in the wrong shape, or transposed."""
    if ctx.verdict.kind != "shape" or ctx.named:
        return []
    a, e = ctx.actual, ctx.expected
    loose = _loose(ctx.case.tolerance)
    if a.size == e.size and same_values(a.reshape(e.shape), e, loose):
        return ["The values are right; only the shape is wrong."]
    if e.ndim == 2 and a.shape == e.shape[::-1] and same_values(a.T, e, loose):
        return ["The values are right but transposed: rows are samples, columns are classes."]
    return []


def _nonfinite(ctx: Context) -> list[str]:
    """NaN or inf: where it usually comes from, or, on a case with large inputs, what the problem's data says."""
    if ctx.verdict.kind != "nonfinite" or ctx.named:
        return []
    large = ctx.feedback.large_inputs
    given = ctx.case.inputs.get(large.input) if large is not None else None
    if large is None or large.text.get(ctx.check.method) is None or not (
            (large.tag and large.tag in ctx.case.tags) or (given is not None and float(np.max(np.abs(given))) > large.above)):
        return ["NaN usually comes from 0/0 or inf - inf, inf from a division by zero or exp of a large number."]
    precision = large.float32 if ctx.dtype == np.float32 else ""
    return [large.text[ctx.check.method].replace("{float32}", precision)]


def near_miss(ctx: Context) -> list[str]:
    """Errors far below the size of the values: rounding, not a wrong formula."""
    a, e = ctx.actual, ctx.expected
    if ctx.verdict.kind != "values" or ctx.named:
        return []
    scale = float(np.max(np.abs(e)))
    worst = float(np.max(np.abs(a - e)))
    if scale == 0 or worst > NEAR_MISS * scale:
        return []
    precision = " (your array is float32)" if ctx.dtype == np.float32 else ""
    return [f"Looks like rounding error, not a wrong formula: every error is below {NEAR_MISS:g} of the largest "
            f"expected value, and only tiny entries fail{precision}. Subtracting nearly equal numbers (such as "
            "1 - a for a close to 1) loses digits, and float32 keeps only about 7; compute in float64."]


# Each recogniser sees the context and returns lines; the order is the order shown. A near miss
# (rounding) is said alone: the others would read a pattern into noise.
STRUCTURAL: tuple[Callable[[Context], list[str]], ...] = (
    _reshaped_values, _nonfinite, _all_zero, _constant_factor, _constant_offset, _row_sums, _rows,
)


# -- recognisers by kind: what is not an array ------------------------------------------------

def _by_kind(verdict: Verdict, feedback: Feedback) -> list[Mistake]:
    """The problem's mistakes recognised by the kind of value returned (returns: none or list)."""
    kind = "none" if verdict.kind == "none" else "list" if verdict.kind == "type" and verdict.returned_type == "list" \
        else None
    return [m for m in feedback.mistakes if kind is not None and m.returns == kind]


def _kind_lines(verdict: Verdict) -> list[str]:
    if verdict.kind == "type" and verdict.returned_type == "tuple":
        return ["Looks like the method returns several values (a tuple): return only the array."]
    if verdict.kind == "type" and verdict.returned_type == "matrix":
        return ["Looks like np.matrix was used: it behaves differently from arrays (* is a matrix product); "
                "use np.array and @."]
    return []


# -- the entry points -------------------------------------------------------------------------

def diagnose(check: Check, case: Case, actual: np.ndarray | None, verdict: Verdict,
             excluded: Collection[str] = ()) -> list[Diagnosis]:
    """Everything recognised about a failed check, catalogue mistakes first.

    `excluded` names catalogue mistakes that other checks contradict (see contradicted).
    """
    if verdict.passed:
        return []
    feedback = feedback_of(case)
    found = [Diagnosis(m.name, m.hint, True) for m in _by_kind(verdict, feedback)]
    found += [Diagnosis("kind", line) for line in _kind_lines(verdict)]
    expected = case.expected.get(check.output)
    if actual is None or expected is None or actual.dtype.kind not in "fiu" or actual.size == 0:
        return found
    actual64 = actual.astype(np.float64)
    named = catalogue_matches(check, case, actual64, excluded)
    found += [Diagnosis(m.name, m.hint, True) for m in named]
    if verdict.kind == "shape" and not named:
        meaning = next((m.text for m in feedback.shapes if m.fits(actual.shape, expected.shape)), verdict.hint)
        if meaning:
            found.append(Diagnosis("shape", meaning))
    ctx = Context(check, case, actual64, expected, verdict, tuple(m.name for m in named), actual.dtype, feedback)
    rounding = near_miss(ctx) if actual64.shape == expected.shape else []
    if rounding:
        return found + [Diagnosis("near_miss", line) for line in rounding]
    for recogniser in STRUCTURAL:
        try:
            with np.errstate(all="ignore"):
                lines = recogniser(ctx)
        except Exception:  # noqa: BLE001 - a faulty recogniser must not stop grading
            lines = []
        found += [Diagnosis(recogniser.__name__.strip("_"), line) for line in lines]
    return found


def hints(check: Check, case: Case, actual: np.ndarray | None, verdict: Verdict,
          excluded: Collection[str] = ()) -> list[str]:
    """'Looks like ...' lines for a failed check; empty when nothing is recognised."""
    return hint_lines(diagnose(check, case, actual, verdict, excluded))


def hint_lines(found: Iterable[Diagnosis]) -> list[str]:
    """The lines a student reads for these diagnoses, each once."""
    return list(dict.fromkeys(d.text for d in found))


def catalogued(found: Iterable[Diagnosis]) -> list[str]:
    """The names of the catalogue mistakes among these diagnoses (structural facts left out), each once."""
    return list(dict.fromkeys(d.name for d in found if d.mistake))


def mutation_diagnoses(case: Case, method: str) -> list[Diagnosis]:
    """The problem's mistakes of a method that changed its input in place (modifies_input), with their hints."""
    return [Diagnosis(m.name, m.hint, True) for m in feedback_of(case).mistakes
            if m.modifies_input and m.method == method]


# -- exceptions -------------------------------------------------------------------------------

def _holds(expression: str | None, names: dict[str, Any]) -> bool:
    """An error sign's test on the case (None: always); one that cannot be computed does not hold."""
    if expression is None:
        return True
    try:
        return bool(evaluate(expression, names))
    except Exception:  # noqa: BLE001 - an input the sign does not expect: no evidence
        return False


def error_hints(error: dict[str, Any], method: str, case: Case | None) -> list[str]:
    """Hints for an exception raised by the student's method."""
    return hint_lines(error_diagnoses(error, method, case))


def error_diagnoses(error: dict[str, Any], method: str, case: Case | None) -> list[Diagnosis]:
    """The problem's mistakes an exception raised by the student's method points to, each with its hint.

    The evidence is all of it: the exception's type, its message, the numbers
    in it (the sign's `fits`) and the case's inputs (its `when`: logits beyond
    what exp() can take, say).
    """
    if case is None:
        return []
    message, etype = str(error.get("message", "")), str(error.get("type", ""))
    arrays = case_arrays(case)
    found = []
    for mistake in feedback_of(case).mistakes:
        for sign in mistake.raises:
            if etype != sign.exception:
                continue
            if (not sign.any_method and mistake.method != method) or (sign.method and sign.method != method):
                continue
            if not _holds(sign.when, arrays):
                continue
            hit = sign.pattern.search(message)
            if hit and _holds(sign.fits, {**arrays, "numbers": [int(g) for g in hit.groups() if g is not None]}):
                found.append(Diagnosis(mistake.name, sign.text or mistake.hint, True))
    return found


# -- across checks ----------------------------------------------------------------------------

def single_sample_note(method: str, n: int, advice: str = "") -> str:
    """The fact that a method is right for N = 1 only, with where to look (`advice`) unless a line above says it."""
    fact = f"Your {method} passes every single-sample test (N = 1) but not this batch of N = {n}"
    return f"{fact}: {advice}" if advice else fact + "."


def _by_problem(graded: Iterable[tuple[Case, Check, Any, Any]]) -> dict[str, list[tuple[Case, Check, Any, Any]]]:
    groups: dict[str, list[tuple[Case, Check, Any, Any]]] = {}
    for item in graded:
        groups.setdefault(item[0].problem.name, []).append(item)
    return groups


def across_checks(graded: Iterable[tuple[Case, Check, Any, Any]]) -> None:
    """Add notes that need several checks: right for N = 1 only, for the problems that switch it on
    (single_sample: the input whose rows are the samples, and the advice).

    `graded` holds (case, check, outcome, result) with result a CheckResult
    whose message is extended in place. The note is a claim about batches:
    it is not made when a batch test of the same method passed. A visible
    test's note rests on visible tests alone: what hidden tests did (which
    student code can make depend on their inputs) never shows in one.
    """
    graded = list(graded)
    for evidence, hidden in (([g for g in graded if not g[0].hidden], False), (graded, True)):
        for items in _by_problem(evidence).values():
            note = feedback_of(items[0][0]).single_sample
            if note is not None:
                _single_sample(items, note.input, note.advice, hidden)


def _single_sample(graded: list[tuple[Case, Check, Any, Any]], given: str, advice: str, hidden: bool) -> None:
    """The note on the failed batch tests of the given visibility (`hidden`), on the evidence of `graded`."""
    for method in dict.fromkeys(check.method for _, check, _, _ in graded):
        rows = [(case, outcome, result) for case, check, outcome, result in graded
                if check.method == method and given in case.inputs and case.inputs[given].ndim == 2]
        singles = [result for case, _, result in rows if case.inputs[given].shape[0] == 1]
        if not singles or not all(r.passed for r in singles):
            continue
        if any(result.passed for case, _, result in rows if case.inputs[given].shape[0] > 1):
            continue  # some batch is right: what fails is not "batches"
        for case, outcome, result in rows:
            n = case.inputs[given].shape[0]
            if case.hidden == hidden and n > 1 and not result.passed and getattr(outcome, "kind", "") in ("ok", "error") \
                    and "Looks like" not in result.message:
                said = any(said in result.message for said in ("Only row 0 is right", "wrong row is all zeros"))
                result.message += "\n" + single_sample_note(method, n, "" if said else advice)


def contradicted(graded: Iterable[tuple[Case, Check, Any, Any]]) -> dict[tuple[str, str], set[str]]:
    """Catalogue mistakes that some check rules out, by (problem, method): never to be named for this submission.

    A mistake is ruled out when, on a case where it would show (its output
    is wrong there, and not just zeros), the student's check passed, or
    returned a finite array that is not what the mistake returns. An
    exception, or NaN and inf (another mistake, overflow, can hide this one),
    is no evidence either way.
    """
    out: dict[tuple[str, str], set[str]] = {}
    for problem, items in _by_problem(graded).items():
        feedback = feedback_of(items[0][0])
        for mistake in feedback.mistakes:
            if _ruled_out(mistake, items, feedback):
                out.setdefault((problem, mistake.method), set()).add(mistake.name)
    return out


def _ruled_out(mistake: Mistake, graded: list[tuple[Case, Check, Any, Any]], feedback: Feedback) -> bool:
    """True when some check of the problem rules the mistake out (see contradicted)."""
    for case, check, outcome, result in graded:
        if check.method != mistake.method or check.output not in case.expected:
            continue
        expected = case.expected[check.output]
        produced = produced_by(mistake, case, feedback)
        if not shows(produced, expected, case.tolerance):
            continue
        actual = getattr(outcome, "array", None)
        if result.passed:
            ruled_out = True
        elif getattr(outcome, "kind", "") != "ok" or not isinstance(actual, np.ndarray) \
                or actual.dtype.kind not in "fiu" or actual.size == 0:
            ruled_out = False
        else:
            actual = actual.astype(np.float64)
            ruled_out = bool(np.all(np.isfinite(actual))) and not matches(actual, produced, expected,
                                                                             case.tolerance)
        if ruled_out:
            return True
    return False


def names_any(message: str, names: Collection[str], case: Case) -> bool:
    """True when a message gives the hint of one of these mistakes of the case's problem."""
    by_name = feedback_of(case).by_name
    return any(name in by_name and by_name[name].hint in message for name in names)
