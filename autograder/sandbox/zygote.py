"""The zygote: a small trusted process, forked from the grader before any fixture is read.

It keeps NumPy imported, and for each check forks a fresh worker, hands the
grader that worker's two channels (protocol socket, output pipe), and on
request kills and reaps it together with anything it left behind. Because
it was forked before fixtures were loaded, no worker's memory holds an
expected answer; because workers are forked, not started, a check costs
milliseconds, not a Python start-up.

The zygote only ever talks to the grader (its control socket is closed in
every worker) and answers one request at a time: ``spawn``, ``reap``,
``exit``. If the grader goes away, it kills everything and exits.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import re
import signal
import socket
import time
from typing import Any, NoReturn

from . import files, system, worker

# Modules a worker may need after it has lost the right to read the Python
# installation (a root-only interpreter, as on some servers): import them now.
# Loading them once here also spares every worker the cost.
PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "numpy.fft", "math", "cmath", "itertools", "functools",
           "collections", "copy", "typing", "dataclasses", "abc", "enum", "operator", "warnings", "time",
           "random", "statistics", "traceback", "linecache", "tokenize", "reprlib", "json", "importlib.util",
           "importlib.machinery", "pprint", "numbers", "decimal", "fractions", "string", "re", "contextlib",
           "textwrap", "inspect", "pickle", "struct", "array", "heapq", "bisect", "io", "os.path", "pathlib",
           "signal", "threading", "gc", "weakref", "unittest", "unittest.mock", "multiprocessing", "subprocess",
           "glob", "fnmatch", "shutil", "tempfile", "ctypes", "stat", "errno", "hashlib", "base64", "csv", "datetime",
           "platform", "socket", "select", "queue", "logging")

# Always loaded: what a worker's own code may need after the privilege drop (tracebacks, messages).
# The others are loaded only when the last part of their name (mock for unittest.mock) is a word in
# the submission's Python files, as it must be for the submission to import them (unittest.mock alone
# costs more than 10 ms).
PRELOAD_ALWAYS = frozenset({"numpy", "numpy.linalg", "math", "traceback", "linecache", "tokenize", "reprlib",
                            "json", "io", "os.path", "warnings", "signal", "gc", "weakref", "stat", "errno",
                            "socket", "select", "struct", "collections", "functools", "itertools", "operator",
                            "abc", "enum", "re", "typing", "contextlib", "copy", "time"})
PRELOAD_SCAN_BYTES = 4 * 1024 * 1024  # of Python files read to decide (a staged submission holds at most 16 MB)
OUTPUT_PIPE_BYTES = 1 << 20  # a chatty worker fills this before it has to wait for the grader
MAX_MESSAGE_BYTES = 1 << 20  # control messages are small JSON lines


def wanted(stage: str | None) -> list[str]:
    """The PRELOAD modules a submission may import: PRELOAD_ALWAYS, and those whose last name it contains.

    Without a staged folder (or when it cannot be read), all of them.
    """
    if stage is None:
        return list(PRELOAD)
    words: set[str] = set()
    budget = PRELOAD_SCAN_BYTES
    try:
        for folder, dirs, files in os.walk(stage):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py") and budget > 0:
                    with open(os.path.join(folder, name), "rb") as handle:
                        text = handle.read(budget)
                    budget -= len(text)
                    words.update(_WORD.findall(text))
    except OSError:
        return list(PRELOAD)
    if budget <= 0:
        return list(PRELOAD)
    return [m for m in PRELOAD if m in PRELOAD_ALWAYS or m.rpartition(".")[2].encode() in words]


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def _preload(names: list[str]) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module is fine
            pass


class Channel:
    """Newline-delimited JSON messages over a stream socket, with descriptors passed alongside.

    Requests and replies may arrive back to back in one read (the grader
    sends a ``spawn`` before reading the previous ``reap`` reply), so the
    channel keeps what it has read beyond the current message.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()
        self._fds: list[int] = []

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)

    def recv(self) -> dict[str, Any] | None:
        """The next message; None when the other side has gone away or sent nonsense.

        Honours the socket's timeout (raises TimeoutError, an OSError).
        """
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                return None
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 8)
            self._fds.extend(fds)
            if not data:
                return None
            self._buffer += data
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return json.loads(line)

    def take_fds(self) -> list[int]:
        """Descriptors received so far (they come with the reply that carries them)."""
        fds, self._fds = self._fds, []
        return fds

    def close(self) -> None:
        for fd in self.take_fds():
            os.close(fd)
        self.sock.close()

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)


def serve(ctrl: Channel, account_uid: int | None, stage: str | None = None, *, isolate: bool = False,
          remove: str | None = None) -> NoReturn:
    """The zygote's loop; runs in the forked child until the grader says exit or goes away.

    With `isolate` (as root), the zygote first takes a network and an IPC
    namespace of its own, which every worker inherits (see system.isolate).
    On its way out it kills every worker, deletes the account's temporary
    files and then `remove` (the run's copies): while the grader writes the
    results, which then wait for none of it. The grader does all of it again
    after the zygote has ended; what is gone by then costs little.
    """
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if isolate:
            system.isolate()  # what it could not do, the grader sees in /proc (Sandbox.not_isolated)
        system.close_fds_except({0, 1, 2, ctrl.sock.fileno()})
        system.become_subreaper()
        _preload(wanted(stage))
        worker.list_grader_modules()
        # Objects that exist now are never collected in a worker: a worker's garbage
        # collection then leaves the shared pages alone, which keeps fork and exit cheap.
        # (No full collection first: it costs about 5 ms, on the critical path on one CPU,
        # to free the little cyclic garbage the grader's imports leave.)
        gc.freeze()
        workers: dict[int, str] = {}
        hosts: set[int] = set()  # workers that fork the checks of a submission (see worker._host)
        kept: set[tuple[str, int]] = set()  # the account's temporary files made while a host imported
        kept_ipc: set[tuple[str, int]] = set()  # ... and its System V IPC objects (in its own namespace or not)
        before: dict[int, tuple[set[tuple[str, int]], set[tuple[str, int]]]] = {}  # ... what was there at its spawn
        folders = _Folders()
        while True:
            message = ctrl.recv()
            if message is None or message.get("op") == "exit":
                break
            if message["op"] == "spawn":
                try:
                    try:
                        pid, fds, workdir = _spawn(ctrl, message, folders)
                    except OSError as exc:
                        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not folders.trash:
                            raise
                        # the folders of workers that ended (emptied after a spawn, off the critical path) may
                        # be what fills the disk: those of a host dropped after its import filled it, say
                        folders.empty_trash()
                        pid, fds, workdir = _spawn(ctrl, message, folders)
                except OSError as exc:
                    ctrl.send({"error": f"{type(exc).__name__}: {exc}"})
                    continue
                workers[pid] = workdir
                if message["spec"].get("host"):  # spared by other workers' clean-up while it imports (hosts
                    hosts.add(pid)  # start together): the grader reaps it if it does not become one
                    if account_uid is not None and message["spec"].get("after_checks"):  # what a check made
                        before[pid] = system.files_of(account_uid), system.ipc_objects(account_uid)  # never stays
                ctrl.send({"pid": pid, "workdir": workdir}, fds)
                for fd in fds:
                    os.close(fd)
                # while the new worker runs: the next test's folder (a host forks its tests: none
                # is needed unless it fails), and away with the last one's
                if not message["spec"].get("host"):
                    folders.prepare()
                folders.empty_trash()
            elif message["op"] == "reap":
                pid = message["pid"]
                hosts.discard(pid)
                before.pop(pid, None)
                result = _reap(pid, float(message.get("grace", 0.0)), spare=hosts)
                if pid in workers:
                    folders.discard(workers.pop(pid))
                if account_uid is not None:
                    result["removed"] = len(system.remove_files_of(account_uid, keep=kept))
                    system.remove_ipc_objects(account_uid, keep=kept_ipc)
                ctrl.send(result)
            elif message["op"] == "hosted" and message.get("pid") in workers:
                hosts.add(message["pid"])
                if account_uid is not None:  # what the import left stays for every check, as when each imported
                    files_then, ipc_then = before.pop(message["pid"], (set(), set()))
                    kept |= system.files_of(account_uid) - files_then
                    kept_ipc |= system.ipc_objects(account_uid) - ipc_then
                ctrl.send({"ok": True})
            elif message["op"] == "sweep":
                host = message["host"]
                result = _sweep(host, float(message.get("grace", 0.0)), spare=hosts)
                if account_uid is not None:
                    result["removed"] = len(system.remove_files_of(account_uid, keep=kept))
                    system.remove_ipc_objects(account_uid, keep=kept_ipc)
                ctrl.send(result)
    except BaseException:  # noqa: BLE001 - whatever happened, clean up below
        code = 1
    finally:
        system.kill_all_children()
        if account_uid is not None:
            system.remove_files_of(account_uid)
            system.remove_ipc_objects(account_uid)
        if remove is not None:
            files.remove_tree(remove)
        os._exit(code)


class _Folders:
    """Each worker's fresh folder holding a copy of the submission.

    The next one is made while the current worker runs, and the last one is
    removed then too: no worker can reach a folder but its own, since a
    folder's name is random (os.urandom), their parent cannot be listed by the
    account, and a folder is root's alone until its worker starts.
    """

    def __init__(self) -> None:
        self.spec: dict[str, Any] | None = None
        self.ready: tuple[tuple[Any, ...], str] | None = None
        self.trash: list[str] = []

    @staticmethod
    def _key(spec: dict[str, Any]) -> tuple[Any, ...]:
        return spec["stage"], spec.get("uid"), spec.get("gid"), spec.get("tmp_root")

    def _make(self, spec: dict[str, Any]) -> str:
        # root's alone (0700) while it is filled: the account gets it only in take(), see files.py
        workdir = files.private_folder(spec["tmp_root"], "run-")
        try:
            files.copy_tree(spec["stage"], os.path.join(workdir, "submission"), spec.get("uid"), spec.get("gid"))
        except OSError:
            files.remove_tree(workdir)
            raise
        return workdir

    def take(self, spec: dict[str, Any]) -> str:
        """A filled folder for the worker about to start, handed over to the account."""
        self.spec = spec
        ready, self.ready = self.ready, None
        workdir = None
        if ready is not None:
            if ready[0] == self._key(spec):
                workdir = ready[1]
            else:
                self.trash.append(ready[1])
        workdir = workdir or self._make(spec)
        try:
            files.hand_over(workdir, spec.get("uid"), spec.get("gid"))
        except OSError:
            self.trash.append(workdir)
            raise
        return workdir

    def prepare(self) -> None:
        if self.spec is not None and self.ready is None:
            try:
                self.ready = (self._key(self.spec), self._make(self.spec))
            except OSError:
                pass

    def discard(self, workdir: str) -> None:
        self.trash.append(workdir)

    def empty_trash(self) -> None:
        while self.trash:
            files.remove_tree(self.trash.pop())


def _spawn(ctrl: Channel, message: dict[str, Any], folders: _Folders) -> tuple[int, list[int], str]:
    workdir = folders.take(message["spec"])
    spec = dict(message["spec"], workdir=workdir)
    parent_sock, child_sock = socket.socketpair()
    out_read, out_write = os.pipe()
    system.set_pipe_size(out_read, OUTPUT_PIPE_BYTES)
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            parent_sock.close()
            os.close(out_read)
            ctrl.close()
            worker.main(child_sock, out_write, spec)
        finally:
            os._exit(worker.FAILED)
    child_sock.close()
    os.close(out_write)
    fd = parent_sock.detach()
    return pid, [fd, out_read], workdir


def _sweep(host: int, grace: float, *, spare: set[int]) -> dict[str, Any]:
    """After a check forked by a host: wait up to `grace` for its processes to end, then kill them all.

    Everything below the host but the host itself goes, and every orphan handed
    to the zygote (a subreaper) but the hosts; the check's own child is reaped
    by the host, its zombie is left to it.
    """
    deadline = time.monotonic() + grace
    pause = 0.0001
    while system.live_descendants(host) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.005)
    killed = 0
    for _ in range(10000):
        found = system.descendants(host)
        live = [pid for pid in found if not system.has_ended(pid)]
        if not live:
            break
        for pid in found:  # zombies too: a zombie leader may have threads that still run
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.0001)
    killed += system.kill_all_children(spare=spare)
    return {"killed": killed, "host_alive": system.is_alive(host)}


def _reap(pid: int, grace: float, *, spare: set[int] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """Wait up to `grace` seconds for the worker to end, then kill it and everything it started."""
    exited = system.wait_ended(pid, grace)
    # Not reaped yet, so its pid (its process group's id) cannot have been reused by now.
    system.kill_process_group(pid)
    if not exited:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status, usage = system.wait_exit(pid, 60.0) or (0, None)
    system.kill_all_children(spare=spare)
    return {
        "status": status,
        "exited": exited,  # False: it was still running when the grace ran out, and we killed it
        "max_rss_kb": getattr(usage, "ru_maxrss", 0) if usage else 0,
        "cpu_seconds": (usage.ru_utime + usage.ru_stime) if usage else 0.0,
    }


def start(account_uid: int | None = None, stage: str | None = None, *, isolate: bool = False,
          remove: str | None = None) -> tuple[int, Channel]:
    """Fork the zygote; returns its pid and the grader's end of the control channel.

    `stage` is the staged submission, read to choose the modules to preload (see wanted);
    `isolate` gives it and its workers their own network and IPC namespaces (see serve);
    `remove` is a folder of the grader's the zygote deletes once it has killed every worker (see serve).
    """
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            serve(Channel(theirs), account_uid, stage, isolate=isolate, remove=remove)
        finally:
            os._exit(1)
    theirs.close()
    return pid, Channel(ours)
