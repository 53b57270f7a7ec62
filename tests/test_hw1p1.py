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


# -- an MLP built from the student's own Linear and ReLU (uses + chain): graded against them when they fail --------

OWN_NOTE = "Graded against your own"  # a failed layer's MLP test, graded against the student's own layers
PASSED_OWN = "itself is right here"  # ... and passed there
MLP_FILE = "models/mlp.py"
MLP0_LAYERS = "self.layers = [Linear(2, 3), ReLU()]"
MLP1_LAYERS = "self.layers = [Linear(2, 3), ReLU(), Linear(3, 2), ReLU()]"
FORWARD_LOOP = "        for layer in self.layers:\n            A = layer.forward(A)"
LINEAR_DLDB_AVERAGED = (ASSIGNMENT.problems["linear"].file, "self.dLdb = dLdZ.T @ np.ones((self.N, 1))",
                        "self.dLdb = dLdZ.T @ np.ones((self.N, 1)) / self.N")
# a mistake of a layer that raises inside the MLPs (their shapes are not square): graded as before, see below
RAISES_IN_MLPS = {"dLdA_with_W_transposed@linear"}
LAYER_MUTANTS = sorted(key for key, m in MUTANTS.items() if m.problem in USERS and key not in RAISES_IN_MLPS)


def _edited(*edits: tuple[str, str, str]) -> dict[str, str]:
    """Files of the reference with texts replaced: (file, old, new), several per file allowed."""
    files: dict[str, str] = {}
    for relative, old, new in edits:
        files[relative] = _replaced(files.get(relative) or (HW / ASSIGNMENT.reference / relative).read_text(), old, new)
    return files


def _mutant(key: str) -> tuple[str, str]:
    """A catalogued mistake as (file, its whole text)."""
    mutant = MUTANTS[key]
    return ASSIGNMENT.problems[mutant.problem].file, mutant.source


def _outputs(document: dict, names: set[str]) -> dict[str, str]:
    return {t["name"]: t.get("output", "") for t in document["tests"] if t["name"] in names}


def test_the_mlps_declare_the_layers_they_are_built_from_and_how_they_run_them():
    assert LAYER_MUTANTS and {"linear", "relu"} <= set(USERS)
    for name in USERS["linear"]:
        chain = ASSIGNMENT.problems[name].chain
        assert chain is not None and chain.through == "layers" and chain.reverse == ("backward",)
    for case in CASES:
        if case.problem.chain is not None:
            assert case.structure[0] == {"class": "Linear", "W": [3, 2] if "MLP4" not in case.problem.class_name
                                         else [4, 2], "b": [3, 1] if "MLP4" not in case.problem.class_name else [4, 1]}
            assert case.structure[1] == {"class": "ReLU"}


@pytest.mark.parametrize("key", LAYER_MUTANTS)
def test_a_wrong_layer_costs_only_its_own_checks_and_the_mlps_are_graded_against_it(key, tmp_path):
    """dLdb averaged, dLdW transposed, a leaky ReLU ...: the MLPs built from them are right, and keep their points."""
    mutant = MUTANTS[key]
    document = _grade(_reference_with(tmp_path, dict([_mutant(key)])))
    failed = _failed(document)
    assert failed and failed <= _checks_of(mutant.problem), failed - _checks_of(mutant.problem)
    mlps = _outputs(document, _checks_of(*USERS[mutant.problem]))
    said = {name for name, output in mlps.items() if PASSED_OWN in output}
    assert said, "some MLP value differs from the reference's, and says why it passed"
    cls = ASSIGNMENT.problems[mutant.problem].class_name
    for name in said:
        assert f"{OWN_NOTE} {cls}, as tests of {cls} fail" in mlps[name], mlps[name]
    assert not any(USES_NOTE in output for output in mlps.values())


def test_a_wrong_linear_and_relu_together_leave_the_mlps_their_points(tmp_path):
    files = dict([_mutant("dLdb_averaged@linear"), _mutant("leaky@relu")])
    document = _grade(_reference_with(tmp_path, files))
    failed = _failed(document)
    assert failed & _checks_of("linear") and failed & _checks_of("relu") and failed <= _checks_of("linear", "relu")
    assert any("your own Linear and ReLU, as tests of Linear and ReLU fail" in output
               for output in _outputs(document, _checks_of(*USERS["linear"])).values())


@pytest.mark.parametrize("mlp_mistake, problem, said", [
    ((MLP_FILE, MLP0_LAYERS, "self.layers = [Linear(2, 3)]"), "mlp0", "MLP0.layers holds 1 part(s), the reference's 2"),
    ((MLP_FILE, MLP1_LAYERS, "self.layers = [Linear(2, 3), Linear(3, 2), ReLU(), ReLU()]"), "mlp1",
     "layers[1] is a Linear, expected a ReLU; layers[2] is a ReLU, expected a Linear"),
    ((MLP_FILE, MLP0_LAYERS, "self.layers = [Linear(3, 2), ReLU()]"), "mlp0",
     "layers[0].W is built with shape (2, 3), expected (3, 2)"),
])
def test_a_wrong_layer_does_not_excuse_an_mlp_built_wrong(mlp_mistake, problem, said, tmp_path):
    document = _grade(_reference_with(tmp_path, _edited(mlp_mistake, LINEAR_DLDB_AVERAGED)))
    failed = _failed(document)
    assert failed & _checks_of(problem) and failed <= _checks_of("linear", problem)
    for name, output in _outputs(document, failed & _checks_of(problem)).items():
        assert "does not build the parts it should" in output, output
        visible = next(c for c in CASES if name.startswith(c.name + ":")).visibility == "visible"
        assert (said in output) == visible, output  # a hidden test names the reference's classes only
        assert USES_NOTE not in output and PASSED_OWN not in output


def test_an_mlp_that_skips_a_layer_fails_the_same_checks_with_or_without_a_wrong_layer(tmp_path):
    skip = _edited((MLP_FILE, FORWARD_LOOP, FORWARD_LOOP.replace("self.layers:", "self.layers[:-1]:")))
    mlps = _checks_of(*USERS["linear"])
    alone = _grade(_reference_with(tmp_path / "alone", skip))
    assert _failed(alone) and _failed(alone) <= mlps
    assert not any(OWN_NOTE in t.get("output", "") or USES_NOTE in t.get("output", "") for t in alone["tests"])
    document = _grade(_reference_with(tmp_path / "with_linear", {**skip, **dict([_mutant("dLdb_averaged@linear")])}))
    failed = _failed(document)
    assert failed & mlps == _failed(alone) and failed - mlps <= _checks_of("linear")
    for name, output in _outputs(document, failed & mlps).items():
        assert "does not run its parts as it should" in output or "the error is in MLP" in output, output
        assert USES_NOTE not in output and PASSED_OWN not in output


def test_a_layer_that_raises_in_the_mlps_leaves_their_checks_failed_naming_it(tmp_path):
    """dLdA with W transposed raises inside the MLPs (non-square layers): nothing can stand in for the reference's
    values there, so the MLP tests it breaks fail as before, with the note that names the failing layer."""
    key = next(iter(RAISES_IN_MLPS))
    document = _grade(_reference_with(tmp_path, dict([_mutant(key)])))
    failed = _failed(document)
    users = _checks_of(*USERS["linear"])
    assert failed & users and failed <= _checks_of("linear", *users and USERS["linear"])
    for test in document["tests"]:
        noted = USES_NOTE in test.get("output", "")
        assert noted == (test["name"] in failed & users), test["name"]
        if noted:
            assert "Linear (linear)" in test["output"] and "relu" not in test["output"].split("Note: ")[-1]
            assert PASSED_OWN not in test["output"]


def test_a_layer_that_raises_only_when_the_grader_runs_it_leaves_the_check_failed(tmp_path):
    """An MLP that swallows its layers' errors answers; its layers, run as an MLP runs them, raise: not graded
    against them (the README: "a part that raises when run in order")."""
    document = _grade(_reference_with(tmp_path, _edited(
        (ASSIGNMENT.problems["linear"].file, "        self.dLdW = dLdZ.T @ self.A\n", "        if dLdZ.shape[1] == 3:\n"
         "            raise ValueError('three')\n        self.dLdW = dLdZ.T @ self.A\n"),
        LINEAR_DLDB_AVERAGED,  # a Linear test fails too
        (MLP_FILE, "            dLdA = layer.backward(dLdA)\n",
         "            try:\n                dLdA = layer.backward(dLdA)\n            except ValueError:\n"
         "                dLdA = np.ones((dLdA.shape[0], 2))\n"),
        (MLP_FILE, "from mytorch.nn.activation import ReLU",
         "import numpy as np\nfrom mytorch.nn.activation import ReLU"))))
    output = _outputs(document, {"mlp0_batch: backward (dLdA0)"})["mlp0_batch: backward (dLdA0)"]
    assert "Your own Linear, run as MLP0 should run them" in output, output
    assert "raised ValueError: three (in mytorch/nn/linear.py, line" in output, output
    assert USES_NOTE in output and PASSED_OWN not in output


def test_stub_layers_do_not_make_a_stub_mlp_right(tmp_path):
    """A Linear that returns zeros and an MLP that returns zeros agree: zeros from the student's own layers tell
    nothing, so the test stays graded against the reference."""
    document = _grade(_reference_with(tmp_path, _edited(
        (ASSIGNMENT.problems["linear"].file, "return A @ self.W.T + np.ones((self.N, 1)) @ self.b.T",
         "return np.zeros((self.N, self.W.shape[0]))"),
        (MLP_FILE, "        A = A0\n", "        return A0[:, :1] * 0 + A0[:, 1:] * 0 + 0 * self.layers[0].W[:, 0]\n"))))
    output = _outputs(document, {"mlp0_batch: forward (A_out)"})["mlp0_batch: forward (A_out)"]
    assert "mlp0_batch: forward (A_out)" in _failed(document)
    assert "give all zeros" in output and PASSED_OWN not in output


def test_a_selection_of_mlp_tests_is_graded_as_in_the_whole_homework(tmp_path):
    """pytest -k mlp in the handout grades only the MLP tests: the layers' tests are graded too, unseen, since
    whether they fail decides how the MLP tests are graded."""
    folder = _reference_with(tmp_path, dict([_mutant("dLdW_transposed@linear")]))
    mlps = _checks_of(*USERS["linear"])
    result = grade_submission(folder, fixtures=FIXTURES, only=mlps)
    graded = [check for check in result.checks if check.max_score > 0]
    assert {check.name for check in graded} == mlps and all(check.passed for check in graded)
    assert any(PASSED_OWN in check.message for check in graded)


def test_a_right_submission_says_nothing_about_its_own_layers():
    document = _grade(HW / ASSIGNMENT.reference)
    assert not any(OWN_NOTE in t.get("output", "") for t in document["tests"])
