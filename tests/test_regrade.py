"""`python -m autograder regrade DIR`: a Gradescope export into one CSV and one JSON summary."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.regrade import find_submissions, grade_isolated, read_metadata
from autograder.grade import check_name
from helpers import DEMO_FAILS, PROJECT, SOFTMAX, SUBMISSIONS, problem_cases, problem_fixtures, problem_points

# The export's submissions are graded on the Softmax problem's fixtures (the third is a Softmax file alone);
# what each deserves follows from them. no_max_subtraction.py loses what the writeup's code loses.
FULL = problem_points(SOFTMAX)
SCORES = [FULL, 0, FULL - sum(DEMO_FAILS().values()), 0]

EXPORT_METADATA = """\
submission_001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '001'
    :email: ada@example.edu
  :created_at: 2026-02-20 12:00:00.000000000 -05:00
  :score: 100.0
  :status: processed
submission_002:
  :submitters:
  - :name: Alan Turing
    :sid: '002'
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: '003'
    :email: grace@example.edu
  :created_at: 2026-02-21 09:30:00.000000000 -05:00
  :score: !ruby/object:BigDecimal 18:0.1e2
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """Four submissions as Gradescope exports them: correct, template, a known mistake, nothing useful."""
    root = tmp_path_factory.mktemp("export") / "assignment_123_export"
    shutil.copytree(PROJECT / "reference", root / "submission_001", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT / "student_template", root / "submission_002", ignore=shutil.ignore_patterns("__pycache__"))
    third = root / "submission_003"
    third.mkdir()
    shutil.copy(SUBMISSIONS / "mistakes" / "no_max_subtraction.py", third / "activation.py")
    (third / "submission_metadata.yml").write_text(":submitters:\n- :name: Own File\n:created_at: 2026-02-22 10:00:00 +00:00\n:score: 85.0\n")
    (root / "submission_004").mkdir()
    (root / "submission_004" / "notes.txt").write_text("forgot to upload")
    (root / "__MACOSX").mkdir()
    (root / "submission_metadata.yml").write_text(EXPORT_METADATA)
    return root


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    return problem_fixtures(tmp_path_factory.mktemp("softmax") / "test_cases", SOFTMAX)


@pytest.fixture(scope="module")
def regraded(export, fixtures, tmp_path_factory):
    out = tmp_path_factory.mktemp("regrade")
    proc = subprocess.run([sys.executable, "-m", "autograder", "regrade", str(export), "--out", str(out), "--jobs", "2",
                           "--fixtures", str(fixtures)], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc


def test_export_is_read_with_its_ruby_flavoured_metadata(export):
    found = find_submissions(export)
    assert [name for name, _, _ in found] == ["submission_001", "submission_002", "submission_003", "submission_004"]
    meta = {name: m for name, _, m in found}
    assert meta["submission_001"]["submitters"][0] == {"name": "Ada Lovelace", "sid": "001", "email": "ada@example.edu"}
    assert len(meta["submission_002"]["submitters"]) == 2
    assert meta["submission_003"]["submitters"][0]["name"] == "Own File"
    assert meta["submission_004"] == {}
    assert read_metadata(export / "submission_metadata.yml")["submission_002"]["score"] == "18:0.1e2"


def test_regrade_writes_one_csv_row_per_submission_with_a_column_per_test(regraded):
    out, _ = regraded
    with open(out / "regrade.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["submission"] for r in rows] == ["submission_001", "submission_002", "submission_003", "submission_004"]
    assert [r["score"] for r in rows] == [f"{s:g}" for s in SCORES]
    assert [r["max_score"] for r in rows] == [f"{FULL:g}"] * 4
    assert rows[0]["names"] == "Ada Lovelace" and rows[1]["emails"] == "alan@example.edu; grace@example.edu"
    assert rows[0]["previous_score"] == "100" and rows[0]["change"] == f"{SCORES[0] - 100:g}"
    assert rows[2]["previous_score"] == "85" and rows[1]["previous_score"] == ""
    points = {check_name(case, check): check.points for case in problem_cases(SOFTMAX) for check in case.checks}
    assert rows[2]["stability_hundreds: forward (A)"] == "0"
    assert rows[2]["stability_hundreds: backward (dLdZ)"] == f"{points['stability_hundreds: backward (dLdZ)']:g}"
    assert rows[0]["writeup_example: forward (A)"] == f"{points['writeup_example: forward (A)']:g}"
    assert all(r["error"] == "" for r in rows)
    test_columns = [c for c in rows[0] if ": " in c and "(" in c]
    assert test_columns[0] == "writeup_example: forward (A)" and "hidden_stability: backward (dLdZ)" in test_columns


def test_regrade_json_summarises_per_submission_per_test_and_overall(regraded):
    out, proc = regraded
    doc = json.loads((out / "regrade.json").read_text())
    overall = doc["overall"]
    assert overall["count"] == 4 and overall["jobs"] == 2 and overall["errors"] == 0
    assert overall["mean_score"] == pytest.approx(sum(SCORES) / 4) and overall["submissions_per_minute"] > 0
    per_test = {t["name"]: t for t in doc["tests"]}
    assert per_test["stability_thousands: forward (A)"]["passed"] == 1
    small = next(k.points for c in problem_cases(SOFTMAX) if c.name == "small_batch" for k in c.checks
                 if k.method == "forward")
    assert per_test["small_batch: forward (A)"] == {"name": "small_batch: forward (A)", "max_score": small,
                                                     "mean_score": small / 2, "passed": 2, "failed": 2}
    third = doc["submissions"][2]
    assert third["submission"] == "submission_003" and third["change"] == SCORES[2] - 85
    assert third["created_at"].startswith("2026-02-22")
    assert "submissions per minute" in proc.stdout and "Wrote" in proc.stdout
    assert "4/4 submissions" in proc.stderr  # the progress bar (a line per tenth when not on a terminal)


def test_each_submission_is_graded_exactly_as_grade_grades_it(regraded, export, fixtures, tmp_path):
    out, _ = regraded
    results = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(export / "submission_003"), "--results",
                           str(results), "--quiet", "--fixtures", str(fixtures)], cwd=PROJECT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    direct = [{k: t.get(k) for k in ("name", "number", "score", "max_score", "status", "visibility")}
              for t in json.loads(results.read_text())["tests"]]
    assert json.loads((out / "regrade.json").read_text())["submissions"][2]["tests"] == direct


def test_a_grader_failure_costs_only_that_submission(tmp_path):
    broken = tmp_path / "fixtures"
    broken.mkdir()
    (broken / "01_bad.yaml").write_text("name: [unclosed\n")
    document, error = grade_isolated(PROJECT / "reference", fixtures=broken)
    assert document["score"] == 0 and document["tests"] == []
    assert "01_bad.yaml" in error and "not valid YAML" in error


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing", "not a folder"),
    (lambda p: p, "no submission folders found"),
])
def test_wrong_export_is_one_line_error(tmp_path, make, words):
    proc = subprocess.run([sys.executable, "-m", "autograder", "regrade", str(make(tmp_path))], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_parallel_gradings_never_share_a_sandbox_account(monkeypatch):
    """Each check's clean-up removes what its account left in /tmp: two graders must not share one."""
    import threading
    import time as _time

    from autograder import regrade as regrade_module

    running: dict[str, int] = {}
    overlaps: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def fake_grade(submission, *, fixtures, config, timeout, account):
        with lock:
            assert account not in running, f"{account} used by two gradings at once"
            running[account] = 1
            overlaps.append(tuple(sorted(running)))
        _time.sleep(0.05)
        with lock:
            del running[account]
        return {"score": 0.0, "tests": []}, ""

    monkeypatch.setattr(regrade_module, "grade_isolated", fake_grade)
    monkeypatch.setattr(regrade_module.os, "geteuid", lambda: 0)
    results = regrade_module.grade_many([Path(f"s{i}") for i in range(6)], jobs=3)
    assert len(results) == 6
    assert max(len(o) for o in overlaps) > 1  # the gradings did run side by side
    assert {a for o in overlaps for a in o} <= {"autograder-sandbox", "autograder-sandbox-2", "autograder-sandbox-3"}
