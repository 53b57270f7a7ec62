"""`python -m autograder audit`: passes on the default assignment, fails loudly when the suite cannot tell right from wrong."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.audit import FAIL, OK, WARN, MutantSpec, config_mutants, run_audit
from autograder.config import load_assignment, parse_assignment
from autograder.fixtures import dump_case, load_case, load_cases
from autograder.generate import build_cases, write_cases
from autograder.feedback import feedback_path, load_feedback
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT, SOFTMAX, reference_source

STABILITY = ("stability_hundreds", "stability_thousands", "hidden_stability")
REFERENCE_SOURCE = reference_source(SOFTMAX)
CATALOGUE = load_feedback(feedback_path(DEFAULT_FIXTURES, "softmax")).mistakes  # Softmax's, as grading reads them


def mutant(name: str) -> MutantSpec:
    return next(m for m in config_mutants(load_assignment(DEFAULT_CONFIG)) if m.name == name and m.problem == SOFTMAX)


def variant(tmp: Path, *, drop: tuple[str, ...] = (), edit=None) -> tuple[Path, Path]:
    """The config cut down to its Softmax problem, without some cases (small limits), and the fixtures generate
    writes for it."""
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["problems"] = {SOFTMAX: doc["problems"][SOFTMAX]}
    doc["cases"] = [c for c in doc["cases"] if c["name"] not in drop and c.get("problem", SOFTMAX) == SOFTMAX]
    doc["limits"].update(budget=20, call_timeout=3)
    if edit:
        edit(doc)
    config = tmp / "assignment.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    fixtures = tmp / "test_cases"
    write_cases(build_cases(parse_assignment(doc, config)), fixtures)
    return config, fixtures


def findings(report, status: str) -> list[str]:
    return [f.text for _, section in report.sections for f in section if f.status == status]


def test_every_catalogue_mistake_is_a_softmax_mutant():
    mutants = [m for m in config_mutants(load_assignment(DEFAULT_CONFIG)) if m.problem == SOFTMAX]
    assert [(m.name, m.method) for m in mutants] == [(m.name, m.method) for m in CATALOGUE]
    assert {m.method for m in mutants} == {"forward", "backward"}


def test_default_assignment_passes_the_audit_from_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "autograder", "audit"], cwd=PROJECT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("Audit passed")
    full = f"{sum(check.points for case in load_cases(DEFAULT_FIXTURES) for check in case.checks):g}"  # every problem's
    assert f"the reference (reference/) scores {full}/{full}" in proc.stdout
    assert f"the template (student_template/) scores 0/{full}" in proc.stdout
    assert "writeup_example holds the values stated in the config" in proc.stdout
    assert "finite differences" in proc.stdout and "independent.py" in proc.stdout
    for mistake in CATALOGUE:  # every mutant is graded and caught
        assert any(line.startswith(f"  ok    {mistake.name} (softmax.{mistake.method}) caught by") for line in lines), mistake.name
    assert "submissions" in proc.stderr  # the progress bar


def test_removing_the_only_tests_that_catch_a_mutant_fails_loudly(tmp_path):
    config, fixtures = variant(tmp_path, drop=STABILITY)
    report = run_audit(config, fixtures, mutants=[mutant("no_max_subtraction"), mutant("wrong_axis")])
    assert not report.passed
    assert findings(report, FAIL) == ["no_max_subtraction (softmax.forward) SURVIVES"]
    survivor = next(f for _, s in report.sections for f in s if f.status == FAIL)
    assert survivor.details[0] == "it scores 76/76; no forward test fails."
    assert "add a case" in survivor.details[1] and "max" in survivor.details[2]
    text = report.render()
    assert text.splitlines()[-1].startswith("AUDIT FAILED: 1 problem(s)")


def test_the_command_exits_1_when_a_mutant_survives(tmp_path):
    config, fixtures = variant(tmp_path, drop=STABILITY)
    proc = subprocess.run([sys.executable, "-m", "autograder", "audit", "--config", str(config), "--fixtures",
                           str(fixtures), "--only", "no_max_subtraction"], cwd=PROJECT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "  FAIL  no_max_subtraction (softmax.forward) SURVIVES" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("AUDIT FAILED")


def test_a_mutant_caught_by_one_test_only_is_flagged_with_that_test(tmp_path):
    config, fixtures = variant(tmp_path, drop=STABILITY[1:])
    report = run_audit(config, fixtures, mutants=[mutant("no_max_subtraction")])
    assert report.passed
    assert findings(report, WARN) == ["no_max_subtraction (softmax.forward) is caught by one test only: "
                                      "stability_hundreds: forward (A)"]


def test_a_survivor_the_fixtures_should_catch_names_those_tests(tmp_path):
    """If the grader let a mistake through that the fixtures expose, the report says which tests should have failed."""
    sneaky = MutantSpec(name="grader_blind_spot", problem="softmax", method="backward", source=REFERENCE_SOURCE,
                        produce=lambda x: -x["dLdZ"] if x["dLdZ"].shape[0] == 1 else x["dLdZ"])
    config, fixtures = variant(tmp_path, drop=("many_classes", "hidden_batch") + STABILITY)
    report = run_audit(config, fixtures, mutants=[sneaky])
    survivor = next(f for _, s in report.sections for f in s if f.status == FAIL)
    assert survivor.text == "grader_blind_spot (softmax.backward) SURVIVES"
    assert "should have caught it" in survivor.details[1]
    assert "writeup_example: backward (dLdZ)" in survivor.details[1] and "single_sample: backward (dLdZ)" in survivor.details[1]
    assert "small_batch" not in survivor.details[1]


def test_tampered_fixture_and_wrong_writeup_numbers_fail(tmp_path):
    config, fixtures = variant(tmp_path, drop=("many_classes", "hidden_batch"))
    path = fixtures / "03_small_batch.yaml"
    case = load_case(path)
    case.expected["dLdZ"][0, 0] += 1e-5  # a hand edit of one value
    path.write_text(dump_case(case))
    doc = yaml.safe_load(config.read_text())
    doc["cases"][0]["known"]["dLdZ"] = [[0.0001, -0.0078, 0.0078]]  # a typo in the writeup's numbers
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    report = run_audit(config, fixtures, mutants=[])
    failed = findings(report, FAIL)
    assert "generate refuses the config" in failed
    assert any(f.startswith("writeup_example: dLdZ differs from the value stated in the config") for f in failed)
    assert any(f.startswith("1 of 10 fixtures fail the check of agreement with autograder/independent.py") for f in failed)
    assert any(f.startswith("1 of 10 fixtures fail the check of backward against finite differences") for f in failed)
    assert not report.passed


def test_a_template_that_scores_is_reported(tmp_path):
    config, fixtures = variant(tmp_path, drop=("many_classes", "hidden_batch") + STABILITY,
                               edit=lambda doc: doc.update(template="reference"))
    report = run_audit(config, fixtures, mutants=[])
    assert findings(report, FAIL) == ["the template (reference/) scores 54/54, not 0"]
    assert findings(report, OK)[-1] == "the reference (reference/) scores 54/54"


def test_unknown_mutant_name_is_an_error_listing_the_known_ones():
    proc = subprocess.run([sys.executable, "-m", "autograder", "audit", "--only", "wrong_axes"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no mutant called wrong_axes" in proc.stderr and "wrong_axis" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, words", [(("audit", "--help"), ("--only", "--jobs", "--config", "--fixtures")),
                                         (("regrade", "--help"), ("DIR", "--out", "--jobs")),
                                         (("package", "--help"), ("--out", "autograder.zip", "handout.zip")),
                                         (("--help",), ("grade", "generate", "audit", "package", "regrade"))])
def test_help(args, words):
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=PROJECT, capture_output=True, text=True)
    assert proc.returncode == 0 and all(w in proc.stdout for w in words)


# -- coverage: a graded value no mutant catches fails the audit, in either assignment ------------

def _coverage_failures(report) -> list[str]:
    return [d for _, s in report.sections for f in s if f.status == FAIL and "caught by no mutant" in f.text
            for d in f.details]


def test_a_softmax_value_no_mistake_gets_wrong_fails_the_audit(tmp_path):
    def forward_mistakes_only(doc):
        problem = doc["problems"]["softmax"]
        problem["mistakes"] = [m for m in problem["mistakes"] if m["name"] == "wrong_axis"]
    config, fixtures = variant(tmp_path, drop=("many_classes", "hidden_batch") + STABILITY, edit=forward_mistakes_only)
    report = run_audit(config, fixtures)
    assert not report.passed and _coverage_failures(report) == ["softmax: dLdZ"]


def test_a_homework_value_no_mistake_gets_wrong_fails_the_audit(tmp_path):
    """examples/hw1p1 cut down to its softmax, with its backward mistake removed."""
    home = PROJECT / "examples" / "hw1p1"
    for part in ("reference", "student_template", "independent.py"):
        (shutil.copytree if (home / part).is_dir() else shutil.copy)(home / part, tmp_path / part)
    doc = yaml.safe_load((home / "assignment.yaml").read_text())
    doc["problems"] = {"softmax": doc["problems"]["softmax"]}
    doc["problems"]["softmax"]["mistakes"] = doc["problems"]["softmax"]["mistakes"][:1]  # the forward one
    doc["cases"] = [c for c in doc["cases"] if c.get("problem") == "softmax"]
    config = tmp_path / "assignment.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_cases(build_cases(load_assignment(config)), tmp_path / "test_cases")
    report = run_audit(config, tmp_path / "test_cases")
    assert not report.passed and _coverage_failures(report) == ["softmax: dLdZ"]
