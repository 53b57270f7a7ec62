"""Simulated macOS, for the portable backend's tests (see tests/test_platforms.py).

Loaded at start-up through PYTHONPATH, in the grader and in every worker it
starts: no /proc, no prctl, no pidfd, and no os.waitid (macOS has it from
Python 3.13 only). The user is an ordinary one (uid 501), as on a laptop.
"""

import builtins
import ctypes
import os

for _name in ("waitid", "pidfd_open"):
    if hasattr(os, _name):
        delattr(os, _name)


def _proc(path):
    try:
        text = os.fsdecode(path) if not isinstance(path, int) else ""
    except TypeError:
        return False
    return text == "/proc" or text.startswith("/proc/")


class _hide:
    """`real` with /proc hidden. An object, not a function: Python 3.10's pathlib keeps os.stat as a class
    attribute of its accessor, where a function would be bound as a method."""

    def __init__(self, real, default=None, missing=None):
        self.real, self.missing = real, missing

    def __call__(self, path, *args, **kwargs):
        if _proc(path):
            if self.missing is not None:
                return self.missing
            raise FileNotFoundError(2, "No such file or directory (simulated macOS)", os.fsdecode(path))
        return self.real(path, *args, **kwargs)


builtins.open = _hide(builtins.open)
os.open = _hide(os.open)
os.listdir = _hide(os.listdir)
os.scandir = _hide(os.scandir)
os.stat = _hide(os.stat)
os.readlink = _hide(os.readlink)
os.path.exists = _hide(os.path.exists, missing=False)
os.path.isdir = _hide(os.path.isdir, missing=False)
os.geteuid = lambda: 501
os.getuid = lambda: 501


class _NoPrctl(ctypes.CDLL):
    """The C library without prctl, which is Linux's."""

    def __getattr__(self, name):
        if name == "prctl":
            raise AttributeError(name)
        return super().__getattr__(name)

    def __getitem__(self, name):
        if name == "prctl":
            raise AttributeError(name)
        return super().__getitem__(name)


ctypes.CDLL = _NoPrctl
