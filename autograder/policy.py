"""The optional submission policy, applied to a finished results document (never inside the check loop).

Two rules, both read from Gradescope's ``submission_metadata.json`` and
measured from its ``created_at`` (not the clock), so a rerun of the same
submission gives the same answer:

- at most K graded submissions in any window of H hours: a submission over
  the limit keeps the results of the latest submission that counted, with a
  note, as Gradescope's documentation suggests; it is marked in
  ``extra_data`` (``policy.counted: false``) so later submissions do not
  count it;
- a late penalty: a percentage per started day after the due date (the
  latest one among the submitters, so extensions apply), capped.

Which earlier submissions count. Only graded ones: not those with
``autograder_error: true`` (the grader failed, the student is not to blame)
and not those this policy refused. Gradescope gives ``submission_time``,
``score`` and ``autograder_error`` for every earlier submission but its
``results`` only for the latest one, so:

- where ``results`` are given (the latest earlier submission) the refusal
  marker is read: exact;
- for the others it cannot be known whether they were refused. What is known
  is that a refused submission keeps the results, hence the score, of the
  latest counted one. Going through them in time order, a submission whose
  score differs from that of the latest counted one before it was certainly
  graded and counts; one whose score is the same may have been refused or
  graded with an unchanged score, and is not counted. A missing score is
  not counted either.

The rule errs only in the student's favour: it may fail to count a graded
submission whose score did not change (so a student may get more than K
graded runs while the score stays the same), never counts a refused or
failed one.

When a submission is refused, the kept results are those of the latest
earlier submission when it counted, or the very results it kept when it was
itself refused; when the latest earlier one failed (no usable results), only
the latest counted score is known and is kept, without the tests.

Messages shown to students give no score: before grades are published, a
total would reveal how the hidden tests went. The numbers go to
``extra_data.policy`` for staff.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import AutograderError
from .text import LazyPattern

_FRACTION = LazyPattern(r"(\.\d+)")
_OFFSET = LazyPattern(r"\s*([+-])(\d\d):?(\d\d)$")


class MetadataError(AutograderError):
    """submission_metadata.json is unreadable or lacks what the policy needs; names the file and key."""


@dataclass(frozen=True)
class Decision:
    """What the policy did to one submission."""

    counted: bool  # False: over the submission limit, previous results kept
    late_days: int = 0
    penalty_percent: float = 0.0
    previous_in_window: int = 0
    lines: tuple[str, ...] = ()


def parse_time(text: Any, where: str) -> datetime:
    """An ISO 8601 time as Gradescope writes it (any number of fraction digits, 'Z' or an offset)."""
    if isinstance(text, datetime):
        stamp = text
    elif isinstance(text, str):
        cleaned = text.strip().replace("Z", "+00:00").replace(" ", "T", 1)
        cleaned = _OFFSET.sub(r"\1\2:\3", cleaned)  # "-0500" or " -05:00" -> "-05:00" (Python 3.10 needs that)
        cleaned = _FRACTION.sub(lambda m: (m.group(1) + "000000")[:7], cleaned, count=1)
        try:
            stamp = datetime.fromisoformat(cleaned)
        except ValueError:
            raise MetadataError(f"{where}: not a date and time: {text!r}") from None
    else:
        raise MetadataError(f"{where}: should be a date and time, found {text!r}")
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def load_metadata(path: Path) -> dict[str, Any]:
    """Read submission_metadata.json; errors name the file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise MetadataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{path}: should be a JSON object")
    return doc


@dataclass(frozen=True)
class Earlier:
    """One earlier submission as the policy sees it."""

    when: datetime
    counted: bool  # graded and counted toward the limit (see the module docstring for what is known)
    score: float | None
    results: dict[str, Any] | None  # Gradescope gives them for the latest earlier submission only
    failed: bool  # autograder_error: true


def _refused(results: dict[str, Any]) -> bool:
    """Whether a results document is one this policy refused (the ``extra_data.policy.counted`` marker)."""
    extra = results.get("extra_data")
    marker = extra.get("policy") if isinstance(extra, dict) else None
    return isinstance(marker, dict) and marker.get("counted") is False


def _score(value: Any, where: str) -> float | None:
    """An earlier submission's score as a number; None when it is missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MetadataError(f"{where}: should be a number, found {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetadataError(f"{where}: should be a number, found {value!r}") from None
    if not math.isfinite(number):
        raise MetadataError(f"{where}: should be a finite number, found {value!r}")
    return number


def _same_score(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def earlier_submissions(metadata: dict[str, Any], where: str = "submission_metadata.json") -> list[Earlier]:
    """The earlier submissions in time order, each marked counted or not (rule in the module docstring)."""
    previous = metadata.get("previous_submissions") or []
    if not isinstance(previous, list):
        raise MetadataError(f"{where}: previous_submissions should be a list")
    raw = []
    for i, sub in enumerate(previous):
        key = f"{where}: previous_submissions[{i}]"
        if not isinstance(sub, dict) or "submission_time" not in sub:
            raise MetadataError(f"{key}.submission_time is missing")
        when = parse_time(sub["submission_time"], f"{key}.submission_time")
        failed = sub.get("autograder_error", False)
        if not isinstance(failed, bool):
            raise MetadataError(f"{key}.autograder_error: should be true or false, found {failed!r}")
        results = sub.get("results") if isinstance(sub.get("results"), dict) and sub.get("results") else None
        raw.append((when, i, _score(sub.get("score"), f"{key}.score"), results, failed))
    raw.sort(key=lambda item: (item[0], item[1]))
    out: list[Earlier] = []
    latest_counted_score: float | None = None
    for when, _, score, results, failed in raw:
        if failed:
            counted = False
        elif results is not None:  # Gradescope gives them for the latest one: the marker is there to read, exact
            counted = not _refused(results)
        else:  # a refused one has the score of the latest counted one; a different score was graded
            counted = score is not None and not _same_score(score, latest_counted_score)
        if counted:
            latest_counted_score = score
        out.append(Earlier(when=when, counted=counted, score=score, results=results, failed=failed))
    return out


def _due_date(metadata: dict[str, Any], where: str) -> datetime | None:
    """The latest due date among the submitters (their own, with extensions), else the assignment's."""
    dates = []
    for i, user in enumerate(metadata.get("users") or []):
        if isinstance(user, dict) and isinstance(user.get("assignment"), dict) and user["assignment"].get("due_date"):
            dates.append(parse_time(user["assignment"]["due_date"], f"{where}: users[{i}].assignment.due_date"))
    if dates:
        return max(dates)
    assignment = metadata.get("assignment")
    if isinstance(assignment, dict) and assignment.get("due_date"):
        return parse_time(assignment["due_date"], f"{where}: assignment.due_date")
    return None


def decide(policy: dict[str, Any], metadata: dict[str, Any], where: str = "submission_metadata.json") -> Decision:
    """Apply the policy's rules to one submission's metadata."""
    if "created_at" not in metadata:
        raise MetadataError(f"{where}: created_at is missing")
    created = parse_time(metadata["created_at"], f"{where}: created_at")
    lines: list[str] = []
    limit = policy.get("submissions")
    in_window = 0
    if limit:
        window = timedelta(hours=float(limit["window_hours"]))
        in_window = sum(1 for sub in earlier_submissions(metadata, where)
                        if sub.counted and created - window < sub.when <= created)
        allowed = int(limit["max"])
        hours = f"{float(limit['window_hours']):g} hours"
        if in_window >= allowed:
            lines.append(f"Submission limit: you have already made {in_window} graded submission(s) in the last {hours}, "
                         f"the most allowed is {allowed}. This submission was not graded; your results stay those of "
                         "your latest graded submission. Try again later.")
            return Decision(counted=False, previous_in_window=in_window, lines=tuple(lines))
        lines.append(f"Submission limit: this is graded submission {in_window + 1} of at most {allowed} in {hours}.")
    late = policy.get("late")
    days, penalty = 0, 0.0
    if late:
        due = _due_date(metadata, where)
        if due is not None and created > due + timedelta(minutes=float(late.get("grace_minutes", 0.0))):
            days = math.ceil((created - due) / timedelta(days=1))
            penalty = min(float(late.get("max_percent", 100.0)), float(late["percent_per_day"]) * days)
            lines.append(f"Late: submitted {days} day(s) after the due date, so {penalty:g} % of the score is taken off.")
    return Decision(counted=True, late_days=days, penalty_percent=penalty, previous_in_window=in_window,
                    lines=tuple(lines))


def kept_results(metadata: dict[str, Any], where: str = "submission_metadata.json") -> tuple[dict[str, Any], str]:
    """The results a refused submission keeps (those of the latest counted one), and what they are made of."""
    earlier = earlier_submissions(metadata, where)
    latest = earlier[-1] if earlier else None
    if latest is not None and latest.results is not None and not latest.failed:
        kept = json.loads(json.dumps(latest.results))
        if not latest.counted:  # itself refused: it holds the kept results, under its own note; drop that note
            text = str(kept.get("output", ""))
            if text.startswith("Submission limit:"):
                kept["output"] = text.split("\n\n", 1)[1] if "\n\n" in text else ""
        return kept, "results"
    scores = [sub.score for sub in earlier if sub.counted and sub.score is not None]
    if scores:
        return {"score": scores[-1], "tests": [], "output": ""}, "score"
    return {"score": 0.0, "tests": [], "output": ""}, "none"


def apply_policy(document: dict[str, Any], policy: dict[str, Any], metadata: dict[str, Any],
                 where: str = "submission_metadata.json") -> dict[str, Any]:
    """A new results document with the policy applied and reported (the input is not changed)."""
    if not policy:
        return document
    decision = decide(policy, metadata, where)
    graded_score = float(document.get("score", sum(t.get("score", 0.0) for t in document.get("tests", []))))
    staff = {"counted": decision.counted, "graded_score": graded_score, "late_days": decision.late_days,
             "penalty_percent": decision.penalty_percent, "previous_in_window": decision.previous_in_window}
    if not decision.counted:
        result, staff["kept"] = kept_results(metadata, where)
        result.setdefault("tests", [])
        result["output"] = "\n".join((*decision.lines, "", str(result.get("output", "")))).rstrip("\n")
    else:
        result = json.loads(json.dumps(document))
        if decision.penalty_percent:
            result["score"] = round(graded_score * (1 - decision.penalty_percent / 100.0), 6)
        if decision.lines:
            result["output"] = "\n".join((*decision.lines, "", str(result.get("output", "")))).rstrip("\n")
    extra = result.get("extra_data") if isinstance(result.get("extra_data"), dict) else {}
    result["extra_data"] = {**extra, "policy": staff}
    result["output_format"] = result.get("output_format", "text")
    return result
