"""Keep the head and the tail of a stream that may be huge, binary or endless."""

from __future__ import annotations

from ..text import clean


class OutputTail:
    """Bytes kept from a worker's stdout/stderr: the first and the last part, and a count of the rest."""

    def __init__(self, limit_chars: int) -> None:
        self.head_limit = limit_chars * 2 // 3
        self.tail_limit = limit_chars - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if len(data) >= self.tail_limit:  # a big chunk replaces the tail: no copy of what is dropped
            self.tail = bytearray(data[len(data) - self.tail_limit:])
        elif data:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> int:
        """Bytes dropped between head and tail."""
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        """Readable text: invalid UTF-8 and unsafe characters (text.clean) are replaced, the cut is announced."""
        def readable(raw: bytes) -> str:
            return clean(raw.decode("utf-8", errors="replace"))

        if not self.cut:
            return readable(bytes(self.head + self.tail))
        return f"{readable(bytes(self.head))}\n... [{self.cut} bytes of output cut] ...\n{readable(bytes(self.tail))}"
