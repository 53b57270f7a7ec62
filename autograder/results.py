"""Results as dataclasses, and the one function that turns them into Gradescope's JSON.

The JSON is produced by gradescope-utils' ``JSONTestResult`` (what its
``JSONTestRunner`` runs tests with) over one generated unittest method per
check, decorated with its weight, number, visibility and tags; the runner
itself is not used, as all it adds is writing the JSON out (indented, by
the json module's slow path) for this module to read back, and neither are the methods: each check's
outcome is known, and is reported to the result as running its method would report it (startTest,
addSuccess or addFailure with the check's text, stopTest), which costs a grading of the whole homework
about a millisecond less than unittest's machinery for running them. Its known pitfalls are avoided on purpose: no
``subTest`` (dropped), no ``setUpClass`` (crashes without output), and the
test name is set as the method's one-line docstring (where it reads names).
"""

from __future__ import annotations

import io
import os
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradescope_utils.autograder_utils.decorators import number, tags, visibility, weight
from gradescope_utils.autograder_utils.json_test_runner import JSONTestResult

from .text import clean


@dataclass
class CheckResult:
    """One graded check: one Gradescope test."""

    name: str
    number: str
    case: str
    method: str
    max_score: float
    score: float
    visibility: str
    tags: tuple[str, ...]
    passed: bool = False
    message: str = ""  # why it failed, or a note on a passed (e.g. informational) check
    output: str = ""  # what the student's code printed during this check
    seconds: float = 0.0
    mistakes: tuple[str, ...] = ()  # catalogued mistakes diagnosed (their names in the config); in the test's extra_data


@dataclass
class GradingResult:
    """A whole submission's result."""

    checks: list[CheckResult]
    submission_file: str | None = None
    execution_time: float = 0.0
    notes: list[str] = field(default_factory=list)  # shown at the top, to everyone: no hidden data here
    warnings: list[str] = field(default_factory=list)  # for the staff only (the grader's stderr), never in results
    policy: dict[str, Any] = field(default_factory=dict)  # the submission policy its fixtures state (policy.py)

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)


def _output_text(check: CheckResult) -> str:
    parts = [check.message] if check.message else []
    if check.output.strip():
        parts.append("--- output printed by your code ---\n" + check.output.rstrip("\n"))
    return "\n\n".join(parts)


def _make_method(check: CheckResult, text: str):  # noqa: ANN202 - a unittest method
    """The check as a unittest method; `text`, its output (cleaned), is a failed one's exception."""
    def method(self: unittest.TestCase) -> None:
        if not check.passed:
            raise AssertionError(text)  # a passed check's text is its output: see to_gradescope

    method.__doc__ = clean(check.name.replace("\n", " "))
    decorated = weight(check.max_score)(number(check.number)(visibility(check.visibility)(tags(*check.tags)(method))))
    return decorated


def summary_lines(result: GradingResult) -> list[str]:
    """Top-level text: notes and the visible score, with nothing about hidden tests but their count."""
    visible = [c for c in result.checks if c.visibility == "visible"]
    lines = list(result.notes)
    if result.submission_file:
        lines.append(f"Graded file: {result.submission_file}")
    lines.append(f"Visible tests: {sum(c.score for c in visible):g}/{sum(c.max_score for c in visible):g} points, "
                 f"{sum(c.passed for c in visible)} of {len(visible)} passed.")
    hidden = len(result.checks) - len(visible)
    if hidden:
        lines.append(f"{hidden} more test(s) are hidden until grades are released.")
    return lines


def to_gradescope(result: GradingResult) -> dict[str, Any]:
    """The Gradescope results document for a submission.

    Every string in it that holds student-controlled text (test names and
    outputs, the top-level output) goes through text.clean, here at the exit.
    """
    texts = [clean(_output_text(check)) for check in result.checks]
    methods = {f"test_{i:03d}": _make_method(check, text)
               for i, (check, text) in enumerate(zip(result.checks, texts))}
    suite_class = type("GradedChecks", (unittest.TestCase,), methods)

    def post_process(data: dict[str, Any]) -> None:
        data.pop("leaderboard", None)
        data["score"] = round(sum(t.get("score", 0.0) for t in data["tests"]), 6)
        data["execution_time"] = round(result.execution_time, 3)
        data["output"] = clean("\n".join(summary_lines(result)))
        data["output_format"] = "text"
        data["test_output_format"] = "text"
        data["stdout_visibility"] = "hidden"
        for test, check, text in zip(data["tests"], result.checks, texts):
            test["tags"] = list(test.get("tags", []))
            test["name"] = clean(str(test.get("name", check.name)))
            # a passed check's text, as printing it made it (a failed one's came with its exception)
            test["output"] = f"{text}\n" if check.passed and text else clean(str(test.get("output", "")))
            test["output_format"] = "text"
            if check.mistakes:
                test["extra_data"] = {"mistakes": list(check.mistakes)}

    document: dict[str, Any] = {"tests": []}
    outcome = JSONTestResult(io.StringIO(), True, 1, document["tests"], [], "")  # as JSONTestRunner makes it
    # Each check's outcome as running its method would report it (not buffered: none prints; a failed one's
    # text is its exception's), without unittest's machinery for running a method whose outcome is known.
    for test, check, text in zip(map(suite_class, methods), result.checks, texts):  # in the checks' order
        outcome.startTest(test)
        if check.passed:
            outcome.addSuccess(test)
        else:
            outcome.addFailure(test, (AssertionError, AssertionError(text), None))
        outcome.stopTest(test)
    post_process(document)
    return document


def write_results(document: dict[str, Any], path: Path) -> None:
    """Write the results file in one piece (see results_file for the space reserved before grading)."""
    from .results_file import ResultsFile

    ResultsFile(Path(path), None).commit(document)


def failure_document(message: str) -> dict[str, Any]:
    """Results for when the grader itself failed: valid, zero, and saying why."""
    return {
        "score": 0.0,
        "execution_time": 0.0,
        "output": clean("The autograder could not grade this submission because of an error on our side, "
                        "not in your code. Please tell the course staff.\n\n" + message),
        "stdout_visibility": "hidden",
        "tests": [],
    }
