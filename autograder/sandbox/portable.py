"""The portable backend: each worker is a Python process started with subprocess, on any operating system.

For a student's own laptop (macOS, Windows, Linux without root), where the
student grades their own code: isolation is against hangs, crashes, exits
and floods, not against attacks, and there is no privilege drop. A worker
imports the submission from a fresh copy of it and answers checks over
pipes (portable_worker.py); a wall-clock limit is enforced by ending the
worker's process tree (its process group where there are process groups,
`taskkill /T` on Windows), and memory, CPU and file-size limits are set
where the system has them. As in the hardened backend, only passes come
from a worker that answered earlier checks: anything else, and every later
check, runs in a worker that ran nothing else (one is started ahead, so the
next such check finds it imported).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..limits import Limits
from . import protocol
from .base import IMPORT_TIMEOUT_TEXT, Ahead, Module, SandboxBase, Target, import_share
from .capture import OutputTail
from .outcome import CallOutcome, call_timeout_text, crash_detail, ended_words
from .replies import _parse_result, import_failure
from .staging import stage_submission
from .transport import feed

MAX_RESULT_BYTES = 64 * 1024 * 1024  # largest array a worker may send back
EXIT_GRACE_SECONDS = 0.5  # a worker that hung up gets this long to end by itself (to learn how it ended)
MARKER_SECONDS = 0.5  # waiting for the end-of-check marker in the output, at most
FAILED = 70  # worker.FAILED: the worker's own code failed (it could not send its answer, say)
GRADER_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the autograder package
BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from autograder.sandbox.portable_worker import main; main()")


class PortableSandbox(SandboxBase):
    """See the module's docstring."""

    name = "portable"

    def __init__(self, stage_from: Path, import_root: str, module: str, class_name: str, limits: Limits,
                 *, grader_root: Path | None = None) -> None:
        super().__init__((import_root, module, class_name), limits)
        self._parent = Path(tempfile.mkdtemp(prefix="autograder-"))
        self._closed = False
        try:
            self.skipped = stage_submission(Path(stage_from), self._parent / "stage")
        except BaseException:
            _remove(self._parent)
            raise
        self._grader_root = str(grader_root or GRADER_ROOT)
        self._workers = 0
        # a worker imports a module and answers for any class of it (each request names the class)
        self._shared: dict[Module, _Worker] = {}  # a worker that answers check after check, while all pass
        self._spare: dict[Module, _Worker] = {}  # a worker started ahead for the next check that runs alone
        self._alone: set[Target] = set()  # targets whose checks each run in a worker of their own

    def warnings(self) -> list[str]:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return ["student code ran as root, with no privilege drop: the portable sandbox was chosen "
                    "(--sandbox portable or AUTOGRADER_SANDBOX); Gradescope must use the hardened one"]
        return []

    def prepare(self, *targets: Target) -> None:
        modules = {(t[0], t[1]) for t in targets if (t[0], t[1]) not in self._shared and t not in self._alone}
        share = import_share(len(modules))
        for module in sorted(modules) if not self._closed else ():
            self._shared[module] = self._start(module)
            self._shared[module].share = share

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in [*self._shared.values(), *self._spare.values()]:
            worker.end()
        self._shared.clear()
        self._spare.clear()
        _remove(self._parent)

    # -- one check -----------------------------------------------------------
    def _run_any(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                 key: Target, started: float, fresh: bool = False, then: Ahead | None = None) -> CallOutcome:
        """In the shared worker while every answer passes; otherwise in a worker that ran nothing else.
        (`then` is not sent ahead here: a portable worker is given one request at a time.)"""
        budget_end = started + self.budget_left
        module, class_name = (key[0], key[1]), key[2]
        if fresh:
            self._alone.add(key)
        if key not in self._alone:
            worker = self._shared.get(module) or self._shared.setdefault(module, self._start(module))
            first = worker.answered == 0  # its first check: it ran nothing else, its answer is final
            outcome = self._check(worker, class_name, steps, inputs, call_timeout, budget_end)
            if outcome.kind == "ok":
                outcome.shared = not first
                return outcome
            # anything but an answer ends sharing: this check and every later one of its class run alone
            self._shared.pop(module).end()
            self._alone.add(key)
            if first or outcome.kind in ("timeout", "budget") or time.monotonic() >= budget_end:
                return outcome  # a hang is not run again (it would cost a second time limit)
        worker = self._spare.pop(module, None) or self._start(module)
        try:
            outcome = self._check(worker, class_name, steps, inputs, call_timeout, budget_end)
        finally:
            worker.end()
        if outcome.phase != "import" and time.monotonic() < budget_end:
            self._spare[module] = self._start(module)  # imports while the grader compares
        return outcome

    def _start(self, key: Module) -> "_Worker":
        self._workers += 1
        workdir = self._parent / f"w{self._workers}"
        shutil.copytree(self._parent / "stage", workdir / "submission")
        limits = self.limits
        spec = {"workdir": str(workdir), "import_root": key[0], "module": key[1],
                "grader_root": self._grader_root, "marker": f"\0{secrets.token_hex(8)}\0",
                "max_result_bytes": MAX_RESULT_BYTES,
                "limits": {"cpu_seconds": int(limits.import_timeout + limits.budget) + 2,
                           "memory_mb": limits.memory_mb, "max_file_mb": limits.max_file_mb}}
        return _Worker(spec, limits)

    def _check(self, worker: "_Worker", class_name: str, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
               call_timeout: float, budget_end: float) -> CallOutcome:
        """One request to a worker: the import first if it is not done, then the call; never waits past a deadline."""
        if worker.imported is None:
            deadline = min(worker.started_at + self.limits.import_timeout * worker.share, budget_end)
            header, _, why = worker.receive(deadline, max_array_bytes=0)
            if header is None:
                failure = self._failure(why, "import", deadline == budget_end,
                                        IMPORT_TIMEOUT_TEXT.format(seconds=self.limits.import_timeout))
                return self._ended(worker, failure)
            if header.get("event") != "imported":
                return self._ended(worker, CallOutcome("protocol", phase="import", detail="the process running your "
                                                       "code sent an unexpected message during the import"))
            if not header.get("ok"):
                return self._ended(worker, import_failure(header))
            worker.imported = worker.output.take(0, time.monotonic() + MARKER_SECONDS)
        call_start = time.monotonic()
        deadline = min(call_start + call_timeout, budget_end)
        worker.send({"steps": steps, "class_name": class_name}, inputs)
        header, arrays, why = worker.receive(deadline, max_array_bytes=MAX_RESULT_BYTES)
        if header is None:
            return self._ended(worker, self._failure(why, "call", deadline == budget_end,
                                                     call_timeout_text(call_timeout)))
        worker.answered += 1
        outcome = _parse_result(header, arrays)
        segment = worker.output.take(worker.answered, time.monotonic() + MARKER_SECONDS)
        outcome.output = worker.text(worker.imported, segment)
        return self._memory_words(outcome)

    def _ended(self, worker: "_Worker", outcome: CallOutcome) -> CallOutcome:
        """A worker that gave no answer: how it ended, then it is ended (with its tree) and its output read."""
        code = worker.exit_code(EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0)
        if outcome.kind == "crashed":
            if code is None:
                outcome.detail = crash_detail(outcome.phase, None)
            elif code < 0:
                outcome.detail = crash_detail(outcome.phase, ended_words(signal_number=-code,
                                                                         max_file_mb=self.limits.max_file_mb))
            else:
                outcome.detail = crash_detail(outcome.phase, ended_words(exit_status=code), failed=code == FAILED)
        worker.end()
        rest = worker.output.rest(time.monotonic() + MARKER_SECONDS)
        outcome.output = worker.text(rest) if worker.imported is None else worker.text(worker.imported, rest)
        return self._memory_words(outcome)


class _Worker:
    """One worker process: its pipes, a thread reading its answers, a thread reading its output."""

    def __init__(self, spec: dict[str, Any], limits: Limits) -> None:
        self.workdir = spec["workdir"]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        posix = hasattr(os, "killpg")
        self.started_at = time.monotonic()
        self.share = 1.0  # times the import time limit its import may take (see base.import_share)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, spec["grader_root"], json.dumps(spec)], cwd=self.workdir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,  # raw pipes: a read returns what is there
            start_new_session=posix, creationflags=0 if posix else getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
        self.imported: OutputTail | None = None  # what the import printed, once it is done
        self.answered = 0
        self.limits = limits
        self._inbox: queue.Queue[bytes] = queue.Queue()
        self._carry = bytearray()
        self.output = _Output(self.proc.stderr, spec["marker"].encode(), limits.output_chars)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        stream = self.proc.stdout
        while True:
            try:
                chunk = stream.read(1 << 20) if stream else b""  # raw: what is there, up to 1 MB
            except (OSError, ValueError):
                chunk = b""
            self._inbox.put(chunk)
            if not chunk:
                return

    def send(self, request: dict[str, Any], inputs: dict[str, np.ndarray]) -> None:
        """Write a request from a thread of its own: a worker that does not read cannot hold the grader."""
        def write() -> None:
            try:
                protocol.send(_PipeOut(self.proc.stdin), request, inputs)  # type: ignore[arg-type]
            except (OSError, ValueError):
                pass  # it is gone: receiving says how

        threading.Thread(target=write, daemon=True).start()

    def receive(self, deadline: float, *, max_array_bytes: int) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
        """One message, or (None, {}, why): timeout, eof, protocol:<reason>."""
        reader = protocol.Reader(max_array_bytes=max_array_bytes)
        if self._carry:
            data, self._carry[:] = bytes(self._carry), b""
            done = feed(reader, data, self._carry)
            if done is not None:
                return done
        while True:
            try:
                chunk = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None, {}, "timeout"
            if not chunk:
                self._inbox.put(chunk)  # the end stays the end
                return None, {}, "eof"
            done = feed(reader, chunk, self._carry)
            if done is not None:
                return done

    def exit_code(self, grace: float) -> int | None:
        """Its exit code (negative: the signal), waiting up to `grace`; None while it runs."""
        try:
            return self.proc.wait(timeout=grace) if grace > 0 else self.proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def end(self) -> None:
        """End it and everything it started, then remove its folder."""
        _kill_tree(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _remove(Path(self.workdir))

    def text(self, *parts: OutputTail) -> str:
        """What the worker printed, as one check's output (paths in it read as the student's own)."""
        joined = OutputTail(self.limits.output_chars)
        for part in parts:
            joined.add(bytes(part.head))
            joined.add(bytes(part.tail))
            joined.total += part.cut
        return joined.text().replace(os.path.join(self.workdir, "submission") + os.sep, "")


class _PipeOut:
    """A pipe with the one socket method protocol.send uses."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:  # a raw pipe may take part of it
            view = view[self.stream.write(view):]


class _Output:
    """A worker's output, cut into segments at the marker it writes after the import and after each answer."""

    def __init__(self, stream: Any, marker: bytes, limit: int) -> None:
        self._marker, self._limit = marker, limit
        self._done: list[OutputTail] = []
        self._current = OutputTail(limit)
        self._ended = False
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        keep = len(self._marker) - 1  # bytes that may be the start of a marker cut across two reads
        pending = b""
        while True:
            try:
                chunk = stream.read(1 << 20)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            pending += chunk
            with self._cond:
                while (at := pending.find(self._marker)) >= 0:
                    self._current.add(pending[:at])
                    self._done.append(self._current)
                    self._current = OutputTail(self._limit)
                    pending = pending[at + len(self._marker):]
                if len(pending) > keep:
                    self._current.add(pending[:len(pending) - keep])
                    pending = pending[len(pending) - keep:]
                self._cond.notify_all()
        with self._cond:
            self._current.add(pending)
            self._ended = True
            self._cond.notify_all()
        try:
            stream.close()
        except OSError:
            pass

    def take(self, index: int, deadline: float) -> OutputTail:
        """Segment `index` (0: the import's output), once its marker is read; what there is at the deadline."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._done) > index or self._ended,
                                timeout=max(0.0, deadline - time.monotonic()))
            return self._done[index] if len(self._done) > index else self._current

    def rest(self, deadline: float) -> OutputTail:
        """What came after the last marker, once the output has ended (or at the deadline)."""
        with self._cond:
            self._cond.wait_for(lambda: self._ended, timeout=max(0.0, deadline - time.monotonic()))
            return self._current


def _kill_tree(proc: subprocess.Popen) -> None:
    """End a worker and every process it started: its process group, or its tree on Windows."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    elif proc.poll() is None:
        try:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        proc.kill()
    except OSError:
        pass


def _remove(path: Path) -> None:
    """Remove a folder; on Windows a file may stay locked a moment after its process ended: try again."""
    for attempt in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.05 * (attempt + 1))
