"""An informational, zero-point note when a method is far slower than a vectorised implementation.

Given only for a problem whose data asks for it (``feedback.efficiency`` in
the config: the method, a vectorised NumPy expression of the case's arrays,
how to rank cases by size, and the advice). Measured in the same run: the
worker reports how long each graded call took; the grader times the
expression on the same inputs (best of a few runs) and compares the two as a
ratio. Only the largest cases are used, and all of them must be slow, so
that start-up costs and a busy machine do not raise a false note. No points
ever depend on it.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .expressions import compiled, evaluate
from .feedback import Efficiency, case_arrays, feedback_of
from .fixtures import Case, Check
from .results import CheckResult
from .timing import best_seconds

SLOW_RATIO = 20.0  # "far slower": at least this many times the vectorised time ...
MIN_SECONDS = 2e-4  # ... and at least this long, so first-call costs alone never count
CASES_COMPARED = 2  # the largest cases of the method; every one of them must be slow
REPEATS = 5


def note_name(method: str) -> str:
    """The note's test name."""
    return f"efficiency: {method} (informational)"


def vectorised_seconds(fast: str, case: Case, repeats: int = REPEATS) -> float:
    """Best-of-`repeats` time of the vectorised expression on a case's arrays."""
    code, names = compiled(fast), {"__builtins__": {}, "np": np}
    arrays = case_arrays(case)
    with np.errstate(all="ignore"):
        return best_seconds(lambda: eval(code, names, arrays), repeats)  # noqa: S307 - checked when compiled


def _cost(spec: Efficiency, case: Case) -> float | None:
    """How large a case is for the note (None: the expressions do not apply to it)."""
    try:
        cost = float(evaluate(spec.cost, case_arrays(case)))
        evaluate(spec.fast, case_arrays(case))
    except Exception:  # noqa: BLE001 - a case without the arrays the note reads is not timed
        return None
    return cost


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def informational_checks(graded: Iterable[tuple[Case, Check, Any, CheckResult]], cases: list[Case]) -> list[CheckResult]:
    """One zero-point check per problem that asks for a speed note and whose method returned at least once."""
    notes = []
    by_problem: dict[str, list[tuple[Case, Check, Any, CheckResult]]] = {}
    for item in graded:
        by_problem.setdefault(item[0].problem.name, []).append(item)
    for items in by_problem.values():
        spec = feedback_of(items[0][0]).efficiency
        if spec is not None:
            note = _note(spec, items, f"{max(c.number for c in cases) + 1}.{len(notes) + 1}")
            notes += [note] if note is not None else []
    return notes


def _note(spec: Efficiency, graded: list[tuple[Case, Check, Any, CheckResult]], number: str) -> CheckResult | None:
    timed = []
    costs: dict[int, float | None] = {}  # by case: its checks share its arrays
    for case, check, outcome, _ in graded:
        if check.method == spec.method and getattr(outcome, "kind", "") == "ok" and outcome.seconds > 0:
            if id(case) not in costs:
                costs[id(case)] = _cost(spec, case)
            if costs[id(case)] is not None:
                timed.append((case, outcome.seconds, costs[id(case)]))
    if not timed:
        return None
    timed.sort(key=lambda item: item[2], reverse=True)
    measured = []
    if all(seconds >= MIN_SECONDS for _, seconds, _ in timed[:CASES_COMPARED]):  # else no note: no timing either
        for case, seconds, _ in timed[:CASES_COMPARED]:
            fast = vectorised_seconds(spec.fast, case)
            measured.append((case, seconds, fast, seconds / fast))
    method = spec.method
    result = CheckResult(name=note_name(method), number=number, case="efficiency", method=method, max_score=0.0,
                         score=0.0, visibility="visible", tags=("efficiency",),
                         passed=True)  # informational: a note, never a failure
    if measured and all(ratio >= SLOW_RATIO and seconds >= MIN_SECONDS for _, seconds, _, ratio in measured):
        # Times are quoted from a visible test only: student code chooses how long it takes (a sleep
        # can hold a number computed from hidden inputs), and hidden tests show no such number.
        visible = [m for m in measured if not m[0].hidden]
        if visible:
            case, seconds, fast, ratio = visible[0]
            sizes = ", ".join(f"{name} = {evaluate(expression, case_arrays(case))}" for name, expression in spec.sizes)
            said = (f"your {method} took {_ms(seconds)} on test {case.name}{f' ({sizes})' if sizes else ''}, about "
                    f"{ratio:.0f} times as long as a vectorised {method} on the same inputs ({_ms(fast)})")
        else:
            said = (f"your {method} took more than {SLOW_RATIO:g} times as long as a vectorised {method} on the "
                    "largest tests (hidden ones, whose times are not shown)")
        result.message = f"For information only (no points): {said}.\n{spec.note}"
    return result
