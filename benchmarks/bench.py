"""Grading-time benchmark: how close grading comes to the cost of starting Python with NumPy.

Run from the repository root:

    .venv/bin/python benchmarks/bench.py            # full run, under two minutes
    .venv/bin/python benchmarks/bench.py --quick    # a few seconds: one run each, small budget
    .venv/bin/python benchmarks/bench.py --json out.json

Every command is timed as a whole process (``time.perf_counter`` around
``subprocess``), with the same interpreter, from the repository root. The
start-up floor and the gradings are run in interleaved rounds, so that
noise from other work on the machine hits them alike; medians are reported
with their min-max spread, and every ratio compares figures of this one run.
The correct submission is also graded as deployed (``correct_bytecode``):
with the grader's modules compiled beforehand and the fixtures indexed, as
``setup.sh`` leaves them on Gradescope (``compileall``, ``autograder index``),
and as pip left NumPy and PyYAML for the floor: the targets are judged on
that figure, and so is the whole homework (``homework_bytecode``). Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the
machine these figures were first taken), the plain ``correct`` run compiles
every grader module at each start, and is reported beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
ROOT_PROBLEM = "softmax"  # the root assignment's problem that the submissions here solve
HOMEWORK = Path(__file__).resolve().parent.parent / "examples" / "hw1p1"  # the whole homework, 14 classes
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from autograder.config import load_limits  # noqa: E402
from autograder.fixtures import load_cases  # noqa: E402
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES  # noqa: E402

FLOOR_CODE = "import numpy, yaml"
GRADED = ("correct", "triple_loop", "crash_at_import")  # timed in interleaved rounds with the floor
# The writeup's triple loop is the project's demo submission; the others live beside this script.
GRADED_PATHS = {name: SUBMISSIONS / f"{name}.py" for name in GRADED}
GRADED_PATHS["triple_loop"] = ROOT / "tests" / "submissions" / "demo"
HANG_MARGIN = 2.0  # seconds a hanging submission may take beyond its budget (start-up, clean-up)
# Targets of issue 6.
TARGET_CORRECT_X_FLOOR = 2.0
TARGET_FIXTURE_SHARE = 0.05
TARGET_GRADER_MB = 200.0
# The grader's own peak memory, measured in the grader process itself at exit.
MEMORY_PROBE = (
    "import resource, sys\n"
    "from autograder.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    sys.stderr.write(f'\\nBENCH-RSS {own} {kids}\\n')\n"
    "sys.exit(code)\n"
)


@dataclass
class Run:
    """One timed process."""

    seconds: float
    returncode: int
    max_rss_mb: float  # largest resident set of the process and its waited-for descendants
    output: str
    score: float | None = None
    max_score: float | None = None
    grader_seconds: float | None = None  # execution_time the grader itself reported
    first_failure: str = ""  # name and message of the first failed test, to explain an unexpected score


@dataclass
class Series:
    """Repeated runs of one command."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [r.seconds for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def summary(self) -> dict[str, Any]:
        times = self.times
        last = self.runs[-1]
        failed = [r for r in self.runs if r.returncode != 0 or (self.name != "floor" and r.score is None)]
        return {
            "runs": len(times), "median_s": self.median, "min_s": min(times), "max_s": max(times),
            "spread": (max(times) - min(times)) / self.median if self.median else 0.0,
            "score": last.score, "max_score": last.max_score,
            "scores": sorted({r.score for r in self.runs if r.score is not None}),
            "failed_runs": len(failed),
            "failure_output": failed[0].output[-1500:] if failed else "",
            "first_failed_test": next((r.first_failure for r in self.runs if r.first_failure), ""),
            "grader_reported_s": statistics.median([r.grader_seconds for r in self.runs if r.grader_seconds is not None])
            if any(r.grader_seconds is not None for r in self.runs) else None,
            "tree_max_rss_mb": max(r.max_rss_mb for r in self.runs),
        }


def _rss_mb(kilobytes: float) -> float:
    """ru_maxrss in MB (Linux counts kilobytes, macOS bytes)."""
    return kilobytes / (1024 * 1024) if sys.platform == "darwin" else kilobytes / 1024


def run_process(argv: list[str], *, timeout: float, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Run:
    """Run a command from the repository root (or `cwd`) and time it; kill it if it outlives `timeout`."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Run(seconds=seconds, returncode=proc.returncode, max_rss_mb=_rss_mb(usage.ru_maxrss), output=text)


def grade_argv(submission: Path, results: Path, config: Path | None, fixtures: Path | None = None,
               problem: str | None = None, metadata: Path | None = None) -> list[str]:
    """The grading command; on the root assignment (no `fixtures`), graded on its Softmax problem's checks, which
    the submissions in benchmarks/submissions are written for, whatever other problems the assignment has."""
    argv = [sys.executable, "-m", "autograder", "grade", str(submission), "--quiet", "--results", str(results)]
    problem = problem or (None if fixtures else ROOT_PROBLEM)
    return (argv + (["--config", str(config)] if config else []) + (["--fixtures", str(fixtures)] if fixtures else [])
            + (["--problem", problem] if problem else []) + (["--metadata", str(metadata)] if metadata else []))


def gradescope_metadata(into: Path) -> Path:
    """A submission_metadata.json as Gradescope gives every grading (on time, no earlier submission): so the
    gradings timed as deployed apply the submission policy, as run_autograder's do."""
    path = into / "submission_metadata.json"
    path.write_text(json.dumps({"created_at": "2026-02-20T12:00:00-05:00", "previous_submissions": [],
                                "assignment": {"due_date": "2026-03-01T23:59:00-05:00", "title": "HW1"},
                                "users": [{"name": "A", "email": "a@example.edu"}]}))
    return path


def deployed_fixtures(fixtures: Path, into: Path, tree: Path = ROOT) -> Path:
    """A copy of a fixtures folder as setup.sh leaves it on Gradescope: with the parsed index beside the YAML
    (made by `tree`'s grader, when it has the command)."""
    import shutil

    copy = into / fixtures.parent.name / fixtures.name
    shutil.copytree(fixtures, copy, ignore=shutil.ignore_patterns(".parsed-fixtures.*"))
    if (tree / "autograder" / "fixture_index.py").is_file():
        subprocess.run([sys.executable, "-m", "autograder", "index", str(copy)], cwd=tree, check=True,
                       stdout=subprocess.DEVNULL)
    return copy


def bytecode_env(cache: Path) -> dict[str, str]:
    """The environment with compiled modules kept in `cache` (as after `python -m compileall` at build time)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def run_grading(submission: Path, *, config: Path | None, timeout: float, probe: bool = False,
                env: dict[str, str] | None = None, fixtures: Path | None = None, problem: str | None = None,
                tree: Path = ROOT, metadata: Path | None = None) -> Run:
    """`python -m autograder grade` on one submission; the score is read back from results.json."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        results = Path(tmp) / "results.json"
        argv = grade_argv(submission, results, config, fixtures, problem, metadata)
        if probe:
            argv = [sys.executable, "-c", MEMORY_PROBE, *argv[3:]]
        run = run_process(argv, timeout=timeout, env=env, cwd=tree)
        if results.is_file():
            doc = json.loads(results.read_text())
            run.score = float(doc["score"])
            run.max_score = float(sum(t.get("max_score", 0) for t in doc["tests"]))
            run.grader_seconds = float(doc.get("execution_time", 0.0))
            failed = [t for t in doc["tests"] if t.get("status") == "failed"]
            if failed:
                run.first_failure = f"{failed[0].get('name')}: {str(failed[0].get('output', ''))[:800]}"
    return run


# -- machine and versions ------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    except (ValueError, OSError, AttributeError):
        return None


def code_version(tree: Path = ROOT) -> str:
    """The commit measured, marked when the grader or fixtures differ from it (shared working trees)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "autograder", "test_cases"], cwd=tree,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + (" + uncommitted changes" if dirty else "")) if head else "unknown"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import scipy
        scipy_version: str | None = scipy.__version__
    except ImportError:
        scipy_version = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gb": round(_memory_gb() or 0.0, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyyaml": yaml.__version__ + (" (libyaml)" if getattr(yaml, "__with_libyaml__", False) else " (pure Python)"),
        "scipy": scipy_version,
        "code": code_version(),
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# -- measurements ----------------------------------------------------------------------------------
def quick_hang_config(folder: Path, budget: float, call_timeout: float) -> Path:
    """A copy of the assignment config with a small budget, so the hang case takes seconds."""
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    doc.setdefault("limits", {}).update({"budget": budget, "call_timeout": call_timeout})
    path = folder / "assignment.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def hang_budget(config: Path) -> float:
    """The total budget the grader will apply (the config's, else the grader's default)."""
    try:
        return float(load_limits(config).budget)
    except Exception:  # noqa: BLE001 - the config is mid-change: fall back to reading the one number we need
        doc = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        return float((doc.get("limits") or {}).get("budget", 30.0))


def measure_processes(rounds: int, log: Callable[[str], None], against: Path | None = None) -> dict[str, Series]:
    """The floor and the quick gradings, interleaved round by round.

    `correct_bytecode` grades the correct submission again as deployed: with
    the grader's modules compiled once beforehand (a cache of this run only),
    as setup.sh's `python -m compileall` leaves them, since a Gradescope
    container grades once and would otherwise compile every module each time;
    and with the fixtures indexed, as setup.sh's `python -m autograder index`
    leaves them (a copy of the fixtures, so the repository stays as it is),
    and with Gradescope's submission metadata, so the submission policy is
    applied as run_autograder applies it. So is `homework_bytecode`. With `against` (another checkout of this
    repository), both are also graded by its grader, as deployed there, in
    the same rounds: a change's figures side by side with the code before it.
    """
    names = ("floor", *GRADED, "correct_bytecode", *("correct_against",) * bool(against), "homework_bytecode",
             *("homework_against",) * bool(against))
    series = {name: Series(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        env = bytecode_env(Path(cache))
        root_fixtures = deployed_fixtures(DEFAULT_FIXTURES, Path(cache) / "deployed")
        homework_fixtures = deployed_fixtures(HOMEWORK / "test_cases", Path(cache) / "deployed-homework")
        metadata = gradescope_metadata(Path(cache))
        run_grading(SUBMISSIONS / "correct.py", config=None, timeout=120, env=env)  # fills the cache
        if against is not None:
            theirs = {"root": deployed_fixtures(against / "test_cases", Path(cache) / "against", against),
                      "homework": deployed_fixtures(against / "examples" / "hw1p1" / "test_cases",
                                                    Path(cache) / "against-homework", against)}
            run_grading(SUBMISSIONS / "correct.py", config=None, timeout=120, env=env, tree=against,
                        fixtures=theirs["root"], problem=ROOT_PROBLEM)  # fills the cache
        for i in range(rounds):
            series["floor"].runs.append(run_process([sys.executable, "-c", FLOOR_CODE], timeout=60))
            for name in GRADED:
                series[name].runs.append(run_grading(GRADED_PATHS[name], config=None, timeout=120))
            series["correct_bytecode"].runs.append(run_grading(SUBMISSIONS / "correct.py", config=None, timeout=120,
                                                               env=env, fixtures=root_fixtures, problem=ROOT_PROBLEM,
                                                               metadata=metadata))
            series["homework_bytecode"].runs.append(run_grading(HOMEWORK / "reference", config=None, timeout=120,
                                                                env=env, fixtures=homework_fixtures, metadata=metadata))
            if against is not None:
                series["correct_against"].runs.append(run_grading(
                    SUBMISSIONS / "correct.py", config=None, timeout=120, env=env, tree=against,
                    fixtures=theirs["root"], problem=ROOT_PROBLEM, metadata=metadata))
                series["homework_against"].runs.append(run_grading(
                    against / "examples" / "hw1p1" / "reference", config=None, timeout=120, env=env, tree=against,
                    fixtures=theirs["homework"], metadata=metadata))
            log(f"  round {i + 1}/{rounds}: " + ", ".join(f"{n} {s.runs[-1].seconds:.3f} s" for n, s in series.items()))
    return series


def measure_fixtures(repeats: int) -> dict[str, Any]:
    """Reading all of test_cases/ in this process (modules already imported), as a grading reads it as deployed
    (median_s, judged): from the index setup.sh writes (a copy of the folder, indexed); and from the YAML, as
    without an index (yaml_median_s)."""
    from autograder.fixture_index import index_head, indexed_cases

    def timed(read: Callable[[], list[Any]]) -> tuple[list[float], list[Any]]:
        times, cases = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            cases = read()
            times.append(time.perf_counter() - start)
        return times, cases

    with tempfile.TemporaryDirectory(prefix="bench-fixtures-") as tmp:
        deployed = deployed_fixtures(DEFAULT_FIXTURES, Path(tmp))
        indexed, _ = timed(lambda: (index_head(deployed), load_cases(deployed, graded_only=True,
                                                                        parsed=indexed_cases(deployed)))[1])
    times, cases = timed(lambda: load_cases(DEFAULT_FIXTURES, graded_only=True))
    files = list(DEFAULT_FIXTURES.glob("*.yaml"))
    numbers = sum(a.size for c in cases for a in (*c.inputs.values(), *c.expected.values()))
    return {"first_s": indexed[0], "median_s": statistics.median(indexed), "yaml_first_s": times[0],
            "yaml_median_s": statistics.median(times), "runs": len(times), "cases": len(cases), "files": len(files),
            "bytes": sum(p.stat().st_size for p in files), "numbers": int(numbers),
            "c_loader": hasattr(yaml, "CSafeLoader")}


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median time of `repeats` calls (after one warm-up) and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure_kernels(n: int, c: int, repeats: int) -> dict[str, Any]:
    """The reference Softmax against scipy.special.softmax and a textbook vectorised backward."""
    spec = importlib.util.spec_from_file_location("bench_reference_activation",
                                                  ROOT / "reference" / "mytorch" / "nn" / "activation.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 3.0, size=(n, c))
    grad = rng.normal(size=(n, c))
    layer = module.Softmax()
    fwd_s, a = _best(lambda: layer.forward(z), repeats)
    layer.A = a
    bwd_s, dz = _best(lambda: layer.backward(grad), repeats)
    plain_s, dz_plain = _best(lambda: a * grad - a * np.sum(a * grad, axis=1, keepdims=True), repeats)
    out: dict[str, Any] = {
        "shape": [n, c], "repeats": repeats,
        "reference_forward_ms": fwd_s * 1e3, "reference_backward_ms": bwd_s * 1e3,
        "textbook_backward_ms": plain_s * 1e3, "backward_max_abs_diff": float(np.max(np.abs(dz - dz_plain))),
        "scipy_forward_ms": None, "forward_max_abs_diff": None,
    }
    try:
        from scipy.special import softmax
    except ImportError:
        return out
    sci_s, a_sci = _best(lambda: softmax(z, axis=1), repeats)
    out.update(scipy_forward_ms=sci_s * 1e3, forward_max_abs_diff=float(np.max(np.abs(a - a_sci))))
    return out


def measure_memory(timeout: float) -> dict[str, Any]:
    """Peak resident memory of the grader process itself, and of its children (zygote, workers)."""
    run = run_grading(SUBMISSIONS / "correct.py", config=None, timeout=timeout, probe=True)
    for line in run.output.splitlines():
        if line.startswith("BENCH-RSS "):
            own, kids = (float(x) for x in line.split()[1:3])
            return {"grader_mb": _rss_mb(own), "children_mb": _rss_mb(kids), "score": run.score, "error": ""}
    return {"grader_mb": None, "children_mb": None, "score": run.score,
            "error": f"the memory probe printed no figures:\n{run.output[-1500:].rstrip()}"}


# -- report ----------------------------------------------------------------------------------------
def _x(value: float, floor: float) -> str:
    return f"{value / floor:5.2f}x floor"


def _verdict(ok: bool) -> str:
    return "holds" if ok else "DOES NOT HOLD"


def report(figures: dict[str, Any]) -> list[str]:
    """The printed summary; every ratio is between figures of this one run."""
    m, p = figures["machine"], figures["processes"]
    floor = p["floor"]["median_s"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gb']} GB; {m['os']}",
        f"Versions: Python {m['python']}, NumPy {m['numpy']}, PyYAML {m['pyyaml']}, SciPy {m['scipy'] or 'not installed'}",
        f"Code: {m['code']}; date: {m['date']}; load average {_load(m['load_average_start'])} at start, {_load(figures['load_average_end'])} at end",
        "",
        f"Process times (median of {p['floor']['runs']} interleaved runs; spread = (max - min) / median):",
    ]
    labels = {"floor": f"start-up floor (python -c \"{FLOOR_CODE}\")", "correct": "grade: correct submission",
              "correct_bytecode": "grade: correct, as deployed (compiled, indexed)",
              "homework_bytecode": "grade: whole HW1P1 reference, as deployed",
              "correct_against": f"  the same, by {figures.get('against', '--against')}",
              "homework_against": f"  the same, by {figures.get('against', '--against')}",
              "triple_loop": "grade: writeup's triple loop", "crash_at_import": "grade: crash at import",
              "hang": "grade: hangs (busy loop)"}
    for name, s in p.items():
        score = f"  score {s['score']:g}/{s['max_score']:g}" if s.get("score") is not None else ""
        ratio = (f"{s['median_s'] / figures['hang_budget_s']:5.2f}x budget" if name == "hang"
                 else _x(s["median_s"], floor))
        lines.append(f"  {labels[name]:<48} {s['median_s']:7.3f} s  {ratio}  "
                     f"[{s['min_s']:.3f}-{s['max_s']:.3f}, spread {s['spread']:.0%}, n={s['runs']}]{score}")
    hang, budget = p["hang"], figures["hang_budget_s"]
    lines.append(f"  hang: {hang['max_s']:.2f} s at worst for a budget of {budget:g} s "
                 f"(allowed: budget + {HANG_MARGIN:g} s margin)")
    fx = figures["fixtures"]
    share = fx["median_s"] / p["correct_bytecode"]["median_s"]
    lines += [
        "",
        f"Fixture loading: {fx['files']} files, {fx['bytes'] / 1024:.0f} KiB, {fx['numbers']} numbers; as deployed, "
        f"from the index: {fx['median_s'] * 1e3:.1f} ms median (first {fx['first_s'] * 1e3:.1f} ms) = {share:.1%} "
        f"of a correct grading (as deployed); from the YAML (no index; rows read directly, the rest by PyYAML's "
        f"{'C' if fx['c_loader'] else 'pure-Python'} loader): {fx['yaml_median_s'] * 1e3:.1f} ms median",
    ]
    mem = figures["memory"]
    if mem["grader_mb"] is not None:
        lines.append(f"Memory (peak RSS): grader process {mem['grader_mb']:.0f} MB, its children (zygote, workers) "
                     f"{mem['children_mb']:.0f} MB at most; the floor process {p['floor']['tree_max_rss_mb']:.0f} MB")
    else:
        lines.append("Memory: not measured (see the warning below)")
    k = figures["kernels"]
    lines += ["", f"Kernels, N={k['shape'][0]}, C={k['shape'][1]} (median of {k['repeats']}):",
              f"  reference forward   {k['reference_forward_ms']:8.2f} ms"
              + (f"   scipy.special.softmax {k['scipy_forward_ms']:8.2f} ms  (reference/scipy "
                 f"{k['reference_forward_ms'] / k['scipy_forward_ms']:.2f}x, max |diff| {k['forward_max_abs_diff']:.1e})"
                 if k["scipy_forward_ms"] is not None else "   scipy not installed: no comparison"),
              f"  reference backward  {k['reference_backward_ms']:8.2f} ms   textbook A*g - A*sum(A*g) "
              f"{k['textbook_backward_ms']:8.2f} ms  (reference/textbook "
              f"{k['reference_backward_ms'] / k['textbook_backward_ms']:.2f}x, max |diff| {k['backward_max_abs_diff']:.1e})"]
    lines += ["", "Targets (issue 6):"]
    for t in figures["targets"]:
        lines.append(f"  {t['target']:<62} {t['measured']:<22} {_verdict(t['holds'])}")
    return lines


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "n/a"


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    p = figures["processes"]
    # As deployed: setup.sh compiles the grader (compileall), as pip did NumPy and PyYAML for the floor.
    floor, correct = p["floor"]["median_s"], p["correct_bytecode"]["median_s"]
    share = figures["fixtures"]["median_s"] / correct
    budget = figures["hang_budget_s"]
    grader_mb = figures["memory"]["grader_mb"]
    return [
        {"target": f"correct submission <= {TARGET_CORRECT_X_FLOOR:g}x floor (as deployed)",
         "measured": f"{correct / floor:.2f}x ({p['correct']['median_s'] / floor:.2f}x not)",
         "holds": correct <= TARGET_CORRECT_X_FLOOR * floor},
        {"target": f"whole homework (examples/hw1p1) <= {TARGET_CORRECT_X_FLOOR:g}x floor (as deployed)",
         "measured": f"{p['homework_bytecode']['median_s'] / floor:.2f}x",
         "holds": p["homework_bytecode"]["median_s"] <= TARGET_CORRECT_X_FLOOR * floor},
        {"target": f"hang graded within budget ({budget:g} s) + {HANG_MARGIN:g} s", "measured": f"{p['hang']['max_s']:.2f} s",
         "holds": p["hang"]["max_s"] <= budget + HANG_MARGIN},
        {"target": f"fixture loading < {TARGET_FIXTURE_SHARE:.0%} of a correct grading", "measured": f"{share:.1%}",
         "holds": share < TARGET_FIXTURE_SHARE},
        {"target": f"grader memory < {TARGET_GRADER_MB:g} MB",
         "measured": "n/a" if grader_mb is None else f"{grader_mb:.0f} MB",
         "holds": grader_mb is not None and grader_mb < TARGET_GRADER_MB},
    ]


def sanity_problems(figures: dict[str, Any]) -> list[str]:
    """Runs that did not do what the benchmark assumes (their timings would then mean little)."""
    problems = []
    for name, s in figures["processes"].items():
        if s["failed_runs"]:
            problems.append(f"{s['failed_runs']} of {s['runs']} run(s) of '{name}' failed or wrote no results; "
                            f"the first one printed:\n{s['failure_output'].rstrip()}")
    if figures["memory"]["error"]:
        problems.append(figures["memory"]["error"])
    p = figures["processes"]
    if p["correct"]["scores"] != [p["correct"]["max_score"]]:
        problems.append(f"the correct submission scored {p['correct']['scores']} out of {p['correct']['max_score']}, "
                        f"not always full marks; a failed test said:\n{p['correct']['first_failed_test'].rstrip()}")
    homework = p["homework_bytecode"]
    if set(homework["scores"]) != {homework["max_score"]}:
        problems.append(f"the whole homework's reference scored {homework['scores']} out of {homework['max_score']}")
    if p["correct_bytecode"]["scores"] != [p["correct"]["max_score"]]:
        problems.append(f"the correct submission scored {p['correct_bytecode']['scores']} with bytecode cached")
    for name in ("correct_against", "homework_against"):
        if name in p and set(p[name]["scores"]) != {p[name]["max_score"]}:
            problems.append(f"the --against tree's grader gave {name} {p[name]['scores']} out of {p[name]['max_score']}")
    for name in ("hang", "crash_at_import"):
        if p[name]["scores"] != [0.0]:
            problems.append(f"the {name} submission scored {p[name]['scores']}, not always 0")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time grading against the start-up floor of Python + NumPy.")
    parser.add_argument("--quick", action="store_true",
                        help="one round, a 1 s budget for the hang case, small kernels (a smoke test, not a measurement)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of floor and gradings (default 7; --quick 1)")
    parser.add_argument("--hang-runs", type=int, help="runs of the hanging submission (default 1: each takes the budget)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--against", type=Path, metavar="TREE",
                        help="another checkout of this repository (say `git worktree add /tmp/before COMMIT`): its "
                             "grader also grades the correct submission and the whole homework, as deployed, in the "
                             "same rounds, so a change is measured side by side with the code before it")
    args = parser.parse_args(argv)
    if args.against is not None and not (args.against / "autograder" / "__main__.py").is_file():
        parser.error(f"--against {args.against}: not a checkout of this repository (no autograder/__main__.py)")
    rounds = args.rounds or (1 if args.quick else 7)
    hang_runs = args.hang_runs or 1
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731

    figures: dict[str, Any] = {"quick": args.quick, "machine": machine_info()}
    if args.against is not None:
        figures["against"] = f"{args.against}'s grader ({code_version(args.against)})"
    with tempfile.TemporaryDirectory(prefix="bench-config-") as tmp:
        hang_config = quick_hang_config(Path(tmp), budget=1.0, call_timeout=0.5) if args.quick else None
        budget = hang_budget(hang_config or DEFAULT_CONFIG)
        log(f"Timing the floor and {', '.join(GRADED)} in {rounds} interleaved round(s) ...")
        series = measure_processes(rounds, log, args.against)
        log(f"Timing the hanging submission ({hang_runs} run(s), budget {budget:g} s) ...")
        series["hang"] = Series("hang", [run_grading(SUBMISSIONS / "hang.py", config=hang_config, timeout=budget + 120)
                                         for _ in range(hang_runs)])
    figures["hang_budget_s"] = budget
    figures["processes"] = {name: s.summary() for name, s in series.items()}
    log("Fixture loading, grader memory, kernels ...")
    figures["fixtures"] = measure_fixtures(3 if args.quick else 15)
    figures["memory"] = measure_memory(timeout=120)
    figures["kernels"] = measure_kernels(*((64, 256) if args.quick else (1024, 4096)), repeats=2 if args.quick else 7)
    figures["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    figures["targets"] = targets(figures)
    figures["problems"] = sanity_problems(figures)
    print("\n".join(report(figures)))
    for problem in figures["problems"]:
        print(f"WARNING: {problem}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"Figures written to {args.json}")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
