"""The escalation rule, stated once: only passes come from a process that answered other checks.

Every backend answers checks from a *shared* process while they pass (a
process per check would cost several times the checks). An answer the
grader finds wrong, from such a process, is decided again in a process that
ran nothing else, and so is every later check of that submission. Inside a
backend, anything but an answer (an exception, a crash, a malformed or
oversized reply) already takes that path: in ``hardened`` a fresh child of
the host, then, for a crash, a worker of its own; in ``portable`` a worker
of its own, which is both.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import numpy as np

from .base import SandboxBase, Target
from .outcome import CallOutcome

Verdict = TypeVar("Verdict", bound=tuple)


def decide(sandbox: SandboxBase, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
           judge: Callable[[CallOutcome], Verdict], *, call_timeout: float,
           target: Target | None = None) -> tuple[CallOutcome, Verdict]:
    """Run one check and judge it; a failed judgement of a shared answer is made again on a fresh run.

    `judge` gives the grader's verdict on an outcome, a tuple whose first item says whether it passed.
    """
    outcome = sandbox.run(steps, inputs, call_timeout=call_timeout, target=target)
    verdict = judge(outcome)
    if not verdict[0] and outcome.shared:
        outcome = sandbox.run(steps, inputs, call_timeout=call_timeout, target=target, fresh=True)
        verdict = judge(outcome)
    return outcome, verdict
