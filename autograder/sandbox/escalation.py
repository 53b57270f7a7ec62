"""The escalation rule, stated once: only passes come from a process that answered other checks.

Every backend answers checks from a *shared* process while they pass (a
process per check would cost several times the checks). An answer the
grader finds wrong, from such a process, is decided again in a process that
ran nothing else, and so is every later check of that submission. Inside a
backend, anything but an answer (an exception, a crash, a malformed or
oversized reply) already takes that path: in ``hardened`` a fresh child of
the host, then, for a crash, a worker of its own; in ``portable`` a worker
of its own, which is both. ``escalate`` is that chain, written once: the
places a check runs in, in order, and when an outcome stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from .base import Ahead, SandboxBase, Target
from .outcome import CallOutcome, Outcome

Verdict = TypeVar("Verdict", bound=tuple)


def decide(sandbox: SandboxBase, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
           judge: Callable[[CallOutcome], Verdict], *, call_timeout: float,
           target: Target | None = None, then: Ahead | None = None) -> tuple[CallOutcome, Verdict]:
    """Run one check and judge it; a failed judgement of a shared answer is made again on a fresh run.

    `judge` gives the grader's verdict on an outcome, a tuple whose first item says whether it passed;
    `then`, the check to run next (see SandboxBase.run).
    """
    outcome = sandbox.run(steps, inputs, call_timeout=call_timeout, target=target, then=then)
    verdict = judge(outcome)
    if not verdict[0] and outcome.shared:
        outcome = sandbox.run(steps, inputs, call_timeout=call_timeout, target=target, fresh=True)
        verdict = judge(outcome)
    return outcome, verdict


def decide_together(sandbox: SandboxBase, batch: tuple[list[dict[str, Any]], dict[str, np.ndarray]],
                    judges: Sequence[Callable[[CallOutcome], Verdict]], *, call_timeout: float,
                    target: Target | None = None, then: Ahead | None = None) -> list[tuple[CallOutcome, Verdict]] | None:
    """Checks answered by one run of `batch` (see worker.run_steps), judged each: their outcomes and verdicts
    when every one passed, else None, and the caller decides each check on its own (`decide`).

    Only a clean answer is used: an exception, a crash, a hang, ... or any output (which belongs to a test
    of its own) makes it None, as does any check that fails, whose failure must be decided in a process
    that ran nothing else. `call_timeout` is one call's time limit: a batch that needs more is decided
    check by check, each with its own.
    """
    steps, inputs = batch
    together = sandbox.run(steps, inputs, call_timeout=call_timeout, target=target, then=then)
    if (together.kind != "ok" or together.items is None or len(together.items) != len(judges)
            or together.output):
        return None
    decided = []
    for item, judge in zip(together.items, judges):
        item.shared, item.wall_seconds, item.max_rss_kb = together.shared, together.wall_seconds, together.max_rss_kb
        verdict = judge(item)
        if not verdict[0]:
            return None
        decided.append((item, verdict))
    return decided


HANGS = frozenset({Outcome.TIMEOUT, Outcome.BUDGET})  # never run again: it would cost a second time limit
# what stands from each place of the hardened backend; anything else runs again in the next place
FROM_SHARED_CHILD = frozenset({Outcome.OK, Outcome.SANDBOX})  # only answers (or a failed sandbox)
FROM_FRESH_CHILD = frozenset(Outcome) - {Outcome.CRASHED, Outcome.PROTOCOL}  # a crash is named by the zygote


@dataclass(frozen=True)
class Place:
    """One place a check can run in, as a chain tries them (see escalate).

    `run` gives its outcome, or None when the place could not take the check;
    `stands` are the outcomes that are final from there (a hang is, unless
    `hang_stands` is False: then the check runs again in the next place, once
    the place was given up, so it can cost a second time limit only once);
    `give_up` stops using the place's host for later checks: after a hang, and
    after a refusal if `refusal_gives_up`; `before_next` clears what the place
    left before the next place runs, and gives an outcome when that failed.
    """

    run: Callable[[], CallOutcome | None]
    stands: frozenset[Outcome] = frozenset(Outcome)
    give_up: Callable[[], None] = lambda: None
    refusal_gives_up: bool = False
    hang_stands: bool = True
    before_next: Callable[[], CallOutcome | None] = lambda: None


def escalate(places: Sequence[Place], *, stopped: Callable[[], bool], spent: Callable[[], bool],
             lost: Callable[[], CallOutcome]) -> CallOutcome:
    """Run a check in the first place, and again in the next while what came back does not stand there.

    Hardened: a host's shared child, then a fresh child of the host, then a
    worker of its own (whose end the zygote sees and describes). `stopped`
    says nothing can run any more (the sandbox failed), `spent` that the
    budget is; then an outcome stands wherever it came from. `lost` is the
    outcome when a place gave up and nothing can run any more. The last
    place must always give an outcome.
    """
    for place in places[:-1]:
        outcome = place.run()
        if outcome is not None and outcome.kind in HANGS:
            place.give_up()  # the check, or the host, hung
            if place.hang_stands or outcome.kind != Outcome.TIMEOUT or stopped() or spent():
                return outcome
        if outcome is not None and outcome.kind in place.stands:
            return outcome
        if outcome is None and place.refusal_gives_up:
            place.give_up()
            if stopped():
                return lost()
        if outcome is not None and (stopped() or spent()):
            return outcome  # nothing can run it again
        failure = place.before_next()
        if failure is not None:
            return failure
    outcome = places[-1].run()
    assert outcome is not None, "the last place of a chain always gives an outcome"
    return outcome
