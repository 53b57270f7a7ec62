"""The fixtures of a folder parsed once, where they are deployed, so that each grading reads them ready-made.

Reading and checking 41 YAML fixtures costs a grading of the whole homework
about 20 ms, on the path to its first check. ``setup.sh`` therefore runs
``python -m autograder index test_cases`` once when Gradescope builds the
image, and every grading of that image reads the cases as grading reads
them (``load_case(graded_only=True)``, checked then), in a binary file:
``marshal`` of plain values, arrays as their raw bytes, and the project's
fixture dataclasses by field, rebuilt only from a fixed list of classes (no
pickle: reading the index runs no code it names).

The file holds two marshal records, the first's length before them (8 bytes,
big-endian). The first, small, is what starting the
submission's hosts needs: the first fixture's limits, the file and class of
every fixture, every indexed file's checksum, and the fields of the classes
the cases were written for, read before the cases (index_head) so that the
hosts import while the grader reads the rest. The
second holds the cases, and the documents of the folder's feedback files
(feedback/NAME.yaml, as PyYAML reads them). A grading whose fixtures and
feedback files are all indexed so never imports PyYAML (about 8 ms).

The YAML files stay the only truth. An entry is used only while its file's
bytes still have the length and CRC-32 they had when it was read: a fixture
(or feedback file) edited, replaced or added since is read from its YAML, and an index that is
missing, unreadable, of another format, written by another Python (marshal's
format is its own) or for fixture classes whose fields have changed since is
ignored (grading is then as fast as without one). An entry that cannot be
rebuilt is read from its YAML too, except as root when the head vouched for
its file (grade.py refuses such a damaged index: PyYAML was not imported
before student code ran, and may not be after). Only graded-only cases are kept (no
expected array that no check uses), which is what grading reads; every
other reader (audit, generate, the local pytest runner) reads the YAML. The
index holds hidden cases too: it is never part of the student handout, and
is written only by whoever may write the fixtures themselves, so its
checksum guards against accidents, not attacks (CRC-32 rather than SHA-256,
whose OpenSSL import alone costs 3 ms a grading).
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .feedback import FEEDBACK_DIR, FeedbackError, parse_feedback
from .fixtures import (Case, Chain, Check, FixtureError, Parsed, ProblemRef, Step, Tolerance, YamlError, fixture_files,
                       load_case, load_yaml)

INDEX_NAME = ".parsed-fixtures.index"  # in the fixtures folder; not a *.yaml, so never read as a fixture
FORMAT = 5  # bumped whenever how a case is written here changes
CLASSES = {cls.__name__: cls for cls in (Case, Check, Step, Tolerance, ProblemRef, Chain)}  # all it rebuilds
# Rebuilt once and shared by every case that holds an equal one: immutable all through (checks are not
# shared: grading tells them apart by identity).
SHARED = frozenset({"Step", "Tolerance", "ProblemRef", "Chain"})


def layout() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The fields of every class the index rebuilds: an index written for other fields is not read."""
    return tuple((name, tuple(f.name for f in dataclasses.fields(cls))) for name, cls in CLASSES.items())


def write_index(folder: Path) -> tuple[Path, int, list[str]]:
    """Read every fixture of `folder` as grading does and write the index beside them, whole or not at all.

    Returns its path, the number of fixtures it holds, and the files left out
    (a case holding a value the index cannot write, which no generated
    fixture does): grading reads those from their YAML. A fixture that
    grading would refuse is an error here too, naming the file.
    """
    folder = Path(folder)
    files: dict[str, Any] = {}
    left_out: list[str] = []
    # the fixture classes' fields are in the head: a head that vouches for files says what read_index will read
    head: dict[str, Any] = {"format": FORMAT, "python": tuple(sys.version_info[:2]), "fields": layout(),
                            "problems": [], "checksums": {}}
    for path in fixture_files(folder):
        case = load_case(path, graded_only=True)  # what grading would refuse raises here (FixtureError)
        checksum = _checksum(path.read_bytes())
        if "first" not in head:
            head.update(first=path.name, limits=dict(case.limits))
        head["problems"].append((case.problem.file, case.problem.class_name))
        case.path = None  # set again when read: the folder may have moved
        try:
            encoded = _encode(case, {})
        except TypeError:
            left_out.append(path.name)
            continue
        files[path.name] = {"checksum": checksum, "case": encoded}
        head["checksums"][path.name] = checksum
    feedback = {}
    for path in feedback_files(folder):
        data = path.read_bytes()
        name = f"{FEEDBACK_DIR}/{path.name}"
        try:
            document = load_yaml(data.decode("utf-8"))
            parse_feedback(document or {}, check=False)  # as grading reads it: what it would refuse raises here
            feedback[name] = {"checksum": _checksum(data), "document": _encode(document, {})}
        except (UnicodeDecodeError, YamlError, FeedbackError) as exc:
            raise FixtureError(f"{path}: {exc}") from None
        except TypeError:  # a value the index cannot write (a YAML date, say): read from the YAML when graded
            left_out.append(name)
            continue
        head["checksums"][name] = feedback[name]["checksum"]
    head["problems"] = tuple(dict.fromkeys(head["problems"]))
    cases = {"files": files, "feedback": feedback}
    target = folder / INDEX_NAME
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=INDEX_NAME + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            first = marshal.dumps(head, 4)
            out.write(len(first).to_bytes(8, "big") + first + marshal.dumps(cases, 4))
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target, len(files), left_out


def _records(folder: Path, count: int) -> list[Any] | None:
    """The index's first `count` records, when it is one this code reads (format, Python, the fixture classes'
    fields); else None. (Read from memory: marshal.load reads a file a few bytes at a time, five times slower.)"""
    try:
        data = memoryview((folder / INDEX_NAME).read_bytes())
        length = int.from_bytes(data[:8], "big")
        records = [marshal.loads(data[8:8 + length])] + ([marshal.loads(data[8 + length:])] if count > 1 else [])
    except (OSError, ValueError, EOFError, TypeError):
        return None
    head = records[0]
    if (not isinstance(head, dict) or head.get("format") != FORMAT or head.get("python") != sys.version_info[:2]
            or head.get("fields") != layout()):
        return None
    return records


def index_head(folder: Path) -> tuple[Path, dict[str, Any], list[tuple[str, str]], dict[str, str]] | None:
    """From the index's first record, without reading the cases: the first fixture file and its limits (while
    its bytes are those indexed); the (file, class) every fixture grades, in file order without repeats,
    as fixtures.problems_of reads them: a hint to start importing with (load_cases reads and checks every
    fixture, through the index or not); and the indexed files whose bytes are still those indexed, with their
    checksums (by name in the folder: fixtures, and feedback files as feedback/NAME.yaml), for read_index and
    index_covers. None without a usable index."""
    folder = Path(folder)
    records = _records(folder, 1)
    if records is None:
        return None
    head = records[0]
    first, limits, problems, checksums = head.get("first"), head.get("limits"), head.get("problems"), \
        head.get("checksums")
    if (not isinstance(first, str) or Path(first).name != first or not isinstance(limits, dict)
            or not isinstance(problems, tuple) or not isinstance(checksums, dict)):
        return None
    verified = {name: checksum for name, checksum in checksums.items() if _unchanged(folder, name, checksum)}
    if first not in verified:
        return None
    hints = [hint for hint in problems if isinstance(hint, tuple) and len(hint) == 2
             and all(isinstance(part, str) for part in hint)]
    return folder / first, limits, hints, verified


def _unchanged(folder: Path, name: Any, checksum: Any) -> bool:
    """Whether the folder's file `name` (a fixture, or feedback/NAME.yaml) still has the bytes indexed."""
    if (not isinstance(name, str) or not name.endswith(".yaml")
            or (Path(name).name != name and Path(name).parent != Path(FEEDBACK_DIR))):
        return False
    try:
        return _checksum((folder / name).read_bytes()) == checksum
    except (OSError, ValueError):  # ValueError: a name holding a NUL
        return False


def _fresh(folder: Path, name: Any, checksum: Any, verified: Mapping[str, str]) -> bool:
    """Whether an entry's file has the bytes its checksum says: verified already with that checksum, or now."""
    return (isinstance(name, str) and verified.get(name) == checksum) or _unchanged(folder, name, checksum)


def index_covers(folder: Path, files: list[Path], verified: Mapping[str, str]) -> bool:
    """Whether grading these fixtures of the folder reads no YAML: each of them, and every feedback file of the
    folder, is in the index with its bytes unchanged (`verified`, from index_head)."""
    return (all(path.name in verified for path in files)
            and all(f"{FEEDBACK_DIR}/{path.name}" in verified for path in feedback_files(Path(folder))))


def not_indexed(folder: Path, files: list[Path], parsed: Parsed, documents: Mapping[Path, Any]) -> list[str]:
    """The fixtures (of `files`) and feedback files of the folder that read_index did not give (`parsed`,
    `documents`): grading reads them from their YAML. None once index_covers held, unless the index is
    damaged (its head vouches for a file whose entry cannot be used)."""
    folder = Path(folder)
    return ([path.name for path in files if path not in parsed]
            + [f"{FEEDBACK_DIR}/{path.name}" for path in feedback_files(folder) if path not in documents])


def feedback_files(folder: Path) -> list[Path]:
    """The feedback files of a fixtures folder (feedback/NAME.yaml), in name order."""
    return sorted((Path(folder) / FEEDBACK_DIR).glob("*.yaml"))


def indexed_cases(folder: Path) -> Parsed:
    """The cases of the folder's fixtures that the index holds, as read_index finds them. For
    fixtures.load_cases(parsed=...)."""
    return read_index(folder)[0]


def read_index(folder: Path, verified: Mapping[str, str] | None = None) -> tuple[Parsed, dict[Path, Any]]:
    """The cases (graded-only, as load_case reads them) of the folder's fixtures whose bytes are those the
    index was written from (as their checksums say), by file; and the documents of its feedback files so
    unchanged (for feedback.use_indexed), by path. A file `verified` (index_head) with its entry's checksum
    is not read again. Both empty without a usable index."""
    folder, verified = Path(folder), verified or {}
    records = _records(folder, 2)
    index = records[1] if records is not None else None
    if (not isinstance(index, dict) or not isinstance(index.get("files"), dict)
            or not isinstance(index.get("feedback"), dict)):
        return {}, {}
    found: dict[Path, Case] = {}
    shared: dict[int, Any] = {}
    for name, entry in index["files"].items():
        if not isinstance(name, str) or not isinstance(entry, dict) or Path(name).name != name:
            continue
        path = folder / name
        try:
            if not _fresh(folder, name, entry.get("checksum"), verified):
                continue
            case = _decode(entry.get("case"), shared)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):  # read from its YAML
            continue
        if isinstance(case, Case):
            case.path = path
            found[path] = case
    documents: dict[Path, Any] = {}
    for name, entry in index["feedback"].items():
        if not isinstance(entry, dict) or not _fresh(folder, name, entry.get("checksum"), verified):
            continue
        try:
            documents[folder / name] = _decode(entry.get("document"), {})
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):  # read from its YAML
            continue
    return found, documents


def _checksum(data: bytes) -> str:
    """What identifies a fixture file's bytes in the index: their length and CRC-32."""
    return f"{len(data)}:{zlib.crc32(data):08x}"


# -- the values of a case as marshal's plain ones, and back -----------------------------------------------
# A tuple is a tagged value: ("D", class, (field values ...)) a dataclass of CLASSES, ("A", dtype, shape,
# bytes) an array, ("T", items) a tuple, ("L", items) a list, ("M", ((key, value) ...)) a dict in its order,
# ("P", text) a path. Anything else is itself: text, a number, True, False or None.
def _encode(value: Any, seen: dict[Any, tuple]) -> Any:
    """`value` as plain values (see above); an equal shared object's encoding is the same tuple (`seen`),
    which marshal writes once. A value of any other type is a TypeError."""
    if dataclasses.is_dataclass(value) and type(value).__name__ in CLASSES:
        name = type(value).__name__
        encoded = ("D", name, tuple(_encode(getattr(value, f.name), seen) for f in dataclasses.fields(value)))
        return seen.setdefault(encoded, encoded) if name in SHARED and _immutable(encoded) else encoded
    if isinstance(value, np.ndarray):
        return ("A", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
    if type(value) in (tuple, list):
        return ("T" if type(value) is tuple else "L", tuple(_encode(item, seen) for item in value))
    if type(value) is dict:
        return ("M", tuple((_encode(key, seen), _encode(item, seen)) for key, item in value.items()))
    if isinstance(value, Path):
        return ("P", str(value))
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise TypeError(f"a fixture value of type {type(value).__name__} cannot be indexed")


def _immutable(encoded: Any) -> bool:
    """Whether what an encoding rebuilds holds nothing that could be changed (no array, list or dict)."""
    if type(encoded) is not tuple or encoded[0] == "P":
        return True
    if encoded[0] in ("A", "L", "M"):
        return False
    return all(_immutable(item) for item in encoded[2 if encoded[0] == "D" else 1])


_PLAIN = frozenset({str, int, float, bool, type(None)})  # what an encoding may hold as itself


MAX_DEPTH = 64  # how deep values nest in an entry (a case's are a dozen levels): deeper is refused, whatever Python


def _decode(value: Any, shared: dict[int, Any], depth: int = 0) -> Any:
    """The value an encoding stands for (see _encode); a shared object is rebuilt once (`shared`, by the
    identity of its encoding, which marshal keeps). Anything malformed raises, as does nesting deeper than
    MAX_DEPTH. (Plain items are taken as they are without a call: most of a case's values are.)"""
    if type(value) is not tuple:
        if type(value) in _PLAIN:
            return value
        raise TypeError(f"not an encoded value: {type(value).__name__}")
    if depth > MAX_DEPTH:
        raise ValueError(f"an encoded value nested deeper than {MAX_DEPTH} levels")
    tag, deeper = value[0], depth + 1
    if tag == "D":
        known = shared.get(id(value))
        if known is not None:
            return known[1]
        name = value[1]
        built = CLASSES[name](*[item if type(item) in _PLAIN else _decode(item, shared, deeper) for item in value[2]])
        if name in SHARED:
            shared[id(value)] = (value, built)  # the encoding is kept alive with it, so its id stays its own
        return built
    if tag == "A":
        return np.frombuffer(value[3], dtype=np.dtype(value[1])).reshape(value[2]).copy()
    if tag == "T":
        return tuple([item if type(item) in _PLAIN else _decode(item, shared, deeper) for item in value[1]])
    if tag == "L":
        return [item if type(item) in _PLAIN else _decode(item, shared, deeper) for item in value[1]]
    if tag == "M":
        return {(key if type(key) in _PLAIN else _decode(key, shared, deeper)):
                (item if type(item) in _PLAIN else _decode(item, shared, deeper)) for key, item in value[1]}
    if tag == "P":
        return Path(value[1])
    raise ValueError(f"not an encoded value: tag {tag!r}")
