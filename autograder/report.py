"""The readable terminal report: a score table like Gradescope's, the failures, then the total."""

from __future__ import annotations

from .results import CheckResult, GradingResult
from .text import clean


def _section(title: str, checks: list[CheckResult], show_output: bool) -> list[str]:
    if not checks:
        return []
    lines = ["", title, "-" * len(title)]
    for c in checks:
        lines.append(f"{c.number} {c.name}")
        lines.extend("    " + line for line in c.message.splitlines())
        if show_output and c.output.strip():
            lines.append("    --- output printed by your code ---")
            lines.extend("    " + line for line in c.output.rstrip("\n").splitlines()[:40])
    return lines


def render(result: GradingResult, *, show_output: bool = True) -> str:
    """The report as text; the last line is `Total: S/M`. Unsafe characters are replaced (text.clean):
    names, messages and outputs hold student-controlled text, and this goes to a terminal."""
    lines = list(result.notes)
    if result.submission_file:
        lines.append(f"Graded file: {result.submission_file}")
    width = max([len(c.name) for c in result.checks] + [10])
    lines.append("")
    lines.append(f"{'#':>5}  {'test':<{width}}  {'score':>11}  result")
    for c in result.checks:
        status = "passed" if c.passed else "FAILED"
        shown = "" if c.visibility == "visible" else f" ({c.visibility})"
        lines.append(f"{c.number:>5}  {c.name:<{width}}  {c.score:>5g}/{c.max_score:<5g}  {status}{shown}")
    lines += _section("Failures", [c for c in result.checks if not c.passed], show_output)
    lines += _section("Notes", [c for c in result.checks if c.passed and c.message], show_output)
    lines.append("")
    lines.append(f"Total: {result.score:g}/{result.max_score:g}")
    return clean("\n".join(lines))
