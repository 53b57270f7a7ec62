"""Per-call limits from the reference's time on this machine, and checks that share one process.

Sharing a process between checks is what makes grading fast; it must never
change a verdict: a check whose answer is wrong there is decided again in a
process that ran nothing else.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import timing
from autograder.fixtures import load_cases
from autograder.grade import grade_submission
from autograder.limits import Limits
from autograder.paths import DEFAULT_FIXTURES
from autograder.sandbox.runner import Sandbox
from helpers import PROJECT, grade

CASES = load_cases(DEFAULT_FIXTURES)
FIRST = "writeup_example: forward (A)"

CORRECT = (PROJECT / "benchmarks" / "submissions" / "correct.py").read_text()  # vectorised, stable


def submission(tmp_path, source: str):
    folder = tmp_path / "submission"
    (folder / "mytorch" / "nn").mkdir(parents=True)
    (folder / "mytorch" / "nn" / "activation.py").write_text(source)
    return folder


@given(floor=st.floats(0.01, 100), multiple=st.floats(1, 1e6), reference=st.floats(1e-7, 10))
def test_call_limit_is_a_multiple_of_the_reference_time_never_under_the_floor(floor, multiple, reference):
    limits = Limits(call_timeout=floor, call_multiple=multiple)
    limit = timing.call_limit(reference, limits)
    assert limit >= floor and limit >= multiple * reference
    assert limit in (floor, multiple * reference)
    assert timing.call_limit(reference * 2, limits) >= limit  # a slower machine never gets less time


def test_the_reference_time_grows_with_the_case():
    small = CASES[0]
    rng = np.random.default_rng(0)
    large = dataclasses.replace(small, inputs={"Z": rng.normal(size=(2000, 500)), "dLdA": rng.normal(size=(2000, 500))})
    assert timing.reference_seconds(large) > 20 * timing.reference_seconds(small)


def test_a_slow_machine_gives_honest_code_more_time(tmp_path, monkeypatch):
    slow_but_right = CORRECT.replace("    def forward(self, Z):\n",
                                     "    def forward(self, Z):\n        import time; time.sleep(1.0)\n")
    folder = submission(tmp_path, slow_but_right)
    limits = Limits(call_timeout=0.4, call_multiple=1000, import_timeout=5, budget=20)
    monkeypatch.setattr(timing, "reference_seconds", lambda case, **_: 1e-5)  # fast here: the floor, 0.4 s
    fast = grade_submission(folder, limits=limits, only={FIRST}).checks[0]
    assert not fast.passed and "time limit of 0.4 s" in fast.message, fast.message
    monkeypatch.setattr(timing, "reference_seconds", lambda case, **_: 3e-3)  # a machine 300x slower: 3 s
    slow = grade_submission(folder, limits=limits, only={FIRST}).checks[0]
    assert slow.passed, slow.message


@pytest.fixture()
def runs(monkeypatch):
    """Every Sandbox.run of a grading, as (check started fresh?, outcome shared?)."""
    seen: list[tuple[bool, bool]] = []
    run = Sandbox.run

    def spy(self, *args, **kwargs):
        outcome = run(self, *args, **kwargs)
        seen.append((kwargs.get("fresh", False), outcome.shared))
        return outcome

    monkeypatch.setattr(Sandbox, "run", spy)
    return seen


def test_a_correct_submission_is_graded_in_one_shared_process(runs):
    result = grade_submission(PROJECT / "reference")
    assert result.score == result.max_score
    assert runs and all(shared and not fresh for fresh, shared in runs), runs


def test_a_wrong_answer_in_the_shared_process_is_decided_in_a_fresh_one(tmp_path, runs):
    # Right on the first call in a process only: every check, run alone, is right.
    first_call_only = CORRECT.replace("import numpy as np\n", "import numpy as np\nCALLS = []\n", 1).replace(
        "        return self.A\n", "        CALLS.append(1)\n        return self.A if len(CALLS) == 1 else self.A * 1.01\n")
    result = grade(submission(tmp_path, first_call_only))  # a Softmax: its checks
    assert result.score == result.max_score, [c.message for c in result.checks if not c.passed]
    assert (True, False) in runs  # decided again, alone
    assert all(not shared for fresh, shared in runs[runs.index((True, False)):])  # and no sharing after


def test_an_always_wrong_answer_fails_with_its_numbers_after_the_fresh_run(tmp_path, runs):
    wrong = CORRECT.replace("        return self.A\n", "        return self.A * 1.01\n")
    result = grade_submission(submission(tmp_path, wrong), only={FIRST})
    check = result.checks[0]
    assert not check.passed and "0.707" in check.message, check.message  # the writeup's 0.7 ... times 1.01
    assert [fresh for fresh, _ in runs] == [False, True]


def test_timing_stops_once_a_run_is_under_what_is_enough():
    """A call limit under its floor is the floor however far under: one run that shows it is enough."""
    calls: list[int] = []
    assert timing.best_seconds(lambda: calls.append(1), enough=1.0) <= 1.0 and len(calls) == 1
    calls.clear()
    timing.best_seconds(lambda: calls.append(1))
    assert len(calls) == timing.REPEATS
