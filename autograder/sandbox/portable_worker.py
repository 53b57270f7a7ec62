"""The portable backend's worker: a Python process started with subprocess, on any operating system.

Requests come on its standard input and results go out on a copy of its
standard output, in the protocol of protocol.py; what the student's code
prints (fd 1 and 2) goes to its standard error's pipe, where the grader
reads it. After each answer it writes the marker it was given to that pipe,
so that the grader can tell one check's output from the next. It answers
requests one after another until its input closes, for any class of its
module (each request names its class); worker.run_steps answers each, as in
the hardened backend. Nothing here is trusted by the grader.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

from . import protocol, system, worker


class Pipes:
    """The two protocol pipes, with the socket methods protocol.send and protocol.read_message use."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(self.write_fd, view):]

    def recv(self, size: int) -> bytes:
        return os.read(self.read_fd, size)


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    marker = spec["marker"].encode()
    channel = Pipes(os.dup(0), os.dup(1))
    out_fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    _limit(spec["limits"])
    target = os.path.join(spec["workdir"], "submission")
    tempfile.tempdir = spec["workdir"]
    for name in ("TMPDIR", "TEMP", "TMP"):
        os.environ[name] = spec["workdir"]
    os.chdir(target)
    sys.dont_write_bytecode = True
    grader_root = os.path.normcase(os.path.abspath(spec["grader_root"]))
    sys.path[:] = [os.path.normpath(os.path.join(target, spec["import_root"]))] + [
        p for p in sys.path if p and p != "." and not os.path.normcase(os.path.abspath(p)).startswith(grader_root)]
    worker.list_grader_modules()  # the grader's own package must not shadow the submission's (see worker)
    worker._HIDDEN.extend(sys.modules.pop(name) for name in worker.GRADER_MODULES if name in sys.modules)
    module, seconds = worker._import_module(channel, target, spec)  # type: ignore[arg-type]
    if module is None:
        return
    protocol.send(channel, {"event": "imported", "ok": True, "seconds": seconds})  # type: ignore[arg-type]
    os.write(out_fd, marker)
    while True:
        try:
            header, arrays = protocol.read_message(channel, max_array_bytes=1 << 30)  # type: ignore[arg-type]
        except (protocol.ProtocolError, OSError):  # the grader is done with this worker
            return
        cls, failure = worker._class_of(module, str(header.get("class_name")), target)
        if cls is None:
            response, out_arrays = failure, {}
        else:
            response, out_arrays = worker.run_steps(cls, header["steps"], arrays, target,
                                                    max_result_bytes=int(spec["max_result_bytes"]),
                                                    classes=worker.classes_of(module, target))
        worker._flush()
        os.write(out_fd, marker)  # before the answer: once the grader has it, the marker is in the pipe
        protocol.send(channel, response, out_arrays)  # type: ignore[arg-type]


def _limit(limits: dict[str, Any]) -> None:
    """The limits this system has: CPU time and file size where `resource` exists, memory where the
    address space can be measured (Linux: elsewhere, as on macOS, a Python maps far more than it uses)."""
    if system.resource is None:
        return
    wanted = dict(limits, nproc=0)
    if not os.path.exists("/proc/self/statm"):
        wanted.pop("memory_mb", None)
    try:
        system.apply_limits(wanted)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    try:
        main()
    finally:
        worker._flush()
    sys.exit(0)
