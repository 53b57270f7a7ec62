"""The command line as a person uses it: help, exit codes, and one clear line for our own input errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.fixtures import load_cases
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT, SUBMISSIONS


def cli(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *names: str) -> None:
    """Exit 2, a single `error: ...` line on stderr naming what is wrong, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for name in names:
        assert name in errors[0], (name, errors[0])


@pytest.mark.parametrize("args, words", [
    ((), ("generate", "grade")),
    (("grade",), ("--results", "--fixtures", "SUBMISSION")),
    (("generate",), ("--check", "--out", "--config")),
])
def test_help_works(args, words):
    proc = cli(*args, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m autograder")
    for word in words:
        assert word in proc.stdout


@pytest.mark.parametrize("submission, total", [(PROJECT / "reference", "100/100"),
                                               (PROJECT / "student_template", "0/100")])
def test_grade_writes_results_and_exits_0_whatever_the_score(tmp_path, submission, total):
    results = tmp_path / "out" / "results.json"
    proc = cli("grade", str(submission), "--results", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"Total: {total}"
    document = json.loads(results.read_text())
    assert f"{document['score']:g}/100" == total
    graded = [t for t in document["tests"] if t["max_score"] > 0]
    assert len(graded) == sum(len(case.checks) for case in load_cases(DEFAULT_FIXTURES))


def test_grade_prints_the_report_with_failures(tmp_path):
    proc = cli("grade", str(SUBMISSIONS / "demo"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("Total: 85/100")
    assert "stability_thousands: forward (A)" in proc.stdout and "FAILED" in proc.stdout


def test_missing_fixture_folder_is_one_line_error(tmp_path):
    missing = tmp_path / "no_fixtures_here"
    proc = cli("grade", str(PROJECT / "reference"), "--fixtures", str(missing), "--results", str(tmp_path / "r.json"))
    assert_one_line_error(proc, str(missing))
    assert not (tmp_path / "r.json").exists()


def test_broken_fixture_is_one_line_error_naming_the_file(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, fixtures)
    broken = sorted(fixtures.glob("*.yaml"))[3]
    broken.write_text(broken.read_text().replace("visibility: visible", "visibility: sometimes"))
    proc = cli("grade", str(PROJECT / "reference"), "--fixtures", str(fixtures))
    assert_one_line_error(proc, str(broken), "visibility")


@pytest.mark.parametrize("text, key", [
    ("assignment: [unclosed\n", "YAML"),
    ("assignment: x\nproblems_typo: {}\n", "problems_typo"),
])
def test_broken_config_is_one_line_error_naming_the_file(tmp_path, text, key):
    config = tmp_path / "assignment.yaml"
    config.write_text(text)
    proc = cli("generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(config), key)
    assert not (tmp_path / "out").exists()


def test_config_with_a_wrong_value_names_the_key(tmp_path):
    config = tmp_path / "assignment.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("budget: 30", "budget: -30", 1))
    assert "budget: -30" in config.read_text()
    proc = cli("generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(config), "limits.budget")


def test_missing_submission_still_grades_to_zero(tmp_path):
    results = tmp_path / "results.json"
    proc = cli("grade", str(tmp_path / "not_there"), "--results", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(results.read_text())
    assert document["score"] == 0 and all(t["status"] == "failed" for t in document["tests"])
    assert "not_there" in document["output"]


def test_grade_with_a_broken_config_is_one_line_error(tmp_path):
    config = tmp_path / "assignment.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("memory_mb: 512", "memory_mb: lots", 1))
    proc = cli("grade", str(PROJECT / "reference"), "--config", str(config), "--results", str(tmp_path / "r.json"))
    assert_one_line_error(proc, str(config), "limits.memory_mb")
