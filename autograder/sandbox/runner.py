"""The grader's side of the sandbox: start the zygote, run one check in a fresh worker, clean up.

``Sandbox`` must be started before any fixture is loaded: it forks the
zygote, and every worker is forked from that clean copy. It is the only
place that knows about time: per-call timeouts and the submission's total
budget.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Limits
from . import protocol, system, zygote
from .capture import OutputTail

MAX_RESULT_BYTES = 64 * 1024 * 1024


@dataclass
class CallOutcome:
    """Everything the grader learns from one worker: data, never code."""

    kind: str  # ok | error | import_error | import_timeout | timeout | crashed | protocol | budget | sandbox
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


def describe_status(status: int) -> str:
    """A wait status in words, naming the likely limit."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        why = {
            "SIGSEGV": "a segmentation fault",
            "SIGXCPU": "the CPU-time limit",
            "SIGXFSZ": "the file-size limit",
            "SIGKILL": "SIGKILL (a hard limit or the system's out-of-memory killer)",
            "SIGABRT": "an abort",
            "SIGBUS": "a bus error",
            "SIGFPE": "a floating-point exception",
        }.get(name, name)
        return f"was killed by {why} ({name})"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"


class Sandbox:
    """Runs checks of one submission, each in a fresh, limited, unprivileged worker."""

    def __init__(self, stage_from: Path, import_root: str, module: str, class_name: str, limits: Limits,
                 *, grader_root: Path | None = None) -> None:
        self.limits = limits
        self.account = system.sandbox_account()
        self.budget_left = limits.budget
        self._stage_parent = Path(tempfile.mkdtemp(prefix="autograder-stage-"))
        stage = self._stage_parent / "submission"
        shutil.copytree(stage_from, stage, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
        self._spec = {
            "stage": str(stage),
            "import_root": import_root,
            "module": module,
            "class_name": class_name,
            "grader_root": str(grader_root) if grader_root else None,
            "uid": self.account.uid if self.account else None,
            "gid": self.account.gid if self.account else None,
            "tmp_root": None,
        }
        self._import_failures: dict[tuple[str, str, str], CallOutcome] = {}  # per (import_root, module, class)
        self.zygote_pid, self._ctrl = zygote.start()

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        """Stop the zygote (which kills anything left) and remove the staged copy."""
        try:
            zygote.send_json(self._ctrl, {"op": "exit"})
        except OSError:
            pass
        self._ctrl.close()
        try:
            os.waitpid(self.zygote_pid, 0)
        except ChildProcessError:
            pass
        shutil.rmtree(self._stage_parent, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one check ---------------------------------------------------------
    def run(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], *, call_timeout: float,
            target: tuple[str, str, str] | None = None) -> CallOutcome:
        """Run the steps in a fresh worker and return what came back, whatever happened.

        `target` is (import_root, module, class_name) when one sandbox grades
        several classes or files; by default, the one given at construction.
        """
        key = target or (self._spec["import_root"], self._spec["module"], self._spec["class_name"])
        if key in self._import_failures:
            return self._import_failures[key]
        if self.budget_left <= 0:
            return CallOutcome("budget", detail=f"the time budget of {self.limits.budget:g} s for this submission "
                                                "was used up by earlier tests, so this test was not run")
        limits = self.limits
        cpu = int(limits.import_timeout + call_timeout) + 2
        spec = dict(self._spec, limits={"cpu_seconds": cpu, "memory_mb": limits.memory_mb,
                                        "max_file_mb": limits.max_file_mb, "max_processes": limits.max_processes},
                    import_root=key[0], module=key[1], class_name=key[2])
        try:
            zygote.send_json(self._ctrl, {"op": "spawn", "spec": spec})
            reply, fds = zygote.recv_json(self._ctrl, max_fds=2)
        except OSError as exc:
            return CallOutcome("sandbox", detail=f"the sandbox could not start a worker ({exc})")
        if reply is None or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return CallOutcome("sandbox", detail="the sandbox stopped unexpectedly")
        pid = reply["pid"]
        sock = socket.socket(fileno=fds[0])
        out_fd = fds[1]
        output = OutputTail(limits.output_chars)
        started = time.monotonic()
        outcome: CallOutcome | None = None
        try:
            outcome = self._talk(sock, out_fd, output, steps, inputs, call_timeout, started)
        finally:
            # a worker that answered gets a moment to exit by itself; a hung one is killed at once
            grace = 0.5 if outcome is not None and outcome.kind in ("ok", "error", "import_error") else 0.0
            try:
                zygote.send_json(self._ctrl, {"op": "reap", "pid": pid, "grace": grace})
                reaped, _ = zygote.recv_json(self._ctrl)
            except OSError:
                reaped = None
            sock.close()
            _drain(out_fd, output, deadline=time.monotonic() + 0.5)
            os.close(out_fd)
        wall = time.monotonic() - started
        self.budget_left -= wall
        outcome.wall_seconds = wall
        # paths in tracebacks and warnings read as the student's own, not the sandbox's
        outcome.output = output.text().replace(os.path.join(str(reply.get("workdir")), "submission") + os.sep, "")
        if reaped:
            outcome.max_rss_kb = int(reaped.get("max_rss_kb") or 0)
            if outcome.kind == "crashed":
                outcome.detail = f"{outcome.detail}: the process running your code {describe_status(reaped['status'])}"
        if outcome.kind in ("import_error", "import_timeout") or (outcome.kind == "crashed" and outcome.phase == "import"):
            self._import_failures[key] = outcome
        return outcome

    def _talk(self, sock: socket.socket, out_fd: int, output: OutputTail, steps: list[dict[str, Any]],
              inputs: dict[str, np.ndarray], call_timeout: float, started: float) -> CallOutcome:
        budget_end = started + self.budget_left
        # 1. the import
        deadline = min(started + self.limits.import_timeout, budget_end)
        header, _, why = _receive(sock, out_fd, output, deadline, max_array_bytes=0)
        if header is None:
            return self._failure(why, "import", deadline == budget_end,
                                 f"importing your code took longer than {self.limits.import_timeout:g} s")
        if header.get("event") != "imported":
            return CallOutcome("protocol", detail="the worker sent an unexpected message during import", phase="import")
        if not header.get("ok"):
            return CallOutcome("import_error", phase="import", error=_error(header.get("error")))
        # 2. the call
        call_start = time.monotonic()
        deadline = min(call_start + call_timeout, budget_end)
        try:
            sock.settimeout(max(0.1, deadline - call_start))
            protocol.send(sock, {"steps": steps}, inputs)
            sock.settimeout(None)
        except OSError:
            header, why = None, "eof"
        else:
            header, arrays, why = _receive(sock, out_fd, output, deadline, max_array_bytes=MAX_RESULT_BYTES)
        if header is None:
            return self._failure(why, "call", deadline == budget_end,
                                 f"the call did not return within its time limit of {call_timeout:.3g} s")
        return _parse_result(header, arrays)

    def _failure(self, why: str, phase: str, budget_hit: bool, timeout_text: str) -> CallOutcome:
        if why == "timeout":
            if budget_hit:
                return CallOutcome("budget", phase=phase, detail=f"the time budget of {self.limits.budget:g} s for "
                                                                 "this submission ran out while this test was running")
            return CallOutcome("import_timeout" if phase == "import" else "timeout", phase=phase, detail=timeout_text)
        if why.startswith("protocol:"):
            return CallOutcome("protocol", phase=phase, detail="the worker's reply was not valid " + why[len("protocol:"):])
        where = "while importing your code" if phase == "import" else "during the call"
        return CallOutcome("crashed", phase=phase, detail=f"the worker stopped {where}")


def _error(raw: Any) -> dict[str, Any]:
    """Keep only well-formed fields of an error description."""
    if not isinstance(raw, dict):
        return {"type": "Error", "message": "", "frames": [], "not_implemented": False}
    frames = []
    for frame in raw.get("frames") or []:
        if isinstance(frame, dict):
            frames.append({"file": str(frame.get("file", "?"))[:200], "line": frame.get("line") if isinstance(frame.get("line"), int) else None,
                           "function": str(frame.get("function", "?"))[:100], "code": str(frame.get("code", ""))[:200]})
    return {"type": str(raw.get("type", "Error"))[:100], "message": str(raw.get("message", ""))[:2000],
            "frames": frames[:12], "not_implemented": raw.get("not_implemented") is True}


def _parse_result(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> CallOutcome:
    if header.get("event") != "result":
        return CallOutcome("protocol", phase="call", detail="the worker sent an unexpected message")
    notes = [str(n)[:300] for n in header.get("notes") or [] if isinstance(n, str)][:5]
    method = str(header.get("method", ""))[:50]
    if not header.get("ok"):
        phase = header.get("phase") if header.get("phase") in ("construct", "call") else "call"
        return CallOutcome("error", phase=phase, method=method, error=_error(header.get("error")), notes=notes)
    returned = header.get("returned")
    if not isinstance(returned, dict) or returned.get("kind") not in ("none", "ndarray", "other"):
        return CallOutcome("protocol", phase="call", detail="the worker's reply did not describe a result")
    mutated = [str(m)[:50] for m in header.get("mutated") or [] if isinstance(m, str)]
    seconds = header.get("seconds")
    array = arrays.get("result")
    if returned["kind"] == "ndarray" and returned.get("sendable") and array is None:
        return CallOutcome("protocol", phase="call", detail="the worker announced an array but sent none")
    return CallOutcome("ok", phase="call", method=method, returned=returned, array=array, mutated=mutated,
                       seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0, notes=notes)


def _receive(sock: socket.socket, out_fd: int, output: OutputTail, deadline: float, *,
             max_array_bytes: int) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
    """Read one message while draining output; (header, arrays, "") or (None, {}, why)."""
    reader = protocol.Reader(max_array_bytes=max_array_bytes)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "proto")
    out_open = True
    try:
        selector.register(out_fd, selectors.EVENT_READ, "out")
    except (ValueError, OSError):
        out_open = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, {}, "timeout"
            for key, _ in selector.select(remaining):
                if key.data == "out":
                    chunk = _read(out_fd)
                    if chunk:
                        output.add(chunk)
                    elif out_open:
                        selector.unregister(out_fd)
                        out_open = False
                    continue
                try:
                    chunk = sock.recv(1 << 20)
                except OSError:
                    chunk = b""
                if not chunk:
                    return None, {}, "eof"
                try:
                    if reader.feed(chunk):
                        assert reader.header is not None
                        return reader.header, reader.arrays, ""
                except protocol.ProtocolError as exc:
                    return None, {}, f"protocol:{exc}"
    finally:
        selector.close()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


def _drain(fd: int, output: OutputTail, *, deadline: float) -> None:
    """Collect what is left in the output pipe (all writers are dead by now)."""
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                return
            chunk = _read(fd)
            if not chunk:
                return
            output.add(chunk)
    finally:
        selector.close()
