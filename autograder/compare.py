"""Compare what a student's call returned with the fixture, in the order that explains most.

None, then type, then dtype, then shape, then NaN/inf, then values: each
failure gets its own message with the numbers and where they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fixtures import Tolerance

SIDE_BY_SIDE_MAX_COLUMNS = 12


@dataclass
class Verdict:
    """The result of one comparison; ``kind`` names the first thing that was wrong."""

    passed: bool
    kind: str  # ok | none | type | dtype | shape | nonfinite | values
    lines: list[str] = field(default_factory=list)
    bad_rows: list[int] = field(default_factory=list)
    returned_type: str = ""  # the Python type the method returned, e.g. "list"
    hint: str = ""  # what a wrong shape usually means; diagnose.py shows it unless it names the mistake itself

    @property
    def message(self) -> str:
        return "\n".join(self.lines)


def fmt(x: float) -> str:
    """A number short enough to read and precise enough to compare."""
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return str(float(x))
    return f"{x:.6g}" if 1e-4 <= abs(x) < 1e6 else f"{x:.4e}"


def fmt_coarse(x: float) -> str:
    """Two significant digits: an error's size without the digits that would let one rebuild hidden values."""
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return str(float(x))
    return f"{x:.2g}"


def fmt_row(row: np.ndarray) -> str:
    """A row of numbers, shortened in the middle when long."""
    items = [fmt(float(v)) for v in row]
    if len(items) > SIDE_BY_SIDE_MAX_COLUMNS:
        items = items[:6] + ["..."] + items[-5:]
    return "[" + ", ".join(items) + "]"


def within(actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Elementwise closeness mask (same rule as numpy.isclose, written out so it is stated once)."""
    return np.abs(actual - expected) <= tol.atol + tol.rtol * np.abs(expected)


def compare(returned: dict[str, Any], actual: np.ndarray | None, expected: np.ndarray, tol: Tolerance,
            *, what: str, show_values: bool) -> Verdict:
    """Check one returned value against the expected array.

    `what` names the output for messages (e.g. "forward's output A");
    `show_values` is False for cases whose data students must not see.
    """
    kind = returned.get("kind")
    # a test that is not visible shows no shape: the expected one is its data, the returned one the student's choice
    expected_shape = f" of shape {expected.shape}" if show_values else ""
    wanted = "a number" if expected.ndim == 0 else f"an array{expected_shape}"
    if kind == "none":
        return Verdict(False, "none", [f"{what}: your method returned None instead of {wanted}."])
    type_name = str(returned.get("type", "?"))
    if expected.ndim == 0 and (kind != "ndarray" or type_name != "ndarray"):
        return Verdict(False, "type", [f"{what}: expected a number (a float, a NumPy scalar or an array holding "
                                       f"one value), but got a {type_name}."], returned_type=type_name)
    if kind != "ndarray" or type_name != "ndarray":
        shape = returned.get("shape")
        extra = f" of shape {tuple(shape)}" if isinstance(shape, list) and shape and show_values else ""
        return Verdict(False, "type", [f"{what}: expected a numpy.ndarray{expected_shape}, "
                                       f"but your method returned a {type_name}{extra}."], returned_type=type_name)
    dtype_name = str(returned.get("dtype_name", "?"))
    if expected.dtype.kind in "iu":
        return _compare_whole(actual, expected, what=what, dtype_name=dtype_name, show_values=show_values)
    if actual is None or actual.dtype.kind != "f" or actual.dtype.itemsize < 4:
        hint = {
            "i": " Integer arrays cannot hold probabilities: did you create the output with np.zeros(..., dtype=int) or use integer inputs?",
            "u": " Integer arrays cannot hold probabilities.",
            "b": " This is a boolean array: did you return a comparison instead of values?",
            "c": " Complex numbers appeared: check for a square root or log of negative numbers.",
        }.get(actual.dtype.kind if actual is not None else "", "")
        if actual is not None and actual.dtype.kind == "f":
            hint = " float16 is too imprecise to grade; use float64 (NumPy's default) or float32."
        return Verdict(False, "dtype", [f"{what}: expected floating-point values (float64 or float32), got dtype {dtype_name}.{hint}"])
    if actual.shape != expected.shape:
        return _wrong_shape(actual, expected, what=what, show_values=show_values)
    actual64 = actual.astype(np.float64)
    finite = np.isfinite(actual64)
    if not finite.all() and actual64.ndim == 0:
        return Verdict(False, "nonfinite", [f"{what}: the value is {float(actual64)}, not a finite number."])
    if not finite.all():
        bad = np.argwhere(~finite)
        r, c = (int(i) for i in (*bad[0], 0)[:2])
        nan_count, inf_count = int(np.isnan(actual64).sum()), int(np.isinf(actual64).sum())
        parts = []
        if nan_count:
            parts.append(f"{nan_count} NaN")
        if inf_count:
            parts.append(f"{inf_count} inf")
        rows = sorted({int(i) for i in bad[:, 0]})
        return Verdict(False, "nonfinite", [
            f"{what}: {' and '.join(parts)} value(s) out of {actual64.size}, first at row {r}, column {c}"
            f" (rows {_list_rows(rows)} affected)."], bad_rows=rows)
    ok = within(actual64, expected, tol)
    if ok.all():
        return Verdict(True, "ok")
    size = fmt if show_values else fmt_coarse
    diff = np.abs(actual64 - expected)
    where_abs = np.unravel_index(int(np.argmax(diff)), diff.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(expected != 0, diff / np.abs(expected), np.inf)
    rel_masked = np.where(ok, 0.0, rel)
    where_rel = np.unravel_index(int(np.argmax(rel_masked)), rel.shape)
    bad_rows = sorted({int(i) for i in np.argwhere(~ok)[:, 0]}) if actual64.ndim >= 2 else [0]
    lines = [
        f"{what}: {int((~ok).sum())} of {ok.size} values are outside the tolerance (rtol={tol.rtol:g}, atol={tol.atol:g}).",
        f"  largest absolute error {size(float(diff[where_abs]))} at {_pos(where_abs)}; "
        f"largest relative error {size(float(rel_masked[where_rel]))} at {_pos(where_rel)}.",
    ]
    if actual64.ndim == 2 and actual64.shape[0] > 1:
        lines.append(f"  rows with wrong values: {_list_rows(bad_rows)} of {actual64.shape[0]}.")
    if show_values and actual64.ndim == 0:
        lines.append(f"  expected: {fmt(float(expected))}")
        lines.append(f"  yours:    {fmt(float(actual64))}")
    elif show_values:
        r = int(where_abs[0]) if actual64.ndim == 2 else None
        exp_row = expected[r] if r is not None else expected
        act_row = actual64[r] if r is not None else actual64
        label = f"row {r}" if r is not None else "values"
        lines.append(f"  {label} expected: {fmt_row(exp_row)}")
        lines.append(f"  {label} yours:    {fmt_row(act_row)}")
    return Verdict(False, "values", lines, bad_rows=bad_rows)


def _wrong_shape(actual: np.ndarray, expected: np.ndarray, *, what: str, show_values: bool) -> Verdict:
    # many dimensions are easy to miscount in a long tuple: say how many
    got = f"a {actual.ndim}-dimensional array of shape {actual.shape}" if actual.ndim > 3 else f"{actual.shape}"
    line = (f"{what}: expected shape {expected.shape}, got {got}." if show_values else
            f"{what}: the array's shape is not the expected one (the shapes of a test that is not visible are "
            "not shown).")
    return Verdict(False, "shape", [line], hint=_shape_hint(actual.shape, expected.shape))


def _compare_whole(actual: np.ndarray | None, expected: np.ndarray, *, what: str, dtype_name: str,
                   show_values: bool) -> Verdict:
    """Whole numbers (labels, an argmax) are compared exactly: dtype, then shape, then each value.

    Any integer dtype is right, and so are floats holding exactly those whole numbers (code in another style);
    no tolerance applies: a label is right or wrong.
    """
    if actual is None or actual.dtype.kind not in "iuf":
        hint = " This is a boolean array: did you return a comparison instead of the labels?" \
            if actual is not None and actual.dtype.kind == "b" else ""
        return Verdict(False, "dtype", [f"{what}: expected whole numbers (an integer array, such as np.argmax "
                                        f"gives), got dtype {dtype_name}.{hint}"])
    if actual.shape != expected.shape:
        return _wrong_shape(actual, expected, what=what, show_values=show_values)
    with np.errstate(invalid="ignore"):
        wrong = ~(actual == expected)  # NaN is never equal; int64 against a float compares the values exactly
    if not wrong.any():
        return Verdict(True, "ok")
    first = np.unravel_index(int(np.argmax(wrong)), wrong.shape)
    bad_rows = sorted({int(i) for i in np.argwhere(wrong)[:, 0]}) if wrong.ndim else [0]
    lines = [f"{what}: {int(wrong.sum())} of {wrong.size} whole numbers differ from the expected ones (they are "
             f"compared exactly, with no tolerance); the first at {_pos(first)}."]
    if show_values and expected.ndim == 0:
        lines += [f"  expected: {int(expected)}", f"  yours:    {_whole(actual)}"]
    elif show_values:
        r = int(first[0]) if expected.ndim == 2 else None
        label = f"row {r}" if r is not None else "values"
        lines += [f"  {label} expected: {_whole_row(expected if r is None else expected[r])}",
                  f"  {label} yours:    {_whole_row(actual if r is None else actual[r])}"]
    return Verdict(False, "values", lines, bad_rows=bad_rows)


def _whole(x: Any) -> str:
    """A student's number as a whole number when it is one, else as it is."""
    x = float(x)
    return str(int(x)) if np.isfinite(x) and x == int(x) else fmt(x)


def _whole_row(row: np.ndarray) -> str:
    items = [_whole(v) for v in np.ravel(row)]
    if len(items) > SIDE_BY_SIDE_MAX_COLUMNS:
        items = items[:6] + ["..."] + items[-5:]
    return "[" + ", ".join(items) + "]"


def _pos(index: tuple) -> str:
    idx = tuple(int(i) for i in index)
    if not idx:
        return "the number"
    if len(idx) == 2:
        return f"row {idx[0]}, column {idx[1]}"
    if len(idx) == 1:
        return f"index {idx[0]}"
    return f"index {idx}"


def _list_rows(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", ... ({len(rows)} rows)" if len(rows) > limit else "")


def _shape_hint(got: tuple, want: tuple) -> str:
    """What a wrong shape usually means for an (N, C) output of one sample per row (a problem's own meanings of
    shapes come first: feedback.shapes, see diagnose.py)."""
    if len(want) != 2:
        return ""
    n, c = want
    if len(got) == 0:
        return "That is a single number: a sum or maximum over the whole array instead of one value per entry?"
    if got == (c,) or got == (n * c,):
        return ("Your output lost its batch dimension: keep 2-D arrays (use keepdims=True in sums, and avoid "
                ".squeeze() / .flatten() / reshape(-1)).")
    if got == (n * c, n * c) or got == (1, n * c):
        return "That shape comes from treating the flattened batch (N*C values) as one sample: work row by row."
    if got == (c, n):
        return "(C, N) is the transposed shape: rows are samples, columns are classes."
    if got in ((n,), (n, 1)):
        return "That is one number per row: a sum or maximum over axis=1 without the rest of the computation?"
    if got in ((1, c),):
        return "That is one number per column: a sum or maximum over axis=0 (the batch) instead of axis=1?"
    return ""
