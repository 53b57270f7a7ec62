"""The class report's figures, drawn with matplotlib (instructors only) and returned as inline SVG.

matplotlib is not a grading dependency: ``missing()`` says how to get it, and
nothing here imports it before a figure is drawn.
"""

from __future__ import annotations

import io
import re
from typing import Any, Sequence

from .class_stats import MistakeCount, PassRate, ScoreStats

INSTALL_HINT = "pip install -r autograder/requirements-instructor.txt"
WIDTH = 7.5  # inches; the page scales the SVG to its column
NOW, BEFORE, HIDDEN, VISIBLE, GREY = "#3465a4", "#babdb6", "#cc6633", "#3465a4", "#888a85"
_REFERENCE = re.compile(r'(\bid="|url\(#|href="#)')  # an id, and the two ways SVG refers to one
_PROLOG = re.compile(r"\A.*?(?=<svg)", re.S)  # the XML declaration and DOCTYPE: not for a page's body


def missing() -> str | None:
    """Why the figures cannot be drawn here (matplotlib not installed, or not importable), or None."""
    try:
        import matplotlib  # noqa: F401 - only whether it imports
    except ImportError:
        return f"matplotlib is not installed ({INSTALL_HINT})"
    return None


def _figure(height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), layout="constrained")


def _svg(fig: Any, key: str, label: str) -> str:
    """The figure as an <svg> element: text kept as text, ids unique to this figure, no date stamp."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Title": label})
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    svg = _REFERENCE.sub(lambda m: f"{m.group(1)}{key}-", svg)  # ids unique in a page of several figures
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" data-figure="{key}" ', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def score_histogram(scores: ScoreStats) -> str:
    """Scores in ten bins, with the mean and median; the export's earlier scores behind them when known."""
    fig = _figure(3.4)
    ax = fig.add_subplot()
    top = scores.max_score or max(scores.scores, default=1.0) or 1.0
    bins = [top * i / 10 for i in range(11)]
    if scores.previous:
        ax.hist(scores.previous, bins=bins, color=BEFORE, label=f"before (mean {scores.previous_mean:.1f}, "
                                                                  f"median {scores.previous_median:.1f})")
        ax.hist(scores.scores, bins=bins, histtype="step", linewidth=2, color=NOW, label="after (this regrade)")
    else:
        ax.hist(scores.scores, bins=bins, color=NOW, edgecolor="white", label="scores")
    ax.axvline(scores.mean, color="black", linestyle="-", label=f"mean {scores.mean:.1f}")
    ax.axvline(scores.median, color="black", linestyle="--", label=f"median {scores.median:.1f}")
    ax.set(xlim=(0, top), xlabel=f"score (out of {top:g})", ylabel="submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.legend(loc="outside upper center", ncols=2, fontsize="small", frameon=False)
    return _svg(fig, "scores", "Score distribution")


def pass_rates(tests: Sequence[PassRate], key: str) -> str:
    """One bar per test, its pass rate in per cent, hardest at the top; hidden tests in their own colour."""
    fig = _figure(0.6 + 0.24 * max(len(tests), 1))
    ax = fig.add_subplot()
    labels = [t.name + ("" if t.visibility == "visible" else f"  [{t.visibility}]") for t in tests]
    rates = [100 * t.rate for t in tests]
    colours = [VISIBLE if t.visibility == "visible" else HIDDEN for t in tests]
    hatches = ["" if t.visibility == "visible" else "//" for t in tests]
    bars = ax.barh(range(len(tests)), rates, color=colours, hatch=hatches, edgecolor="white")
    ax.bar_label(bars, labels=[f"{t.passed}/{t.graded}" for t in tests], padding=3, fontsize="small")
    ax.set_yticks(range(len(tests)), labels, fontsize="small")
    ax.invert_yaxis()  # hardest first, at the top
    ax.set(xlim=(0, 112), xlabel="submissions that passed (%)")
    ax.set_xticks([0, 25, 50, 75, 100])
    if any(t.visibility != "visible" for t in tests):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=VISIBLE, label="visible"), Patch(facecolor=HIDDEN, hatch="//",
                                                                         edgecolor="white", label="not visible")],
                  loc="lower right", fontsize="small")
    return _svg(fig, key, "Pass rate of each test, hardest first")


def mistake_counts(counts: Sequence[MistakeCount], undiagnosed: int, key: str) -> str:
    """Students per diagnosed mistake, commonest at the top, then the submissions with undiagnosed failures."""
    labels = [m.name for m in counts] + ["(failures not diagnosed)"]
    values = [m.students for m in counts] + [undiagnosed]
    fig = _figure(0.8 + 0.28 * len(labels))
    ax = fig.add_subplot()
    bars = ax.barh(range(len(labels)), values, color=[NOW] * len(counts) + [GREY])
    ax.bar_label(bars, padding=3, fontsize="small")
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set(xlim=(0, max(values + [1]) * 1.15), xlabel="students (submissions)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, key, "How many students made each mistake")
