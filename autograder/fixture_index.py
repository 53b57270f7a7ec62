"""The fixtures of a folder parsed once, where they are deployed, so that each grading reads JSON, not YAML.

Reading 41 YAML fixtures costs a grading of the whole homework about 20 ms,
on the path to its first check. ``setup.sh`` therefore runs
``python -m autograder index test_cases`` once when Gradescope builds the
image, and every grading of that image reads the parsed documents instead.

The YAML files stay the only truth. An entry is used only while its file's
bytes still have the length and CRC-32 they had when it was read: a fixture
edited, replaced or added since is read from its YAML, and an index that is missing, unreadable
or of another format is ignored (grading is then as fast as without one).
Only graded-only documents are kept (no expected array that no check uses),
which is what grading reads; every other reader (audit, generate, the local
pytest runner) reads the YAML. The index holds hidden cases too: it is never
part of the student handout, and is written only by whoever may write the
fixtures themselves, so its checksum guards against accidents, not attacks
(CRC-32 rather than SHA-256, whose OpenSSL import alone costs 3 ms a grading).
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

from .errors import FixtureError
from .fixtures import Parsed, fixture_files, header_config, parse_case, read_document

INDEX_NAME = ".parsed-fixtures.json"  # in the fixtures folder; not a *.yaml, so never read as a fixture
FORMAT = 1  # bumped whenever what a document holds, or how it is read, changes


def write_index(folder: Path) -> tuple[Path, int, list[str]]:
    """Parse every fixture of `folder` and write the index beside them, whole or not at all.

    Returns its path, the number of fixtures it holds, and the files left out
    (their documents do not survive JSON as they are, as a mapping with a
    number for a key would not): grading reads those from their YAML. A
    fixture that grading would refuse is an error here too, naming the file.
    """
    folder = Path(folder)
    files: dict[str, Any] = {}
    left_out: list[str] = []
    for path in fixture_files(folder):
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FixtureError(f"{path}: cannot read fixture ({exc})") from None
        document = read_document(text, path, graded_only=True)
        parse_case(document, path)  # an index never holds what grading would refuse
        again = json.loads(json.dumps(document))
        if again != document or not _same_types(again, document):
            left_out.append(path.name)
            continue
        files[path.name] = {"checksum": _checksum(data), "config": header_config(text), "document": document}
    target = folder / INDEX_NAME
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=INDEX_NAME + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"format": FORMAT, "files": files}, out, separators=(",", ":"))
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target, len(files), left_out


def _checksum(data: bytes) -> str:
    """What identifies a fixture file's bytes in the index: their length and CRC-32."""
    return f"{len(data)}:{zlib.crc32(data):08x}"


def _same_types(a: Any, b: Any) -> bool:
    """Whether two equal values also have the same types throughout (1 and 1.0 and True are equal)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b))
    return True


def parsed_documents(folder: Path) -> Parsed:
    """The graded-only documents (and header configs) of the folder's fixtures whose bytes are those the index
    was written from (as their checksums say), by file; empty without a usable index. For fixtures.load_cases(parsed=...)."""
    folder = Path(folder)
    try:
        index = json.loads((folder / INDEX_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(index.get("files"), dict):
        return {}
    found: dict[Path, tuple[dict[str, Any], str | None]] = {}
    for name, entry in index["files"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("document"), dict) or Path(str(name)).name != name:
            continue
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if _checksum(data) == entry.get("checksum"):
            config = entry.get("config")
            found[path] = (entry["document"], config if isinstance(config, str) else None)
    return found
