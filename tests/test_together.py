"""Checks that share their steps, answered by one run (worker.run_steps with "grades"), and how grading
decides them: each value as a run of its check alone would give it, and every failure decided again alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

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

    def run(self, steps, inputs, *, call_timeout, target=None, fresh=False, then=None):
        from autograder.sandbox import CallOutcome
        self.runs.append((steps, fresh))
        if steps == "batch":
            return self.batch
        return CallOutcome("ok", method=steps, shared=False)


def test_a_batch_whose_values_all_pass_is_used():
    from autograder.sandbox import CallOutcome
    from autograder.sandbox.escalation import decide_together
    items = [CallOutcome("ok", method="a"), CallOutcome("ok", method="b")]
    box = FakeSandbox(CallOutcome("ok", items=items, shared=True))
    decided = decide_together(box, ("batch", {}), [lambda o: (True,)] * 2, call_timeout=1.0)
    assert box.runs == [("batch", False)] and decided is not None
    assert [o for o, _ in decided] == items and all(o.shared for o, _ in decided)


@pytest.mark.parametrize("batch", ["a value fails", "timeout", "printed", "too few values"])
def test_a_batch_without_a_clean_passing_answer_is_not_used(batch):
    """A failure, a hang, a crash, an exception ... or output (a test's output is its own): the caller then
    decides each check on its own (grade: in fixture order, as without batches)."""
    from autograder.sandbox import CallOutcome
    from autograder.sandbox.escalation import decide_together
    items = [CallOutcome("ok", method="a"), CallOutcome("ok", method="b")]
    answer = {"a value fails": CallOutcome("ok", items=items), "timeout": CallOutcome("timeout"),
              "printed": CallOutcome("ok", items=items, output="hi"),
              "too few values": CallOutcome("ok", items=items[:1])}[batch]
    box = FakeSandbox(answer)
    judges = [lambda o: (True,), lambda o: (batch != "a value fails",)]
    assert decide_together(box, ("batch", {}), judges, call_timeout=1.0) is None
    assert box.runs == [("batch", False)]


@pytest.mark.parametrize("submission, fixtures", [
    ("tests/submissions/demo", "test_cases"),  # fails the stability cases, and warns
    ("tests/submissions/debug_prints.py", "test_cases"),  # prints in every call
    ("tests/submissions/read_only_a.py", "test_cases"),  # a note on every backward
    ("examples/hw1p1/student_template", "examples/hw1p1/test_cases"),  # raises everywhere
    ("examples/hw1p1/reference", "examples/hw1p1/test_cases"),  # each run sends the next ahead
])
def test_grading_with_runs_of_several_checks_gives_what_grading_check_by_check_gives(submission, fixtures,
                                                                                     monkeypatch):
    from autograder import grade
    from autograder.results import to_gradescope

    def document() -> dict:
        doc = to_gradescope(grade.grade_submission(PROJECT_ROOT / submission, fixtures=PROJECT_ROOT / fixtures))
        doc.pop("execution_time", None)
        for test in doc["tests"]:
            test.pop("execution_time", None)
            if not test["max_score"]:  # an efficiency note quotes timings
                test["output"] = re.sub(r"[\d.]+", "#", test["output"])
        return doc

    together_ = document()
    with monkeypatch.context() as patch:
        patch.setattr(grade, "Ahead", lambda *args, **kwargs: None)  # no run sent ahead of its turn
        assert together_ == document()
    monkeypatch.setattr(grade, "MAX_TOGETHER", 1)  # every check on its own
    assert together_ == document()


def test_no_run_is_sent_ahead_across_visible_and_hidden_cases(monkeypatch):
    """A hidden case's inputs never reach a worker before every visible check ran (grade.run_order): a run is
    sent ahead only of another of the same visibility."""
    from autograder import grade
    from autograder.sandbox.base import SandboxBase

    loaded, runs = [], []
    real_load, real_run = grade.load_cases, SandboxBase.run
    monkeypatch.setattr(grade, "load_cases", lambda *a, **k: loaded.extend(real_load(*a, **k)) or loaded)
    monkeypatch.setattr(SandboxBase, "run", lambda self, steps, inputs, **k: runs.append((inputs, k.get("then")))
                        or real_run(self, steps, inputs, **k))
    grade.grade_submission(PROJECT_ROOT / "examples" / "hw1p1" / "reference", fixtures=HW1P1)
    hidden = {id(array) for case in loaded if case.hidden for array in case.inputs.values()}

    def of_hidden(inputs: dict) -> bool:
        return any(id(array) in hidden for array in inputs.values())

    sent = [(inputs, then) for inputs, then in runs if then is not None]
    assert {of_hidden(inputs) for inputs, _ in sent} == {False, True}  # both kinds send runs ahead
    assert all(of_hidden(inputs) == of_hidden(then.inputs) for inputs, then in sent)
    assert [of_hidden(inputs) for inputs, _ in runs] == sorted(of_hidden(inputs) for inputs, _ in runs)


class Other(Layer):
    def forward(self, Z):
        return Z + 1.0


def test_parts_of_a_batch_run_each_on_its_own_instance_of_its_own_class():
    steps = [{"op": "part", "class_name": "Layer"}, {"op": "call", "method": "forward", "args": ["0.Z"], "grades": [{}]},
             {"op": "part", "class_name": "Other"}, {"op": "call", "method": "forward", "args": ["1.Z"], "grades": [{}]},
             {"op": "part", "class_name": "Layer"}, {"op": "call", "method": "forward", "args": ["2.Z"]},
             {"op": "call", "method": "backward", "args": ["2.dLdA"], "grades": [{"value": "count"}]}]
    inputs = {"0.Z": np.ones(2), "1.Z": np.ones(2), "2.Z": np.ones(2), "2.dLdA": np.ones(2)}  # a fresh count: 1
    classes = {"Layer": Layer, "Other": Other}.get
    outcome = _parse_result(*run_steps(Layer, steps, inputs, "/nonexistent", classes=classes))
    assert outcome.kind == "ok" and [list(item.array.ravel()) for item in outcome.items] == [[2.0, 2.0], [2.0, 2.0], [1]]
    missing = _parse_result(*run_steps(Layer, steps, inputs, "/nonexistent", classes={"Layer": Layer}.get))
    assert missing.kind == "error" and missing.items is None  # a class the module lacks: each check alone


def test_hw1p1_is_graded_in_few_runs_none_mixing_visible_and_hidden():
    from autograder.grade import runs_of
    cases = load_cases(HW1P1, graded_only=True)
    blocks = runs_of(cases, {i: list(c.checks) for i, c in enumerate(cases)}, lambda c: ("", c.problem.file))
    runs = [run for _, runs in blocks for run in runs]
    assert sorted((i, id(c)) for run in runs for i, g in run for c in g) == \
        sorted((i, id(c)) for i, case in enumerate(cases) for c in case.checks)
    assert len(runs) <= 20
    seen_hidden = False
    for run in runs:
        kinds = {cases[i].hidden for i, _ in run}
        assert len(kinds) == 1 and len({cases[i].problem.file for i, _ in run}) == 1
        assert len({i for i, _ in run}) == len(run)  # one group of a case per run
        seen_hidden = seen_hidden or kinds == {True}
        assert not (seen_hidden and kinds == {False}), "a visible run after a hidden one"


def test_a_batch_nested_in_a_batch_answer_is_not_followed():
    """A worker's reply is data: an item that claims to be a batch itself is read as one answer, no deeper."""
    header, arrays = run_steps(Layer, STEPS, INPUTS, "/nonexistent")
    nested: dict = {"event": "result", "ok": True, "batch": []}
    for _ in range(5000):
        nested = {"ok": True, "batch": [nested]}
    header["batch"][0]["batch"] = nested["batch"]
    outcome = _parse_result(header, arrays)
    assert outcome.kind == "ok" and len(outcome.items) == 4 and outcome.items[0].items is None
