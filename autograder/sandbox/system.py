"""Operating-system mechanics of the sandbox: accounts, limits, descriptors, waiting, process clean-up.

Linux gets every defence; other POSIX systems (a student's Mac) get what
they support: separate process, the limits that exist there, process-group
kill. Nothing here runs student code.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import stat
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from . import files

# Not on Windows: this module is imported there too (by the worker the portable backend starts), and its
# functions that need them are used by the hardened backend only, which needs them to be available.
try:
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]
try:
    import pwd
    import resource
except ImportError:
    pwd = resource = None  # type: ignore[assignment]

SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "autograder-sandbox")

# World-writable folders where student code could leave files behind (to fill a
# disk or memory-backed tmpfs, or to pass data from one test to a later one).
SHARED_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_PR_SET_NO_NEW_PRIVS = 38
_F_SETPIPE_SZ = 1031

_libc: Any = None


@dataclass(frozen=True)
class Account:
    """The unprivileged account student code runs as."""

    name: str
    uid: int
    gid: int
    dedicated: bool = True  # ours alone: its temporary files may be deleted after each check
    note: str = ""  # for the staff, when it is not the account it should be (see sandbox_account)


_HAS_PROC = os.path.exists("/proc/self")
_prctl_ints: Any = None  # prctl with its argument types declared, for calls with integers only


def _prctl(option: int, *args: Any) -> int | None:
    """prctl(2) on Linux; None where it does not exist."""
    global _libc, _prctl_ints
    if not _HAS_PROC:
        return None
    try:
        if _libc is None:  # the running program's own symbols: no library search (which can start ldconfig)
            _libc = ctypes.CDLL(None, use_errno=True)
        if all(isinstance(a, int) for a in args):  # the common case, made cheap: a forked check calls it first thing
            if _prctl_ints is None:
                _prctl_ints = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, *[ctypes.c_ulong] * 4,
                                               use_errno=True)(("prctl", _libc))
            return int(_prctl_ints(option, *args, *[0] * (4 - len(args))))
        values = [ctypes.c_ulong(a) if isinstance(a, int) else a for a in args]
        values += [ctypes.c_ulong(0)] * (4 - len(values))
        return int(_libc.prctl(ctypes.c_int(option), *values))
    except (OSError, AttributeError):
        return None


def become_subreaper(enable: bool = True) -> bool:
    """Orphaned descendants (double forks, setsid) become our children, so we can kill them."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, int(enable)) == 0


def is_subreaper() -> bool:
    value = ctypes.c_int(0)
    if _prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value)) != 0:
        return False
    return bool(value.value)


def die_with_parent(sig: int | None = None) -> bool:
    """Ask the kernel to send `sig` (SIGKILL by default) to this process when its parent dies (Linux)."""
    return _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL if sig is None else sig) == 0


def no_new_privileges() -> bool:
    """Setuid programs can no longer raise this process's privileges."""
    return _prctl(_PR_SET_NO_NEW_PRIVS, 1) == 0


# Where useradd lives: root's PATH may lack the sbin folders (cron, `env -i`, some images).
ADMIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
SPARE_UIDS = range(61000, 62000)  # where a uid with no account is looked for when none can be made


def sandbox_account(create: bool = True) -> Account | None:
    """The account to drop to when running as root; None when not root.

    Uses (and if needed creates) a dedicated system account, so that its
    process limit and files are its own. When it cannot be made (no useradd,
    a read-only /etc), student code runs as a uid that no account and no
    process uses, which isolates it just as well; the `note` says so. Never
    raises: grading as root always has an account to drop to.
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        entry = _create_account(SANDBOX_USER) if create else None
    if entry is not None and entry.pw_uid != 0:
        return Account(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)
    uid = next((u for u in SPARE_UIDS if _unused_id(u)), 65534)
    return Account(name=f"uid {uid}", uid=uid, gid=uid, dedicated=uid != 65534, note=(
        f"the account {SANDBOX_USER} could not be made (useradd missing or failing), so student code ran as uid {uid}, "
        "which no account uses; run setup.sh, or create the account, to silence this"))


def _create_account(name: str) -> Any:
    """Make a system account with useradd; its passwd entry, or None when that failed."""
    import shutil
    import subprocess  # only here: creating the account is rare, and subprocess is slow to import

    useradd = shutil.which("useradd", path=ADMIN_PATH)
    if useradd is None:
        return None
    try:
        subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=30)
        return pwd.getpwnam(name)
    except (OSError, subprocess.SubprocessError, KeyError):
        return None


def _unused_id(uid: int) -> bool:
    """No account, no group and no process has this id."""
    try:
        pwd.getpwuid(uid)
        return False
    except KeyError:
        pass
    try:
        import grp

        grp.getgrgid(uid)
        return False
    except (KeyError, ImportError):
        pass
    return tasks_of(uid) == 0


_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_IPC_RMID = 0
# System V IPC in the sandbox's own namespace: shared memory is not bounded by RLIMIT_AS, so the
# namespace's own limits bound it (and message queues); everything in it ends with its last process.
IPC_LIMITS = {"shmmax": 16 << 20, "shmall": (16 << 20) // 4096, "shmmni": 64, "msgmni": 16}


def isolate() -> list[str]:
    """Give this process, and every process it starts, a network and an IPC namespace of their own.

    A new network namespace has no interface but a loopback that is down: no
    connection leaves it, and none comes in. A new IPC namespace keeps System
    V shared memory, semaphores and message queues away from the machine's,
    within IPC_LIMITS, and they vanish with the namespace's last process.
    Needs root (CAP_SYS_ADMIN); some containers refuse it. Returns what could
    not be isolated, in words (empty when all is done).
    """
    missing = []
    for flag, what in ((_CLONE_NEWNET, "network"), (_CLONE_NEWIPC, "System V IPC")):
        if _unshare(flag) != 0:
            missing.append(what)
        elif flag == _CLONE_NEWIPC:
            for name, value in IPC_LIMITS.items():
                try:
                    with open(f"/proc/sys/kernel/{name}", "w") as handle:
                        handle.write(str(value))
                except OSError:
                    pass
    return missing


def _unshare(flags: int) -> int:
    global _libc
    if not _HAS_PROC:
        return -1
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return int(_libc.unshare(ctypes.c_int(flags)))
    except (OSError, AttributeError):
        return -1


IPC_UID_COLUMNS = {"shm": 7, "msg": 7, "sem": 4}  # where /proc/sysvipc/KIND gives an object's owner


def ipc_objects(owner: int | None = None) -> set[tuple[str, int]]:
    """(kind, id) of the System V IPC objects in this process's IPC namespace (only `owner`'s, when given)."""
    found = set()
    for kind, uid_column in IPC_UID_COLUMNS.items():
        try:
            with open(f"/proc/sysvipc/{kind}", "rb") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            try:
                fields = row.split()
                if owner is None or int(fields[uid_column]) == owner:
                    found.add((kind, int(fields[1])))
            except (ValueError, IndexError):
                continue
    return found


def remove_ipc_objects(owner: int, keep: set[tuple[str, int]] | frozenset = frozenset()) -> int:
    """Remove `owner`'s System V IPC objects in this process's IPC namespace, but `keep`; returns how many.

    Shared memory still attached goes when its last process detaches or dies.
    """
    global _libc
    removed = 0
    for kind, ident in ipc_objects(owner) - set(keep):
        try:
            if _libc is None:
                _libc = ctypes.CDLL(None, use_errno=True)
            if kind == "sem":
                removed += _libc.semctl(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_int(_IPC_RMID)) == 0
            else:
                call = _libc.shmctl if kind == "shm" else _libc.msgctl
                removed += call(ctypes.c_int(ident), ctypes.c_int(_IPC_RMID), ctypes.c_void_p(None)) == 0
        except (OSError, AttributeError):
            continue
    return removed


def drop_privileges(uid: int, gid: int) -> None:
    """Become the sandbox account for good (groups, gid, then uid)."""
    os.setgroups([])
    if hasattr(os, "setresuid"):  # real, effective and saved ids: no way back
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            raise RuntimeError("could not drop privileges")
    else:  # macOS: setuid as root sets all three
        os.setgid(gid)
        os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("could not drop privileges")


def address_space_bytes() -> int:
    """This process's current virtual size (0 when unknown)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tasks_of(uid: int) -> int:
    """Threads of all processes owned by `uid` (what RLIMIT_NPROC counts), read from /proc; -1 without /proc."""
    count = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return -1
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat_line = handle.read()
            count += int(stat_line[stat_line.rfind(b")") + 2:].split()[17])
        except (OSError, ValueError, IndexError):
            continue
    return count


def apply_limits(limits: dict[str, Any]) -> None:
    """Limits on CPU time, memory, file size and processes, applied in the worker before student code runs.

    - CPU: the soft limit sends SIGXCPU (named in the message), the hard one a second later SIGKILL.
    - memory: ``memory_mb`` of address space on top of what the worker already maps when it
      starts (Python and NumPy, ~150 MB), so the allowance does not depend on the machine.
    - processes: RLIMIT_NPROC counts every process and thread of the account; ``nproc`` is the
      absolute value to set (the caller adds what the account already runs when it is shared).
    """
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        current_soft, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass

    cpu = int(limits["cpu_seconds"])
    cap(resource.RLIMIT_CPU, cpu, cpu + 1)
    if hasattr(resource, "RLIMIT_AS") and limits.get("memory_mb"):
        cap(resource.RLIMIT_AS, address_space_bytes() + int(limits["memory_mb"]) * 1024 * 1024)
    cap(resource.RLIMIT_FSIZE, int(limits["max_file_mb"]) * 1024 * 1024)
    cap(resource.RLIMIT_CORE, 0)
    if hasattr(resource, "RLIMIT_NPROC") and limits.get("nproc"):
        cap(resource.RLIMIT_NPROC, int(limits["nproc"]))


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


def set_pipe_size(fd: int, size: int) -> None:
    """Make a pipe's buffer larger (Linux), so a chatty worker needs fewer reads; best effort."""
    if fcntl is None:
        return
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except (OSError, ValueError):
        pass


def children(pid: int) -> list[int]:
    """Direct children of a process: /proc/PID/task/*/children when the kernel has it, else a /proc scan."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found.extend(int(c) for c in handle.read().split())
        return found
    except (OSError, ValueError):
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat_line = handle.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = stat_line[stat_line.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(name))
    return found


_children = children  # older name, kept for callers outside this package


def wait_ended(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a child to end, without reaping it (its pid stays reserved).

    Blocks on a pidfd where the kernel has them (no polling latency);
    elsewhere polls with a short, growing sleep.
    """
    if pid <= 0:
        raise ValueError(f"wait_ended needs one process, not {pid}")
    deadline = time.monotonic() + timeout
    pidfd = -1
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1
    try:
        pause = 0.0002
        while True:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if info is not None:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pidfd >= 0:
                try:
                    select.select([pidfd], [], [], remaining)
                except InterruptedError:
                    pass
            else:
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 0.01)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def wait_exit(pid: int, timeout: float) -> tuple[int, Any] | None:
    """Wait up to `timeout` seconds for a child to end and reap it: (wait status, rusage), or None."""
    if not wait_ended(pid, timeout):
        return None
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return 0, None
    return status, usage


def kill_process_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all_children(*, spare: Iterable[int] = ()) -> int:
    """Kill and reap every child of this process (a subreaper: orphans included) until none is left.

    Returns how many were killed. Grandchildren whose parent dies here are
    handed to us by the kernel and caught on the next round.
    """
    me = os.getpid()
    spared = set(spare)
    killed = 0
    for _ in range(10000):
        found = [c for c in children(me) if c not in spared]
        if not found:
            break
        for child in found:
            try:
                os.kill(child, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        for child in found:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass
    return killed


_PF_EXITING = 0x4  # task flag set when a thread starts to exit: it runs no user code any more


def _task_ended(path: str) -> bool:
    """True when a task (/proc/PID/task/TID) is gone, a zombie, or exiting."""
    try:
        with open(f"{path}/stat", "rb") as handle:
            line = handle.read()
    except OSError:
        return True
    fields = line[line.rfind(b")") + 2:].split()
    try:
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & _PF_EXITING)
    except (IndexError, ValueError):
        return True


def thread_count(pid: int) -> int:
    """Threads of a process (its tasks in /proc, ended ones included); 0 when it is gone or there is no /proc."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def has_ended(pid: int) -> bool:
    """True when no thread of a process can run user code any more (gone, zombie, or exiting).

    Every thread is looked at: a main thread that exited leaves a zombie-looking
    leader while its other threads run on.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return all(_task_ended(f"/proc/{pid}/task/{tid}") for tid in tasks)


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, found through /proc (zombies and exiting ones included)."""
    found: list[int] = []
    todo = children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children(child))
    return found


def live_descendants(pid: int) -> list[int]:
    """The processes below `pid` that can still run user code (see has_ended)."""
    return [p for p in descendants(pid) if not has_ended(p)]


def is_alive(pid: int) -> bool:
    """True while a process runs (a zombie has ended)."""
    if os.path.exists("/proc/self"):
        return not has_ended(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _top_entries_of(uid: int, folders: Iterable[str]) -> Iterator[tuple[os.DirEntry, os.stat_result]]:
    """What `uid` owns at the top of each folder (links not followed), with its stat."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                yield entry, info


def files_of(uid: int, folders: Iterable[str] = SHARED_TMP_DIRS) -> set[tuple[str, int]]:
    """(path, inode) of what `uid` has at the top of world-writable folders."""
    return {(entry.path, info.st_ino) for entry, info in _top_entries_of(uid, folders)}


def remove_files_of(uid: int, folders: Iterable[str] = SHARED_TMP_DIRS,
                    keep: set[tuple[str, int]] | frozenset = frozenset()) -> list[str]:
    """Delete what `uid` left at the top of world-writable folders, but `keep`; returns the paths removed.

    Called when every process of that account is dead, or, between the checks
    of a host, when only the host lives. Nothing here follows a link (see
    files.remove_tree: a name swapped after it was listed is left alone), so a
    process racing the deletion cannot point it elsewhere.
    """
    removed = []
    for entry, info in _top_entries_of(uid, folders):
        if (entry.path, info.st_ino) in keep:
            continue
        if files.remove_tree(entry.path, owner=uid, inode=info.st_ino):
            removed.append(entry.path)
    return removed
