"""The grader's end of the zygote (hardened backend): requests, replies, and the zygote's failure.

The zygote answers requests in order (spawn, reap, sweep, hosted, exit; see
zygote.py). Every wait for a reply has a deadline: a zygote that does not
answer within ``reply_seconds``, or has ended, is killed with everything it
started, and ``broken`` says why, in the words every later check shows.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

from . import system, transport, zygote
from .base import Module
from .outcome import signal_name

ZYGOTE_REPLY_SECONDS = 10.0  # the zygote answers within this, or is declared broken
EXIT_GRACE_SECONDS = 0.1  # a worker that answered (or hung up) gets this long to end by itself
CLOSE_SECONDS = 5.0  # the zygote's own clean-up at the end


class ZygoteClient:
    """Starts the zygote and talks to it; once it fails, `broken` says why and nothing more is asked.

    `spare` are this process's children that are not the zygote's business
    (never killed); `reply_seconds` is how long a reply may take;
    `on_request`, when given, is called with the op of every request whose
    reply is awaited (None: the reply to the spawn `spawn_ahead` sent), for
    tests and profiling.
    """

    def __init__(self, uid: int | None, stage: str, *, isolate: bool, spare: set[int],
                 reply_seconds: float = ZYGOTE_REPLY_SECONDS,
                 on_request: Callable[[str | None], None] | None = None) -> None:
        self.reply_seconds = reply_seconds
        self.on_request = on_request
        self.broken: str | None = None  # why the zygote can do nothing more
        self._spare = spare
        self._reap_pending = False  # a reap request whose reply is still to be read
        self._spawning: Module | None = None  # a host spawn_ahead asked for, reply not read yet
        self._spawned_at = 0.0
        self.pid, self._ctrl = zygote.start(uid, stage, isolate=isolate)
        # readable when the zygote dies, so a wait for a worker ends at once (Linux 5.3+; else -1)
        self.fd = transport.pidfd_of(self.pid)

    @property
    def busy(self) -> bool:
        """A reply is still due (a reap, or a spawn sent ahead)."""
        return self._reap_pending or self._spawning is not None

    def ended(self) -> bool:
        """Whether the zygote has ended (as its pidfd says; False where there is none)."""
        return transport.ended(self.fd)

    def ask(self, message: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[int]]:
        """One request and its reply, or (None, []) and `broken` set.

        With None, only the reply: that to the spawn `spawn_ahead` sent. A
        spawn sent ahead whose host nothing asked for is given up before
        another request.
        """
        if self.on_request is not None:
            self.on_request(message and message["op"])
        if message is not None and self._spawning is not None:
            self.abandon_spawned()
            if self.broken is not None:
                return None, []
        try:
            self._ctrl.settimeout(self.reply_seconds)
            if message is not None:
                self._ctrl.send(message)
            if self._reap_pending:  # the reply to the previous reap comes first
                self._reap_pending = False
                if self._ctrl.recv() is None:
                    raise EOFError("it has ended")
            reply = self._ctrl.recv()
            fds = self._ctrl.take_fds()
        except TimeoutError:
            self.failed(f"no answer within {self.reply_seconds:g} s")
            return None, []
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.failed("it has ended")
            return None, []
        except (OSError, ValueError) as exc:
            self.failed(f"{type(exc).__name__}: {exc}")
            return None, []
        if reply is None:
            for fd in fds:
                os.close(fd)
            self.failed("it has ended")
            return None, []
        return reply, fds

    def spawn_ahead(self, target: Module, spec: dict[str, Any]) -> None:
        """Send a spawn whose reply is read later (take_spawned), so the worker imports meanwhile."""
        try:
            self._ctrl.settimeout(self.reply_seconds)
            self._ctrl.send({"op": "spawn", "spec": spec})
        except OSError as exc:
            self.failed(f"{type(exc).__name__}: {exc}")
            return
        self._spawning, self._spawned_at = target, time.monotonic()

    def take_spawned(self, target: Module) -> float | None:
        """When the spawn sent ahead for `target` was sent (its reply is next: ask(None)); None if there is none."""
        if self._spawning != target:
            return None
        self._spawning = None
        return self._spawned_at

    def abandon_spawned(self) -> None:
        """Give up the host spawn_ahead started (its channels closed, it exits; the zygote reaps it)."""
        self._spawning = None
        reply, fds = self.ask(None)
        for fd in fds:
            os.close(fd)
        if reply is not None and isinstance(reply.get("pid"), int):
            self.reap_later(reply["pid"])

    def reap_later(self, pid: int) -> None:
        """Ask the zygote to reap a worker; its reply is read with the next request."""
        try:
            self._ctrl.settimeout(self.reply_seconds)
            self._ctrl.send({"op": "reap", "pid": pid, "grace": EXIT_GRACE_SECONDS})
            self._reap_pending = True
        except OSError as exc:
            self.failed(f"{type(exc).__name__}: {exc}")

    def settle(self) -> dict[str, Any] | None:
        """The reply to the reap sent last ({} if none is due); None and `broken` set if it fails."""
        if not self._reap_pending:
            return {}
        self._reap_pending = False
        try:
            self._ctrl.settimeout(self.reply_seconds)
            reply = self._ctrl.recv()
        except TimeoutError:
            self.failed(f"no answer within {self.reply_seconds:g} s")
            return None
        except (OSError, ValueError) as exc:
            self.failed(f"{type(exc).__name__}: {exc}")
            return None
        if reply is None:
            self.failed("it has ended")
        return reply

    def failed(self, what: str) -> None:
        """The zygote did not answer: stop it and everything it started; no further test can run."""
        ended = system.wait_exit(self.pid, 0.0) if self.pid > 0 else None
        if ended is not None:
            status = ended[0]
            if os.WIFSIGNALED(status):
                what = f"it was killed by {signal_name(os.WTERMSIG(status))}"
            else:
                what = f"it exited with status {os.WEXITSTATUS(status)}"
            self.pid = -1
        self.broken = (f"the sandbox process that starts your code stopped working ({what}), so this test "
                       "could not be run")
        self.kill()

    def kill(self) -> None:
        """Kill the zygote, and every child of ours but `spare` (its orphans come to us: a subreaper)."""
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            system.wait_exit(self.pid, 60.0)
            self.pid = -1
        system.kill_all_children(spare=self._spare)

    def close(self) -> None:
        """Ask the zygote to exit (it kills what is left), and kill it if it does not within CLOSE_SECONDS."""
        if self.broken is None and self._spawning is not None:
            self.abandon_spawned()
        if self.broken is None:
            try:
                self._ctrl.settimeout(CLOSE_SECONDS)
                if self._reap_pending:
                    self._ctrl.recv()
                self._ctrl.send({"op": "exit"})
            except (OSError, ValueError):
                pass
        self._ctrl.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid > 0 and system.wait_exit(self.pid, CLOSE_SECONDS) is None:
            self.kill()
