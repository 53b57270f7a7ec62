"""Trust under attack, end to end through run_autograder: unsafe text, hidden tests' numbers, honest answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from autograder.grade import explain, hidden_output
from autograder.sandbox import CallOutcome, protocol
from autograder.text import unsafe
from helpers import SOFTMAX, SUBMISSIONS, by_name, grade_file, problem_cases, problem_points
from test_feedback import FIRST_ROW_INNER

HOSTILE = SUBMISSIONS / "hostile"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_unsafe_text_never_reaches_results_json(tmp_path: Path) -> None:
    results = grade_file(tmp_path, HOSTILE / "unsafe_text.py")  # asserts run_autograder exited 0
    raw = (tmp_path / "autograder" / "results" / "results.json").read_bytes()
    raw.decode("utf-8")
    assert b"\\ud800" not in raw.lower()  # no escaped lone surrogate either
    for text in _strings(results):
        assert not unsafe(text), repr(text)
        assert "\x9b" not in text and "\u202e" not in text and "\ud800" not in text
    tests = by_name(results)
    first = tests["writeup_example: forward (A)"]
    assert first["status"] == "failed" and results["score"] == 0
    # the run went on and said what happened, with the unsafe characters visibly replaced
    assert "Sneaky\ufffdError\ufffd: bad input \ufffd2J \ufffdevil" in first["output"]
    assert "forward says" in first["output"]
    assert all(t["status"] == "failed" for t in results["tests"] if t["max_score"] > 0)


def test_hidden_tests_show_no_printed_secret_and_no_number(tmp_path: Path) -> None:
    results = grade_file(tmp_path, HOSTILE / "leaks_through_hidden_text.py")
    visible = [t for t in results["tests"] if t["visibility"] == "visible" and t["max_score"] > 0]
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    assert hidden and visible
    # visible tests show what it printed and raised, numbers and all (so the check below can fail) ...
    assert all("SECRET-TOKEN" in t["output"] and re.search(r"leak \d+|Leak\d+Error: \d+", t["output"])
               for t in visible)
    assert any(re.search(r"line \d{3,}, in <module>", t["output"]) for t in visible)  # its chosen line number
    for test in hidden:
        output = test["output"]
        assert test["status"] == "failed"
        assert "SECRET" not in output, output
        # no number the student printed, raised or chose (the grader's own references to another test aside:
        # "Same error as test 1.1 ...", or the visible test that shows the same exception's message)
        assert not re.search(r"\d", re.sub(r"^Same \w+ as test \d+\.\d+ |visible test \d+\.\d+ ", "", output)), output
        assert "printed output during this hidden test" in output and "raised" in output


def _case(hidden: bool):  # noqa: ANN202 - a fixtures.Case
    return next(c for c in problem_cases(SOFTMAX) if c.hidden == hidden)


@pytest.mark.parametrize("outcome", [
    CallOutcome("ok", phase="call", method="forward", returned={"kind": "other", "type": "List2718", "shape": [31415],
                                                                "repr": "[1618, 1414]"}, notes=["forward() raised E577"]),
    CallOutcome("ok", phase="call", method="forward", returned={"kind": "ndarray", "type": "ndarray", "shape": [3],
                                                                "dtype": "<f1618", "dtype_name": "float1618",
                                                                "sendable": False}),
    CallOutcome("too_large", phase="call", method="forward", detail="forward returned an array of shape (31415,) and "
                                                                    "dtype float64 (2718 MB): far larger ..."),
    CallOutcome("crashed", phase="call", detail="the process running your code ended during the call: it exited "
                                                "with status 31"),
], ids=["other", "dtype", "too_large", "exit_status"])
def test_hidden_messages_quote_no_number_the_worker_chose(outcome: CallOutcome) -> None:
    """What a worker describes can be forged by the student's code in it: a hidden test quotes no digit of it."""
    for hidden in (True, False):
        case = _case(hidden)
        check = case.checks[0]
        passed, message, _ = explain(outcome, check, case)
        assert not passed and message
        chosen = re.findall(r"2718|31415|1618|1414|577|status 31", message)
        assert (not chosen) if hidden else chosen, message


def test_hidden_output_says_only_that_something_was_printed() -> None:
    assert hidden_output("") == "" and hidden_output(" \n") == ""
    said = hidden_output("the secret is 42\n" * 1000)
    assert "printed output" in said and "secret" not in said and not re.search(r"\d", said)


# -- honest answers in any form -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["big_endian.py", "read_only_a.py"])
def test_a_right_answer_in_an_unusual_form_gets_full_marks(tmp_path: Path, name: str) -> None:
    results = grade_file(tmp_path, SUBMISSIONS / name)
    assert results["score"] == problem_points(SOFTMAX), [t["output"] for t in results["tests"] if t["status"] == "failed"]
    assert all(t["status"] == "passed" for t in results["tests"])


def test_a_read_only_a_is_noted_when_backward_is_wrong(tmp_path: Path) -> None:
    """The grader could not put the reference A in self.A: a failed backward says so (and nothing crashed)."""
    source = (SUBMISSIONS / "read_only_a.py").read_text()
    wrong = tmp_path / "activation.py"
    wrong.write_text(source.replace("return self.A * (dLdA - inner)", "return 2 * self.A * (dLdA - inner)"))
    results = grade_file(tmp_path, wrong)
    for test in results["tests"]:
        if test["max_score"] == 0:
            continue
        if "forward" in test["name"]:
            assert test["status"] == "passed", test["output"]
        else:
            assert test["status"] == "failed" and "outside the tolerance" in test["output"], test["output"]
            # the note is the worker's words (forgeable by student code): visible tests only
            noted = "self.A could not be set (AttributeError: a read-only property?)" in test["output"]
            assert noted == (test["visibility"] == "visible"), test["output"]
            assert "could not send" not in test["output"] and "Traceback" not in test["output"]


def test_forty_dimensions_get_an_honest_shape_message(tmp_path: Path) -> None:
    results = grade_file(tmp_path, SUBMISSIONS / "forty_dimensions.py")
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    assert results["score"] == 0 and all(t["status"] == "failed" for t in graded)
    extra = 38 if int(np.__version__.split(".")[0]) >= 2 else 30  # as the submission: NumPy 1.x allows 32 at most
    for test in graded:
        output = test["output"]
        if test["visibility"] != "visible":  # no shape is quoted there (neither is the student's choice of one)
            own = re.sub(r"^Same \w+ as test \d+\.\d+ ", "", output)  # the grader's reference to another test aside
            assert "the array's shape is not the expected one" in own and not re.search(r"\d", own), output
            continue
        shape = re.search(rf"expected shape \((\d+), (\d+)\), got a {extra + 2}-dimensional array of shape "
                          r"\(([\d, ]+)\)\.", output)
        assert shape, output
        n, c = shape.group(1), shape.group(2)
        assert shape.group(3) == ", ".join(["1"] * extra + [n, c])
        assert "file descriptor" not in output and "squeezed away" not in output
        assert "The values are right; only the shape is wrong." in output


def test_the_wire_takes_every_array_numpy_can_make() -> None:
    most = 64 if np.__version__ >= "2" else 32
    for shape in [(1,) * most, (2,) + (1,) * (most - 2) + (3,)]:
        for dtype in ("<f8", ">f8", ">i4", ">c16"):
            array = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
            reader = protocol.Reader(max_array_bytes=1 << 20)
            assert reader.feed(protocol.pack({}, {"a": array}))
            got = reader.arrays["a"]
            assert got.shape == shape and got.dtype.isnative and np.array_equal(got, array)
    forged = {"arrays": {"a": {"dtype": "<f8", "shape": [1] * (protocol.MAX_DIMS + 1), "nbytes": 8,
                               "sendable": True}}}
    with pytest.raises(protocol.ProtocolError, match="impossible shape"):
        protocol.Reader(max_array_bytes=1 << 20).feed(protocol.MAGIC + len(json.dumps(forged)).to_bytes(4, "big")
                                                      + json.dumps(forged).encode())


# A submission can make what it does in a hidden test depend on the hidden inputs (here: their shape). What
# the hidden tests did must then never change what a visible test says (grade.review_feedback).
_RIGHT_ON_HIDDEN_BATCH = '''
    def backward(self, dLdA):
        if dLdA.shape == {shape}:  # the hidden batch: answered right, so that it rules the mistake out
            return self.A * dLdA - self.A * np.sum(self.A * dLdA, axis=1, keepdims=True)
        return self._wrong_backward(dLdA)
'''


def _right_on_the_hidden_batch(tmp_path: Path, mistake: str) -> Path:
    hidden = next(case for case in problem_cases(SOFTMAX) if case.hidden and case.inputs["Z"].shape[0] > 1)
    # FIRST_ROW_INNER is not in the catalogue (so no "Looks like" line): right for N = 1, only row 0 of a batch
    text = FIRST_ROW_INNER if mistake == "first_row_inner.py" else (SUBMISSIONS / "mistakes" / mistake).read_text()
    source = text.replace("def backward(", "def _wrong_backward(")
    path = tmp_path / mistake
    path.write_text(source + _RIGHT_ON_HIDDEN_BATCH.format(shape=hidden.inputs["Z"].shape))
    return path


def test_a_hidden_test_never_withdraws_a_visible_tests_hint(tmp_path: Path) -> None:
    from autograder.feedback import feedback_path, load_feedback
    from helpers import FIXTURES

    diagonal = load_feedback(feedback_path(FIXTURES, SOFTMAX)).by_name["diagonal_only"].hint
    results = grade_file(tmp_path, _right_on_the_hidden_batch(tmp_path, "diagonal_only.py"))
    tests = by_name(results)
    visible = [t for name, t in tests.items() if name.endswith("backward (dLdZ)") and t.get("visibility") == "visible"
               and t["score"] == 0]
    hidden = [t for name, t in tests.items() if "backward" in name and t.get("visibility") != "visible"]
    assert any(t["score"] > 0 for t in hidden), "the hidden batch was answered right"
    assert visible and all(diagonal in t["output"] for t in visible), [t["output"] for t in visible]


def test_a_hidden_test_never_takes_the_single_sample_note_off_a_visible_test(tmp_path: Path) -> None:
    from autograder.diagnose import single_sample_note

    results = grade_file(tmp_path, _right_on_the_hidden_batch(tmp_path, "first_row_inner.py"))
    tests = by_name(results)
    batches = {case.name: case.inputs["Z"].shape[0] for case in problem_cases(SOFTMAX) if case.inputs["Z"].shape[0] > 1}
    failed = [(name, t) for name, t in tests.items() if name.endswith("backward (dLdZ)") and t["score"] == 0
              and t.get("visibility") == "visible" and name.split(":")[0] in batches]
    assert any(t["score"] > 0 for t in tests.values() if t.get("visibility") != "visible" and "backward" in t["name"])
    assert failed and all(single_sample_note("backward", batches[name.split(":")[0]]) in t["output"]
                          for name, t in failed), [t["output"] for _, t in failed]
