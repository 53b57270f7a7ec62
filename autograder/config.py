"""The assignment config (``autograder/assignment.yaml``): cases, points, tolerances, limits.

Every value is validated here so that a typo becomes one clear error naming
the file, the key and what is wrong, instead of a traceback during grading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .fixtures import VISIBILITIES, Tolerance

INPUT_KINDS = ("values", "log_of", "normal", "uniform")


@dataclass(frozen=True)
class Limits:
    """Resource limits for running one submission (see README, "Limits")."""

    call_timeout: float = 5.0  # seconds, floor of the per-call wall-clock limit
    import_timeout: float = 10.0  # seconds to import the submission
    budget: float = 30.0  # seconds of student code per submission, all calls together
    memory_mb: int = 512  # address-space limit of a worker
    max_processes: int = 64  # processes of the sandbox account (only when run as root)
    max_file_mb: int = 16  # largest file a worker may write
    output_chars: int = 4000  # captured stdout/stderr kept per test (head and tail)


@dataclass(frozen=True)
class InputSpec:
    """How to draw one input array."""

    kind: str
    params: dict[str, Any]
    round: int | None = None  # decimals
    step: float | None = None  # quantise to multiples of this
    row_offsets: tuple[float, ...] = ()


@dataclass(frozen=True)
class CaseSpec:
    """One case as the instructor wrote it in the config."""

    name: str
    description: str
    shape: tuple[int, int]
    seed: int
    inputs: dict[str, InputSpec]
    points: dict[str, float]
    tolerance: Tolerance
    visibility: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """What the students implement: where, which class, and the checks per method."""

    name: str
    file: str
    class_name: str
    reference: str
    outputs: dict[str, str]  # method -> expected array it is graded against


@dataclass(frozen=True)
class Assignment:
    """A validated assignment config."""

    title: str
    problem: Problem
    limits: Limits
    jacobian_max_entries: int
    cases: tuple[CaseSpec, ...]
    path: Path | None = field(default=None, compare=False)


def _get(mapping: dict, key: str, kind: type | tuple, path: Path, where: str, default: Any = ...) -> Any:
    full = f"{where}.{key}" if where else key
    if key not in mapping:
        if default is ...:
            raise ConfigError(path, full, "is required")
        return default
    value = mapping[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = {dict: "a mapping", list: "a list", str: "text", int: "a whole number", float: "a number", bool: "true/false"}
        raise ConfigError(path, full, f"should be {' or '.join(names.get(k, k.__name__) for k in kinds)}, found {value!r}")
    return value


def _check_keys(mapping: dict, allowed: set[str], path: Path, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(path, f"{where}.{key}" if where else str(key), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _positive(value: float, path: Path, key: str) -> float:
    if not value > 0:
        raise ConfigError(path, key, f"must be greater than 0, found {value!r}")
    return value


def _tolerance(raw: Any, path: Path, where: str, base: Tolerance | None) -> Tolerance:
    if raw is None:
        assert base is not None
        return base
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping with rtol and atol, found {raw!r}")
    _check_keys(raw, {"rtol", "atol"}, path, where)
    rtol = _get(raw, "rtol", float, path, where, base.rtol if base else ...)
    atol = _get(raw, "atol", float, path, where, base.atol if base else ...)
    for key, value in (("rtol", rtol), ("atol", atol)):
        if value < 0:
            raise ConfigError(path, f"{where}.{key}", f"must not be negative, found {value}")
    return Tolerance(rtol=rtol, atol=atol)


def _input_spec(raw: Any, path: Path, where: str) -> InputSpec:
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping naming one of {', '.join(INPUT_KINDS)}, found {raw!r}")
    _check_keys(raw, set(INPUT_KINDS) | {"round", "step", "row_offsets"}, path, where)
    kinds = [k for k in INPUT_KINDS if k in raw]
    if len(kinds) != 1:
        raise ConfigError(path, where, f"needs exactly one of {', '.join(INPUT_KINDS)}, found {kinds or 'none'}")
    kind = kinds[0]
    params = raw[kind]
    if kind in ("values", "log_of"):
        if not isinstance(params, list):
            raise ConfigError(path, f"{where}.{kind}", "should be a nested list of numbers")
        params = {"values": params}
    else:
        params = params or {}
        if not isinstance(params, dict):
            raise ConfigError(path, f"{where}.{kind}", f"should be a mapping, found {params!r}")
        allowed = {"normal": {"mean", "std"}, "uniform": {"low", "high"}}[kind]
        _check_keys(params, allowed, path, f"{where}.{kind}")
        for key in params:
            _get(params, key, float, path, f"{where}.{kind}")
    offsets = _get(raw, "row_offsets", list, path, where, [])
    for i, off in enumerate(offsets):
        if isinstance(off, bool) or not isinstance(off, (int, float)):
            raise ConfigError(path, f"{where}.row_offsets[{i}]", f"should be a number, found {off!r}")
    step = _get(raw, "step", float, path, where, None)
    if step is not None:
        _positive(step, path, f"{where}.step")
    return InputSpec(kind=kind, params=params, round=_get(raw, "round", int, path, where, None), step=step,
                     row_offsets=tuple(float(o) for o in offsets))


def _case(raw: Any, index: int, path: Path, defaults: dict, problem: Problem) -> CaseSpec:
    where = f"cases[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping, found {raw!r}")
    _check_keys(raw, {"name", "description", "shape", "seed", "inputs", "points", "tolerance", "visibility", "tags"}, path, where)
    name = _get(raw, "name", str, path, where)
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ConfigError(path, f"{where}.name", f"use letters, digits and underscores only, found {name!r}")
    where = f"cases[{index}] ({name})"
    shape = _get(raw, "shape", list, path, where)
    if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ConfigError(path, f"{where}.shape", f"should be [N, C] with positive whole numbers, found {shape!r}")
    inputs_raw = _get(raw, "inputs", dict, path, where)
    inputs = {k: _input_spec(v, path, f"{where}.inputs.{k}") for k, v in inputs_raw.items()}
    for required in ("Z", "dLdA"):
        if required not in inputs:
            raise ConfigError(path, f"{where}.inputs.{required}", "is required")
    _check_keys(inputs_raw, {"Z", "dLdA"}, path, f"{where}.inputs")
    points_raw = _get(raw, "points", dict, path, where, {})
    _check_keys(points_raw, set(problem.outputs), path, f"{where}.points")
    points = {}
    for method in problem.outputs:
        value = _get(points_raw, method, float, path, f"{where}.points", defaults["points"].get(method, 1.0))
        if value < 0:
            raise ConfigError(path, f"{where}.points.{method}", f"must not be negative, found {value}")
        points[method] = value
    visibility = _get(raw, "visibility", str, path, where, defaults["visibility"])
    if visibility not in VISIBILITIES:
        raise ConfigError(path, f"{where}.visibility", f"should be one of {', '.join(VISIBILITIES)}, found {visibility!r}")
    tags = _get(raw, "tags", list, path, where, [])
    return CaseSpec(
        name=name,
        description=_get(raw, "description", str, path, where, ""),
        shape=(shape[0], shape[1]),
        seed=_get(raw, "seed", int, path, where, index),
        inputs=inputs,
        points=points,
        tolerance=_tolerance(raw.get("tolerance"), path, f"{where}.tolerance", defaults["tolerance"]),
        visibility=visibility,
        tags=tuple(str(t) for t in tags),
    )


def parse_assignment(doc: Any, path: Path) -> Assignment:
    """Validate a loaded config document."""
    if not isinstance(doc, dict):
        raise ConfigError(path, "(top level)", "should be a mapping")
    _check_keys(doc, {"assignment", "problem", "defaults", "limits", "cases"}, path, "")
    prob = _get(doc, "problem", dict, path, "")
    _check_keys(prob, {"name", "file", "class", "reference", "outputs"}, path, "problem")
    outputs = _get(prob, "outputs", dict, path, "problem")
    for method, out in outputs.items():
        if not isinstance(out, str):
            raise ConfigError(path, f"problem.outputs.{method}", f"should name the expected array, found {out!r}")
    problem = Problem(
        name=_get(prob, "name", str, path, "problem"),
        file=_get(prob, "file", str, path, "problem"),
        class_name=_get(prob, "class", str, path, "problem"),
        reference=_get(prob, "reference", str, path, "problem"),
        outputs=dict(outputs),
    )
    raw_defaults = _get(doc, "defaults", dict, path, "", {})
    _check_keys(raw_defaults, {"tolerance", "points", "visibility", "jacobian_max_entries"}, path, "defaults")
    defaults = {
        "tolerance": _tolerance(raw_defaults.get("tolerance", {"rtol": 1e-5, "atol": 1e-8}), path, "defaults.tolerance", None),
        "points": _get(raw_defaults, "points", dict, path, "defaults", {}),
        "visibility": _get(raw_defaults, "visibility", str, path, "defaults", "visible"),
    }
    raw_limits = _get(doc, "limits", dict, path, "", {})
    known = Limits.__dataclass_fields__
    _check_keys(raw_limits, set(known), path, "limits")
    limit_values = {}
    for key, value in raw_limits.items():
        kind = int if known[key].type == "int" else float
        limit_values[key] = _positive(_get(raw_limits, key, kind, path, "limits"), path, f"limits.{key}")
    cases_raw = _get(doc, "cases", list, path, "")
    if not cases_raw:
        raise ConfigError(path, "cases", "needs at least one case")
    cases = tuple(_case(raw, i, path, defaults, problem) for i, raw in enumerate(cases_raw))
    names = [c.name for c in cases]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(path, f"cases[{i}].name", f"'{name}' is used by an earlier case")
    return Assignment(
        title=_get(doc, "assignment", str, path, "", "assignment"),
        problem=problem,
        limits=Limits(**limit_values),
        jacobian_max_entries=_get(raw_defaults, "jacobian_max_entries", int, path, "defaults", 2000),
        cases=cases,
        path=path,
    )


def load_assignment(path: Path) -> Assignment:
    """Read and validate the assignment config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot read ({exc.strerror})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, "(syntax)", f"not valid YAML: {exc}") from None
    return parse_assignment(doc, path)


def load_limits(path: Path) -> Limits:
    """Limits from the config when it is there (the grader needs nothing else from it)."""
    if not Path(path).is_file():
        return Limits()
    return load_assignment(path).limits
