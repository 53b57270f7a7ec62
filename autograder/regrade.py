"""Grade many submissions (a Gradescope export) into one CSV and one JSON summary.

Each submission is graded by the ``grade`` command itself, in a process of
its own, so it is isolated exactly as on Gradescope: a fresh grader forks
its sandbox before it reads any fixture, and a crash or a hang costs that
submission only. Several run at once, one per core by default.

A Gradescope export has one folder per submission and, at its top, a
``submission_metadata.yml`` (Ruby-flavoured YAML: keys such as
``:submitters:``) that says who submitted what, when, and with which score;
a folder may also hold its own ``submission_metadata.yml``. Both are
optional: any folder of submission folders can be regraded.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import yaml

from .errors import AutograderError
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import failure_document

METADATA_NAMES = ("submission_metadata.yml", "submission_metadata.yaml")
RESULTS_FOLDER = "regrade-results"  # what regrade writes: each submission's results.json, named after it
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", RESULTS_FOLDER}  # RESULTS_FOLDER: the export may be OUT too


@dataclass
class Graded:
    """One submission's regrade: who, when, the results document, and how long it took."""

    name: str  # the submission's folder name
    path: Path
    document: dict[str, Any]
    seconds: float
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # set when the grader itself failed for this submission

    @property
    def score(self) -> float:
        return float(self.document.get("score", 0.0))

    @property
    def max_score(self) -> float:
        return float(sum(t.get("max_score", 0.0) for t in self.document.get("tests", [])))


# -- running one grade, isolated -------------------------------------------------------------

def grade_isolated(submission: Path, *, fixtures: Path = DEFAULT_FIXTURES, config: Path | None = None,
                   timeout: float = 600.0, account: str | None = None) -> tuple[dict[str, Any], str]:
    """Run `python -m autograder grade` on one submission in its own process; (results document, error text).

    The document is always valid: when the grader fails, it is Gradescope's
    failure document and the error text says why. `account` names the sandbox
    account (as root): graders running side by side each need their own, since
    the clean-up after every check removes all that its account left behind.
    """
    with tempfile.TemporaryDirectory(prefix="autograder-regrade-") as tmp:
        out = Path(tmp) / "results.json"
        command = [sys.executable, "-m", "autograder", "grade", str(Path(submission).resolve()), "--results", str(out),
                   "--fixtures", str(Path(fixtures).resolve()), "--quiet", "--no-policy"]
        if config:
            command += ["--config", str(Path(config).resolve())]
        try:
            proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                                  env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                                           **({"AUTOGRADER_SANDBOX_USER": account} if account else {})))
        except subprocess.TimeoutExpired:
            return failure_document(f"grading took longer than {timeout:g} s"), f"timed out after {timeout:g} s"
        if proc.returncode == 0 and out.is_file():
            try:
                return json.loads(out.read_text(encoding="utf-8")), ""
            except ValueError as exc:
                why = f"unreadable results ({exc})"
        else:
            errors = [line[len("error: "):] for line in proc.stderr.splitlines() if line.startswith("error: ")]
            lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            why = errors[-1] if errors else lines[-1] if lines else f"exit status {proc.returncode}"
        return failure_document(why), why


def slot_account(slot: int) -> str:
    """The sandbox account of parallel slot `slot`: the usual one, then numbered ones."""
    base = os.environ.get("AUTOGRADER_SANDBOX_USER", "autograder-sandbox")
    return base if slot == 0 else f"{base}-{slot + 1}"


def grade_many(submissions: list[Path], *, fixtures: Path = DEFAULT_FIXTURES, config: Path | None = None,
               jobs: int | None = None, timeout: float = 600.0,
               progress: Callable[[int, int, float], None] | None = None) -> list[tuple[dict[str, Any], str, float]]:
    """Grade every submission, `jobs` at a time; results in the order given: (document, error, seconds)."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    results: list[tuple[dict[str, Any], str, float] | None] = [None] * len(submissions)
    started = time.monotonic()

    # One sandbox account per parallel slot (as root): accounts are never shared by two graders at once.
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def one(index: int) -> tuple[int, dict[str, Any], str, float]:
        begin = time.monotonic()
        slot = slots.get()
        try:
            account = slot_account(slot) if os.geteuid() == 0 else None
            document, error = grade_isolated(submissions[index], fixtures=fixtures, config=config, timeout=timeout,
                                             account=account)
        finally:
            slots.put(slot)
        return index, document, error, time.monotonic() - begin

    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, i) for i in range(len(submissions))]
        for future in as_completed(futures):
            index, document, error, seconds = future.result()
            results[index] = (document, error, seconds)
            done += 1
            if progress:
                progress(done, len(submissions), time.monotonic() - started)
    return [r for r in results if r is not None]


# -- the export --------------------------------------------------------------------------------

class _TolerantLoader(yaml.SafeLoader):
    """Safe YAML that reads Ruby-tagged nodes (!ruby/object:..., !ruby/hash:...) as plain data."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _plain)


def _unsymbol(value: Any) -> Any:
    """Ruby symbols (':created_at') become plain keys ('created_at'), all the way down."""
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _unsymbol(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsymbol(v) for v in value]
    return value


def read_metadata(path: Path) -> dict[str, Any]:
    """A submission_metadata.yml as plain data; errors name the file."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_TolerantLoader)  # noqa: S506 - safe loader subclass
    except OSError as exc:
        raise AutograderError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AutograderError(f"{path}: not valid YAML ({exc})") from None
    doc = _unsymbol(doc)
    if doc is not None and not isinstance(doc, dict):
        raise AutograderError(f"{path}: should be a mapping (submission folder -> its metadata)")
    return doc or {}


def find_submissions(export: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, folder, metadata) of every submission folder in an export, sorted by name."""
    export = Path(export)
    if not export.is_dir():
        raise AutograderError(f"{export}: not a folder (expected a Gradescope export: one folder per submission)")
    shared: dict[str, Any] = {}
    for name in METADATA_NAMES:
        if (export / name).is_file():
            shared = read_metadata(export / name)
    found = []
    for folder in sorted(p for p in export.iterdir() if p.is_dir()):
        if folder.name in SKIPPED_FOLDERS or folder.name.startswith("."):
            continue
        meta = shared.get(folder.name) if isinstance(shared.get(folder.name), dict) else {}
        for name in METADATA_NAMES:
            if (folder / name).is_file():
                own = read_metadata(folder / name)
                meta = {**meta, **(own.get(folder.name, own) if isinstance(own.get(folder.name), dict) else own)}
        found.append((folder.name, folder, meta))
    if not found:
        raise AutograderError(f"{export}: no submission folders found (expected one folder per submission)")
    return found


def _submitters(meta: dict[str, Any]) -> list[dict[str, Any]]:
    people = meta.get("submitters") or meta.get("users") or []
    return [p for p in people if isinstance(p, dict)] if isinstance(people, list) else []


def _previous_score(meta: dict[str, Any]) -> float | None:
    score = meta.get("score")
    try:
        return None if score is None else float(score)
    except (TypeError, ValueError):
        return None


# -- the summaries -------------------------------------------------------------------------------

def test_names(graded: Iterable[Graded]) -> list[str]:
    """Every test name, in the order the grader numbers them."""
    seen: dict[str, tuple] = {}
    for g in graded:
        for test in g.document.get("tests", []):
            number = tuple(int(p) if p.isdigit() else p for p in str(test.get("number", "")).split("."))
            seen.setdefault(test.get("name", "?"), number)
    return sorted(seen, key=lambda name: (seen[name], name))


def summary(graded: list[Graded], seconds: float, jobs: int) -> dict[str, Any]:
    """The JSON summary: per submission, per test, and overall."""
    names = test_names(graded)
    per_test = []
    for name in names:
        rows = [t for g in graded for t in g.document.get("tests", []) if t.get("name") == name]
        per_test.append({
            "name": name,
            "max_score": max((float(t.get("max_score", 0.0)) for t in rows), default=0.0),
            "mean_score": round(sum(float(t.get("score", 0.0)) for t in rows) / len(rows), 6) if rows else 0.0,
            "passed": sum(t.get("status") == "passed" for t in rows),
            "failed": sum(t.get("status") == "failed" for t in rows),
        })
    submissions = []
    for g in graded:
        previous = _previous_score(g.metadata)
        submissions.append({
            "submission": g.name,
            "submitters": [{k: p.get(k) for k in ("name", "email", "sid") if k in p} for p in _submitters(g.metadata)],
            "created_at": str(g.metadata.get("created_at")) if g.metadata.get("created_at") is not None else None,
            "score": g.score,
            "max_score": g.max_score,
            "previous_score": previous,
            "change": None if previous is None else round(g.score - previous, 6),
            "error": g.error or None,
            "seconds": round(g.seconds, 3),
            "tests": [{k: t.get(k) for k in ("name", "number", "score", "max_score", "status", "visibility")}
                      for t in g.document.get("tests", [])],
        })
    scores = [g.score for g in graded]
    return {
        "submissions": submissions,
        "tests": per_test,
        "overall": {
            "count": len(graded),
            "errors": sum(bool(g.error) for g in graded),
            "mean_score": round(sum(scores) / len(scores), 6) if scores else 0.0,
            "changed": sum(1 for s in submissions if s["change"] not in (None, 0)),
            "seconds": round(seconds, 3),
            "jobs": jobs,
            "submissions_per_minute": round(len(graded) / seconds * 60, 2) if seconds > 0 else None,
        },
    }


def write_csv(graded: list[Graded], handle: TextIO) -> None:
    """One row per submission: who, when, totals, then one column per test (its score)."""
    names = test_names(graded)
    writer = csv.writer(handle)
    writer.writerow(["submission", "names", "emails", "sids", "created_at", "score", "max_score", "previous_score",
                     "change", "passed", "failed", "error", "seconds", *names])
    for g in graded:
        people = _submitters(g.metadata)
        tests = {t.get("name"): t for t in g.document.get("tests", [])}
        previous = _previous_score(g.metadata)
        writer.writerow([
            g.name, "; ".join(str(p.get("name", "")) for p in people), "; ".join(str(p.get("email", "")) for p in people),
            "; ".join(str(p.get("sid", "")) for p in people), g.metadata.get("created_at", ""),
            f"{g.score:g}", f"{g.max_score:g}", "" if previous is None else f"{previous:g}",
            "" if previous is None else f"{g.score - previous:g}",
            sum(t.get("status") == "passed" for t in tests.values()), sum(t.get("status") == "failed" for t in tests.values()),
            g.error, f"{g.seconds:.2f}",
            *("" if n not in tests else f"{float(tests[n].get('score', 0.0)):g}" for n in names),
        ])


class ProgressBar:
    """A one-line progress bar on a terminal; a line every tenth of the way otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.tty = stream.isatty()
        self._last_tenth = -1

    def __call__(self, done: int, total: int, elapsed: float) -> None:
        rate = done / elapsed * 60 if elapsed > 0 else 0.0
        filled = int(self.width * done / total) if total else self.width
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} submissions, {rate:.1f}/min"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
            self.stream.flush()
        elif (tenth := done * 10 // max(total, 1)) != self._last_tenth or done == total:
            self._last_tenth = tenth
            print(line, file=self.stream, flush=True)


REPORT_NAME = "report.html"


def write_documents(graded: list[Graded], out: Path) -> None:
    """Each submission's results document as OUT/regrade-results/NAME.json (what the class report links to)."""
    folder = out / RESULTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for g in graded:
        (folder / f"{g.name}.json").write_text(json.dumps(g.document, indent=2, default=str) + "\n", encoding="utf-8")


def write_report(graded: list[Graded], out: Path, *, fixtures: Path, title: str) -> bool:
    """OUT/report.html, the class report; False (and no stale report left) when matplotlib is missing."""
    from . import class_figures

    target = out / REPORT_NAME
    if class_figures.missing():
        target.unlink(missing_ok=True)
        return False
    from .class_page import render
    from .class_stats import Submission, class_stats, mistake_hints, problems_of

    submissions = [Submission(name=g.name, people=tuple(str(p.get("name", "")) for p in _submitters(g.metadata)),
                              score=g.score, max_score=g.max_score, previous=_previous_score(g.metadata),
                              seconds=g.seconds, tests=tuple(g.document.get("tests", [])), error=g.error)
                   for g in graded]
    target.write_text(render(class_stats(submissions, problems_of(fixtures), mistake_hints(fixtures)), title), encoding="utf-8")
    return True


def regrade(export: Path, out: Path, *, fixtures: Path = DEFAULT_FIXTURES, config: Path | None = None,
            jobs: int | None = None, progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Regrade an export into OUT/regrade.csv, OUT/regrade.json, OUT/regrade-results/ and OUT/report.html (the
    class report, when matplotlib is installed); returns the JSON summary."""
    found = find_submissions(export)
    jobs = max(1, jobs or os.cpu_count() or 1)
    started = time.monotonic()
    outcomes = grade_many([path for _, path, _ in found], fixtures=fixtures, config=config, jobs=jobs, progress=progress)
    elapsed = time.monotonic() - started
    graded = [Graded(name=name, path=path, document=document, seconds=seconds, metadata=meta, error=error)
              for (name, path, meta), (document, error, seconds) in zip(found, outcomes)]
    doc = summary(graded, elapsed, jobs)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "regrade.csv", "w", newline="", encoding="utf-8") as handle:
        write_csv(graded, handle)
    write_documents(graded, out)
    written = write_report(graded, out, fixtures=fixtures, title=f"Class report: {Path(export).resolve().name}")
    doc["overall"]["report"] = REPORT_NAME if written else None
    (out / "regrade.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return doc
