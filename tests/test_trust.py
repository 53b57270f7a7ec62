"""Trust under attack, end to end through run_autograder: unsafe text, hidden tests' numbers, honest answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from autograder.text import unsafe
from helpers import SUBMISSIONS, by_name, grade_file

HOSTILE = SUBMISSIONS / "hostile"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_unsafe_text_never_reaches_results_json(tmp_path: Path) -> None:
    results = grade_file(tmp_path, HOSTILE / "unsafe_text.py")  # asserts run_autograder exited 0
    raw = (tmp_path / "autograder" / "results" / "results.json").read_bytes()
    raw.decode("utf-8")
    assert b"\\ud800" not in raw.lower()  # no escaped lone surrogate either
    for text in _strings(results):
        assert not unsafe(text), repr(text)
        assert "\x9b" not in text and "\u202e" not in text and "\ud800" not in text
    tests = by_name(results)
    first = tests["writeup_example: forward (A)"]
    assert first["status"] == "failed" and results["score"] == 0
    # the run went on and said what happened, with the unsafe characters visibly replaced
    assert "Sneaky\ufffdError\ufffd: bad input \ufffd2J \ufffdevil" in first["output"]
    assert "forward says" in first["output"]
    assert all(t["status"] == "failed" for t in results["tests"] if t["max_score"] > 0)
