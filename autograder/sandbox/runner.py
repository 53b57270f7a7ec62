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
import select
import selectors
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..limits import Limits
from ..text import clean
from . import files, protocol, system, worker, zygote
from .capture import OutputTail

MAX_RESULT_BYTES = 64 * 1024 * 1024  # largest array a worker may send back
ZYGOTE_REPLY_SECONDS = 10.0  # the zygote answers within this, or is declared broken
EXIT_GRACE_SECONDS = 0.1  # a worker that answered (or hung up) gets this long to end by itself
DRAIN_SECONDS = 0.2  # reading what is left in the output pipe once every writer is dead
DRAIN_MAX_BYTES = 8 * 1024 * 1024  # read from an output pipe in one drain, at most
CLOSE_SECONDS = 5.0  # the zygote's own clean-up at the end
EARLY_REQUEST_BYTES = 64 * 1024  # inputs up to this size are sent before the import is done
STAGE_MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files of a submission are not copied into the sandbox
STAGE_MAX_TOTAL_BYTES = 16 * 1024 * 1024
STAGE_IGNORED = {"__pycache__", ".git", "__MACOSX", ".ipynb_checkpoints", ".venv", "venv"}
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


@dataclass
class CallOutcome:
    """Everything the grader learns from one worker: data, never code."""

    # ok | error | import_error | import_timeout | timeout | crashed | protocol | too_large | budget | sandbox
    kind: str
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
    shared: bool = False  # answered by a host's shared child, after other checks (see Sandbox.run)


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


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def describe_status(status: int, limits: Limits | None = None) -> str:
    """A wait status in words, naming the likely limit."""
    if os.WIFSIGNALED(status):
        name = _signal_name(os.WTERMSIG(status))
        words = SIGNAL_WORDS.get(name, name).format(max_file_mb=limits.max_file_mb if limits else "?")
        return f"was killed by {words}"
    if os.WIFEXITED(status):
        return f"exited with status {os.WEXITSTATUS(status)} (os._exit() or exit() from C code?)"
    return f"ended with wait status {status}"


def stage_submission(source: Path, target: Path) -> list[str]:
    """Copy a submission for the sandbox: regular files and folders only, never following links.

    A symbolic link could otherwise make the grader (root) copy files the
    student must not read, such as the fixtures. Python files come first, so
    that when the submission is larger than STAGE_MAX_TOTAL_BYTES it is data
    that is left out. Returns what was left out, in words.
    """
    skipped: list[str] = []
    files: list[tuple[str, int]] = []  # (relative path, size)

    def walk(folder: Path, rel: str) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name in STAGE_IGNORED or entry.name.endswith(".pyc"):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(target / rel / entry.name, 0o700)
                walk(Path(entry.path), f"{rel}{entry.name}/")
            elif stat.S_ISREG(info.st_mode):
                files.append((f"{rel}{entry.name}", info.st_size))
            else:
                skipped.append(f"{rel}{entry.name} (a link or special file)")

    os.mkdir(target, 0o700)
    if source.is_dir():
        walk(source, "")
    total = 0
    for rel, size in sorted(files, key=lambda f: (not f[0].endswith(".py"), f[1], f[0])):
        if size > STAGE_MAX_FILE_BYTES or total + size > STAGE_MAX_TOTAL_BYTES:
            skipped.append(f"{rel} (too large: {size} bytes)")
            continue
        fd = os.open(source / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle, open(target / rel, "wb") as out:
            shutil.copyfileobj(handle, out)
        total += size
    return sorted(skipped)


class Sandbox:
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
        self.limits = limits
        self.account = system.sandbox_account()
        self.budget_left = limits.budget
        self._broken: str | None = None
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
        self._import_failures: dict[tuple[str, str, str], CallOutcome] = {}  # per (import_root, module, class)
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
        self._zygote_fd = _pidfd(self.zygote_pid)

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
        if not self._was_subreaper:
            system.become_subreaper(False)
        files.remove_tree(str(self._parent))

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
                what = f"it was killed by {_signal_name(os.WTERMSIG(status))}"
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
    def run(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], *, call_timeout: float,
            target: tuple[str, str, str] | None = None, fresh: bool = False) -> CallOutcome:
        """Run the steps on a fresh instance and return what came back, whatever happened.

        `target` is (import_root, module, class_name) when one sandbox grades
        several classes or files; by default, the one given at construction.
        An outcome marked `shared` came from the host's shared child: if the
        grader finds its answer wrong, it runs the check again with `fresh`,
        in a process that ran nothing else (and later checks too).
        Everything this takes, the zygote's work included, is charged to the budget.
        """
        key = target or (self._spec["import_root"], self._spec["module"], self._spec["class_name"])
        if key in self._import_failures:
            return self._import_failures[key]
        if self._broken is not None:
            return CallOutcome("sandbox", detail=self._broken)
        if self.budget_left <= 0:
            return CallOutcome("budget", detail=f"the time budget of {self.limits.budget:g} s for this submission "
                                                "was used up by earlier tests, so this test was not run")
        started = time.monotonic()
        try:
            outcome = self._run_any(steps, inputs, call_timeout, key, started, fresh)
        finally:
            self.budget_left -= time.monotonic() - started
        outcome.wall_seconds = time.monotonic() - started
        if outcome.kind in ("import_error", "import_timeout") or (outcome.kind == "crashed" and outcome.phase == "import"):
            if self.skipped and outcome.kind == "import_error" and outcome.error is not None:
                outcome.error["message"] += ("\n(Not copied into the sandbox: " + "; ".join(self.skipped[:5]) +
                                             (" ..." if len(self.skipped) > 5 else "") + ".)")
            self._import_failures[key] = outcome
        return outcome

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
            if shared is not None and (self._broken is not None or _ended(self._zygote_fd)
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
            if self._broken is not None or _ended(self._zygote_fd):
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
        _drain(host.serial_out, output, deadline=0.0)  # it flushed its output before it answered
        _drain(host.out_fd, output, deadline=0.0)
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
                _drain(out_read, output, deadline=0.0)  # it flushed its output before it answered
                self._sweep_due = host.pid  # swept before the next check starts (by then it has exited)
            else:  # a hung check is killed at once; one that hung up gets a moment to end by itself
                grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                self._ask({"op": "sweep", "host": host.pid, "grace": grace})
                _drain(out_read, output, deadline=time.monotonic() + DRAIN_SECONDS)
        finally:
            parent.close()
            os.close(out_read)
        _drain(host.out_fd, output, deadline=0.0)
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
            header, arrays, why = _receive(sock, out_fd, output, deadline, max_array_bytes=MAX_RESULT_BYTES,
                                           carry=carry, watch=self._zygote_fd)
        if header is None:
            return self._failure(why, "call", deadline == budget_end, _call_timeout_text(call_timeout))
        return _parse_result(header, arrays)

    def _memory_words(self, outcome: CallOutcome) -> CallOutcome:
        if outcome.kind == "error" and outcome.error and outcome.error.get("memory"):
            outcome.error["message"] = (f"{outcome.error['message']} (your code may use at most "
                                        f"{self.limits.memory_mb} MB of memory; an array of the expected size "
                                        "needs far less)").strip()
        return outcome

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
                _drain(out_fd, output, deadline=0.0)
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
                    _drain(out_fd, output, deadline=0.0)
                    self._reap_later(pid)
                else:
                    # A worker that hung up gets a moment to end by itself (to learn how it ended);
                    # a hung one is killed at once. Then the rest of its output is read.
                    grace = EXIT_GRACE_SECONDS if outcome.kind == "crashed" else 0.0
                    reaped, _ = self._ask({"op": "reap", "pid": pid, "grace": grace})
                    _drain(out_fd, output, deadline=time.monotonic() + DRAIN_SECONDS)
                os.close(out_fd)
        # paths in tracebacks and warnings read as the student's own, not the sandbox's
        outcome.output = output.text().replace(os.path.join(str(reply.get("workdir")), "submission") + os.sep, "")
        if reaped:
            outcome.max_rss_kb = int(reaped.get("max_rss_kb") or 0)
            if outcome.kind == "crashed":
                where = "while importing your file" if outcome.phase == "import" else "during the call"
                status = int(reaped["status"])
                if reaped.get("exited") and os.WIFEXITED(status) and os.WEXITSTATUS(status) == worker.FAILED:
                    outcome.detail = (f"the process running your code failed {where}, most likely because it could "
                                      "not send its answer back (did your code close or replace a file descriptor, "
                                      "or sys.stdout, that it had not opened?)")
                elif reaped.get("exited"):
                    outcome.detail = f"the process running your code ended {where}: it {describe_status(status, limits)}"
                else:
                    outcome.detail = ("your code closed the connection between its process and the grader (did it "
                                      "close a file descriptor it had not opened?) and kept running, so it was stopped")
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
        header, _, why = _receive(sock, out_fd, output, deadline, max_array_bytes=0, carry=carry,
                                  watch=self._zygote_fd)
        if header is None:
            return self._failure(why, "import", deadline == budget_end,
                                 f"importing your file took longer than {self.limits.import_timeout:g} s, so it was "
                                 "stopped (an endless loop or a long computation at the top level?)")
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

    def _failure(self, why: str, phase: str, budget_hit: bool, timeout_text: str) -> CallOutcome:
        if why == "timeout":
            if budget_hit:
                return CallOutcome("budget", phase=phase, detail=f"the time budget of {self.limits.budget:g} s for "
                                                                 "this submission ran out while this test was running")
            return CallOutcome("import_timeout" if phase == "import" else "timeout", phase=phase, detail=timeout_text)
        if why.startswith("protocol:"):
            return CallOutcome("protocol", phase=phase, detail="the reply from the process running your code was not "
                               "valid (" + why[len("protocol:"):] + "): your code may have written to a file "
                               "descriptor it had not opened")
        if why == "zygote":
            return CallOutcome("crashed", phase=phase, detail="the sandbox process that started the process running "
                                                              "your code stopped (did your code stop it?)")
        return CallOutcome("crashed", phase=phase, detail="the process running your code stopped")


def _call_timeout_text(call_timeout: float) -> str:
    return (f"the call did not return within its time limit of {call_timeout:.3g} s, so it was stopped (an endless "
            "loop, or far too slow?)")


def _text(value: Any, limit: int) -> str:
    """A string field of a worker's reply: any JSON value as text, cut to `limit`, unsafe characters replaced."""
    return clean(str(value)[:limit])


def _error(raw: Any) -> dict[str, Any]:
    """Keep only well-formed fields of an error description, as clean text (all of it is the student's)."""
    if not isinstance(raw, dict):
        return {"type": "Error", "message": "", "frames": [], "not_implemented": False, "memory": False}
    frames = []
    for frame in raw.get("frames") or []:
        if isinstance(frame, dict):
            frames.append({"file": _text(frame.get("file", "?"), 200),
                           "line": frame.get("line") if type(frame.get("line")) is int else None,
                           "function": _text(frame.get("function", "?"), 100),
                           "code": _text(frame.get("code", ""), 200)})
    return {"type": _text(raw.get("type", "Error"), 100), "message": _text(raw.get("message", ""), 2000),
            "frames": frames[:12], "not_implemented": raw.get("not_implemented") is True,
            "memory": raw.get("memory") is True}


def _returned(raw: dict[str, Any], array: np.ndarray | None) -> dict[str, Any]:
    """A clean description of the returned value; what the array itself says wins over the header."""
    shape = raw.get("shape")
    if isinstance(shape, list) and len(shape) <= protocol.MAX_DIMS and all(type(s) is int for s in shape):
        shape = list(shape)
    else:
        shape = None
    described: dict[str, Any] = {"kind": raw["kind"], "type": _text(raw.get("type", "?"), 100), "shape": shape}
    if raw["kind"] in ("ndarray", "scalar"):
        described.update(dtype=_text(raw.get("dtype", "?"), 50), dtype_name=_text(raw.get("dtype_name", "?"), 50),
                         sendable=raw.get("sendable") is True)
        if array is not None:
            described.update(dtype=array.dtype.str, dtype_name=array.dtype.name, shape=list(array.shape),
                             sendable=True)
    elif raw["kind"] == "other":
        described["repr"] = _text(raw.get("repr", ""), 200)
    return described


def _parse_result(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> CallOutcome:
    """A worker's result message as an outcome: every field checked, every string clean (it is all data)."""
    if header.get("event") != "result":
        return CallOutcome("protocol", phase="call", detail="the process running your code sent an unexpected message")
    notes = [_text(n, 300) for n in header.get("notes") or [] if isinstance(n, str)][:5]
    method = _text(header.get("method", ""), 50)
    if not header.get("ok"):
        phase = header.get("phase") if header.get("phase") in ("construct", "call") else "call"
        return CallOutcome("error", phase=phase, method=method, error=_error(header.get("error")), notes=notes)
    raw = header.get("returned")
    if not isinstance(raw, dict) or raw.get("kind") not in ("none", "ndarray", "scalar", "other"):
        return CallOutcome("protocol", phase="call", detail="the reply from the process running your code did not "
                                                            "describe a result")
    array = arrays.get("result")
    returned = _returned(raw, array)
    mutated = [_text(m, 50) for m in header.get("mutated") or [] if isinstance(m, str)][:10]
    seconds = header.get("seconds")
    if returned["kind"] == "ndarray" and array is None and type(raw.get("too_large")) is int:
        shape = tuple(returned["shape"] or ())
        return CallOutcome("too_large", phase="call", method=method, detail=(
            f"{method or 'the method'} returned an array of shape {shape} and dtype {returned['dtype_name']} "
            f"({raw['too_large'] / 2**20:.0f} MB): far larger than any expected answer, so it was not graded"))
    if returned["kind"] == "scalar" and (array is None or array.size != 1):
        return CallOutcome("protocol", phase="call", detail="the process running your code announced a number but "
                                                            "sent none")
    if returned["kind"] == "ndarray" and returned["sendable"] and array is None:
        return CallOutcome("protocol", phase="call", detail="the process running your code announced an array but "
                                                            "sent none")
    return CallOutcome("ok", phase="call", method=method, returned=returned, array=array, mutated=mutated,
                       seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0, notes=notes)


def _ended(pidfd: int) -> bool:
    """True when the process behind a pidfd has ended (False when there is no pidfd)."""
    if pidfd < 0:
        return False
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def _pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return -1


def _receive(sock: socket.socket, out_fd: int, output: OutputTail, deadline: float, *, max_array_bytes: int,
             carry: bytearray | None = None, watch: int = -1) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str]:
    """Read one message while draining output; (header, arrays, "") or (None, {}, why).

    `carry` holds bytes read past the previous message (a worker may send two
    messages back to back); it is consumed first and refilled with what comes
    after this one. `watch` is the zygote's pidfd: if it dies, waiting ends
    ("zygote").
    """
    carry = carry if carry is not None else bytearray()
    reader = protocol.Reader(max_array_bytes=max_array_bytes)
    if carry:
        data, carry[:] = bytes(carry), b""
        done = _feed(reader, data, carry)
        if done is not None:
            return done
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "proto")
    out_open = True
    try:
        selector.register(out_fd, selectors.EVENT_READ, "out")
    except (ValueError, OSError):
        out_open = False
    if watch >= 0:
        selector.register(watch, selectors.EVENT_READ, "zygote")
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, {}, "timeout"
            for key, _ in selector.select(remaining):
                if key.data == "zygote":
                    return None, {}, "zygote"
                if key.data == "out":
                    chunk = _read(out_fd)
                    if chunk:
                        output.add(chunk)
                    elif chunk == b"" and out_open:
                        selector.unregister(out_fd)
                        out_open = False
                    continue
                try:
                    chunk = sock.recv(1 << 20)
                except OSError:
                    chunk = b""
                if not chunk:
                    return None, {}, "eof"
                done = _feed(reader, chunk, carry)
                if done is not None:
                    return done
    finally:
        selector.close()


def _feed(reader: protocol.Reader, data: bytes,
          carry: bytearray) -> tuple[dict[str, Any] | None, dict[str, np.ndarray], str] | None:
    """Give the reader more bytes: the finished message (bytes past it go to `carry`), a protocol
    failure, or None while the message is still incomplete."""
    try:
        if not reader.feed(data):
            return None
    except protocol.ProtocolError as exc:
        return None, {}, f"protocol:{exc}"
    carry += reader.rest
    assert reader.header is not None
    return reader.header, reader.arrays, ""


def _read(fd: int) -> bytes | None:
    """Up to 1 MB from the (non-blocking) output pipe; b"" at its end, None when nothing is there now."""
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _drain(fd: int, output: OutputTail, *, deadline: float) -> None:
    """Collect what is in the output pipe, waiting for more until its end or the deadline.

    At most DRAIN_MAX_BYTES in one call: a process still writing (one a check
    left behind, or a host's hidden thread) cannot keep the grader reading.
    """
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    read = 0
    try:
        while read < DRAIN_MAX_BYTES:
            chunk = _read(fd)
            if chunk:
                output.add(chunk)
                read += len(chunk)
                continue
            if chunk == b"":
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return
    finally:
        selector.close()
