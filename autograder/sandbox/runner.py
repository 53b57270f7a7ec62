"""The grader's side of the sandbox: start the zygote, run one check in a fresh worker, clean up.

``Sandbox`` must be started before any fixture is loaded: it forks the
zygote, and every worker is forked from that clean copy. It is the only
place that knows about time: per-call timeouts and the submission's total
budget. Every wait here has a deadline, so neither a worker nor a stuck
zygote can hold the grader: once the budget is spent, remaining tests fail
at once, and if the zygote stops answering, it is killed and the remaining
tests fail with that reason.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..limits import Limits
from . import files, protocol, system, transport, worker, zygote
from .base import IMPORT_TIMEOUT_TEXT, SandboxBase
from .capture import OutputTail
from .outcome import CallOutcome, call_timeout_text, crash_detail, ended_words, signal_name
from .replies import _error, _parse_result
from .staging import stage_submission

MAX_RESULT_BYTES = 64 * 1024 * 1024  # largest array a worker may send back
ZYGOTE_REPLY_SECONDS = 10.0  # the zygote answers within this, or is declared broken
EXIT_GRACE_SECONDS = 0.1  # a worker that answered (or hung up) gets this long to end by itself
DRAIN_SECONDS = 0.2  # reading what is left in the output pipe once every writer is dead
CLOSE_SECONDS = 5.0  # the zygote's own clean-up at the end
EARLY_REQUEST_BYTES = 64 * 1024  # inputs up to this size are sent before the import is done


@dataclass
class _Host:
    """A worker that imported a submission once and forks one child per check (see worker._host)."""

    pid: int
    sock: socket.socket  # its protocol socket: a byte and two descriptors per check; it answers none
    out_fd: int  # its output pipe: what it printed while importing, and anything after
    preamble: OutputTail  # output of the import, shown with every check (as when each check imported)
    workdir: str
    serial: socket.socket | None = None  # the shared child's protocol socket, while one runs
    serial_out: int = -1  # ... and its output pipe
    serial_off: bool = False  # a check failed: from then on every check runs in a child of its own


def describe_status(status: int, limits: Limits | None = None) -> str:
    """A wait status in words, naming the likely limit."""
    max_file_mb = limits.max_file_mb if limits else "?"
    if os.WIFSIGNALED(status):
        return ended_words(signal_number=os.WTERMSIG(status), max_file_mb=max_file_mb)
    if os.WIFEXITED(status):
        return ended_words(exit_status=os.WEXITSTATUS(status))
    return f"ended with wait status {status}"


class Sandbox(SandboxBase):
    """Runs checks of one submission, each in a fresh, limited, unprivileged worker.

    ``limits`` and ``budget_left`` may be set after construction (before
    the first ``run``), once the fixtures that state them are read.

    With ``hosting`` (the default), the first check of a submission starts a
    *host*: a worker that enters the sandbox and imports the submission once.
    Checks then run in one *shared* child the host forks, one after another,
    each on a fresh instance: a process per check would cost several times
    the checks themselves. Only answers come from the shared child: anything
    else (an exception, a crash, an answer too large) ends it, and that check
    and every later one runs in a fresh child forked from the clean
    post-import state. So does a check whose answer the grader finds wrong
    (``run(fresh=True)``): a failure is always decided in a process that ran
    nothing else. A check that crashes in a fresh child is run again in a
    worker of its own; if the host dies, or cannot fork safely (threads),
    every check gets a worker of its own, as without hosting.
    """

    hosting = sys.platform.startswith("linux")  # the sweep between checks finds processes through /proc

    def __init__(self, stage_from: Path, import_root: str, module: str, class_name: str, limits: Limits,
                 *, grader_root: Path | None = None) -> None:
        super().__init__((import_root, module, class_name), limits)
        self.account = system.sandbox_account()
        self._closed = False
        self._reap_pending = False  # a reap request whose reply is still to be read
        # <tmp>/autograder-XXXX (0711) holds the pristine copy (stage/, 0700) and one folder per worker
        self._parent = Path(files.private_folder(tempfile.gettempdir(), "autograder-", 0o711))
        stage = self._parent / "stage"
        self.skipped = stage_submission(Path(stage_from), stage)
        owner = self.account.uid if self.account else os.getuid()
        # RLIMIT_NPROC counts every process of the account: allow max_processes more than it runs now
        self._nproc_base = system.tasks_of(owner)
        self._spec = {
            "stage": str(stage),
            "import_root": import_root,
            "module": module,
            "class_name": class_name,
            "grader_root": str(grader_root) if grader_root else None,
            "uid": self.account.uid if self.account else None,
            "gid": self.account.gid if self.account else None,
            "tmp_root": str(self._parent),
            "max_result_bytes": MAX_RESULT_BYTES,
        }
        self._hosts: dict[tuple[str, str, str], _Host | None] = {}  # None: that target runs without a host
        # Should the zygote die, its workers and their descendants are handed to us, not to init.
        self._children_before = set(system.children(os.getpid()))
        self._was_subreaper = system.is_subreaper()
        system.become_subreaper()
        # the account's files in shared temporary folders are deleted after each test: only a dedicated account's
        dedicated = self.account is not None and self.account.dedicated
        self._files_uid = self.account.uid if dedicated else None  # whose temporary files a sweep deletes
        self._kept: set[tuple[str, int]] = set()  # those made while a host imported: they stay
        self._sweep_due: int | None = None  # a host whose last check has not been swept yet
        self._spawning: tuple[str, str, str] | None = None  # a host `prepare` asked for, reply not read yet
        self._spawned_at = 0.0
        self.zygote_pid, self._ctrl = zygote.start(self.account.uid if dedicated else None, str(stage),
                                                   isolate=self.account is not None)
        # readable when the zygote dies, so a wait for a worker ends at once (Linux 5.3+; else -1)
        self._zygote_fd = transport.pidfd_of(self.zygote_pid)

    def warnings(self) -> list[str]:
        """For the staff: where this sandbox is weaker than it should be (as root), in words; empty when not."""
        if self.account is None:
            return []
        return [self.account.note] * bool(self.account.note) + [
            f"student code was not isolated from the machine's {what}: this kernel or container refused a namespace"
            for what in self.not_isolated()]

    def not_isolated(self) -> list[str]:
        """What student code shares with the machine although it should not (as root): the network, System V
        IPC. Read from /proc while the zygote runs; empty when not root, or when all is isolated."""
        if self.account is None or self.zygote_pid <= 0:
            return []
        missing = []
        for name, what in (("net", "network"), ("ipc", "System V IPC")):
            try:
                if os.readlink(f"/proc/{self.zygote_pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}"):
                    missing.append(what)
            except OSError:  # no /proc, or the zygote is gone: unknown, and nothing to say
                pass
        return missing

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        """Stop the zygote (which kills anything left), make sure nothing survives, remove the copies."""
        if self._closed:
            return
        self._closed = True
        for host in self._hosts.values():
            if host is not None:  # it ends when its socket closes; the zygote's exit kills it anyway
                self._end_serial(host)
                host.sock.close()
                os.close(host.out_fd)
        self._hosts.clear()
        if self._broken is None and self._spawning is not None:
            self._abandon_prepared()
        if self._broken is None:
            try:
                self._ctrl.settimeout(CLOSE_SECONDS)
                if self._reap_pending:
                    self._ctrl.recv()
                self._ctrl.send({"op": "exit"})
            except (OSError, ValueError):
                pass
        self._ctrl.close()
        if self._zygote_fd >= 0:
            os.close(self._zygote_fd)
            self._zygote_fd = -1
        if self.zygote_pid > 0 and system.wait_exit(self.zygote_pid, CLOSE_SECONDS) is None:
            self._kill_zygote()
        # anything orphaned and handed to us (the zygote was killed, or died) goes too, and what the
        # account left in the shared temporary folders when the zygote could not finish removing it
        system.kill_all_children(spare=self._children_before)
        if self._files_uid is not None:
            system.remove_files_of(self._files_uid)
            system.remove_ipc_objects(self._files_uid)  # the machine's: where the zygote had no namespace of its own
        if not self._was_subreaper:
            system.become_subreaper(False)
        files.remove_tree(str(self._parent))

    def _kill_zygote(self) -> None:
        if self.zygote_pid > 0:
            try:
                os.kill(self.zygote_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            system.wait_exit(self.zygote_pid, 60.0)
            self.zygote_pid = -1
        system.kill_all_children(spare=self._children_before)

    def _zygote_failed(self, what: str) -> None:
        """The zygote did not answer: stop it and everything it started; no further test can run."""
        ended = system.wait_exit(self.zygote_pid, 0.0) if self.zygote_pid > 0 else None
        if ended is not None:
            status = ended[0]
            if os.WIFSIGNALED(status):
                what = f"it was killed by {signal_name(os.WTERMSIG(status))}"
            else:
                what = f"it exited with status {os.WEXITSTATUS(status)}"
            self.zygote_pid = -1
        self._broken = (f"the sandbox process that starts your code stopped working ({what}), so this test "
                        "could not be run")
        self._kill_zygote()

    def _ask(self, message: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[int]]:
        """One request to the zygote and its reply, or (None, []) and a broken sandbox.

        With None, only the reply: that to the spawn `prepare` sent. A prepared
        spawn whose host nothing asked for is given up before another request.
        """
        if message is not None and self._spawning is not None:
            self._abandon_prepared()
            if self._broken is not None:
                return None, []
        try:
            self._ctrl.settimeout(ZYGOTE_REPLY_SECONDS)
            if message is not None:
                self._ctrl.send(message)
            if self._reap_pending:  # the reply to the previous reap comes first
                self._reap_pending = False
                if self._ctrl.recv() is None:
                    raise EOFError("it has ended")
            reply = self._ctrl.recv()
            fds = self._ctrl.take_fds()
        except TimeoutError:
            self._zygote_failed(f"no answer within {ZYGOTE_REPLY_SECONDS:g} s")
            return None, []
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._zygote_failed("it has ended")
            return None, []
        except (OSError, ValueError) as exc:
            self._zygote_failed(f"{type(exc).__name__}: {exc}")
            return None, []
        if reply is None:
            for fd in fds:
                os.close(fd)
            self._zygote_failed("it has ended")
            return None, []
        return reply, fds

    def prepare(self, target: tuple[str, str, str]) -> None:
        """Start the target's host now: it enters the sandbox and imports while the grader reads the
        fixtures, and the target's first run() finds it (nearly) ready. Call once `limits` are set."""
        if (not self.hosting or self._broken is not None or self._closed or self._reap_pending
                or self._spawning is not None or target in self._hosts):
            return
        message = {"op": "spawn", "spec": self._worker_spec(target, self.limits.call_timeout, host=True)}
        try:
            self._ctrl.settimeout(ZYGOTE_REPLY_SECONDS)
            self._ctrl.send(message)
        except OSError as exc:
            self._zygote_failed(f"{type(exc).__name__}: {exc}")
            return
        self._spawning, self._spawned_at = target, time.monotonic()

    def _abandon_prepared(self) -> None:
        """Give up the host `prepare` started (its channels closed, it exits; the zygote reaps it)."""
        self._spawning = None
        reply, fds = self._ask(None)
        for fd in fds:
            os.close(fd)
        if reply is not None and isinstance(reply.get("pid"), int):
            self._reap_later(reply["pid"])

    def _reap_later(self, pid: int) -> None:
        """Ask the zygote to reap a worker; its reply is read with the next request."""
        try:
            self._ctrl.settimeout(ZYGOTE_REPLY_SECONDS)
            self._ctrl.send({"op": "reap", "pid": pid, "grace": EXIT_GRACE_SECONDS})
            self._reap_pending = True
        except OSError as exc:
            self._zygote_failed(f"{type(exc).__name__}: {exc}")

    def _settle(self) -> dict[str, Any] | None:
        """The reply to the reap or sweep sent last ({} if none is due); None and a broken sandbox if it fails."""
        if not self._reap_pending:
            return {}
        self._reap_pending = False
        try:
            self._ctrl.settimeout(ZYGOTE_REPLY_SECONDS)
            reply = self._ctrl.recv()
        except TimeoutError:
            self._zygote_failed(f"no answer within {ZYGOTE_REPLY_SECONDS:g} s")
            return None
        except (OSError, ValueError) as exc:
            self._zygote_failed(f"{type(exc).__name__}: {exc}")
            return None
        if reply is None:
            self._zygote_failed("it has ended")
        return reply

    def _sweep(self) -> dict[str, Any] | None:
        """Clear what the last forked check left, before anything else runs; None if the zygote failed.

        When nothing below the host runs any more and the zygote has no child but
        the hosts (no orphan), nothing is left to kill: the grader (root, like
        the zygote) deletes the temporary files itself, saving a round trip.
        Otherwise the zygote kills and reaps.
        """
        host, self._sweep_due = self._sweep_due, None
        if host is None:
            return {}
        hosts = {h.pid for h in self._hosts.values() if h is not None}
        if not system.live_descendants(host) and not [c for c in system.children(self.zygote_pid) if c not in hosts]:
            if self._files_uid is not None:
                system.remove_files_of(self._files_uid, keep=self._kept)
            return {"host_alive": system.is_alive(host)}
        reply, _ = self._ask({"op": "sweep", "host": host, "grace": EXIT_GRACE_SECONDS})
        return reply

    def _drop_host(self, key: tuple[str, str, str]) -> None:
        """Stop a host that died or misbehaved; that target's checks then run in workers of their own."""
        host = self._hosts.get(key)
        self._hosts[key] = None
        if host is None:
            return
        self._end_serial(host)
        host.sock.close()
        os.close(host.out_fd)
        self._ask({"op": "reap", "pid": host.pid, "grace": 0.0})

    def _end_serial(self, host: _Host, *, off: bool = False) -> None:
        """Close the host's shared child's channels (it exits when its socket closes; a sweep sees to it)."""
        host.serial_off = host.serial_off or off
        if host.serial is None:
            return
        host.serial.close()
        os.close(host.serial_out)
        host.serial, host.serial_out = None, -1
        self._sweep_due = host.pid

    # -- one check ---------------------------------------------------------
    def _run_any(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                 key: tuple[str, str, str], started: float, fresh: bool = False) -> CallOutcome:
        """Through the target's host when it has one (started on its first check), else in a worker of its own."""
        if self._sweep_due is not None and self._sweep() is None:
            return CallOutcome("sandbox", detail=self._broken or "")
        if self.hosting and key not in self._hosts:
            self._hosts[key] = None
            first = self._run(steps, inputs, call_timeout, key, started, host=True)
            if first.kind != "hosted":
                return first  # the import failed (as it would in a worker of its own), or the budget is spent
            host = self._hosts.get(key)
            if host is not None:
                if self._ask({"op": "hosted", "pid": host.pid})[0] is None:
                    return CallOutcome("sandbox", detail=self._broken or "")
                if self._files_uid is not None:  # what the import left stays, as when each check imported
                    self._kept |= system.files_of(self._files_uid)
        host = self._hosts.get(key)
        if host is not None and (fresh or host.serial_off):
            self._end_serial(host, off=True)
        elif host is not None:
            shared = self._run_serial(host, steps, inputs, call_timeout, started)
            if shared is not None and shared.kind in ("ok", "sandbox"):
                return shared
            if shared is not None and shared.kind in ("timeout", "budget"):
                self._drop_host(key)  # the check (or the host) hung: as for a check in a child of its own
                return shared
            if shared is not None and (self._broken is not None or transport.ended(self._zygote_fd)
                                       or time.monotonic() - started >= self.budget_left):
                return shared  # nothing can run it again
            # anything but an answer is decided in a child that ran nothing else (swept first)
            if self._sweep_due is not None and self._sweep() is None:
                return CallOutcome("sandbox", detail=self._broken or "")
        if host is not None:
            outcome = self._run_hosted(host, steps, inputs, call_timeout, started)
            if outcome is not None and outcome.kind in ("timeout", "budget"):
                # it may be the host that hung (a check can stop it): later checks get workers of their own
                self._drop_host(key)
            if outcome is not None and outcome.kind not in ("crashed", "protocol"):
                return outcome
            if outcome is None:
                self._drop_host(key)
            if self._broken is not None or transport.ended(self._zygote_fd):
                return outcome or CallOutcome("sandbox", detail=self._broken or "")
            if time.monotonic() - started >= self.budget_left and outcome is not None:
                return outcome
            # a crash is run again in a worker of its own, whose end the zygote sees and describes
        return self._run(steps, inputs, call_timeout, key, started)

    def _run_serial(self, host: _Host, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
                    call_timeout: float, started: float) -> CallOutcome | None:
        """One check in the host's shared child (forked on first use); None when the host cannot fork it.

        Anything but an answer ends the shared child (at once for a hang) and
        turns sharing off for this host. An answer after which a process the
        check started still runs ends it too, so that what the check left is
        killed before the next check starts (in a new shared child).
        """
        settled = self._settle()  # a reply still due from the zygote
        if settled is None:
            return CallOutcome("sandbox", detail=self._broken or "")
        if not system.is_alive(host.pid):
            return None
        if host.serial is None:
            channels = self._fork_child(host, b"S")
            if channels is None:
                host.serial_off = True
                return None
            host.serial, host.serial_out = channels
        output = self._host_output(host)
        outcome = self._call(host.serial, host.serial_out, output, {"steps": steps}, inputs, call_timeout,
                             started + self.budget_left)
        transport.drain(host.serial_out, output, deadline=0.0)  # it flushed its output before it answered
        transport.drain(host.out_fd, output, deadline=0.0)
        if outcome.kind == "ok":
            outcome.shared = True
            if self._left_behind(host):  # killed before the next check, which gets a new shared child
                self._end_serial(host)
        else:
            if outcome.kind in ("timeout", "budget"):  # killed at once, with whatever it started
                self._ask({"op": "sweep", "host": host.pid, "grace": 0.0})
            self._end_serial(host, off=True)
        outcome.output = output.text().replace(os.path.join(host.workdir, "submission") + os.sep, "")
        return self._memory_words(outcome)

    @staticmethod
    def _fork_child(host: _Host, kind: bytes) -> tuple[socket.socket, int] | None:
        """Ask the host for a child (b"F": one check, b"S": the shared one) on new channels: the grader's
        ends (protocol socket, output pipe), or None when the host did not take them."""
        parent, child = socket.socketpair()
        out_read, out_write = os.pipe()
        try:
            system.set_pipe_size(out_read, zygote.OUTPUT_PIPE_BYTES)
            os.set_blocking(out_read, False)
            socket.send_fds(host.sock, [kind], [child.fileno(), out_write])
        except OSError:
            parent.close()
            os.close(out_read)
            return None
        finally:
            child.close()
            os.close(out_write)
        return parent, out_read

    def _left_behind(self, host: _Host) -> bool:
        """Whether a check left something running: a process below the host beside its shared child, an
        orphan, or a thread in the shared child (which could print into, or change, later checks)."""
        hosts = {h.pid for h in self._hosts.values() if h is not None}
        below = system.live_descendants(host.pid)
        return (len(below) != 1 or system.thread_count(below[0]) > 1
                or any(c not in hosts for c in system.children(self.zygote_pid)))

    def _host_output(self, host: _Host) -> OutputTail:
        """A check's output starts with what the host printed while importing (as when each check imported)."""
        output = OutputTail(self.limits.output_chars)
        output.add(bytes(host.preamble.head))
        output.add(bytes(host.preamble.tail))
        output.total += host.preamble.cut
        return output

    def _run_hosted(self, host: _Host, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
                    call_timeout: float, started: float) -> CallOutcome | None:
        """One check in a child the host forks; None when the host did not fork it (it is then dropped)."""
        settled = self._settle()  # a reply still due from the zygote
        if settled is None:
            return CallOutcome("sandbox", detail=self._broken or "")
        if not system.is_alive(host.pid):
            return None
        budget_end = started + self.budget_left
        output = self._host_output(host)
        channels = self._fork_child(host, b"F")
        if channels is None:
            return None
        parent, out_read = channels
        try:
            outcome = self._talk_hosted(parent, out_read, output, steps, inputs, call_timeout, budget_end)
            parent.close()
            if outcome.kind in ("ok", "error", "too_large"):
                transport.drain(out_read, output, deadline=0.0)  # it flushed its output before it answered
                self._sweep_due = host.pid  # swept before the next check starts (by then it has exited)
            else:  # a hung check is killed at once; one that hung up gets a moment to end by itself
                grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                self._ask({"op": "sweep", "host": host.pid, "grace": grace})
                transport.drain(out_read, output, deadline=time.monotonic() + DRAIN_SECONDS)
        finally:
            parent.close()
            os.close(out_read)
        transport.drain(host.out_fd, output, deadline=0.0)
        outcome.output = output.text().replace(os.path.join(host.workdir, "submission") + os.sep, "")
        return self._memory_words(outcome)

    def _talk_hosted(self, sock: socket.socket, out_fd: int, output: OutputTail, steps: list[dict[str, Any]],
                     inputs: dict[str, np.ndarray], call_timeout: float, budget_end: float) -> CallOutcome:
        # No reply from the host: if it dies before it forks, the descriptors it had not taken are
        # closed with it and this check reads the end of its socket ("crashed", run again elsewhere).
        # small inputs wait in the socket while the host forks
        return self._call(sock, out_fd, output, {"steps": steps}, inputs, call_timeout, budget_end)

    def _call(self, sock: socket.socket, out_fd: int, output: OutputTail, request: dict[str, Any] | None,
              inputs: dict[str, np.ndarray], call_timeout: float, budget_end: float,
              carry: bytearray | None = None) -> CallOutcome:
        """Send the request (None: it went out already) and read the result, within the call's deadline."""
        call_start = time.monotonic()
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
                                           carry=carry, watch=self._zygote_fd)
        if header is None:
            return self._failure(why, "call", deadline == budget_end, call_timeout_text(call_timeout))
        return _parse_result(header, arrays)

    def _worker_spec(self, key: tuple[str, str, str], call_timeout: float, host: bool) -> dict[str, Any]:
        limits = self.limits
        return dict(self._spec, import_root=key[0], module=key[1], class_name=key[2], host=host, limits={
            # a host's children inherit its CPU limit, and its shared child spends it on many checks
            "cpu_seconds": int(limits.import_timeout + (limits.budget if host else call_timeout)) + 2,
            "memory_mb": limits.memory_mb,
            "max_file_mb": limits.max_file_mb,
            "nproc": self._nproc_base + limits.max_processes if self._nproc_base >= 0 else 0,
        })

    def _run(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
             key: tuple[str, str, str], started: float, host: bool = False) -> CallOutcome:
        limits = self.limits
        import_from = None  # when the import started: now, unless `prepare` started the host earlier
        if host and self._spawning == key:
            self._spawning, import_from = None, self._spawned_at
            reply, fds = self._ask(None)
        else:
            reply, fds = self._ask({"op": "spawn", "spec": self._worker_spec(key, call_timeout, host)})
        if reply is None:
            return CallOutcome("sandbox", detail=self._broken or "")
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
                                 import_from=import_from)
            if outcome.kind == "hosted" and outcome.detail == "forkable":
                transport.drain(out_fd, output, deadline=0.0)
                self._hosts[key] = _Host(pid, sock, out_fd, output, str(reply.get("workdir")))
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
                    self._reap_later(pid)
                else:
                    # A worker that hung up gets a moment to end by itself (to learn how it ended);
                    # a hung one is killed at once. Then the rest of its output is read.
                    grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                    reaped, _ = self._ask({"op": "reap", "pid": pid, "grace": grace})
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
        elif outcome.kind == "crashed" and self._broken is not None and "sandbox process" not in outcome.detail:
            outcome.detail = ("the process running your code stopped, and so did the sandbox process that started it "
                              "(did your code stop it?)")
        return self._memory_words(outcome)

    def _talk(self, sock: socket.socket, out_fd: int, output: OutputTail, steps: list[dict[str, Any]],
              inputs: dict[str, np.ndarray], call_timeout: float, started: float, *, host: bool = False,
              import_from: float | None = None) -> CallOutcome:
        budget_end = started + self.budget_left
        request = {"steps": steps}
        early = not host and sum(a.nbytes for a in inputs.values()) <= EARLY_REQUEST_BYTES
        if early:  # small: it waits in the socket while the worker imports, which saves a round trip
            try:
                protocol.send(sock, request, inputs)
            except OSError:
                pass  # the worker is gone already; the import phase below says how
        # 1. the import
        carry = bytearray()
        deadline = min((import_from or time.monotonic()) + self.limits.import_timeout, budget_end)
        header, _, why = transport.receive(sock, out_fd, output, deadline, max_array_bytes=0, carry=carry,
                                  watch=self._zygote_fd)
        if header is None:
            return self._failure(why, "import", deadline == budget_end,
                                 IMPORT_TIMEOUT_TEXT.format(seconds=self.limits.import_timeout))
        if header.get("event") != "imported":
            return CallOutcome("protocol", phase="import",
                               detail="the process running your code sent an unexpected message during the import")
        if not header.get("ok"):
            return CallOutcome("import_error", phase="import", error=_error(header.get("error")))
        if host:  # imported; it now waits for checks to fork
            return CallOutcome("hosted", phase="import", detail="forkable" if header.get("forkable") is True else "")
        # 2. the call
        return self._call(sock, out_fd, output, None if early else request, inputs, call_timeout, budget_end,
                          carry=carry)
