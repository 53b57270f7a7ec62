"""Which sandbox backend grades: chosen from what the system can do, never from its name.

``hardened`` needs Linux's mechanisms (fork, descriptor passing, /proc,
prctl, waitid, resource limits, accounts); ``portable`` needs CPython 3.10+
only. `--sandbox` or the AUTOGRADER_SANDBOX environment variable force one.
As root, grading never falls back silently: it is hardened, or it refuses.
"""

from __future__ import annotations

import importlib
import os
import socket
from pathlib import Path

from ..errors import AutograderError
from ..limits import Limits
from .base import SandboxBase

BACKENDS = ("hardened", "portable")
ENV_VAR = "AUTOGRADER_SANDBOX"


def hardened_missing() -> list[str]:
    """What the hardened backend needs that this system lacks, in words; empty when it can run here."""
    missing = [f"os.{name}" for name in ("fork", "waitid", "setsid", "killpg") if not hasattr(os, name)]
    if not hasattr(socket, "send_fds"):
        missing.append("socket.send_fds")
    for module in ("resource", "pwd", "fcntl"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f"the {module} module")
    if not os.path.exists("/proc/self/stat"):
        missing.append("/proc")
    if not _has_prctl():
        missing.append("prctl")
    return missing


def _has_prctl() -> bool:
    try:
        import ctypes

        return hasattr(ctypes.CDLL(None), "prctl")
    except (OSError, ImportError, AttributeError, TypeError):
        return False


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def choose(requested: str | None = None) -> str:
    """The backend's name: `requested` (or AUTOGRADER_SANDBOX) when given, else what this system can run."""
    source = "--sandbox"
    if not requested:
        requested, source = os.environ.get(ENV_VAR) or None, ENV_VAR
    if requested not in (None, *BACKENDS):
        raise AutograderError(f"{source}: unknown sandbox '{requested}' (choose {' or '.join(BACKENDS)})")
    if requested == "portable":
        return "portable"
    missing = hardened_missing()
    if requested == "hardened" and missing:
        raise AutograderError(f"{source}: the hardened sandbox cannot run on this system (it lacks "
                              f"{', '.join(missing)}); on a laptop, use --sandbox portable")
    if not missing:
        return "hardened"
    if _as_root():
        raise AutograderError(f"grading as root needs the hardened sandbox, which cannot run on this system (it lacks "
                              f"{', '.join(missing)}): student code is not run as root without it. Grade as a normal "
                              "user, or force the portable sandbox with --sandbox portable")
    return "portable"


def open_sandbox(stage_from: Path, import_root: str, module: str, class_name: str, limits: Limits, *,
                 grader_root: Path | None = None, backend: str | None = None) -> SandboxBase:
    """Start the chosen backend's sandbox for one submission (see choose)."""
    if choose(backend) == "hardened":
        from .runner import Sandbox as backend_class
    else:
        from .portable import PortableSandbox as backend_class  # type: ignore[assignment]
    return backend_class(stage_from, import_root, module, class_name, limits, grader_root=grader_root)
