"""Grade one submission: start the sandbox, then load fixtures, locate the student's files and run every check.

Order matters: the sandbox (and so every worker) is forked before any
fixture is read, so no expected answer is ever in a worker's memory. The
fixtures say everything else: which file and class each case grades, the
steps a worker runs, the limits.
"""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path
from typing import Any, Callable, Collection

import numpy as np

from . import efficiency, timing
from .compare import compare
from .limits import Limits, limits_from_mapping
from .errors import AutograderError, FixtureError
from .fixtures import Case, Check, fixture_files, load_case, load_cases
from .locate import Located, locate
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import CheckResult, GradingResult
from .sandbox import CallOutcome, Sandbox


class _OnFirstUse:
    """A module imported the first time one of its names is used (then it replaces this stand-in)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(f"{__package__}.{self._name}")
        globals()[self._name] = module
        return getattr(module, attr)


# Hints and notes serve failed checks only: a correct submission's grading does not import them.
diagnose: Any = _OnFirstUse("diagnose")

CLASS_NAME = "Softmax"  # used by explain_error; the class each case grades is in its fixture (case.problem)


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
    """Wall-clock limit for each call of a case: a multiple of the reference's time on it here, with a floor."""
    return timing.call_limit(timing.reference_seconds(case), limits)


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


def explain_error(outcome: CallOutcome, case: Case | None = None) -> str:
    """An exception in student code, in words, with their own frames and a hint when it is recognisable.

    For a hidden case, numbers with a fraction or exponent are removed from
    the exception's message: student code may put hidden inputs there.
    """
    error = outcome.error or {}
    etype, message = error.get("type", "Error"), str(error.get("message", ""))
    if case is not None and case.hidden:
        message = _HIDDEN_NUMBER.sub("#", message)
    class_name = getattr(getattr(case, "problem", None), "class_name", CLASS_NAME)
    if outcome.phase == "import":
        head = f"Your file could not be imported: {etype}: {message}"
    elif error.get("not_implemented"):
        return f"{class_name}.{outcome.method} is not implemented yet (it raises NotImplementedError)."
    elif outcome.phase == "construct":
        head = f"Creating {class_name}() raised {etype}: {message}"
    else:
        head = f"{class_name}.{outcome.method} raised {etype}: {message}"
    frames = _frames_text(error)
    hints = diagnose.error_hints(error, outcome.method, case) if outcome.phase == "call" else []
    return "\n".join([head] + (["Traceback (your code only):"] + frames if frames else []) + hints)


# A number with a fraction or an exponent (array values, not shapes or line numbers).
_HIDDEN_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b")


def explain(outcome: CallOutcome, check: Check, case: Case) -> tuple[bool, str, tuple[str, ...]]:
    """Pass/fail, the message for one check (what is wrong, the numbers, where, a hint), and the names of
    the catalogue mistakes diagnosed (as data, for the class report)."""
    if outcome.kind in ("error", "import_error"):
        named = diagnose.error_mistakes(outcome.error or {}, outcome.method, case) if outcome.phase == "call" else []
        return False, explain_error(outcome, case), tuple(m.name for m in named)
    if outcome.kind != "ok":
        return False, outcome.detail[:1].upper() + outcome.detail[1:] + ".", ()
    assert outcome.returned is not None
    what = f"{check.method} (the returned {check.output})"
    verdict = compare(outcome.returned, outcome.array, case.expected[check.output], case.tolerance,
                      what=what, show_values=not case.hidden)
    lines = list(verdict.lines)
    names: list[str] = []
    if outcome.mutated:
        lines.append(f"{check.method} modified its input {', '.join(outcome.mutated)} in place (the array it was "
                     "given is different after the call).")
        lines.append(diagnose.mutation_hint())
        names.append(diagnose.MUTATION_MISTAKE)
    passed = verdict.passed and not outcome.mutated
    if not verdict.passed:
        found = diagnose.diagnose(check, case, outcome.array, verdict)
        lines.extend(diagnose.hint_lines(found))
        names += diagnose.catalogued(found)
    if not passed:  # a passed check has no message (a message marks a test failed in Gradescope)
        lines.extend(f"Note: {note}." for note in outcome.notes)
    return passed, "\n".join(lines), tuple(dict.fromkeys(names))


# Seconds of a grading that are the grader's own: the interpreter's start before
# grade_submission runs, and the report and results file after it.
GRADER_RESERVE = 0.3


def grade_submission(submission: Path, *, fixtures: Path = DEFAULT_FIXTURES,
                     limits: Limits | Callable[[], Limits | None] | None = None,
                     progress: Callable[[str], None] | None = None,
                     only: Collection[str] | None = None) -> GradingResult:
    """Grade a submission folder (or .py file) against every fixture in `fixtures`.

    `limits` overrides the limits the fixtures state (None: use theirs). A
    callable is called only after the zygote is forked, so whatever it reads
    (an assignment config with hidden cases' seeds) is never in a worker's
    memory. `only` restricts grading to the checks with these names (check_name).
    """
    started = time.monotonic()
    stage = staging_folder(submission)
    # Fork the zygote first; its limits are set once the fixtures are read.
    sandbox = Sandbox(stage, ".", "", "", Limits(), grader_root=PROJECT_ROOT) if stage is not None else None
    try:
        if callable(limits):
            limits = limits()
        # Only now: the workers' zygote is already forked. One fixture first, to start the host of
        # its file while the rest are read (the host imports meanwhile, on another core if any).
        first_file = fixture_files(fixtures)[0]
        first = load_case(first_file, graded_only=True)  # grading reads no array it does not use (J)
        if sandbox is not None:
            sandbox.limits = limits or limits_from_mapping(first.limits, str(first.path))
            try:
                early = locate(submission, first.problem.file)
                sandbox.prepare((early.import_root, early.module, first.problem.class_name))
            except AutograderError:
                pass  # said with every check of that file, below
        cases = load_cases(fixtures, loaded={first_file: first}, graded_only=True)
        limits = limits or fixture_limits(cases)
        if sandbox is not None:
            # The budget bounds the whole grading, so what the grader spent before the first check
            # and will spend after the last comes off the students' share.
            sandbox.limits = limits
            sandbox.budget_left = limits.budget - (time.monotonic() - started) - GRADER_RESERVE
        found: dict[str, Located | str] = {}
        for case in cases:
            if case.problem.file not in found:
                try:
                    found[case.problem.file] = locate(submission, case.problem.file)
                except AutograderError as exc:
                    found[case.problem.file] = str(exc)
        checks: list[CheckResult] = []
        graded: list[tuple[Case, Check, CallOutcome, CheckResult]] = []  # for the notes across checks
        total = sum(1 for c in cases for k in c.checks if only is None or check_name(c, k) in only)
        for case in cases:
            located = found[case.problem.file]
            limit: float | None = None  # timed on the case's first check
            for index, check in enumerate(case.checks, start=1):
                if only is not None and check_name(case, check) not in only:
                    continue
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
                    limit = limit or call_timeout(case, limits)
                    outcome = sandbox.run(steps, inputs, call_timeout=limit, target=target)
                    passed, result.message, result.mistakes = explain(outcome, check, case)
                    if not passed and outcome.shared:  # decided again in a process that ran no other check
                        outcome = sandbox.run(steps, inputs, call_timeout=limit, target=target, fresh=True)
                        passed, result.message, result.mistakes = explain(outcome, check, case)
                    result.passed = passed
                    result.score = check.points if passed else 0.0
                    result.output = outcome.output
                    result.seconds = outcome.seconds
                    graded.append((case, check, outcome, result))
                checks.append(result)
                if progress:
                    progress(f"[{len(checks)}/{total}] {result.name}: {'passed' if result.passed else 'failed'}")
        if not all(result.passed for *_, result in graded):
            diagnose.across_checks(graded)  # notes on failed checks that need several checks (right for N = 1 only)
        checks.extend(efficiency.informational_checks(graded, cases))  # zero points, after every graded check
    finally:
        if sandbox is not None:
            sandbox.close()
    notes = [f"Submission problem: {why}" for why in dict.fromkeys(v for v in found.values() if isinstance(v, str))]
    shown = [v.shown for v in found.values() if not isinstance(v, str)]
    return GradingResult(checks=checks, submission_file=", ".join(dict.fromkeys(shown)) or None,
                         execution_time=time.monotonic() - started, notes=notes)
