"""Grade one submission: start the sandbox, then load fixtures, locate the student's files and run every check.

Order matters: the sandbox (and so every worker) is forked before any
fixture is read, so no expected answer is ever in a worker's memory. The
fixtures say everything else: which file and class each case grades, the
steps a worker runs, the limits.
"""

from __future__ import annotations

import copy
import importlib
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Collection

import numpy as np

from . import efficiency, own_layers, timing
from .compare import compare, within
from .limits import Limits, limits_from_mapping
from .errors import AutograderError, FixtureError
from .feedback import FEEDBACK_DIR, STORED_SUFFIX, use_indexed
from .fixture_index import INDEX_NAME, index_covers, index_head, not_indexed, read_index
from .fixtures import Case, Check, fixture_files, fixture_policy, load_case, load_cases, problems_of
from .locate import Located, classes_in, locate, own_files
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import CheckResult, GradingResult
from .sandbox import CallOutcome
from .sandbox.base import Ahead, Target
from .sandbox.choose import open_sandbox
from .sandbox.escalation import decide, decide_together
from .text import LazyPattern, no_digits


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
# Modules of ours that grading or the CLI may import after student code ran. As root they are
# imported before it runs (see import_late_modules), so nothing is imported from disk once student
# code could have written to it. PyYAML too, unless every file graded is indexed (fixture_index).
LATE_MODULES = ("diagnose", "feedback", "expressions", "policy")


def import_late_modules(*, with_yaml: bool = True, with_stored: bool = False) -> None:
    """Import now what would otherwise be imported after student code ran (see LATE_MODULES); PyYAML as well
    unless grading will read no YAML; and what reading the feedback's stored values takes (a handout's .npz:
    np.load reads a zip, whose names may be cp437, and they are looked up by a SHA-256) when there are some."""
    for name in LATE_MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        if name == "diagnose":
            globals()["diagnose"] = module
    if with_yaml:
        importlib.import_module("yaml")
    if with_stored:
        import codecs

        for name in ("zipfile", "hashlib"):
            importlib.import_module(name)
        codecs.lookup("cp437")


def steps_for(check: Check, case: Case) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """What the worker does for a check (the fixture's steps), and the only arrays it is sent.

    For an activation's backward (Softmax's, say) that is: forward first (so state a student keeps,
    such as self.Z, exists), then the reference A put in self.A, so a wrong
    forward does not also cost the backward points. The graded output is never sent.
    """
    if not check.steps:
        raise FixtureError(f"{case.path}: check '{check.method}' has no steps (regenerate the fixtures)")
    return request_for(check, case.inputs, case.expected)


def request_for(check: Check, inputs: dict[str, np.ndarray],
                expected: dict[str, np.ndarray]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The worker's request for a check's steps (see worker.run_steps): data only, and the arrays it names.

    Shared by grading and by generate, which runs the reference through the very same request.
    """
    ops: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    objects: set[str] = set()

    def argument(value: Any) -> Any:
        if isinstance(value, str) and value in objects:
            return {"object": value}
        if isinstance(value, str):
            arrays[value] = inputs[value]
        return value

    def build(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: build(item) for key, item in value.items()}
        if isinstance(value, list):
            return [build(item) for item in value]
        return argument(value)

    last = len(check.steps) - 1
    for i, step in enumerate(check.steps):
        if step.init or step.call is not None:
            op: dict[str, Any] = {"op": "init"} if step.init else {"op": "call", "method": step.call}
            op["args"] = [argument(a) for a in step.args]
            if step.kwargs:
                op["kwargs"] = {key: argument(value) for key, value in step.kwargs}
            if i == last:
                op["graded"] = True
                if check.value is not None:
                    op["value"] = check.value
                    if check.on is not None:
                        op["on"] = check.on
            ops.append(op)
        elif step.attr is not None:
            assert step.source is not None and (step.source != check.output or step.source in inputs)
            key = step.source  # an input of the case, else a reference value (never the graded one)
            arrays[key] = inputs[key] if key in inputs else expected[key]
            op = {"op": "set", "attr": step.attr, "from": key}
            if step.obj is not None:
                op["on"] = step.obj
            ops.append(op)
        else:
            ops.append({"op": "object", "name": step.obj, "value": build(step.value)})
            objects.add(str(step.obj))
    return ops, arrays


MAX_TOGETHER = 32  # checks one run may answer (see worker.run_steps)


def together(case: Case, checks: list[Check]) -> list[list[Check]]:
    """The checks of a case that one run can answer, in groups: the steps of each check are the start of
    those of the group's longest, and none is graded on a value that run is sent (the reference A a
    backward check sets: a run must never hold the expected answer of a check it answers). Each group
    lists its checks in the order their values are taken, groups in the order of the case."""
    groups: list[list[Check]] = []
    for check in sorted(checks, key=lambda c: -len(c.steps)):
        for group in groups:
            sent = {step.source for step in group[0].steps if step.attr is not None}
            if (len(group) < MAX_TOGETHER and group[0].steps[:len(check.steps)] == check.steps
                    and check.output not in sent):
                group.append(check)
                break
        else:
            groups.append([check])
    place = {id(check): i for i, check in enumerate(checks)}
    ordered = [sorted(group, key=lambda c: (len(c.steps), place[id(c)])) for group in groups]
    return sorted(ordered, key=lambda group: min(place[id(c)] for c in group))


def request_together(checks: list[Check], case: Case) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One request for checks that share their steps (see together): the longest's steps, with each check's
    graded value marked at its call ("grades"; see worker.run_steps)."""
    ops, arrays = steps_for(checks[-1], case)
    for key in ("graded", "value", "on"):
        ops[-1].pop(key, None)
    for check in checks:
        grade = {"value": check.value} if check.value is not None else {}
        if check.on is not None:
            grade["on"] = check.on
        ops[len(check.steps) - 1].setdefault("grades", []).append(grade)
    return ops, arrays


def request_parts(parts: list[tuple[Case, list[Check]]]) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One request for checks of several cases (or classes of one file), each case's checks run together
    (request_together) on an instance of their own, one after another: each part opens with {"op": "part",
    "class_name"}, and its arrays are renamed "K.NAME" for part K (see worker.run_steps)."""
    ops: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for k, (case, checks) in enumerate(parts):
        part_ops, part_arrays = request_together(checks, case)

        def renamed(value: Any, k: int = k) -> Any:
            if isinstance(value, str):
                return f"{k}.{value}"
            if isinstance(value, list):
                return [renamed(item) for item in value]
            if isinstance(value, dict) and set(value) != {"object"}:  # {"object": NAME} names an object
                return {key: renamed(item) for key, item in value.items()}
            return value

        ops.append({"op": "part", "class_name": case.problem.class_name})
        for op in part_ops:
            op = dict(op)
            for key in ("args", "kwargs", "value" if op["op"] == "object" else "", "from"):
                if key in op:
                    op[key] = renamed(op[key])
            ops.append(op)
        arrays.update((f"{k}.{name}", array) for name, array in part_arrays.items())
    return ops, arrays


Run = list[tuple[int, list[Check]]]  # (case index, checks run together) of each case of one run


def sends_graded(cases: list[Case], batch: Run, graded: Run) -> bool:
    """Whether `batch`'s request holds a reference value (set from a case's expected values, not its inputs)
    named as a value a check of `graded` grades (in any case: two cases may hold equal ones)."""
    names = {check.output for _, group in graded for check in group}
    return any(step.attr is not None and step.source in names and step.source not in cases[i].inputs
               for i, group in batch for check in group for step in check.steps)


def runs_of(cases: list[Case], wanted: dict[int, list[Check]],
            module_of: Callable[[Case], tuple[str, str] | None]) -> list[tuple[list[int], list[Run]]]:
    """The runs that grade the cases, in order, by block: the cases of a block (in run order) and its runs.

    Cases taken one after another in run order (run_order) that grade the same file (`module_of`) with the
    same visibility are run together in rounds: first the checks of each case that one run answers
    (together), then those of each case's next group, and so on; a round holds at most one group of a case
    (so no part is sent a value another part grades) and MAX_TOGETHER checks. A run never mixes visible
    and hidden cases.
    """
    blocks: list[tuple[list[int], list[Run]]] = []

    def add(block: list[int]) -> None:
        if not block:
            return
        runs: list[Run] = []
        blocks.append((block, runs))
        groups = {i: together(cases[i], wanted[i]) for i in block}
        for r in range(max((len(g) for g in groups.values()), default=0)):
            run: Run = []
            for i in block:
                if r < len(groups[i]):
                    if run and sum(len(g) for _, g in run) + len(groups[i][r]) > MAX_TOGETHER:
                        runs.append(run)
                        run = []
                    run.append((i, groups[i][r]))
            if run:
                runs.append(run)

    block: list[int] = []
    key: tuple[Any, ...] | None = None
    for i in run_order(cases):
        module = module_of(cases[i])
        here = None if module is None else (*module, cases[i].hidden)
        if here is None or here != key:
            add(block)
            block = []
        key = here
        if here is not None and wanted[i]:
            block.append(i)
    add(block)
    return blocks


def run_order(cases: list[Case]) -> list[int]:
    """The order cases are run in: every visible one first, then the others, each in fixture order.

    The checks of a submission share processes and files (a host's shared child keeps module globals, a
    check's files stay in its folder), so code could keep a hidden case's inputs and show them in a later
    visible test, whose output and messages students see. Once a hidden case's inputs reach a worker, no
    visible check runs any more. Results are still listed in fixture order.
    """
    return [i for i, case in enumerate(cases) if not case.hidden] + [i for i, case in enumerate(cases) if case.hidden]


def call_timeout(case: Case, limits: Limits) -> float:
    """Wall-clock limit for each call of a case: a multiple of the reference's time on it here, with a floor."""
    # a time under the floor's share gives the floor, however much under: one run may show it (best_seconds)
    enough = limits.call_timeout / limits.call_multiple if limits.call_multiple > 0 else 0.0
    return timing.call_limit(timing.reference_seconds(case, enough=enough), limits)


def check_name(case: Case, check: Check) -> str:
    return f"{case.name}: {check.method} ({check.output})"


def checks_of_problems(cases: list[Case], problems: Collection[str]) -> set[str]:
    """The names (check_name) of the checks of these problems; a problem no fixture grades is an error."""
    problems = {problems} if isinstance(problems, str) else set(problems)  # one name is one problem, not its letters
    unknown = problems - {case.problem.name for case in cases}
    if unknown:
        known = ", ".join(sorted({case.problem.name for case in cases}))
        raise AutograderError(f"no fixture grades problem {', '.join(sorted(unknown))} (the fixtures grade: {known})")
    return {check_name(case, check) for case in cases if case.problem.name in problems for check in case.checks}


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


# What Sandbox adds to a MemoryError's message: the grader's words (the limit), kept as they are.
_MEMORY_WORDS = LazyPattern(r" ?\(your code may use at most \d+ MB of memory; an array of the expected size needs "
                            r"far less\)$")


WITHHELD = "(not shown: a test that is not visible shows no message or traceback)"


def withheld_shown_by(carrier: CheckResult, type_name: str) -> str:
    """WITHHELD, when a visible test raised the same exception in the same place: that one's message is readable."""
    return (f"(not shown in a test that is not visible; visible test {carrier.number} ({carrier.name}) raised "
            f"{type_name} too and shows its message)")


def shown_type(name: str, *, other: str) -> str:
    """A built-in type's or exception's name (or NumPy's ndarray) as it is; any other name becomes `other`:
    code can name a class of its own at run time, after it has seen a hidden test's inputs."""
    import builtins

    return name if name == "ndarray" or isinstance(getattr(builtins, name, None), type) else other


def hidden_error(error: dict[str, Any], phase: str = "call") -> dict[str, Any]:
    """An exception's description for a non-visible test: nothing student code could have written after it
    saw that test's inputs.

    Student code holds the hidden inputs and can put them in a message, in the
    name of a class it makes at run time, or in a file, function or line that
    compile() and exec() make up, in words as well as in digits. So a call's
    exception shows only its type, when that is a built-in one, and neither
    message nor traceback. An import error keeps its words, every run of
    digits made '#' as before, as the visible tests of the file show the same
    error in full; one no visible test showed may come from an import made
    after hidden inputs were sent, and is withheld (_withhold_late_import_errors).
    """
    message = str(error.get("message", ""))
    ours = _MEMORY_WORDS.search(message) if error.get("memory") else None  # the last match is the grader's
    scrubbed = dict(error)
    if phase == "import":
        scrubbed["type"] = no_digits(str(error.get("type", "Error")))
        scrubbed["message"] = (no_digits(message[:ours.start()]) + ours.group()) if ours else no_digits(message)
        scrubbed["frames"] = [{"file": no_digits(str(frame.get("file", "?"))), "line": "#",
                               "function": no_digits(str(frame.get("function", "?"))),
                               "code": no_digits(str(frame.get("code", "")))} for frame in error.get("frames", [])]
        return scrubbed
    scrubbed["type"] = shown_type(str(error.get("type", "Error")), other="an exception of a class of your own")
    scrubbed["message"] = (WITHHELD + ours.group()) if ours else WITHHELD
    scrubbed["frames"] = []
    return scrubbed


def hidden_outcome(outcome: CallOutcome, check: Check) -> CallOutcome:
    """A copy of an outcome of a non-visible test with nothing the student's code could have written.

    Besides the exception (hidden_error), that is what the worker describes
    (the returned type, repr and dtype name, the notes, the names of mutated
    inputs, the method: the worker runs student code, which can forge any of
    it) and the details that quote the worker (an exit status or signal it
    chose, a malformed reply). Grader-made words, the dtype of an array the
    grader received, and the limits stay; shapes go (see compare).
    """
    shown = copy.copy(outcome)
    shown.method = check.method
    shown.notes = []
    arguments = {a for step in check.steps for a in (step.args or ()) if isinstance(a, str)}
    shown.mutated = [name for name in outcome.mutated if name in arguments]
    if outcome.error is not None:
        shown.error = hidden_error(outcome.error, outcome.phase)
    if outcome.returned is not None:
        returned = dict(outcome.returned)
        returned["type"] = shown_type(str(returned.get("type", "?")), other="value of a class of your own")
        returned["repr"] = ""
        if outcome.array is None:  # what the worker states, not what the grader received
            returned["shape"] = None
            for key in ("dtype", "dtype_name"):
                if key in returned:
                    returned[key] = "(not shown)"
        shown.returned = returned
    if outcome.kind == "too_large":  # the shape, dtype and size it states come from the worker's header
        shown.detail = f"{check.method} returned an array far larger than any expected answer, so it was not graded"
    elif outcome.kind == "protocol":
        shown.detail = ("the reply from the process running your code was not valid: your code may have written to "
                        "a file descriptor it had not opened")
    elif outcome.kind == "crashed":
        shown.detail = no_digits(outcome.detail)
    return shown


def explain_error(outcome: CallOutcome, case: Case | None = None) -> str:
    """An exception in student code, in words, with their own frames and a hint when it is recognisable.

    For a non-visible case, the student's text is withheld (hidden_error):
    student code may put hidden inputs there. Hints are matched on the
    message as it was (they quote none of it).
    """
    error = outcome.error or {}
    hidden = case is not None and case.hidden
    shown = hidden_error(error, outcome.phase) if hidden else error
    etype, message = shown.get("type", "Error"), str(shown.get("message", ""))
    method = no_digits(outcome.method) if hidden else outcome.method
    class_name = case.problem.class_name if case is not None else ""  # each case names the class it grades
    called = f"{class_name}.{method}" if class_name else method
    if outcome.phase == "import":
        head = f"Your file could not be imported: {etype}: {message}"
    elif error.get("not_implemented"):
        return f"{called} is not implemented yet (it raises NotImplementedError)."
    elif outcome.phase == "construct":
        head = f"Creating {class_name + '()' if class_name else 'the object'} raised {etype}: {message}"
    else:
        head = f"{called} raised {etype}: {message}"
    frames = _frames_text(shown)
    hints = diagnose.error_hints(error, outcome.method, case) if outcome.phase == "call" else []
    notes = [] if hidden else list(getattr(outcome, "notes", []))  # notes quote type names the student chose
    return "\n".join([head] + (["Traceback (your code only):"] + frames if frames else []) + hints
                     + [f"Note: {note}." for note in notes])


def explain(outcome: CallOutcome, check: Check, case: Case,
            excluded: Collection[str] = ()) -> tuple[bool, str, tuple[str, ...]]:
    """Pass/fail and the message for one check: what is wrong, the numbers, where, and a hint.

    `excluded` names catalogue mistakes other checks rule out (review_feedback). Also returns the names of
    the catalogue mistakes diagnosed (as data, for the class report).
    """
    if outcome.kind in ("error", "import_error"):
        found = diagnose.error_diagnoses(outcome.error or {}, outcome.method, case) if outcome.phase == "call" else []
        return False, explain_error(outcome, case), tuple(diagnose.catalogued(found))
    if case.hidden:
        outcome = hidden_outcome(outcome, check)
    if outcome.kind != "ok":
        return False, outcome.detail[:1].upper() + outcome.detail[1:] + ".", ()
    assert outcome.returned is not None
    what = f"{check.method} (the returned {check.output})" if check.value is None else \
        f"{check.method} ({check.graded} after the call)"
    returned, array = as_expected_rank(outcome.returned, outcome.array, case.expected[check.output])
    verdict = compare(returned, array, case.expected[check.output], case.tolerance,
                      what=what, show_values=not case.hidden)
    lines = list(verdict.lines)
    names: list[str] = []
    if outcome.mutated:
        lines.append(f"{check.method} modified its input {', '.join(outcome.mutated)} in place (the array it was "
                     "given is different after the call).")
        found = diagnose.mutation_diagnoses(case, check.method)
        lines.extend(diagnose.hint_lines(found))
        names += diagnose.catalogued(found)
    passed = verdict.passed and not outcome.mutated
    matched = mistakes_matching(case, check, array) if not verdict.passed and array is not None else []
    for mistake in matched:  # the problem's own catalogue, from the fixture
        lines.append(f"Your values are exactly what this mistake gives: {case.hints[mistake]}")
        names.append(mistake)
    if not verdict.passed and not matched and samples_by_rows(check, case):
        found = diagnose.diagnose(check, case, outcome.array, verdict, excluded)
        lines.extend(diagnose.hint_lines(found))
        names += diagnose.catalogued(found)
    if not passed:  # a passed check has no message (a message marks a test failed in Gradescope)
        lines.extend(f"Note: {note}." for note in outcome.notes)
    return passed, "\n".join(lines), tuple(dict.fromkeys(names))


def samples_by_rows(check: Check, case: Case) -> bool:
    """Whether the general diagnoses apply: they read the graded value as the call's input is read, one sample
    per row and the same shape (Softmax's A and dLdZ, an MLP's output), which a weight gradient is not."""
    call = check.steps[-1] if check.steps else None
    if call is None or check.value is not None or case.expected[check.output].dtype.kind in "iu":
        return False  # (whole numbers, labels, are compared exactly: the diagnoses of real values do not apply)
    given = [case.inputs[a] for a in call.args if isinstance(a, str) and a in case.inputs]
    return bool(given) and given[0].shape == case.expected[check.output].shape


def mistakes_matching(case: Case, check: Check, actual: np.ndarray) -> list[str]:
    """The catalogued mistakes of the case's problem whose value for this check the student's value is (within
    the case's tolerance): the evidence a mistake's hint needs."""
    if actual.dtype.kind not in "fiu":
        return []
    actual = actual.astype(np.float64)
    return [mistake for mistake, value in case.mistaken(check.output).items()
            if mistake in case.hints and value.shape == actual.shape and within(actual, value, case.tolerance).all()]


def as_expected_rank(returned: dict[str, Any], array: np.ndarray | None,
                     expected: np.ndarray) -> tuple[dict[str, Any], np.ndarray | None]:
    """A number is graded as a number: a float, a NumPy scalar, a 0-d array and an array holding one element
    are the same answer when the expected value is a number (a loss)."""
    if expected.ndim != 0 or array is None or array.size != 1 or returned.get("kind") not in ("scalar", "ndarray"):
        return returned, array
    return dict(returned, kind="ndarray", type="ndarray", shape=[]), array.reshape(())


def hidden_output(output: str) -> str:
    """What a non-visible test shows of what the student's code printed: that it printed, not what.

    Not even how much: a byte count is a number the student's code chooses.
    """
    if not output.strip():
        return ""
    return "(your code printed output during this hidden test; the output of hidden tests is not shown)"


# Seconds of a grading that are the grader's own: the interpreter's start before
# grade_submission runs, and the report and results file after it.
GRADER_RESERVE = 0.3


def grade_submission(submission: Path, *, fixtures: Path = DEFAULT_FIXTURES,
                     limits: Limits | Callable[[], Limits | None] | None = None,
                     progress: Callable[[str], None] | None = None,
                     only: Collection[str] | None = None, problems: Collection[str] | None = None,
                     sandbox_backend: str | None = None,
                     on_result: Callable[[GradingResult], None] | None = None) -> GradingResult:
    """Grade a submission folder (or .py file) against every fixture in `fixtures`.

    `limits` overrides the limits the fixtures state (None: use theirs). A
    callable is called only after the zygote is forked, so whatever it reads
    (an assignment config with hidden cases' seeds) is never in a worker's
    memory. `only` restricts grading to the checks with these names (check_name),
    `problems` to the checks of these problems (by name, as in the config); given both,
    a check is graded when it is in both.
    `on_result` is called with the result while the sandbox closes (Sandbox.begin_close: the zygote cleans
    up meanwhile): the CLI writes the results file then. Either way the sandbox is closed when this returns.
    """
    started = time.monotonic()
    looked: dict[str, Located | str] = {}  # each file graded: where it is in the submission, or why it is not found
    listed = list(own_files(submission, ".py")) if Path(submission).is_dir() else None  # for every file looked up
    stage = staging_folder(submission)
    # Fork the zygote first; its limits are set once the fixtures are read.
    sandbox = open_sandbox(stage, ".", "", "", Limits(), grader_root=PROJECT_ROOT,
                           backend=sandbox_backend) if stage is not None else None
    try:
        # Only now: the workers' zygote is already forked. What the hosts need first (the first fixture's
        # limits, the files and classes to import), from the index's head where setup.sh left one, else from a
        # first fixture and every fixture's problem line; then every file graded is imported while the rest
        # are read (the hosts import meanwhile, on other cores if any).
        files, head, loaded = fixture_files(fixtures), index_head(fixtures), {}
        verified = head[3] if head is not None else {}  # indexed files whose bytes are as indexed
        as_root = sandbox is not None and sandbox.account is not None
        covered = as_root and index_covers(fixtures, files, verified)
        if as_root:  # costs a few ms
            import_late_modules(with_yaml=not covered,
                                with_stored=any((Path(fixtures) / FEEDBACK_DIR).glob(f"*{STORED_SUFFIX}")))
        if callable(limits):
            limits = limits()
        if head is None or head[0] != files[0]:
            loaded[files[0]] = load_case(files[0], graded_only=True)  # grading reads no array it does not use (J)
            head = files[0], loaded[files[0]].limits, None, verified
        if sandbox is not None:
            sandbox.limits = limits or limits_from_mapping(head[1], str(head[0]))
            targets = []
            for file, class_name in problems_of(fixtures) if head[2] is None else head[2]:
                early = located_in(submission, file, looked, listed)
                if isinstance(early, Located):  # else said with every check of that file, below
                    targets.append((early.import_root, early.module, class_name))
            sandbox.prepare(*targets)
        parsed, documents = read_index(fixtures, verified)
        if covered and "yaml" not in sys.modules:  # PyYAML may no longer be imported: every file must be indexed
            unread = [name for name in not_indexed(fixtures, files, parsed, documents)
                      if Path(fixtures) / name not in loaded]
            if unread:
                raise FixtureError(f"{Path(fixtures) / INDEX_NAME}: damaged (its head vouches for {unread[0]}, whose "
                                   f"entry cannot be used); rebuild it: python -m autograder index {fixtures}")
        use_indexed(documents)
        cases = load_cases(fixtures, loaded=loaded, graded_only=True, parsed=parsed, files=files)
        limits = limits or fixture_limits(cases)
        policy = fixture_policy(cases)  # applied by the caller (cli); read here, with the cases, not again
        numbered = cases  # the cases the notes after the last test are numbered after
        if problems is not None:
            of_problems = checks_of_problems(cases, problems)
            only = of_problems if only is None else set(only) & of_problems
            numbered = [case for case in cases if any(check_name(case, k) in of_problems for k in case.checks)]
        if sandbox is not None:
            # The budget bounds the whole grading, so what the grader spent before the first check
            # and will spend after the last comes off the students' share.
            sandbox.limits = limits
            sandbox.budget_left = limits.budget - (time.monotonic() - started) - GRADER_RESERVE
        found = {case.problem.file: located_in(submission, case.problem.file, looked, listed)  # in case order
                 for case in cases}
        # a selected test of a class graded against the student's own classes needs theirs graded too (not shown)
        unshown = own_layers.checks_needed(cases, only, check_name) if only is not None else set()
        only = None if only is None else set(only) | unshown
        total = sum(1 for c in cases for k in c.checks if only is None or check_name(c, k) in only)
        wanted = {i: [check for check in case.checks if only is None or check_name(case, check) in only]
                  for i, case in enumerate(cases)}
        results = {(i, id(check)): CheckResult(
            name=check_name(case, check), number=f"{case.number}.{index}", case=case.name,
            method=check.method, max_score=check.points, score=0.0, visibility=case.visibility,
            tags=tuple(dict.fromkeys((check.method, case.problem.class_name.lower(), *case.tags))),
        ) for i, case in enumerate(cases) for index, check in enumerate(case.checks, start=1)}
        outcomes: dict[tuple[int, int], CallOutcome] = {}
        done: list[tuple[int, int]] = []

        def target_of(case: Case) -> Target:
            located = found[case.problem.file]
            assert isinstance(located, Located)
            return located.import_root, located.module, case.problem.class_name

        limit_of = {i: call_timeout(case, limits) for i, case in enumerate(cases)
                    if isinstance(found[case.problem.file], Located) and sandbox is not None and wanted[i]}
        for i in run_order(cases):
            located = found[cases[i].problem.file]
            if isinstance(located, str) or sandbox is None:
                for check in wanted[i]:
                    results[(i, id(check))].message = f"Not graded: {located}"
                    done.append((i, id(check)))
                    if progress:
                        progress(f"[{len(done)}/{total}] {results[(i, id(check))].name}: failed")
        blocks = runs_of(cases, wanted, lambda case: target_of(case)[:2]
                         if isinstance(found[case.problem.file], Located) and sandbox is not None else None)
        apart: set[tuple[str, str]] = set()  # files whose checks run one by one: a run of several did not hold

        def record(members: list[tuple[int, Check]], decided: list[tuple[CallOutcome, Any]]) -> None:
            for (i, check), (outcome, (passed, message, mistakes)) in zip(members, decided):
                result = results[(i, id(check))]
                result.passed, result.message, result.mistakes = passed, message, mistakes
                result.score = check.points if passed else 0.0
                result.output = outcome.output if not cases[i].hidden else hidden_output(outcome.output)
                result.seconds = outcome.seconds
                outcomes[(i, id(check))] = outcome
                done.append((i, id(check)))
                if progress:
                    progress(f"[{len(done)}/{total}] {result.name}: {'passed' if result.passed else 'failed'}")

        def run(case: Case, ops: list[dict[str, Any]], arrays: dict[str, np.ndarray],
                judge: Callable[[CallOutcome], tuple], fresh: bool = False) -> tuple:
            located = found[case.problem.file]
            assert sandbox is not None and isinstance(located, Located)
            target = (located.import_root, located.module, case.problem.class_name)
            if fresh:  # once, in a process that ran nothing else (own_layers.follows_its_parts)
                return judge(sandbox.run(ops, arrays, call_timeout=call_timeout(case, limits), target=target,
                                         fresh=True))
            return decide(sandbox, ops, arrays, judge, call_timeout=call_timeout(case, limits), target=target)[1]

        def so_far(hidden: bool | None = None) -> tuple[list[tuple[Case, CheckResult]], Graded]:
            """The results recorded so far (of visible or hidden cases only, or of all), in fixture order: every
            one with its case, and the graded ones with their check and outcome."""
            finished = set(done)
            of_case, graded = [], []
            for i, case in enumerate(cases):
                for check in case.checks:
                    if (i, id(check)) in finished and hidden in (None, case.hidden):
                        of_case.append((case, results[(i, id(check))]))
                        if (i, id(check)) in outcomes:
                            graded.append((case, check, outcomes[(i, id(check))], results[(i, id(check))]))
            return of_case, graded

        made: dict[int, tuple[list[dict[str, Any]], dict[str, np.ndarray]]] = {}

        def request_of_run(batch: Run) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
            """A run's request, made once: the run before it may send it ahead (Ahead), by these very objects."""
            if id(batch) not in made:
                (i, group), *others = batch
                made[id(batch)] = (request_parts([(cases[j], g) for j, g in batch]) if others else
                                   request_together(group, cases[i]) if len(group) > 1 else
                                   steps_for(group[0], cases[i]))
            return made[id(batch)]

        def ahead_of(batch: Run | None, after: Run) -> Ahead | None:
            """The run to send ahead of `after`, the one before it (see SandboxBase.run); None when it will not
            run so, or when it holds a value `after` grades (a backward check's reference A after the forward
            checks): it reaches the worker before `after` is judged, and `after` may be decided again."""
            if batch is None or target_of(cases[batch[0][0]])[:2] in apart or sends_graded(cases, batch, after):
                return None
            return Ahead(*request_of_run(batch), target=target_of(cases[batch[0][0]]),
                         call_timeout=max(limit_of[i] for i, _ in batch))

        def decide_one(i: int, check: Check, request: tuple | None = None, then: Ahead | None = None) -> None:
            """A check on its own: in the shared child, and decided again alone if it fails there (decide)."""
            record([(i, check)], [decide(sandbox, *(request or steps_for(check, cases[i])),
                                         lambda o: explain(o, check, cases[i]), call_timeout=limit_of[i],
                                         target=target_of(cases[i]), then=then)])

        def run_block(block: list[int], runs: list[Run], following: Run | None) -> None:
            """A block's runs in turn, each sending the next ahead (`following`: the first of the next block);
            once one does not hold, its file's other checks one by one."""
            module = target_of(cases[block[0]])[:2]
            for n, batch in enumerate(runs):
                if module in apart:
                    break
                then = ahead_of(runs[n + 1] if n + 1 < len(runs) else following, batch)
                members = [(i, check) for i, group in batch for check in group]
                if len(members) == 1:
                    decide_one(*members[0], request_of_run(batch), then)
                    continue
                judges = [lambda o, check=check, case=cases[i]: explain(o, check, case) for i, check in members]
                decided = decide_together(sandbox, request_of_run(batch), judges, target=target_of(cases[batch[0][0]]),
                                          call_timeout=max(limit_of[i] for i, _ in batch), then=then)
                if decided is None:
                    apart.add(module)
                else:
                    record(members, decided)
            if module in apart:
                # What fails or prints is decided test by test, each in fixture order from here on (a run of
                # several would be wasted work): as when every test ran on its own.
                finished = set(done)
                for i in block:
                    for check in wanted[i]:
                        if (i, id(check)) not in finished:
                            decide_one(i, check)

        def run_blocks(hidden: bool) -> None:
            """The blocks of visible cases, or of hidden ones: a run is never sent ahead across the two."""
            chosen = [(block, runs) for block, runs in blocks if cases[block[0]].hidden == hidden]
            for n, (block, runs) in enumerate(chosen):
                run_block(block, runs, next((r[0] for _, r in chosen[n + 1:n + 2] if r), None))

        run_blocks(hidden=False)  # visible blocks come first (run_order)
        # Before any hidden case's inputs reach a worker: a visible test of a class built from the student's own
        # classes (config `chain`) that failed is graded against those, when their visible tests failed.
        of_visible, visible = so_far(hidden=False)
        regraded = own_layers.grade_against_own_parts(visible, failed_problems(of_visible), run)
        run_blocks(hidden=True)
        of_case, graded = so_far()  # every graded value, graded or not, with its case; graded ones for the notes
        regraded += own_layers.grade_against_own_parts([g for g in graded if g[0].hidden], failed_problems(of_case),
                                                       run)
        warnings = [f"warning: {line} (see README, \"Sandbox\")" for line in (sandbox.warnings() if sandbox else [])]
        if sandbox is not None:
            sandbox.begin_close()  # no check runs any more: the zygote cleans up while the rest is written
        checks = [result for _, result in of_case if result.name not in unshown]
        file_notes = review_feedback(checks, graded, found)  # hints checked across checks, each failure said once
        settled = own_layers.apply(regraded)
        note_used_failures(of_case, settled)
        checks.extend(efficiency.informational_checks([g for g in graded if g[3].name not in unshown], numbered))
    except BaseException:
        if sandbox is not None:
            sandbox.close()
        raise
    notes = [f"Submission problem: {why}" for why in dict.fromkeys(v for v in found.values() if isinstance(v, str))]
    notes += [f"Note on your file: {note}" for note in file_notes]
    shown = [v.shown for v in found.values() if not isinstance(v, str)]
    result = GradingResult(checks=checks, submission_file=", ".join(dict.fromkeys(shown)) or None,
                           execution_time=time.monotonic() - started, notes=notes, warnings=warnings, policy=policy)
    try:
        if on_result is not None:
            on_result(result)
    finally:
        if sandbox is not None:
            sandbox.close()
    return result


def located_in(submission: Path, file: str, found: dict[str, Located | str],
               python_files: list[Path] | None = None) -> Located | str:
    """Where the submission holds `file` (see locate; `python_files`: its .py files, listed once), or why it
    does not; looked up once, kept in `found`."""
    if file not in found:
        try:
            found[file] = locate(submission, file, python_files=python_files)
        except AutograderError as exc:
            found[file] = str(exc)
    return found[file]


# -- after the check loop: feedback that holds across checks, each failure explained once ------------

Graded = list[tuple[Case, Check, CallOutcome, CheckResult]]


def failed_problems(of_case: list[tuple[Case, CheckResult]]) -> set[str]:
    """The problems some test of which failed (graded, or not gradable) in this submission."""
    return {case.problem.name for case, result in of_case if not result.passed}


def note_used_failures(of_case: list[tuple[Case, CheckResult]], settled: Collection[CheckResult] = ()) -> None:
    """A failed test of a class built from the student's own other classes (an MLP from their Linear and
    ReLU, `uses` in the config) says which of those failed in this submission too: they may be the cause.
    Said only when one did (a hint is a claim), naming problems and classes only, and not on a test that
    grading against those classes showed wrong in the class itself (`settled`, see own_layers). A visible
    test counts the visible tests' failures only: hidden tests' results never show in one."""
    failed = {False: failed_problems([(c, r) for c, r in of_case if not c.hidden]), True: failed_problems(of_case)}
    classes = {case.problem.name: case.problem.class_name for case, _ in of_case}
    for case, result in of_case:
        culprits = [name for name in case.problem.uses if name in failed[case.hidden]]
        if result.passed or not culprits or any(result is s for s in settled):
            continue
        named = ", ".join(f"{classes[name]} ({name})" for name in culprits)
        result.message = (f"{result.message.rstrip()}\nNote: {case.problem.class_name} is built from your own "
                          f"classes, and tests of {named} failed in this submission too: fix "
                          f"{'that' if len(culprits) == 1 else 'those'} first, as this test may fail "
                          f"only because of {'it' if len(culprits) == 1 else 'them'}.").lstrip()


def review_feedback(checks: list[CheckResult], graded: Graded, found: dict[str, Located | str]) -> list[str]:
    """Revise the failure messages once every check is graded; return notes about the student's files.

    In order: hints that another check contradicts are withdrawn (the check
    is explained again without them); notes that need several checks are
    added; an import error is told what is in the file (the classes it
    defines, its encoding); and a failure many tests share is given in full
    once and referred to in one line elsewhere. A visible test's message rests on
    visible tests alone: student code can make what it does in a hidden test
    depend on the hidden inputs, so that must never change what a visible test says.
    """
    if any(not result.passed for *_, result in graded):
        # a visible test's hints are ruled out by visible tests alone: what hidden tests did never shows in one
        ruled_out = {False: diagnose.contradicted([g for g in graded if not g[0].hidden]),
                     True: diagnose.contradicted(graded)}
        for case, check, outcome, result in graded:
            excluded = ruled_out[case.hidden].get((case.problem.name, check.method), set())
            if not result.passed and outcome.kind == "ok" and diagnose.names_any(result.message, excluded, case):
                result.passed, result.message, result.mistakes = explain(outcome, check, case, excluded)
        diagnose.across_checks(graded)  # notes on failed checks that need several checks (right for N = 1 only)
    _withhold_late_import_errors(graded)
    for case, _, outcome, result in graded:
        located = found.get(case.problem.file)
        if outcome.kind == "import_error" and isinstance(located, Located):
            extra = [line for line in (_missing_class(outcome, located, case.problem.class_name), located.note) if line]
            result.message = "\n".join([result.message, *extra])
    _point_to_visible_errors(graded)
    _explain_once(checks)
    return list(dict.fromkeys(v.note for v in found.values() if isinstance(v, Located) and v.note))


LATE_IMPORT = ("(not shown: in a test that is not visible, an import error's message is shown only when a visible "
               "test of the file raised the same)")


def _withhold_late_import_errors(graded: Graded) -> None:
    """A hidden test's import error keeps its words (hidden_error) only when a visible test of the same file raised
    the same: one that did not may come from an import made after hidden inputs were sent (a check that crashes
    goes on to a worker of its own, which imports the file afresh), whose code could have read them back from
    a process still running and spelled them in its message, its exception's name or its traceback."""
    def key(case: Case, outcome: CallOutcome) -> tuple[str, str, str]:
        error = outcome.error or {}
        return case.problem.file, no_digits(str(error.get("type", ""))), no_digits(str(error.get("message", "")))

    def failed_import(outcome: CallOutcome) -> bool:
        return outcome.kind in ("error", "import_error") and outcome.phase == "import"

    seen = {key(case, outcome) for case, _, outcome, _ in graded if not case.hidden and failed_import(outcome)}
    for case, _, outcome, result in graded:
        if case.hidden and failed_import(outcome) and key(case, outcome) not in seen:
            kind = shown_type(str((outcome.error or {}).get("type", "Error")), other="an exception of a class of your own")
            result.message = f"Your file could not be imported: {kind}: {LATE_IMPORT}"


def _point_to_visible_errors(graded: Graded) -> None:
    """A hidden test's withheld exception message names a visible test that raised the same built-in exception
    in the same class and method (or constructor), whose message students can read; only when there is one.

    Only built-in types: a class of the student's own could be named after a hidden test's inputs, and
    matching it would tell whether it is the visible test's name.
    """
    def key(case: Case, check: Check, outcome: CallOutcome) -> tuple[str, str, str, str]:
        kind = str((outcome.error or {}).get("type", ""))
        return case.problem.name, outcome.phase, check.method if outcome.phase == "call" else "", kind

    visible: dict[tuple[str, str, str, str], CheckResult] = {}
    for case, check, outcome, result in graded:
        if not case.hidden and outcome.kind == "error" and not result.passed:
            visible.setdefault(key(case, check, outcome), result)
    for case, check, outcome, result in graded:
        if not case.hidden or outcome.kind != "error" or WITHHELD not in result.message:
            continue
        kind = key(case, check, outcome)[3]
        carrier = visible.get(key(case, check, outcome))
        if carrier is not None and shown_type(kind, other="") == kind:
            result.message = result.message.replace(WITHHELD, withheld_shown_by(carrier, kind), 1)


def _missing_class(outcome: CallOutcome, located: Located, class_name: str) -> str:
    """For "module has no attribute 'Softmax'": the classes the file does define (read, not run)."""
    error = outcome.error or {}
    if error.get("type") != "AttributeError" or \
            f"module '{located.module}' has no attribute '{class_name}'" not in str(error.get("message", "")):
        return ""
    if located.source is None:  # not read when it was located: the file now may be what student code wrote
        return ""
    classes = classes_in(located.file, located.source)
    if classes is None or class_name in classes:
        return ""
    if not classes:
        return f"{located.shown} defines no class at all; the grader looks for {class_name}."
    text = f"In {located.shown}, found {', '.join(classes)}; the grader looks for {class_name}."
    same = [name for name in classes if name.lower() == class_name.lower()]
    if same:
        text += f" Names are case-sensitive: rename {same[0]} to {class_name}."
    return text


# What a shared failure is called in the one-line reference, by how its message starts.
_FAILURE_KINDS = (("Your file could not be imported: ", "import error"), ("Not graded: ", "problem"),
                  ("Creating ", "error"))
REFERENCE_CHARS = 300  # of the shared failure's first line, in a reference: what happened, without traceback or hints


def _explain_once(checks: list[CheckResult]) -> None:
    """A failure message shared by several tests: in full in the first, one line in the others.

    The full text goes to the first visible test of the group; a test that
    is not visible refers to it, or, when no test of the group is visible,
    to the first test of its own visibility, so no test refers to one its
    reader may not see, and a visible test never to a hidden one. A message
    of one line no longer than its reference is left as it is.
    """
    groups: dict[str, list[CheckResult]] = {}
    for result in checks:
        if not result.passed and result.message:
            groups.setdefault(_failure_key(result.message), []).append(result)
    for members in groups.values():
        if len(members) < 2:
            continue
        visible = [m for m in members if m.visibility == "visible"]
        for member in members:
            carrier = visible[0] if visible else next(m for m in members if m.visibility == member.visibility)
            if member is carrier:
                continue
            reference = _reference(carrier)
            if "\n" in member.message or len(reference) < len(member.message):
                member.message = reference


def _failure_key(message: str) -> str:
    """What makes two failure messages the same failure. A failure of the file itself (its import, or no
    file at all) is one and the same for every test, its hidden tests' copies differing only in the digits
    they hide: so they refer to a visible test's copy, whose words they already show."""
    if message.startswith(("Your file could not be imported: ", "Not graded: ")):
        return no_digits(message)
    return message


_REFERENCE = LazyPattern(r"Same (import error|problem|error|failure) as test [\w.]+ \(.*?\): ")


def unreferenced(message: str) -> str:
    """A message as it would read in full, as far as its first line goes: a one-line reference to another
    test's message (see _explain_once) given back its opening words, for readers of results (regrade)."""
    hit = _REFERENCE.match(message)
    if hit is None:
        return message
    opening = {name: prefix for prefix, name in _FAILURE_KINDS if prefix != "Creating "}.get(hit.group(1), "")
    return opening + message[hit.end():]


def _reference(carrier: CheckResult) -> str:
    """One line: the same failure as `carrier`, and what it was."""
    first = carrier.message.splitlines()[0]
    kind = "error" if re.match(r"\w+\.\w+ raised ", first) else "failure"
    for prefix, name in _FAILURE_KINDS:
        if first.startswith(prefix):
            kind, first = name, (first[len(prefix):] if prefix != "Creating " else first)
            break
    if len(first) > REFERENCE_CHARS:
        first = first[:REFERENCE_CHARS - 3].rstrip() + "..."
    return f"Same {kind} as test {carrier.number} ({carrier.name}): {first}"
