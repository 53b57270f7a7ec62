"""Staging: the copy of a submission that workers import, made without following links, within size caps."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

STAGE_MAX_FILE_BYTES = 4 * 1024 * 1024  # larger files of a submission are not copied into the sandbox
STAGE_MAX_TOTAL_BYTES = 16 * 1024 * 1024
STAGE_IGNORED = {"__pycache__", ".git", "__MACOSX", ".ipynb_checkpoints", ".venv", "venv"}


def stage_submission(source: Path, target: Path) -> list[str]:
    """Copy a submission for the sandbox: regular files and folders only, never following links.

    A symbolic link could otherwise make the grader (root) copy files the
    student must not read, such as the fixtures. Python files come first, so
    that when the submission is larger than STAGE_MAX_TOTAL_BYTES it is data
    that is left out. Returns what was left out, in words.
    """
    skipped: list[str] = []
    files: list[tuple[str, int]] = []  # (relative path, size)

    def walk(folder: Path, rel: str) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name in STAGE_IGNORED or entry.name.endswith(".pyc"):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(target / rel / entry.name, 0o700)
                walk(Path(entry.path), f"{rel}{entry.name}/")
            elif stat.S_ISREG(info.st_mode):
                files.append((f"{rel}{entry.name}", info.st_size))
            else:
                skipped.append(f"{rel}{entry.name} (a link or special file)")

    os.mkdir(target, 0o700)
    if source.is_dir():
        walk(source, "")
    total = 0
    for rel, size in sorted(files, key=lambda f: (not f[0].endswith(".py"), f[1], f[0])):
        if size > STAGE_MAX_FILE_BYTES or total + size > STAGE_MAX_TOTAL_BYTES:
            skipped.append(f"{rel} (too large: {size} bytes)")
            continue
        fd = os.open(source / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle, open(target / rel, "wb") as out:
            shutil.copyfileobj(handle, out)
        total += size
    return sorted(skipped)


