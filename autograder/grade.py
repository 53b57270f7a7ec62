"""Grade one submission: locate it, start the sandbox, then load fixtures and run every check.

Order matters: the sandbox (and so every worker) is forked before any
fixture is read, so no expected answer is ever in a worker's memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import diagnose
from .compare import compare
from .config import Limits
from .errors import AutograderError
from .fixtures import Case, Check, load_cases
from .locate import Located, locate
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import CheckResult, GradingResult
from .sandbox import CallOutcome, Sandbox

CLASS_NAME = "Softmax"
STUDENT_FILE = "mytorch/nn/activation.py"
# Allowance per Jacobian entry (N*C*C) on top of the call-timeout floor: a
# pure-Python triple loop takes well under a microsecond per entry.
SECONDS_PER_ENTRY = 5e-6


def steps_for(check: Check, case: Case) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """What the worker does for a check, and the only arrays it is sent.

    Backward runs forward first (so state a student keeps, such as self.Z,
    exists), then puts the reference A in self.A, so a wrong forward does not
    also cost the backward points.
    """
    if check.method == "forward":
        return [{"op": "call", "method": "forward", "args": ["Z"], "graded": True}], {"Z": case.inputs["Z"]}
    if check.method == "backward":
        steps = [
            {"op": "call", "method": "forward", "args": ["Z"]},
            {"op": "set", "attr": "A", "from": "A"},
            {"op": "call", "method": "backward", "args": ["dLdA"], "graded": True},
        ]
        return steps, {"Z": case.inputs["Z"], "dLdA": case.inputs["dLdA"], "A": case.expected["A"]}
    raise AutograderError(f"{case.path}: unknown method '{check.method}'")


def call_timeout(case: Case, limits: Limits) -> float:
    """Wall-clock limit for one call: the floor plus room for slow but honest loops."""
    n, c = case.inputs["Z"].shape
    return limits.call_timeout + SECONDS_PER_ENTRY * n * c * c


def check_name(case: Case, check: Check) -> str:
    return f"{case.name}: {check.method} ({check.output})"


def _frames_text(error: dict[str, Any]) -> list[str]:
    lines = []
    for frame in error.get("frames", []):
        where = f"  {frame['file']}, line {frame['line']}, in {frame['function']}"
        lines.append(where + (f"\n      {frame['code']}" if frame.get("code") else ""))
    return lines


def explain_error(outcome: CallOutcome) -> str:
    """An exception in student code, in words, with their own frames."""
    error = outcome.error or {}
    etype, message = error.get("type", "Error"), error.get("message", "")
    if outcome.phase == "import":
        head = f"Your file could not be imported: {etype}: {message}"
    elif error.get("not_implemented"):
        return f"{CLASS_NAME}.{outcome.method} is not implemented yet (it raises NotImplementedError)."
    elif outcome.phase == "construct":
        head = f"Creating {CLASS_NAME}() raised {etype}: {message}"
    else:
        head = f"{CLASS_NAME}.{outcome.method} raised {etype}: {message}"
    frames = _frames_text(error)
    return "\n".join([head] + (["Traceback (your code only):"] + frames if frames else []))


def explain(outcome: CallOutcome, check: Check, case: Case) -> tuple[bool, str]:
    """Pass/fail and the message for one check."""
    if outcome.kind in ("error", "import_error"):
        return False, explain_error(outcome)
    if outcome.kind != "ok":
        return False, outcome.detail[:1].upper() + outcome.detail[1:] + "."
    assert outcome.returned is not None
    what = f"{check.method} (the returned {check.output})"
    verdict = compare(outcome.returned, outcome.array, case.expected[check.output], case.tolerance,
                      what=what, show_values=not case.hidden)
    lines = list(verdict.lines)
    if verdict.passed and outcome.mutated:
        lines.append(f"{check.method} changed its input {', '.join(outcome.mutated)} in place. Callers reuse their "
                     "arrays, so a layer must not modify what it is given: work on a copy or build a new array.")
    if not verdict.passed:
        lines.extend(diagnose.hints(check, case, outcome.array, verdict))
    for note in outcome.notes:
        lines.append(f"Note: {note}.")
    return verdict.passed and not outcome.mutated, "\n".join(lines)


def grade_submission(submission: Path, *, fixtures: Path = DEFAULT_FIXTURES, limits: Limits = Limits(),
                     progress: Callable[[str], None] | None = None) -> GradingResult:
    """Grade a submission folder (or .py file) against every fixture in `fixtures`."""
    started = time.monotonic()
    try:
        located: Located | None = locate(submission, STUDENT_FILE)
        problem = None
    except AutograderError as exc:
        located, problem = None, str(exc)
    sandbox = None
    if located is not None:
        sandbox = Sandbox(located.root, located.import_root, located.module, CLASS_NAME, limits,
                          grader_root=PROJECT_ROOT)
    try:
        cases = load_cases(fixtures)  # only now: the workers' zygote is already forked
        checks: list[CheckResult] = []
        total = sum(len(c.checks) for c in cases)
        for case in cases:
            for index, check in enumerate(case.checks, start=1):
                result = CheckResult(
                    name=check_name(case, check), number=f"{case.number}.{index}", case=case.name,
                    method=check.method, max_score=check.points, score=0.0, visibility=case.visibility,
                    tags=tuple(dict.fromkeys((check.method, *case.tags))),
                )
                if sandbox is None:
                    result.message = f"Not graded: {problem}"
                else:
                    steps, inputs = steps_for(check, case)
                    outcome = sandbox.run(steps, inputs, call_timeout=call_timeout(case, limits))
                    passed, result.message = explain(outcome, check, case)
                    result.score = check.points if passed else 0.0
                    result.output = outcome.output
                    result.seconds = outcome.seconds
                checks.append(result)
                if progress:
                    progress(f"[{len(checks)}/{total}] {result.name}: {'passed' if result.passed else 'failed'}")
    finally:
        if sandbox is not None:
            sandbox.close()
    notes = [f"Submission problem: {problem}"] if problem else []
    return GradingResult(checks=checks, submission_file=located.shown if located else None,
                         execution_time=time.monotonic() - started, notes=notes)
