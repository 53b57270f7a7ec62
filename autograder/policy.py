"""The optional submission policy, applied to a finished results document (never inside the check loop).

Two rules, both read from Gradescope's ``submission_metadata.json`` and
measured from its ``created_at`` (not the clock), so a rerun of the same
submission gives the same answer:

- at most K graded submissions in any window of H hours: a submission over
  the limit keeps the results of the latest submission that counted, with a
  note, as Gradescope's documentation suggests; it is marked in
  ``extra_data`` so later submissions do not count it;
- a late penalty: a percentage per started day after the due date (the
  latest one among the submitters, so extensions apply), capped.

Messages shown to students give no score: before grades are published, a
total would reveal how the hidden tests went. The numbers go to
``extra_data.policy`` for staff.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import AutograderError, FixtureError
from .fixtures import Case

_FRACTION = re.compile(r"(\.\d+)")
_OFFSET = re.compile(r"\s*([+-])(\d\d):?(\d\d)$")


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


def fixture_policy(cases: list[Case]) -> dict[str, Any]:
    """The policy the fixtures state (generated together, so they must agree); empty: none."""
    first = cases[0]
    for case in cases[1:]:
        if case.policy != first.policy:
            raise FixtureError(f"{case.path}: its policy differs from that of {first.path} (regenerate the fixtures)")
    return first.policy


def _counted(previous: dict[str, Any]) -> bool:
    """Whether an earlier submission counted toward the limit (ours mark those that did not)."""
    results = previous.get("results")
    if not isinstance(results, dict):
        return True
    marker = (results.get("extra_data") or {}).get("policy") if isinstance(results.get("extra_data"), dict) else None
    return not (isinstance(marker, dict) and marker.get("counted") is False)


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
        previous = metadata.get("previous_submissions") or []
        if not isinstance(previous, list):
            raise MetadataError(f"{where}: previous_submissions should be a list")
        for i, sub in enumerate(previous):
            if not isinstance(sub, dict) or "submission_time" not in sub:
                raise MetadataError(f"{where}: previous_submissions[{i}].submission_time is missing")
            when = parse_time(sub["submission_time"], f"{where}: previous_submissions[{i}].submission_time")
            if created - window < when <= created and _counted(sub):
                in_window += 1
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


def _latest_counted_results(metadata: dict[str, Any], where: str) -> dict[str, Any] | None:
    best: tuple[datetime, dict[str, Any]] | None = None
    for i, sub in enumerate(metadata.get("previous_submissions") or []):
        if isinstance(sub, dict) and isinstance(sub.get("results"), dict) and _counted(sub):
            when = parse_time(sub["submission_time"], f"{where}: previous_submissions[{i}].submission_time")
            if best is None or when > best[0]:
                best = (when, sub["results"])
    return best[1] if best else None


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
        previous = _latest_counted_results(metadata, where)
        result = json.loads(json.dumps(previous)) if previous else {"score": 0.0, "tests": []}
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
