"""The unpacked handout: `python -m autograder` and `python -m pytest` grade the student's file on the visible tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.config import load_assignment
from autograder.fixtures import load_cases
from autograder.package import find_reference_code, find_withheld, handout_files, handout_split, reference_lines
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT, SOFTMAX, SUBMISSIONS, checks_where, handout_checks

STUDENT_FILE = Path("mytorch/nn/activation.py")
# The handout holds the visible tests of the whole assignment; the Softmax submissions here are judged on
# the Softmax ones (`-k softmax`), whose counts follow from its fixtures.
VISIBLE = handout_checks()
VISIBLE_POINTS = sum(VISIBLE.values())


def visible_softmax(rule=lambda case, check: True) -> int:  # noqa: ANN001 - a rule over (case, check)
    """How many of the handout's Softmax tests a rule selects."""
    return len(checks_where(lambda case, check: case.visibility == "visible" and rule(case, check), SOFTMAX))


def run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    """The handout as package builds it, unpacked (package's own checks are tested in test_package.py)."""
    assignment = load_assignment(DEFAULT_CONFIG)
    files = handout_files(assignment, *handout_split(assignment, load_cases(DEFAULT_FIXTURES)))
    folder = tmp_path_factory.mktemp("handout") / "hw1"
    for name, (content, mode) in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        os.chmod(folder / name, mode)
    return folder


def with_solution(handout: Path, tmp_path: Path, source: Path) -> Path:
    """A copy of the handout whose student file is `source`."""
    folder = tmp_path / "hw1"
    shutil.copytree(handout, folder)
    shutil.copy(source, folder / STUDENT_FILE)
    return folder


def test_local_runner_gives_the_template_zero_with_a_table_and_feedback(handout):
    proc = run(handout, "-m", "autograder")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip().splitlines()
    assert lines[-1] == f"Total: 0/{VISIBLE_POINTS:g}"
    assert "Graded file: mytorch/nn/activation.py" in proc.stdout
    assert sum("FAILED" in line for line in lines) == len(VISIBLE)
    assert "Softmax.forward is not implemented yet" in proc.stdout
    assert "hidden" not in proc.stdout


def test_local_runner_gives_a_correct_solution_full_marks(handout, tmp_path):
    folder = with_solution(handout, tmp_path, PROJECT / "reference" / STUDENT_FILE)
    proc = run(folder, "-m", "autograder")
    assert proc.stdout.rstrip().splitlines()[-1] == f"Total: {VISIBLE_POINTS:g}/{VISIBLE_POINTS:g}", proc.stderr


@pytest.mark.parametrize("mistake", ["diagonal_only", "wrong_axis", "no_max_subtraction", "squeezed_shapes"])
def test_handout_feedback_is_gradescopes_on_the_visible_tests(handout, tmp_path, mistake):
    """Same verdicts and same messages (hints included) as the full grader, test by test."""
    source = SUBMISSIONS / "mistakes" / f"{mistake}.py"
    folder = with_solution(handout, tmp_path, source)
    ours, theirs = tmp_path / "handout.json", tmp_path / "gradescope.json"
    assert run(folder, "-m", "autograder", "grade", ".", "--results", str(ours), "--quiet").returncode == 0
    assert run(PROJECT, "-m", "autograder", "grade", str(folder), "--results", str(theirs), "--quiet").returncode == 0
    local = {t["name"]: t for t in json.loads(ours.read_text())["tests"]}
    full = {t["name"]: t for t in json.loads(theirs.read_text())["tests"] if t["visibility"] == "visible"}
    full.pop("efficiency: backward (informational)", None)
    assert set(local) == set(full) and len(local) == len(VISIBLE)
    for name, test in local.items():
        assert (test["status"], test["score"], test["output"]) == (full[name]["status"], full[name]["score"],
                                                                     full[name]["output"]), name
    assert any("Looks like" in t["output"] for t in local.values()), mistake


def test_pytest_fails_every_test_of_the_template_one_per_check(handout):
    proc = run(handout, "-m", "pytest", "-q", "-rf")
    assert proc.returncode == 1
    assert f"{len(VISIBLE)} failed" in proc.stdout
    assert "FAILED test_cases/03_small_batch.yaml::test_small_batch_forward" in proc.stdout
    assert "Softmax.backward is not implemented yet" in proc.stdout
    assert f"Total: 0/{VISIBLE_POINTS:g} (the tests that ran)" in proc.stdout


@pytest.mark.parametrize("expression, rule", [
    ("forward", lambda case, check: check.method == "forward"),
    ("stability", lambda case, check: "stability" in case.name),
    ("small_batch", lambda case, check: case.name == "small_batch"),
    ("backward and not stability", lambda case, check: check.method == "backward" and "stability" not in case.name)])
def test_pytest_k_selects_the_obvious_subsets(handout, expression, rule):
    proc = run(handout, "-m", "pytest", "-q", "--collect-only", "-k", f"{SOFTMAX} and {expression}")
    collected = [line for line in proc.stdout.splitlines() if "::test_" in line]
    assert len(collected) == visible_softmax(rule) > 0, proc.stdout
    words = expression.split(" and not ")
    assert all(words[0] in line for line in collected)
    if len(words) > 1:
        assert not any(words[1] in line for line in collected)


def test_pytest_passes_a_correct_solution_and_runs_only_what_is_selected(handout, tmp_path):
    folder = with_solution(handout, tmp_path, SUBMISSIONS / "mistakes" / "no_max_subtraction.py")
    proc = run(folder, "-m", "pytest", "-q", "-k", f"{SOFTMAX} and (not stability or backward)")
    assert proc.returncode == 0, proc.stdout
    overflows = visible_softmax(lambda case, check: "stability" in case.tags and check.method == "forward")
    assert f"{visible_softmax() - overflows} passed, {len(VISIBLE) - visible_softmax() + overflows} deselected" \
        in proc.stdout
    proc = run(folder, "-m", "pytest", "-q", "-k", f"{SOFTMAX} and stability and forward")
    assert proc.returncode == 1 and f"{overflows} failed" in proc.stdout and "NaN" in proc.stdout
    correct = with_solution(handout, tmp_path / "correct", PROJECT / "reference" / STUDENT_FILE)
    proc = run(correct, "-m", "pytest", "-q")
    assert proc.returncode == 0 and f"{len(VISIBLE)} passed" in proc.stdout


def test_handout_has_no_reference_code_or_withheld_values_and_only_the_grading_command(handout):
    assignment = load_assignment(DEFAULT_CONFIG)
    files = {str(p.relative_to(handout)): (p.read_bytes(), 0o644) for p in handout.rglob("*") if p.is_file()}
    assert find_reference_code(files, reference_lines(assignment)) == []
    assert find_withheld(files, *handout_split(assignment, load_cases(DEFAULT_FIXTURES))) == []
    assert not (handout / "autograder" / "assignment.yaml").exists()
    proc = run(handout, "-m", "autograder", "--help")
    assert "grade" in proc.stdout and not any(c in proc.stdout for c in ("generate", "audit", "package", "regrade"))
    proc = run(handout, "-m", "autograder", "generate")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_pytest_shows_what_the_code_printed_with_its_test_warnings_included(handout, tmp_path):
    """Issue 13: printed output and NumPy's warnings appear with the test that produced them, as pytest shows output."""
    folder = with_solution(handout, tmp_path, SUBMISSIONS / "mistakes" / "no_max_subtraction.py")
    proc = run(folder, "-m", "pytest", "-q", "-k", "stability_hundreds and forward")
    assert proc.returncode == 1
    failure = proc.stdout.split("Captured stdout call", 1)
    assert len(failure) == 2, proc.stdout  # pytest's own section for the output of the failed test
    assert "--- output printed by your code (stability_hundreds: forward (A)) ---" in failure[1]
    assert "RuntimeWarning: overflow encountered in exp" in failure[1]
    assert proc.stdout.count("RuntimeWarning: overflow encountered in exp") == 1  # once, not also in the message

    chatty = with_solution(handout, tmp_path / "chatty", SUBMISSIONS / "debug_prints.py")
    quiet = run(chatty, "-m", "pytest", "-q", "-k", "writeup_example")
    assert quiet.returncode == 0 and "forward: Z.shape = (1, 3)" not in quiet.stdout  # captured, as pytest does
    shown = run(chatty, "-m", "pytest", "-q", "-s", "-k", "writeup_example")
    assert shown.returncode == 0 and "2 passed" in shown.stdout
    forward = shown.stdout.index("--- output printed by your code (writeup_example: forward (A)) ---")
    backward = shown.stdout.index("--- output printed by your code (writeup_example: backward (dLdZ)) ---")
    assert forward < shown.stdout.index("forward: Z.shape = (1, 3)") < backward
    assert "sample 0: dLdZ = [ 0.0001 -0.0078  0.0077]" in shown.stdout[backward:]
    passed = run(chatty, "-m", "pytest", "-q", "-rP", "-k", "writeup_example and backward")
    assert "Captured stdout call" in passed.stdout and "backward: dLdA.shape = (1, 3)" in passed.stdout


@pytest.fixture(scope="module")
def packaged_handout(tmp_path_factory) -> Path:
    """The handout as an instructor ships it: `python -m autograder package --out DIR`, handout.zip unzipped."""
    out = tmp_path_factory.mktemp("package")
    proc = run(PROJECT, "-m", "autograder", "package", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = tmp_path_factory.mktemp("unzipped") / "hw1"
    with zipfile.ZipFile(out / "handout.zip") as archive:
        archive.extractall(folder)
    return folder


@pytest.mark.parametrize("solution, status", [(None, 1), (PROJECT / "reference" / STUDENT_FILE, 0)])
def test_pytest_into_a_closed_pipe_ends_quietly(packaged_handout, tmp_path, solution, status):
    """`python -m pytest | head -1`: nothing on stderr and nothing left in the temporary folder.

    pytest exits 1 when its output meets a closed pipe (its console_main); `status` is what it
    exits with when the whole report fitted in the pipe before head exited.
    """
    folder = with_solution(packaged_handout, tmp_path, solution) if solution else packaged_handout
    temp = Path(tempfile.mkdtemp(prefix="ag-pipe-"))
    temp.chmod(0o755)  # the sandbox account (as root) must traverse it
    err = tmp_path / "stderr.txt"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(temp))
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run(["bash", "-c", '"$0" -m pytest 2>"$1" | head -1; exit "${PIPESTATUS[0]}"',
                               sys.executable, str(err)], cwd=folder, capture_output=True, text=True, timeout=300,
                              env=env)
        left = list(temp.iterdir())
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert proc.stdout.startswith("=====") and len(proc.stdout.splitlines()) == 1
    assert proc.returncode in (1, status) and err.read_text() == ""
    assert left == []
