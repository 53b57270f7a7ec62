"""The results file, made safe to write before any student code runs.

Gradescope believes whatever ``results.json`` says, and needs one whatever the
submission does. Student code could fill the disk (many files, each under the
file-size limit), so the space is taken first:

1. ``reserve`` writes a valid *pending* document (zero points, "did not
   finish") at the results path, and a reserve file of RESERVE_BYTES beside
   it, in the same folder, which student code cannot write.
2. ``commit`` writes the final document into the reserve's own blocks and
   renames it over the results path: no new space is needed, and the file is
   whole at every moment.

``run_autograder`` replaces a results file only while it is still pending
(its ``extra_data`` says so, see PENDING): a final one is never overwritten.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

RESERVE_BYTES = 4 * 1024 * 1024  # far more than a results document (tests x output_chars) takes
STATUS_KEY = "autograder_status"
PENDING = "pending"
COMPACT_OUTPUT_CHARS = 500  # per test, when even the reserve is too small for the whole document


def pending_document() -> dict[str, Any]:
    """What stands in the results file while grading runs: valid, zero, and saying why."""
    return {
        "score": 0.0,
        "execution_time": 0.0,
        "output": "The autograder did not finish grading this submission (it was stopped, or the machine failed). "
                  "This is most likely not a problem with your code; please tell the course staff.",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {STATUS_KEY: PENDING},
    }


def encode(document: dict[str, Any]) -> bytes:
    """The document as the file holds it (UTF-8 JSON, ASCII-escaped, so any text encodes; on one line, which
    json writes several times faster than indented)."""
    return (json.dumps(document, ensure_ascii=True) + "\n").encode("ascii")


def compact(document: dict[str, Any], chars: int = COMPACT_OUTPUT_CHARS) -> dict[str, Any]:
    """The same results with each test's output cut to `chars`: scores and statuses unchanged."""
    tests = []
    for test in document.get("tests", []):
        test = dict(test)
        text = str(test.get("output", ""))
        if len(text) > chars:
            test["output"] = text[:chars] + "\n... [cut: the results file had to be kept small]"
        tests.append(test)
    return dict(document, tests=tests)


class ResultsFile:
    """A results path with its space reserved; ``commit`` writes the final document into that space."""

    def __init__(self, path: Path, reserve: Path | None) -> None:
        self.path = Path(path)
        self._reserve = reserve

    @classmethod
    def reserve(cls, path: Path, *, size: int = RESERVE_BYTES) -> "ResultsFile":
        """Write the pending document at `path` and reserve `size` bytes beside it (best effort for the
        reserve: without it, commit writes as usual)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, encode(pending_document()))
        reserve = path.parent / f".results-reserve-{os.urandom(8).hex()}"
        try:
            fd = os.open(reserve, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return cls(path, None)
        try:
            _allocate(fd, size)
        except OSError:
            os.close(fd)
            _unlink(reserve)
            return cls(path, None)
        os.close(fd)
        return cls(path, reserve)

    def commit(self, document: dict[str, Any]) -> None:
        """Put the final document at the path, whole; through the reserve when it fits there."""
        data = encode(document)
        reserve, self._reserve = self._reserve, None
        if reserve is None:
            _replace(self.path, data)
            return
        if len(data) > RESERVE_BYTES or not _into(reserve, data):
            try:
                _replace(self.path, data)
                _unlink(reserve)
                return
            except OSError:
                data = encode(compact(document))
                if not _into(reserve, data):
                    _unlink(reserve)
                    raise
        os.replace(reserve, self.path)

    def withdraw(self) -> None:
        """Grading never started (bad input): give the space back and remove the pending document."""
        self.abandon()
        if is_pending(self.path):
            _unlink(self.path)

    def abandon(self) -> None:
        """Give the reserved space back (the path keeps what it holds)."""
        reserve, self._reserve = self._reserve, None
        if reserve is not None:
            _unlink(reserve)


def is_pending(path: Path) -> bool:
    """True when the file at `path` is missing, unreadable, not JSON, or still the pending document."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    extra = document.get("extra_data") if isinstance(document, dict) else None
    return not isinstance(document, dict) or (isinstance(extra, dict) and extra.get(STATUS_KEY) == PENDING)


def _allocate(fd: int, size: int) -> None:
    """Give the open file `size` bytes of disk now: posix_fallocate where the system has it (a fraction of a
    millisecond), else by writing zeros."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
                raise
    zeros = bytes(1 << 20)
    for start in range(0, size, len(zeros)):
        os.write(fd, zeros[: size - start])


def _into(reserve: Path, data: bytes) -> bool:
    """Overwrite the reserve's first bytes with `data` and cut it there (no new blocks needed)."""
    try:
        fd = os.open(reserve, os.O_WRONLY)
    except OSError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        os.chmod(reserve, 0o644)
    except OSError:
        return False
    return True


def _replace(path: Path, data: bytes) -> None:
    """Write a file in one piece: a temporary file renamed over the target."""
    tmp = path.parent / f".results-{os.urandom(8).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
