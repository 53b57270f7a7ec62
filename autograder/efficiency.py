"""An informational, zero-point note when backward is far slower than a vectorised implementation.

Measured in the same run: the worker reports how long each graded backward
call took; the grader times the row-wise formula on the same inputs (best
of a few runs) and compares the two as a ratio. Only the largest cases are
used, and all of them must be slow, so that start-up costs and a busy
machine do not raise a false note. No points ever depend on it.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .fixtures import Case, Check
from .mistakes import softmax_backward
from .results import CheckResult
from .timing import best_seconds

NAME = "efficiency: backward (informational)"
SLOW_RATIO = 20.0  # "far slower": at least this many times the vectorised time ...
MIN_SECONDS = 2e-4  # ... and at least this long, so first-call costs alone never count
CASES_COMPARED = 2  # the largest backward cases; every one of them must be slow
REPEATS = 5
CLASS_NAME = "Softmax"


def vectorised_seconds(A: np.ndarray, dLdA: np.ndarray, repeats: int = REPEATS) -> float:
    """Best-of-`repeats` time of the O(N*C) row-wise backward on these inputs."""
    return best_seconds(lambda: softmax_backward(A, dLdA), repeats)


def _applies(case: Case, check: Check) -> bool:
    problem = getattr(case, "problem", None)
    return (check.method == "backward" and getattr(problem, "class_name", CLASS_NAME) == CLASS_NAME
            and "dLdA" in case.inputs and "A" in case.expected and case.inputs["dLdA"].ndim == 2)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def informational_checks(graded: Iterable[tuple[Case, Check, Any, CheckResult]], cases: list[Case]) -> list[CheckResult]:
    """One zero-point check about backward's speed, or none when no backward call returned."""
    timed = [(case, outcome.seconds) for case, check, outcome, _ in graded
             if _applies(case, check) and getattr(outcome, "kind", "") == "ok" and outcome.seconds > 0]
    if not timed:
        return []
    timed.sort(key=lambda item: item[0].inputs["dLdA"].size * item[0].inputs["dLdA"].shape[1], reverse=True)
    measured = []
    for case, seconds in timed[:CASES_COMPARED]:
        fast = vectorised_seconds(case.expected["A"], case.inputs["dLdA"])
        measured.append((case, seconds, fast, seconds / fast))
    result = CheckResult(name=NAME, number=f"{max(c.number for c in cases) + 1}.1", case="efficiency",
                         method="backward", max_score=0.0, score=0.0, visibility="visible", tags=("efficiency",),
                         passed=True)  # informational: a note, never a failure
    if all(ratio >= SLOW_RATIO and seconds >= MIN_SECONDS for _, seconds, _, ratio in measured):
        # Times are quoted from a visible test only: student code chooses how long it takes (a sleep
        # can hold a number computed from hidden inputs), and hidden tests show no such number.
        visible = [m for m in measured if not m[0].hidden]
        if visible:
            case, seconds, fast, ratio = visible[0]
            shape = case.inputs["dLdA"].shape
            said = (f"your backward took {_ms(seconds)} on test {case.name} (N = {shape[0]}, C = {shape[1]}), about "
                    f"{ratio:.0f} times as long as a vectorised backward on the same inputs ({_ms(fast)})")
        else:
            said = (f"your backward took more than {SLOW_RATIO:g} times as long as a vectorised backward on the "
                    "largest tests (hidden ones, whose times are not shown)")
        result.message = (
            f"For information only (no points): {said}.\n"
            "A Python loop over samples, or a C x C Jacobian built for every sample, costs O(N*C^2) work plus "
            "per-iteration overhead. Expanding dLdA[i] @ J_i with J_i = diag(a) - a a^T leaves elementwise "
            "products and one row sum: O(N*C), no loop, no C x C matrix."
        )
    return [result]
