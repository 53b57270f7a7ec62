"""Find the student's file in a submission, without running anything, and say what is wrong with the file itself."""

from __future__ import annotations

import ast
import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import AutograderError

IGNORED_PARTS = {"__pycache__", "__MACOSX", ".git", ".ipynb_checkpoints", "venv", ".venv", "site-packages",
                 "dist-packages", "node_modules"}
LISTED_FILES = 10  # a missing file's message lists at most this many of the student's .py files
MAX_PARSED_BYTES = 1_000_000  # classes_in reads no larger file
# PEP 263: a coding declaration on the first or second line.
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_SAVE_AS_UTF8 = "Python reads source files as UTF-8: save it as UTF-8 (in most editors: Save As, or the encoding " \
                "shown in the status bar, then UTF-8)."


class SubmissionNotFound(AutograderError):
    """The submission has no (or more than one) candidate file; the message lists what was found."""


class SubmissionUnreadable(SubmissionNotFound):
    """The student's file exists but Python cannot read it as source (UTF-16, null bytes); the message says why."""


@dataclass(frozen=True)
class Located:
    """Where the student's file is and how to import it."""

    root: Path  # the folder copied into the sandbox
    file: Path  # the student's file
    import_root: str  # folder (relative to root) that goes on sys.path
    module: str  # dotted module name to import from there
    note: str = ""  # something wrong with the file that may not stop it from importing (its encoding)
    # The file's bytes as they were located, before any student code ran (None: unread, or too large to parse).
    # What the grader says about the file after the tests (classes_in) reads these, never the file again: code
    # run in a hidden test could rewrite a submission that anyone may write to, and that text is shown.
    source: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def shown(self) -> str:
        """The file as the student knows it, relative to the submission."""
        return str(self.file.relative_to(self.root))


def locate(submission: Path, file_name: str, *, python_files: list[Path] | None = None) -> Located:
    """Find a problem's file (`file_name`, as its fixtures state it: mytorch/nn/activation.py, say) at the root,
    at that path, or one folder deeper.

    A single .py file may be given instead of a folder. `python_files`: own_files(submission, ".py"), when
    the caller has them already (it locates several files in one submission).
    """
    submission = Path(submission)
    target = Path(file_name)
    if not submission.exists():
        raise SubmissionNotFound(f"{submission}: no such file or folder")
    if submission.is_file():
        if submission.suffix != ".py":
            raise SubmissionNotFound(f"{submission}: expected a .py file or a folder")
        note, source = _checked_encoding(submission, submission.name)
        return Located(root=submission.parent, file=submission, import_root=".", module=submission.stem,
                       note=note, source=source)
    listed = list(own_files(submission, ".py")) if python_files is None else python_files
    candidates = [p for p in listed if p.name == target.name]
    if not candidates:
        py_files = sorted(str(p.relative_to(submission)) for p in listed)
        found = ", ".join(py_files[:LISTED_FILES]) if py_files else "no .py files at all"
        if len(py_files) > LISTED_FILES:
            found += f", and {len(py_files) - LISTED_FILES} more"
        raise SubmissionNotFound(f"no {target.name} found in the submission (expected {file_name}); found: {found}")
    # Prefer the full package path (file_name), then the shallowest match.
    def rank(p: Path) -> tuple[int, int]:
        rel = p.relative_to(submission)
        in_package = rel.parts[-len(target.parts):] == target.parts
        return (0 if in_package else 1, len(rel.parts))

    candidates.sort(key=lambda p: (rank(p), str(p)))
    best = candidates[0]
    ties = [p for p in candidates if rank(p) == rank(best)]
    if len(ties) > 1:
        listed = ", ".join(str(p.relative_to(submission)) for p in ties)
        raise SubmissionNotFound(f"found {len(ties)} candidate {target.name} files and cannot tell which one to grade: "
                                 f"{listed}; submit only one")
    rel = best.relative_to(submission)
    if rel.parts[-len(target.parts):] == target.parts:
        import_root = Path(*rel.parts[: len(rel.parts) - len(target.parts)]) if len(rel.parts) > len(target.parts) else Path(".")
        module = ".".join(target.with_suffix("").parts)
    else:
        import_root = rel.parent
        module = best.stem
    note, source = _checked_encoding(best, str(rel))
    return Located(root=submission, file=best, import_root=str(import_root), module=module, note=note, source=source)


def own_files(submission: Path, suffix: str) -> Iterator[Path]:
    """The student's own files ending in `suffix`: no hidden folders, caches, virtual environments or packages."""
    for folder, dirs, files in os.walk(submission):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_PARTS and not d.startswith(".")
                         and not (Path(folder, d) / "pyvenv.cfg").is_file())
        for name in sorted(files):
            path = Path(folder, name)
            if name.endswith(suffix) and not name.startswith(".") and path.is_file():
                yield path


def encoding_problem(path: Path, shown: str, data: bytes | None = None) -> tuple[str, bool] | None:
    """What is wrong with the file's encoding, and whether Python cannot read it at all; None when it is fine.

    UTF-8 (with or without a byte-order mark) and any encoding the file
    declares on its first two lines (PEP 263) are fine. `data`: the file's bytes, read already.
    """
    data = path.read_bytes() if data is None else data
    for boms, name in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "UTF-32"),
                       ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "UTF-16")):
        if data.startswith(boms):
            return (f"{shown} is saved as {name} (it starts with a {name} byte-order mark). " + _SAVE_AS_UTF8), True
    nulls = data.count(b"\x00")
    if nulls:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        if nulls * 3 >= len(data):  # every other byte: UTF-16 text without a byte-order mark
            return (f"{shown} looks like UTF-16 without a byte-order mark: every other byte is a null byte "
                    f"(the first on line {line}). " + _SAVE_AS_UTF8), True
        return (f"{shown} contains {nulls} null byte(s) (the first on line {line}), which a Python "
                "source file cannot contain: is it a text file? " + _SAVE_AS_UTF8), True
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        bad = exc.start
    for first_lines in body.splitlines()[:2]:
        declared = _CODING.match(first_lines)
        if declared:
            try:
                body.decode(declared.group(1).decode("ascii"))
                return None  # the file says which encoding it uses, and is valid in it
            except (LookupError, UnicodeDecodeError):
                break
    line = body[:bad].count(b"\n") + 1
    byte = body[bad]
    as_latin1 = bytes([byte]).decode("latin-1")
    shown_char = f" ('{as_latin1}' in Latin-1 / Windows-1252)" if as_latin1.isprintable() else ""
    return (f"{shown} is not UTF-8: line {line} has the byte 0x{byte:02X}{shown_char}, which UTF-8 does not allow "
            "there; it was saved in another encoding. " + _SAVE_AS_UTF8), False


def _checked_encoding(path: Path, shown: str) -> tuple[str, bytes | None]:
    """The note on a file Python may still import, and its bytes (None: unread, or too large for classes_in);
    raises SubmissionUnreadable when Python cannot import it."""
    try:
        data = path.read_bytes()
    except OSError:
        return "", None  # said when it is imported
    problem = encoding_problem(path, shown, data)
    source = data if len(data) <= MAX_PARSED_BYTES else None
    if problem is None:
        return "", source
    text, fatal = problem
    if fatal:
        raise SubmissionUnreadable(text)
    return text, source


def classes_in(path: Path, source: bytes | None = None) -> list[str] | None:
    """The classes a Python file defines at its top level, read without running it (None: it cannot be parsed).
    `source`: its bytes, read already (see Located.source)."""
    try:
        if source is None and path.stat().st_size > MAX_PARSED_BYTES:
            return None
        tree = ast.parse(path.read_bytes() if source is None else source)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
