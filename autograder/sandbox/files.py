"""Files the sandbox makes, hands over and deletes, done so that root never follows a path student code can change.

Three rules, each closing a way for code running as the sandbox account to
make root write, read or delete where it chooses:

- Names come from ``os.urandom`` (never from a random generator whose state
  a forked worker shares with the process that makes the next name).
- A worker's folder is filled while it is root's alone (mode 0700): the
  account gets it, in one ``chown`` of the top folder, only when the worker
  that uses it is started. Nothing of the account's can be in its way.
- Deleting goes through directory descriptors opened with ``O_NOFOLLOW``,
  one level at a time and without recursion: a link is removed, never
  followed, and no depth of folders can exhaust the stack or the descriptors.
  Nothing here raises: clean-up must not cost a submission its results.
"""

from __future__ import annotations

import errno
import os
import stat

_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
MAX_OPEN_LEVELS = 256  # deeper folders are moved up next to the top one, so descriptors stay few
MAX_REMOVE_STEPS = 1_000_000  # entries looked at in one removal, at most (against a writer that never stops)


def random_name(prefix: str) -> str:
    """A name nobody can predict: 128 bits from the operating system."""
    return prefix + os.urandom(16).hex()


def private_folder(parent: str, prefix: str, mode: int = 0o700) -> str:
    """Make a new folder with an unpredictable name in `parent`, owned by us with `mode`; returns its path."""
    for _ in range(100):
        path = os.path.join(parent, random_name(prefix))
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, mode)
        return path
    raise FileExistsError(errno.EEXIST, "no free name for a private folder", parent)


def copy_tree(src: str, dst: str, uid: int | None, gid: int | None) -> None:
    """Copy a folder of regular files (links and special files are skipped), owned by uid:gid when given.

    `dst` must lie in a folder that only root can enter (see `private_folder`):
    then nothing can stand in the way of what is made here, by path.
    """
    os.mkdir(dst, 0o755)
    if uid is not None:
        os.chown(dst, uid, gid)
    for entry in os.scandir(src):
        if entry.is_symlink():
            continue
        target = os.path.join(dst, entry.name)
        if entry.is_dir():
            copy_tree(entry.path, target, uid, gid)
        elif entry.is_file():
            with open(entry.path, "rb") as source:
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
                try:
                    if uid is not None:
                        os.fchown(out, uid, gid)
                    while chunk := source.read(1 << 20):
                        os.write(out, chunk)
                finally:
                    os.close(out)


def hand_over(folder: str, uid: int | None, gid: int | None) -> None:
    """Give a folder made by `private_folder` to the account (its content already is): the one step that
    lets the account in, taken when the worker that uses it starts."""
    if uid is not None:
        fd = os.open(folder, _O_DIR)
        try:
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)


def remove_tree(path: str, *, owner: int | None = None, inode: int | None = None) -> bool:
    """Delete `path` and everything below it; True when it is gone. Never follows a link, never raises.

    A link (or any file) at `path` is unlinked. With `owner` and `inode`, a
    folder is emptied only if it is still the one that was listed (same inode,
    same owner): a name swapped in the meantime is left alone.
    """
    try:
        return _remove_tree(path, owner, inode)
    except Exception:  # noqa: BLE001 - clean-up is best effort and must not fail grading
        return False


def _remove_tree(path: str, owner: int | None, inode: int | None) -> bool:
    try:
        top = os.open(path, _O_DIR)
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link or a file: remove the name itself
            try:
                info = os.lstat(path)
                if (owner is None or info.st_uid == owner) and (inode is None or info.st_ino == inode):
                    os.unlink(path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                return False
        return False
    try:
        info = os.fstat(top)
        if (owner is not None and info.st_uid != owner) or (inode is not None and info.st_ino != inode):
            return False
        _empty(top)
    finally:
        os.close(top)
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _empty(top: int) -> None:
    """Delete everything in the open folder `top`, one level at a time, with a bounded number of descriptors."""
    stack: list[tuple[int, str]] = [(top, "")]  # open folders, each with its name in the one above
    steps = 0
    progress = 0  # successful removals, moves and descents: the top folder is listed again while it grows
    top_pass_start = -1
    try:
        while stack and steps < MAX_REMOVE_STEPS:
            fd = stack[-1][0]
            if len(stack) == 1:
                if progress == top_pass_start:  # a whole pass over the top folder changed nothing: done
                    break
                top_pass_start = progress
            child = -1
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        steps += 1
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            continue
                        if not is_dir:
                            progress += _quietly(os.unlink, entry.name, dir_fd=fd)
                        elif len(stack) >= MAX_OPEN_LEVELS:  # too deep: move it up beside the top folder's entries
                            progress += _quietly(os.rename, entry.name, random_name(".deep-"), src_dir_fd=fd,
                                                 dst_dir_fd=top)
                        else:
                            try:
                                child = os.open(entry.name, _O_DIR, dir_fd=fd)
                            except OSError:
                                continue
                            stack.append((child, entry.name))
                            progress += 1
                            break
            except OSError:
                pass
            if child >= 0 or len(stack) == 1:
                continue
            done, name = stack.pop()
            os.close(done)
            progress += _quietly(os.rmdir, name, dir_fd=stack[-1][0])
    finally:
        for fd, _ in stack[1:]:
            os.close(fd)


def _quietly(func, *args, **kwargs) -> int:  # noqa: ANN001
    """1 when the call succeeded, 0 when it raised OSError."""
    try:
        func(*args, **kwargs)
    except OSError:
        return 0
    return 1
