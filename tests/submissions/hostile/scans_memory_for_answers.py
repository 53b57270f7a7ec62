# Cheat: searches its own heap and stack for an array that could be the expected
# answer, and its raw memory for the bytes of expected values the test names in
# NEEDLES (hex of float64 values no worker should ever hold). Prints FOUND on success.
import gc
import re
import sys

import numpy as np

NEEDLES = []  # filled in by the test


def _pattern():
    # built from hex text so the needle bytes themselves never sit in this process's memory
    alternatives = [b"".join(b"[\\x" + text[i:i + 2].encode() + b"]" for i in range(0, len(text), 2)) for text in NEEDLES]
    return re.compile(b"|".join(alternatives)) if alternatives else None


def _scan_raw_memory():
    pattern = _pattern()
    if pattern is None:
        return
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if not fields[1].startswith("rw") or end - start > 256 << 20:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, OverflowError, ValueError):
                continue
            if pattern.search(data):
                print("FOUND expected bytes in", fields[-1] if len(fields) > 5 else "anonymous memory")


def _candidates(given):
    seen = [obj for obj in gc.get_objects() if isinstance(obj, np.ndarray)]
    frame = sys._getframe()
    while frame is not None:
        seen.extend(v for v in frame.f_locals.values() if isinstance(v, np.ndarray))
        for value in frame.f_locals.values():
            if isinstance(value, dict):
                seen.extend(v for v in value.values() if isinstance(v, np.ndarray))
        frame = frame.f_back
    return [a for a in seen if a.shape == given.shape and a is not given and not np.array_equal(a, given)]


class Softmax:
    def forward(self, Z):
        if Z.shape == (1, 3):
            _scan_raw_memory()
        for array in _candidates(Z):
            if np.allclose(array.sum(axis=1), 1.0) and (array > 0).all():
                print("FOUND a candidate forward answer")
                return array.copy()
        return np.zeros_like(Z)

    def backward(self, dLdA):
        if dLdA.shape == (1, 3):
            _scan_raw_memory()
        for array in _candidates(dLdA):
            if np.allclose(array.sum(axis=1), 0.0) and not np.allclose(array, 0.0):
                print("FOUND a candidate backward answer")
                return array.copy()
        return np.zeros_like(dLdA)
