"""Fixture files: they read back bit for bit, agree with independent.py, and bad ones are refused clearly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder import independent
from autograder.errors import FixtureError
from autograder.config import load_assignment
from autograder.fixtures import Case, Check, Tolerance, dump_case, fixture_filename, load_case, load_cases
from autograder.generate import steps_for
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import SOFTMAX, problem_cases

SOFTMAX_FILES = [case.path for case in problem_cases(SOFTMAX)]  # checked against independent.py's softmax
FIXTURE_FILES = sorted(DEFAULT_FIXTURES.glob("*.yaml"))
INDEPENDENT_TOLERANCE = 1e-12
PROBLEM = load_assignment(DEFAULT_CONFIG).problems["softmax"]
FORWARD, BACKWARD = steps_for(PROBLEM, "forward"), steps_for(PROBLEM, "backward")


def bits(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype=np.float64).tobytes()


def test_there_are_fixtures():
    assert len(FIXTURE_FILES) >= 10
    cases = load_cases(DEFAULT_FIXTURES)
    assert [c.number for c in cases] == list(range(1, len(cases) + 1))
    assert [fixture_filename(c) for c in cases] == [p.name for p in FIXTURE_FILES]


# -- round trip -----------------------------------------------------------------

@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_file_is_exactly_what_dump_writes_for_it(path):
    """Reading a file and writing it again gives the same text, so every float in it reads back exactly."""
    assert dump_case(load_case(path)) == path.read_text(encoding="utf-8")


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    array = hnp.arrays(np.float64, (n, c), elements=finite_floats)
    return Case(
        name="round_trip", description=draw(st.text(max_size=20)), number=draw(st.integers(1, 99)),
        visibility=draw(st.sampled_from(["visible", "hidden", "after_due_date", "after_published"])),
        tags=tuple(draw(st.lists(st.sampled_from(["stability", "writeup", "x"]), max_size=2))),
        tolerance=Tolerance(rtol=draw(st.floats(0, 1)), atol=draw(st.floats(0, 1))),
        checks=(Check("forward", "A", draw(st.floats(0, 10)), FORWARD), Check("backward", "dLdZ", 2.5, BACKWARD)),
        inputs={"Z": draw(array), "dLdA": draw(array)},
        expected={"A": draw(array), "dLdZ": draw(array), "J": draw(hnp.arrays(np.float64, (n, c, c), elements=finite_floats))},
    )


@settings(max_examples=150, deadline=None)
@given(case=cases())
def test_any_case_round_trips_bit_for_bit(case, tmp_path_factory):
    path = tmp_path_factory.mktemp("round_trip") / fixture_filename(case)
    path.write_text(dump_case(case), encoding="utf-8")
    back = load_case(path)
    for group in ("inputs", "expected"):
        original, read = getattr(case, group), getattr(back, group)
        assert set(read) == set(original)
        for key in original:
            assert read[key].shape == original[key].shape
            assert bits(read[key]) == bits(original[key]), f"{group}.{key} changed on the way through the file"
    assert back.tolerance == case.tolerance and back.checks == case.checks
    assert back.problem == case.problem and back.limits == case.limits
    assert (back.name, back.number, back.visibility, back.tags, back.description) == \
        (case.name, case.number, case.visibility, case.tags, case.description)


def test_extreme_floats_round_trip(tmp_path):
    values = np.array([[5e-324, -2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3, -0.0]])
    case = Case(name="extremes", description="", number=1, visibility="visible", tags=(),
                tolerance=Tolerance(1e-5, 1e-8), checks=(Check("forward", "A", 1.0, FORWARD),),
                inputs={"Z": values}, expected={"A": values})
    path = tmp_path / "01_extremes.yaml"
    path.write_text(dump_case(case), encoding="utf-8")
    assert bits(load_case(path).expected["A"]) == bits(values)


# -- agreement with the independent implementation -------------------------------------

@pytest.mark.parametrize("path", SOFTMAX_FILES, ids=lambda p: p.stem)
def test_fixture_agrees_with_independent_implementation(path):
    case = load_case(path)
    Z, dLdA = case.inputs["Z"], case.inputs["dLdA"]
    A, dLdZ = case.expected["A"], case.expected["dLdZ"]
    assert Z.shape == dLdA.shape == A.shape == dLdZ.shape and Z.ndim == 2
    assert np.isfinite(Z).all() and np.isfinite(dLdA).all()
    np.testing.assert_allclose(A, independent.softmax(Z.tolist()), rtol=0, atol=INDEPENDENT_TOLERANCE)
    np.testing.assert_allclose(dLdZ, independent.backward(A.tolist(), dLdA.tolist()), rtol=0, atol=INDEPENDENT_TOLERANCE)
    if "J" in case.expected:
        J = case.expected["J"]
        assert J.shape == (Z.shape[0], Z.shape[1], Z.shape[1])
        np.testing.assert_allclose(J, [independent.jacobian_row(row) for row in A.tolist()], rtol=0, atol=INDEPENDENT_TOLERANCE)
        np.testing.assert_allclose(np.einsum("nm,nmk->nk", dLdA, J), dLdZ, rtol=0, atol=INDEPENDENT_TOLERANCE)
    for row in A.tolist():
        assert math.isclose(math.fsum(row), 1.0, abs_tol=1e-12)


def test_writeup_fixture_holds_the_writeups_numbers():
    case = next(c for c in load_cases(DEFAULT_FIXTURES) if c.name == "writeup_example")
    np.testing.assert_allclose(case.expected["A"], [[0.1, 0.2, 0.7]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(case.inputs["dLdA"], [[0.01, -0.03, 0.02]], rtol=0, atol=0)
    np.testing.assert_allclose(case.expected["dLdZ"], [[0.0001, -0.0078, 0.0077]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(case.expected["J"][0], [[0.09, -0.02, -0.07], [-0.02, 0.16, -0.14], [-0.07, -0.14, 0.21]],
                               rtol=0, atol=1e-12)


def test_stability_fixtures_really_need_the_max_subtraction():
    stability = [c for c in load_cases(DEFAULT_FIXTURES) if "stability" in c.tags]
    assert stability
    for case in stability:
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(case.inputs["Z"])
            naive = e / e.sum(axis=1, keepdims=True)
        assert not np.isfinite(naive).all(), f"{case.name}: naive softmax does not break, so the case tests nothing"
        assert np.abs(case.inputs["Z"]).max() >= 500


# -- malformed fixtures are refused, naming the file and the key --------------------------

BASE = FIXTURE_FILES[2]  # a small ordinary case


def _del(key):
    def apply(doc):
        del doc[key]
    return apply


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def apply(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return apply


MALFORMED = [
    ("missing_name", _del("name"), "'name'"),
    ("missing_inputs", _del("inputs"), "'inputs'"),
    ("missing_expected", _del("expected"), "'expected'"),
    ("missing_checks", _del("checks"), "'checks'"),
    ("missing_tags", _del("tags"), "'tags'"),
    ("missing_number", _del("number"), "'number'"),
    ("number_is_text", _set("number", "three"), "'number'"),
    ("name_is_a_list", _set("name", ["a"]), "'name'"),
    ("bad_visibility", _set("visibility", "secret"), "visibility"),
    ("tolerance_without_atol", _set("tolerance", {"rtol": 1e-5}), "tolerance"),
    ("negative_tolerance", _set("tolerance", "rtol", -1.0), "tolerance"),
    ("ragged_input", _set("inputs", "Z", [[1.0, 2.0], [3.0]]), "inputs.Z"),
    ("text_in_input", _set("inputs", "dLdA", [["a", "b", "c"]]), "inputs.dLdA"),
    ("empty_expected_array", _set("expected", "A", []), "expected.A"),
    ("text_expected_number", _set("expected", "dLdZ", "three"), "expected.dLdZ"),  # a number is a loss's answer
    ("check_grades_missing_output", _set("checks", 0, "output", "B"), "checks[0]"),
    ("check_without_points", _set("checks", 1, {"method": "backward", "output": "dLdZ"}), "checks[1]"),
    ("no_checks", _set("checks", []), "'checks'"),
    ("nan_points", _set("checks", 0, "points", float("nan")), "checks[0]"),
    ("negative_points", _set("checks", 1, "points", -2.0), "checks[1]"),
    ("step_with_unknown_input", _set("checks", 0, "steps", 0, "args", ["X"]), "checks[0].steps[0]"),
    ("step_sets_the_graded_answer", _set("checks", 1, "steps", 1, "from", "dLdZ"), "checks[1].steps[1]"),
    ("last_step_is_not_the_graded_method", _set("checks", 0, "steps", 0, "call", "backward"), "checks[0]"),
    ("missing_problem", _del("problem"), "'problem'"),
    ("negative_limit", _set("limits", "budget", -1), "limits.budget"),
    ("nan_in_expected", _set("expected", "A", 0, 1, float("nan")), "expected.A"),
    ("inf_in_input", _set("inputs", "Z", 1, 0, float("inf")), "inputs.Z"),
]


@pytest.mark.parametrize("mutate, key", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_fixture_is_refused_naming_file_and_key(tmp_path, mutate, key):
    doc = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    mutate(doc)
    path = tmp_path / BASE.name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(FixtureError) as info:
        load_case(path)
    message = str(info.value)
    assert str(path) in message and key in message, message


@pytest.mark.parametrize("text, why", [
    ("name: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("", "must be a YAML mapping"),
])
def test_unreadable_fixture_is_refused_naming_file(tmp_path, text, why):
    path = tmp_path / "01_bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FixtureError, match=why) as info:
        load_case(path)
    assert str(path) in str(info.value)


def test_missing_or_empty_fixture_folder_is_an_error(tmp_path):
    with pytest.raises(FixtureError, match="fixture folder not found") as info:
        load_cases(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    with pytest.raises(FixtureError, match="no fixture files"):
        load_cases(tmp_path)


def test_two_fixtures_with_one_name_are_refused(tmp_path):
    text = BASE.read_text(encoding="utf-8")
    (tmp_path / "01_a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "02_b.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(FixtureError, match="also used by") as info:
        load_cases(tmp_path)
    assert "01_a.yaml" in str(info.value) and "02_b.yaml" in str(info.value)


def test_loaded_arrays_are_float64_with_the_right_shapes():
    for case in load_cases(DEFAULT_FIXTURES):
        for array in (*case.inputs.values(), *case.expected.values()):
            assert array.dtype == np.float64
        assert isinstance(case.path, Path)


def test_an_array_named_like_a_yaml_boolean_is_a_precise_error(tmp_path):
    """`on:` reads as True in YAML: the loader must say so, not crash while listing the names."""
    from autograder.errors import FixtureError
    from autograder.fixtures import load_case

    source = sorted((Path(__file__).resolve().parent.parent / "test_cases").glob("*.yaml"))[0]
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace("\n  Z:\n", "\n  on:\n", 1))
    with pytest.raises(FixtureError, match=r"inputs: array name True is not text"):
        load_case(broken)
