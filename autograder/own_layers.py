"""A class built from the student's own parts (an MLP from their Linear and ReLU), graded against those parts
when they fail their own tests: a wrong Linear then costs the Linear tests, not the MLP's too.

The MLP's tests are graded against the fixtures first, as every test is. Only a test that failed there, of
a problem whose config declares a `chain` (how it runs its parts) and whose `uses` problems failed some test
of this submission, is decided again: a worker builds a fresh instance by the same steps and, instead of
the instance's own methods, runs the student's own parts as the class should (forward through `layers` in
order, backward in reverse, each value given to the next). That is grader-written code calling only
student objects: no reference code and no expected value reaches the worker. The test then passes when

- the parts are those the reference builds (class names in order, and the shapes of the arrays the
  chain's `shapes` names, as built), and
- the student's own value (returned, or an attribute such as layers[0].dLdW) agrees with the chain's,
  within the case's tolerance, and
- the class is seen running its parts (follows_its_parts): run again with the value each part hands on to
  the next moved by a fixed random amount, it still agrees with the chain, and the chain's value moves. Parts
  that do no work (zeros, ramps of their shapes, their input handed on) agree with a class that does none on
  the test's inputs; moved, only a class that runs them follows;

and says it was graded against the student's own parts. Otherwise it fails as before, saying which of the
two does not hold. Parts that raise (or give no array) cannot stand in for the reference: the test stays
failed, with the note that names the failing parts (grade.note_used_failures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection

import numpy as np

from .compare import compare, within
from .fixtures import Case, Chain, Check
from .results import CheckResult
from .sandbox import CallOutcome

# (case, check, outcome, result) of each graded check, as grade_submission keeps them
Graded = list[tuple[Case, Check, CallOutcome, CheckResult]]
# runs a request for a case's check and judges its outcome (escalation.decide), giving the verdict; with
# fresh=True, once, in a process that ran nothing else (what an earlier run left there cannot answer for it)
Runner = Callable[..., tuple]


def chain_ops(ops: list[dict[str, Any]], chain: Chain) -> list[dict[str, Any]]:
    """A check's request (grade.request_for) run through the parts: their description taken as soon as the
    object is built (before any attribute is set: the shapes as built), and every call made through them."""
    out: list[dict[str, Any]] = []
    for op in ops:
        if op["op"] in ("set", "call") and not any(o["op"] == "describe" for o in out):
            out.append({"op": "describe", "attr": chain.through, "fields": list(chain.shapes)})
        if op["op"] == "call":
            op = dict(op, through={"attr": chain.through, "reverse": op["method"] in chain.reverse})
        out.append(op)
    return out


def structure_problems(described: dict[str, Any] | None, case: Case) -> list[str]:
    """How the student's parts differ from those the reference builds (empty: they do not). A test that is
    not visible names only what the reference builds: class names and shapes are the student code's choice."""
    chain, hidden = case.problem.chain, case.hidden
    assert chain is not None
    owner = f"{case.problem.class_name}.{chain.through}"
    if described is None or "error" in described:
        return [f"{owner} could not be read as a list of parts"]
    items, expected = described["items"], case.structure
    found = []
    if described["length"] != len(expected):
        found.append(f"{owner} holds {'another number of' if hidden else described['length']} part(s), "
                     f"the reference's {len(expected)}")
    for i, (mine, theirs) in enumerate(zip(items, expected)):
        if mine["class"] != theirs["class"]:
            found.append(f"{chain.through}[{i}] is not a {theirs['class']}" if hidden else
                         f"{chain.through}[{i}] is a {mine['class']}, expected a {theirs['class']}")
            continue
        for name, shape in theirs.items():
            if name != "class" and mine.get(name) != shape:
                found.append(f"{chain.through}[{i}].{name} is not built with the reference's shape" if hidden else
                             f"{chain.through}[{i}].{name} is built with shape {_shape(mine.get(name))}, "
                             f"expected {tuple(shape)}")
    return found


def _shape(shape: list[int] | None) -> str:
    return "(none: not an array)" if shape is None else str(tuple(shape))


def _float_array(outcome: CallOutcome) -> np.ndarray | None:
    array = outcome.array
    if outcome.kind != "ok" or array is None or array.dtype.kind not in "fiu" or not np.isfinite(array).all():
        return None
    return array.astype(np.float64)


def judge_chain(chained: CallOutcome, outcome: CallOutcome, case: Case, check: Check,
                parts: str) -> tuple[bool, list[str], bool]:
    """The verdict on a failed test decided against the student's own parts: passed, the lines to say, and
    whether the test is settled by it (False: the parts could not stand in for the reference's)."""
    from .grade import hidden_error

    chain = case.problem.chain
    assert chain is not None
    name = case.problem.class_name
    run_so = _run_so(case)
    also = f"Graded against your own {parts} as well, as tests of {parts} fail in this submission"
    cannot = "so this test could not be graded against them."
    found = structure_problems(chained.described, case) if chained.described is not None or chained.kind == "ok" else []
    if found:
        return False, [f"{also}, it fails there too: {name} does not build the parts it should: "
                       f"{'; '.join(found)}."], True
    if outcome.array is None and chained.kind == "ok":  # the class's own call raised; its parts, run right, do not
        return False, [f"{also}: {run_so}, they raise nothing, so the error is in {name} itself."], True
    if outcome.array is None:
        return False, [], False
    if chained.kind == "error":
        error = hidden_error(chained.error or {}) if case.hidden else (chained.error or {})
        frames = error.get("frames") or []
        where = f" (in {frames[-1]['file']}, line {frames[-1]['line']})" if frames else ""
        return False, [f"Your own {parts}, {run_so}, raised {error.get('type', 'Error')}: {error.get('message', '')}"
                       f"{where}: {cannot}"], False
    if chained.kind != "ok":
        return False, [f"Your own {parts}, {run_so}, gave no answer ({chained.kind}): {cannot}"], False
    theirs = _float_array(chained)
    if theirs is None:
        return False, [f"Your own {parts}, {run_so}, give no array of finite numbers for {check.graded}: "
                       f"{cannot}"], False
    assert outcome.returned is not None
    verdict = compare(outcome.returned, outcome.array, theirs, case.tolerance,
                      what=f"{name}'s {check.graded}", show_values=not case.hidden)
    if not verdict.passed:
        return False, [f"{also}, it fails there too: {name} does not run its parts as it should. Below, \"expected\" "
                       f"is what your own parts give, {run_so}."] + verdict.lines, True
    return True, [f"Graded against your own {parts}, as tests of {parts} fail in this submission: {run_so}, they give "
                  f"the same {check.graded} as your {name}, and {chain.through} holds the classes and shapes the "
                  f"reference builds. So {name} itself is right here; its values differ from the reference's because "
                  f"of {parts}."], True


def no_evidence(case: Case, check: Check, parts: str, what: str) -> str:
    """Why the parts' value is no evidence for the class (`what` they give): the test stays graded against the
    reference alone."""
    name = case.problem.class_name
    return (f"Your own {parts}, {_run_so(case)}, give {what}, which cannot tell a right {name} from a wrong one: "
            f"so this test was graded against the reference only.")


def _run_so(case: Case) -> str:
    """How the parts were run, in words."""
    assert case.problem.chain is not None
    return f"run as {case.problem.class_name} should run them ({_how(case.problem.chain)})"


def _judgeable(outcome: CallOutcome) -> bool:
    """An answer to compare with the parts' (an array), or an exception in a call of a class that is written:
    then its parts' structure may still show the class wrong (not a missing method: the template's)."""
    if outcome.kind == "ok":
        return outcome.array is not None
    return outcome.kind == "error" and outcome.phase == "call" and not (outcome.error or {}).get("not_implemented")


def _how(chain: Chain) -> str:
    how = f"each call through {chain.through} in order, each value given to the next"
    return how + (f"; {', '.join(chain.reverse)} in reverse order" if chain.reverse else "")


def checks_needed(cases: list[Case], only: Collection[str], name: Callable[[Case, Check], str]) -> set[str]:
    """The tests a selection of tests (`only`, by `name`) needs graded besides its own: those of the problems
    a selected test of a class with a chain uses, whose failures decide how that test is graded."""
    used = {problem for case in cases if case.problem.chain is not None
            and any(name(case, check) in only for check in case.checks) for problem in case.problem.uses}
    return {name(case, check) for case in cases if case.problem.name in used for check in case.checks} - set(only)


@dataclass
class Regraded:
    """A failed test decided again against the student's own parts (judge_chain's verdict on it)."""

    result: CheckResult
    points: float
    passed: bool
    lines: list[str]
    settled: bool  # the verdict holds (passed, or shown wrong in the class itself)


def grade_against_own_parts(graded: Graded, failed: Collection[str], run: Runner) -> list[Regraded]:
    """Decide again, against the student's own parts, each failed test of a problem with a chain whose `uses`
    problems are among `failed`; the verdicts, to be applied once every test's message is final (apply).

    `run(case, ops, arrays, judge)` runs a request in the sandbox as a check of `case` and gives judge's verdict.
    What is run here runs student code again: the caller decides when (a visible test's second grading comes
    before any hidden case's inputs reach a worker, and counts only what the visible tests show failed).
    """
    from .grade import request_for

    classes = {case.problem.name: case.problem.class_name for case, *_ in graded}
    regraded = []
    passed_now: list[CheckResult] = []  # results this pass found right (applied later)
    moved_runs: dict[tuple[int, ...], tuple[Moved, Moved, Moved | None]] = {}  # see follows_its_parts
    # in each case's own order: a later call (backward) counts as right only when the earlier ones (forward) are
    # right too, so parts that do no work cannot vouch for a class's backward whose forward they could not
    for case, check, outcome, result in sorted(graded, key=lambda g: (g[0].number, g[0].checks.index(g[1]))):
        chain = case.problem.chain
        culprits = [classes.get(name, name) for name in case.problem.uses if name in failed]
        if result.passed or chain is None or not culprits or outcome.mutated or not _judgeable(outcome):
            continue
        earlier_wrong = any(not r.passed and not any(r is p for p in passed_now) for c, k, _, r in graded
                            if c is case and k.method != check.method and c.checks.index(k) < c.checks.index(check))
        parts = " and ".join(culprits)
        ops, arrays = request_for(check, case.inputs, case.expected)
        chained_value: list[np.ndarray | None] = [None]

        def judge(chained: CallOutcome, outcome: CallOutcome = outcome, case: Case = case, check: Check = check,
                  kept: list[np.ndarray | None] = chained_value) -> tuple[bool, list[str], bool]:
            kept[0] = _float_array(chained)
            return judge_chain(chained, outcome, case, check, parts)

        passed, lines, decisive = run(case, chain_ops(ops, chain), arrays, judge)
        if passed and earlier_wrong:
            continue  # right against parts that could not vouch for the earlier call: stays failed, with the uses note
        if passed:
            why = follows_its_parts(run, case, check, chained_value[0], parts, moved_runs)
            if why:
                passed, decisive, lines = False, False, [why]
        regraded.append(Regraded(result, check.points, passed, lines, decisive))
        if passed:
            passed_now.append(result)
    return regraded


def perturbed(ops: list[dict[str, Any]], chain: Chain, seed: int, other: int | None = None) -> list[dict[str, Any]]:
    """A request whose graded call (the last) is made with the value each part's method returns moved by a fixed
    random amount (worker._perturb; `other`: the index of the part whose amount is drawn otherwise)."""
    last = max(i for i, op in enumerate(ops) if op["op"] == "call")
    method = ops[last]["method"]
    step: dict[str, Any] = {"op": "perturb", "attr": chain.through, "method": method, "seed": seed,
                            "reverse": method in chain.reverse}
    if other is not None:
        step["other"] = other
    return ops[:last] + [step] + ops[last:]


Moved = dict[int, "np.ndarray | None"]  # a value of each check of a group (by id), as a moved run gave it


def follows_its_parts(run: Runner, case: Case, check: Check, value: np.ndarray | None, parts: str,
                      runs: dict[tuple[int, ...], tuple[Moved, Moved, Moved | None]]) -> str:
    """Why a value that agrees with the parts' is still no evidence that the class runs them (empty: it is).

    Agreeing on the test's inputs alone, a class that never calls its parts can mirror parts whose value is
    built from their own parameters (the last Linear's b times a ramp, say), or from inputs they tell apart from
    any other (a fixture's four decimals). So the class's own call and the parts' chain are made again, each in
    a process that ran nothing else, with the value each part hands on to the next moved by a fixed random
    amount (worker._perturb): a class that hands each value on as its parts, called in order, would give the
    chain's value, moved as it is; one that computes its answer some other way does not see the amounts. The
    moved value must also differ from the unmoved one: in the first call, from that of the chain with the first
    part's amount drawn otherwise (the answer must depend on what the first part hands on, not on the last
    parts alone); in a later call (backward), from the chain's own value `value` (a part may legitimately ignore
    the value it is given there, as a ReLU backward that returns its mask does). The checks of the case with
    the same steps (a backward's gradients) are answered by the same runs, kept in `runs`."""
    chain = case.problem.chain
    assert chain is not None
    first = check.method == case.checks[0].method
    group = [k for k in case.checks if k.steps == check.steps]
    key = (id(case), *map(id, group))
    if key not in runs:
        runs[key] = _moved_runs(run, case, group, first)
    mine, theirs, other = (None if values is None else values[id(check)] for values in runs[key])
    if not first:
        other = value
    moved_by = f"the value each part in {chain.through} hands on to the next in {check.method} moved by a fixed random " \
        "amount"
    moved = f"(run again with {moved_by})"
    name = case.problem.class_name
    if theirs is None or other is None:
        return no_evidence(case, check, parts, f"no array of finite numbers for {check.graded} {moved}")
    if _close(theirs, other, case):
        said = f"{chain.through}[0] hands on" if first else "the parts hand on"
        return no_evidence(case, check, parts, f"the same {check.graded} whatever {said} {moved}")
    if mine is None:
        return (f"Your {name} gives no array of finite numbers for {check.graded} {moved}, where your own {parts} "
                f"do: so this test was graded against the reference only.")
    if not _close(mine, theirs, case):
        return (f"Your {name}, and your own {parts} {_run_so(case)}, were run again with {moved_by}: they no longer "
                f"give the same {check.graded}, so {name} does not get its {check.graded} by running its parts; this "
                f"test was graded against the reference only.")
    return ""


def _moved_runs(run: Runner, case: Case, group: list[Check], first: bool) -> tuple[Moved, Moved, Moved | None]:
    """The values of a group of checks with the same steps (follows_its_parts), each run in a process that ran
    nothing else: the class's own call moved, the chain's moved, and in the first call the chain's with the
    first part's amount drawn otherwise."""
    from .grade import request_together

    chain = case.problem.chain
    assert chain is not None
    ops, arrays = request_together(group, case)
    seed = 1_000_003 + case.number

    def values(outcome: CallOutcome) -> tuple[bool, Moved]:
        items = outcome.items if outcome.kind == "ok" and outcome.items is not None else []
        arrays_of = [_float_array(item) for item in items] if len(items) == len(group) else [None] * len(group)
        return True, {id(check): array for check, array in zip(group, arrays_of)}

    _, mine = run(case, perturbed(ops, chain, seed), arrays, values, fresh=True)
    _, theirs = run(case, perturbed(chain_ops(ops, chain), chain, seed), arrays, values, fresh=True)
    other = run(case, perturbed(chain_ops(ops, chain), chain, seed, other=0), arrays, values, fresh=True)[1] \
        if first else None
    return mine, theirs, other


def _close(a: np.ndarray, b: np.ndarray, case: Case) -> bool:
    """Same shape and every value within the case's tolerance (compare.within, the one closeness rule)."""
    return a.shape == b.shape and bool(within(a, b, case.tolerance).all())


def apply(regraded: list[Regraded]) -> list[CheckResult]:
    """Put the verdicts in the results (a pass replaces the message; a failure adds its lines); the results
    they settled."""
    for verdict in regraded:
        result = verdict.result
        if verdict.passed:
            result.passed, result.score, result.mistakes, result.message = True, verdict.points, (), "\n".join(
                verdict.lines)
        else:
            result.message = "\n".join([result.message.rstrip(), *verdict.lines]).lstrip()
    return [verdict.result for verdict in regraded if verdict.settled]
