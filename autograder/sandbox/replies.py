"""A worker's result message as an outcome: every field checked, every string clean (all of it is data).

Used by every backend: what a worker sends back reads the same whichever started it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..text import clean
from . import protocol
from .outcome import CallOutcome


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
            described.update(dtype=array.dtype.str, dtype_name=protocol.dtype_name(array.dtype),
                             shape=list(array.shape), sendable=True)
    elif raw["kind"] == "other":
        described["repr"] = _text(raw.get("repr", ""), 200)
    return described


def import_failure(header: dict[str, Any]) -> CallOutcome:
    """A failed import message as an outcome: of the module, or (`missing_class`) of the class only."""
    return CallOutcome("import_error", phase="import", error=_error(header.get("error")),
                       class_missing=header.get("missing_class") is True)


def _parse_result(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> CallOutcome:
    """A worker's result message as an outcome: every field checked, every string clean (it is all data)."""
    if header.get("event") == "imported" and header.get("ok") is False:  # a host's module lacks the class
        return import_failure(header)
    if header.get("event") != "result":
        return CallOutcome("protocol", phase="call", detail="the process running your code sent an unexpected message")
    if header.get("ok") and "batch" in header:
        return _parse_batch(header["batch"], arrays)
    notes = [_text(n, 300) for n in header.get("notes") or [] if isinstance(n, str)][:5]
    method = _text(header.get("method", ""), 50)
    if not header.get("ok"):
        phase = header.get("phase") if header.get("phase") in ("construct", "call") else "call"
        return CallOutcome("error", phase=phase, method=method, error=_error(header.get("error")), notes=notes,
                           described=_described(header.get("described")))
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
                       seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0, notes=notes,
                       described=_described(header.get("described")))


MAX_BATCH = 64  # graded values one answer may hold


def _parse_batch(items: Any, arrays: dict[str, np.ndarray]) -> CallOutcome:
    """The answer to checks run together: an "ok" outcome whose `items` are each check's own outcome, all
    "ok"; anything else in it is a malformed reply."""
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH or not all(isinstance(i, dict) for i in items):
        return CallOutcome("protocol", phase="call", detail="the reply from the process running your code did not "
                                                            "describe its results")
    names = {f"result.{i}" for i in range(len(items))}
    if not set(arrays) <= names:
        return CallOutcome("protocol", phase="call", detail="the process running your code sent arrays it was not "
                                                            "asked for")
    outcomes = []
    for i, item in enumerate(items):
        one = {name: array for name, array in arrays.items() if name == f"result.{i}"}
        answer = {key: value for key, value in item.items() if key != "batch"}  # no batch within a batch
        outcome = _parse_result({**answer, "event": "result", "ok": True, "notes": []},
                                {"result": one[f"result.{i}"]} if one else {})
        if outcome.kind != "ok":
            return outcome
        outcomes.append(outcome)
    return CallOutcome("ok", phase="call", method=outcomes[-1].method, items=outcomes,
                       seconds=sum(o.seconds for o in outcomes))


def _shape(value: Any) -> list[int] | None:
    if isinstance(value, list) and len(value) <= protocol.MAX_DIMS and all(type(n) is int and n >= 0 for n in value):
        return list(value)
    return None


def _described(raw: Any) -> dict[str, Any] | None:
    """What a worker said a list attribute holds (worker.describe_elements), checked field by field: its
    length, and per element a class name (clean text) and array shapes; None when it said nothing usable."""
    if not isinstance(raw, dict):
        return None
    if "error" in raw:
        return {"error": _text(raw["error"], 100)}
    items, length = raw.get("items"), raw.get("length")
    if not isinstance(items, list) or type(length) is not int or not len(items) <= min(length, 64):
        return None
    clean_items = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("class"), str):
            return None
        shapes = {_text(k, 50): _shape(v) for k, v in item.items() if k != "class" and isinstance(k, str)}
        if any(shape is None for shape in shapes.values()):
            return None
        clean_items.append({"class": _text(item["class"], 100), **shapes})
    return {"length": length, "items": clean_items}
