"""The command line as a person uses it: help, exit codes, and one clear line for our own input errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.fixtures import load_cases
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from autograder.sandbox import system
from helpers import DEMO_FAILS, PROJECT, SOFTMAX, SUBMISSIONS, TEST_ACCOUNT, problem_checks, problem_points
from test_sandbox import processes_of


def cli(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *names: str) -> None:
    """Exit 2, a single `error: ...` line on stderr naming what is wrong, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for name in names:
        assert name in errors[0], (name, errors[0])


@pytest.mark.parametrize("args, words", [
    ((), ("generate", "grade")),
    (("grade",), ("--results", "--fixtures", "SUBMISSION")),
    (("generate",), ("--check", "--out", "--config")),
])
def test_help_works(args, words):
    proc = cli(*args, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m autograder")
    for word in words:
        assert word in proc.stdout


# the whole assignment is worth what its fixtures' checks are worth together
FULL = sum(check.points for case in load_cases(DEFAULT_FIXTURES) for check in case.checks)
DEMO_SCORE = problem_points(SOFTMAX) - sum(DEMO_FAILS().values())  # the writeup's code, on the Softmax checks


@pytest.mark.parametrize("submission, score", [(PROJECT / "reference", FULL), (PROJECT / "student_template", 0)])
def test_grade_writes_results_and_exits_0_whatever_the_score(tmp_path, submission, score):
    results = tmp_path / "out" / "results.json"
    proc = cli("grade", str(submission), "--results", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"Total: {score:g}/{FULL:g}"
    document = json.loads(results.read_text())
    assert document['score'] == score
    graded = [t for t in document["tests"] if t["max_score"] > 0]
    assert len(graded) == sum(len(case.checks) for case in load_cases(DEFAULT_FIXTURES))


def test_grade_problem_grades_the_checks_of_that_problem_only(tmp_path):
    results = tmp_path / "results.json"
    proc = cli("grade", str(PROJECT / "reference"), "--problem", SOFTMAX, "--results", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(results.read_text())
    assert {t["name"] for t in document["tests"] if t["max_score"] > 0} == problem_checks(SOFTMAX)
    assert document["score"] == problem_points(SOFTMAX)
    assert_one_line_error(cli("grade", str(PROJECT / "reference"), "--problem", "no_such_problem"),
                          "no_such_problem", SOFTMAX)


def test_grade_prints_the_report_with_failures(tmp_path):
    proc = cli("grade", str(SUBMISSIONS / "demo"), "--problem", SOFTMAX)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(f"Total: {DEMO_SCORE:g}/{problem_points(SOFTMAX):g}")
    assert "stability_thousands: forward (A)" in proc.stdout and "FAILED" in proc.stdout


def test_missing_fixture_folder_is_one_line_error(tmp_path):
    missing = tmp_path / "no_fixtures_here"
    proc = cli("grade", str(PROJECT / "reference"), "--fixtures", str(missing), "--results", str(tmp_path / "r.json"))
    assert_one_line_error(proc, str(missing))
    assert not (tmp_path / "r.json").exists()


def test_broken_fixture_is_one_line_error_naming_the_file(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, fixtures)
    broken = sorted(fixtures.glob("*.yaml"))[3]
    broken.write_text(broken.read_text().replace("visibility: visible", "visibility: sometimes"))
    proc = cli("grade", str(PROJECT / "reference"), "--fixtures", str(fixtures))
    assert_one_line_error(proc, str(broken), "visibility")


@pytest.mark.parametrize("text, key", [
    ("assignment: [unclosed\n", "YAML"),
    ("assignment: x\nproblems_typo: {}\n", "problems_typo"),
])
def test_broken_config_is_one_line_error_naming_the_file(tmp_path, text, key):
    config = tmp_path / "assignment.yaml"
    config.write_text(text)
    proc = cli("generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(config), key)
    assert not (tmp_path / "out").exists()


def test_config_with_a_wrong_value_names_the_key(tmp_path):
    config = tmp_path / "assignment.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("budget: 12", "budget: -12", 1))
    assert "budget: -12" in config.read_text()
    proc = cli("generate", "--config", str(config), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(config), "limits.budget")


def test_missing_submission_still_grades_to_zero(tmp_path):
    results = tmp_path / "results.json"
    proc = cli("grade", str(tmp_path / "not_there"), "--results", str(results), "--quiet")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(results.read_text())
    assert document["score"] == 0 and all(t["status"] == "failed" for t in document["tests"])
    assert "not_there" in document["output"]


def test_grade_with_a_broken_config_is_one_line_error(tmp_path):
    config = tmp_path / "assignment.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace("memory_mb: 512", "memory_mb: lots", 1))
    proc = cli("grade", str(PROJECT / "reference"), "--config", str(config), "--results", str(tmp_path / "r.json"))
    assert_one_line_error(proc, str(config), "limits.memory_mb")


def no_traceback(stderr: str) -> bool:
    """Nothing on stderr says that the command failed."""
    return not any(word in stderr for word in ("Traceback", "error:", "BrokenPipeError", "UnicodeEncodeError"))


def cli_to_closed_pipe(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader has already gone, as after `| head` has exited."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the command writes anything: its first write meets EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=PROJECT, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, env={**os.environ, **env})
    finally:
        os.close(write_end)
    return proc


def test_grade_piped_into_head_ends_quietly(tmp_path):
    err = tmp_path / "stderr.txt"
    proc = subprocess.run(["bash", "-c", f'"$0" -m autograder grade tests/submissions/demo 2>"$1" | head -1; '
                                         'exit "${PIPESTATUS[0]}"', sys.executable, str(err)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, err.read_text()
    assert proc.stdout.startswith("Graded file:") and len(proc.stdout.splitlines()) == 1
    assert no_traceback(err.read_text()), err.read_text()


def test_grade_to_a_closed_pipe_still_writes_the_results_in_full(tmp_path):
    results = tmp_path / "results.json"
    proc = cli_to_closed_pipe("grade", str(SUBMISSIONS / "demo"), "--results", str(results), "--problem", SOFTMAX)
    assert proc.returncode == 0, proc.stderr
    assert no_traceback(proc.stderr), proc.stderr
    document = json.loads(results.read_text())
    assert document["score"] == DEMO_SCORE
    graded = [t for t in document["tests"] if t["max_score"] > 0]
    assert {t["name"] for t in graded} == problem_checks(SOFTMAX)


def test_generate_check_to_a_closed_pipe_ends_quietly():
    proc = cli_to_closed_pipe("generate", "--check")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


SURROGATE_SUBMISSION = '''\
class Softmax:
    def forward(self, Z):
        raise ValueError("bad \\ud800 value \\u00e9")

    def backward(self, dLdA):
        return dLdA
'''


@pytest.mark.parametrize("encoding", ["ascii", "utf-8"])
def test_a_report_the_terminal_cannot_encode_is_printed_escaped(tmp_path, encoding):
    submission = tmp_path / "activation.py"
    submission.write_text(SURROGATE_SUBMISSION)
    assert "\\ud800" in submission.read_text()  # the student's code itself holds the lone surrogate escape
    results = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--results", str(results)],
                          cwd=PROJECT, capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": f"{encoding}:strict"})
    stdout, stderr = proc.stdout.decode("ascii" if encoding == "ascii" else "utf-8"), proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, stderr
    assert no_traceback(stderr), stderr
    # the sanitiser (autograder/text.py) has replaced the lone surrogate; what the terminal cannot show is escaped
    shown = "bad \\ufffd value" if encoding == "ascii" else "bad \ufffd value"
    assert f"raised ValueError: {shown}" in stdout and stdout.rstrip().endswith(f"Results written to {results}")
    assert "bad \ufffd value" in json.loads(results.read_text())["tests"][0]["output"]


def test_a_report_that_fails_after_the_results_are_written_does_not_fail_the_grading(tmp_path, monkeypatch, capsys):
    import autograder.report
    from autograder.cli import main

    def broken_render(result):
        raise RuntimeError("render broke")

    monkeypatch.setattr(autograder.report, "render", broken_render)
    results = tmp_path / "results.json"
    assert main(["grade", str(SUBMISSIONS / "demo"), "--results", str(results), "--problem", SOFTMAX]) == 0
    assert json.loads(results.read_text())["score"] == DEMO_SCORE
    err = capsys.readouterr().err
    assert f"warning: the report could not be shown (RuntimeError: render broke); the results are in {results}" in err
    # without --results the report is the only output: its failure is ours and is reported as such
    assert main(["grade", str(SUBMISSIONS / "demo")]) == 3
    assert "render broke" in capsys.readouterr().err


SLEEPS_IN_FORWARD = """\
import os, time
MARKS = {marks!r}
class Softmax:
    def forward(self, Z):
        open(os.path.join(MARKS, str(os.getpid())), "w").close()  # a check is running: time for Ctrl-C
        time.sleep(60)
"""


def in_session(sid: int) -> list[int]:
    """The processes of a session (those a Ctrl-C could have reached, and their children that stayed)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as stat:
                if name.isdigit() and int(stat.read().rsplit(")", 1)[1].split()[3]) == sid:
                    found.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return found


@pytest.mark.parametrize("backend, chosen_by", [("hardened", "--sandbox"), ("portable", "--sandbox"),
                                                ("hardened", "AUTOGRADER_SANDBOX"), ("portable", "AUTOGRADER_SANDBOX")])
def test_ctrl_c_during_grading_leaves_nothing_and_says_interrupted(sandbox_account, backend, chosen_by):
    world = Path(tempfile.mkdtemp(prefix="ag-interrupt-"))  # traversable by the sandbox account, unlike tmp_path
    try:
        world.chmod(0o755)
        marks, temp, submission = world / "marks", world / "tmp", world / "submission" / "activation.py"
        for folder in (marks, temp, submission.parent):
            folder.mkdir()
        marks.chmod(0o777)  # the worker writes its pid there, whichever account it runs as
        submission.write_text(SLEEPS_IN_FORWARD.format(marks=str(marks)))
        env = {**os.environ, "TMPDIR": str(temp), "AUTOGRADER_SANDBOX_USER": TEST_ACCOUNT}
        args = [sys.executable, "-m", "autograder", "grade", str(submission), "--results", str(world / "r.json")]
        if chosen_by == "--sandbox":
            args += ["--sandbox", backend]
        else:
            env["AUTOGRADER_SANDBOX"] = backend
        # its own session and process group, like a terminal's foreground job: Ctrl-C signals the whole group.
        # And like a foreground job, SIGINT at its default: a test run in the background of a script (`pytest &`)
        # ignores SIGINT, which every child inherits, and a grader that ignores Ctrl-C rightly grades to the end.
        proc = subprocess.Popen(args, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 60
            while not any(marks.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert any(marks.iterdir()), "the check never started"
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert (proc.returncode, err, out) == (130, "interrupted\n", "")
        assert list(temp.iterdir()) == []  # no temporary folder of the grader's left
        workers = [int(mark.name) for mark in marks.iterdir()]
        assert [pid for pid in workers if system.is_alive(pid)] == []
        assert in_session(proc.pid) == []  # the zygote, or anything else the grader started
        if sandbox_account is not None and backend == "hardened":
            assert processes_of(sandbox_account) == []  # nothing of the sandbox account runs (zombies aside)
    finally:
        shutil.rmtree(world, ignore_errors=True)
