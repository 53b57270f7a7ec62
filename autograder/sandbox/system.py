"""Operating-system mechanics of the sandbox: accounts, limits, descriptors, process clean-up.

Linux gets every defence; other POSIX systems (a student's Mac) get what
they support: separate process, limits that exist there, process-group kill.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import resource
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "autograder-sandbox")

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38


@dataclass(frozen=True)
class Account:
    """The unprivileged account student code runs as."""

    name: str
    uid: int
    gid: int


def _prctl(option: int, value: int) -> bool:
    if not os.path.exists("/proc/self"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Orphaned descendants (double forks, setsid) become our children, so we can kill them."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def no_new_privileges() -> bool:
    """Setuid programs can no longer raise this process's privileges."""
    return _prctl(_PR_SET_NO_NEW_PRIVS, 1)


def sandbox_account(create: bool = True) -> Account | None:
    """The account to drop to when running as root; None when not root.

    Uses (and if needed creates) a dedicated system account, so that its
    process limit and files are its own; falls back to ``nobody``.
    """
    if os.geteuid() != 0:
        return None
    for name in (SANDBOX_USER, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            if name == SANDBOX_USER and create:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
            else:
                continue
        if entry.pw_uid != 0:
            return Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    raise RuntimeError("no unprivileged account to run student code as (tried "
                       f"{SANDBOX_USER} and nobody); create one or run as a normal user")


def drop_privileges(uid: int, gid: int) -> None:
    """Become the sandbox account for good (groups, gid, then uid)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("could not drop privileges")


def chown_tree(path: str, uid: int, gid: int) -> None:
    """Give a folder and everything in it to the sandbox account."""
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def apply_limits(limits: dict[str, Any], *, sandboxed_account: bool) -> None:
    """Hard limits on CPU time, memory, file size and (for the sandbox account) processes."""
    def cap(which: int, value: int) -> None:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value <= hard:
                resource.setrlimit(which, (value, hard))

    cap(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    if hasattr(resource, "RLIMIT_AS"):
        cap(resource.RLIMIT_AS, int(limits["memory_mb"]) * 1024 * 1024)
    cap(resource.RLIMIT_FSIZE, int(limits["max_file_mb"]) * 1024 * 1024)
    cap(resource.RLIMIT_CORE, 0)
    if sandboxed_account and hasattr(resource, "RLIMIT_NPROC"):
        cap(resource.RLIMIT_NPROC, int(limits["max_processes"]))


def close_fds_except(keep: set[int]) -> None:
    """Close every inherited descriptor but the ones named."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _children(pid: int) -> list[int]:
    """Direct children of a process, read from /proc."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(name))
    return found


def kill_process_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_children(*, spare: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """Kill and reap every child of this process (a subreaper: orphans included) until none is left."""
    me = os.getpid()
    for _ in range(1000):
        children = [c for c in _children(me) if c not in spare]
        if not children:
            return
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for child in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass
