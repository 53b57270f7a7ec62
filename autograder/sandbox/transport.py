"""Transport of the hardened backend: read one protocol message from a socket while draining a worker's output.

Every wait has a deadline; sizes are capped before anything is read (see protocol.Reader).
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import time
from typing import Any

import numpy as np

from . import protocol
from .capture import OutputTail

DRAIN_MAX_BYTES = 8 * 1024 * 1024  # read from an output pipe in one drain, at most


def ended(pidfd: int) -> bool:
    """True when the process behind a pidfd has ended (False when there is no pidfd)."""
    if pidfd < 0:
        return False
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def pidfd_of(pid: int) -> int:
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return -1


def receive(sock: socket.socket, out_fd: int, output: OutputTail, deadline: float, *, max_array_bytes: int,
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
        done = feed(reader, data, carry)
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
                    chunk = read_available(out_fd)
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
                done = feed(reader, chunk, carry)
                if done is not None:
                    return done
    finally:
        selector.close()


def feed(reader: protocol.Reader, data: bytes,
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


def read_available(fd: int) -> bytes | None:
    """Up to 1 MB from the (non-blocking) output pipe; b"" at its end, None when nothing is there now."""
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def drain(fd: int, output: OutputTail, *, deadline: float) -> None:
    """Collect what is in the output pipe, waiting for more until its end or the deadline.

    At most DRAIN_MAX_BYTES in one call: a process still writing (one a check
    left behind, or a host's hidden thread) cannot keep the grader reading.
    """
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    read = 0
    try:
        while read < DRAIN_MAX_BYTES:
            chunk = read_available(fd)
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
