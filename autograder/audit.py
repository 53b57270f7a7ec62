"""The instructor's pre-release check: can this test suite tell right from wrong?

- the fixtures are what ``generate`` writes from the config, and each one
  agrees with checks that share no code with the reference: the independent
  implementation, finite differences of the reference's own forward, and the
  numbers stated in the config (the writeup's worked example);
- the reference scores full marks and the untouched template scores zero;
- every typical wrong implementation (a "mutant": each mistake a problem
  lists in the config, ``problems.NAME.mistakes``, shared with the feedback)
  loses points on the method it gets wrong. A mutant that survives is reported with the tests that should
  have caught it; a mutant caught by a single test is flagged, because
  removing that test would let it through.

Everything is graded exactly as students are (each submission by the
``grade`` command in a process of its own, see regrade.py), against every
fixture, hidden ones included.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .compare import within
from .config import Assignment, Problem, load_assignment
from .errors import AutograderError
from .feedback import Mistake
from .fixtures import Case, load_cases
from .generate import (FINITE_DIFFERENCE_TOLERANCE, INDEPENDENT_CHECKS, INDEPENDENT_TOLERANCE, build_cases,
                       constant_outputs, finite_difference_gap, gradient_gaps, independent_disagreement,
                       independent_module, known_gap, load_reference_class, module_disagreement, reference_file,
                       reference_forward, stale_fixtures)
from .grade import check_name
from .paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from .regrade import grade_many

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass
class Finding:
    """One line of the report, with optional detail lines under it."""

    status: str  # ok | WARN | FAIL
    text: str
    details: list[str] = field(default_factory=list)


@dataclass
class AuditReport:
    """Everything the audit found, by section."""

    title: str
    sections: list[tuple[str, list[Finding]]] = field(default_factory=list)

    def add(self, section: str, finding: Finding) -> None:
        for name, findings in self.sections:
            if name == section:
                findings.append(finding)
                return
        self.sections.append((section, [finding]))

    @property
    def failures(self) -> list[Finding]:
        return [f for _, findings in self.sections for f in findings if f.status == FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for _, findings in self.sections for f in findings if f.status == WARN]

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self) -> str:
        """The report as text; the last line says whether the suite is ready."""
        lines = [f"Audit: {self.title}"]
        for name, findings in self.sections:
            lines += ["", name]
            for finding in findings:
                lines.append(f"  {finding.status:<4}  {finding.text}")
                lines.extend(f"          {d}" for d in finding.details)
        lines.append("")
        if self.failures:
            lines.append(f"AUDIT FAILED: {len(self.failures)} problem(s), {len(self.warnings)} warning(s). "
                         "Fix the FAIL lines before releasing.")
        else:
            lines.append(f"Audit passed ({len(self.warnings)} warning(s)).")
        return "\n".join(lines)


@dataclass(frozen=True)
class MutantSpec:
    """A wrong implementation to grade: which problem and method it gets wrong, and its source."""

    name: str
    problem: str
    method: str
    source: str
    hint: str = ""
    produce: Callable[[dict[str, np.ndarray]], Any] | None = None


def _patched(source: str, old: str, new: str, class_name: str, error: Callable[[int], Exception]) -> str:
    """`source` with the one `old` in the problem's class replaced by `new`, or else the one in the file (text
    outside the class, such as a helper function). A file may hold several problems' classes, which share
    lines such as `return self.A`: each problem's mistakes are made in its own class."""
    try:
        node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == class_name)
    except (StopIteration, SyntaxError):
        node = None
    if node is not None:
        lines = source.splitlines(keepends=True)
        start = sum(len(line) for line in lines[:node.lineno - 1])
        end = sum(len(line) for line in lines[:node.end_lineno])
        if source.count(old, start, end) == 1:
            return source[:start] + source[start:end].replace(old, new) + source[end:]
    if source.count(old) != 1:
        raise error(source.count(old))
    return source.replace(old, new)


def config_mutants(assignment: Assignment, root: Path | None = None, *, stored_only: bool = False) -> list[MutantSpec]:
    """The mistakes each problem of the config lists, each made by replacing text in the reference's file
    (`stored_only`: only those recognised by their values on each case, which generate stores)."""
    mutants = []
    for problem in assignment.problems.values():
        if not any(not (stored_only and m.recognised) for m in problem.mistakes):
            continue
        path = reference_file(assignment, problem, root)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AutograderError(f"{path}: cannot read the reference ({exc.strerror}) to make its mistakes") from None
        for mistake in problem.mistakes:
            if stored_only and mistake.recognised:
                continue
            source = text
            for old, new in mistake.patch:
                source = _patched(source, old, new, problem.class_name, lambda count: AutograderError(
                    f"{assignment.path}: problems.{problem.name}.mistakes ({mistake.name}): the text {old!r} occurs "
                    f"{count} times in {path}, not once (nor once in its class {problem.class_name})"))
            value = mistake.recognised.get("value")  # what it returns, as an expression of the case's arrays
            produce = Mistake(mistake.name, mistake.method, mistake.hint, value=value).produce if value else None
            mutants.append(MutantSpec(name=mistake.name, problem=problem.name, method=mistake.method, source=source,
                                      hint=mistake.hint, produce=produce))
    return mutants


# -- fixtures --------------------------------------------------------------------------------

def _audit_fixtures(report: AuditReport, assignment: Assignment, cases: list[Case], fixtures: Path,
                    root: Path) -> None:
    section = "Fixtures"
    try:
        fresh = build_cases(assignment, root)
    except AutograderError as exc:
        report.add(section, Finding(FAIL, "generate refuses the config", [str(exc)]))
    else:
        stale = stale_fixtures(fresh, fixtures)
        if stale:
            report.add(section, Finding(FAIL, f"{len(stale)} fixture file(s) differ from what generate writes: "
                                              "run `python -m autograder generate`", stale))
        else:
            report.add(section, Finding(OK, f"{len(cases)} fixtures are exactly what generate writes from the config"))
    specs = {spec.name: spec for spec in assignment.cases}
    module = independent_module(assignment)
    references: dict[str, type] = {}
    independent: list[tuple[float, str]] = []
    own: list[tuple[float, str]] = []  # against the assignment's own independent implementations
    gradients: list[tuple[float, str]] = []  # the problems' stated gradients (config `gradients`)
    finite: list[tuple[float, str]] = []
    for case in cases:
        spec = specs.get(case.name)
        problem = assignment.problems.get(case.problem.name)
        if spec is None or problem is None:
            report.add(section, Finding(FAIL, f"{case.path}: case '{case.name}' (problem {case.problem.name}) is not "
                                              "in the config"))
            continue
        if problem.name not in references:
            references[problem.name] = load_reference_class(assignment, problem, root)
        if problem.independent in INDEPENDENT_CHECKS:
            independent.append((independent_disagreement(case, problem.independent), case.name))
        if problem.independent and problem.independent not in INDEPENDENT_CHECKS and module is not None:
            gap, _ = module_disagreement(module, problem.independent, case, spec)
            own.append((gap, case.name))
        gradients.extend((gap, f"{case.name}: {what}")
                         for what, gap in gradient_gaps(case, problem, references[problem.name]))
        constant = constant_outputs(spec, case, problem)
        if constant:
            report.add(section, Finding(FAIL, f"{case.name}: the expected {', '.join(constant)} is all zero or "
                                              "constant (code returning a constant would pass); list it under "
                                              "constant: if that is meant"))
        if problem.kind == "activation":
            fwd, bwd = problem.methods[0], problem.methods[1]
            gap = finite_difference_gap(reference_forward(references[problem.name]), case.inputs[fwd.inputs[0]],
                                        case.inputs[bwd.inputs[0]], case.expected[bwd.output])
            finite.append((gap, case.name))
        known = known_gap(spec, case)
        if known is not None:
            stated = ", ".join(spec.known)
            if known[1] <= spec.known_atol:
                report.add(section, Finding(OK, f"{case.name} holds the values stated in the config ({stated}; "
                                                f"largest difference {known[1]:.2g})"))
            else:
                report.add(section, Finding(FAIL, f"{case.name}: {known[0]} differs from the value stated in the "
                                                  f"config by {known[1]:.3g} (allowed {spec.known_atol:g})"))
    _summarise(report, section, independent, INDEPENDENT_TOLERANCE,
               "agreement with autograder/independent.py", "absolute")
    _summarise(report, section, own, INDEPENDENT_TOLERANCE,
               f"agreement with {assignment.independent}", "relative")
    _summarise(report, section, finite, FINITE_DIFFERENCE_TOLERANCE,
               "backward against finite differences of the reference's forward", "relative")
    _summarise(report, section, gradients, FINITE_DIFFERENCE_TOLERANCE,
               "gradients against finite differences of the reference's forward or loss", "relative")


def _summarise(report: AuditReport, section: str, gaps: list[tuple[float, str]], tolerance: float, what: str,
               kind: str) -> None:
    if not gaps:
        return
    bad = [(gap, name) for gap, name in gaps if not gap <= tolerance]
    worst = max(gaps)
    if bad:
        report.add(section, Finding(FAIL, f"{len(bad)} of {len(gaps)} fixtures fail the check of {what}",
                                    [f"{name}: {gap:.3g} ({kind}; allowed {tolerance:g})" for gap, name in bad]))
    else:
        report.add(section, Finding(OK, f"{len(gaps)} fixtures pass the check of {what} (largest {kind} difference "
                                        f"{worst[0]:.2g}, in {worst[1]})"))


# -- grading -----------------------------------------------------------------------------------

def _failed_checks(document: dict[str, Any]) -> set[str]:
    return {t.get("name", "") for t in document.get("tests", []) if t.get("status") == "failed"}


def _total(document: dict[str, Any]) -> tuple[float, float]:
    tests = [t for t in document.get("tests", [])]
    return float(document.get("score", 0.0)), float(sum(t.get("max_score", 0.0) for t in tests))


def expected_catchers(mutant: MutantSpec, cases: list[Case]) -> list[str] | None:
    """Checks whose expected output the mistake's own output misses (None: the mistake is not an array)."""
    if mutant.produce is None:
        return None
    catchers, any_array = [], False
    for case in cases:
        if case.problem.name != mutant.problem:
            continue
        check = next((c for c in case.checks if c.method == mutant.method), None)
        if check is None:
            continue
        arrays = {**case.inputs, **{k: v for k, v in case.expected.items() if k not in case.inputs}}
        try:
            with np.errstate(all="ignore"):
                produced = mutant.produce(arrays)
        except Exception:  # noqa: BLE001 - the catalogue's own code; treat as "not an array"
            produced = None
        if produced is None:
            continue
        any_array = True
        produced = np.asarray(produced, dtype=np.float64)
        expected = case.expected[check.output]
        if produced.shape != expected.shape or not np.isfinite(produced).all() \
                or not within(produced, expected, case.tolerance).all():
            catchers.append(check_name(case, check))
    return catchers if any_array else None


def _audit_mutant(report: AuditReport, mutant: MutantSpec, document: dict[str, Any], error: str,
                  cases: list[Case]) -> None:
    section = "Mutants (typical wrong implementations; each must lose points)"
    label = f"{mutant.name} ({mutant.problem}.{mutant.method})" if mutant.method else f"{mutant.name} ({mutant.problem})"
    if error:
        report.add(section, Finding(FAIL, f"{label}: could not be graded: {error}"))
        return
    own = {check_name(case, check) for case in cases if case.problem.name == mutant.problem
           for check in case.checks if check.method == mutant.method or not mutant.method}
    caught = sorted(_failed_checks(document) & own, key=_check_order(cases))
    score, total = _total(document)
    if not caught:
        should = expected_catchers(mutant, cases)
        details = [f"it scores {score:g}/{total:g}; no {mutant.method or mutant.problem} test fails."]
        if should:
            details.append("These tests should have caught it (the mistake's output is outside their tolerance), "
                           "yet passed: " + ", ".join(should))
        else:
            details.append(f"No {mutant.method or ''} test of {mutant.problem} has inputs that expose it: add a case that "
                           "does (the catalogue's hint below says what the mistake gets wrong).")
        if mutant.hint:
            details.append(f"hint: {mutant.hint}")
        report.add(section, Finding(FAIL, f"{label} SURVIVES", details))
    elif len(caught) == 1:
        report.add(section, Finding(WARN, f"{label} is caught by one test only: {caught[0]}",
                                    ["removing or weakening that test would let this mistake through"]))
    else:
        report.add(section, Finding(OK, f"{label} caught by {len(caught)} tests, e.g. {caught[0]}"))


def _audit_coverage(report: AuditReport, assignment: Assignment, cases: list[Case],
                    graded: list[tuple[MutantSpec, dict[str, Any]]]) -> None:
    """Every graded value of every problem must be failed by some mutant: a value no mistake ever gets wrong
    is a check nobody knows can fail."""
    section = "Coverage (each graded value must be caught by some mutant)"
    caught: dict[tuple[str, str], list[str]] = {}
    for mutant, document in graded:
        failed = _failed_checks(document)
        for case in cases:
            if case.problem.name != mutant.problem:
                continue
            for check in case.checks:
                if (check.method == mutant.method or not mutant.method) and check_name(case, check) in failed:
                    caught.setdefault((case.problem.name, check.output), []).append(mutant.name)
    missing = []
    for problem in assignment.problems.values():
        for output in problem.graded_outputs:
            if (problem.name, output) not in caught:
                missing.append(f"{problem.name}: {output}")
    total = sum(len(p.graded_outputs) for p in assignment.problems.values())
    if missing:
        report.add(section, Finding(FAIL, f"{len(missing)} of {total} graded values are caught by no mutant: add a "
                                          "mistake (problems.NAME.mistakes) that gets each wrong", missing))
    else:
        report.add(section, Finding(OK, f"all {total} graded values of {len(assignment.problems)} problem(s) are "
                                        "caught by at least one mutant"))


def _check_order(cases: list[Case]) -> Callable[[str], int]:
    order = {check_name(case, check): i for i, (case, check) in
             enumerate((case, check) for case in cases for check in case.checks)}
    return lambda name: order.get(name, len(order))


def _solution_folder(folder: Path, problem: Problem, what: str) -> Finding | None:
    if not (folder / problem.file).is_file():
        return Finding(FAIL, f"{what}: {folder / problem.file} not found")
    return None


def run_audit(config: Path = DEFAULT_CONFIG, fixtures: Path = DEFAULT_FIXTURES, *, root: Path | None = None,
              mutants: Sequence[MutantSpec] | None = None, only: Sequence[str] = (), jobs: int | None = None,
              progress: Callable[[int, int, float], None] | None = None) -> AuditReport:
    """Audit the assignment: fixtures, reference, template, mutants (all of the catalogue, or those named in `only`).

    What it checks ends up in the report; only an unreadable config or
    fixture folder raises (AutograderError, naming the file).
    """
    assignment = load_assignment(config)
    root = assignment.root if root is None else root
    report = AuditReport(title=f"{assignment.title} ({config}, fixtures in {fixtures})")
    cases = load_cases(fixtures)
    _audit_fixtures(report, assignment, cases, fixtures, root)
    whole_catalogue = mutants is None and not only  # coverage is judged on every mutant of the assignment
    mutants = list(config_mutants(assignment, root) if mutants is None else mutants)
    if only:
        unknown = sorted(set(only) - {m.name for m in mutants})
        if unknown:
            raise AutograderError(f"no mutant called {', '.join(unknown)} (known: {', '.join(m.name for m in mutants)})")
        mutants = [m for m in mutants if m.name in only]
    reference, template = root / assignment.reference, root / assignment.template
    section = "Reference and template"
    for folder, what in ((reference, "reference"), (template, "template")):
        for problem in assignment.problems.values():
            missing = _solution_folder(folder, problem, what)
            if missing:
                report.add(section, missing)
    with tempfile.TemporaryDirectory(prefix="autograder-audit-") as tmp:
        folders = [reference, template]
        for mutant in mutants:  # the reference with the one file changed (other files may import it)
            problem = assignment.problems[mutant.problem]
            folder = Path(tmp) / f"{mutant.problem}-{mutant.name}"
            shutil.copytree(reference, folder, ignore=shutil.ignore_patterns("__pycache__"))
            (folder / problem.file).write_text(mutant.source, encoding="utf-8")
            folders.append(folder)
        graded = grade_many(folders, fixtures=fixtures, config=config, jobs=jobs, progress=progress)
    (ref_doc, ref_error, _), (tpl_doc, tpl_error, _) = graded[0], graded[1]
    score, total = _total(ref_doc)
    if ref_error or score < total or not total:
        failed = sorted(_failed_checks(ref_doc), key=_check_order(cases))
        report.add(section, Finding(FAIL, f"the reference ({assignment.reference}/) scores {score:g}/{total:g}",
                                    [ref_error] if ref_error else [f"fails: {', '.join(failed)}"]))
    else:
        report.add(section, Finding(OK, f"the reference ({assignment.reference}/) scores {score:g}/{total:g}"))
    score, total = _total(tpl_doc)
    if tpl_error or score > 0:
        passed = [t.get("name", "") for t in tpl_doc.get("tests", []) if t.get("status") == "passed" and t.get("max_score")]
        report.add(section, Finding(FAIL, f"the template ({assignment.template}/) scores {score:g}/{total:g}, not 0",
                                    [tpl_error] if tpl_error else [f"passes: {', '.join(passed)}"]))
    else:
        report.add(section, Finding(OK, f"the template ({assignment.template}/) scores 0/{total:g}"))
    for mutant, (document, error, _) in zip(mutants, graded[2:]):
        _audit_mutant(report, mutant, document, error, cases)
    if whole_catalogue:
        _audit_coverage(report, assignment, cases, [(m, d) for m, (d, _, _) in zip(mutants, graded[2:])])
    if not mutants:
        report.add("Mutants (typical wrong implementations; each must lose points)",
                   Finding(WARN, "no mutants to grade (the catalogue has none for these problems)"))
    return report

