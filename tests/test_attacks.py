"""Attacks on the trust between student code, root and the results, end to end through run_autograder.

Each class of weakness of issue 10 has a submission in tests/submissions/hostile/
and a test here, graded like every test of test_sandbox.py: in a Gradescope-like
AUTOGRADER_ROOT, as root with the test account when the suite runs as root.
Every run must leave a valid results file, the grader's files unchanged and no
process behind; each test adds what its attack must not achieve.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import yaml

from autograder.results_file import STATUS_KEY, ResultsFile, is_pending
from helpers import make_root
from test_sandbox import (FAST, HOSTILE, IS_ROOT, TEST_ACCOUNT, expect_clean, grade, hostile,  # noqa: F401
                          processes_of, root_only, sysv_objects_of, world)

CORRECT = Path(__file__).resolve().parent.parent / "reference"


def full_marks(run) -> bool:  # noqa: ANN001
    return run.results["score"] == sum(t["max_score"] for t in run.graded) > 0


def top_entries_of(uid: int) -> list[str]:
    """What `uid` owns at the top of the shared temporary folders."""
    found = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        for entry in os.scandir(folder):
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.append(entry.path)
            except OSError:
                continue
    return found


# -- 1. root never writes where student code points --------------------------------------------
@root_only
def test_racing_for_the_next_worker_folder_plants_nothing(world, sandbox_account):
    run = grade(world, HOSTILE / "races_worker_folders.py", limits={"budget": 12}, account_uid=sandbox_account)
    expect_clean(run, budget=12)
    assert run.results["score"] == 0
    assert "SWAPPED" not in run.outputs
    assert run.outputs.count("raced ") >= 10, "the race should have been tried in every check"


# -- 2. hidden data never reaches the results ----------------------------------------------------
@root_only
def test_earlier_results_in_the_metadata_cannot_be_read(world, sandbox_account):
    secret = "PREVIOUS-RESULTS-7f3a"

    def metadata(root: Path) -> None:
        (root / "submission_metadata.json").write_text(json.dumps({
            "created_at": "2026-11-30T10:00:00.000000-08:00", "assignment": {"due_date": "2026-12-30T10:00:00-08:00"},
            "users": [{"email": "student@example.edu", "assignments": []}],
            "previous_submissions": [{"submission_time": "2026-11-29T10:00:00-08:00", "score": 42.0,
                                      "autograder_error": False, "results": {"score": 42.0, "output": secret}}]}))
        (root / "submission_metadata.json").chmod(0o644)  # as a careless image might leave it

    run = grade(world, HOSTILE / "reads_metadata.py", setup=metadata, account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == 0
    assert secret not in run.outputs and "LEAKED" not in run.outputs
    assert "denied:" in run.outputs and "submission_metadata.json PermissionError" in run.outputs


@root_only
def test_student_code_has_no_network(world, sandbox_account):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        run = grade(world, hostile("uses_network.py", world, PORT=server.getsockname()[1]), account_uid=sandbox_account)
    finally:
        stop.set()
        thread.join(2)
        server.close()
    expect_clean(run)
    assert run.results["score"] == 0
    assert not received, received
    assert "CONNECTED" not in run.outputs and "no network: OSError [Errno 101] Network is unreachable" in run.outputs


# -- 3. results are always written, and never thrown away ---------------------------------------
@contextlib.contextmanager
def small_disk(world: Path) -> Iterator[tuple[Path, Path]]:
    """A 48 MB tmpfs in `world`, and a world-writable temporary folder on it; skips where none can be mounted."""
    disk = world / "small-disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=1777", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (not allowed in this container)")
    try:
        tmp = disk / "tmp"
        tmp.mkdir(mode=0o1777)
        tmp.chmod(0o1777)
        yield disk, tmp
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@root_only
def test_a_full_disk_does_not_cost_the_results(world, sandbox_account):
    with small_disk(world) as (disk, env_tmp):

        def on_small_disk(root: Path) -> None:  # the results and the workers' folders share the full disk
            os.environ["TMPDIR"] = str(env_tmp)

        try:
            run = grade(disk, HOSTILE / "fills_disk.py", setup=on_small_disk, account_uid=sandbox_account)
        finally:
            os.environ.pop("TMPDIR", None)
        expect_clean(run)
        results = run.root / "results" / "results.json"
        assert not is_pending(results), results.read_text()[:500]
        assert "stopped in" in run.outputs and "OSError" in run.outputs
        assert full_marks(run), [t["output"][:300] for t in run.graded if t["status"] == "failed"]


FILLS_CWD_AND_SAYS_SO = """import os
written = 0
for i in range(10000):
    try:
        with open(f"fill-{i}", "wb") as handle:
            handle.write(b"x" * (4 << 20))
        written += 4
    except OSError as exc:
        print(f"stopped after {written} MB: {type(exc).__name__}")
        break
"""


@root_only
def test_a_full_disk_left_by_a_dropped_host_of_several_files_costs_nothing(world, sandbox_account, monkeypatch):
    """Red team 22: one file of a homework of several fills the disk at import, from its folder, and prints. The host
    that imported every file together is then dropped (it printed) and each file gets a host of its own: their
    folders need space, and the dropped host's folder, which holds the fill, was only emptied after a spawn that
    worked, so none did: every test of every file failed (0 of 306). It is emptied first now: full marks, as for
    the one-file assignment above."""
    from autograder.grade import grade_submission

    with small_disk(world) as (_, tmp):
        homework = Path(__file__).resolve().parent.parent / "examples" / "hw1p1"
        folder = world / "submission"
        shutil.copytree(homework / "reference", folder, ignore=shutil.ignore_patterns("__pycache__"))
        linear = folder / "mytorch" / "nn" / "linear.py"
        linear.write_text(FILLS_CWD_AND_SAYS_SO + linear.read_text())
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # the workers' folders are on the small disk
        result = grade_submission(folder, fixtures=homework / "test_cases")
        assert result.score == result.max_score > 0, [c.message[:200] for c in result.checks if not c.passed][:3]
        assert "stopped after" in "".join(c.output for c in result.checks)


@root_only
def test_folder_chains_deeper_than_the_recursion_limit_are_cleaned_up(world, sandbox_account):
    run = grade(world, HOSTILE / "deep_folders.py", limits={"import_timeout": 5, "budget": 20}, account_uid=sandbox_account)
    expect_clean(run, budget=20)
    assert full_marks(run), [t["output"][:300] for t in run.graded if t["status"] == "failed"]
    assert run.outputs.count("chain made") >= 20, "the chains should have been made (a sweep may race one)"
    assert not top_entries_of(sandbox_account), top_entries_of(sandbox_account)


def fake_python(folder: Path, body: str) -> Path:
    """A stand-in for the grader's Python: writes what `body` says into the --results file, then exits."""
    script = folder / "fake-python"
    script.write_text("#!/usr/bin/env bash\n"
                      "while [ $# -gt 0 ]; do [ \"$1\" = --results ] && RESULTS=\"$2\"; shift; done\n" + body)
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("final", [True, False])
def test_run_autograder_never_replaces_final_results(tmp_path, final):
    """A grader that fails after writing final results keeps them; one that stopped while pending is explained."""
    root = make_root(tmp_path, CORRECT)
    document = {"score": 7.0, "tests": [{"score": 7.0, "max_score": 7.0, "name": "t"}], "output": "graded"}
    writer = (f"cat > \"$RESULTS\" <<'EOF'\n{json.dumps(document, indent=2)}\nEOF\n" if final else
              f"{sys.executable} -c 'import sys; from autograder.results_file import ResultsFile; "
              f"ResultsFile.reserve(sys.argv[1])' \"$RESULTS\"\n")
    python = fake_python(tmp_path, writer + "kill -9 $$\n")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=str(python),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    if final:
        assert results == document
    else:
        assert results["score"] == 0 and "stopped by signal 9" in results["output"]
        assert STATUS_KEY not in json.dumps(results)
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]


def test_results_fit_in_the_reserve_when_the_disk_is_full(tmp_path, monkeypatch):
    """commit writes into the reserved blocks: no new space is asked for (every other write fails here)."""
    path = tmp_path / "results.json"
    reserved = ResultsFile.reserve(path)
    assert is_pending(path)
    real_open = os.open

    def full_disk_open(file, flags, *args, **kwargs):  # noqa: ANN001, ANN202
        if flags & os.O_CREAT:
            raise OSError(28, "No space left on device")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk_open)
    document = {"score": 3.0, "tests": [{"score": 3.0, "output": "x" * 100_000}], "output": "final"}
    reserved.commit(document)
    monkeypatch.undo()
    assert json.loads(path.read_text()) == document
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


# -- 4. resources outside the limits -------------------------------------------------------------
@root_only
def test_system_v_shared_memory_is_bounded_and_does_not_outlive_grading(world, sandbox_account):
    before = sysv_objects_of(sandbox_account)
    run = grade(world, HOSTILE / "sysv_shared_memory.py", account_uid=sandbox_account)
    expect_clean(run)
    assert full_marks(run), [t["output"][:300] for t in run.graded if t["status"] == "failed"]
    assert "shmget of 8 MB: id" in run.outputs, "a small segment is allowed"
    assert "shmget of 512 MB failed" in run.outputs and "shmget of 512 MB: id" not in run.outputs
    assert sysv_objects_of(sandbox_account) == before == []


# -- 7. fresh machines -----------------------------------------------------------------------------
@root_only
def test_no_account_can_be_made_and_a_short_path_still_grades(world, monkeypatch):
    """useradd fails (a name it refuses), root's PATH has no sbin: an unused uid runs student code, with a note."""
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    root = make_root(world, CORRECT)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               AUTOGRADER_SANDBOX_USER="no such account!")
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    assert results["score"] == sum(t["max_score"] for t in graded) > 0, results["output"]
    assert "could not be made" in proc.stderr and "Traceback" not in proc.stderr
    uid = int(proc.stderr.split("student code ran as uid ")[1].split(",")[0])
    assert uid >= 61000 and not processes_of(uid)


@root_only
def test_ipc_clean_up_removes_only_the_accounts_objects(sandbox_account):
    """Where no IPC namespace can be had, the clean-up works in the machine's: it must spare everyone else's."""
    import ctypes

    from autograder.sandbox import system

    libc = ctypes.CDLL(None, use_errno=True)
    mine = libc.shmget(ctypes.c_int(0), ctypes.c_size_t(4096), ctypes.c_int(0o1000 | 0o600))  # IPC_PRIVATE, root's
    assert mine >= 0
    try:
        assert ("shm", mine) in system.ipc_objects() and ("shm", mine) not in system.ipc_objects(sandbox_account)
        system.remove_ipc_objects(sandbox_account)
        assert ("shm", mine) in system.ipc_objects(), "another owner's object was removed"
    finally:
        libc.shmctl(ctypes.c_int(mine), ctypes.c_int(0), ctypes.c_void_p(None))
    assert ("shm", mine) not in system.ipc_objects()


def test_a_submission_that_hangs_everywhere_costs_little_with_the_default_limits(tmp_path):
    """The shipped limits (no test's own): the call limits, then the budget, end it well within 15 s."""
    from helpers import run_autograder

    root = make_root(tmp_path, Path(__file__).resolve().parent.parent / "benchmarks" / "submissions" / "hang.py")
    start = time.monotonic()
    results, proc = run_autograder(root)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    assert results["score"] == 0 and graded and all(t["status"] == "failed" for t in graded)
    assert any("did not return within its time limit" in t["output"] for t in graded)
    assert all("time limit" in t["output"] or "time budget" in t["output"] for t in graded), graded
    assert seconds <= 15, f"took {seconds:.1f} s"


def test_hidden_inputs_spelled_in_words_or_shapes_never_reach_a_hidden_test(tmp_path):
    """No digit is not enough: letters, a class named at run time and a chosen shape carry numbers too."""
    import numpy as np
    import yaml

    from helpers import run_autograder

    spell = str.maketrans("0123456789.-e", "abcdefghijPMx")
    root = make_root(tmp_path, HOSTILE / "spells_hidden_inputs.py")
    results, proc = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    assert results["score"] == 0
    hidden = [t for t in results["tests"] if t.get("visibility") != "visible" and t["max_score"] > 0]
    visible = [t for t in results["tests"] if t.get("visibility") == "visible" and t["max_score"] > 0]
    assert hidden and any("Zdata " in t["output"] for t in visible), "the visible tests show the student's message"
    for path in sorted((root / "source" / "test_cases").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["visibility"] == "visible":
            continue
        first = repr(float(np.ravel(np.array(doc["inputs"]["Z"]))[0])).translate(spell)
        width = int(abs(float(np.ravel(np.array(doc["inputs"]["dLdA"]))[0])) * 1000) % 500 + 1
        for test in hidden:
            assert first not in test["output"] and "Zdata" not in test["output"] and "Leak" not in test["output"]
            assert f"{width}" not in test["output"].split(")", 1)[-1], test["output"]


HW1P1 = Path(__file__).resolve().parent.parent / "examples" / "hw1p1"


def test_hidden_inputs_kept_by_student_code_never_reach_a_visible_test(world):
    """Checks of a module share a process (its globals) and a folder (its files): code that keeps every input
    it sees, and shows what it kept, must show a visible test no hidden case's input. In hw1p1 a hidden
    activation case comes before visible ones in fixture order; every visible check runs first."""
    import shutil

    import numpy as np
    import yaml

    folder = world / "stashes"
    shutil.copytree(HW1P1 / "reference", folder)
    activation = folder / "mytorch" / "nn" / "activation.py"
    activation.write_text(activation.read_text() + "\n" + (HOSTILE / "stashes_hidden_inputs.py").read_text())

    run = grade(world, folder, setup=homework_fixtures)
    expect_clean(run)
    cases = [yaml.safe_load(p.read_text()) for p in sorted((HW1P1 / "test_cases").glob("*.yaml"))]
    names = [case["name"] for case in cases]
    assert names.index("identity_hidden") < names.index("sigmoid_batch")  # the order that made the leak possible
    shown = shown_text(run)  # as students see it, and the report
    visible_values = {repr(float(v)) for case in cases if case["visibility"] == "visible"
                      for name, value in case["inputs"].items() for v in np.ravel(np.array(value))}
    hidden_values = {repr(float(v)) for case in cases if case["visibility"] != "visible"
                     for name, value in case["inputs"].items() for v in np.ravel(np.array(value))} - visible_values
    numbers = set(re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", shown))  # every number shown, whole
    kept = [t for t in run.results["tests"] if t.get("visibility") == "visible" and "KEPT " in t.get("output", "")]
    assert kept and visible_values & numbers, "the visible tests show what the code kept"
    assert hidden_values and not hidden_values & numbers


def test_hidden_inputs_never_reach_a_visible_test_graded_again_against_own_parts(world):
    """A visible MLP test that failed is graded again against the student's own Linear and ReLU when a Linear
    test failed (own_layers). That second run must come before any hidden case's inputs reach a worker:
    here the MLP keeps every input it sees in a file, and Linear's forward raises what was kept."""
    import shutil

    import numpy as np
    import yaml

    folder = world / "stashes_for_own_layers"
    shutil.copytree(HW1P1 / "reference", folder)
    mlp = folder / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n" + (HOSTILE / "stashes_hidden_for_own_layers.py").read_text())
    linear = folder / "mytorch" / "nn" / "linear.py"
    summed = "self.dLdb = dLdZ.T @ np.ones((self.N, 1))"
    assert summed in linear.read_text()
    linear.write_text(linear.read_text().replace(summed, summed + " / self.N"))  # a mistake: Linear's tests fail

    run = grade(world, folder, setup=homework_fixtures)
    expect_clean(run)
    cases = [yaml.safe_load(p.read_text()) for p in sorted((HW1P1 / "test_cases").glob("*.yaml"))]
    mlp_cases = [case for case in cases if case["problem"]["name"].startswith("mlp")]
    shown = shown_text(run)
    visible_values = {repr(float(v)) for case in mlp_cases if case["visibility"] == "visible"
                      for v in np.ravel(np.array(case["inputs"]["A0"]))}
    hidden_values = {repr(float(v)) for case in mlp_cases if case["visibility"] != "visible"
                     for v in np.ravel(np.array(case["inputs"]["A0"]))} - visible_values
    numbers = set(re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", shown))
    told = [t for t in run.results["tests"] if t.get("visibility") == "visible" and "KEPT " in t.get("output", "")
            and "own Linear" in t.get("output", "")]
    assert told and visible_values & numbers, "the visible MLP tests show what the code kept"
    assert hidden_values and not hidden_values & numbers


def shown_text(run) -> str:  # noqa: ANN001 - test_sandbox's Graded
    """What a grading shows: its results document and run_autograder's output. Not the grading's own duration:
    a hidden input's few digits may be the same as it by chance (the test then failed one run in a few dozen)."""
    return json.dumps({k: v for k, v in run.results.items() if k != "execution_time"}) + run.proc.stdout + \
        run.proc.stderr


def homework_fixtures(root: Path) -> None:
    """An AUTOGRADER_ROOT's fixtures made hw1p1's, with the test's small limits (a `setup` for grade)."""
    shutil.rmtree(root / "source" / "test_cases")
    shutil.copytree(HW1P1 / "test_cases", root / "source" / "test_cases")
    set_limits_of_fixtures(root / "source" / "test_cases")


def set_limits_of_fixtures(test_cases: Path) -> None:
    """The test's small limits in every fixture of a copied assignment (see test_sandbox.set_limits)."""
    from test_sandbox import set_limits

    config = test_cases.parent / "autograder" / "assignment.yaml"
    saved = config.read_text()
    set_limits(test_cases.parent, FAST)
    config.write_text(saved)


@root_only
def test_hidden_inputs_written_into_a_writable_submission_never_reach_a_visible_test(world, sandbox_account):
    """A submission whose folders are writable by anyone (as a zip can make them): code run in a hidden test
    writes its inputs, as class names, into the original submission's file that lacks its class. The visible
    tests of that class list the classes the file defines: those it held when it was located, before any
    student code ran (it used to be read again after the last test, hidden ones included)."""
    folder = world / "writes_into_submission"
    shutil.copytree(HW1P1 / "reference", folder)
    sgd = folder / "mytorch" / "optim" / "sgd.py"
    sgd.write_text(sgd.read_text().replace("class SGD:", "class SGDx:"))
    loss = folder / "mytorch" / "nn" / "loss.py"
    loss.write_text(loss.read_text() + "\n" + (HOSTILE / "writes_into_submission.py").read_text())

    def homework(root: Path) -> None:
        homework_fixtures(root)
        for path in [root / "submission", *(root / "submission").rglob("*")]:  # as a zip's modes can make them
            path.chmod(0o777 if path.is_dir() else 0o666)

    run = grade(world, folder, setup=homework, account_uid=sandbox_account)
    expect_clean(run)
    cases = [yaml.safe_load(p.read_text()) for p in sorted((HW1P1 / "test_cases").glob("*.yaml"))]
    mse = [case for case in cases if case["problem"]["name"] == "mse"]

    def names(visibility: bool) -> set[str]:
        return {repr(float(v)).replace("-", "m").replace(".", "p").replace("+", "") for case in mse
                if (case["visibility"] == "visible") == visibility for v in np.ravel(np.array(case["inputs"]["A"]))}

    hidden = names(False) - names(True)
    visible_text = json.dumps([t for t in run.results["tests"] if t.get("visibility") == "visible"])
    visible_text += run.results["output"]
    shown = set(re.findall(r"m?\d+p\d+(?:e\w+)?", visible_text))
    written = (run.root / "submission" / "mytorch" / "optim" / "sgd.py").read_text()
    assert written.count("class KEPT_") >= 3, "the attack wrote the inputs it saw into the submission"
    assert "In mytorch/optim/sgd.py, found SGDx; the grader looks for SGD." in visible_text
    assert "KEPT_" not in visible_text
    assert hidden and not hidden & shown, sorted(hidden & shown)[:5]


@root_only
def test_children_that_start_threads_and_detach_as_they_are_forked_cost_nothing(world, sandbox_account):
    """Every graded file registers an at-fork hook: each child a host forks (the shared ones as soon as the hosts
    are taken) starts a thread and a detached process. The answers still count, and nothing is left behind."""
    folder = world / "forks_at_fork"
    shutil.copytree(HW1P1 / "reference", folder)
    hook = (HOSTILE / "forks_at_fork.py").read_text()
    for path in (folder / "mytorch").rglob("*.py"):
        if path.name != "__init__.py":
            path.write_text(path.read_text() + "\n" + hook)
    mlp = folder / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n" + hook)

    run = grade(world, folder, setup=homework_fixtures, account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == sum(t["max_score"] for t in run.graded) > 0, \
        [t["output"][:300] for t in run.graded if t["score"] < t["max_score"]][:3]


@root_only
def test_an_import_after_hidden_inputs_were_sent_never_shows_them(world, sandbox_account):
    """A hidden test's import error keeps its words (an import was thought to come before any input). But a
    check that crashes goes on to a worker of its own, which imports afresh after hidden inputs were sent:
    here that import raises a hidden input, spelled out in letters. A hidden test shows an import error's words
    only when a visible test of the file raised the same."""
    folder = world / "spells_at_a_late_import"
    shutil.copytree(HW1P1 / "reference", folder)
    mlp = folder / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n" + (HOSTILE / "spells_at_a_late_import.py").read_text())

    run = grade(world, folder, setup=homework_fixtures, account_uid=sandbox_account)
    expect_clean(run)
    shown = shown_text(run)
    hidden_mlp = [t for t in run.graded if t["name"].startswith("mlp0_hidden: forward")]
    assert hidden_mlp and "could not be imported: ImportError: (not shown" in hidden_mlp[0]["output"], hidden_mlp
    assert "SPELLED" not in shown


# -- 5. a request sent ahead holds nothing the run before it is graded on ------------------------
@root_only
def test_a_reference_sent_ahead_never_decides_the_check_it_answers(world, sandbox_account):
    """A backward check is sent its case's reference A, the expected answer of its forward check. The run that
    follows a forward round is sent ahead of the grader's judgement of that round (Ahead), so code that keeps
    every A it is given, and returns it from a forward it never computes, would pass the forward checks when
    they are decided again. No request that holds a value a run grades may be sent ahead of that run."""
    run = grade(world, HOSTILE / "stashes_reference_sent_ahead.py", account_uid=sandbox_account)
    expect_clean(run)
    assert run.named("backward") and all(t["status"] == "passed" for t in run.named("backward"))  # the rest works
    passed = [t["name"] for t in run.named("forward") if t["status"] == "passed"]
    assert run.named("forward") and not passed, passed


def test_no_run_is_sent_ahead_holding_a_value_of_the_cases_the_run_before_it_grades(monkeypatch):
    """The rule above, over every run of the homework: a run sent ahead (`then`) holds no expected value (a
    reference it sets, such as a backward check's A) of a case whose checks the run it follows answers."""
    from autograder import grade as grading
    from autograder.sandbox.base import SandboxBase

    loaded, runs = [], []
    real_load, real_run = grading.load_cases, SandboxBase.run
    monkeypatch.setattr(grading, "load_cases", lambda *a, **k: loaded.extend(real_load(*a, **k)) or loaded)
    monkeypatch.setattr(SandboxBase, "run", lambda self, steps, inputs, **k: runs.append((inputs, k.get("then")))
                        or real_run(self, steps, inputs, **k))
    grading.grade_submission(HW1P1 / "reference", fixtures=HW1P1 / "test_cases")
    sent = [(inputs, then) for inputs, then in runs if then is not None]
    assert sent, "runs are sent ahead"
    for inputs, then in sent:
        ids = {id(array) for array in inputs.values()}
        answers = {id(array) for case in loaded if any(id(a) in ids for a in case.inputs.values())
                   for array in case.expected.values()}
        assert not answers & {id(array) for array in then.inputs.values()}


# -- 6. the fixture index is data ----------------------------------------------------------------
def test_a_hostile_fixture_index_runs_nothing_and_its_entries_fall_back_to_their_yaml(tmp_path):
    """The index is marshal, which can hold code objects and nesting deeper than the grader's own recursion:
    an entry that holds either, or an array of a dtype no fixture has, is read from its YAML, and nothing in
    it is ever called."""
    import marshal

    from autograder.fixture_index import INDEX_NAME, indexed_cases, layout, write_index
    from autograder.fixtures import load_cases
    from autograder.paths import DEFAULT_FIXTURES

    copy = tmp_path / "test_cases"
    shutil.copytree(DEFAULT_FIXTURES, copy, ignore=shutil.ignore_patterns(INDEX_NAME))
    write_index(copy)
    data = (copy / INDEX_NAME).read_bytes()
    length = int.from_bytes(data[:8], "big")
    head, index = marshal.loads(data[8:8 + length]), marshal.loads(data[8 + length:])
    ran = tmp_path / "ran"

    def field(encoded: tuple, name: str, value) -> tuple:  # noqa: ANN001
        fields = list(encoded[2])
        fields[dict(layout())["Case"].index(name)] = value
        return encoded[:2] + (tuple(fields),)

    deep = ("L", ())
    for _ in range(900):  # as deep as marshal writes
        deep = ("L", (deep,))
    code = compile(f"open({str(ran)!r}, 'w')", "<index>", "exec")
    names = sorted(index["files"])[:3]
    hostile_values = {names[0]: ("tags", deep), names[1]: ("tags", code),
                      names[2]: ("inputs", ("M", (("Z", ("A", "O", (1,), bytes(8))),)))}
    for name, (key, value) in hostile_values.items():
        index["files"][name]["case"] = field(index["files"][name]["case"], key, value)
    first = marshal.dumps(head, 4)
    (copy / INDEX_NAME).write_bytes(len(first).to_bytes(8, "big") + first + marshal.dumps(index, 4))
    parsed = indexed_cases(copy)
    assert not {copy / name for name in names} & set(parsed) and len(parsed) == len(index["files"]) - 3
    assert len(load_cases(copy, graded_only=True, parsed=parsed)) == len(index["files"])
    assert not ran.exists()
