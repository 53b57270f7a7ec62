"""Resource limits for grading one submission, and where they come from.

Kept apart from config.py so that grading, which reads its limits from the
fixtures, does not import (or pay for) the whole assignment config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Resource limits for running one submission (see README, "Limits")."""

    call_timeout: float = 5.0  # seconds, floor of the per-call wall-clock limit
    call_multiple: float = 20000.0  # ... which is at least this many times the reference's time on the case
    import_timeout: float = 10.0  # seconds to import the submission
    budget: float = 12.0  # seconds of student code per submission, all calls together
    memory_mb: int = 512  # address-space limit of a worker
    max_processes: int = 64  # processes of the sandbox account (only when run as root)
    max_file_mb: int = 16  # largest file a worker may write
    output_chars: int = 4000  # captured stdout/stderr kept per test (head and tail)


def limits_from_mapping(raw: dict[str, Any], where: str) -> Limits:
    """Limits from a plain mapping (a fixture's ``limits``); ``where`` prefixes errors."""
    from .errors import FixtureError

    known = Limits.__dataclass_fields__
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise FixtureError(f"{where}: unknown limit '{key}' (known: {', '.join(known)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise FixtureError(f"{where}: limit '{key}' should be a positive number, found {value!r}")
        values[key] = int(value) if known[key].type == "int" else float(value)
    return Limits(**values)


def load_limits(path: Path | None) -> Limits | None:
    """Limits from a config file when it is there; None lets the fixtures' own limits apply."""
    if path is None or not Path(path).is_file():
        return None
    from .config import load_assignment

    return load_assignment(path).limits
