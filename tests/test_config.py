"""The assignment config: the repository's config is sound, and every mistake in one is a clear ConfigError.

Problem definitions (problems.*) are covered by test_problems.py; this file is
about the rest: top level, defaults, limits and cases, plus a fuzz test that
no edit of the config can make `generate` fail with anything but a
one-line error, or write a fixture the grader would refuse.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autograder.config import Limits, load_assignment, load_limits, parse_assignment
from autograder.errors import AutograderError, ConfigError
from autograder.fixtures import dump_case, load_case
from autograder.generate import build_cases
from autograder.paths import DEFAULT_CONFIG

BASE: dict = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
PATH = Path("/configs/assignment.yaml")  # only used in messages


def edited(edit) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


# -- the repository's config ---------------------------------------------------------

def test_repository_config_is_valid_and_its_softmax_worth_100_points():
    assignment = load_assignment(DEFAULT_CONFIG)
    assert assignment.path == DEFAULT_CONFIG
    assert len(assignment.cases) == len(BASE["cases"])
    softmax = [case for case in assignment.cases if case.problem == "softmax"]  # the writeup's Softmax section
    assert len(softmax) >= 10 and sum(sum(case.points.values()) for case in softmax) == 100
    assert len({case.name for case in assignment.cases}) == len(assignment.cases)
    assert {case.visibility for case in softmax} == {"visible", "hidden"}
    assert any("stability" in case.tags for case in softmax)
    for case in softmax:
        assert set(case.inputs) == {"Z", "dLdA"} and set(case.points) == {"forward", "backward"}
        assert case.tolerance.rtol == 1e-5 and case.tolerance.atol == 1e-6


def test_limits_are_read_and_default_when_absent(tmp_path):
    assert load_limits(DEFAULT_CONFIG) == Limits(**BASE["limits"])
    assert load_limits(tmp_path / "missing.yaml") is None
    doc = edited(lambda d: d.pop("limits"))
    assert parse_assignment(doc, PATH).limits == Limits()


def test_seed_defaults_to_the_position_and_case_overrides_win():
    def edit(doc):
        doc["cases"][2]["seed"] = 1234
        doc["cases"][2]["tolerance"] = {"atol": 0.5}
        doc["cases"][2]["visibility"] = "after_due_date"
    cases = parse_assignment(edited(edit), PATH).cases
    assert [c.seed for c in cases[:2]] == [0, 1] and cases[2].seed == 1234
    assert (cases[2].tolerance.rtol, cases[2].tolerance.atol) == (1e-5, 0.5)  # rtol still from defaults
    assert cases[2].visibility == "after_due_date" and not cases[2].handout


# -- each mistake names the file and the key -------------------------------------------------

def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def _del(*keys):
    def edit(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return edit


MISTAKES = [
    ("unknown_top_level_key", _set("asignment", "x"), "asignment"),
    ("title_not_text", _set("assignment", 3), "assignment"),
    ("no_cases", _set("cases", []), "cases"),
    ("cases_not_a_list", _set("cases", {"a": 1}), "cases"),
    ("case_not_a_mapping", _set("cases", 0, "writeup_example"), "cases[0]"),
    ("case_without_name", _del("cases", 1, "name"), "cases[1].name"),
    ("case_name_with_space", _set("cases", 1, "name", "two words"), "cases[1].name"),
    ("duplicate_case_name", _set("cases", 2, "name", "single_sample"), "cases[2].name"),
    ("unknown_case_key", _set("cases", 1, "point", {"forward": 1}), "point"),
    ("shape_with_three_numbers", _set("cases", 1, "shape", [1, 2, 3]), "shape"),
    ("shape_with_zero", _set("cases", 1, "shape", [0, 5]), "shape"),
    ("shape_with_text", _set("cases", 1, "shape", ["1", 5]), "shape"),
    ("missing_input", _del("cases", 1, "inputs", "dLdA"), "inputs.dLdA"),
    ("unknown_input", _set("cases", 1, "inputs", "X", {"normal": {}}), "inputs.X"),
    ("two_input_kinds", _set("cases", 1, "inputs", "Z", {"normal": {}, "uniform": {}}), "inputs.Z"),
    ("no_input_kind", _set("cases", 1, "inputs", "Z", {"round": 3}), "inputs.Z"),
    ("unknown_distribution_parameter", _set("cases", 1, "inputs", "Z", {"normal": {"sigma": 2}}), "sigma"),
    ("distribution_parameter_text", _set("cases", 1, "inputs", "Z", {"normal": {"std": "two"}}), "std"),
    ("negative_std", _set("cases", 1, "inputs", "Z", {"normal": {"std": -1}}), "std"),
    ("uniform_upside_down", _set("cases", 1, "inputs", "Z", {"uniform": {"low": 5, "high": -5}}), "uniform"),
    ("values_not_a_list", _set("cases", 1, "inputs", "Z", {"values": 3}), "inputs.Z"),
    ("zero_step", _set("cases", 1, "inputs", "Z", {"normal": {}, "step": 0}), "step"),
    ("row_offset_text", _set("cases", 1, "inputs", "Z", {"normal": {}, "row_offsets": ["x"]}), "row_offsets[0]"),
    ("negative_seed", _set("cases", 1, "seed", -1), "seed"),
    ("fractional_seed", _set("cases", 1, "seed", 1.5), "seed"),
    ("negative_points", _set("cases", 1, "points", {"forward": -1}), "points.forward"),
    ("points_for_unknown_method", _set("cases", 1, "points", {"sideways": 1}), "points.sideways"),
    ("infinite_points", _set("cases", 1, "points", {"forward": float("inf")}), "points.forward"),
    ("nan_points", _set("cases", 1, "points", {"backward": float("nan")}), "points.backward"),
    ("negative_atol", _set("cases", 1, "tolerance", {"atol": -1e-8}), "tolerance.atol"),
    ("nan_rtol", _set("cases", 1, "tolerance", {"rtol": float("nan")}), "tolerance.rtol"),
    ("infinite_atol", _set("defaults", "tolerance", {"rtol": 1e-5, "atol": float("inf")}), "tolerance.atol"),
    ("empty_default_tolerance", _set("defaults", "tolerance", None), "defaults.tolerance"),
    ("tolerance_unknown_key", _set("cases", 1, "tolerance", {"rel": 1e-5}), "rel"),
    ("bad_visibility", _set("cases", 1, "visibility", "secret"), "visibility"),
    ("bad_default_visibility", _set("defaults", "visibility", "secret"), "defaults.visibility"),
    ("hidden_case_in_handout", _set("cases", 10, "handout", True), "handout"),
    ("tags_not_a_list", _set("cases", 1, "tags", "stability"), "tags"),
    ("unknown_default", _set("defaults", "rounding", 3), "defaults.rounding"),
    ("default_points_text", _set("defaults", "points", {"forward": "four"}), "defaults.points.forward"),
    ("negative_jacobian_limit", _set("defaults", "jacobian_max_entries", -1), "jacobian_max_entries"),
    ("unknown_limit", _set("limits", "cpu", 3), "limits.cpu"),
    ("zero_budget", _set("limits", "budget", 0), "limits.budget"),
    ("memory_fractional", _set("limits", "memory_mb", 1.5), "limits.memory_mb"),
    ("nan_timeout", _set("limits", "call_timeout", float("nan")), "limits.call_timeout"),
    ("reference_outside_the_repository", _set("reference", "../elsewhere"), "reference"),
    ("uses_unknown_problem", _set("problems", "softmax", "uses", ["linear"]), "problems.softmax.uses"),
    ("uses_itself", _set("problems", "softmax", "uses", ["softmax"]), "problems.softmax.uses"),
    ("uses_not_a_list", _set("problems", "softmax", "uses", "linear"), "uses"),
    ("chain_without_uses", _set("problems", "softmax", "chain", {"through": "layers"}), "problems.softmax.chain"),
    ("chain_not_a_mapping", _set("problems", "softmax", "chain", "layers"), "problems.softmax.chain"),
    # found by the property test below: an empty shape, with nothing else to give the inputs one, crashed generate
    ("empty_shape", _set("cases", 1, "shape", []), "cases[1] (single_sample).shape"),
]


@pytest.mark.parametrize("edit, key", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_config_mistake_names_file_and_key(edit, key):
    with pytest.raises(ConfigError) as info:
        parse_assignment(edited(edit), PATH)
    message = str(info.value)
    assert message.startswith(f"{PATH}: ") and key in message, message
    assert info.value.path == PATH


@pytest.mark.parametrize("text, key", [("cases: [unclosed\n", "(syntax)"), ("- a\n- b\n", "(top level)"),
                                       ("", "(top level)")])
def test_unreadable_config_names_the_file(tmp_path, text, key):
    path = tmp_path / "assignment.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_assignment(path)
    assert str(info.value).startswith(f"{path}: {key}")


def test_missing_config_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_assignment(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


# -- properties -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 50), c=st.integers(1, 50), seed=st.integers(0, 2**63),
       forward=st.floats(0, 100), backward=st.floats(0, 100),
       rtol=st.floats(0, 1), atol=st.floats(0, 1),
       visibility=st.sampled_from(["visible", "hidden", "after_due_date", "after_published"]),
       tags=st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), max_size=3))
def test_any_valid_case_is_read_as_written(n, c, seed, forward, backward, rtol, atol, visibility, tags):
    raw = {"name": "generated", "shape": [n, c], "seed": seed, "points": {"forward": forward, "backward": backward},
           "tolerance": {"rtol": rtol, "atol": atol}, "visibility": visibility, "tags": tags,
           "inputs": {"Z": {"normal": {"std": 2}}, "dLdA": {"uniform": {"low": -1, "high": 1}}}}
    case = parse_assignment(edited(lambda d: d.update(cases=[raw])), PATH).cases[0]
    assert case.shape == (n, c) and case.seed == seed and case.tags == tuple(tags)
    assert case.points == {"forward": forward, "backward": backward}
    assert (case.tolerance.rtol, case.tolerance.atol) == (rtol, atol) and case.visibility == visibility


# The fuzz base: the real config with two small cases, so that generating stays fast.
FUZZ_BASE = copy.deepcopy(BASE)
FUZZ_BASE["cases"] = [copy.deepcopy(BASE["cases"][0]),
                      next(copy.deepcopy(c) for c in BASE["cases"] if c["name"] == "stability_thousands")]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


FUZZ_PATHS = _paths(FUZZ_BASE)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=8)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(FUZZ_PATHS), action=st.sampled_from(["replace", "delete", "add"]), value=values,
       key=st.text(min_size=1, max_size=6))
def test_no_config_edit_crashes_generate_or_writes_a_fixture_the_grader_refuses(path, action, value, key,
                                                                                 tmp_path_factory):
    doc = copy.deepcopy(FUZZ_BASE)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][key] = value
    else:
        return
    try:
        assignment = parse_assignment(doc, PATH)
    except ConfigError as exc:
        assert str(exc).startswith(f"{PATH}: ")
        event("refused by the config")
        return
    try:
        with np.errstate(all="ignore"):
            cases = build_cases(assignment)
    except AutograderError:
        event("refused by generate")
        return
    event("generated")
    folder = tmp_path_factory.mktemp("fuzz")
    for case in cases:
        target = folder / "case.yaml"
        target.write_text(dump_case(case), encoding="utf-8")
        back = load_case(target)  # must not raise: the grader reads exactly this
        assert all(math.isfinite(check.points) and check.points >= 0 for check in back.checks)
        assert math.isfinite(back.tolerance.rtol) and math.isfinite(back.tolerance.atol)
