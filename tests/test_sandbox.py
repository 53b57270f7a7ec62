"""The sandbox against hostile and faulty submissions, graded end to end through run_autograder.

Every submission in tests/submissions/hostile/ is graded once, in a
Gradescope-like AUTOGRADER_ROOT (source/, submission/, results/) under a
world-traversable temporary folder, so that what keeps student code away
from the grader's files is the sandbox and run_autograder, not the test's
own folder permissions. Each test checks: a valid results file, the score
the submission deserves, the message, no change to the grader's files, the
time taken, and that no process of the sandbox account is left.

When run as root (as on Gradescope), student code runs as a test-only
account (TEST_ACCOUNT), so "no process left" can be checked exactly; a
lock (conftest.sandbox_account) keeps two test runs from sharing it at the same time.

The non-root runs start the grader as another uid with the system Python
and this venv's packages. When that uid cannot read them (a checkout or a
pyenv Python under /root, mode 700), the packages the grader needs are
copied into a world-readable temporary folder first; when even that does
not work, those tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import yaml

from autograder.sandbox.system import IPC_UID_COLUMNS
from helpers import PROJECT, TEST_ACCOUNT, make_root

HOSTILE = Path(__file__).resolve().parent / "submissions" / "hostile"
NON_ROOT_UID = 64321  # an unused uid the non-root runs use for the grader itself
SYSTEM_PYTHON = "/usr/bin/python3.11"
# Small limits keep the hang tests fast.
FAST = {"call_timeout": 1, "import_timeout": 1, "budget": 6, "memory_mb": 256, "max_processes": 16}
MARGIN = 4.0  # seconds beyond the budget for start-up, fixtures, results (on a busy 2-core machine)

IS_ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="the privilege drop needs root (as on Gradescope)")


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture()
def world() -> Iterator[Path]:
    """A temporary folder anyone may traverse (like /autograder), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ag-sandbox-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_user(uid: int) -> Callable[[], None]:
    """A preexec_fn that makes the child `uid` (group too, no supplementary groups)."""
    def drop() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop


def venv_site() -> Path:
    """This venv's site-packages (the one that holds numpy)."""
    return next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p, "numpy").is_dir())


def grader_imports_as(uid: int, site: Path) -> subprocess.CompletedProcess:
    """Whether `uid` can start SYSTEM_PYTHON and import the grader's packages from `site`."""
    return subprocess.run([SYSTEM_PYTHON, "-c", "import numpy, yaml, gradescope_utils.autograder_utils.decorators"],
                          cwd="/", capture_output=True, text=True,
                          timeout=120, preexec_fn=as_user(uid),
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(site)})


def grader_distributions() -> list[str]:
    """What requirements.txt installs (as on Gradescope), with the dependencies they need here."""
    from packaging.requirements import Requirement

    wanted = [line.split("==", 1)[0].strip() for line in (PROJECT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    found: list[str] = []
    while wanted:
        name = wanted.pop()
        if name.lower() in (n.lower() for n in found):
            continue
        found.append(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
    return found


def copy_distributions(names: list[str], target: Path) -> None:
    """Copy the installed files of each distribution into `target`, a site-packages anyone may read."""
    for name in names:
        dist = importlib.metadata.distribution(name)
        for entry in dist.files or []:
            if entry.parts[0] == ".." or "__pycache__" in entry.parts:  # scripts in bin/; caches are rebuilt
                continue
            source = Path(dist.locate_file(entry))
            if source.is_file():
                destination = target / entry
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)


@pytest.fixture(scope="module")
def non_root_site() -> Iterator[Path]:
    """A site-packages NON_ROOT_UID can read: this venv's own, or a world-readable copy of what the grader needs."""
    site = venv_site()
    if grader_imports_as(NON_ROOT_UID, site).returncode == 0:
        yield site
        return
    folder = Path(tempfile.mkdtemp(prefix="ag-site-test-"))
    try:
        copy_distributions(grader_distributions(), folder)
        check = grader_imports_as(NON_ROOT_UID, folder)
        if check.returncode != 0:
            pytest.skip(f"uid {NON_ROOT_UID} cannot read {site} and cannot run {SYSTEM_PYTHON} with a copy of its "
                        f"packages either: {check.stderr.strip().splitlines()[-1:]}")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def processes_of(uid: int) -> list[str]:
    """Live (not zombie) processes whose real uid is `uid`, as 'pid cmdline'."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and not fields.get("State", "").strip().startswith("Z"):
            found.append(f"{name} {cmdline[:80]}")
    return found


def system_ipc_uid_columns() -> tuple[tuple[str, int], ...]:
    """(kind, column of the owner's uid) in /proc/sysvipc/KIND."""
    return tuple(IPC_UID_COLUMNS.items())


def sysv_objects_of(uid: int) -> list[str]:
    """System V IPC objects of the machine's own IPC namespace owned by `uid`."""
    found = []
    for kind, uid_column in system_ipc_uid_columns():
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        found += [f"{kind} {row.split()[1]}" for row in rows if int(row.split()[uid_column]) == uid]
    return found


def sockets_of(uid: int) -> list[str]:
    """Sockets of the machine's own network namespace owned by `uid` (TCP and UDP, IPv4 and IPv6)."""
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        found += [f"{table} {row.split()[1]}->{row.split()[2]}" for row in rows if int(row.split()[7]) == uid]
    return found


def tree_hash(folder: Path) -> str:
    """A hash of every file's path and content under `folder` (Python's own caches aside)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        digest.update(f"{path.relative_to(folder)}\n".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def foreign_files(folder: Path, owner: int) -> list[str]:
    """Files under `folder` that the grader's user does not own (caches included)."""
    return [str(p) for p in folder.rglob("*") if p.lstat().st_uid != owner]


def set_limits(source: Path, limits: dict[str, float]) -> None:
    """Change the limits in a copied grader: in every fixture, and in assignment.yaml."""
    for fixture in sorted((source / "test_cases").glob("*.yaml")):
        text = fixture.read_text()
        current = yaml.safe_load(text).get("limits") or {}
        merged = dict(current, **limits)
        line = "limits: {" + ", ".join(f"{k}: {v}" for k, v in merged.items()) + "}"
        text, count = re.subn(r"(?m)^limits:.*$", line, text)
        assert count == 1, f"{fixture}: no limits line to change"
        fixture.write_text(text)
    config = source / "autograder" / "assignment.yaml"
    text = config.read_text()
    for key, value in limits.items():
        text = re.sub(rf"(?m)^(\s+){key}:\s*[^\s#]+", rf"\g<1>{key}: {value}", text)
    config.write_text(text)


def hostile(name: str, folder: Path, **params: Any) -> Path:
    """A copy of a hostile submission with its test parameters (MARKER, NEEDLES) filled in."""
    text = (HOSTILE / name).read_text()
    for key, value in params.items():
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value!r}", text)
        assert count == 1, f"{name} has no {key} line"
    path = folder / name
    path.write_text(text)
    return path


@dataclass
class Graded:
    """One run of run_autograder and what it left behind."""

    root: Path
    results: dict[str, Any]
    proc: subprocess.CompletedProcess
    seconds: float
    source_changed: bool
    left: list[str]  # processes of the sandbox account (or the non-root uid) still alive
    held: list[str] = field(default_factory=list)  # its System V IPC objects and sockets still in the machine's namespaces

    @property
    def graded(self) -> list[dict[str, Any]]:
        """The tests that carry points (not informational notes)."""
        return [t for t in self.results["tests"] if t.get("max_score", 0) > 0]

    def named(self, method: str) -> list[dict[str, Any]]:
        return [t for t in self.graded if t["name"].endswith(f": {method} ({'A' if method == 'forward' else 'dLdZ'})")]

    @property
    def outputs(self) -> str:
        return "\n".join(t.get("output", "") for t in self.results["tests"]) + "\n" + self.results.get("output", "")

    def points(self, method: str) -> float:
        return sum(t["max_score"] for t in self.named(method))


def grade(world: Path, submission: Path, *, limits: dict[str, float] | None = None,
          setup: Callable[[Path], None] | None = None, as_uid: int | None = None,
          account_uid: int | None = None, site: Path | None = None) -> Graded:
    """Build an AUTOGRADER_ROOT in `world`, run run_autograder, and check what every run must satisfy.

    With `as_uid`, the grader runs as that uid with SYSTEM_PYTHON and the packages in `site`.
    """
    root = make_root(world, submission)
    set_limits(root / "source", dict(FAST, **(limits or {})))
    if setup:
        setup(root)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               AUTOGRADER_SANDBOX_USER=TEST_ACCOUNT)
    preexec = None
    if as_uid is not None:  # the grader itself as a normal user, with a Python that user can run
        # its temporary folders in `world` too: a submission may kill it (same account), and what it could not
        # remove then goes with the world, not into the machine's /tmp
        (root / "tmp").mkdir()
        subprocess.run(["chown", "-R", f"{as_uid}:{as_uid}", str(root)], check=True)
        env.update(AUTOGRADER_PYTHON=SYSTEM_PYTHON, PYTHONPATH=str(site or venv_site()), HOME=str(root),
                   TMPDIR=str(root / "tmp"))
        preexec = as_user(as_uid)
    before = tree_hash(root / "source")
    start = time.monotonic()
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=120, preexec_fn=preexec)
    seconds = time.monotonic() - start
    watched = as_uid if as_uid is not None else account_uid
    left = processes_of(watched) if watched is not None else []
    held = sysv_objects_of(watched) + sockets_of(watched) if watched is not None else []
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())  # valid JSON, always
    assert set(results) >= {"score", "tests", "output"}
    assert results["score"] == pytest.approx(sum(t.get("score", 0) for t in results["tests"]))
    changed = tree_hash(root / "source") != before or foreign_files(root / "source", as_uid or os.getuid())
    return Graded(root, results, proc, seconds, bool(changed), left, held)


def expect_clean(run: Graded, budget: float = FAST["budget"]) -> None:
    """What every hostile run must leave: grader files untouched, no process, within the budget."""
    assert not run.source_changed, "the grader's files changed"
    assert not run.left, f"processes left behind: {run.left}"
    assert not run.held, f"IPC objects or sockets left behind: {run.held}"
    assert run.seconds <= budget + MARGIN, f"took {run.seconds:.1f} s"
    listed = sorted(p.name for p in (run.root / "results").iterdir())
    assert listed == ["results.json"], listed


def hex_values(*arrays: np.ndarray) -> list[str]:
    return [np.float64(v).tobytes().hex() for array in arrays for v in np.ravel(array)[:3]]


def fixture_docs() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((PROJECT / "test_cases").glob("*.yaml"))]


# -- cheats: zero points, nothing changed -------------------------------------------------------
@root_only
def test_runs_as_the_sandbox_account_and_cannot_write_to_the_grader(world, sandbox_account):
    run = grade(world, HOSTILE / "tampers_with_grader.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert f"uid={sandbox_account} euid={sandbox_account}" in run.outputs and "groups=[]" in run.outputs
    assert "WRITABLE" not in run.outputs


@root_only
def test_forged_results_file_is_never_written(world, sandbox_account):
    run = grade(world, HOSTILE / "forges_results.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0 and len(run.graded) >= 20
    assert "FORGED" not in run.outputs
    assert "denied:" in run.outputs and str(run.root / "results" / "results.json") in run.outputs


def test_exit_at_import_fails_every_test_and_says_how(world, sandbox_account):
    run = grade(world, HOSTILE / "exits_at_import.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    for test in run.graded:
        status = "exited with status 0" if test["visibility"] == "visible" else "exited with status #"  # no digit
        assert status in test["output"] and "while importing your file" in test["output"], test


def test_monkeypatching_numpy_changes_nothing_in_the_grader(world, sandbox_account):
    run = grade(world, HOSTILE / "monkeypatches_allclose.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert all("outside the tolerance" in t["output"] for t in run.graded)


@root_only
def test_fixtures_cannot_be_read_not_even_through_a_planted_link(world, sandbox_account):
    def plant_links(root: Path) -> None:
        nn = root / "submission" / "mytorch" / "nn"
        (nn / "fixtures").symlink_to(root / "source" / "test_cases")
        (nn / "notes.yaml").symlink_to(root / "source" / "test_cases" / "01_writeup_example.yaml")

    run = grade(world, HOSTILE / "reads_fixtures.py", setup=plant_links, account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert "READ" not in run.outputs


def test_memory_holds_no_expected_answer(world, sandbox_account):
    docs = fixture_docs()
    hidden = [d for d in docs if d["visibility"] != "visible"]
    assert hidden, "the fixtures should have hidden cases"
    needles = hex_values(*[np.array(d["expected"]["dLdZ"]) for d in docs[1:]],
                         *[np.array(d["expected"]["A"]) for d in hidden])
    submission = hostile("scans_memory_for_answers.py", world, NEEDLES=needles)
    run = grade(world, submission, account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert "FOUND expected bytes" not in run.outputs
    assert "FOUND a candidate backward answer" not in run.outputs
    # a backward test calls forward first, with the reference A at hand (see README): not a forward answer
    assert not any("FOUND" in t["output"] for t in run.named("forward"))


def test_killing_the_grader_is_refused_and_grading_goes_on(world, sandbox_account):
    run = grade(world, HOSTILE / "kills_parent.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    if not IS_ROOT:  # the same user as the grader: it may stop the sandbox (README "Sandbox", not defended)
        assert all("outside the tolerance" in t["output"] or "stopped" in t["output"] for t in run.graded)
        return
    assert all("outside the tolerance" in t["output"] for t in run.graded), "every test should have run"
    if IS_ROOT:
        # The grader and the zygote are root's. Its first check may kill the process that imported the
        # submission and forks its checks (the same account, see README "Sandbox"); every later check
        # then runs in a worker of its own, whose parent is the zygote.
        assert "could not kill" in run.outputs
        assert run.outputs.count("\nkilled") <= 1, run.outputs


def test_detached_writer_is_killed_before_it_can_write(world, sandbox_account):
    marker_dir = Path(tempfile.mkdtemp(prefix="ag-marker-", dir=world))
    marker_dir.chmod(0o1777)
    marker = marker_dir / "survived"
    run = grade(world, hostile("detached_writer.py", world, MARKER=str(marker)), account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    written = (run.root / "results" / "results.json").read_bytes()
    time.sleep(1.0)  # the writer sleeps 0.5 s before it acts
    assert not marker.exists(), "a detached process outlived run_autograder"
    assert (run.root / "results" / "results.json").read_bytes() == written


def test_pickles_are_never_loaded(world, sandbox_account):
    marker = world / "unpickled"
    run = grade(world, hostile("sends_pickle.py", world, MARKER=str(marker)), account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert not marker.exists()
    for test in run.named("forward"):  # a hidden test does not name a class the student's code may have made
        named = "returned a Payload" if test["visibility"] == "visible" else "returned a value of a class of your own"
        assert named in test["output"], test
    for test in run.named("backward"):
        assert "not valid" in test["output"], test


def test_forged_protocol_messages_cost_only_their_own_test(world, sandbox_account):
    run = grade(world, HOSTILE / "forges_protocol.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == run.points("forward") > 0
    outputs = [t["output"] for t in run.named("backward")]
    assert all("was not valid" in o for o in outputs), outputs
    assert any("header is not valid JSON (RecursionError)" in o for o in outputs)
    assert any("over the 67108864-byte limit" in o for o in outputs)


def test_printed_json_does_not_change_the_grade(world, sandbox_account):
    run = grade(world, HOSTILE / "prints_json.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    for test in run.graded:
        assert "output printed by your code" in test["output"]
        if test["visibility"] == "visible":
            assert '"score": 100.0' in test["output"]
        else:  # what a hidden test printed is not shown at all
            assert "score" not in test["output"] and "printed output during this hidden test" in test["output"]


# -- faults: a valid result, an honest message, within the budget -------------------------------
def test_hang_at_import_costs_one_import_timeout(world, sandbox_account):
    run = grade(world, HOSTILE / "hangs_at_import.py", account_uid=sandbox_account)
    expect_clean(run, budget=FAST["import_timeout"])
    assert run.results["score"] == 0
    for test in run.graded:
        assert "Importing your file took longer than 1 s" in test["output"], test


def test_hang_in_backward_is_stopped_by_the_call_timeout_then_the_budget(world, sandbox_account):
    budget = 3
    run = grade(world, HOSTILE / "hangs_in_backward.py", limits={"budget": budget}, account_uid=sandbox_account)
    expect_clean(run, budget=budget)
    first_forward, first_backward = run.graded[0], run.graded[1]
    assert first_forward["status"] == "passed"
    assert "did not return within its time limit of 1 s" in first_backward["output"]
    assert all(t["status"] == "failed" for t in run.named("backward"))
    messages = [t["output"] for t in run.graded if t["status"] == "failed"]
    assert any("time budget of 3 s" in m for m in messages)
    assert 0 < run.results["score"] < run.points("forward")


def test_memory_hog_gets_a_memory_error_that_names_the_limit(world, sandbox_account):
    run = grade(world, HOSTILE / "memory_hog.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    for test in run.graded:
        assert "MemoryError" in test["output"] and "at most 256 MB" in test["output"], test


def test_segfault_costs_only_the_test_it_was_running(world, sandbox_account):
    run = grade(world, HOSTILE / "segfaults.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == run.points("forward") > 0
    for test in run.named("backward"):
        assert "ended during the call: it was killed by a segmentation fault (SIGSEGV)" in test["output"], test


def test_closed_connection_and_still_running_is_named(world, sandbox_account):
    run = grade(world, HOSTILE / "closes_protocol_and_keeps_running.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == run.points("forward") > 0
    for test in run.named("backward"):
        assert "closed the connection" in test["output"] and "kept running" in test["output"], test


def test_fork_bomb_is_bounded_and_cleaned_up(world, sandbox_account):
    run = grade(world, HOSTILE / "fork_bomb.py", account_uid=sandbox_account)
    expect_clean(run)
    failed = [t for t in run.graded if t["status"] == "failed"]
    assert len(failed) == 1 and "time limit of 1 s" in failed[0]["output"], failed
    assert run.results["score"] == sum(t["max_score"] for t in run.graded) - failed[0]["max_score"]


# -- honest but unusual: full marks ----------------------------------------------------------------
def test_output_flood_with_binary_garbage_keeps_full_marks(world, sandbox_account):
    run = grade(world, HOSTILE / "floods_output.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == sum(t["max_score"] for t in run.graded)
    for test in run.graded:
        output = test["output"]
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", output), "control characters reached the results"
        if test["visibility"] != "visible":
            assert "printed output during this hidden test" in output and "starting" not in output
            continue
        assert "bytes of output cut" in output and len(output) < 6000, len(output)
        assert "starting" in output and "done" in output  # the head and the tail are kept


def test_slow_correct_code_keeps_full_marks(world, sandbox_account):
    run = grade(world, HOSTILE / "slow_but_correct.py", limits={"budget": 20}, account_uid=sandbox_account)
    expect_clean(run, budget=20)
    assert run.results["score"] == sum(t["max_score"] for t in run.graded)


# -- the grader itself as a normal user (a student's laptop) ---------------------------------------
non_root_runs = pytest.mark.skipif(not IS_ROOT or not os.access(SYSTEM_PYTHON, os.X_OK) or sys.version_info[:2] != (3, 11),
                                   reason=f"needs root (to switch to a test uid) and {SYSTEM_PYTHON} "
                                          "matching this venv's Python (it borrows the venv's site-packages)")


@non_root_runs
def test_not_root_correct_code_and_cleanup(world, non_root_site):
    run = grade(world, PROJECT / "reference", as_uid=NON_ROOT_UID, site=non_root_site)
    expect_clean(run)
    assert run.results["score"] == sum(t["max_score"] for t in run.graded) > 0, run.proc.stderr[-2000:]

    marker_dir = Path(tempfile.mkdtemp(prefix="ag-marker-", dir=world))
    marker_dir.chmod(0o1777)
    writer = hostile("detached_writer.py", marker_dir, MARKER=str(marker_dir / "survived"))
    sub = world / "writer"
    sub.mkdir()
    run = grade(sub, writer, as_uid=NON_ROOT_UID, site=non_root_site)
    expect_clean(run)
    time.sleep(1.0)
    assert not (marker_dir / "survived").exists()

    sub = world / "bomb"
    sub.mkdir()
    run = grade(sub, HOSTILE / "fork_bomb.py", as_uid=NON_ROOT_UID, site=non_root_site)
    expect_clean(run)
    assert len([t for t in run.graded if t["status"] == "failed"]) == 1


@non_root_runs
def test_not_root_killing_the_grader_still_leaves_valid_results(world, non_root_site):
    run = grade(world, HOSTILE / "kills_parent.py", as_uid=NON_ROOT_UID, site=non_root_site)
    expect_clean(run)
    # As a normal user, student code can stop the grader (same account): the results say so. A check
    # forked by the host reaches the host and the zygote first: the rest of the tests then fail, saying so.
    assert run.results["score"] == 0
    if run.results["tests"]:
        later = [t["output"] for t in run.graded[1:]]
        assert later and all("sandbox process" in text for text in later), later
    else:
        assert "stopped by signal 9" in run.results["output"], run.results["output"]
