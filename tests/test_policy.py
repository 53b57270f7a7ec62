"""The optional submission policy: a limit per time window and a late penalty, applied after grading."""

from __future__ import annotations

import json

import pytest
import yaml

from autograder.config import parse_assignment
from autograder.errors import ConfigError
from autograder.generate import build_case, load_reference_class, policy_document
from autograder.paths import DEFAULT_CONFIG
from autograder.policy import MetadataError, apply_policy, decide, earlier_submissions, parse_time
from helpers import PROJECT, make_root, problem_points, run_autograder

LIMIT = {"submissions": {"max": 2, "window_hours": 24.0}}
LATE = {"late": {"percent_per_day": 10.0, "max_percent": 25.0, "grace_minutes": 15.0}}
GRADED = {"score": 80.0, "output": "Visible tests: 40/50", "tests": [{"name": "t", "score": 80.0, "max_score": 100.0}]}


def metadata(created: str, previous: list[tuple[str, dict | None]] = (), due: str = "2026-03-01T23:59:00-05:00",
             user_due: str | None = None) -> dict:
    users = [{"name": "A", "email": "a@example.edu"}]
    if user_due:
        users[0]["assignment"] = {"due_date": user_due}
    return {
        "created_at": created,
        "assignment": {"due_date": due, "late_due_date": None, "title": "HW1"},
        "users": users,
        "previous_submissions": [{"submission_time": when, "score": (results or {}).get("score", 0.0),
                                  "results": results or {}} for when, results in previous],
    }


def results(score: float, *, counted: bool = True) -> dict:
    doc = {"score": score, "output": f"old output {score}", "tests": [{"name": "t", "score": score}]}
    if not counted:
        doc["extra_data"] = {"policy": {"counted": False}}
    return doc


def test_within_the_limit_is_graded_and_says_which_submission_it_is():
    meta = metadata("2026-02-20T12:00:00-05:00", [("2026-02-20T09:00:00-05:00", results(10))])
    out = apply_policy(GRADED, LIMIT, meta)
    assert out["score"] == 80.0 and out["tests"] == GRADED["tests"]
    assert out["output"].startswith("Submission limit: this is graded submission 2 of at most 2 in 24 hours.")
    assert out["extra_data"]["policy"]["counted"] is True
    assert GRADED["score"] == 80.0 and "extra_data" not in GRADED  # the input is left alone


def history(*entries: tuple[str, float, str]) -> list[dict]:
    """previous_submissions as Gradescope writes them: ``results`` only for the latest one.

    Each entry is (submission_time, score, kind), kind being "graded", "refused" (by this policy) or "error"
    (autograder_error: true). A refused submission's results are the kept ones, under the refusal note.
    """
    out = []
    for when, score, kind in entries:
        out.append({"submission_time": when, "score": score, "autograder_error": kind == "error", "results": {}})
    when, score, kind = entries[-1]
    latest = {"score": score, "output": f"old output {score:g}", "tests": [{"name": "t", "score": score}]}
    if kind == "refused":
        latest["output"] = "Submission limit: you have already made 2 graded submission(s) ...\n\n" + latest["output"]
        latest["extra_data"] = {"policy": {"counted": False, "graded_score": 99.0}}
    elif kind == "error":
        latest = {"score": 0.0, "output": "The autograder failed", "tests": []}
    out[-1]["results"] = latest
    return out


def gradescope_metadata(created: str, previous: list[dict]) -> dict:
    meta = metadata(created)
    meta["previous_submissions"] = previous
    return meta


REFUSED_TWICE = history(
    ("2026-02-19T09:00:00-05:00", 30.0, "graded"),
    ("2026-02-19T10:00:00-05:00", 60.0, "graded"),
    ("2026-02-19T11:00:00-05:00", 60.0, "refused"),   # kept the score of the 10:00 one
    ("2026-02-19T12:00:00-05:00", 60.0, "refused"),   # the latest: its results, with the marker, are given
)


def test_refused_submissions_do_not_count_toward_the_limit():
    # The next morning 09:00 has left the window; of the three left only 10:00 was graded.
    out = apply_policy(GRADED, LIMIT, gradescope_metadata("2026-02-20T09:30:00-05:00", REFUSED_TWICE))
    assert out["score"] == 80.0 and out["extra_data"]["policy"]["counted"] is True
    assert out["extra_data"]["policy"]["previous_in_window"] == 1
    assert out["output"].startswith("Submission limit: this is graded submission 2 of at most 2 in 24 hours.")


def test_failed_runs_do_not_count_toward_the_limit():
    previous = history(("2026-02-20T08:00:00-05:00", 0.0, "error"), ("2026-02-20T09:00:00-05:00", 0.0, "error"),
                       ("2026-02-20T10:00:00-05:00", 40.0, "graded"))
    out = apply_policy(GRADED, LIMIT, gradescope_metadata("2026-02-20T12:00:00-05:00", previous))
    assert out["score"] == 80.0 and out["extra_data"]["policy"]["previous_in_window"] == 1
    # and a failed run that is the latest, with results, does not count either
    previous = history(("2026-02-20T09:00:00-05:00", 40.0, "graded"), ("2026-02-20T10:00:00-05:00", 0.0, "error"))
    assert decide(LIMIT, gradescope_metadata("2026-02-20T12:00:00-05:00", previous)).previous_in_window == 1


def test_over_the_limit_after_a_refusal_keeps_the_latest_graded_results_once():
    out = apply_policy(GRADED, LIMIT, gradescope_metadata("2026-02-19T13:00:00-05:00", REFUSED_TWICE))
    assert out["score"] == 60.0 and out["tests"] == [{"name": "t", "score": 60.0}]
    assert out["output"].startswith("Submission limit: you have already made 2 graded submission(s) in the last 24 hours")
    assert out["output"].count("Submission limit:") == 1 and out["output"].endswith("old output 60")
    assert out["extra_data"]["policy"] == {"counted": False, "graded_score": 80.0, "late_days": 0,
                                           "penalty_percent": 0.0, "previous_in_window": 2, "kept": "results"}
    assert "80" not in out["output"]  # the new (possibly hidden) score is for staff only


def test_over_the_limit_after_a_graded_one_keeps_its_results():
    previous = history(("2026-02-20T09:00:00-05:00", 30.0, "graded"), ("2026-02-20T10:00:00-05:00", 60.0, "graded"))
    out = apply_policy(GRADED, LIMIT, gradescope_metadata("2026-02-20T12:00:00-05:00", previous))
    assert out["score"] == 60.0 and out["tests"] == [{"name": "t", "score": 60.0}]
    assert out["output"].endswith("\n\nold output 60") and out["extra_data"]["policy"]["counted"] is False


def test_over_the_limit_after_a_failed_run_keeps_the_latest_graded_score():
    previous = history(("2026-02-20T09:00:00-05:00", 30.0, "graded"), ("2026-02-20T10:00:00-05:00", 60.0, "graded"),
                       ("2026-02-20T11:00:00-05:00", 0.0, "error"))
    out = apply_policy(GRADED, LIMIT, gradescope_metadata("2026-02-20T12:00:00-05:00", previous))
    assert out["score"] == 60.0 and out["tests"] == []  # the failed run's results are not the graded ones
    assert out["extra_data"]["policy"]["kept"] == "score"


def test_an_unchanged_score_without_results_is_not_counted_in_the_students_favour():
    # 10:00 was graded with the same score as 09:00, but a refused one would look the same: not counted.
    previous = history(("2026-02-20T09:00:00-05:00", 50.0, "graded"), ("2026-02-20T10:00:00-05:00", 50.0, "graded"),
                       ("2026-02-20T11:00:00-05:00", 70.0, "graded"))
    meta = gradescope_metadata("2026-02-20T12:00:00-05:00", previous)
    assert [sub.counted for sub in earlier_submissions(meta)] == [True, False, True]
    three = {"submissions": {"max": 3, "window_hours": 24.0}}
    assert decide(three, meta).counted and decide(three, meta).previous_in_window == 2


def test_earlier_submissions_are_taken_in_time_order():
    previous = history(("2026-02-20T09:00:00-05:00", 30.0, "graded"), ("2026-02-20T10:00:00-05:00", 30.0, "graded"),
                       ("2026-02-20T11:00:00-05:00", 60.0, "graded"))
    shuffled = [previous[1], previous[2], previous[0]]
    found = earlier_submissions(gradescope_metadata("2026-02-20T12:00:00-05:00", shuffled))
    assert [(sub.when.hour, sub.counted) for sub in found] == [(9, True), (10, False), (11, True)]


def test_the_window_is_measured_from_created_at_so_reruns_agree():
    previous = [("2026-02-20T09:00:00Z", results(30)), ("2026-02-20T10:00:00.5Z", results(60))]
    assert decide(LIMIT, metadata("2026-02-21T09:00:01Z", previous)).counted  # the first has left the window
    assert not decide(LIMIT, metadata("2026-02-21T08:59:59Z", previous)).counted
    # same metadata, same decision, whenever it is run
    assert decide(LIMIT, metadata("2026-02-21T08:59:59Z", previous)) == decide(LIMIT, metadata("2026-02-21T08:59:59Z", previous))


def test_late_penalty_per_started_day_with_grace_and_cap():
    due = "2026-03-01T23:59:00-05:00"
    on_time = decide(LATE, metadata("2026-03-02T00:10:00-05:00", due=due))  # within 15 minutes of grace
    one_day = decide(LATE, metadata("2026-03-02T01:00:00-05:00", due=due))
    two_days = decide(LATE, metadata("2026-03-03T00:00:00-05:00", due=due))
    capped = decide(LATE, metadata("2026-03-09T00:00:00-05:00", due=due))
    assert (on_time.late_days, on_time.penalty_percent) == (0, 0.0)
    assert (one_day.late_days, one_day.penalty_percent) == (1, 10.0)
    assert (two_days.late_days, two_days.penalty_percent) == (2, 20.0)
    assert (capped.late_days, capped.penalty_percent) == (8, 25.0)
    out = apply_policy(GRADED, LATE, metadata("2026-03-03T00:00:00-05:00", due=due))
    assert out["score"] == 64.0
    assert out["output"].startswith("Late: submitted 2 day(s) after the due date, so 20 % of the score is taken off.")


def test_a_students_own_due_date_wins_over_the_assignments():
    meta = metadata("2026-03-03T00:00:00-05:00", due="2026-03-01T23:59:00-05:00", user_due="2026-03-04T23:59:00-05:00")
    assert decide(LATE, meta).penalty_percent == 0.0


def test_no_policy_changes_nothing():
    assert apply_policy(GRADED, {}, metadata("2026-03-03T00:00:00Z")) is GRADED


@pytest.mark.parametrize("meta, key", [
    ({}, "created_at"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"created_at": "2026-01-01T00:00:00Z", "previous_submissions": [{"score": 1}]}, "previous_submissions[0].submission_time"),
    ({"created_at": "2026-01-01T00:00:00Z", "previous_submissions": [{"submission_time": "2025-12-31T00:00:00Z",
                                                                     "score": "lots"}]}, "previous_submissions[0].score"),
    ({"created_at": "2026-01-01T00:00:00Z",
      "previous_submissions": [{"submission_time": "2025-12-31T00:00:00Z", "score": 1, "autograder_error": "no"}]},
     "previous_submissions[0].autograder_error"),
    ({"created_at": "2026-01-01T00:00:00Z", "previous_submissions": {"a": 1}}, "previous_submissions"),
])
def test_broken_metadata_names_the_key(meta, key):
    with pytest.raises(MetadataError) as info:
        decide({**LIMIT, **LATE}, meta, "meta.json")
    assert str(info.value).startswith("meta.json: ") and key in str(info.value)


def test_times_in_every_format_gradescope_writes():
    a = parse_time("2018-07-01T14:22:32.365935-07:00", "x")
    assert parse_time("2018-07-01T21:22:32.365935Z", "x") == a
    assert parse_time("2018-07-01 21:22:32.3659350 +00:00", "x") == a
    assert parse_time("2018-07-01T21:22:32.36Z", "x").microsecond == 360000


@pytest.mark.parametrize("policy, key", [
    ({"submissions": {"max": 0, "window_hours": 24}}, "policy.submissions.max"),
    ({"submissions": {"max": 3}}, "policy.submissions.window_hours"),
    ({"late": {"percent_per_day": 120}}, "policy.late.percent_per_day"),
    ({"late": {"percent_per_day": 5, "per_hour": 1}}, "policy.late.per_hour"),
    ({"limits": {}}, "policy.limits"),
])
def test_wrong_policy_config_names_the_key(tmp_path, policy, key):
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["policy"] = policy
    with pytest.raises(ConfigError) as info:
        parse_assignment(doc, tmp_path / "a.yaml")
    assert f": {key}:" in str(info.value)


def test_policy_travels_in_the_fixtures(tmp_path):
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["policy"] = {"submissions": {"max": 3, "window_hours": 12}, "late": {"percent_per_day": 5}}
    assignment = parse_assignment(doc, tmp_path / "a.yaml")
    first = assignment.cases[0]
    case = build_case(first, 1, assignment, load_reference_class(assignment, assignment.problems[first.problem]))
    assert case.policy == policy_document(assignment) == {
        "submissions": {"max": 3, "window_hours": 12.0},
        "late": {"percent_per_day": 5.0, "max_percent": 100.0, "grace_minutes": 0.0}}


def test_run_autograder_applies_the_policy_from_gradescopes_metadata(tmp_path):
    root = make_root(tmp_path, PROJECT / "reference")
    config = root / "source" / "autograder" / "assignment.yaml"
    config.write_text(config.read_text().replace("\ncases:", "\npolicy:\n  late: {percent_per_day: 10}\n\ncases:", 1))
    meta = metadata("2026-03-03T00:00:00-05:00", due="2026-03-01T23:59:00-05:00")
    (root / "submission_metadata.json").write_text(json.dumps(meta))
    document, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    full = problem_points()  # make_root's fixtures: the Softmax problem's, which the reference gets in full
    assert document["score"] == pytest.approx(0.8 * full) and sum(t["score"] for t in document["tests"]) == full
    assert document["output"].startswith("Late: submitted 2 day(s)")
    assert document["extra_data"]["policy"]["penalty_percent"] == 20.0


def _state_policy(fixtures, line: str, *, only_first: bool = False) -> None:
    """Write a policy into fixtures as generate would (a line before `checks:`), into every one or the first."""
    for fixture in sorted(fixtures.glob("*.yaml"))[:1 if only_first else None]:
        fixture.write_text(fixture.read_text().replace("\nchecks:\n", f"\n{line}\nchecks:\n", 1))


def test_the_packaged_grader_applies_the_policy_its_fixtures_state(tmp_path):
    """The Gradescope zip ships no config: the policy is the one the fixtures state, as grading read them."""
    root = make_root(tmp_path, PROJECT / "reference")
    (root / "source" / "autograder" / "assignment.yaml").unlink()
    _state_policy(root / "source" / "test_cases",
                  "policy: {late: {percent_per_day: 10.0, max_percent: 100.0, grace_minutes: 0.0}}")
    meta = metadata("2026-03-03T00:00:00-05:00", due="2026-03-01T23:59:00-05:00")
    (root / "submission_metadata.json").write_text(json.dumps(meta))
    document, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    full = problem_points()
    assert document["score"] == pytest.approx(0.8 * full) and sum(t["score"] for t in document["tests"]) == full
    assert document["extra_data"]["policy"]["penalty_percent"] == 20.0


def test_fixtures_that_disagree_on_the_policy_are_refused_naming_the_file(tmp_path):
    root = make_root(tmp_path, PROJECT / "reference")
    (root / "source" / "autograder" / "assignment.yaml").unlink()
    fixtures = root / "source" / "test_cases"
    _state_policy(fixtures, "policy: {late: {percent_per_day: 10.0, max_percent: 100.0, grace_minutes: 0.0}}",
                  only_first=True)
    document, proc = run_autograder(root)  # the staff's error on stderr; the student is told the grader failed
    assert document["score"] == 0 and "autograder itself failed" in document["output"]
    assert "policy differs" in proc.stderr and sorted(fixtures.glob("*.yaml"))[1].name in proc.stderr, proc.stderr


def test_unusable_metadata_keeps_the_graded_score_and_says_so(tmp_path):
    root = make_root(tmp_path, PROJECT / "reference")
    config = root / "source" / "autograder" / "assignment.yaml"
    config.write_text(config.read_text().replace("\ncases:", "\npolicy:\n  late: {percent_per_day: 10}\n\ncases:", 1))
    (root / "submission_metadata.json").write_text(json.dumps({"assignment": {}}))
    document, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    assert document["score"] == 100
    assert "could not be applied" in document["output"] and "created_at" in document["output"]
