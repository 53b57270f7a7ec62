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
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from . import independent
from .config import Assignment, CaseSpec, InputSpec, Problem
from .errors import AutograderError
from .feedback import FEEDBACK_DIR
from .compare import within
from .fixtures import (DEFAULT_CONFIG_NAME, GENERATED, MISTAKEN, Case, Chain, Check, ProblemRef, Step, dump_case,
                       fixture_filename, generated_header, load_case)

INDEPENDENT_TOLERANCE = 1e-12
# Central differences with an exactly representable step: truncation error
# ~h^2 and rounding ~eps/h, both far below this (relative to max(1, |dLdZ|)).
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = 1e-6


def reference_file(assignment: Assignment, problem: Problem, root: Path | None = None) -> Path:
    """The reference solution of a problem: the reference folder, laid out like a submission."""
    return (assignment.root if root is None else root) / assignment.reference / problem.file


def load_reference_class(assignment: Assignment, problem: Problem | None = None, root: Path | None = None) -> type:
    """Import the reference solution (trusted code, instructor side only), as a submission's files are imported:
    from its folder, so that one file may import another (models/mlp.py imports mytorch.nn.linear).

    `problem` may be left out when the assignment has only one. What the import adds to sys.modules is taken
    out again, so that references of several assignments (and student code in tests) never meet.
    """
    problem = problem or assignment.problem
    path = reference_file(assignment, problem, root)
    if not path.is_file():
        raise AutograderError(f"{path}: reference solution of problem '{problem.name}' not found "
                              f"(reference + problems.{problem.name}.file in {assignment.path})")
    folder = path.parents[len(Path(problem.file).parts) - 1]
    dotted = ".".join(Path(problem.file).with_suffix("").parts)
    top = Path(problem.file).parts[0].removesuffix(".py")
    tops = {top} | {p.name.removesuffix(".py") for p in folder.iterdir() if p.is_dir() or p.suffix == ".py"}
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.partition(".")[0] in tops}
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(dotted)
    except Exception as exc:  # noqa: BLE001 - the instructor's file: say which and why
        raise AutograderError(f"{path}: the reference solution could not be imported: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.partition(".")[0] in tops]:
            del sys.modules[name]
        sys.modules.update(saved)
    try:
        return getattr(module, problem.class_name)
    except AttributeError:
        raise AutograderError(f"{path}: no class {problem.class_name} (problems.{problem.name}.class)") from None


def one_hot(classes: Any, shape: tuple[int, ...], what: str = "one_hot.classes") -> np.ndarray:
    """The (N, C) matrix with a 1 in each row's class: the one-hot form of N labels."""
    if len(shape) != 2:
        raise AutograderError(f"one_hot needs a shape (N, C), found {shape}")
    rows = np.asarray(classes, dtype=np.int64)
    if rows.shape != (shape[0],) or rows.size and rows.max() >= shape[1]:
        raise AutograderError(f"{what} should give each of the {shape[0]} rows a class below {shape[1]}, "
                              f"found {rows.tolist()}")
    array = np.zeros(shape)
    array[np.arange(shape[0]), rows] = 1.0
    return array


def labels(spec: InputSpec, shape: tuple[int, ...], rng: np.random.Generator, dims: dict[str, int]) -> np.ndarray:
    """Integer labels (int64) from 0 to `classes` - 1: the given ones, else drawn uniformly."""
    classes = spec.params["classes"]
    if isinstance(classes, str):
        if classes not in dims:
            raise AutograderError(f"labels.classes names dimension {classes!r}, which the case does not give "
                                  f"(dims: {dims or 'none'}); give a number or add it under dims")
        classes = dims[classes]
    if "values" not in spec.params:
        if classes < 1:
            raise AutograderError(f"labels need at least one class, found classes = {classes}")
        return rng.integers(0, classes, size=shape, dtype=np.int64)
    try:
        array = np.array(spec.params["values"], dtype=np.int64)
    except (TypeError, ValueError):
        raise AutograderError("labels is not a rectangular nested list of whole numbers") from None
    if array.shape != shape:
        raise AutograderError(f"labels has shape {array.shape}, but the input's shape is {shape}")
    if array.size and array.max() >= classes:
        raise AutograderError(f"labels should be below the number of classes ({classes}), found {int(array.max())}")
    return array


def draw(spec: InputSpec, shape: tuple[int, ...], rng: np.random.Generator,
         dims: dict[str, int] | None = None) -> np.ndarray:
    """Draw one input array as the config describes it (a one-hot made from a labels input: see build_case)."""
    if spec.kind == "one_hot":
        classes = spec.params.get("classes")
        if classes is None and len(shape) == 2:
            classes = rng.integers(0, shape[1], size=shape[0])
        return one_hot(classes, shape)
    if spec.kind == "labels":
        return labels(spec, shape, rng, dims or {})
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
              expected: dict[str, np.ndarray], check: Check | None = None) -> np.ndarray:
    """Run a check's steps on a fresh reference object exactly as a worker does (the worker's own code, on the
    grader's own request); returns the graded value as float64, or int64 when it is whole numbers (labels,
    an argmax), which are then graded exactly (a number: a 0-d array)."""
    return run_request(reference, steps, inputs, expected, check)[0]


def run_request(reference: type, steps: tuple[Step, ...], inputs: dict[str, np.ndarray],
                expected: dict[str, np.ndarray], check: Check | None = None,
                chain: Chain | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """run_steps, and the worker's whole reply; with `chain`, the request a grader sends to grade the class
    against its own parts (own_layers.chain_ops), so the reply describes the parts the reference builds."""
    from .grade import request_for
    from .own_layers import chain_ops
    from .sandbox.worker import run_steps as worker_run_steps

    check = check or Check(method=steps[-1].call or "", output="", points=0.0, steps=steps)
    ops, arrays = request_for(dataclasses.replace(check, steps=steps), inputs, expected)
    reply, out = worker_run_steps(reference, chain_ops(ops, chain) if chain else ops, arrays, "",
                                  max_result_bytes=1 << 30)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        raise AutograderError(f"{error.get('type', 'Error')}: {error.get('message', '')}")
    returned = reply["returned"]
    if returned["kind"] not in ("ndarray", "scalar") or "result" not in out:
        raise AutograderError(f"the graded value is a {returned.get('type')}, not an array or a number")
    result = np.asarray(out["result"])
    return (result.astype(np.int64) if result.dtype.kind in "iu" else result.astype(np.float64)), reply


def reference_structure(reference: type, case: Case, chain: Chain) -> tuple[dict[str, Any], ...]:
    """The parts the reference builds for a case (a problem with a chain), as the grader's worker describes
    them: each part's class name and the shapes of the arrays the chain names, as built."""
    check = case.checks[0]
    described = run_request(reference, check.steps, case.inputs, case.expected, check, chain)[1].get("described")
    if not described or "error" in described or described["length"] > len(described["items"]):
        raise AutograderError(f"case '{case.name}': the reference's {case.problem.class_name}.{chain.through} is "
                              f"not a list of parts (problems.{case.problem.name}.chain.through)")
    return tuple(described["items"])


def chain_gaps(case: Case, reference: type, chain: Chain) -> list[str]:
    """Graded values of a case that the reference's own parts, run as the chain says, do not give: the chain
    must be how the class runs its parts, or grading against a student's own parts would mean nothing."""
    gaps = []
    for check in case.checks:
        try:
            value = run_request(reference, check.steps, case.inputs, case.expected, check, chain)[0]
        except AutograderError as exc:
            gaps.append(f"{check.output} (the chain raised {exc})")
            continue
        expected = case.expected[check.output]
        if value.shape != expected.shape or not np.allclose(value, expected, rtol=0, atol=INDEPENDENT_TOLERANCE):
            gaps.append(check.output)
    return gaps


def steps_for(problem: Problem, method: str) -> tuple[Step, ...]:
    """What a worker runs for a method: the calls it needs first, the reference values it sets, then the call."""
    spec = problem.method(method)
    steps = [Step(call=b, args=problem.method(b).inputs) for b in spec.before]
    steps += [Step(attr=attr, source=source) for attr, source in spec.sets]
    steps.append(Step(call=spec.name, args=spec.inputs))
    return tuple(steps)


def _resolve(value: Any, dims: dict[str, int]) -> Any:
    """A step's argument for one case: a dimension's name becomes its number; anything else stays."""
    if isinstance(value, dict):
        return {key: _resolve(item, dims) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, dims) for item in value]
    return dims.get(value, value) if isinstance(value, str) else value


def case_steps(problem: Problem, spec: CaseSpec, method: str) -> tuple[Step, ...]:
    """A check's steps for one case: the argument objects, the constructor, then the method's own steps."""
    if not problem.method(method).steps:
        return steps_for(problem, method)
    steps = [Step(obj=name, value=_resolve(value, spec.dims)) for name, value in problem.objects.items()]
    if spec.init is not None:
        args, kwargs = spec.init
        steps.append(Step(init=True, args=tuple(_resolve(list(args), spec.dims)),
                          kwargs=tuple((k, _resolve(v, spec.dims)) for k, v in kwargs)))
    for step in problem.method(method).steps:
        if step.call is not None:
            step = dataclasses.replace(step, args=tuple(_resolve(list(step.args), spec.dims)),
                                       kwargs=tuple((k, _resolve(v, spec.dims)) for k, v in step.kwargs))
        steps.append(step)
    return tuple(steps)


def input_shape(spec: CaseSpec, problem: Problem, name: str) -> tuple[int, ...]:
    """An input's shape in a case: its own, else the problem's declared one, else the case's [N, C]."""
    default = ("N",) if spec.inputs[name].kind == "labels" else spec.shape  # labels: one per sample
    shape = spec.inputs[name].shape or problem.input_shapes.get(name) or default
    try:
        return tuple(spec.dims[d] if isinstance(d, str) else int(d) for d in shape)
    except KeyError as exc:
        raise AutograderError(f"the shape {list(shape)} names dimension {exc.args[0]!r}, which the case does not "
                              f"give (dims: {spec.dims or 'none'})") from None


def build_case(spec: CaseSpec, number: int, assignment: Assignment, reference: type) -> Case:
    """Draw a case's inputs and compute its expected outputs with the reference."""
    problem = assignment.problems[spec.problem]
    rng = np.random.default_rng(spec.seed)
    drawn = {}
    # a one-hot of a labels input draws nothing: made after the others, it leaves their draws as they were
    for name in sorted(problem.input_names, key=lambda n: "from" in spec.inputs[n].params):
        try:
            source = spec.inputs[name].params.get("from") if spec.inputs[name].kind == "one_hot" else None
            shape = input_shape(spec, problem, name)
            drawn[name] = (one_hot(drawn[source], shape, f"the labels {source}") if source is not None else
                           draw(spec.inputs[name], shape, rng, spec.dims))
        except AutograderError as exc:
            raise AutograderError(f"{assignment.path}: cases ({spec.name}).inputs.{name}: {exc}") from None
    inputs = {name: drawn[name] for name in problem.input_names}
    expected: dict[str, np.ndarray] = {}
    checks = []
    for method in problem.methods:
        steps = case_steps(problem, spec, method.name)
        for output, value, on in method.graded or ((method.output, None, None),):
            points = spec.points.get(output, spec.points[method.name])
            check = Check(method=str(steps[-1].call), output=output, points=points, steps=steps, value=value, on=on)
            try:
                expected[output] = run_steps(reference, steps, inputs, expected, check)
            except Exception as exc:  # noqa: BLE001 - the reference failed: name the case and method
                raise AutograderError(f"case '{spec.name}': the reference's {problem.class_name}.{method.name} "
                                      f"({check.graded}) failed: {exc}") from None
            checks.append(check)
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
        problem=ProblemRef(name=problem.name, file=problem.file, class_name=problem.class_name, uses=problem.uses,
                           chain=problem.chain),
        limits=dataclasses.asdict(assignment.limits),
        policy=policy_document(assignment),
        config=config_name(assignment),
    )
    if problem.chain is not None:
        case.structure = reference_structure(reference, case, problem.chain)
    if problem.independent in INDEPENDENT_CHECKS:
        case.expected.update(INDEPENDENT_CHECKS[problem.independent].extras(case, assignment.jacobian_max_entries))
    return case


def config_name(assignment: Assignment) -> str:
    """The config as the fixtures' header names it, the same on every machine: from the root of the repository
    that holds it (the folder with the grader's package: autograder/assignment.yaml, examples/hw1p1/assignment.yaml),
    else from the assignment's own folder."""
    if assignment.path is None:
        return DEFAULT_CONFIG_NAME
    path = Path(assignment.path).resolve()
    repository = next((base for base in path.parents if (base / "autograder" / "__init__.py").is_file()), None)
    for base in (repository, assignment.root.resolve()):
        if base is not None and path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def policy_document(assignment: Assignment) -> dict[str, dict]:
    """The submission policy as plain mappings, for the fixtures (empty when there is none)."""
    policy = assignment.policy
    doc = {}
    if policy.submissions is not None:
        doc["submissions"] = dataclasses.asdict(policy.submissions)
    if policy.late is not None:
        doc["late"] = dataclasses.asdict(policy.late)
    return doc


def constant_outputs(spec: CaseSpec, case: Case, problem: Problem) -> list[str]:
    """Expected values that are all zero, or (with more than one value) all equal, and not declared as meant:
    a stub returning zeros (or a constant) would pass them."""
    allowed = set(problem.constant) | set(spec.constant)
    found = []
    for check in case.checks:
        value = case.expected[check.output]
        if check.output in allowed:
            continue
        if not np.any(value) or value.size > 1 and np.all(value == value.flat[0]):
            found.append(check.output)
    return found


def gradient_gaps(case: Case, problem: Problem, reference: type) -> list[tuple[str, float]]:
    """For each gradient of the problem (config `gradients`), how far the reference's value is from central
    differences of its own forward or loss (relative to max(1, |gradient|))."""
    checks = {check.output: check for check in case.checks}
    gaps = []
    for gradient in problem.gradients:
        of = checks[gradient.of]

        def forward(x: np.ndarray, of: Check = of, wrt: str = gradient.wrt) -> np.ndarray:
            return run_steps(reference, of.steps, {**case.inputs, wrt: x}, case.expected, of)

        upstream = case.inputs[gradient.upstream] if gradient.upstream else np.float64(1.0)
        gap = finite_difference_gap(forward, case.inputs[gradient.wrt], upstream, case.expected[gradient.value])
        gaps.append((f"{gradient.value} (d/d{gradient.wrt} of {gradient.of})", gap))
    return gaps


def independent_module(assignment: Assignment) -> Any:
    """The assignment's own independent implementations (config `independent`, a file of its folder), or None."""
    if assignment.independent is None:
        return None
    path = assignment.root / assignment.independent
    spec = importlib.util.spec_from_file_location(f"_autograder_independent_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise AutograderError(f"{path}: independent implementations not found (independent in {assignment.path})")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the instructor's file
        raise AutograderError(f"{path}: could not be imported: {type(exc).__name__}: {exc}") from None
    return module


def module_disagreement(module: Any, name: str, case: Case, spec: CaseSpec) -> tuple[float, str]:
    """Largest difference (relative to max(1, |value|)) between the case's expected values and the assignment's
    independent implementation `name`, called with the inputs as nested lists and the constructor's arguments."""
    function = getattr(module, name, None)
    if function is None:
        raise AutograderError(f"{module.__file__}: no function {name} (problems.{spec.problem}.independent)")
    args, kwargs = spec.init or ((), ())
    values = function({k: v.tolist() for k, v in case.inputs.items()},
                      *[spec.dims.get(a, a) if isinstance(a, str) else a for a in args], **dict(kwargs))
    worst = (0.0, "")
    for output, value in values.items():
        expected = case.expected[output]
        mine = np.asarray(value, dtype=np.float64)
        if mine.shape != expected.shape:
            return float("inf"), f"{output} (shape {mine.shape}, the reference's {expected.shape})"
        gap = float(np.max(np.abs(mine - expected))) / max(1.0, float(np.max(np.abs(expected))))
        worst = max(worst, (gap, output))
    return worst


def verify_case(spec: CaseSpec, case: Case, problem: Problem, reference: type, module: Any = None) -> list[str]:
    """Every independent check of one case; returns what disagrees (empty when all agree)."""
    problems = []
    constant = constant_outputs(spec, case, problem)
    if constant:
        problems.append(f"case '{case.name}': the expected {', '.join(constant)} "
                        f"{'is' if len(constant) == 1 else 'are'} all zero or constant, so code that returns a "
                        f"constant would pass; change the case, or list it under constant: if that is meant")
    for what, gap in gradient_gaps(case, problem, reference):
        if not gap <= FINITE_DIFFERENCE_TOLERANCE:
            problems.append(f"case '{case.name}': {what} differs from finite differences of the reference by "
                            f"{gap:.3g} (relative; more than {FINITE_DIFFERENCE_TOLERANCE:g})")
    if problem.independent and problem.independent not in INDEPENDENT_CHECKS:
        if module is None:
            raise AutograderError(f"problems.{problem.name}.independent names {problem.independent!r}, but the "
                                  "assignment names no independent: file")
        gap, output = module_disagreement(module, problem.independent, case, spec)
        if not gap <= INDEPENDENT_TOLERANCE:
            problems.append(f"case '{case.name}': the reference and the independent implementation "
                            f"'{problem.independent}' differ in {output} by {gap:.3g} (relative; more than "
                            f"{INDEPENDENT_TOLERANCE:g})")
    elif problem.independent:
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
    gaps = chain_gaps(case, reference, problem.chain) if problem.chain is not None else []
    if gaps:
        problems.append(f"case '{case.name}': the reference's own parts, run through {problem.chain.through} as "
                        f"problems.{problem.name}.chain says, do not give its {', '.join(gaps)}: the chain must be how "
                        f"{problem.class_name} runs its parts")
    known = known_gap(spec, case)
    if known is not None and not known[1] <= spec.known_atol:
        problems.append(f"case '{case.name}': the reference's {known[0]} differs from the value stated in the config "
                        f"(known.{known[0]}) by {known[1]:.3g} (more than {spec.known_atol:g})")
    return problems


def build_cases(assignment: Assignment, root: Path | None = None) -> list[Case]:
    """All cases of the assignment, each verified before anything is written."""
    root = assignment.root if root is None else root
    references = {name: load_reference_class(assignment, problem, root) for name, problem in assignment.problems.items()}
    module = independent_module(assignment)
    cases = []
    with tempfile.TemporaryDirectory(prefix="autograder-mistakes-") as tmp:
        mistakes = mistake_classes(assignment, root, Path(tmp))
        for number, spec in enumerate(assignment.cases, start=1):
            problem = assignment.problems[spec.problem]
            case = build_case(spec, number, assignment, references[spec.problem])
            disagreements = verify_case(spec, case, problem, references[spec.problem], module)
            if disagreements:
                raise AutograderError("; ".join(disagreements) + "; fixtures were not written")
            add_mistaken_values(case, problem, mistakes.get(problem.name, {}))
            case.feedback = problem.feedback_document()
            cases.append(case)
    return cases


def mistake_classes(assignment: Assignment, root: Path, tmp: Path) -> dict[str, dict[str, type]]:
    """Each problem's catalogued mistakes as classes: the reference with the mistake's text replaced
    (problem -> mistake -> class), loaded from a copy of the whole reference folder."""
    from .audit import config_mutants

    found: dict[str, dict[str, type]] = {}
    for mutant in config_mutants(assignment, root, stored_only=True):  # the others are recognised while grading
        problem = assignment.problems[mutant.problem]
        folder = tmp / f"{mutant.problem}-{mutant.name}"
        shutil.copytree(root / assignment.reference, folder / assignment.reference,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (folder / assignment.reference / problem.file).write_text(mutant.source, encoding="utf-8")
        try:
            found.setdefault(mutant.problem, {})[mutant.name] = load_reference_class(assignment, problem, folder)
        except AutograderError as exc:
            raise AutograderError(f"{assignment.path}: problems.{problem.name}.mistakes ({mutant.name}): the mutant "
                                  f"cannot be imported: {exc}") from None
    return found


def add_mistaken_values(case: Case, problem: Problem, mistakes: dict[str, type]) -> None:
    """Store what each mistake gives for each graded value it gets wrong (as OUTPUT__MISTAKE), and its hint:
    the grader then names a mistake only when a student's value is the mistake's own (a hint is a claim)."""
    hints = {m.name: m.hint for m in problem.mistakes if not m.recognised}
    for name, mutant in mistakes.items():
        for check in case.checks:
            expected = case.expected[check.output]
            try:
                with np.errstate(all="ignore"):
                    value = run_steps(mutant, check.steps, case.inputs, case.expected, check)
            except Exception:  # noqa: BLE001 - a mistake that raises is told by its error, not by a value
                continue
            if np.isfinite(value).all() and (value.shape != expected.shape
                                             or not within(value, expected, case.tolerance).all()):
                case.expected[f"{check.output}{MISTAKEN}{name}"] = value
                case.hints[name] = hints[name]


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


def feedback_files(cases: list[Case]) -> dict[str, str]:
    """The problems' feedback files (see feedback.py), by path in the fixtures folder: feedback/PROBLEM.yaml."""
    files = {}
    for case in cases:
        if case.feedback is not None:
            body = yaml.safe_dump(case.feedback, sort_keys=False, width=100, allow_unicode=True)
            files[f"{FEEDBACK_DIR}/{case.problem.name}.yaml"] = generated_header(case.config) + body
    return files


def _generated(folder: Path) -> list[Path]:
    """The generated files in a fixtures folder: the cases and the problems' feedback."""
    return sorted(folder.glob("*.yaml")) + sorted((folder / FEEDBACK_DIR).glob("*.yaml"))


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def write_cases(cases: list[Case], out_dir: Path, *, log: Callable[[str], None] = lambda s: None) -> GenerateReport:
    """Write one file per case, and each problem's feedback; untouched files keep their bytes; stale generated
    files go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = GenerateReport([], [], [])
    wanted = {fixture_filename(case): (case, dump_case(case)) for case in cases}
    extra = feedback_files(cases)
    for name, (case, text) in [*wanted.items(), *((name, (None, text)) for name, text in extra.items())]:
        target = out_dir / name
        current = _current(case, text, target) if case is not None else \
            target.is_file() and target.read_text(encoding="utf-8") == text
        if current:  # a file equal up to rounding keeps its bytes too
            report.unchanged.append(target)
            continue
        _write(target, text)
        report.written.append(target)
        log(f"  wrote {name}")
    for stale in _generated(out_dir):
        name = stale.relative_to(out_dir).as_posix()
        if name not in wanted and name not in extra and \
                stale.read_text(encoding="utf-8", errors="replace").startswith(GENERATED):
            stale.unlink()
            report.removed.append(stale)
            log(f"  removed stale {name}")
    return report


def stale_fixtures(cases: list[Case], out_dir: Path) -> list[str]:
    """Names of fixture files that differ from what generate would write (for --check).

    Last-bit differences in expected values (another NumPy version) do not count.
    """
    problems = []
    wanted = {fixture_filename(c): (c, dump_case(c)) for c in cases}
    feedback = feedback_files(cases)
    for name, (case, text) in wanted.items():
        target = out_dir / name
        if not target.is_file():
            problems.append(f"{name}: missing")
        elif not _current(case, text, target):
            problems.append(f"{name}: differs")
    for name, text in feedback.items():
        target = out_dir / name
        if not target.is_file():
            problems.append(f"{name}: missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs")
    for extra in _generated(out_dir) if out_dir.is_dir() else []:
        name = extra.relative_to(out_dir).as_posix()
        if name not in wanted and name not in feedback:
            problems.append(f"{name}: not in the config")
    return problems


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m autograder generate")
