"""Write test_cases/ from the reference solution, deterministically.

Inputs are drawn from a seeded generator per case, expected outputs come from
running the reference through the same steps a worker runs, and every case
is verified before anything is written: against an independent
implementation when the problem names one (softmax: ``independent.py``),
against finite differences of the reference's own forward for
activation-like problems, and against values stated by hand in the config
(the writeup's worked example). Files are written to a temporary name and
renamed into place, so an interrupted run never leaves a half-written fixture.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import independent
from .config import Assignment, CaseSpec, InputSpec, Problem
from .errors import AutograderError
from .fixtures import GENERATED_HEADER, Case, Check, ProblemRef, Step, dump_case, fixture_filename, load_case
from .paths import PROJECT_ROOT

INDEPENDENT_TOLERANCE = 1e-12
# Central differences with an exactly representable step: truncation error
# ~h^2 and rounding ~eps/h, both far below this (relative to max(1, |dLdZ|)).
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def reference_file(assignment: Assignment, problem: Problem, root: Path = PROJECT_ROOT) -> Path:
    """The reference solution of a problem: the reference folder, laid out like a submission."""
    return root / assignment.reference / problem.file


def load_reference_class(assignment: Assignment, problem: Problem | None = None, root: Path = PROJECT_ROOT) -> type:
    """Import the reference solution by file path (trusted code, instructor side only).

    `problem` may be left out when the assignment has only one.
    """
    problem = problem or assignment.problem
    path = reference_file(assignment, problem, root)
    if not path.is_file():
        raise AutograderError(f"{path}: reference solution of problem '{problem.name}' not found "
                              f"(reference + problems.{problem.name}.file in {assignment.path})")
    spec = importlib.util.spec_from_file_location(f"_autograder_reference_{problem.name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the instructor's file: say which and why
        raise AutograderError(f"{path}: the reference solution could not be imported: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, problem.class_name)
    except AttributeError:
        raise AutograderError(f"{path}: no class {problem.class_name} (problems.{problem.name}.class)") from None


def draw(spec: InputSpec, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw one input array as the config describes it."""
    if spec.kind in ("values", "log_of"):
        try:
            array = np.array(spec.params["values"], dtype=np.float64)
        except (TypeError, ValueError):
            raise AutograderError(f"{spec.kind} is not a rectangular nested list of numbers") from None
        if array.shape != shape:
            raise AutograderError(f"{spec.kind} has shape {array.shape}, but the case's shape is {shape}")
        if spec.kind == "log_of":
            if not (array > 0).all():
                raise AutograderError("log_of needs positive numbers")
            array = np.log(array)
    elif spec.kind == "normal":
        array = rng.normal(spec.params.get("mean", 0.0), spec.params.get("std", 1.0), size=shape)
    else:
        array = rng.uniform(spec.params.get("low", 0.0), spec.params.get("high", 1.0), size=shape)
    if spec.row_offsets:
        if len(spec.row_offsets) != shape[0]:
            raise AutograderError(f"row_offsets has {len(spec.row_offsets)} entries for {shape[0]} rows")
        array = array + np.array(spec.row_offsets)[:, None]
    if spec.step is not None:
        # Multiples of a power-of-two step are exact in float32 too, so a
        # float32 implementation sees exactly the same logits.
        array = np.round(array / spec.step) * spec.step
    if spec.round is not None:
        array = np.round(array, spec.round)
    return array + 0.0  # no negative zeros in the files


def jacobians(A: np.ndarray) -> np.ndarray:
    """The per-row softmax Jacobians diag(a) - a a^T, shape (N, C, C)."""
    return np.einsum("ij,jk->ijk", A, np.eye(A.shape[1])) - np.einsum("ij,ik->ijk", A, A)


# -- independent checks: name -> (extra arrays to store, disagreement) -------------------------------------------
def _softmax_extras(case: Case, jacobian_max_entries: int) -> dict[str, np.ndarray]:
    n, c = case.inputs["Z"].shape
    return {"J": jacobians(case.expected["A"])} if n * c * c <= jacobian_max_entries else {}


def _softmax_disagreement(case: Case) -> float:
    """Largest absolute difference between the case's expected arrays and independent.py."""
    Z, dLdA = case.inputs["Z"].tolist(), case.inputs["dLdA"].tolist()
    worst = float(np.max(np.abs(np.array(independent.softmax(Z)) - case.expected["A"])))
    dLdZ = independent.backward(case.expected["A"].tolist(), dLdA)
    worst = max(worst, float(np.max(np.abs(np.array(dLdZ) - case.expected["dLdZ"]))))
    if "J" in case.expected:
        J = [independent.jacobian_row(row) for row in case.expected["A"].tolist()]
        worst = max(worst, float(np.max(np.abs(np.array(J) - case.expected["J"]))))
    return worst


@dataclass(frozen=True)
class IndependentCheck:
    """An implementation written apart from the reference, and readable extras it vouches for."""

    extras: Callable[[Case, int], dict[str, np.ndarray]]
    disagreement: Callable[[Case], float]


INDEPENDENT_CHECKS: dict[str, IndependentCheck] = {
    "softmax": IndependentCheck(extras=_softmax_extras, disagreement=_softmax_disagreement),
}


def independent_disagreement(case: Case, name: str = "softmax") -> float:
    """Largest absolute difference between the case's expected arrays and the named independent check."""
    return INDEPENDENT_CHECKS[name].disagreement(case)


def finite_difference_gap(forward: Callable[[np.ndarray], np.ndarray], Z: np.ndarray, dLdA: np.ndarray,
                          dLdZ: np.ndarray, *, step: float = FINITE_DIFFERENCE_STEP) -> float:
    """How far dLdZ is from central differences of L(Z) = sum(dLdA * forward(Z)), relative to max(1, |dLdZ|).

    Each entry of Z is moved by itself (nothing assumed about which outputs
    it touches); the step actually taken, (z + h) - (z - h), is computed
    exactly, so large logits do not blur the quotient.
    """
    Z = np.asarray(Z, dtype=np.float64)
    numeric = np.empty_like(Z)
    for index in np.ndindex(Z.shape):
        up, down = Z.copy(), Z.copy()
        up[index] += step
        down[index] -= step
        width = up[index] - down[index]
        change = np.asarray(forward(up), dtype=np.float64) - np.asarray(forward(down), dtype=np.float64)
        numeric[index] = float(np.sum(dLdA * change)) / width
    scale = max(1.0, float(np.max(np.abs(dLdZ))))
    return float(np.max(np.abs(numeric - dLdZ))) / scale


def reference_forward(reference: type, method: str = "forward") -> Callable[[np.ndarray], np.ndarray]:
    """A function Z -> forward(Z) on a fresh reference object."""
    return lambda Z: getattr(reference(), method)(Z.copy())


def known_gap(spec: CaseSpec, case: Case) -> tuple[str, float] | None:
    """The worst disagreement with the config's stated values (name, gap), or None when none are stated."""
    worst: tuple[str, float] | None = None
    for name, values in spec.known.items():
        try:
            stated = np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise AutograderError(f"case '{spec.name}': known.{name} is not a rectangular nested list of numbers") from None
        actual = case.expected.get(name)
        if actual is None:
            raise AutograderError(f"case '{spec.name}': known.{name} names no array of the fixture "
                                  f"(it has {', '.join(case.expected)})")
        if stated.shape != actual.shape:
            raise AutograderError(f"case '{spec.name}': known.{name} has shape {stated.shape}, "
                                  f"the reference's {name} has shape {actual.shape}")
        else:
            gap = float(np.max(np.abs(stated - actual)))
        if worst is None or gap > worst[1]:
            worst = (name, gap)
    return worst


def run_steps(reference: type, steps: tuple[Step, ...], inputs: dict[str, np.ndarray],
              expected: dict[str, np.ndarray]) -> np.ndarray:
    """Run a check's steps on a fresh reference object, as a worker would; returns the graded call's value."""
    obj = reference()
    result = None
    for step in steps:
        if step.call is None:
            setattr(obj, step.attr, expected[step.source].copy())
        else:
            result = getattr(obj, step.call)(*(inputs[name].copy() for name in step.args))
    return np.asarray(result, dtype=np.float64)


def steps_for(problem: Problem, method: str) -> tuple[Step, ...]:
    """What a worker runs for a method: the calls it needs first, the reference values it sets, then the call."""
    spec = problem.method(method)
    steps = [Step(call=b, args=problem.method(b).inputs) for b in spec.before]
    steps += [Step(attr=attr, source=source) for attr, source in spec.sets]
    steps.append(Step(call=spec.name, args=spec.inputs))
    return tuple(steps)


def build_case(spec: CaseSpec, number: int, assignment: Assignment, reference: type) -> Case:
    """Draw a case's inputs and compute its expected outputs with the reference."""
    problem = assignment.problems[spec.problem]
    rng = np.random.default_rng(spec.seed)
    inputs = {}
    for name in problem.input_names:
        try:
            inputs[name] = draw(spec.inputs[name], spec.shape, rng)
        except AutograderError as exc:
            raise AutograderError(f"{assignment.path}: cases ({spec.name}).inputs.{name}: {exc}") from None
    expected: dict[str, np.ndarray] = {}
    checks = []
    for method in problem.methods:
        steps = steps_for(problem, method.name)
        try:
            expected[method.output] = run_steps(reference, steps, inputs, expected)
        except Exception as exc:  # noqa: BLE001 - the reference failed: name the case and method
            raise AutograderError(f"case '{spec.name}': the reference's {problem.class_name}.{method.name} raised "
                                  f"{type(exc).__name__}: {exc}") from None
        checks.append(Check(method=method.name, output=method.output, points=spec.points[method.name], steps=steps))
    case = Case(
        name=spec.name,
        description=spec.description,
        number=number,
        visibility=spec.visibility,
        tags=tuple(dict.fromkeys(spec.tags)),
        tolerance=spec.tolerance,
        checks=tuple(checks),
        inputs=inputs,
        expected=expected,
        problem=ProblemRef(name=problem.name, file=problem.file, class_name=problem.class_name),
        limits=dataclasses.asdict(assignment.limits),
        policy=policy_document(assignment),
    )
    if problem.independent:
        case.expected.update(INDEPENDENT_CHECKS[problem.independent].extras(case, assignment.jacobian_max_entries))
    return case


def policy_document(assignment: Assignment) -> dict[str, dict]:
    """The submission policy as plain mappings, for the fixtures (empty when there is none)."""
    policy = assignment.policy
    doc = {}
    if policy.submissions is not None:
        doc["submissions"] = dataclasses.asdict(policy.submissions)
    if policy.late is not None:
        doc["late"] = dataclasses.asdict(policy.late)
    return doc


def verify_case(spec: CaseSpec, case: Case, problem: Problem, reference: type) -> list[str]:
    """Every independent check of one case; returns what disagrees (empty when all agree)."""
    problems = []
    if problem.independent:
        gap = independent_disagreement(case, problem.independent)
        if not gap <= INDEPENDENT_TOLERANCE:
            problems.append(f"case '{case.name}': the reference and the independent check '{problem.independent}' differ "
                            f"by {gap:.3g} (more than {INDEPENDENT_TOLERANCE:g})")
    if problem.kind == "activation":
        forward, backward = problem.methods[0], problem.methods[1]
        gap = finite_difference_gap(reference_forward(reference), case.inputs[forward.inputs[0]],
                                    case.inputs[backward.inputs[0]], case.expected[backward.output])
        if not gap <= FINITE_DIFFERENCE_TOLERANCE:
            problems.append(f"case '{case.name}': {backward.output} differs from finite differences of the reference's "
                            f"forward by {gap:.3g} (relative; more than {FINITE_DIFFERENCE_TOLERANCE:g})")
    known = known_gap(spec, case)
    if known is not None and not known[1] <= spec.known_atol:
        problems.append(f"case '{case.name}': the reference's {known[0]} differs from the value stated in the config "
                        f"(known.{known[0]}) by {known[1]:.3g} (more than {spec.known_atol:g})")
    return problems


def build_cases(assignment: Assignment, root: Path = PROJECT_ROOT) -> list[Case]:
    """All cases of the assignment, each verified before anything is written."""
    references = {name: load_reference_class(assignment, problem, root) for name, problem in assignment.problems.items()}
    cases = []
    for number, spec in enumerate(assignment.cases, start=1):
        problem = assignment.problems[spec.problem]
        case = build_case(spec, number, assignment, references[spec.problem])
        disagreements = verify_case(spec, case, problem, references[spec.problem])
        if disagreements:
            raise AutograderError("; ".join(disagreements) + "; fixtures were not written")
        cases.append(case)
    return cases


@dataclass
class GenerateReport:
    """What generate did, for the CLI to print."""

    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


# Expected values may differ in their last bits between NumPy versions (exp and sums are
# vectorised differently); a file that differs by no more than this is not out of date.
ROUNDING_RTOL = 1e-12


def same_up_to_rounding(case: Case, target: Path) -> bool:
    """True when the file holds this case but for last-bit differences in its expected arrays.

    Inputs and every other field must match exactly: the file, re-dumped with its own arrays,
    must equal what this case dumps to once given those arrays.
    """
    try:
        existing = load_case(target)
    except AutograderError:
        return False
    if existing.inputs.keys() != case.inputs.keys() or existing.expected.keys() != case.expected.keys():
        return False
    for name, new in case.expected.items():
        old = existing.expected[name]
        scale = float(np.max(np.abs(new))) if new.size else 0.0
        if old.shape != new.shape or not np.allclose(old, new, rtol=ROUNDING_RTOL, atol=ROUNDING_RTOL * scale):
            return False
    if any(not np.array_equal(existing.inputs[k], v) for k, v in case.inputs.items()):
        return False
    return dump_case(dataclasses.replace(case, expected=existing.expected)) == target.read_text(encoding="utf-8")


def _current(case: Case, text: str, target: Path) -> bool:
    """The file already holds this case (byte for byte, or up to rounding)."""
    if not target.is_file():
        return False
    return target.read_text(encoding="utf-8") == text or same_up_to_rounding(case, target)


def write_cases(cases: list[Case], out_dir: Path, *, log: Callable[[str], None] = lambda s: None) -> GenerateReport:
    """Write one file per case; untouched files keep their bytes; stale generated files go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = GenerateReport([], [], [])
    wanted = {fixture_filename(case): (case, dump_case(case)) for case in cases}
    for name, (case, text) in wanted.items():
        target = out_dir / name
        if _current(case, text, target):  # a file equal up to rounding keeps its bytes too
            report.unchanged.append(target)
            continue
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        report.written.append(target)
        log(f"  wrote {target.name}")
    for stale in sorted(out_dir.glob("*.yaml")):
        if stale.name not in wanted and stale.read_text(encoding="utf-8", errors="replace").startswith(GENERATED_HEADER):
            stale.unlink()
            report.removed.append(stale)
            log(f"  removed stale {stale.name}")
    return report


def stale_fixtures(cases: list[Case], out_dir: Path) -> list[str]:
    """Names of fixture files that differ from what generate would write (for --check).

    Last-bit differences in expected values (another NumPy version) do not count.
    """
    problems = []
    wanted = {fixture_filename(c): (c, dump_case(c)) for c in cases}
    for name, (case, text) in wanted.items():
        target = out_dir / name
        if not target.is_file():
            problems.append(f"{name}: missing")
        elif not _current(case, text, target):
            problems.append(f"{name}: differs")
    for extra in sorted(out_dir.glob("*.yaml")) if out_dir.is_dir() else []:
        if extra.name not in wanted:
            problems.append(f"{extra.name}: not in the config")
    return problems


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m autograder generate")
