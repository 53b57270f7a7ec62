"""The interface every sandbox backend implements, and what they share: the budget, import failures, words.

A backend runs the steps of one check on a fresh instance of the student's
class in a process of its own and says what came back (an outcome).
``hardened`` (Linux, root: zygote, host, privilege drop) and ``portable``
(any OS: a worker started with subprocess) implement ``_run_any``; this
class keeps what must not differ between them: the submission's time
budget, an import failure said once for every check, the words of a
timeout, a protocol error and a memory error. See README, "Sandbox".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..limits import Limits
from .outcome import CallOutcome

Target = tuple[str, str, str]  # (import_root, module, class_name)
Module = tuple[str, str]  # (import_root, module): what one worker imports, for every class of it


@dataclass(frozen=True)
class Ahead:
    """The check the grader runs next, which a backend may start before the grader has judged this one
    (see SandboxBase.run): its steps and inputs (the very objects that run() will be given), target and
    call time limit."""

    steps: list[dict[str, Any]]
    inputs: dict[str, np.ndarray]
    target: Target
    call_timeout: float


class SandboxBase:
    """Runs checks of one submission, each in a limited worker process; see the module's docstring.

    ``limits`` and ``budget_left`` may be set after construction (before
    the first ``run``), once the fixtures that state them are read.
    """

    name = "?"
    account: Any = None  # the unprivileged account student code runs as (hardened, as root); None otherwise
    _broken: str | None = None  # why nothing more can run (hardened: the zygote failed)

    def __init__(self, target: Target, limits: Limits) -> None:
        self.limits = limits
        self.budget_left = limits.budget
        self.default_target = target
        self.skipped: list[str] = []  # what staging left out, in words
        self._import_failures: dict[tuple[str, ...], CallOutcome] = {}  # by target, or by module (see run)

    # -- the interface ---------------------------------------------------
    def prepare(self, *targets: Target) -> None:
        """Start importing the targets now, all at once, while the grader reads fixtures (where the backend
        can). Imports started together share the cores: each may take its time limit times (imports /
        cores) of wall-clock time (import_share)."""

    def warnings(self) -> list[str]:
        """For the staff: where this sandbox is weaker than it should be, in words; empty when not."""
        return []

    def begin_close(self) -> None:
        """Start closing where that can go on while the grader works (no check runs after this); close() ends
        it. Here: nothing to start."""

    def close(self) -> None:
        """Stop every process this sandbox started and remove every folder it made."""

    def __enter__(self) -> "SandboxBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], *, call_timeout: float,
            target: Target | None = None, fresh: bool = False, then: Ahead | None = None) -> CallOutcome:
        """Run the steps on a fresh instance and return what came back, whatever happened.

        `target` is (import_root, module, class_name) when one sandbox grades
        several classes or files (one worker may serve every class of a module); by default, the one given at construction.
        An outcome marked `shared` came from a process that answered other
        checks before: if the grader finds its answer wrong, it runs the check
        again with `fresh`, in a process that ran nothing else (and later
        checks too; see escalation.decide). Everything this takes, the
        sandbox's own work included, is charged to the budget.

        `then` is the check the grader will run next, if all goes well: after a
        clean answer from a shared process that also serves `then`, a backend
        may send it that request at once, so that it runs while the grader
        judges this one. The next run() given those very steps takes its
        answer; any other run() first ends that process (and what it started).
        """
        key = target or self.default_target
        failed = self._import_failures.get(key) or self._import_failures.get(key[:2])
        if failed is not None:
            return failed
        if self._broken is not None:
            return CallOutcome("sandbox", detail=self._broken)
        if self.budget_left <= 0:
            return CallOutcome("budget", detail=f"the time budget of {self.limits.budget:g} s for this submission "
                                                "was used up by earlier tests, so this test was not run")
        started = time.monotonic()
        try:
            outcome = self._run_any(steps, inputs, call_timeout, key, started, fresh, then)
        finally:
            self.budget_left -= time.monotonic() - started
        outcome.wall_seconds = time.monotonic() - started
        if outcome.kind.import_failed or (outcome.kind == "crashed" and outcome.phase == "import"):
            if self.skipped and outcome.kind == "import_error" and outcome.error is not None:
                outcome.error["message"] += ("\n(Not copied into the sandbox: " + "; ".join(self.skipped[:5]) +
                                             (" ..." if len(self.skipped) > 5 else "") + ".)")
            # an exception raised by the module's import fails every class of it; anything else (a class it
            # lacks, a crash or a hang) only this class, as the others may still run
            module_wide = outcome.kind == "import_error" and not outcome.class_missing
            self._import_failures[key[:2] if module_wide else key] = outcome
        return outcome

    def _run_any(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                 key: Target, started: float, fresh: bool = False, then: Ahead | None = None) -> CallOutcome:
        raise NotImplementedError

    # -- words shared by the backends -------------------------------------
    def _memory_words(self, outcome: CallOutcome) -> CallOutcome:
        if outcome.kind == "error" and outcome.error and outcome.error.get("memory"):
            outcome.error["message"] = (f"{outcome.error['message']} (your code may use at most "
                                        f"{self.limits.memory_mb} MB of memory; an array of the expected size "
                                        "needs far less)").strip()
        return outcome

    def _failure(self, why: str, phase: str, budget_hit: bool, timeout_text: str) -> CallOutcome:
        """No answer: `why` is timeout, protocol:<reason>, zygote or eof."""
        if why == "timeout":
            if budget_hit:
                return CallOutcome("budget", phase=phase, detail=f"the time budget of {self.limits.budget:g} s for "
                                                                 "this submission ran out while this test was running")
            return CallOutcome("import_timeout" if phase == "import" else "timeout", phase=phase, detail=timeout_text)
        if why.startswith("protocol:"):
            return CallOutcome("protocol", phase=phase, detail="the reply from the process running your code was not "
                               "valid (" + why[len("protocol:"):] + "): your code may have written to a file "
                               "descriptor it had not opened")
        if why == "zygote":
            return CallOutcome("crashed", phase=phase, detail="the sandbox process that started the process running "
                                                              "your code stopped (did your code stop it?)")
        return CallOutcome("crashed", phase=phase, detail="the process running your code stopped")


def import_share(together: int) -> float:
    """How many times its time limit an import may take in wall-clock time when `together` imports were
    started at once: they share the cores, and each gets as much CPU as it would alone."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1.0, together / max(1, cores))


IMPORT_TIMEOUT_TEXT = ("importing your file took longer than {seconds:g} s, so it was stopped (an endless loop or a long "
                       "computation at the top level?)")
