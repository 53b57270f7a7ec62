"""Grade one submission: start the sandbox, then load fixtures, locate the student's files and run every check.

Order matters: the sandbox (and so every worker) is forked before any
fixture is read, so no expected answer is ever in a worker's memory. The
fixtures say everything else: which file and class each case grades, the
steps a worker runs, the limits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import diagnose
from .compare import compare
from .config import Limits, limits_from_mapping
from .errors import AutograderError, FixtureError
from .fixtures import Case, Check, load_cases
from .locate import Located, locate
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import CheckResult, GradingResult
from .sandbox import CallOutcome, Sandbox

CLASS_NAME = "Softmax"  # used by explain_error; the class each case grades is in its fixture (case.problem)
# Allowance per Jacobian entry (N*C*C) on top of the call-timeout floor: a
# pure-Python triple loop takes well under a microsecond per entry.
SECONDS_PER_ENTRY = 5e-6


def steps_for(check: Check, case: Case) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """What the worker does for a check (the fixture's steps), and the only arrays it is sent.

    For backward that is: forward first (so state a student keeps, such as
    self.Z, exists), then the reference A put in self.A, so a wrong forward
    does not also cost the backward points. The graded output is never sent.
    """
    if not check.steps:
        raise FixtureError(f"{case.path}: check '{check.method}' has no steps (regenerate the fixtures)")
    ops: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    last = len(check.steps) - 1
    for i, step in enumerate(check.steps):
        if step.call is not None:
            op: dict[str, Any] = {"op": "call", "method": step.call, "args": list(step.args)}
            if i == last:
                op["graded"] = True
            ops.append(op)
            arrays.update((name, case.inputs[name]) for name in step.args)
        else:
            assert step.source is not None and step.source != check.output
            key = step.source if step.source not in case.inputs else f"expected.{step.source}"
            ops.append({"op": "set", "attr": step.attr, "from": key})
            arrays[key] = case.expected[step.source]
    return ops, arrays


def call_timeout(case: Case, limits: Limits) -> float:
    """Wall-clock limit for one call: the floor plus room for slow but honest loops (N*C*C entries)."""
    first = next(iter(case.inputs.values()))
    return limits.call_timeout + SECONDS_PER_ENTRY * first.size * first.shape[-1]


def check_name(case: Case, check: Check) -> str:
    return f"{case.name}: {check.method} ({check.output})"


def fixture_limits(cases: list[Case]) -> Limits:
    """The limits the fixtures state; they are generated together, so they must agree."""
    first = cases[0]
    for case in cases[1:]:
        if case.limits != first.limits:
            raise FixtureError(f"{case.path}: its limits differ from those of {first.path} (regenerate the fixtures)")
    return limits_from_mapping(first.limits, str(first.path))


def staging_folder(submission: Path) -> Path | None:
    """The folder copied into the sandbox: the submission itself, or a single file's folder."""
    submission = Path(submission)
    if submission.is_dir():
        return submission
    if submission.is_file() and submission.suffix == ".py":
        return submission.parent
    return None


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


def grade_submission(submission: Path, *, fixtures: Path = DEFAULT_FIXTURES, limits: Limits | None = None,
                     progress: Callable[[str], None] | None = None) -> GradingResult:
    """Grade a submission folder (or .py file) against every fixture in `fixtures`.

    `limits` overrides the limits the fixtures state (None: use theirs).
    """
    started = time.monotonic()
    stage = staging_folder(submission)
    # Fork the zygote first; its limits are set once the fixtures are read.
    sandbox = Sandbox(stage, ".", "", "", limits or Limits(), grader_root=PROJECT_ROOT) if stage is not None else None
    try:
        cases = load_cases(fixtures)  # only now: the workers' zygote is already forked
        limits = limits or fixture_limits(cases)
        if sandbox is not None:
            sandbox.limits, sandbox.budget_left = limits, limits.budget
        found: dict[str, Located | str] = {}
        for case in cases:
            if case.problem.file not in found:
                try:
                    found[case.problem.file] = locate(submission, case.problem.file)
                except AutograderError as exc:
                    found[case.problem.file] = str(exc)
        checks: list[CheckResult] = []
        total = sum(len(c.checks) for c in cases)
        for case in cases:
            located = found[case.problem.file]
            for index, check in enumerate(case.checks, start=1):
                result = CheckResult(
                    name=check_name(case, check), number=f"{case.number}.{index}", case=case.name,
                    method=check.method, max_score=check.points, score=0.0, visibility=case.visibility,
                    tags=tuple(dict.fromkeys((check.method, *case.tags))),
                )
                if isinstance(located, str) or sandbox is None:
                    result.message = f"Not graded: {located}"
                else:
                    steps, inputs = steps_for(check, case)
                    target = (located.import_root, located.module, case.problem.class_name)
                    outcome = sandbox.run(steps, inputs, call_timeout=call_timeout(case, limits), target=target)
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
    notes = [f"Submission problem: {why}" for why in dict.fromkeys(v for v in found.values() if isinstance(v, str))]
    shown = [v.shown for v in found.values() if not isinstance(v, str)]
    return GradingResult(checks=checks, submission_file=", ".join(dict.fromkeys(shown)) or None,
                         execution_time=time.monotonic() - started, notes=notes)
