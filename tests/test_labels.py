"""Integer labels as case inputs and as graded values: drawn or given, stored and sent as integers, a one-hot
made from them, and whole-number answers (an argmax) graded exactly.

A tiny assignment is written in a temporary folder (config, reference, template), generated and graded
through the CLI and the library, as an instructor would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from autograder.compare import compare
from autograder.config import load_assignment, parse_assignment
from autograder.errors import AutograderError, ConfigError
from autograder.fixtures import Tolerance, dump_case, load_cases
from autograder.generate import build_cases
from autograder.grade import check_name, grade_submission
from autograder.results import to_gradescope

REFERENCE = '''import numpy as np


class Classifier:
    """Predicted labels and the cross-entropy of logits against labels (or their one-hot form)."""

    def predict(self, Z):
        return np.argmax(Z, axis=1)

    def loss(self, Z, y):
        assert y.dtype.kind == "i", f"labels arrive as integers, not {y.dtype}"
        shifted = Z - Z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        return float(np.mean(log_norm - shifted[np.arange(len(y)), y]))

    def loss_one_hot(self, Z, Y):
        shifted = Z - Z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        return float(np.mean(log_norm - (shifted * Y).sum(axis=1)))

    def encode(self, y, C):
        Y = np.zeros((len(y), C))
        Y[np.arange(len(y)), y] = 1.0
        return Y
'''

TEMPLATE = '''import numpy as np


class Classifier:
    def predict(self, Z):
        raise NotImplementedError

    def loss(self, Z, y):
        raise NotImplementedError

    def loss_one_hot(self, Z, Y):
        raise NotImplementedError

    def encode(self, y, C):
        raise NotImplementedError
'''

CONFIG = {
    "assignment": "labels",
    "problems": {
        "classifier": {
            "file": "mytorch/classify.py",
            "class": "Classifier",
            "inputs": {"Z": ["N", "C"], "y": ["N"], "Y": ["N", "C"]},
            "mistakes": [{"name": "argmin", "hint": "predict takes the class of the largest logit (argmax).",
                          "patch": [{"old": "np.argmax(Z, axis=1)", "new": "np.argmin(Z, axis=1)"}]}],
            "methods": {
                "predict": {"steps": [{"call": "predict", "args": ["Z"]}], "graded": {"labels": "returned"}},
                "loss": {"steps": [{"call": "loss", "args": ["Z", "y"]}], "graded": {"L": "returned"}},
                "loss_one_hot": {"steps": [{"call": "loss_one_hot", "args": ["Z", "Y"]}],
                                 "graded": {"L_one_hot": "returned"}},
                "encode": {"steps": [{"call": "encode", "args": ["y", "C"]}], "graded": {"encoded": "returned"}},
            },
        },
    },
    "cases": [
        {"name": "drawn", "dims": {"N": 7, "C": 4}, "seed": 3,
         "inputs": {"Z": {"normal": {"std": 2}, "round": 4}, "y": {"labels": {"classes": "C"}},
                    "Y": {"one_hot": {"from": "y"}}}},
        {"name": "given_hidden", "dims": {"N": 5, "C": 3}, "visibility": "hidden",
         "inputs": {"Z": {"normal": {}, "round": 4}, "y": {"labels": [0, 2, 1, 1, 0]},
                    "Y": {"one_hot": {"from": "y"}}}},
    ],
}


def write_assignment(folder: Path, config: dict = CONFIG) -> Path:
    """An assignment folder: config, reference and template."""
    for part, text in (("reference", REFERENCE), ("student_template", TEMPLATE)):
        (folder / part / "mytorch").mkdir(parents=True)
        (folder / part / "mytorch" / "classify.py").write_text(text, encoding="utf-8")
    (folder / "assignment.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def labels_assignment(tmp_path_factory) -> Path:
    folder = write_assignment(tmp_path_factory.mktemp("labels"))
    proc = cli("generate", "--assignment", str(folder))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


# -- config: bad specs are one error naming the file, the key and the fix ------------------------------------

def _edited(edit) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(CONFIG))
    edit(doc["cases"][0]["inputs"])
    return doc


BAD_SPECS = [
    ("negative_given_label", lambda i: i.update(y={"labels": [0, -1]}), "cases[0] (drawn).inputs.y.labels",
     "whole numbers from 0"),
    ("float_given_label", lambda i: i.update(y={"labels": [0, 1.5]}), "cases[0] (drawn).inputs.y.labels",
     "whole numbers from 0"),
    ("zero_classes", lambda i: i.update(y={"labels": {"classes": 0}}), "cases[0] (drawn).inputs.y.labels.classes",
     "above 0"),
    ("unknown_key", lambda i: i.update(y={"labels": {"count": 3}}), "cases[0] (drawn).inputs.y.labels.count",
     "unknown key"),
    ("rounded_labels", lambda i: i.update(y={"labels": {}, "round": 2}), "cases[0] (drawn).inputs.y.round",
     "whole numbers; remove it"),
    ("one_hot_from_a_real_input", lambda i: i.update(Y={"one_hot": {"from": "Z"}}),
     "cases[0] (drawn).inputs.Y.one_hot.from", "its labels inputs: y"),
    ("one_hot_from_nothing", lambda i: i.update(Y={"one_hot": {"from": "t"}}),
     "cases[0] (drawn).inputs.Y.one_hot.from", "is not a labels input"),
    ("one_hot_from_and_classes", lambda i: i.update(Y={"one_hot": {"from": "y", "classes": [0, 1]}}),
     "cases[0] (drawn).inputs.Y.one_hot", "not both"),
]


def test_a_gradient_with_respect_to_labels_is_refused_naming_the_input(tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(CONFIG))
    doc["problems"]["classifier"]["gradients"] = [{"value": "L", "wrt": "y", "of": "L"}]
    with pytest.raises(ConfigError) as info:
        parse_assignment(doc, tmp_path / "assignment.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'assignment.yaml'}: cases[0] (drawn).inputs.y: is labels, but "
                                      "problems.classifier.gradients takes a gradient with respect to it"), info.value


@pytest.mark.parametrize("edit, key, words", [b[1:] for b in BAD_SPECS], ids=[b[0] for b in BAD_SPECS])
def test_a_wrong_labels_spec_names_the_file_the_key_and_the_fix(tmp_path, edit, key, words):
    path = tmp_path / "assignment.yaml"
    with pytest.raises(ConfigError) as info:
        parse_assignment(_edited(edit), path)
    assert str(info.value).startswith(f"{path}: {key}:") and words in str(info.value), str(info.value)


@pytest.mark.parametrize("edit, words", [
    (lambda i: i.update(y={"labels": [0, 1, 2]}), "labels has shape (3,), but the input's shape is (7,)"),
    (lambda i: i.update(y={"labels": {"classes": 9}}), "the labels y should give each of the 7 rows a class below 4"),
    (lambda i: i.update(y={"labels": {"classes": "K"}}), "names dimension 'K', which the case does not give"),
    (lambda i: i.update(y={"labels": {"values": [0, 1, 5, 0, 1, 2, 3], "classes": 4}}), "below the number of classes (4)"),
], ids=["given_of_another_shape", "more_classes_than_the_one_hot", "unknown_dimension", "given_above_classes"])
def test_generate_names_the_case_and_input_of_labels_that_do_not_fit(tmp_path, edit, words):
    folder = write_assignment(tmp_path, _edited(edit))
    with pytest.raises(AutograderError) as info:
        build_cases(load_assignment(folder / "assignment.yaml"))
    assert "cases (drawn).inputs." in str(info.value) and words in str(info.value), str(info.value)
    proc = cli("generate", "--assignment", str(folder))  # the same, said by the CLI without a traceback
    assert proc.returncode != 0 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# -- generate: integers drawn from the seed, stored as integers, the one-hot made from them ------------------

def test_labels_are_drawn_from_the_seed_and_the_one_hot_agrees(tmp_path, labels_assignment):
    assignment = load_assignment(labels_assignment / "assignment.yaml")
    first, again = build_cases(assignment), build_cases(assignment)
    assert [dump_case(c) for c in first] == [dump_case(c) for c in again]
    drawn, given = first
    for case in first:
        y, Y = case.inputs["y"], case.inputs["Y"]
        assert y.dtype == np.int64 and Y.dtype == np.float64
        assert np.array_equal(Y, np.eye(Y.shape[1])[y]), "the one-hot is made from the case's own labels"
        assert case.expected["labels"].dtype == np.int64  # np.argmax's answer stays whole
        assert case.expected["L"] == case.expected["L_one_hot"]
        assert np.array_equal(case.expected["encoded"], Y)
    assert given.inputs["y"].tolist() == [0, 2, 1, 1, 0]
    assert drawn.inputs["y"].shape == (7,) and set(drawn.inputs["y"].tolist()) <= {0, 1, 2, 3}
    assert len(set(drawn.inputs["y"].tolist())) > 1
    other_seed = yaml.safe_load((labels_assignment / "assignment.yaml").read_text())
    other_seed["cases"][0]["seed"] = 4
    other = build_cases(parse_assignment(other_seed, tmp_path / "assignment.yaml"), root=labels_assignment)
    assert not np.array_equal(other[0].inputs["y"], drawn.inputs["y"])


def test_fixtures_hold_labels_as_integers_and_read_them_back_as_integers(labels_assignment):
    text = (labels_assignment / "test_cases" / "01_drawn.yaml").read_text()
    document = yaml.safe_load(text)
    assert all(type(v) is int for v in document["inputs"]["y"] + document["expected"]["labels"])
    assert all(type(v) is float for row in document["inputs"]["Y"] for v in row)
    # the header names the config that generated it: from the assignment's folder, which is outside the repository
    assert text.startswith("# Generated by `python -m autograder generate`; edit assignment.yaml instead.\n")
    for case in load_cases(labels_assignment / "test_cases"):  # the fast reader and PyYAML agree
        assert case.inputs["y"].dtype == np.int64 and case.expected["labels"].dtype == np.int64
        assert yaml.safe_load(case.path.read_text())["inputs"]["y"] == case.inputs["y"].tolist()
    proc = cli("generate", "--check", "--assignment", str(labels_assignment))
    assert proc.returncode == 0 and "up to date" in proc.stdout, proc.stdout + proc.stderr


# -- grading: the reference gets full marks, the template 0, wrong labels a clear message ---------------------

def _grade(labels_assignment: Path, submission: Path, backend: str | None = None) -> dict:
    return to_gradescope(grade_submission(submission, fixtures=labels_assignment / "test_cases",
                                          sandbox_backend=backend))


@pytest.mark.parametrize("backend", [None, "portable"])
def test_reference_gets_full_marks_and_template_zero(labels_assignment, backend):
    """The reference asserts that its labels arrive as integers: in generate, and in the sandbox's worker."""
    document = _grade(labels_assignment, labels_assignment / "reference", backend)
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) == 8
    assert all(t["status"] == "passed" for t in document["tests"])
    document = _grade(labels_assignment, labels_assignment / "student_template", backend)
    assert document["score"] == 0 and all(t["status"] == "failed" for t in document["tests"])


def _submission(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "submission" / "mytorch"
    folder.mkdir(parents=True)
    assert REFERENCE.count(old) == 1
    (folder / "classify.py").write_text(REFERENCE.replace(old, new), encoding="utf-8")
    return folder.parent


def test_labels_in_another_style_get_full_marks(tmp_path, labels_assignment):
    """Labels as floats holding exactly the whole numbers (a loop filling np.zeros) are right too."""
    submission = _submission(tmp_path, "return np.argmax(Z, axis=1)\n",
                             "out = np.zeros(len(Z))\n        for i, row in enumerate(Z):\n"
                             "            out[i] = list(row).index(max(row))\n        return out\n")
    document = _grade(labels_assignment, submission)
    assert document["score"] == 8, [t["output"] for t in document["tests"] if t["status"] == "failed"]


def test_wrong_labels_are_compared_exactly_with_a_clear_message(tmp_path, labels_assignment):
    submission = _submission(tmp_path, "return np.argmax(Z, axis=1)", "return np.argmin(Z, axis=1)")
    cases = {c.name: c for c in load_cases(labels_assignment / "test_cases")}
    tests = {t["name"]: t for t in _grade(labels_assignment, submission)["tests"]}
    failed = {name for name, t in tests.items() if t["status"] == "failed"}
    assert failed == {check_name(c, k) for c in cases.values() for k in c.checks if k.output == "labels"}
    visible = tests[check_name(cases["drawn"], cases["drawn"].checks[0])]["output"]
    assert "whole numbers differ from the expected ones (they are compared exactly, with no tolerance)" in visible
    expected = cases["drawn"].expected["labels"].tolist()
    assert f"values expected: [{', '.join(map(str, expected))}]" in visible
    assert "tolerance (rtol" not in visible and "Integer arrays cannot hold" not in visible
    assert "Your values are exactly what this mistake gives: predict takes the class of the largest" in visible
    hidden = tests[check_name(cases["given_hidden"], cases["given_hidden"].checks[0])]["output"]
    assert "compared exactly" in hidden and "expected:" not in hidden


@pytest.mark.parametrize("actual, kind, words", [
    (np.array([0, 2, 1]), "ok", ""),
    (np.array([0.0, 2.0, 1.0], dtype=np.float32), "ok", ""),
    (np.array([0, 2, 1], dtype=np.uint8), "ok", ""),
    (np.array([0.0, 2.0, 1.5]), "values", "1 of 3 whole numbers differ"),
    (np.array([0.0, np.nan, 1.0]), "values", "1 of 3 whole numbers differ"),
    (np.array([True, False, True]), "dtype", "boolean array"),
    (np.array([[0, 2, 1]]), "shape", "expected shape (3,), got (1, 3)"),
])
def test_whole_numbers_are_compared_exactly_whatever_the_tolerance(actual, kind, words):
    returned = {"kind": "ndarray", "type": "ndarray", "dtype_name": actual.dtype.name}
    verdict = compare(returned, actual, np.array([0, 2, 1]), Tolerance(rtol=1.0, atol=1.0), what="predict",
                      show_values=True)
    assert verdict.kind == kind and words in verdict.message, verdict.message


def test_other_wrong_labels_get_no_hint_of_the_catalogued_mistake(tmp_path, labels_assignment):
    submission = _submission(tmp_path, "return np.argmax(Z, axis=1)", "return (np.argmax(Z, axis=1) + 1) % Z.shape[1]")
    failed = [t for t in _grade(labels_assignment, submission)["tests"] if t["status"] == "failed"]
    assert failed and all("largest logit" not in t["output"] and "compared exactly" in t["output"] for t in failed)


def test_an_assignment_with_labels_packages_and_both_zips_grade_right(tmp_path, labels_assignment):
    """package grades the template and the reference in the unpacked zips (run_autograder, the handout's
    runner and its pytest) before it writes them: labels travel through every one of those."""
    proc = cli("package", "--assignment", str(labels_assignment), "--out", str(tmp_path / "dist"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("run_autograder gives the reference 8/8", "run_autograder gives the template 0/8",
                 "`python -m autograder` gives the reference 4/4", "`python -m pytest` on the reference: 4 passed"):
        assert line in proc.stdout, proc.stdout
