"""A problem's feedback as data: its catalogued mistakes recognised while grading, and the notes it switches on.

The engine knows no problem. What a problem's students typically get wrong,
the hint each mistake earns and how it is recognised, which general notes
apply and in what words, and whether a speed note is given: all of it is
written in the assignment's config (``problems.NAME.mistakes`` and
``problems.NAME.feedback``, see README "Writing an assignment") and copied by
``generate`` into the fixtures folder, ``test_cases/feedback/NAME.yaml``, which
grading reads (never the config). A problem without it gets none of it.

A mistake is recognised while grading by what it returns, as a NumPy
expression of the case's arrays (``value``); by the kind of value it returns
(``returns: none`` or ``list``); by changing its input in place
(``modifies_input``); or by the exceptions it raises (``raises``). Mistakes
recognised only by their values on each case are stored in the cases
themselves instead (see generate.add_mistaken_values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .expressions import ExpressionError, compiled, evaluate
from .fixtures import YamlError, load_yaml

FEEDBACK_DIR = "feedback"  # in the fixtures folder: one NAME.yaml per problem that has feedback
STORED_SUFFIX = ".npz"  # the handout's copy: what each mistake returns on the visible tests, instead of `value`
RETURNS = ("none", "list")
MISTAKE_KEYS = {"method", "value", "returns", "modifies_input", "raises"}  # beside name, hint, patch, outputs
SIGN_KEYS = {"exception", "message", "fits", "when", "method", "any_method", "text"}
FEEDBACK_KEYS = {"rows_sum_to_one", "large_inputs", "single_sample", "efficiency", "shapes"}


class FeedbackError(ValueError):
    """Feedback data that cannot be used: the message names the key (relative to the problem)."""


@dataclass(frozen=True)
class ErrorSign:
    """An exception that points to a mistake: its type, a pattern of its message, and tests on the numbers in the
    message (`fits`, an expression of `numbers` and the case's arrays) and on the case (`when`)."""

    exception: str
    pattern: re.Pattern[str]
    fits: str | None = None
    when: str | None = None
    method: str = ""  # only when raised by this method
    any_method: bool = False  # also when raised by another method than the mistake's
    text: str = ""  # the hint, when the mistake's own does not describe the exception


@dataclass(frozen=True)
class Mistake:
    """One catalogued mistake recognised while grading (see the module's docstring)."""

    name: str
    method: str
    hint: str
    value: str | None = None
    returns: str | None = None
    modifies_input: bool = False
    raises: tuple[ErrorSign, ...] = ()

    def produce(self, arrays: Mapping[str, np.ndarray]) -> Any:
        """What this mistake returns given these arrays (None: not an array, or it cannot be computed)."""
        if self.value is None:
            return None
        try:
            return evaluate(self.value, arrays)
        except Exception:  # noqa: BLE001 - a mistake that does not apply to a case's shapes explains nothing there
            return None


@dataclass(frozen=True)
class LargeInputs:
    """NaN or inf on a case with large inputs: what to say, per method ({float32}: `float32` when the student's
    array is float32, else nothing)."""

    input: str
    above: float
    tag: str
    text: dict[str, str]
    float32: str = ""


@dataclass(frozen=True)
class SingleSample:
    """A method right on every single-sample case and wrong on every batch: said, with `advice`."""

    input: str
    advice: str


@dataclass(frozen=True)
class ShapeMeaning:
    """A wrong shape that means something for this problem: `shape`, an expression of N and C (the expected
    (N, C)), and what to say; before the general meanings (compare.py)."""

    shape: str
    text: str

    def fits(self, got: tuple[int, ...], want: tuple[int, ...]) -> bool:
        """True when `got` is this shape for an expected (N, C) `want`."""
        try:
            return len(want) == 2 and tuple(evaluate(self.shape, {"N": want[0], "C": want[1]})) == tuple(got)
        except Exception:  # noqa: BLE001 - a shape the expression cannot describe
            return False


@dataclass(frozen=True)
class Efficiency:
    """A zero-point note when `method` is far slower than the vectorised `fast` expression on the largest cases
    (by `cost`); `sizes` name the case's sizes in the note; `note` says how to do better."""

    method: str
    fast: str
    cost: str
    sizes: tuple[tuple[str, str], ...]
    note: str


@dataclass(frozen=True)
class Feedback:
    """Everything a problem's data says about feedback (empty: nothing beyond the general notes)."""

    mistakes: tuple[Mistake, ...] = ()
    rows_sum_to_one: bool = False
    large_inputs: LargeInputs | None = None
    single_sample: SingleSample | None = None
    efficiency: Efficiency | None = None
    shapes: tuple[ShapeMeaning, ...] = ()
    stored: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)  # the handout's stored values

    @property
    def by_name(self) -> dict[str, Mistake]:
        return {m.name: m for m in self.mistakes}

    def produced(self, mistake: Mistake, arrays: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> Any:
        """What a mistake returns on a case: computed from `value`, else as stored for the case's inputs."""
        if mistake.value is not None:
            return mistake.produce(arrays)
        if not self.stored:  # nothing stored (Gradescope's copy): no lookup, and no hashlib imported after student code
            return None
        found = self.stored.get(f"{mistake.name}__{inputs_key(inputs)}")
        return None if found is None else found.copy()


EMPTY = Feedback()


def inputs_key(inputs: Mapping[str, np.ndarray]) -> str:
    """Which case a set of inputs is (a hash of the arrays, by name): how the handout finds stored values."""
    import hashlib  # here: only the handout's lookup needs it, and grading imports this module every time

    digest = hashlib.sha256()
    for name in sorted(inputs):
        digest.update(np.ascontiguousarray(inputs[name], dtype=np.float64).tobytes())
    return digest.hexdigest()[:24]


# -- reading and checking ------------------------------------------------------------------------------------

def _text(raw: Mapping, key: str, where: str, default: Any = ...) -> Any:
    if key not in raw:
        if default is ...:
            raise FeedbackError(f"{where}: missing '{key}'")
        return default
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise FeedbackError(f"{where}.{key}: should be text, found {value!r}")
    return value


def _expression(raw: Mapping, key: str, where: str, default: Any = ..., check: bool = True) -> Any:
    """An expression's text, checked (compiled) unless `check` is off (then on first use)."""
    text = _text(raw, key, where, default)
    if isinstance(text, str) and check:
        try:
            compiled(text)
        except ExpressionError as exc:
            raise FeedbackError(f"{where}.{key}: {exc}: {text!r}") from None
    return text


def _mapping(raw: Any, keys: set[str], where: str) -> Mapping:
    if not isinstance(raw, dict):
        raise FeedbackError(f"{where}: should be a mapping, found {raw!r}")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise FeedbackError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(keys))})")
    return raw


def parse_sign(raw: Any, where: str, check: bool = True) -> ErrorSign:
    raw = _mapping(raw, SIGN_KEYS, where)
    try:
        pattern = re.compile(_text(raw, "message", where))
    except re.error as exc:
        raise FeedbackError(f"{where}.message: not a regular expression ({exc})") from None
    any_method = raw.get("any_method", False)
    if not isinstance(any_method, bool):
        raise FeedbackError(f"{where}.any_method: should be true or false")
    return ErrorSign(exception=_text(raw, "exception", where), pattern=pattern,
                     fits=_expression(raw, "fits", where, None, check), when=_expression(raw, "when", where, None, check),
                     method=_text(raw, "method", where, ""),
                     any_method=any_method, text=_text(raw, "text", where, ""))


def parse_mistake(raw: Any, where: str, *, extra: set[str] = frozenset(), check: bool = True) -> Mistake:
    """One mistake's grading-time data (keys in `extra`, such as the config's patch, are left to the caller)."""
    raw = _mapping(raw, {"name", "hint"} | MISTAKE_KEYS | set(extra), where)
    returns = raw.get("returns")
    if returns is not None and returns not in RETURNS:
        raise FeedbackError(f"{where}.returns: should be one of {', '.join(RETURNS)}, found {returns!r}")
    modifies = raw.get("modifies_input", False)
    if not isinstance(modifies, bool):
        raise FeedbackError(f"{where}.modifies_input: should be true or false")
    signs = raw.get("raises", [])
    if not isinstance(signs, list):
        raise FeedbackError(f"{where}.raises: should be a list of error signs")
    mistake = Mistake(name=_text(raw, "name", where), method=_text(raw, "method", where, ""), hint=_text(raw, "hint", where),
                      value=_expression(raw, "value", where, None, check), returns=returns, modifies_input=modifies,
                      raises=tuple(parse_sign(s, f"{where}.raises[{i}]", check) for i, s in enumerate(signs)))
    if recognised_when_grading(raw) and not mistake.method:
        raise FeedbackError(f"{where}: 'method' (the method it gets wrong) is needed to recognise it while grading")
    return mistake


def recognised_when_grading(raw: Mapping) -> bool:
    """True when a mistake says how to recognise it while grading (else generate stores its values per case)."""
    return any(key in raw for key in MISTAKE_KEYS - {"method"})


def parse_feedback(raw: Any, where: str = "feedback", check: bool = True) -> Feedback:
    """The feedback block of a problem (config `feedback:` or a fixtures folder's feedback/NAME.yaml); `check` off
    leaves the expressions to be compiled on first use (generate checked them)."""
    raw = _mapping(raw, FEEDBACK_KEYS | {"mistakes", "problem", "class"}, where)
    mistakes = raw.get("mistakes", [])
    if not isinstance(mistakes, list):
        raise FeedbackError(f"{where}.mistakes: should be a list")
    large = single = efficiency = None
    if "large_inputs" in raw:
        at = f"{where}.large_inputs"
        block = _mapping(raw["large_inputs"], {"input", "above", "tag", "text", "float32"}, at)
        above = block.get("above")
        if isinstance(above, bool) or not isinstance(above, (int, float)):
            raise FeedbackError(f"{at}.above: should be a number")
        text = block.get("text")
        if not isinstance(text, dict) or not text or not all(isinstance(v, str) for v in text.values()):
            raise FeedbackError(f"{at}.text: should map a method to what to say")
        large = LargeInputs(input=_text(block, "input", at), above=float(above), tag=_text(block, "tag", at, ""),
                            text={str(k): v for k, v in text.items()}, float32=_text(block, "float32", at, ""))
    if "single_sample" in raw:
        at = f"{where}.single_sample"
        block = _mapping(raw["single_sample"], {"input", "advice"}, at)
        single = SingleSample(input=_text(block, "input", at), advice=_text(block, "advice", at))
    if "efficiency" in raw:
        at = f"{where}.efficiency"
        block = _mapping(raw["efficiency"], {"method", "fast", "cost", "sizes", "note"}, at)
        sizes = block.get("sizes", {})
        if not isinstance(sizes, dict):
            raise FeedbackError(f"{at}.sizes: should map a size's name to an expression")
        efficiency = Efficiency(method=_text(block, "method", at), fast=_expression(block, "fast", at, check=check),
                                cost=_expression(block, "cost", at, check=check),
                                sizes=tuple((str(k), _expression(sizes, k, f"{at}.sizes", check=check)) for k in sizes),
                                note=_text(block, "note", at))
    shapes = raw.get("shapes", [])
    if not isinstance(shapes, list):
        raise FeedbackError(f"{where}.shapes: should be a list of {{shape, text}}")
    meanings = []
    for i, item in enumerate(shapes):
        at = f"{where}.shapes[{i}]"
        item = _mapping(item, {"shape", "text"}, at)
        meanings.append(ShapeMeaning(shape=_expression(item, "shape", at, check=check), text=_text(item, "text", at)))
    rows = raw.get("rows_sum_to_one", False)
    if not isinstance(rows, bool):
        raise FeedbackError(f"{where}.rows_sum_to_one: should be true or false")
    return Feedback(mistakes=tuple(parse_mistake(m, f"{where}.mistakes[{i}]", check=check) for i, m in enumerate(mistakes)),
                    rows_sum_to_one=rows, large_inputs=large, single_sample=single, efficiency=efficiency,
                    shapes=tuple(meanings))


# -- a case's problem's feedback -----------------------------------------------------------------------------

_LOADED: dict[str, Feedback] = {}
_INDEXED: dict[str, Any] = {}  # feedback files' documents as the fixture index holds them (see use_indexed)


def use_indexed(documents: Mapping[Path, Any]) -> None:
    """Read these feedback files from their documents, as the fixture index holds them (fixture_index.read_index:
    their bytes unchanged since), not from their YAML: a grading so needs no PyYAML."""
    _INDEXED.update((str(path), document) for path, document in documents.items())


def feedback_path(fixtures: Path, problem: str) -> Path:
    """Where a problem's feedback is in a fixtures folder."""
    return Path(fixtures) / FEEDBACK_DIR / f"{problem}.yaml"


def load_feedback(path: Path) -> Feedback:
    """A feedback file (and the values stored beside it, in the handout); EMPTY when there is none."""
    key = str(path)
    if key not in _LOADED:
        if not path.is_file():
            _LOADED[key] = EMPTY
        else:
            try:
                document = _INDEXED[key] if key in _INDEXED else load_yaml(path.read_text(encoding="utf-8"))
                parsed = parse_feedback(document or {}, check=False)
            except (OSError, UnicodeDecodeError, YamlError, FeedbackError) as exc:
                from .errors import FixtureError

                raise FixtureError(f"{path}: {exc}") from None
            stored = path.with_suffix(STORED_SUFFIX)
            if stored.is_file():
                with np.load(stored, allow_pickle=False) as data:
                    parsed = Feedback(**{**parsed.__dict__, "stored": {k: data[k] for k in data.files}})
            _LOADED[key] = parsed
    return _LOADED[key]


def feedback_of(case: Any) -> Feedback:
    """The feedback of a case's problem: as generate built it (case.feedback), else from its fixtures folder."""
    built = getattr(case, "feedback", None)
    if built is not None:
        return parse_feedback(built)
    path = getattr(case, "path", None)
    problem = getattr(case, "problem", None)
    if path is None or problem is None:
        return EMPTY
    return load_feedback(feedback_path(Path(path).parent, problem.name))


def case_arrays(case: Any) -> dict[str, np.ndarray]:
    """The names a case's expressions read: its expected arrays and its inputs (an input wins a shared name)."""
    return {**case.expected, **case.inputs}
