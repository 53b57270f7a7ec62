"""The class report: one self-contained HTML page (figures inline, no network) from class_stats' numbers.

The page is the template ``class_report.html`` filled with pieces made from
the small templates below; every value from a submission is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Iterable, Sequence
from urllib.parse import quote

from . import class_figures
from .class_stats import ClassStats, ProblemStats, Submission, mistakes_named
from .regrade import RESULTS_FOLDER  # next to report.html: one results.json per submission, named after it

PAGE = Path(__file__).with_name("class_report.html")

CARD = Template('<div class="card" id="card-$key"><b>$value</b>$label</div>')
PROBLEM = Template("""<section class="problem" id="problem-$index" data-problem="$name">
<h2>Problem: $name</h2>
<h3>Pass rate per test</h3>
<figure>$rates_figure
<figcaption>Share of the $graded gradable submissions that passed each test, hardest first; bars marked // are
not visible to students (hidden until grades are released, or after the due date).</figcaption></figure>
<h3>The class's mistakes</h3>
<figure>$mistakes_figure
<figcaption>Students whose code the grader recognised as making each catalogued mistake (a submission counts once,
however many tests showed it), and those with failures it could not name.</figcaption></figure>
$mistake_table
<p class="undiagnosed" data-tests="$undiagnosed_tests" data-students="$undiagnosed_count">Failures not diagnosed:
<b>$undiagnosed_tests</b> failed test(s) in <b>$undiagnosed_count</b> submission(s) had no catalogued mistake$who.</p>
</section>""")
MISTAKE_TABLE = Template("""<table class="mistakes sortable">
<thead><tr><th>mistake</th><th class="num">students</th><th>tests where it showed</th><th>hint students read</th><th>submissions</th></tr></thead>
<tbody>
$rows
</tbody>
</table>""")
MISTAKE_ROW = Template('<tr data-mistake="$name"><td><code>$name</code></td><td class="num students">$students</td>'
                       '<td>$tests</td><td class="hint">$hint</td><td>$submissions</td></tr>')
SIMPLE_TABLE = Template("""<table class="$kind">
<thead><tr>$heads</tr></thead>
<tbody>
$rows
</tbody>
</table>""")
ROW = Template('<tr data-submission="$name" class="$kind"><td><a href="$link">$name</a></td><td>$people</td>'
               '<td class="num" data-value="$score">$score_text</td><td class="num" data-value="$before">$before_text</td>'
               '<td class="num" data-value="$change">$change_text</td><td class="num">$passed</td>'
               '<td class="num">$failed</td><td>$mistakes</td><td class="num">$seconds</td></tr>')
NONE = Template('<p class="none">$text</p>')
TESTS_FOLDED = Template('<details><summary>$count tests</summary>$lines</details>')
FOLDED_TESTS = 4  # more test names than this are folded


def _cells(values: Iterable[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{value}</{tag}>" for value in values)


def _table(kind: str, heads: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    body = "\n".join(f"<tr>{_cells(row)}</tr>" for row in rows)
    return SIMPLE_TABLE.substitute(kind=kind, heads=_cells((escape(h) for h in heads), "th"), rows=body)


def results_link(name: str) -> str:
    """Where a submission's results.json is, relative to the report."""
    return f"{RESULTS_FOLDER}/{quote(name)}.json"


def _test_list(tests: Sequence[str]) -> str:
    """Test names, one a line; folded under their count when there are many."""
    lines = "<br>".join(escape(t) for t in tests)
    return lines if len(tests) <= FOLDED_TESTS else TESTS_FOLDED.substitute(count=len(tests), lines=lines)


def _problem(index: int, problem: ProblemStats, graded: int) -> str:
    rows = "\n".join(MISTAKE_ROW.substitute(
        name=escape(m.name), students=m.students, tests=_test_list(m.tests),
        hint=escape(m.hint) or '<span class="none">not in the catalogue</span>',
        submissions=", ".join(escape(s) for s in m.submissions)) for m in problem.mistakes)
    table = MISTAKE_TABLE.substitute(rows=rows) if problem.mistakes else \
        NONE.substitute(text="No catalogued mistake was diagnosed.")
    who = problem.undiagnosed_submissions
    return PROBLEM.substitute(
        index=index, name=escape(problem.name), graded=graded,
        rates_figure=class_figures.pass_rates(problem.tests, f"rates-{index}"),
        mistakes_figure=class_figures.mistake_counts(problem.mistakes, len(who), f"mistakes-{index}"),
        mistake_table=table, undiagnosed_tests=problem.undiagnosed_tests, undiagnosed_count=len(who),
        who=f" ({', '.join(escape(s) for s in who)})" if who else "")


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _row(sub: Submission, not_graded: bool) -> str:
    change = None if sub.previous is None else sub.score - sub.previous
    named = dict.fromkeys(m for t in sub.tests for m in mistakes_named(t))
    return ROW.substitute(
        name=escape(sub.name), link=escape(results_link(sub.name)), kind="not-graded" if not_graded else "graded",
        people=escape(", ".join(sub.people)), score=sub.score, score_text=f"{_number(sub.score)}/{_number(sub.max_score)}",
        before="-Infinity" if sub.previous is None else sub.previous, before_text=_number(sub.previous),
        change="-Infinity" if change is None else change, change_text="" if change is None else f"{change:+g}",
        passed=sum(t.get("status") == "passed" for t in sub.tests if float(t.get("max_score", 0.0)) > 0),
        failed=sum(t.get("status") == "failed" for t in sub.tests),
        mistakes=", ".join(escape(m) for m in named) or ("not graded" if not_graded else ""),
        seconds=f"{sub.seconds:.2f}")


def render(stats: ClassStats, title: str) -> str:
    """The whole page."""
    scores = stats.scores
    cards = [("submissions", len(stats.submissions), "submissions"), ("graded", stats.graded_count, "graded"),
             ("not-graded", len(stats.not_graded), "could not be graded"),
             ("mean", _number(scores.mean), f"mean score of {_number(scores.max_score)}"),
             ("median", _number(scores.median), "median score")]
    if scores.previous:
        cards.append(("before", _number(scores.previous_mean), f"mean before ({len(scores.previous)} known)"))
    caption = (f"{len(scores.scores)} submissions: mean {_number(scores.mean)}, median {_number(scores.median)} "
               f"(out of {_number(scores.max_score)}).")
    if scores.previous:
        caption += (f" Before, as the export has them ({len(scores.previous)} submissions): mean "
                    f"{_number(scores.previous_mean)}, median {_number(scores.previous_median)}.")
    skipped = {name for name, _ in stats.not_graded}
    not_graded = _table("not-graded", ["submission", "why"], (
        (f'<a href="{escape(results_link(n))}">{escape(n)}</a>', escape(why)) for n, why in stats.not_graded)) \
        if stats.not_graded else NONE.substitute(text="Every submission was graded.")
    limits = _table("limits", ["limit", "tests stopped", "submissions"], (
        (escape(h.limit), str(h.tests), ", ".join(escape(s) for s in h.submissions)) for h in stats.limits)) \
        if stats.limits else NONE.substitute(text="No test hit a time limit.")
    slowest = _table("slowest", ["submission", "seconds", "score"], (
        (escape(s.name), f"{s.seconds:.2f}", f"{_number(s.score)}/{_number(s.max_score)}") for s in stats.slowest))
    return Template(PAGE.read_text(encoding="utf-8")).substitute(
        title=escape(title),
        lead=f"{len(stats.submissions)} submissions regraded; {len(stats.problems)} problem(s).",
        cards="\n".join(CARD.substitute(key=k, value=v, label=escape(label)) for k, v, label in cards),
        score_figure=class_figures.score_histogram(scores), score_caption=escape(caption),
        problems="\n".join(_problem(i, p, stats.graded_count) for i, p in enumerate(stats.problems, start=1)),
        not_graded=not_graded, limits=limits, slowest=slowest,
        rows="\n".join(_row(s, s.name in skipped) for s in stats.submissions),
    )
