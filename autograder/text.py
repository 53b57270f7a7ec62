"""One sanitiser for every student-controlled string that leaves the grader.

Student code chooses what it prints, its exception messages, its reprs, its
class and file names. Shown as they are, some characters would act rather
than read: C0 and C1 controls (U+009B is a terminal's CSI, as ESC [ is),
bidirectional overrides that make a line read differently from what it
holds, and lone surrogates, which cannot be encoded as UTF-8 (printing them
raises, and a results file holding them is not valid UTF-8 JSON). Each is
replaced by U+FFFD, so what was there is visible and nothing is lost
silently. Newlines and tabs are kept; everything else is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

_UNSAFE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f"  # C0 controls but \t and \n, and DEL
    "\x80-\x9f"  # C1 controls (U+009B is CSI)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks, embeddings, overrides, isolates
    "\ud800-\udfff"  # surrogates: a str holds them only alone, never as UTF-8
    "]"
)

_DIGITS = re.compile(r"\d+")


class LazyPattern:
    """A regular expression compiled where it is first used, not when its module is imported (a grading that
    reads its fixtures from the index never uses the YAML reader's patterns, say). Reads as the compiled one."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        compiled = re.compile(*self._source)
        for method in ("match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"):
            setattr(self, method, getattr(compiled, method))  # from then on, plain attributes
        return getattr(compiled, name)


def clean(text: str) -> str:
    """`text` with every control, bidi control and surrogate replaced by U+FFFD (\\n and \\t kept)."""
    return _UNSAFE.sub(REPLACEMENT, text)


def unsafe(text: str) -> list[str]:
    """The characters of `text` that `clean` would replace, in order (for tests and checks)."""
    return _UNSAFE.findall(text)


def no_digits(text: str) -> str:
    """`text` with every run of digits (any script's) replaced by '#': for student text of a hidden test,
    where any number could carry a hidden input."""
    return _DIGITS.sub("#", text)
