"""What a regraded class got wrong, as data: the numbers the class report (class_page.py) shows.

Everything is read from the results documents regrade collected: scores,
per-test status and visibility, and the catalogue mistakes the grader
diagnosed in each failed test (the test's ``extra_data.mistakes``). Which
problem a test belongs to comes from the fixtures (``problems_of``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .grade import unreferenced

# A test's message starts so when the submission's code never ran: its file was not found or
# could not be imported (grade.py, the sandbox). Every test failing so: the submission was not graded.
NOT_GRADED_SIGNS = ("Not graded:", "Your file could not be imported:", "Importing your file took longer than")
# A test's message starts so when a time limit stopped it (the sandbox's words), with the limit's name.
LIMIT_SIGNS = (
    ("The call did not return within its time limit", "call time limit"),
    ("Importing your file took longer than", "import time limit"),
    ("The time budget of", "time budget of the submission"),
)
UNKNOWN_PROBLEM = "(tests not in the fixtures)"
SLOWEST_SHOWN = 5


@dataclass(frozen=True)
class Submission:
    """One graded submission, as regrade saw it (regrade.Graded, reduced to what the report needs)."""

    name: str
    people: tuple[str, ...]
    score: float
    max_score: float
    previous: float | None
    seconds: float
    tests: tuple[dict[str, Any], ...]
    error: str = ""  # the grader itself failed


@dataclass(frozen=True)
class PassRate:
    """How many gradable submissions passed one test."""

    name: str
    number: str
    problem: str
    visibility: str
    max_score: float
    passed: int
    graded: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class MistakeCount:
    """One catalogue mistake the grader diagnosed: who made it and where it showed."""

    name: str
    problem: str
    hint: str
    submissions: tuple[str, ...]
    tests: tuple[str, ...]

    @property
    def students(self) -> int:
        return len(self.submissions)


@dataclass(frozen=True)
class ProblemStats:
    """One problem: its tests (hardest first), its mistakes (commonest first), what was not diagnosed."""

    name: str
    tests: tuple[PassRate, ...]
    mistakes: tuple[MistakeCount, ...]
    undiagnosed_tests: int  # failed tests of gradable submissions with no catalogue mistake named
    undiagnosed_submissions: tuple[str, ...]


@dataclass(frozen=True)
class LimitHit:
    """A time limit that stopped tests: which submissions, how many tests."""

    limit: str
    submissions: tuple[str, ...]
    tests: int


@dataclass(frozen=True)
class ScoreStats:
    """The score distribution now, and the export's earlier scores where it has them."""

    scores: tuple[float, ...]
    max_score: float
    previous: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def previous_mean(self) -> float | None:
        return statistics.fmean(self.previous) if self.previous else None

    @property
    def previous_median(self) -> float | None:
        return statistics.median(self.previous) if self.previous else None


@dataclass(frozen=True)
class ClassStats:
    """Everything the class report shows."""

    submissions: tuple[Submission, ...]
    scores: ScoreStats
    problems: tuple[ProblemStats, ...]
    not_graded: tuple[tuple[str, str], ...]  # (submission, why)
    slowest: tuple[Submission, ...]
    limits: tuple[LimitHit, ...]

    @property
    def graded_count(self) -> int:
        return len(self.submissions) - len(self.not_graded)


def problems_of(fixtures: Path) -> dict[str, str]:
    """Test name -> the problem it grades (the class, and its file), from the fixtures' metadata."""
    from .fixtures import load_cases
    from .grade import check_name

    return {check_name(case, check): f"{case.problem.class_name} ({case.problem.file})"
            for case in load_cases(fixtures, graded_only=True) for check in case.checks}


def mistake_hints(fixtures: Path) -> dict[str, dict[str, str]]:
    """Each problem's catalogued mistakes and their hints (problem, as problems_of names it -> mistake -> hint),
    from the fixtures: those stored with the cases and those in the problems' feedback."""
    from .feedback import feedback_of
    from .fixtures import load_cases

    hints: dict[str, dict[str, str]] = {}
    for case in load_cases(fixtures, graded_only=True):
        mine = hints.setdefault(f"{case.problem.class_name} ({case.problem.file})", {})
        mine.update(case.hints)
        mine.update({m.name: m.hint for m in feedback_of(case).mistakes})
    return hints


def mistakes_named(test: Mapping[str, Any]) -> list[str]:
    """The catalogue mistakes the grader named in one test of a results document."""
    extra = test.get("extra_data")
    names = extra.get("mistakes") if isinstance(extra, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else []


def not_graded_reason(submission: Submission) -> str | None:
    """Why none of a submission's code ran (grader error, no file, import failed), or None if it was graded."""
    if submission.error:
        return f"grader error: {submission.error}"
    graded = [t for t in submission.tests if float(t.get("max_score", 0.0)) > 0]
    if not graded:
        return "no tests in the results"
    firsts = [unreferenced(str(t.get("output", "")).strip().split("\n", 1)[0]) for t in graded]
    if all(t.get("status") == "failed" for t in graded) and all(f.startswith(NOT_GRADED_SIGNS) for f in firsts):
        return firsts[0]
    return None


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in number.split("."))


def _problem_stats(name: str, graded: Sequence[Submission], problem_of: Mapping[str, str],
                   hints: Mapping[str, str]) -> ProblemStats:
    rates: dict[str, dict[str, Any]] = {}
    shown: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"submissions": [], "tests": []})
    undiagnosed: list[str] = []
    undiagnosed_tests = 0
    for sub in graded:
        for test in sub.tests:
            test_name = str(test.get("name", "?"))
            if problem_of.get(test_name, UNKNOWN_PROBLEM) != name or float(test.get("max_score", 0.0)) <= 0:
                continue
            rate = rates.setdefault(test_name, {"number": str(test.get("number", "")), "passed": 0, "graded": 0,
                                                "visibility": str(test.get("visibility", "visible")),
                                                "max_score": float(test.get("max_score", 0.0))})
            rate["graded"] += 1
            rate["passed"] += test.get("status") == "passed"
            named = mistakes_named(test)
            for mistake in named:
                seen = shown[mistake]
                if sub.name not in seen["submissions"]:
                    seen["submissions"].append(sub.name)
                if test_name not in seen["tests"]:
                    seen["tests"].append(test_name)
            if test.get("status") == "failed" and not named:
                undiagnosed_tests += 1
                if sub.name not in undiagnosed:
                    undiagnosed.append(sub.name)
    tests = sorted((PassRate(name=t, problem=name, **r) for t, r in rates.items()),
                   key=lambda t: (t.rate, _number_key(t.number), t.name))
    order = {t: _number_key(r["number"]) for t, r in rates.items()}
    counts = [MistakeCount(name=m, problem=name, hint=hints.get(m, ""),
                           submissions=tuple(seen["submissions"]),
                           tests=tuple(sorted(seen["tests"], key=lambda t: (order.get(t, ()), t))))
              for m, seen in shown.items()]
    counts.sort(key=lambda m: (-m.students, m.name))
    return ProblemStats(name=name, tests=tuple(tests), mistakes=tuple(counts), undiagnosed_tests=undiagnosed_tests,
                        undiagnosed_submissions=tuple(undiagnosed))


def _limits(submissions: Iterable[Submission]) -> tuple[LimitHit, ...]:
    hits: dict[str, dict[str, Any]] = {}
    for sub in submissions:
        for test in sub.tests:
            first = unreferenced(str(test.get("output", "")).lstrip())
            for sign, limit in LIMIT_SIGNS:
                if test.get("status") == "failed" and first.startswith(sign):
                    hit = hits.setdefault(limit, {"submissions": [], "tests": 0})
                    hit["tests"] += 1
                    if sub.name not in hit["submissions"]:
                        hit["submissions"].append(sub.name)
    return tuple(LimitHit(limit, tuple(h["submissions"]), h["tests"])
                 for _, limit in LIMIT_SIGNS if (h := hits.get(limit)))


def class_stats(submissions: Sequence[Submission], problem_of: Mapping[str, str],
                hints: Mapping[str, Mapping[str, str]] | None = None) -> ClassStats:
    """The class report's numbers for these submissions; `problem_of` maps test names to problems, `hints`
    gives each problem's mistakes' hints (see mistake_hints)."""
    not_graded = [(s.name, why) for s in submissions if (why := not_graded_reason(s)) is not None]
    skipped = {name for name, _ in not_graded}
    graded = [s for s in submissions if s.name not in skipped]
    names = dict.fromkeys(problem_of.get(str(t.get("name", "?")), UNKNOWN_PROBLEM)
                          for s in submissions for t in s.tests if float(t.get("max_score", 0.0)) > 0)
    problems = tuple(_problem_stats(name, graded, problem_of, (hints or {}).get(name, {})) for name in names)
    max_score = max((s.max_score for s in submissions), default=0.0)
    scores = ScoreStats(scores=tuple(s.score for s in submissions), max_score=max_score,
                        previous=tuple(s.previous for s in submissions if s.previous is not None))
    slowest = tuple(sorted(submissions, key=lambda s: -s.seconds)[:SLOWEST_SHOWN])
    return ClassStats(submissions=tuple(submissions), scores=scores, problems=problems,
                      not_graded=tuple(not_graded), slowest=slowest, limits=_limits(submissions))
