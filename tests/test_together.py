"""Checks that share their steps, answered by one run (worker.run_steps with "grades"), and how grading
decides them: each value as a run of its check alone would give it, and every failure decided again alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autograder.fixtures import load_cases
from autograder.grade import request_together, steps_for, together
from autograder.paths import PROJECT_ROOT
from autograder.sandbox.replies import _parse_result
from autograder.sandbox.worker import run_steps

HW1P1 = PROJECT_ROOT / "examples" / "hw1p1" / "test_cases"


class Layer:
    """Forward keeps its output and returns it; backward changes that very array in place."""

    def forward(self, Z):
        self.A = Z * 2.0
        return self.A

    def backward(self, dLdA):
        self.A *= 0.0  # the array forward returned, changed after it was graded
        self.dLdZ = dLdA * 2.0
        self.count = getattr(self, "count", 0) + 1
        return self.dLdZ


class Raises(Layer):
    def backward(self, dLdA):
        raise ValueError("no")


STEPS = [{"op": "call", "method": "forward", "args": ["Z"], "grades": [{}]},
         {"op": "call", "method": "backward", "args": ["dLdA"], "grades": [{}, {"value": "dLdZ"}, {"value": "A"}]}]
INPUTS = {"Z": np.arange(6.0).reshape(2, 3), "dLdA": np.ones((2, 3))}


def test_each_value_is_taken_at_its_call_as_a_copy():
    header, arrays = run_steps(Layer, STEPS, INPUTS, "/nonexistent")
    outcome = _parse_result(header, arrays)
    assert outcome.kind == "ok" and outcome.items is not None and len(outcome.items) == 4
    forward, backward, dLdZ, A = outcome.items
    np.testing.assert_array_equal(forward.array, INPUTS["Z"] * 2.0)  # as before backward changed it
    np.testing.assert_array_equal(backward.array, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(dLdZ.array, np.full((2, 3), 2.0))
    np.testing.assert_array_equal(A.array, np.zeros((2, 3)))
    assert [item.method for item in outcome.items] == ["forward", "backward", "backward", "backward"]


def test_each_value_equals_what_its_check_alone_gives():
    alone = [
        [{"op": "call", "method": "forward", "args": ["Z"], "graded": True}],
        [{"op": "call", "method": "forward", "args": ["Z"]}, {"op": "call", "method": "backward", "args": ["dLdA"],
                                                               "graded": True, "value": "dLdZ"}],
    ]
    together_ = _parse_result(*run_steps(Layer, STEPS, INPUTS, "/nonexistent"))
    for steps, item in zip(alone, (together_.items[0], together_.items[2])):
        single = _parse_result(*run_steps(Layer, steps, INPUTS, "/nonexistent"))
        assert single.kind == "ok" and single.items is None
        np.testing.assert_array_equal(single.array, item.array)


def test_a_batch_that_raises_anywhere_is_no_answer():
    outcome = _parse_result(*run_steps(Raises, STEPS, INPUTS, "/nonexistent"))
    assert outcome.kind == "error" and outcome.items is None


def test_a_reply_with_arrays_it_was_not_asked_for_is_malformed():
    header, arrays = run_steps(Layer, STEPS, INPUTS, "/nonexistent")
    arrays["result.9"] = np.zeros(2)
    assert _parse_result(header, arrays).kind == "protocol"


def test_hw1p1_groups_never_send_a_value_they_grade():
    """A run that answers several checks is never sent the expected value of one of them (a backward check
    of an activation sets the reference A, which its forward check grades: those stay apart)."""
    runs = 0
    for case in load_cases(HW1P1, graded_only=True):
        groups = together(case, list(case.checks))
        assert sorted(id(c) for g in groups for c in g) == sorted(id(c) for c in case.checks)
        for group in groups:
            runs += 1
            steps, arrays = request_together(group, case) if len(group) > 1 else steps_for(group[0], case)
            for check in group:
                assert check.output not in arrays or check.output in case.inputs
                assert group[-1].steps[:len(check.steps)] == check.steps
    assert runs < 70  # of 153 graded values: one run per shared set of steps


class FakeSandbox:
    """Answers a batch with `batch`, and a check alone with an "ok" outcome; records every run."""

    def __init__(self, batch):
        self.batch, self.runs = batch, []

    def run(self, steps, inputs, *, call_timeout, target=None, fresh=False):
        from autograder.sandbox import CallOutcome
        self.runs.append((steps, fresh))
        if steps == "batch":
            return self.batch
        return CallOutcome("ok", method=steps, shared=False)


def test_a_wrong_value_of_a_batch_is_decided_again_alone_and_the_rest_stand():
    from autograder.sandbox import CallOutcome
    from autograder.sandbox.escalation import decide_together
    items = [CallOutcome("ok", method="a"), CallOutcome("ok", method="b")]
    box = FakeSandbox(CallOutcome("ok", items=items, shared=True, output="printed"))
    judges = [lambda o: (True,), lambda o: (o.method == "b-alone",)]
    decided = decide_together(box, ("batch", {}), [("a-alone", {}), ("b-alone", {})], judges, call_timeout=1.0)
    assert box.runs == [("batch", False), ("b-alone", True)]  # only the failure, in a process of its own
    assert decided[0][0] is items[0] and decided[0][0].shared and decided[0][0].output == "printed"
    assert decided[1][0].method == "b-alone"


def test_a_batch_without_a_clean_answer_decides_every_check_alone():
    from autograder.sandbox import CallOutcome
    from autograder.sandbox.escalation import decide_together
    box = FakeSandbox(CallOutcome("timeout"))
    decided = decide_together(box, ("batch", {}), [("a-alone", {}), ("b-alone", {})],
                              [lambda o: (True,)] * 2, call_timeout=1.0)
    assert box.runs == [("batch", False), ("a-alone", False), ("b-alone", False)]
    assert [o.method for o, _ in decided] == ["a-alone", "b-alone"]
