"""The whole homework (examples/hw1p1) graded end to end: every class by configuration.

Each test grades real submission folders through the library's grade_submission (student code in the
sandbox, as always) and asserts on the tests that pass or fail, problem by problem. The expectations are
read from the assignment itself (its problems, cases and mistakes), so adding a problem or a case to the
assignment breaks none of them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from autograder.audit import config_mutants
from autograder.config import load_assignment
from autograder.fixtures import load_cases
from autograder.generate import build_cases, stale_fixtures
from autograder.grade import check_name, grade_submission
from autograder.results import to_gradescope

PROJECT = Path(__file__).resolve().parent.parent
HW = PROJECT / "examples" / "hw1p1"
FIXTURES = HW / "test_cases"
ASSIGNMENT = load_assignment(HW / "assignment.yaml")
CASES = load_cases(FIXTURES)
STYLES = Path(__file__).resolve().parent / "submissions" / "hw1p1"


def _checks_of(*problems: str) -> set[str]:
    return {check_name(case, check) for case in CASES if case.problem.name in problems for check in case.checks}


def _problems_of(file: str) -> list[str]:
    return [name for name, problem in ASSIGNMENT.problems.items() if problem.file == file]


def _grade(folder: Path) -> dict:
    return to_gradescope(grade_submission(folder, fixtures=FIXTURES))


def _failed(document: dict) -> set[str]:
    return {t["name"] for t in document["tests"] if t["status"] == "failed"}


def _total(document: dict) -> tuple[float, float]:
    return document["score"], sum(t["max_score"] for t in document["tests"])


def _reference_with(tmp_path: Path, files: dict[str, str | None] | None = None) -> Path:
    """A copy of the reference with some files (relative paths) replaced by a text, or removed (None)."""
    folder = tmp_path / "submission"
    shutil.copytree(HW / ASSIGNMENT.reference, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, text in (files or {}).items():
        target = folder / relative
        assert target.exists(), relative
        if text is None:
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        else:
            target.write_text(text, encoding="utf-8")
    return folder


def _replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_fixtures_are_what_generate_writes():
    assert stale_fixtures(build_cases(ASSIGNMENT), FIXTURES) == []


def test_the_reference_gets_full_marks_and_the_template_zero():
    score, total = _total(_grade(HW / ASSIGNMENT.reference))
    assert score == total > 0
    document = _grade(HW / ASSIGNMENT.template)
    assert document["score"] == 0
    assert len(_failed(document)) == len(_checks_of(*ASSIGNMENT.problems))


def test_every_graded_value_is_a_test_named_after_it_with_class_and_method_tags():
    document = _grade(HW / ASSIGNMENT.reference)
    tests = {t["name"]: t for t in document["tests"]}
    for case in CASES:
        for check in case.checks:
            test = tests[check_name(case, check)]
            assert check.output in test["name"] and test["max_score"] == check.points
            assert case.problem.class_name.lower() in test["tags"] and check.method in test["tags"]


@pytest.mark.parametrize("style", sorted(p.name for p in STYLES.iterdir() if p.is_dir()))
def test_correct_submissions_in_other_styles_get_full_marks(style, tmp_path):
    """Loops, the other momentum form, math.erf through np.vectorize, a loss as a NumPy scalar or a one-element
    array, BatchNorm's compact gradient: each style folder overrides files of the reference."""
    folder = _reference_with(tmp_path)
    shutil.copytree(STYLES / style, folder, dirs_exist_ok=True)
    document = _grade(folder)
    assert _failed(document) == set()


@pytest.mark.parametrize("returned", ["float(L)", "np.float64(L)", "np.array(L)", "np.array([L])", "np.array([[L]])",
                                      "np.float32(L)"])
def test_a_loss_is_the_same_answer_as_any_kind_of_number(returned, tmp_path):
    text = (HW / ASSIGNMENT.reference / "mytorch/nn/loss.py").read_text()
    text = _replaced(text, "return float(np.sum((A - Y) ** 2) / (n * c))",
                     f"L = np.sum((A - Y) ** 2) / (n * c)\n        return {returned}")
    document = _grade(_reference_with(tmp_path, {"mytorch/nn/loss.py": text}))
    assert _failed(document) == set()


def test_a_loss_returned_as_a_list_fails_saying_a_number_was_expected(tmp_path):
    text = (HW / ASSIGNMENT.reference / "mytorch/nn/loss.py").read_text()
    text = _replaced(text, "return float(np.sum((A - Y) ** 2) / (n * c))", "return [np.sum((A - Y) ** 2) / (n * c)]")
    document = _grade(_reference_with(tmp_path, {"mytorch/nn/loss.py": text}))
    failed = {t["name"]: t for t in document["tests"] if t["status"] == "failed"}
    assert set(failed) == {name for name in _checks_of("mse") if "(L)" in name}
    assert all("expected a number" in t["output"] for t in failed.values())


MUTANTS = {m.name + "@" + m.problem: m for m in config_mutants(ASSIGNMENT)}
# a mistake in a file other problems import (Linear, ReLU) also costs the checks of the MLPs built from it
USERS = {used: tuple(name for name, p in ASSIGNMENT.problems.items() if used in p.uses)
         for used in {u for p in ASSIGNMENT.problems.values() for u in p.uses}}
USES_NOTE = "is built from your own classes"


@pytest.mark.parametrize("key", ["dLdb_averaged@linear", "dLdW_transposed@linear", "no_division_by_N@cross_entropy",
                                 "divided_by_N_only@mse", "tanh_approximation@gelu", "momentum_not_carried@sgd",
                                 "unbiased_variance@batchnorm", "missing_last_relu@mlp1"])
def test_a_wrong_submission_loses_exactly_the_checks_its_mistake_gets_wrong_with_its_hint(key, tmp_path):
    mutant = MUTANTS[key]
    problem = ASSIGNMENT.problems[mutant.problem]
    folder = _reference_with(tmp_path, {problem.file: mutant.source})
    document = _grade(folder)
    failed = _failed(document)
    allowed = _checks_of(mutant.problem, *USERS.get(mutant.problem, ()))
    assert failed and failed <= allowed
    assert failed & _checks_of(mutant.problem)
    # the note on a class built from the student's own layers: on exactly those failed checks, when a layer failed
    noted = {t["name"] for t in document["tests"] if USES_NOTE in t.get("output", "")}
    assert noted == failed - _checks_of(mutant.problem), noted
    assert USERS.get(mutant.problem) or not noted
    hinted = [t for t in document["tests"] if t["name"] in _checks_of(mutant.problem) and t["status"] == "failed"
              and mutant.hint in t.get("output", "")]
    assert hinted, "the mistake's own hint is shown where the values are the mistake's"
    others = [m.hint for m in MUTANTS.values() if m.problem == mutant.problem and m.name != mutant.name]
    assert not any(hint in t.get("output", "") for t in document["tests"] for hint in others), "no other mistake's hint"


def test_a_missing_models_folder_costs_only_the_mlp_checks(tmp_path):
    folder = _reference_with(tmp_path, {"models": None})
    assert _failed(_grade(folder)) == _checks_of(*_problems_of("models/mlp.py"))


def test_a_broken_file_costs_only_the_checks_that_need_it(tmp_path):
    folder = _reference_with(tmp_path, {"mytorch/nn/loss.py": "def broken(:\n"})
    document = _grade(folder)
    assert _failed(document) == _checks_of(*_problems_of("mytorch/nn/loss.py"))
    assert "could not be imported" in next(t["output"] for t in document["tests"] if t["status"] == "failed")


def test_an_attribute_left_unset_fails_naming_it(tmp_path):
    text = (HW / ASSIGNMENT.reference / "mytorch/nn/linear.py").read_text()
    text = _replaced(text, "        self.dLdb = dLdZ.T @ np.ones((self.N, 1))\n", "")
    document = _grade(_reference_with(tmp_path, {"mytorch/nn/linear.py": text}))
    failed = {t["name"]: t for t in document["tests"] if t["status"] == "failed"}
    assert {name for name in failed if name.startswith("linear")} == {n for n in _checks_of("linear") if "(dLdb)" in n}
    shown = next(t for name, t in failed.items() if name.startswith("linear_non_square"))
    assert "dLdb" in shown["output"] and "AttributeError" in shown["output"]


def test_a_constant_expected_value_is_refused_unless_declared(tmp_path):
    import yaml

    from autograder.config import parse_assignment
    from autograder.errors import AutograderError

    doc = yaml.safe_load((HW / "assignment.yaml").read_text())
    doc["cases"] = [c for c in doc["cases"] if c["problem"] == "linear"][:1]
    doc["cases"][0]["inputs"] = dict(doc["cases"][0]["inputs"], dLdZ={"values": [[0.0, 0.0]] * 4})
    assignment = parse_assignment(doc, HW / "assignment.yaml")
    with pytest.raises(AutograderError, match=r"linear_non_square.*dLdA, dLdW, dLdb.*constant"):
        build_cases(assignment)
    doc["cases"][0]["constant"] = ["dLdA", "dLdW", "dLdb"]
    assert build_cases(parse_assignment(doc, HW / "assignment.yaml"))


def test_a_gradient_that_disagrees_with_finite_differences_is_refused(tmp_path):
    import yaml

    from autograder.errors import AutograderError

    shutil.copytree(HW, tmp_path / "hw", ignore=shutil.ignore_patterns("__pycache__", "test_cases"))
    config = tmp_path / "hw" / "assignment.yaml"
    doc = yaml.safe_load(config.read_text())
    del doc["problems"]["linear"]["mistakes"]  # they are made from the text this test changes
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    linear = tmp_path / "hw" / "reference" / "mytorch" / "nn" / "linear.py"
    linear.write_text(_replaced(linear.read_text(), "return dLdZ @ self.W\n", "return 2 * dLdZ @ self.W\n"))
    with pytest.raises(AutograderError, match=r"dLdA \(d/dA of Z\) differs from finite differences"):
        build_cases(load_assignment(tmp_path / "hw" / "assignment.yaml"))


def test_scalars_round_trip_through_a_fixture():
    case = next(c for c in CASES if c.problem.name == "mse")
    assert case.expected["L"].ndim == 0 and np.isfinite(case.expected["L"])


def test_the_homework_packages_with_its_extra_packages_and_both_zips_grade_right(tmp_path):
    import zipfile

    from autograder.package import package

    report = package(HW / "assignment.yaml", FIXTURES, tmp_path / "dist")
    for zipped in (report.autograder_zip, report.handout_zip):
        with zipfile.ZipFile(zipped) as archive:
            assert "scipy==1.15.3" in archive.read("requirements.txt").decode().splitlines()
    with zipfile.ZipFile(report.autograder_zip) as archive:  # what installs them: setup.sh, and the students
        assert '-r "$SOURCE/requirements.txt"' in archive.read("setup.sh").decode()
    with zipfile.ZipFile(report.handout_zip) as archive:
        assert "pip install -r requirements.txt" in archive.read("README.md").decode()
    assert any("gives the reference" in line for line in report.checks)


def test_a_class_missing_from_a_file_of_several_costs_only_its_checks(tmp_path):
    # one worker imports the file for all its classes; the one it lacks fails alone, as a failed import
    relative = "mytorch/nn/activation.py"
    problems = [name for name in _problems_of(relative) if ASSIGNMENT.problems[name].class_name == "Tanh"]
    assert problems and len(_problems_of(relative)) > 1
    text = _replaced((HW / ASSIGNMENT.reference / relative).read_text(), "class Tanh", "class TanH")
    document = _grade(_reference_with(tmp_path, {relative: text}))
    assert _failed(document) == _checks_of(*problems)
    failed = [t["output"] for t in document["tests"] if t["status"] == "failed"]
    assert "could not be imported" in failed[0] and "TanH" in failed[0], failed[0]


def test_a_failed_layer_is_named_in_the_failed_checks_of_the_mlps_built_from_it(tmp_path):
    assert USERS.get("linear"), "the MLPs declare that they use linear"
    relative = ASSIGNMENT.problems["linear"].file
    text = _replaced((HW / ASSIGNMENT.reference / relative).read_text(), " + np.ones((self.N, 1)) @ self.b.T", "")
    document = _grade(_reference_with(tmp_path, {relative: text}))
    failed = _failed(document)
    users = _checks_of(*USERS["linear"])
    assert failed & users and failed <= _checks_of("linear", *USERS["linear"])
    for test in document["tests"]:
        noted = "Note: " in test.get("output", "") and USES_NOTE in test["output"]
        assert noted == (test["name"] in failed & users), test["name"]
        if noted:
            assert "Linear (linear)" in test["output"] and "relu" not in test["output"].split("Note: ")[-1]
