"""The assignment config (``autograder/assignment.yaml``): problems, cases, points, tolerances, limits, policy.

Every value is validated here so that a typo becomes one clear error naming
the file, the key and what is wrong, instead of a traceback during grading.
Only ``generate``, ``audit`` and ``package`` need the config: grading reads
everything it needs from the fixtures (see fixtures.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .feedback import MISTAKE_KEYS, FeedbackError, parse_feedback, parse_mistake, recognised_when_grading
from .fixtures import ATTRIBUTE_PATH, VISIBILITIES, Chain, Step, Tolerance
from .limits import Limits, limits_from_mapping, load_limits  # noqa: F401 - part of this module's API

INPUT_KINDS = ("values", "log_of", "normal", "uniform", "one_hot", "labels")
INTEGER_KINDS = ("labels", "one_hot")  # inputs of whole numbers: no gradient can be taken with respect to them
PROBLEM_KINDS = ("activation", "other")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InputSpec:
    """How to draw one input array."""

    kind: str
    params: dict[str, Any]
    round: int | None = None  # decimals
    step: float | None = None  # quantise to multiples of this
    row_offsets: tuple[float, ...] = ()
    shape: tuple[Any, ...] | None = None  # its own shape (numbers or the case's dimension names); None: the default


@dataclass(frozen=True)
class MethodSpec:
    """One graded method of a problem: its inputs, its output, and what runs before it."""

    name: str
    inputs: tuple[str, ...]  # names of the case's input arrays, passed in this order
    output: str  # name of the expected array the return value is graded against
    before: tuple[str, ...] = ()  # methods called first on the same object (ungraded), with their own inputs
    sets: tuple[tuple[str, str], ...] = ()  # (attribute, expected array): self.attribute = reference value
    points: float | None = None  # default points per case for this method
    steps: tuple[Step, ...] = ()  # general form: what runs, the graded call last (args may name dimensions)
    graded: tuple[tuple[str, str | None, str | None], ...] = ()  # general form: (output, attribute path, object)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The expected values this method's call grades, in order."""
        return tuple(g[0] for g in self.graded) if self.graded else (self.output,)


@dataclass(frozen=True)
class Gradient:
    """A gradient the reference returns or stores, checked by central differences of its own forward or loss:
    `value` must be d sum(upstream * of) / d wrt (upstream left out: `of` is a number, a loss)."""

    value: str  # the graded gradient (an output of the problem), e.g. dLdW
    wrt: str  # the input it is the gradient with respect to, e.g. W
    of: str  # the output whose change is measured, e.g. Z (computed by its own method's steps)
    upstream: str | None = None  # the input weighting `of`, e.g. dLdZ


@dataclass(frozen=True)
class MistakeSpec:
    """A typical wrong implementation of a problem: its name, the hint students read, and how to make it
    from the reference (text replaced in the reference's file) for the audit."""

    name: str
    hint: str
    patch: tuple[tuple[str, str], ...]  # (old, new) replacements in the reference's file
    outputs: tuple[str, ...] = ()  # the graded values it gets wrong (informational; the audit finds out)
    method: str = ""  # the method it gets wrong ("": the audit charges it to any of the problem's methods)
    # how grading recognises it (see feedback.py: value, returns, modifies_input, raises), as written; empty:
    # by its values on each case, which generate stores in the fixtures
    recognised: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """What the students implement: where, which class, and the graded methods in order."""

    name: str
    file: str  # the student's file, relative to the submission (and to reference/ and the template)
    class_name: str
    methods: tuple[MethodSpec, ...]
    kind: str = "activation"  # activation: (N, C) -> (N, C), backward(dLdA) after forward(Z); enables finite differences
    independent: str | None = None  # name of an independent implementation generate checks against
    init: tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]] | None = None  # constructor (args, kwargs); None: none
    input_shapes: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # input -> shape (dimension names, numbers)
    objects: dict[str, Any] = field(default_factory=dict)  # plain argument objects: name -> attributes and arrays
    gradients: tuple[Gradient, ...] = ()  # checked by finite differences of the reference's own forward or loss
    constant: tuple[str, ...] = ()  # outputs whose expected value may be constant (all zero, say)
    mistakes: tuple[MistakeSpec, ...] = ()  # typical wrong implementations: hint and mutant
    uses: tuple[str, ...] = ()  # problems whose students' classes this one is built from (an MLP: linear, relu)
    chain: Chain | None = None  # how it runs those parts: graded against the student's own when they fail
    feedback: dict[str, Any] = field(default_factory=dict)  # notes it switches on (see feedback.py), as written

    def feedback_document(self) -> dict[str, Any] | None:
        """What generate writes to the fixtures folder's feedback/NAME.yaml for grading (None: nothing)."""
        mistakes = [{"name": m.name, "method": m.method, "hint": m.hint, **m.recognised}
                    for m in self.mistakes if m.recognised]
        if not mistakes and not self.feedback:
            return None
        return {"problem": self.name, "class": self.class_name, **({"mistakes": mistakes} if mistakes else {}),
                **self.feedback}

    @property
    def outputs(self) -> dict[str, str]:
        """method -> expected array it is graded against (the first one, for a method grading several)."""
        return {m.name: m.outputs[0] for m in self.methods}

    @property
    def graded_outputs(self) -> dict[str, str]:
        """Every graded value -> the method whose call it is graded after."""
        return {output: m.name for m in self.methods for output in m.outputs}

    @property
    def input_names(self) -> tuple[str, ...]:
        """Every input any method takes, in first-use order."""
        names = [name for m in self.methods for name in m.inputs]
        names += list(self.input_shapes)
        return tuple(dict.fromkeys(names))

    def method(self, name: str) -> MethodSpec:
        return next(m for m in self.methods if m.name == name)


@dataclass(frozen=True)
class CaseSpec:
    """One case as the instructor wrote it in the config."""

    name: str
    description: str
    problem: str
    shape: tuple[int, ...]
    seed: int
    inputs: dict[str, InputSpec]
    points: dict[str, float]
    tolerance: Tolerance
    visibility: str
    tags: tuple[str, ...]
    handout: bool  # ship this fixture in the student handout
    known: dict[str, list] = field(default_factory=dict)  # expected values stated elsewhere (the writeup)
    known_atol: float = 1e-9
    dims: dict[str, int] = field(default_factory=dict)  # named dimensions (N, C from `shape`, or `dims`)
    init: tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]] | None = None  # the problem's init, for this case
    constant: tuple[str, ...] = ()  # outputs whose expected value may be constant in this case


@dataclass(frozen=True)
class SubmissionLimit:
    """At most ``max`` graded submissions in any ``window_hours`` (see policy.py)."""

    max: int
    window_hours: float


@dataclass(frozen=True)
class LatePenalty:
    """Percent of the score taken per started day after the due date (see policy.py)."""

    percent_per_day: float
    max_percent: float = 100.0
    grace_minutes: float = 0.0


@dataclass(frozen=True)
class Policy:
    """Optional submission policy, applied after grading."""

    submissions: SubmissionLimit | None = None
    late: LatePenalty | None = None

    @property
    def active(self) -> bool:
        return self.submissions is not None or self.late is not None


@dataclass(frozen=True)
class Assignment:
    """A validated assignment config."""

    title: str
    problems: dict[str, Problem]
    limits: Limits
    jacobian_max_entries: int
    cases: tuple[CaseSpec, ...]
    reference: str = "reference"  # folder laid out like a submission (reference/mytorch/nn/activation.py)
    template: str = "student_template"  # what students start from, laid out the same way
    policy: Policy = Policy()
    path: Path | None = field(default=None, compare=False)
    packages: tuple[str, ...] = ()  # extra packages students may import (pip requirement lines), e.g. scipy==1.13.1
    independent: str | None = None  # a module of the assignment folder with independent implementations

    @property
    def root(self) -> Path:
        """The assignment's folder, which `reference`, `template` and `independent` are relative to."""
        return assignment_root(self.path, self.reference)

    @property
    def problem(self) -> Problem:
        """The only problem (for single-problem assignments)."""
        if len(self.problems) != 1:
            raise ConfigError(self.path, "problems", "has several problems; name one")
        return next(iter(self.problems.values()))


_NAMES = {dict: "a mapping", list: "a list", str: "text", int: "a whole number", float: "a number", bool: "true/false"}


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
        raise ConfigError(path, full, f"should be {' or '.join(_NAMES.get(k, k.__name__) for k in kinds)}, found {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, full, f"should be a finite number, found {value!r}")
    return value


def _check_keys(mapping: dict, allowed: set[str], path: Path, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(path, f"{where}.{key}" if where else str(key), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _positive(value: float, path: Path, key: str) -> float:
    if not value > 0:
        raise ConfigError(path, key, f"must be greater than 0, found {value!r}")
    return value


def _names(raw: Any, path: Path, where: str) -> tuple[str, ...]:
    """A list of identifiers (input names, method names)."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(path, where, f"should be a list of names, found {raw!r}")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not _IDENTIFIER.match(item):
            raise ConfigError(path, f"{where}[{i}]", f"should be a Python identifier, found {item!r}")
    if len(set(raw)) != len(raw):
        raise ConfigError(path, where, f"names a value twice: {raw!r}")
    return tuple(raw)


def _tolerance(raw: Any, path: Path, where: str, base: Tolerance | None) -> Tolerance:
    if raw is None and base is not None:
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
    _check_keys(raw, set(INPUT_KINDS) | {"round", "step", "row_offsets", "shape"}, path, where)
    kinds = [k for k in INPUT_KINDS if k in raw]
    if len(kinds) != 1:
        raise ConfigError(path, where, f"needs exactly one of {', '.join(INPUT_KINDS)}, found {kinds or 'none'}")
    kind = kinds[0]
    params = raw[kind]
    if kind == "one_hot":
        params = params or {}
        if not isinstance(params, dict):
            raise ConfigError(path, f"{where}.{kind}", f"should be a mapping (or empty), found {params!r}")
        _check_keys(params, {"classes", "from"}, path, f"{where}.{kind}")
        if "classes" in params and not (isinstance(params["classes"], list) and
                                        all(type(c) is int and c >= 0 for c in params["classes"])):
            raise ConfigError(path, f"{where}.one_hot.classes", "should list each row's class (whole numbers)")
        if "from" in params and ("classes" in params or not isinstance(params["from"], str)):
            raise ConfigError(path, f"{where}.one_hot", "takes its rows' classes from one labels input of the case "
                                                        f"(from: y) or lists them (classes: [...]), not both; found {params!r}")
    elif kind == "labels":
        params = _labels(params, path, f"{where}.labels")
    elif kind in ("values", "log_of"):
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
        if params.get("std", 0.0) < 0 or params.get("low", 0.0) > params.get("high", 1.0):
            raise ConfigError(path, f"{where}.{kind}", f"needs std >= 0 and low <= high, found {params!r}")
    for key in ("round", "step", "row_offsets") if kind == "labels" else ():
        if key in raw:
            raise ConfigError(path, f"{where}.{key}", "does not apply to labels, which are whole numbers; remove it")
    offsets = _get(raw, "row_offsets", list, path, where, [])
    for i, off in enumerate(offsets):
        if isinstance(off, bool) or not isinstance(off, (int, float)) or not math.isfinite(off):
            raise ConfigError(path, f"{where}.row_offsets[{i}]", f"should be a number, found {off!r}")
    step = _get(raw, "step", float, path, where, None)
    if step is not None:
        _positive(step, path, f"{where}.step")
    shape = _get(raw, "shape", list, path, where, None)
    if shape is not None and not all(isinstance(d, str) or type(d) is int and d >= 0 for d in shape):
        raise ConfigError(path, f"{where}.shape", f"should be a list of numbers and dimension names, found {shape!r}")
    return InputSpec(kind=kind, params=params, round=_get(raw, "round", int, path, where, None), step=step,
                     row_offsets=tuple(float(o) for o in offsets), shape=tuple(shape) if shape is not None else None)


def _labels(raw: Any, path: Path, where: str) -> dict[str, Any]:
    """Integer labels: {classes: C} (drawn from 0 to C - 1; C a number or a dimension's name, by default C),
    or given: a nested list of whole numbers, or {values: [...], classes: C} to check them against C."""
    if isinstance(raw, list):
        raw = {"values": raw}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be {{classes: C}} (drawn) or a list of whole numbers (given), "
                                       f"found {raw!r}")
    _check_keys(raw, {"classes", "values"}, path, where)
    classes = raw.get("classes", "C")
    if not (isinstance(classes, str) and _IDENTIFIER.match(classes) or type(classes) is int and classes > 0):
        raise ConfigError(path, f"{where}.classes", f"should be the number of classes (a whole number above 0) or a "
                                                    f"dimension's name such as C, found {classes!r}")
    params: dict[str, Any] = {"classes": classes}
    if "values" in raw:
        def whole(value: Any) -> bool:
            return all(whole(v) for v in value) if isinstance(value, list) else type(value) is int and value >= 0

        if not isinstance(raw["values"], list) or not whole(raw["values"]):
            raise ConfigError(path, where, f"should list the given labels, whole numbers from 0 (nested for more "
                                           f"dimensions), found {raw['values']!r}")
        params["values"] = raw["values"]
    return params


def _step(raw: Any, path: Path, where: str) -> Step:
    """One step of a method's general form: {call: M, args: [...], kwargs: {...}} or {set: PATH, from: NAME}."""
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be {{call: METHOD, args: [...]}} or {{set: ATTRIBUTE, from: NAME}}, "
                                       f"found {raw!r}")
    if "call" in raw:
        _check_keys(raw, {"call", "args", "kwargs"}, path, where)
        method = _get(raw, "call", str, path, where)
        if not _IDENTIFIER.match(method):
            raise ConfigError(path, f"{where}.call", f"should be a method name, found {method!r}")
        return Step(call=method, args=_arguments(_get(raw, "args", list, path, where, []), path, f"{where}.args"),
                    kwargs=tuple(_keywords(_get(raw, "kwargs", dict, path, where, {}), path, f"{where}.kwargs")))
    if "set" in raw:
        _check_keys(raw, {"set", "from", "in"}, path, where)
        attr = _get(raw, "set", str, path, where)
        if not ATTRIBUTE_PATH.match(attr):
            raise ConfigError(path, f"{where}.set", f"should be an attribute path such as W or layers[2].W, found {attr!r}")
        return Step(attr=attr, source=_get(raw, "from", str, path, where), obj=_get(raw, "in", str, path, where, None))
    raise ConfigError(path, where, "a step is {call: METHOD, args: [...]} or {set: ATTRIBUTE, from: NAME}")


def _arguments(raw: list, path: Path, where: str) -> tuple[Any, ...]:
    for i, value in enumerate(raw):
        if not (isinstance(value, (str, bool, int, float)) or value is None):
            raise ConfigError(path, f"{where}[{i}]", f"should be a name or a number, found {value!r}")
    return tuple(raw)


def _keywords(raw: dict, path: Path, where: str) -> list[tuple[str, Any]]:
    for key in raw:
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            raise ConfigError(path, f"{where}.{key}", "should be a keyword argument's name")
    return list(zip(raw, _arguments(list(raw.values()), path, where)))


def _general_method(name: str, raw: dict, path: Path, where: str, earlier: dict[str, MethodSpec]) -> MethodSpec:
    """A method in the general form: steps (the graded call last, after the steps of `before`) and graded values."""
    _check_keys(raw, {"steps", "graded", "before", "points"}, path, where)
    before = _names(_get(raw, "before", (list, str), path, where, []), path, f"{where}.before")
    steps: list[Step] = []
    for b in before:
        if b not in earlier:
            raise ConfigError(path, f"{where}.before", f"'{b}' is not a method listed before {name}")
        steps.extend(earlier[b].steps)
    own = _get(raw, "steps", list, path, where)
    steps.extend(_step(step, path, f"{where}.steps[{i}]") for i, step in enumerate(own))
    if not steps or steps[-1].call is None:
        raise ConfigError(path, f"{where}.steps", "should end with the graded call ({call: METHOD, ...})")
    graded_raw = _get(raw, "graded", dict, path, where)
    if not graded_raw:
        raise ConfigError(path, f"{where}.graded", "needs at least one graded value (OUTPUT: returned, or OUTPUT: "
                                                   "an attribute path such as dLdW)")
    graded = []
    for output, what in graded_raw.items():
        if not isinstance(output, str) or not _IDENTIFIER.match(output):
            raise ConfigError(path, f"{where}.graded.{output}", "should name the expected value (a Python identifier)")
        on = None
        if isinstance(what, dict):
            _check_keys(what, {"value", "in"}, path, f"{where}.graded.{output}")
            on = _get(what, "in", str, path, f"{where}.graded.{output}")
            what = _get(what, "value", str, path, f"{where}.graded.{output}")
        if not isinstance(what, str) or not (what == "returned" or ATTRIBUTE_PATH.match(what)):
            raise ConfigError(path, f"{where}.graded.{output}", f"should be 'returned' or an attribute path, found {what!r}")
        graded.append((output, None if what == "returned" else what, on))
    points = _get(raw, "points", float, path, where, None)
    return MethodSpec(name=name, inputs=(), output=graded[0][0], before=before, points=points, steps=tuple(steps),
                      graded=tuple(graded))


def _method(name: str, raw: Any, path: Path, where: str, earlier: dict[str, MethodSpec] | None = None) -> MethodSpec:
    if not _IDENTIFIER.match(name):
        raise ConfigError(path, where, "a method name must be a Python identifier")
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping with inputs and output, found {raw!r}")
    if "steps" in raw:
        return _general_method(name, raw, path, where, earlier or {})
    _check_keys(raw, {"inputs", "output", "before", "set", "points"}, path, where)
    output = _get(raw, "output", str, path, where)
    if not _IDENTIFIER.match(output):
        raise ConfigError(path, f"{where}.output", f"should be a Python identifier, found {output!r}")
    sets_raw = _get(raw, "set", dict, path, where, {})
    sets = []
    for attr, source in sets_raw.items():
        if not isinstance(attr, str) or not _IDENTIFIER.match(attr) or not isinstance(source, str):
            raise ConfigError(path, f"{where}.set.{attr}", f"should map an attribute name to an expected array's name, "
                                                          f"found {attr!r}: {source!r}")
        sets.append((attr, source))
    points = _get(raw, "points", float, path, where, None)
    if points is not None and points < 0:
        raise ConfigError(path, f"{where}.points", f"must not be negative, found {points}")
    return MethodSpec(name=name, inputs=_names(_get(raw, "inputs", (list, str), path, where), path, f"{where}.inputs"),
                      output=output, before=_names(_get(raw, "before", (list, str), path, where, []), path, f"{where}.before"),
                      sets=tuple(sets), points=points)


def _problem(name: str, raw: Any, path: Path) -> Problem:
    where = f"problems.{name}"
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(path, where, "a problem name must be letters, digits and underscores")
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping, found {raw!r}")
    _check_keys(raw, {"file", "class", "methods", "kind", "independent", "init", "inputs", "objects", "gradients",
                      "constant", "mistakes", "uses", "chain", "feedback"}, path, where)
    file = _get(raw, "file", str, path, where)
    if not file.endswith(".py") or file.startswith("/") or ".." in Path(file).parts:
        raise ConfigError(path, f"{where}.file", f"should be a relative path to a .py file, found {file!r}")
    class_name = _get(raw, "class", str, path, where)
    if not _IDENTIFIER.match(class_name):
        raise ConfigError(path, f"{where}.class", f"should be a Python class name, found {class_name!r}")
    methods_raw = _get(raw, "methods", dict, path, where)
    if not methods_raw:
        raise ConfigError(path, f"{where}.methods", "needs at least one method")
    earlier: dict[str, MethodSpec] = {}
    for m, spec in methods_raw.items():
        earlier[m] = _method(m, spec, path, f"{where}.methods.{m}", earlier)
    methods = tuple(earlier.values())
    outputs = [m.output for m in methods]
    graded_outputs = [o for m in methods for o in m.outputs]
    if len(set(graded_outputs)) != len(graded_outputs):
        twice = next(o for o in graded_outputs if graded_outputs.count(o) > 1)
        raise ConfigError(path, f"{where}.methods", f"'{twice}' is graded twice (each graded value has its own name)")
    for i, method in enumerate(methods):
        mwhere = f"{where}.methods.{method.name}"
        if method.steps:
            continue
        if method.output in outputs[:i]:
            raise ConfigError(path, f"{mwhere}.output", f"'{method.output}' is already the output of another method")
        for before in method.before:
            if before not in methods_raw or before == method.name:
                raise ConfigError(path, f"{mwhere}.before", f"'{before}' is not another method of {where}")
        for attr, source in method.sets:
            if source not in outputs[:i]:
                raise ConfigError(path, f"{mwhere}.set.{attr}", f"'{source}' is not the output of a method listed "
                                                               f"before {method.name} (available: {', '.join(outputs[:i]) or 'none'})")
    kind = _get(raw, "kind", str, path, where, "other" if any(m.steps for m in methods) else "activation")
    if kind not in PROBLEM_KINDS:
        raise ConfigError(path, f"{where}.kind", f"should be one of {', '.join(PROBLEM_KINDS)}, found {kind!r}")
    independent = _get(raw, "independent", str, path, where, None)
    if independent is not None and not _IDENTIFIER.match(independent):
        raise ConfigError(path, f"{where}.independent", f"should name an independent implementation, found {independent!r}")
    if kind == "activation" and ([m.name for m in methods][:2] != ["forward", "backward"]
                                 or any(len(m.inputs) != 1 for m in methods[:2])):
        raise ConfigError(path, f"{where}.kind", "an activation problem has methods forward(Z) and backward(dLdA), in "
                                                 "that order, one input each (use kind: other for anything else)")
    if kind == "activation" and any(m.steps for m in methods):
        raise ConfigError(path, f"{where}.kind", "an activation problem lists inputs and output per method; "
                                                 "use kind: other for methods with steps")
    shapes_raw = _get(raw, "inputs", dict, path, where, {})
    input_shapes = {}
    for key, shape in shapes_raw.items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key) or not isinstance(shape, list) or \
                not all(isinstance(d, str) and _IDENTIFIER.match(d) or type(d) is int and d >= 0 for d in shape):
            raise ConfigError(path, f"{where}.inputs.{key}", f"should map an input's name to its shape, a list of "
                                                            f"dimension names and numbers, found {shape!r}")
        input_shapes[key] = tuple(shape)
    objects = _get(raw, "objects", dict, path, where, {})
    for key in objects:
        if not isinstance(key, str) or not _IDENTIFIER.match(key) or key in input_shapes:
            raise ConfigError(path, f"{where}.objects.{key}", "should be a new name (not an input's)")
    gradients = []
    for i, g in enumerate(_get(raw, "gradients", list, path, where, [])):
        gwhere = f"{where}.gradients[{i}]"
        if not isinstance(g, dict):
            raise ConfigError(path, gwhere, "should be a mapping {value, wrt, of, upstream}")
        _check_keys(g, {"value", "wrt", "of", "upstream"}, path, gwhere)
        gradient = Gradient(value=_get(g, "value", str, path, gwhere), wrt=_get(g, "wrt", str, path, gwhere),
                            of=_get(g, "of", str, path, gwhere), upstream=_get(g, "upstream", str, path, gwhere, None))
        graded = {o for m in methods for o in m.outputs}
        for key in ("value", "of"):
            if getattr(gradient, key) not in graded:
                raise ConfigError(path, f"{gwhere}.{key}", f"'{getattr(gradient, key)}' is not a graded value of "
                                                          f"{where} ({', '.join(sorted(graded))})")
        gradients.append(gradient)
    constant = _names(_get(raw, "constant", (list, str), path, where, []), path, f"{where}.constant")
    mistakes = tuple(_mistake(m, path, f"{where}.mistakes[{i}]", [meth.name for meth in methods])
                     for i, m in enumerate(_get(raw, "mistakes", list, path, where, [])))
    feedback = _get(raw, "feedback", dict, path, where, {})
    try:
        parsed = parse_feedback(feedback, f"{where}.feedback")
    except FeedbackError as exc:
        raise ConfigError(path, str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[-1]) from None
    if parsed.mistakes or "problem" in feedback or "class" in feedback:
        raise ConfigError(path, f"{where}.feedback", "mistakes go in problems.NAME.mistakes; the problem and its "
                                                     "class are the problem's own")
    for key, said in (("efficiency", [parsed.efficiency.method] if parsed.efficiency else []),
                      ("large_inputs", list(parsed.large_inputs.text) if parsed.large_inputs else [])):
        unknown = [m for m in said if m not in earlier]
        if unknown:
            raise ConfigError(path, f"{where}.feedback.{key}", f"'{unknown[0]}' is not a method of {where}")
    init = None
    if "init" in raw:
        init_raw = _init_block(raw["init"], path, where)
        init = (_arguments(_get(init_raw, "args", list, path, f"{where}.init", []), path, f"{where}.init.args"),
                tuple(_keywords(_get(init_raw, "kwargs", dict, path, f"{where}.init", {}), path, f"{where}.init.kwargs")))
    return Problem(name=name, file=file, class_name=class_name, methods=methods, kind=kind, independent=independent,
                   init=init, input_shapes=input_shapes, objects=dict(objects), gradients=tuple(gradients),
                   constant=constant, mistakes=mistakes, uses=_uses(raw, path, where),
                   chain=_chain(raw, methods, path, where), feedback=dict(feedback))


def _uses(raw: dict[str, Any], path: Path, where: str) -> tuple[str, ...]:
    uses = _get(raw, "uses", list, path, where, [])
    if not all(isinstance(u, str) and _IDENTIFIER.match(u) for u in uses):
        raise ConfigError(path, f"{where}.uses", f"should list problem names, found {uses!r}")
    return tuple(dict.fromkeys(uses))


def _chain(raw: dict[str, Any], methods: tuple[MethodSpec, ...], path: Path, where: str) -> Chain | None:
    """`chain: {through: layers, reverse: [backward], shapes: [W, b]}`: how the class runs the parts it is
    built from, so that it can be graded against the student's own parts when those fail (own_layers.py)."""
    if "chain" not in raw:
        return None
    spec = _get(raw, "chain", dict, path, where)
    cwhere = f"{where}.chain"
    _check_keys(spec, {"through", "reverse", "shapes"}, path, cwhere)
    if not raw.get("uses"):
        raise ConfigError(path, cwhere, "grades the class against the student's own parts when those fail: list "
                                        "the problems of those parts under uses: too")
    through = _get(spec, "through", str, path, cwhere)
    if not ATTRIBUTE_PATH.match(through):
        raise ConfigError(path, f"{cwhere}.through", f"should be an attribute path such as layers, found {through!r}")
    calls = [(m.name, s.call, s.args, s.kwargs) for m in methods for s in m.steps if s.call is not None]
    calls += [(m.name, m.name, m.inputs, ()) for m in methods if not m.steps]
    for method, call, args, kwargs in calls:
        if len(args) != 1 or kwargs:
            raise ConfigError(path, f"{where}.methods.{method}", f"calls {call} with {len(args)} argument(s)"
                              f"{' and keywords' if kwargs else ''}: a chain passes one value from part to part")
    reverse = _names(_get(spec, "reverse", (list, str), path, cwhere, []), path, f"{cwhere}.reverse")
    for name in reverse:
        if name not in {call for _, call, _, _ in calls}:
            raise ConfigError(path, f"{cwhere}.reverse", f"'{name}' is not a method the problem calls")
    shapes = _names(_get(spec, "shapes", (list, str), path, cwhere, []), path, f"{cwhere}.shapes")
    return Chain(through=through, reverse=reverse, shapes=shapes)


def _mistake(raw: Any, path: Path, where: str, methods: list[str]) -> MistakeSpec:
    if not isinstance(raw, dict):
        raise ConfigError(path, where, "should be a mapping {name, hint, patch}")
    _check_keys(raw, {"name", "hint", "patch", "outputs"} | MISTAKE_KEYS, path, where)
    try:
        parsed = parse_mistake(raw, where, extra={"patch", "outputs"})
    except FeedbackError as exc:
        raise ConfigError(path, str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[-1]) from None
    if parsed.method and parsed.method not in methods:
        raise ConfigError(path, f"{where}.method", f"'{parsed.method}' is not a method of the problem ({', '.join(methods)})")
    name = _get(raw, "name", str, path, where)
    if not _IDENTIFIER.match(name):
        raise ConfigError(path, f"{where}.name", f"should be letters, digits and underscores, found {name!r}")
    patch = []
    for i, item in enumerate(_get(raw, "patch", list, path, where)):
        if not isinstance(item, dict) or set(item) != {"old", "new"} or not all(isinstance(v, str) for v in item.values()):
            raise ConfigError(path, f"{where}.patch[{i}]", "should be {old: TEXT, new: TEXT}, text of the reference "
                                                           "replaced to make the mistake")
        patch.append((item["old"], item["new"]))
    if not patch:
        raise ConfigError(path, f"{where}.patch", "needs at least one replacement")
    return MistakeSpec(name=name, hint=_get(raw, "hint", str, path, where), patch=tuple(patch),
                       outputs=_names(_get(raw, "outputs", (list, str), path, where, []), path, f"{where}.outputs"),
                       method=parsed.method, recognised={k: raw[k] for k in raw if k in MISTAKE_KEYS - {"method"}}
                       if recognised_when_grading(raw) else {})


def _case(raw: Any, index: int, path: Path, defaults: dict, problems: dict[str, Problem]) -> CaseSpec:
    where = f"cases[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(path, where, f"should be a mapping, found {raw!r}")
    _check_keys(raw, {"name", "description", "problem", "shape", "seed", "inputs", "points", "tolerance",
                      "visibility", "tags", "handout", "known", "known_atol", "dims", "init", "constant"}, path, where)
    name = _get(raw, "name", str, path, where)
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ConfigError(path, f"{where}.name", f"use letters, digits and underscores only, found {name!r}")
    where = f"cases[{index}] ({name})"
    problem_name = _get(raw, "problem", str, path, where, next(iter(problems)))  # default: the first problem
    if problem_name not in problems:
        raise ConfigError(path, f"{where}.problem", f"'{problem_name}' is not one of the problems ({', '.join(problems)})")
    problem = problems[problem_name]
    shape = _get(raw, "shape", list, path, where, [] if "dims" in raw or problem.input_shapes else ...)
    shapeless = "dims" in raw or bool(problem.input_shapes)  # the inputs' shapes come from elsewhere
    if (shape and len(shape) != 2 or not shape and not shapeless
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise ConfigError(path, f"{where}.shape", f"should be [N, C] with positive whole numbers, found {shape!r}")
    dims = {"N": shape[0], "C": shape[1]} if shape else {}
    for key, value in _get(raw, "dims", dict, path, where, {}).items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key) or type(value) is not int or value < 0:
            raise ConfigError(path, f"{where}.dims.{key}", f"should map a dimension's name to a whole number, "
                                                          f"found {key!r}: {value!r}")
        dims[key] = value
    inputs_raw = _get(raw, "inputs", dict, path, where)
    _check_keys(inputs_raw, set(problem.input_names), path, f"{where}.inputs")
    for required in problem.input_names:
        if required not in inputs_raw:
            raise ConfigError(path, f"{where}.inputs.{required}", f"is required (an input of problem {problem_name})")
    inputs = {k: _input_spec(inputs_raw[k], path, f"{where}.inputs.{k}") for k in problem.input_names}
    for key, spec in inputs.items():
        source = spec.params.get("from") if spec.kind == "one_hot" else None
        if source is not None and (source not in inputs or inputs[source].kind != "labels"):
            labels = [k for k, s in inputs.items() if s.kind == "labels"]
            raise ConfigError(path, f"{where}.inputs.{key}.one_hot.from", f"{source!r} is not a labels input of this "
                              f"case (its labels inputs: {', '.join(labels) or 'none; add one such as y: {labels: {classes: C}}'})")
    for gradient in problem.gradients:  # finite differences move an input by a small step: labels have none
        if inputs.get(gradient.wrt) is not None and inputs[gradient.wrt].kind in INTEGER_KINDS:
            raise ConfigError(path, f"{where}.inputs.{gradient.wrt}", f"is {inputs[gradient.wrt].kind}, but "
                              f"problems.{problem_name}.gradients takes a gradient with respect to it; draw it from "
                              "normal or uniform, or take the gradient with respect to another input")
    points_raw = _get(raw, "points", dict, path, where, {})
    _check_keys(points_raw, set(problem.outputs) | set(problem.graded_outputs), path, f"{where}.points")
    points = {}
    for method in problem.methods:
        fallback = method.points if method.points is not None else defaults["points"].get(method.name, 1.0)
        value = _get(points_raw, method.name, float, path, f"{where}.points", fallback)
        if value < 0:
            raise ConfigError(path, f"{where}.points.{method.name}", f"must not be negative, found {value}")
        points[method.name] = value
        for output in method.outputs if method.graded else ():  # points per graded value, by its name
            points[output] = _get(points_raw, output, float, path, f"{where}.points", defaults["points"].get(output, value))
            if points[output] < 0:
                raise ConfigError(path, f"{where}.points.{output}", f"must not be negative, found {points[output]}")
    visibility = _get(raw, "visibility", str, path, where, defaults["visibility"])
    if visibility not in VISIBILITIES:
        raise ConfigError(path, f"{where}.visibility", f"should be one of {', '.join(VISIBILITIES)}, found {visibility!r}")
    handout = _get(raw, "handout", bool, path, where, visibility == "visible")
    if handout and visibility != "visible":
        raise ConfigError(path, f"{where}.handout", f"a {visibility} case cannot ship in the handout: its values "
                                                    "would no longer be withheld")
    tags = _get(raw, "tags", list, path, where, [])
    known = _get(raw, "known", dict, path, where, {})
    for key, value in known.items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            raise ConfigError(path, f"{where}.known.{key}", "should name an expected array (A, dLdZ, J, ...)")
        if not isinstance(value, list):
            raise ConfigError(path, f"{where}.known.{key}", "should be a nested list of numbers")
    if _get(raw, "seed", int, path, where, 0) < 0:
        raise ConfigError(path, f"{where}.seed", f"must not be negative, found {raw['seed']}")
    known_atol = _get(raw, "known_atol", float, path, where, 1e-9)
    if known_atol < 0:
        raise ConfigError(path, f"{where}.known_atol", f"must not be negative, found {known_atol}")
    return CaseSpec(
        name=name,
        description=_get(raw, "description", str, path, where, ""),
        problem=problem_name,
        shape=tuple(shape),
        seed=_get(raw, "seed", int, path, where, index),
        inputs=inputs,
        points=points,
        tolerance=_tolerance(raw.get("tolerance"), path, f"{where}.tolerance", defaults["tolerance"]),
        visibility=visibility,
        tags=tuple(str(t) for t in tags),
        handout=handout,
        known=dict(known),
        known_atol=known_atol,
        dims=dims,
        init=_case_init(raw, problem, path, where),
        constant=_names(_get(raw, "constant", (list, str), path, where, []), path, f"{where}.constant"),
    )


def _init_block(init_raw: Any, path: Path, where: str) -> dict:
    """An `init:` entry as {args, kwargs}: a list is the positional arguments alone."""
    if isinstance(init_raw, list):
        init_raw = {"args": init_raw}
    if not isinstance(init_raw, dict):
        raise ConfigError(path, f"{where}.init", f"should be a list of arguments or {{args, kwargs}}, found {init_raw!r}")
    _check_keys(init_raw, {"args", "kwargs"}, path, f"{where}.init")
    return init_raw


def _case_init(raw: dict, problem: Problem, path: Path, where: str):
    """The constructor's arguments for a case: the problem's, with the case's `init` keywords (or args) over them."""
    base = problem.init
    if "init" not in raw:
        return base
    init_raw = _init_block(raw["init"], path, where)
    args = _arguments(_get(init_raw, "args", list, path, f"{where}.init", list(base[0]) if base else []), path,
                      f"{where}.init.args")
    kwargs = dict(base[1]) if base else {}
    kwargs.update(_keywords(_get(init_raw, "kwargs", dict, path, f"{where}.init", {}), path, f"{where}.init.kwargs"))
    return args, tuple(kwargs.items())


def _policy(raw: Any, path: Path) -> Policy:
    if raw is None:
        return Policy()
    if not isinstance(raw, dict):
        raise ConfigError(path, "policy", f"should be a mapping, found {raw!r}")
    _check_keys(raw, {"submissions", "late"}, path, "policy")
    limit = None
    if raw.get("submissions") is not None:
        sub = _get(raw, "submissions", dict, path, "policy")
        _check_keys(sub, {"max", "window_hours"}, path, "policy.submissions")
        count = _get(sub, "max", int, path, "policy.submissions")
        if count < 1:
            raise ConfigError(path, "policy.submissions.max", f"must be at least 1, found {count}")
        hours = _positive(_get(sub, "window_hours", float, path, "policy.submissions"), path, "policy.submissions.window_hours")
        limit = SubmissionLimit(max=count, window_hours=hours)
    late = None
    if raw.get("late") is not None:
        lraw = _get(raw, "late", dict, path, "policy")
        _check_keys(lraw, {"percent_per_day", "max_percent", "grace_minutes"}, path, "policy.late")
        per_day = _get(lraw, "percent_per_day", float, path, "policy.late")
        most = _get(lraw, "max_percent", float, path, "policy.late", 100.0)
        grace = _get(lraw, "grace_minutes", float, path, "policy.late", 0.0)
        for key, value in (("percent_per_day", per_day), ("max_percent", most)):
            if not 0 <= value <= 100:
                raise ConfigError(path, f"policy.late.{key}", f"should be a percentage from 0 to 100, found {value}")
        if grace < 0:
            raise ConfigError(path, "policy.late.grace_minutes", f"must not be negative, found {grace}")
        late = LatePenalty(percent_per_day=per_day, max_percent=most, grace_minutes=grace)
    return Policy(submissions=limit, late=late)


def assignment_root(config: Path | None, reference: str = "reference") -> Path:
    """The folder of an assignment: the config's own folder when it holds the config's reference folder (an
    assignment folder such as examples/hw1p1), else the repository root (the root assignment's
    autograder/assignment.yaml, or a config kept elsewhere)."""
    from .paths import PROJECT_ROOT

    if config is None:
        return PROJECT_ROOT
    folder = Path(config).resolve().parent
    return folder if (folder / reference).is_dir() else PROJECT_ROOT


def _relative_folder(doc: dict, key: str, default: str, path: Path) -> str:
    value = _get(doc, key, str, path, "", default)
    if value.startswith("/") or ".." in Path(value).parts:
        raise ConfigError(path, key, f"should be a folder relative to the repository root, found {value!r}")
    return value


def parse_assignment(doc: Any, path: Path) -> Assignment:
    """Validate a loaded config document."""
    if not isinstance(doc, dict):
        raise ConfigError(path, "(top level)", "should be a mapping")
    _check_keys(doc, {"assignment", "reference", "template", "problems", "defaults", "limits", "policy", "cases",
                      "packages", "independent"}, path, "")
    problems_raw = _get(doc, "problems", dict, path, "")
    if not problems_raw:
        raise ConfigError(path, "problems", "needs at least one problem")
    problems = {name: _problem(name, raw, path) for name, raw in problems_raw.items()}
    for name, problem in problems.items():
        for used in problem.uses:
            if used not in problems or used == name:
                raise ConfigError(path, f"problems.{name}.uses", f"{used!r} is not another problem of this assignment "
                                  f"(problems: {', '.join(problems)})")
    if "independent" not in doc:  # a name not built in needs the assignment's own file of implementations
        from .generate import INDEPENDENT_CHECKS

        for name, problem in problems.items():
            if problem.independent is not None and problem.independent not in INDEPENDENT_CHECKS:
                raise ConfigError(path, f"problems.{name}.independent", f"unknown check {problem.independent!r} "
                                  f"(known: {', '.join(INDEPENDENT_CHECKS)}; or name a file of your own with "
                                  "independent: at the top level)")
    raw_defaults = _get(doc, "defaults", dict, path, "", {})
    _check_keys(raw_defaults, {"tolerance", "points", "visibility", "jacobian_max_entries"}, path, "defaults")
    default_points = _get(raw_defaults, "points", dict, path, "defaults", {})
    for method, value in default_points.items():
        _get(default_points, method, float, path, "defaults.points")
    defaults = {
        "tolerance": _tolerance(raw_defaults.get("tolerance", {"rtol": 1e-5, "atol": 1e-6}), path, "defaults.tolerance", None),
        "points": {k: float(v) for k, v in default_points.items()},
        "visibility": _get(raw_defaults, "visibility", str, path, "defaults", "visible"),
    }
    if defaults["visibility"] not in VISIBILITIES:
        raise ConfigError(path, "defaults.visibility", f"should be one of {', '.join(VISIBILITIES)}, "
                                                       f"found {defaults['visibility']!r}")
    raw_limits = _get(doc, "limits", dict, path, "", {})
    known = Limits.__dataclass_fields__
    _check_keys(raw_limits, set(known), path, "limits")
    limit_values = {}
    for key in raw_limits:
        kind = int if known[key].type == "int" else float
        limit_values[key] = _positive(_get(raw_limits, key, kind, path, "limits"), path, f"limits.{key}")
    cases_raw = _get(doc, "cases", list, path, "")
    if not cases_raw:
        raise ConfigError(path, "cases", "needs at least one case")
    cases = tuple(_case(raw, i, path, defaults, problems) for i, raw in enumerate(cases_raw))
    names = [c.name for c in cases]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(path, f"cases[{i}].name", f"'{name}' is used by an earlier case")
    jacobian_max = _get(raw_defaults, "jacobian_max_entries", int, path, "defaults", 2000)
    if jacobian_max < 0:
        raise ConfigError(path, "defaults.jacobian_max_entries", f"must not be negative, found {jacobian_max}")
    return Assignment(
        title=_get(doc, "assignment", str, path, "", "assignment"),
        problems=problems,
        limits=Limits(**limit_values),
        jacobian_max_entries=jacobian_max,
        cases=cases,
        reference=_relative_folder(doc, "reference", "reference", path),
        template=_relative_folder(doc, "template", "student_template", path),
        policy=_policy(doc.get("policy"), path),
        path=path,
        packages=_packages(doc, path),
        independent=_get(doc, "independent", str, path, "", None),
    )


_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?(==|>=|<=|~=|<|>)?[A-Za-z0-9.*+!-]*$")


def _packages(doc: dict, path: Path) -> tuple[str, ...]:
    """Extra packages students may import (each a pip requirement, pinned: scipy==1.13.1)."""
    packages = _get(doc, "packages", list, path, "", [])
    for i, item in enumerate(packages):
        if not isinstance(item, str) or not _REQUIREMENT.match(item) or "==" not in item:
            raise ConfigError(path, f"packages[{i}]", f"should be a pinned pip requirement such as scipy==1.13.1, "
                                                      f"found {item!r}")
    return tuple(packages)


def load_assignment(path: Path) -> Assignment:
    """Read and validate the assignment config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot read ({exc.strerror})") from None
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # the C loader is ~10x faster
    except yaml.YAMLError as exc:
        raise ConfigError(path, "(syntax)", f"not valid YAML: {exc}") from None
    return parse_assignment(doc, path)
