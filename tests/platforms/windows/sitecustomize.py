"""Simulated Windows, for the portable backend's tests (see tests/test_platforms.py).

Loaded at start-up through PYTHONPATH, in the grader and in every worker it
starts: what CPython has on Linux but not on Windows is taken away (fork,
sessions, waitid, descriptor passing, the POSIX-only modules, user ids).
Process groups (killpg) stay, so that a worker's tree can still be ended
here: on Windows, `taskkill /T` does that.
"""

import os
import socket
import sys

for _name in ("fork", "forkpty", "register_at_fork", "setsid", "waitid", "pidfd_open", "geteuid", "getuid",
              "getegid", "getgid", "setuid", "setgid", "setgroups", "getpwnam"):
    if hasattr(os, _name):
        delattr(os, _name)
for _name in ("send_fds", "recv_fds"):
    if hasattr(socket, _name):
        delattr(socket, _name)
for _module in ("resource", "fcntl", "pwd", "grp", "termios"):
    sys.modules[_module] = None  # type: ignore[assignment]  # `import resource` raises ImportError
