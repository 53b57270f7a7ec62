"""Where a check runs in the hardened backend: a host's shared child, a fresh child of the host, a worker of its own.

Each executor sends the check's steps and inputs, reads the reply within the
call's deadline (and the budget's), reads what the code printed, and
leaves the process to the zygote's clean-up. escalation.escalate decides
which runs a check, and again when one's outcome cannot stand.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import numpy as np

from ..limits import Limits
from . import protocol, system, transport, worker
from .base import IMPORT_TIMEOUT_TEXT, Ahead, Module, SandboxBase, Target
from .capture import OutputTail
from .hosts import Host, Hosts
from .outcome import CallOutcome, call_timeout_text, crash_detail, ended_words
from .replies import _parse_result, import_failure
from .zygote_client import EXIT_GRACE_SECONDS, ZygoteClient

MAX_RESULT_BYTES = 64 * 1024 * 1024  # largest array a worker may send back
DRAIN_SECONDS = 0.2  # reading what is left in the output pipe once every writer is dead
READ_SECONDS = 0.05  # the least time given to read a message that may be waiting already
EARLY_REQUEST_BYTES = 64 * 1024  # inputs up to this size are sent before the import is done


def module_of(target: Target) -> Module:
    """What a target's host imports: (import_root, module); one host serves every class of it."""
    return target[0], target[1]


def request_of(key: Target, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A check's request to a host's child: the steps, and the module and class they run on."""
    return {"steps": steps, "module": key[1], "class_name": key[2]}


def describe_status(status: int, limits: Limits | None = None) -> str:
    """A wait status in words, naming the likely limit."""
    max_file_mb = limits.max_file_mb if limits else "?"
    if os.WIFSIGNALED(status):
        return ended_words(signal_number=os.WTERMSIG(status), max_file_mb=max_file_mb)
    if os.WIFEXITED(status):
        return ended_words(exit_status=os.WEXITSTATUS(status))
    return f"ended with wait status {status}"


class Executors:
    """The three places a check of `box` can run; `spec` is what every worker is told (see worker.py)."""

    def __init__(self, box: SandboxBase, client: ZygoteClient, hosts: Hosts, spec: dict[str, Any],
                 nproc_base: int) -> None:
        self.box = box  # its limits and budget, read at each check (they are set after construction)
        self.client = client
        self.hosts = hosts
        self.spec = spec
        self.nproc_base = nproc_base  # processes the account ran when the sandbox started
        self.checks_ran = False  # whether a check has run: what the account has since may be a check's

    def _broken(self) -> CallOutcome:
        return CallOutcome("sandbox", detail=self.client.broken or "")

    def worker_spec(self, key: Target, call_timeout: float, host: bool,
                    modules: list[str] | None = None) -> dict[str, Any]:
        """What a worker is told; `modules`: those a host of several imports (see Sandbox.prepare)."""
        limits = self.box.limits
        return dict(self.spec, import_root=key[0], module=key[1], class_name=key[2], host=host, modules=modules,
                    after_checks=self.checks_ran, limits={
            # a host's children inherit its CPU limit, and its shared child spends it on many checks
            "cpu_seconds": int(limits.import_timeout + (limits.budget if host else call_timeout)) + 2,
            "memory_mb": limits.memory_mb,
            "max_file_mb": limits.max_file_mb,
            # RLIMIT_NPROC counts every process of the account: allow max_processes more than it runs now
            "nproc": self.nproc_base + limits.max_processes if self.nproc_base >= 0 else 0,
        })

    # -- in the host's shared child ---------------------------------------------
    def in_shared_child(self, host: Host, key: Target, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
                        call_timeout: float, started: float, then: Ahead | None = None) -> CallOutcome | None:
        """One check of the target's class in the host's shared child (forked on first use); None when the
        host cannot fork it.

        Anything but an answer ends the shared child (at once for a hang) and
        turns sharing off for this class. An answer after which a process the
        check started still runs ends it too, so that what the check left is
        killed before the next check starts (in a new shared child). After a
        clean answer (nothing printed, nothing left running), `then` is sent at
        once (see SandboxBase.run); a check that was sent so is not sent again:
        its answer is read, within its time limit from when it was sent.
        """
        settled = self.client.settle()  # a reply still due from the zygote
        if settled is None:
            return self._broken()
        if not system.is_alive(host.pid):
            return None
        if not self.hosts.start_serial(host):
            return None
        request: dict[str, Any] | None = request_of(key, steps)
        sent = None
        if host.ahead is not None:  # sent ahead: Sandbox._run_any ended the child unless it is this check
            host.ahead, request, sent = None, None, host.ahead_sent
        budget_end = started + self.box.budget_left
        output = self.hosts.output_of(host, self.box.limits.output_chars)
        before = output.total
        outcome = self._call(host.serial, host.serial_out, output, request, inputs, call_timeout, budget_end,
                             sent=sent)
        transport.drain(host.serial_out, output, deadline=0.0)  # it flushed its output before it answered
        transport.drain(host.out_fd, output, deadline=0.0)
        if outcome.kind == "ok":
            outcome.shared = True
            if self.hosts.left_behind(host):  # killed before the next check, which gets a new shared child
                self.hosts.end_serial(host)
            elif then is not None and output.total == before:
                self._send_ahead(host, then, budget_end)
        elif outcome.kind in ("timeout", "budget"):  # killed at once, with whatever it started
            self.hosts.kill_serial(host, alone=key)
        else:
            self.hosts.end_serial(host, alone=key)
        outcome.output = output.text().replace(os.path.join(host.workdir, "submission") + os.sep, "")
        return self.box._memory_words(outcome)

    # -- in a fresh child of the host ----------------------------------------------
    def in_fresh_child(self, host: Host, key: Target, steps: list[dict[str, Any]],
                       inputs: dict[str, np.ndarray], call_timeout: float, started: float) -> CallOutcome | None:
        """One check of the target's class in a child the host forks; None when the host did not fork it (it is then dropped)."""
        settled = self.client.settle()  # a reply still due from the zygote
        if settled is None:
            return self._broken()
        if not system.is_alive(host.pid):
            return None
        budget_end = started + self.box.budget_left
        output = self.hosts.output_of(host, self.box.limits.output_chars)
        channels = self.hosts.fork_child(host, b"F")
        if channels is None:
            return None
        parent, out_read = channels
        try:
            # No reply from the host: if it dies before it forks, the descriptors it had not taken are
            # closed with it and this check reads the end of its socket ("crashed", run again elsewhere).
            # Small inputs wait in the socket while the host forks.
            outcome = self._call(parent, out_read, output, request_of(key, steps), inputs, call_timeout, budget_end)
            parent.close()
            if outcome.kind in ("ok", "error", "too_large"):
                transport.drain(out_read, output, deadline=0.0)  # it flushed its output before it answered
                self.hosts.sweep_due = host.pid  # swept before the next check starts (by then it has exited)
            else:  # a hung check is killed at once; one that hung up gets a moment to end by itself
                grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                self.client.ask({"op": "sweep", "host": host.pid, "grace": grace})
                transport.drain(out_read, output, deadline=time.monotonic() + DRAIN_SECONDS)
        finally:
            parent.close()
            os.close(out_read)
        transport.drain(host.out_fd, output, deadline=0.0)
        outcome.output = output.text().replace(os.path.join(host.workdir, "submission") + os.sep, "")
        return self.box._memory_words(outcome)

    # -- in a worker of its own (or, with `host`, starting the target's host) -------------
    def in_own_worker(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                      key: Target, started: float, host: bool = False) -> CallOutcome:
        """A worker the zygote forks, imports and runs the check; with `host`, it imports the target's module
        (or, for a host of several spawned ahead, their modules) and is kept as the host (outcome "hosted")
        when it can fork safely."""
        limits = self.box.limits
        spawned = self.client.take_spawned(module_of(key)) if host else None  # spawned ahead (see Sandbox.prepare)
        import_from, share = None, 1.0  # when the import started, if earlier, and its share of the cores
        if spawned is not None:
            reply, fds, import_from, share = spawned
        else:
            reply, fds = self.client.ask({"op": "spawn", "spec": self.worker_spec(key, call_timeout, host)})
        if reply is None:
            return self._broken()
        if "error" in reply or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return CallOutcome("sandbox", detail=f"the sandbox could not prepare a worker for this test "
                                                 f"({str(reply.get('error', 'no channels'))[:200]})")
        pid = int(reply["pid"])
        sock = socket.socket(fileno=fds[0])
        out_fd = fds[1]
        os.set_blocking(out_fd, False)
        output = OutputTail(limits.output_chars)
        outcome = CallOutcome("sandbox", detail="the grader was interrupted")
        reaped: dict[str, Any] | None = None
        kept = False  # a host stays, with its channels open
        try:
            outcome = self._talk(sock, out_fd, output, steps, inputs, call_timeout, started, host=host,
                                 import_from=import_from, share=share)
            if outcome.kind == "hosted" and outcome.detail == "forkable":
                transport.drain(out_fd, output, deadline=0.0)
                self.hosts.set(module_of(key), Host(pid, sock, out_fd, output, str(reply.get("workdir"))))
                kept = True
                return outcome
        finally:
            if not kept:
                sock.close()
                if outcome.kind in ("ok", "error", "import_error", "too_large", "hosted"):
                    # It has said all it will say (its output was flushed before its answer): the zygote
                    # reaps it, with a moment to end by itself, while the grader compares. The zygote
                    # answers requests in order, so it is gone before the next worker starts.
                    transport.drain(out_fd, output, deadline=0.0)
                    self.client.reap_later(pid)
                else:
                    # A worker that hung up gets a moment to end by itself (to learn how it ended);
                    # a hung one is killed at once. Then the rest of its output is read.
                    grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                    reaped, _ = self.client.ask({"op": "reap", "pid": pid, "grace": grace})
                    transport.drain(out_fd, output, deadline=time.monotonic() + DRAIN_SECONDS)
                os.close(out_fd)
        # paths in tracebacks and warnings read as the student's own, not the sandbox's
        outcome.output = output.text().replace(os.path.join(str(reply.get("workdir")), "submission") + os.sep, "")
        if reaped:
            outcome.max_rss_kb = int(reaped.get("max_rss_kb") or 0)
            if outcome.kind == "crashed":
                status = int(reaped["status"])
                failed = bool(reaped.get("exited")) and os.WIFEXITED(status) and os.WEXITSTATUS(status) == worker.FAILED
                outcome.detail = crash_detail(outcome.phase, describe_status(status, limits) if reaped.get("exited")
                                              else None, failed=failed)
        elif outcome.kind == "crashed" and self.client.broken is not None and "sandbox process" not in outcome.detail:
            outcome.detail = ("the process running your code stopped, and so did the sandbox process that started it "
                              "(did your code stop it?)")
        return self.box._memory_words(outcome)

    def _talk(self, sock: socket.socket, out_fd: int, output: OutputTail, steps: list[dict[str, Any]],
              inputs: dict[str, np.ndarray], call_timeout: float, started: float, *, host: bool = False,
              import_from: float | None = None, share: float = 1.0) -> CallOutcome:
        limits = self.box.limits
        budget_end = started + self.box.budget_left
        request = {"steps": steps}
        early = not host and sum(a.nbytes for a in inputs.values()) <= EARLY_REQUEST_BYTES
        if early:  # small: it waits in the socket while the worker imports, which saves a round trip
            try:
                protocol.send(sock, request, inputs)
            except OSError:
                pass  # the worker is gone already; the import phase below says how
        # 1. the import
        carry = bytearray()
        # an import started ahead has had its time (its share of the cores) since it was spawned; one that
        # finished while the grader waited for another host is read, whenever that was
        deadline = min(max((import_from or time.monotonic()) + limits.import_timeout * share,
                           time.monotonic() + READ_SECONDS), budget_end)
        header, _, why = transport.receive(sock, out_fd, output, deadline, max_array_bytes=0, carry=carry,
                                           watch=self.client.fd)
        if header is None:
            return self.box._failure(why, "import", deadline == budget_end,
                                     IMPORT_TIMEOUT_TEXT.format(seconds=limits.import_timeout))
        if header.get("event") != "imported":
            return CallOutcome("protocol", phase="import",
                               detail="the process running your code sent an unexpected message during the import")
        if not header.get("ok"):
            return import_failure(header)
        if host:  # imported; it now waits for checks to fork
            return CallOutcome("hosted", phase="import", detail="forkable" if header.get("forkable") is True else "")
        # 2. the call
        return self._call(sock, out_fd, output, None if early else request, inputs, call_timeout, budget_end,
                          carry=carry)

    def _send_ahead(self, host: Host, then: Ahead, budget_end: float) -> None:
        """Send the next check's request to the shared child now (see in_shared_child); a child that does not
        take it is ended (killed at once), and the next check goes to a new one."""
        sent = time.monotonic()
        try:
            host.serial.settimeout(max(0.05, min(sent + then.call_timeout, budget_end) - sent))
            protocol.send(host.serial, request_of(then.target, then.steps), then.inputs)
            host.serial.settimeout(None)
        except OSError:
            self.hosts.kill_serial(host)
            return
        host.ahead, host.ahead_sent = then, sent

    def _call(self, sock: socket.socket, out_fd: int, output: OutputTail, request: dict[str, Any] | None,
              inputs: dict[str, np.ndarray], call_timeout: float, budget_end: float,
              carry: bytearray | None = None, sent: float | None = None) -> CallOutcome:
        """Send the request (None: it went out already, at `sent` if known) and read the result, within the
        call's deadline."""
        call_start = time.monotonic() if sent is None else sent
        deadline = min(call_start + call_timeout, budget_end)
        try:
            if request is not None:
                sock.settimeout(max(0.05, deadline - call_start))
                protocol.send(sock, request, inputs)
                sock.settimeout(None)
        except TimeoutError:
            header, arrays, why = None, {}, "timeout"
        except OSError:
            header, arrays, why = None, {}, "eof"
        else:
            header, arrays, why = transport.receive(sock, out_fd, output, deadline, max_array_bytes=MAX_RESULT_BYTES,
                                                    carry=carry, watch=self.client.fd)
        if header is None:
            return self.box._failure(why, "call", deadline == budget_end, call_timeout_text(call_timeout))
        return _parse_result(header, arrays)
