"""The wire format between grader and worker: a JSON header, then raw array bytes.

Nothing here can run code: headers are JSON, arrays are bytes with a dtype
from a fixed whitelist and a shape in the header. The reading side enforces
size caps before it reads, so a worker that sends garbage or floods the
socket costs a failed test, never a grader crash or a huge allocation.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import numpy as np

MAGIC = b"AGW1"
_LEN = struct.Struct(">I")
MAX_HEADER_BYTES = 256 * 1024

# Most dimensions an array may have: NumPy 2's limit (NumPy 1.26 stops at 32), so any array a
# worker can make can travel and be described, however wrong its shape.
MAX_DIMS = 64

_WIRE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "float32", "float64", "complex64", "complex128")
# dtypes an array may travel as, in either byte order (the reading side makes them native);
# anything else is described, not sent.
WIRE_DTYPES = {
    dtype.str: dtype
    for name in _WIRE_NAMES
    for dtype in (np.dtype(name).newbyteorder("<"), np.dtype(name).newbyteorder(">"))
}


class ProtocolError(Exception):
    """The other side sent something that is not a valid message."""


_NAMES = {dtype: dtype.name for dtype in WIRE_DTYPES.values()}  # NumPy works a dtype's name out anew each time


def dtype_name(dtype: np.dtype) -> str:
    """A dtype's name ("float64"), looked up for the dtypes that travel."""
    return _NAMES.get(dtype) or dtype.name


def describe_array(array: np.ndarray, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Header entry for an array; ``nbytes`` is 0 when it cannot travel (dtype, or over `max_bytes`)."""
    dtype = array.dtype
    sendable = dtype.str in WIRE_DTYPES and dtype.fields is None
    too_large = sendable and max_bytes is not None and array.nbytes > max_bytes
    meta = {
        "dtype": dtype.str if sendable else str(dtype),
        "dtype_name": dtype_name(dtype),
        "shape": [int(s) for s in array.shape],
        "nbytes": int(array.nbytes) if sendable and not too_large else 0,
        "sendable": sendable and not too_large,
    }
    if too_large:
        meta["too_large"] = int(array.nbytes)
    return meta


def _parts(header: dict[str, Any], arrays: dict[str, np.ndarray] | None) -> list[Any]:
    arrays = arrays or {}
    header = dict(header)
    header["arrays"] = {name: describe_array(a) for name, a in arrays.items()}
    body = json.dumps(header, allow_nan=True).encode("utf-8")
    parts: list[Any] = [MAGIC + _LEN.pack(len(body)) + body]
    for name, array in arrays.items():
        if header["arrays"][name]["sendable"]:
            # the array's own buffer, not a copy: a large result must not double the worker's memory
            parts.append(memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8)))
    return parts


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """Encode one message. Arrays are listed in header['arrays'] in the order sent."""
    return b"".join(bytes(part) for part in _parts(header, arrays))


JOINED_BYTES = 1 << 20  # a message up to this size is sent in one piece (one wake-up of its reader)


def send(sock: socket.socket, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    """Send one message: in one piece when small (a piece per array would wake the reader once each), else
    array by array from their own buffers."""
    parts = _parts(header, arrays)
    if len(parts) > 1 and sum(len(part) for part in parts) <= JOINED_BYTES:
        parts = [b"".join(parts)]
    for part in parts:
        sock.sendall(part)


class Reader:
    """Incremental parser for one message, fed with whatever bytes arrive.

    ``max_array_bytes`` caps the arrays (all of them together); the header
    is capped at MAX_HEADER_BYTES, and anything malformed raises
    ProtocolError before a byte of it is stored. ``feed`` returns True once
    the message is complete; bytes after it are kept in ``rest``.
    """

    def __init__(self, *, max_array_bytes: int) -> None:
        self.max_array_bytes = max_array_bytes  # for all arrays of the message together
        self.announced = 0
        self.rest = bytearray()  # bytes that came after the message
        self.buffer = bytearray()
        self.header: dict[str, Any] | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self.done = False

    def feed(self, data: bytes) -> bool:
        if self.done:
            self.rest += data
            return True
        self.buffer += data
        if self.header is None:
            if len(self.buffer) < len(MAGIC) + _LEN.size:
                return False
            if bytes(self.buffer[:4]) != MAGIC:
                raise ProtocolError("the message does not start with the protocol marker")
            (size,) = _LEN.unpack(self.buffer[4:8])
            if size > MAX_HEADER_BYTES:
                raise ProtocolError(f"header of {size} bytes is over the {MAX_HEADER_BYTES}-byte limit")
            if len(self.buffer) < 8 + size:
                return False
            self.header = self._parse_header(bytes(self.buffer[8:8 + size]))
            del self.buffer[:8 + size]
        while self._pending:
            name, meta = self._pending[0]
            if len(self.buffer) < meta["nbytes"]:
                return False
            dtype = WIRE_DTYPES[meta["dtype"]]
            flat = np.frombuffer(self.buffer, dtype=dtype, count=meta["nbytes"] // dtype.itemsize)
            # a copy in native byte order: the same values, whichever order they travelled in
            self.arrays[name] = flat.reshape(meta["shape"]).astype(dtype.newbyteorder("="), copy=True)
            del flat
            del self.buffer[:meta["nbytes"]]
            self._pending.pop(0)
        self.rest, self.buffer = self.buffer, bytearray()  # the start of the next message, if any
        self.done = True
        return True

    def _parse_header(self, raw: bytes) -> dict[str, Any]:
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
            raise ProtocolError(f"header is not valid JSON ({type(exc).__name__})") from None
        if not isinstance(header, dict):
            raise ProtocolError("header is not a JSON object")
        arrays = header.get("arrays", {})
        if not isinstance(arrays, dict):
            raise ProtocolError("header 'arrays' is not an object")
        for name, meta in arrays.items():
            if _is_sendable(meta):
                self._pending.append((name, self._check_meta(name, meta)))
        return header

    def _check_meta(self, name: str, meta: Any) -> dict[str, Any]:
        try:
            dtype = WIRE_DTYPES[meta["dtype"]]
            shape = [int(s) for s in meta["shape"]]
            nbytes = int(meta["nbytes"])
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"array '{name}' has a malformed description") from None
        if any(s < 0 for s in shape) or len(shape) > MAX_DIMS:
            raise ProtocolError(f"array '{name}' has an impossible shape {shape}")
        count = 1
        for s in shape:
            count *= s
        if nbytes != count * dtype.itemsize:
            raise ProtocolError(f"array '{name}' claims {nbytes} bytes for shape {shape} of {dtype}")
        self.announced += nbytes
        if self.announced > self.max_array_bytes:
            raise ProtocolError(f"array '{name}' of {nbytes} bytes brings the message over the "
                                f"{self.max_array_bytes}-byte limit")
        return {"dtype": meta["dtype"], "shape": shape, "nbytes": nbytes}


def _is_sendable(meta: Any) -> bool:
    if not isinstance(meta, dict):
        raise ProtocolError("array description is not an object")
    return meta.get("sendable") is True


def read_message(sock: socket.socket, *, max_array_bytes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Blocking read of one whole message (used by the worker, which trusts the grader)."""
    reader = Reader(max_array_bytes=max_array_bytes)
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ProtocolError("connection closed before the message was complete")
        if reader.feed(chunk):
            assert reader.header is not None
            return reader.header, reader.arrays
