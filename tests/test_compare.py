"""Property tests of compare(): what passes, what fails, and which failure is reported first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autograder.compare import compare
from autograder.fixtures import Tolerance

TOL = Tolerance(rtol=1e-5, atol=1e-8)
FAST = settings(max_examples=60, deadline=None)

shapes = st.tuples(st.integers(1, 6), st.integers(2, 8))
values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)


def described(array: object) -> dict:
    """The description the worker sends for a returned value."""
    if array is None:
        return {"kind": "none", "type": "NoneType"}
    if isinstance(array, list):
        return {"kind": "other", "type": "list", "shape": list(np.shape(array))}
    assert isinstance(array, np.ndarray)
    return {"kind": "ndarray", "type": "ndarray", "dtype_name": array.dtype.name, "shape": list(array.shape)}


def run(actual: object, expected: np.ndarray, *, show_values: bool = True):
    array = actual if isinstance(actual, np.ndarray) else None
    return compare(described(actual), array, expected, TOL, what="forward (the returned A)", show_values=show_values)


@st.composite
def probabilities(draw) -> np.ndarray:
    """Softmax outputs of random logits: what the graded arrays look like."""
    z = draw(shapes.flatmap(lambda s: arrays(np.float64, s, elements=st.floats(-30, 30))))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@FAST
@given(shapes.flatmap(lambda s: arrays(np.float64, s, elements=values)))
def test_identical_arrays_pass(expected):
    verdict = run(expected.copy(), expected)
    assert verdict.passed and verdict.kind == "ok" and verdict.lines == []


@FAST
@given(st.one_of(probabilities(), shapes.flatmap(lambda s: arrays(np.float64, s, elements=values))))
def test_float32_rounded_arrays_pass(expected):
    verdict = run(expected.astype(np.float32), expected)
    assert verdict.passed, verdict.message


@FAST
@given(probabilities(), st.sampled_from([1e-3, -1e-3, 2e-3]))
def test_a_tenth_of_a_percent_relative_error_fails(expected, relative):
    verdict = run(expected * (1 + relative), expected)
    assert not verdict.passed and verdict.kind == "values"
    assert "rtol=1e-05, atol=1e-08" in verdict.message
    assert "largest absolute error" in verdict.message and "largest relative error" in verdict.message


@FAST
@given(probabilities(), st.data())
def test_values_message_says_where_and_how_many(expected, data):
    row = data.draw(st.integers(0, expected.shape[0] - 1))
    col = data.draw(st.integers(0, expected.shape[1] - 1))
    actual = expected.copy()
    actual[row, col] += 0.5
    verdict = run(actual, expected)
    assert not verdict.passed and verdict.bad_rows == [row]
    assert f"1 of {expected.size} values" in verdict.message
    assert f"at row {row}, column {col}" in verdict.message
    assert f"row {row} expected:" in verdict.message and f"row {row} yours:" in verdict.message


@FAST
@given(probabilities())
def test_hidden_values_are_not_shown(expected):
    actual = expected * 1.01
    verdict = run(actual, expected, show_values=False)
    assert not verdict.passed
    assert "expected:" not in verdict.message and "yours:" not in verdict.message


# The order of the checks: None, type, dtype, shape, NaN/inf, values.
ORDER = ("none", "type", "dtype", "shape", "nonfinite", "values")


def corrupt(expected: np.ndarray, faults: set[str]) -> object:
    """An answer with the given faults (all of them at once)."""
    if "none" in faults:
        return None
    actual = expected.copy() * (1.5 if "values" in faults else 1.0)
    if "nonfinite" in faults:
        actual[0, 0] = np.nan
    if "shape" in faults:
        actual = actual.reshape(-1)
    if "dtype" in faults:
        actual = (actual * 100).astype(np.int64) if "nonfinite" not in faults else actual.astype(np.float16)
    if "type" in faults:
        return actual.tolist()
    return actual


@FAST
@given(probabilities(), st.sets(st.sampled_from(ORDER), min_size=1))
def test_the_first_fault_in_order_is_reported(expected, faults):
    verdict = run(corrupt(expected, faults), expected)
    first = next(kind for kind in ORDER if kind in faults)
    assert not verdict.passed
    assert verdict.kind == first, (faults, verdict.message)


def test_messages_name_both_shapes_and_the_dtype():
    expected = np.full((2, 3), 1 / 3)
    assert "expected shape (2, 3), got (6,)" in run(expected.reshape(-1), expected).message
    assert "got dtype int64" in run(np.zeros((2, 3), dtype=np.int64), expected).message
    assert "returned None" in run(None, expected).message
    assert "returned a list of shape (2, 3)" in run(expected.tolist(), expected).message


def test_nan_message_says_where():
    expected = np.full((3, 4), 0.25)
    actual = expected.copy()
    actual[1, 2] = np.nan
    actual[2, 0] = np.inf
    verdict = run(actual, expected)
    assert verdict.kind == "nonfinite" and verdict.bad_rows == [1, 2]
    assert "1 NaN and 1 inf value(s) out of 12, first at row 1, column 2" in verdict.message
