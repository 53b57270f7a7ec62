"""Write test_cases/ from the reference solution, deterministically.

Inputs are drawn from a seeded generator per case, expected outputs come from
the reference, and every case is checked against ``independent.py`` before
anything is written. Files are written to a temporary name and renamed into
place, so an interrupted run never leaves a half-written fixture.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import independent
from .config import Assignment, CaseSpec, InputSpec
from .errors import AutograderError
from .fixtures import GENERATED_HEADER, Case, Check, dump_case, fixture_filename
from .paths import PROJECT_ROOT

INDEPENDENT_TOLERANCE = 1e-12


def load_reference_class(assignment: Assignment, root: Path = PROJECT_ROOT) -> type:
    """Import the reference solution by file path (trusted code, instructor side only)."""
    path = root / assignment.problem.reference
    if not path.is_file():
        raise AutograderError(f"{path}: reference solution not found (problem.reference in {assignment.path})")
    spec = importlib.util.spec_from_file_location("_autograder_reference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return getattr(module, assignment.problem.class_name)
    except AttributeError:
        raise AutograderError(f"{path}: no class {assignment.problem.class_name}") from None


def draw(spec: InputSpec, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw one input array as the config describes it."""
    if spec.kind in ("values", "log_of"):
        array = np.array(spec.params["values"], dtype=np.float64)
        if array.shape != shape:
            raise AutograderError(f"{spec.kind} has shape {array.shape}, but the case's shape is {shape}")
        if spec.kind == "log_of":
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
    """The per-row Jacobians diag(a) - a a^T, shape (N, C, C)."""
    return np.einsum("ij,jk->ijk", A, np.eye(A.shape[1])) - np.einsum("ij,ik->ijk", A, A)


def build_case(spec: CaseSpec, number: int, assignment: Assignment, reference: type) -> Case:
    """Draw a case's inputs and compute its expected outputs with the reference."""
    rng = np.random.default_rng(spec.seed)
    try:
        inputs = {name: draw(ispec, spec.shape, rng) for name, ispec in spec.inputs.items()}
    except AutograderError as exc:
        raise AutograderError(f"{assignment.path}: case '{spec.name}': {exc}") from None
    layer = reference()
    A = np.asarray(layer.forward(inputs["Z"].copy()), dtype=np.float64)
    dLdZ = np.asarray(layer.backward(inputs["dLdA"].copy()), dtype=np.float64)
    expected = {"A": A, "dLdZ": dLdZ}
    n, c = spec.shape
    if n * c * c <= assignment.jacobian_max_entries:
        expected["J"] = jacobians(A)
    checks = tuple(Check(method=m, output=out, points=spec.points[m]) for m, out in assignment.problem.outputs.items())
    tags = tuple(dict.fromkeys((*spec.tags,)))
    return Case(
        name=spec.name,
        description=spec.description,
        number=number,
        visibility=spec.visibility,
        tags=tags,
        tolerance=spec.tolerance,
        checks=checks,
        inputs=inputs,
        expected=expected,
    )


def independent_disagreement(case: Case) -> float:
    """Largest absolute difference between the case's expected arrays and independent.py."""
    Z, dLdA = case.inputs["Z"].tolist(), case.inputs["dLdA"].tolist()
    A = independent.softmax(Z)
    worst = float(np.max(np.abs(np.array(A) - case.expected["A"])))
    dLdZ = independent.backward(case.expected["A"].tolist(), dLdA)
    worst = max(worst, float(np.max(np.abs(np.array(dLdZ) - case.expected["dLdZ"]))))
    if "J" in case.expected:
        J = [independent.jacobian_row(row) for row in case.expected["A"].tolist()]
        worst = max(worst, float(np.max(np.abs(np.array(J) - case.expected["J"]))))
    return worst


def build_cases(assignment: Assignment, root: Path = PROJECT_ROOT) -> list[Case]:
    """All cases of the assignment, each verified against the independent implementation."""
    reference = load_reference_class(assignment, root)
    cases = []
    for number, spec in enumerate(assignment.cases, start=1):
        case = build_case(spec, number, assignment, reference)
        gap = independent_disagreement(case)
        if not gap <= INDEPENDENT_TOLERANCE:
            raise AutograderError(
                f"case '{case.name}': the reference and the independent check differ by {gap:.3g} "
                f"(more than {INDEPENDENT_TOLERANCE:g}); fixtures were not written"
            )
        cases.append(case)
    return cases


@dataclass
class GenerateReport:
    """What generate did, for the CLI to print."""

    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def write_cases(cases: list[Case], out_dir: Path, *, log: Callable[[str], None] = lambda s: None) -> GenerateReport:
    """Write one file per case; untouched files keep their bytes; stale generated files go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = GenerateReport([], [], [])
    wanted = {}
    for case in cases:
        wanted[fixture_filename(case)] = dump_case(case)
    for name, text in wanted.items():
        target = out_dir / name
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            report.unchanged.append(target)
            continue
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
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
    """Names of fixture files that differ from what generate would write (for --check)."""
    problems = []
    wanted = {fixture_filename(c): dump_case(c) for c in cases}
    for name, text in wanted.items():
        target = out_dir / name
        if not target.is_file():
            problems.append(f"{name}: missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs")
    for extra in sorted(out_dir.glob("*.yaml")):
        if extra.name not in wanted:
            problems.append(f"{extra.name}: not in the config")
    return problems


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m autograder generate")
