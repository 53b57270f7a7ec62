"""How long vectorised work takes on this machine, measured while grading.

Per-call time limits and the efficiency note both compare student code with
vectorised NumPy timed in the same run, on the same machine, on the same
inputs: a slow machine then gives honest code more time, and a fast one
stops hung code sooner, without a constant tuned for one machine.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .fixtures import Case
from .limits import Limits

REPEATS = 3  # best of: the first run pays for caches and page faults


def best_seconds(compute: Callable[[], object], repeats: int = REPEATS, *, enough: float = 0.0) -> float:
    """Best-of-`repeats` wall time of `compute()` (at least 0.1 µs, so that ratios stay finite); it stops
    early once a run took at most `enough` seconds, for a caller to whom any time under that is the same."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        compute()
        best = min(best, time.perf_counter() - start)
        if best <= enough:
            break
    return max(best, 1e-7)


def reference_pass(case: Case) -> None:
    """The reference's vectorised work on a case: over each input, the max, exp and a row sum.

    This is what a vectorised softmax forward does, and about what its
    backward does (elementwise products and a row sum). It needs no solution
    code, so the student handout times it the same way.
    """
    with np.errstate(all="ignore"):
        for array in case.inputs.values():
            values = np.asarray(array, dtype=np.float64)
            shifted = values - values.max(axis=-1, keepdims=True)
            np.exp(shifted).sum(axis=-1)


def reference_seconds(case: Case, *, enough: float = 0.0) -> float:
    """This machine's time for the reference's vectorised work on the case (see reference_pass); `enough`:
    see best_seconds."""
    return best_seconds(lambda: reference_pass(case), enough=enough)


def call_limit(reference: float, limits: Limits) -> float:
    """Wall-clock limit for one call: `call_multiple` times the reference's time, and never under the floor.

    The floor (`call_timeout`) covers start-up costs and honest loops on
    small cases; the multiple scales the limit with the case and the machine.
    """
    return max(limits.call_timeout, limits.call_multiple * reference)
