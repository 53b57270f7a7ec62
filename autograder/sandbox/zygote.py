"""The zygote: a small trusted process, forked from the grader before any fixture is read.

It keeps NumPy imported, and for each check forks a fresh worker, hands the
grader that worker's two channels (protocol socket, output pipe), and on
request kills and reaps it together with anything it left behind. Because
it was forked before fixtures were loaded, no worker's memory holds an
expected answer; because workers are forked, not started, a check costs
milliseconds, not a Python start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import time
from typing import Any, NoReturn

from . import system, worker

# Modules a worker may need after it has lost the right to read the Python
# installation (a root-only interpreter, as on some servers): import them now.
PRELOAD = ("numpy", "numpy.linalg", "numpy.random", "numpy.fft", "math", "cmath", "itertools", "functools",
           "collections", "copy", "typing", "dataclasses", "abc", "enum", "operator", "warnings", "time",
           "random", "statistics", "traceback", "linecache", "tokenize", "reprlib", "json", "importlib.util",
           "importlib.machinery", "pprint", "numbers", "decimal", "fractions", "string", "re", "contextlib",
           "textwrap", "inspect", "pickle", "struct", "array", "heapq", "bisect", "io", "os.path", "pathlib",
           "signal", "threading", "gc", "weakref", "unittest", "unittest.mock", "multiprocessing", "subprocess")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module is fine
            pass


def send_json(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode() + b"\n"
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def recv_json(sock: socket.socket, *, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One newline-terminated JSON message (the zygote channel carries one at a time)."""
    chunks, fds = [], []
    while True:
        if max_fds:
            data, new_fds, _flags, _addr = socket.recv_fds(sock, 65536, max_fds)
            fds.extend(new_fds)
        else:
            data = sock.recv(65536)
        if not data:
            return None, fds
        chunks.append(data)
        if data.endswith(b"\n"):
            return json.loads(b"".join(chunks)), fds


def serve(ctrl: socket.socket) -> NoReturn:
    """The zygote's loop; runs in the forked child until the grader says exit or goes away."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        system.close_fds_except({0, 1, 2, ctrl.fileno()})
        system.become_subreaper()
        _preload()
        workers: dict[int, str] = {}
        while True:
            message, _ = recv_json(ctrl)
            if message is None or message["op"] == "exit":
                break
            if message["op"] == "spawn":
                pid, fds, workdir = _spawn(ctrl, message)
                workers[pid] = workdir
                send_json(ctrl, {"pid": pid, "workdir": workdir}, fds)
                for fd in fds:
                    os.close(fd)
            elif message["op"] == "reap":
                pid = message["pid"]
                result = _reap(pid, float(message.get("grace", 0.0)))
                if pid in workers:
                    shutil.rmtree(workers.pop(pid), ignore_errors=True)
                send_json(ctrl, result)
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        system.kill_all_children()
        os._exit(code)


def _spawn(ctrl: socket.socket, message: dict[str, Any]) -> tuple[int, list[int], str]:
    spec = message["spec"]
    workdir = tempfile.mkdtemp(prefix="autograder-run-", dir=spec.get("tmp_root"))
    shutil.copytree(spec["stage"], os.path.join(workdir, "submission"), symlinks=False)
    if spec.get("uid") is not None:
        system.chown_tree(workdir, spec["uid"], spec["gid"])
    spec = dict(spec, workdir=workdir)
    parent_sock, child_sock = socket.socketpair()
    out_read, out_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        parent_sock.close()
        os.close(out_read)
        ctrl.close()
        worker.main(child_sock, out_write, spec)
    child_sock.close()
    os.close(out_write)
    fd = parent_sock.detach()
    return pid, [fd, out_read], workdir


def _reap(pid: int, grace: float) -> dict[str, Any]:
    """Wait up to `grace` seconds for the worker to end, then kill it and everything it started."""
    deadline = time.monotonic() + grace
    status, usage = None, None
    while True:
        try:
            done, status_raw, usage_raw = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            done, status_raw, usage_raw = pid, 0, None
        if done:
            status, usage = status_raw, usage_raw
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    system.kill_process_group(pid)
    if status is None:
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            status = 0
    system.kill_all_children()
    return {
        "status": status,
        "max_rss_kb": getattr(usage, "ru_maxrss", 0) if usage else 0,
        "cpu_seconds": (usage.ru_utime + usage.ru_stime) if usage else 0.0,
    }


def start() -> tuple[int, socket.socket]:
    """Fork the zygote; returns its pid and the grader's end of the control socket."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        serve(theirs)
    theirs.close()
    return pid, ours
