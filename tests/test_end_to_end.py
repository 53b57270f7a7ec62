"""run_autograder end to end, in a temporary AUTOGRADER_ROOT, as Gradescope would run it."""

from __future__ import annotations

import json
import os

import pytest

from autograder.fixtures import load_cases

from helpers import (DEMO_FAILS, FIXTURES, PROJECT, SUBMISSIONS, by_name, failed_names, grade_file, make_root,
                     problem_checks, problem_points, run_autograder)


def test_reference_scores_full_marks(tmp_path):
    """On the whole assignment (every problem's fixtures): the reference deserves every point."""
    results = grade_file(tmp_path, PROJECT / "reference", problem=None)
    assert results["score"] == sum(check.points for case in load_cases(FIXTURES) for check in case.checks) > 0
    assert all(t["status"] == "passed" for t in results["tests"])


def test_template_scores_zero_and_says_not_implemented(tmp_path):
    results = grade_file(tmp_path, PROJECT / "student_template", problem=None)
    assert results["score"] == 0
    first = by_name(results)["writeup_example: forward (A)"]
    assert "not implemented yet" in first["output"]


def test_writeup_code_loses_only_stability_forward(tmp_path):
    results = grade_file(tmp_path, SUBMISSIONS / "demo")
    failed = failed_names(results) - {"efficiency: backward (informational)"}  # zero points, timing-dependent
    assert {"stability_thousands: forward (A)", "hidden_stability: forward (A)"} <= set(DEMO_FAILS())
    assert failed == set(DEMO_FAILS())
    assert results["score"] == problem_points() - sum(DEMO_FAILS().values())


def test_results_follow_gradescope_shape(tmp_path):
    results = grade_file(tmp_path, SUBMISSIONS / "demo")
    assert set(results) >= {"score", "execution_time", "output", "tests"}
    assert isinstance(results["execution_time"], float)
    assert results["score"] == sum(t["score"] for t in results["tests"])
    numbers = [t["number"] for t in results["tests"]]
    assert len(numbers) == len(set(numbers)) == len(problem_checks()) + 1  # the graded checks, then the efficiency note
    for test in results["tests"]:
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "tags", "visibility"}
        assert test["status"] in ("passed", "failed")
        if "efficiency" in test["tags"]:
            assert test["max_score"] == 0 and test is results["tests"][-1]
            continue
        assert ("forward" in test["tags"]) != ("backward" in test["tags"])
        if test["name"].startswith(("stability", "hidden_stability")):
            assert "stability" in test["tags"]
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert hidden and all(t["name"].startswith("hidden_") for t in hidden)
    assert "hidden_" not in results["output"]


def test_missing_file_still_writes_complete_results(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    results = grade_file(tmp_path, empty)
    assert results["score"] == 0 and {t["name"] for t in results["tests"]} == problem_checks()
    assert all("no activation.py found" in t["output"] for t in results["tests"])


def test_grader_crash_still_writes_valid_results(tmp_path):
    root = make_root(tmp_path, PROJECT / "reference")
    (root / "source" / "autograder" / "grade.py").write_text("raise RuntimeError('broken grader')\n")
    results, proc = run_autograder(root)
    assert proc.returncode == 0
    assert results["score"] == 0 and results["tests"] == []
    assert "autograder itself failed" in results["output"]
    json.dumps(results)


def test_config_is_read_only_after_the_zygote_is_forked(monkeypatch, tmp_path):
    """The config names hidden cases' seeds: it must never be in a forked worker's memory."""
    from autograder import grade
    from autograder.config import load_limits

    events = []
    real_sandbox = grade.open_sandbox

    def recording_sandbox(*args, **kwargs):
        events.append("zygote forked")
        return real_sandbox(*args, **kwargs)

    def limits():
        events.append("config read")
        return load_limits(PROJECT / "autograder" / "assignment.yaml")

    monkeypatch.setattr(grade, "open_sandbox", recording_sandbox)
    result = grade.grade_submission(PROJECT / "reference", limits=limits)
    assert events == ["zygote forked", "config read"]
    assert result.score == result.max_score


def _fixtures_copy(tmp_path, indexed: bool):
    """A copy of the Softmax assignment's fixtures, indexed as setup.sh leaves them or not."""
    import shutil

    from autograder.fixture_index import INDEX_NAME, write_index

    copy = tmp_path / "test_cases"
    shutil.copytree(PROJECT / "test_cases", copy, ignore=shutil.ignore_patterns(INDEX_NAME))
    if indexed:
        write_index(copy)
    return copy


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="late imports are made as root only")
@pytest.mark.parametrize("indexed", [False, True], ids=["yaml", "index"])
def test_as_root_what_grading_may_import_later_is_imported_before_student_code_runs(indexed, sandbox_account,
                                                                                     monkeypatch, tmp_path):
    """Every module grading may need once student code ran is imported before the hosts import it (prepare);
    PyYAML among them unless every fixture and feedback file is indexed as it is (then it is never needed)."""
    import sys

    from autograder import grade
    from autograder.sandbox.runner import Sandbox

    copy = _fixtures_copy(tmp_path, indexed)
    events = []
    real_late, real_prepare = grade.import_late_modules, Sandbox.prepare

    def recording_late(*, with_yaml=True, **others):
        events.append(f"late imports, yaml {with_yaml}")
        real_late(with_yaml=with_yaml, **others)
        assert ("yaml" in sys.modules) or not with_yaml

    def recording_prepare(self, *targets):
        events.append("hosts import")
        return real_prepare(self, *targets)

    monkeypatch.setattr(grade, "import_late_modules", recording_late)
    monkeypatch.setattr(Sandbox, "prepare", recording_prepare)
    result = grade.grade_submission(PROJECT / "reference", fixtures=copy)
    assert events == [f"late imports, yaml {not indexed}", "hosts import"]
    assert result.score == result.max_score


# Grades argv[1] against the fixtures argv[2] as root, in a process of its own (whose PyYAML is imported only if
# grading imports it), and prints the score, or the error, then every module the grader's process imported once
# the hosts started importing student code (Sandbox.prepare): each a module read from disk when student code
# could have written there.
LATE_IMPORTS = """
import os, sys
from pathlib import Path
from autograder.grade import grade_submission
from autograder.sandbox.runner import Sandbox
grader, late, real_prepare = os.getpid(), [], Sandbox.prepare
def hook(event, args):
    if event == "import" and os.getpid() == grader and args[0] not in sys.modules:
        late.append(args[0])
def prepare(self, *targets):
    sys.addaudithook(hook)
    return real_prepare(self, *targets)
Sandbox.prepare = prepare
try:
    result = grade_submission(Path(sys.argv[1]), fixtures=Path(sys.argv[2]))
    print("score", result.score, result.max_score)
except Exception as exc:
    print(type(exc).__name__, exc)
print("late:", *sorted(set(late)))
"""


def _graded_as_root(submission, fixtures) -> list[str]:
    """LATE_IMPORTS's output lines (the caller holds the test account: sandbox_account)."""
    import subprocess
    import sys

    from helpers import TEST_ACCOUNT

    proc = subprocess.run([sys.executable, "-c", LATE_IMPORTS, str(submission), str(fixtures)], cwd=PROJECT,
                          env=dict(os.environ, AUTOGRADER_SANDBOX_USER=TEST_ACCOUNT), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="late imports are made as root only")
@pytest.mark.parametrize("folder", ["indexed", "handout"])
def test_as_root_hints_import_nothing_once_student_code_ran(folder, sandbox_account, tmp_path):
    """A wrong submission's hints read the feedback: from the index (no PyYAML), and in a handout-like folder
    its stored values too (an .npz, a zip np.load reads, looked up by a SHA-256): all that takes is imported
    before student code runs."""
    from autograder.fixture_index import write_index
    from autograder.package import handout_feedback

    copy = _fixtures_copy(tmp_path, indexed=False)
    if folder == "handout":
        visible = [case for case in load_cases(copy) if case.visibility == "visible"]
        for case in load_cases(copy):
            if case.visibility != "visible":
                case.path.unlink()
        for name, (data, _) in handout_feedback(visible).items():
            (tmp_path / name).write_bytes(data)
        assert list(copy.glob("feedback/*.npz"))
    write_index(copy)
    score, late = _graded_as_root(SUBMISSIONS / "wrong_axis.py", copy)
    assert score.startswith("score ") and float(score.split()[1]) > 0
    assert late == "late:"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="late imports are made as root only")
@pytest.mark.parametrize("damage", ["entry of other bytes", "cut short", "feedback entry missing"])
def test_as_root_an_index_whose_head_vouches_for_what_it_cannot_give_is_refused(damage, sandbox_account, tmp_path):
    """Its head vouching for every file, grading imports no PyYAML before student code runs: an entry that then
    cannot be used could be read from its YAML only by importing PyYAML then. The grading is refused, naming the
    index, and nothing is imported."""
    import marshal

    from autograder.fixture_index import INDEX_NAME

    copy = _fixtures_copy(tmp_path, indexed=True)
    data = (copy / INDEX_NAME).read_bytes()
    length = int.from_bytes(data[:8], "big")
    head, cases = marshal.loads(data[8:8 + length]), marshal.loads(data[8 + length:])
    if damage == "entry of other bytes":
        cases["files"][sorted(cases["files"])[-1]]["checksum"] = "1:00000000"
    elif damage == "feedback entry missing":
        cases["feedback"].clear()
    second = marshal.dumps(cases, 4)
    if damage == "cut short":
        second = second[:len(second) // 2]
    (copy / INDEX_NAME).write_bytes(data[:8 + length] + second)
    error, late = _graded_as_root(SUBMISSIONS / "wrong_axis.py", copy)
    assert error.startswith(f"FixtureError {copy / INDEX_NAME}: damaged") and "python -m autograder index" in error
    assert late == "late:"


@pytest.mark.parametrize("indexed", [False, True], ids=["yaml", "index"])
def test_fixtures_are_read_only_after_the_zygote_is_forked(indexed, monkeypatch, tmp_path):
    """Fixtures hold the expected answers: not one may be in memory when the zygote is forked, from their
    YAML or from the index setup.sh writes."""
    from autograder import fixtures, grade

    copy = _fixtures_copy(tmp_path, indexed)
    events = []
    real_sandbox, real_load = grade.open_sandbox, fixtures._load_case
    real_index, real_head = grade.read_index, grade.index_head

    def recording_sandbox(*args, **kwargs):
        events.append("zygote forked")
        return real_sandbox(*args, **kwargs)

    def recording_load(path, graded_only, seen, parsed=None):  # every fixture file not indexed is read here
        if not (parsed and graded_only and path in parsed):
            events.append("fixture read")
        return real_load(path, graded_only, seen, parsed)

    def recording_index(folder, verified):
        events.append("index read")
        return real_index(folder, verified)

    def recording_head(folder):
        events.append("index read")
        return real_head(folder)

    monkeypatch.setattr(grade, "open_sandbox", recording_sandbox)
    monkeypatch.setattr(fixtures, "_load_case", recording_load)
    monkeypatch.setattr(grade, "read_index", recording_index)
    monkeypatch.setattr(grade, "index_head", recording_head)
    result = grade.grade_submission(PROJECT / "reference", fixtures=copy)
    assert events[0] == "zygote forked" and events.count("zygote forked") == 1
    assert events.count("index read") == 2  # its head, then its cases
    assert events.count("fixture read") == (0 if indexed else len(list(copy.glob("*.yaml"))))
    assert result.score == result.max_score
