"""What one run of student code came to: an Outcome (a type, not a string) and what came back with it.

Shared by every backend (see README, "Sandbox"), so that a check's score and
message do not depend on which backend ran it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Outcome(str, Enum):
    """How a run of student code ended. A str, so that ``outcome.kind == "ok"`` reads as before."""

    OK = "ok"  # an answer: the grader compares it
    ERROR = "error"  # the student's code raised (constructing or calling)
    IMPORT_ERROR = "import_error"  # importing the submission raised
    IMPORT_TIMEOUT = "import_timeout"
    TIMEOUT = "timeout"  # the call's wall-clock limit
    CRASHED = "crashed"  # the process ended, or hung up, without an answer
    PROTOCOL = "protocol"  # the reply was malformed
    TOO_LARGE = "too_large"  # the answer was far larger than any expected one
    BUDGET = "budget"  # the submission's time budget ran out
    SANDBOX = "sandbox"  # the sandbox itself failed: nothing could run
    HOSTED = "hosted"  # (hardened, internal) a host imported the submission and waits for checks

    def __str__(self) -> str:
        return self.value

    @property
    def import_failed(self) -> bool:
        """The submission cannot be imported: every later check of it fails the same way."""
        return self in (Outcome.IMPORT_ERROR, Outcome.IMPORT_TIMEOUT)


@dataclass
class CallOutcome:
    """Everything the grader learns from one worker: data, never code."""

    kind: Outcome
    detail: str = ""  # human-readable reason for the non-ok kinds
    returned: dict[str, Any] | None = None  # description of what the graded call returned
    array: np.ndarray | None = None
    error: dict[str, Any] | None = None  # exception type, message, student frames
    phase: str = ""  # import | construct | call
    method: str = ""
    mutated: list[str] = field(default_factory=list)
    seconds: float = 0.0  # time inside the graded call, as the worker measured it
    wall_seconds: float = 0.0  # the worker's whole life, as the grader measured it
    output: str = ""
    notes: list[str] = field(default_factory=list)
    max_rss_kb: int = 0
    shared: bool = False  # answered by a process that had answered other checks before (see escalation)
    class_missing: bool = False  # an import failure of the class only: its module imported, but lacks it
    items: list["CallOutcome"] | None = None  # checks run together (see worker.run_steps): each one's answer
    described: dict[str, Any] | None = None  # what a list attribute held (worker.describe_elements), when asked

    def __post_init__(self) -> None:
        self.kind = Outcome(self.kind)


# what a worker ending by a signal most likely means
SIGNAL_WORDS = {
    "SIGSEGV": "a segmentation fault (SIGSEGV), an invalid memory access (in ctypes or a C extension?)",
    "SIGXCPU": "the CPU-time limit (SIGXCPU)",
    "SIGXFSZ": "the file-size limit (SIGXFSZ): it tried to write a file larger than {max_file_mb} MB",
    "SIGKILL": "SIGKILL, sent by your own code or by the system (out of memory?)",
    "SIGABRT": "an abort (SIGABRT), e.g. a failed check in a C library",
    "SIGBUS": "a bus error (SIGBUS)",
    "SIGFPE": "a floating-point exception (SIGFPE)",
    "SIGILL": "an illegal instruction (SIGILL)",
}


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def ended_words(*, signal_number: int | None = None, exit_status: int | None = None,
                max_file_mb: object = "?") -> str:
    """How a process ended, in words naming the likely limit: by a signal, or with an exit status."""
    if signal_number is not None:
        name = signal_name(signal_number)
        return f"was killed by {SIGNAL_WORDS.get(name, name).format(max_file_mb=max_file_mb)}"
    return f"exited with status {exit_status} (os._exit() or exit() from C code?)"


def call_timeout_text(call_timeout: float) -> str:
    return (f"the call did not return within its time limit of {call_timeout:.3g} s, so it was stopped (an endless "
            "loop, or far too slow?)")


def crash_detail(phase: str, ended: str | None, *, failed: bool = False) -> str:
    """Why a process gave no answer: `ended` says how it ended (ended_words), None when it hung up and
    kept running; `failed` when it was the worker's own code that failed (worker.FAILED)."""
    where = "while importing your file" if phase == "import" else "during the call"
    if failed:
        return (f"the process running your code failed {where}, most likely because it could not send its answer "
                "back (did your code close or replace a file descriptor, or sys.stdout, that it had not opened?)")
    if ended is not None:
        return f"the process running your code ended {where}: it {ended}"
    return ("your code closed the connection between its process and the grader (did it close a file descriptor it "
            "had not opened?) and kept running, so it was stopped")
