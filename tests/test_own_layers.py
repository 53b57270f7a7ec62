"""The pieces that grade a class against the student's own parts (own_layers.py): the config's `chain`, the
request a worker runs, what it says of the parts, and what the grader accepts of that. Graded end to end in
test_hw1p1.py."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from autograder.config import parse_assignment
from autograder.errors import AutograderError, ConfigError, FixtureError
from autograder.fixtures import Chain, dump_case, load_case
from autograder.generate import build_cases
from autograder.own_layers import chain_ops, perturbed
from autograder.sandbox.replies import _parse_result
from autograder.sandbox.worker import describe_elements, run_steps

HW = Path(__file__).resolve().parent.parent / "examples" / "hw1p1"
DOC = yaml.safe_load((HW / "assignment.yaml").read_text())
CHAIN = Chain(through="layers", reverse=("backward",), shapes=("W", "b"))


def _doc(problem: str, **changes) -> dict:
    doc = copy.deepcopy(DOC)
    doc["problems"][problem].update(changes)
    return doc


@pytest.mark.parametrize("problem, changes, said", [
    ("mse", {"uses": ["linear"], "chain": {"through": "layers"}}, "a chain passes one value"),
    ("mlp0", {"chain": {"through": "layers", "reverse": ["sideways"]}}, "'sideways' is not a method the problem calls"),
    ("mlp0", {"chain": {"through": "layers..W"}}, "should be an attribute path"),
    ("mlp0", {"chain": {"through": "layers", "order": "reversed"}}, "problems.mlp0.chain.order"),
    ("mlp0", {"uses": [], "chain": {"through": "layers"}}, "list the problems of those parts under uses"),
])
def test_a_chain_the_config_cannot_mean_is_refused_naming_the_key(problem, changes, said):
    with pytest.raises(ConfigError, match="problems\\." + problem) as info:
        parse_assignment(_doc(problem, **changes), HW / "assignment.yaml")
    assert said in str(info.value)


def test_generate_refuses_a_chain_that_does_not_run_the_parts_as_the_reference_does():
    doc = _doc("mlp0", chain={"through": "layers", "reverse": [], "shapes": ["W", "b"]})
    doc["cases"] = [case for case in doc["cases"] if case.get("problem") == "mlp0"][:1]
    with pytest.raises(AutograderError, match=r"mlp0_batch.*own parts, run through layers.*dLdA0"):
        build_cases(parse_assignment(doc, HW / "assignment.yaml"))


def test_a_fixture_with_a_chain_keeps_the_reference_structure_and_needs_it(tmp_path):
    case = next(c for c in (load_case(p) for p in sorted((HW / "test_cases").glob("*mlp1*"))))
    assert case.problem.chain == CHAIN
    assert [part["class"] for part in case.structure] == ["Linear", "ReLU", "Linear", "ReLU"]
    target = tmp_path / "case.yaml"
    target.write_text(dump_case(case))
    assert load_case(target).structure == case.structure
    target.write_text("".join(line for line in dump_case(case).splitlines(keepends=True)
                              if not line.startswith(("structure:", "- {class:"))))
    with pytest.raises(FixtureError, match="needs 'structure'"):
        load_case(target)


def test_the_chained_request_describes_the_parts_before_any_is_set_and_calls_through_them():
    ops = [{"op": "set", "attr": "layers[0].W", "from": "W0"}, {"op": "call", "method": "forward", "args": ["A0"]},
           {"op": "call", "method": "backward", "args": ["dLdA"], "graded": True}]
    chained = chain_ops(ops, CHAIN)
    assert chained[0] == {"op": "describe", "attr": "layers", "fields": ["W", "b"]}
    assert [op.get("through") for op in chained[1:]] == [None, {"attr": "layers", "reverse": False},
                                                          {"attr": "layers", "reverse": True}]
    assert ops[1].get("through") is None, "the check's own request is left as it was"


class _Doubler:
    def __init__(self):
        self.W = np.zeros((2, 3))

    def forward(self, x):
        self.x = x
        return 2 * x

    def backward(self, d):
        return d - self.x


class _Nameless(type):
    @property
    def __name__(cls):
        raise RuntimeError("no name")


class _Hostile(metaclass=_Nameless):
    @property
    def W(self):
        raise RuntimeError("no W")


class _Model:
    def __init__(self):
        self.layers = [_Doubler(), _Doubler()]

    def forward(self, x):  # not what the chain does: the chain never calls it
        raise AssertionError("the chain runs the parts, not the model's own method")


def test_the_worker_runs_the_parts_in_order_and_back_in_reverse_and_describes_them():
    x = np.arange(3.0).reshape(1, 3)
    ops = chain_ops([{"op": "call", "method": "forward", "args": ["x"]},
                     {"op": "call", "method": "backward", "args": ["x"], "graded": True}], CHAIN)
    reply, arrays = run_steps(_Model, ops, {"x": x}, "")
    # forward: x -> 2x -> 4x; backward from the last part: x - 2x = -x, then -x - x = -2x
    assert reply["ok"] and np.array_equal(arrays["result"], -2 * x)
    assert reply["described"] == {"length": 2, "items": [{"class": "_Doubler", "W": [2, 3]}] * 2}
    assert _parse_result(reply, arrays).described == reply["described"]


class _Aliased(_Doubler):
    __call__ = _Doubler.forward  # part(x) is its forward


class _Calling(_Model):
    """Runs its parts as the chain does, calling each (part(x)): the parts' own __call__ is their forward."""

    def __init__(self):
        self.layers = [_Aliased(), _Aliased(), _Aliased()]

    def forward(self, x):
        for part in self.layers:
            x = part(x)
        return x


class _Skipping(_Calling):
    def forward(self, x):  # the right value unmoved (8x), without running its parts
        return 8 * x


def _answered(cls: type, request: list[dict], x: np.ndarray) -> np.ndarray:
    """The graded value a worker's run of `request` on a fresh `cls` answers, with `x` as its input x."""
    reply, arrays = run_steps(cls, request, {"x": x}, "")
    assert reply["ok"], reply
    return arrays["result"]


def test_moved_parts_show_whether_the_class_runs_them():
    """own_layers.follows_its_parts: with the value each part hands on to the next moved by a fixed random amount,
    the class's own call gives the chain's moved value only if it runs its parts (here through part(x), whose
    __call__ is forward); the last part's own value is not moved, a part's other amount (`other`) changes it."""
    x = np.arange(3.0).reshape(1, 3)
    ops = [{"op": "call", "method": "forward", "args": ["x"], "graded": True}]

    chained = _answered(_Calling, perturbed(chain_ops(ops, CHAIN), CHAIN, 7), x)
    mine = _answered(_Calling, perturbed(ops, CHAIN, 7), x)
    assert np.array_equal(mine, chained) and not np.allclose(chained, 8 * x)
    assert np.array_equal(_answered(_Calling, perturbed(ops, CHAIN, 7), x), chained), "the same amounts every time"
    assert not np.allclose(_answered(_Calling, perturbed(chain_ops(ops, CHAIN), CHAIN, 7, other=0), x), chained)
    assert np.array_equal(_answered(_Skipping, perturbed(ops, CHAIN, 7), x), 8 * x)  # never sees the amounts
    assert np.array_equal(_answered(_Skipping, ops, x), _answered(_Calling, ops, x))  # ... and agrees unmoved
    # the last part's value is not moved (the class may take it from what the part keeps): its amount is no matter
    assert np.array_equal(_answered(_Calling, perturbed(chain_ops(ops, CHAIN), CHAIN, 7, other=2), x), chained)
    alone = type("Alone", (_Calling,), {"__init__": lambda self: setattr(self, "layers", [_Aliased()])})
    # but of one part, moved
    assert not np.allclose(_answered(alone, perturbed(chain_ops(ops, CHAIN), CHAIN, 7), x), 2 * x)
    backward = perturbed([{"op": "call", "method": "forward", "args": ["x"]},
                          {"op": "call", "method": "backward", "args": ["x"], "graded": True}], CHAIN, 7)
    assert backward[1] == {"op": "perturb", "attr": "layers", "method": "backward", "seed": 7, "reverse": True}
    reply, _ = run_steps(lambda: type("M", (), {"layers": 3})(), perturbed(ops, CHAIN, 7), {"x": x}, "")
    assert not reply["ok"] and reply["error"]["type"] == "TypeError"  # no list of parts: no answer


class _Slotted:
    """_Aliased with __slots__: no attribute of its own can be set but these."""

    __slots__ = ("W", "x")
    __init__, forward, backward = _Doubler.__init__, _Doubler.forward, _Doubler.backward
    __call__ = _Doubler.forward


class _SlottedCalling(_Calling):
    def __init__(self):
        self.layers = [_Slotted(), _Slotted(), _Slotted()]


class _SlottedForward(_SlottedCalling):
    def forward(self, x):
        for part in self.layers:
            x = part.forward(x)
        return x


def test_parts_that_take_no_attribute_of_their_own_are_moved_too():
    """Red team 22: parts of a class with __slots__ refuse the moved method on themselves (AttributeError), so a right
    class built from them got no answer when moved, and lost the tests graded against its parts ("give no array of
    finite numbers"). Their class's method now answers for each of them, moved by its own amount, as a part's own
    attribute would be: the values are those of the same parts without __slots__, called or run through forward."""
    x = np.arange(3.0).reshape(1, 3)
    ops = [{"op": "call", "method": "forward", "args": ["x"], "graded": True}]

    assert not hasattr(_Slotted(), "__dict__")
    chained = _answered(_Calling, perturbed(chain_ops(ops, CHAIN), CHAIN, 7), x)
    for model in (_SlottedCalling, _SlottedForward):
        assert np.array_equal(_answered(model, perturbed(chain_ops(ops, CHAIN), CHAIN, 7), x), chained)
        assert np.array_equal(_answered(model, perturbed(ops, CHAIN, 7), x), chained)
    assert not np.allclose(chained, 8 * x)
    assert np.array_equal(_answered(_SlottedForward, ops, x), 8 * x)


def test_a_part_that_raises_ends_the_chain_with_an_error_even_before_the_graded_call():
    ops = chain_ops([{"op": "call", "method": "forward", "args": ["x"]},
                     {"op": "call", "method": "backward", "args": ["x"], "graded": True}], CHAIN)
    reply, _ = run_steps(lambda: type("M", (), {"layers": [object()]})(), ops, {"x": np.ones((1, 1))}, "")
    assert not reply["ok"] and reply["method"] == "forward" and reply["error"]["type"] == "AttributeError"
    assert reply["described"]["items"] == [{"class": "object"}]


def test_whatever_the_parts_are_their_description_is_data():
    holder = type("H", (), {})()
    holder.layers = [_Hostile(), 3, None] * 30
    described = describe_elements(holder, "layers", ["W", "b"])
    assert described["length"] == 90 and len(described["items"]) == 64
    assert described["items"][:2] == [{"class": "?"}, {"class": "int"}]
    assert describe_elements(holder, "missing", [])["error"] == "AttributeError"


@pytest.mark.parametrize("described", [
    {"length": 1, "items": [{"class": 3}]},
    {"length": 1, "items": [{"class": "Linear", "W": [-1, 2]}]},
    {"length": 0, "items": [{"class": "Linear"}]},
    {"length": "1", "items": []},
    ["Linear"],
])
def test_the_grader_takes_no_malformed_description(described):
    reply = {"event": "result", "ok": True, "method": "forward", "returned": {"kind": "none", "type": "NoneType"},
             "described": described}
    assert _parse_result(reply, {}).described is None
