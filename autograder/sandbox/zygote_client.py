"""The grader's end of the zygote (hardened backend): requests, replies, and the zygote's failure.

The zygote answers requests in order (spawn, reap, sweep, hosted, exit; see
zygote.py). Every wait for a reply has a deadline: a zygote that does not
answer within ``reply_seconds``, or has ended, is killed with everything it
started, and ``broken`` says why, in the words every later check shows.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any, Callable

from . import protocol, system, transport, zygote
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
    reply is awaited (None: the reply to a spawn `spawn_ahead` sent), for
    tests and profiling.
    """

    def __init__(self, uid: int | None, stage: str, *, isolate: bool, spare: set[int],
                 reply_seconds: float = ZYGOTE_REPLY_SECONDS,
                 on_request: Callable[[str | None], None] | None = None, remove: str | None = None) -> None:
        self.reply_seconds = reply_seconds
        self.on_request = on_request
        self.broken: str | None = None  # why the zygote can do nothing more
        self._spare = spare
        self._reap_pending = False  # a request (a reap, say: tell_later) whose reply is still to be read
        # Hosts spawn_ahead asked for, in the order sent: their replies come first, in that order. Read
        # ones wait in _spawned until their host is taken. Each with when it was sent, and its share.
        self._spawning: list[tuple[Module, float, float]] = []
        self._spawned: dict[Module, tuple[dict[str, Any], list[int], float, float]] = {}
        self._exit_asked = False
        self.pid, self._ctrl = zygote.start(uid, stage, isolate=isolate, remove=remove)
        # readable when the zygote dies, so a wait for a worker ends at once (Linux 5.3+; else -1)
        self.fd = transport.pidfd_of(self.pid)

    @property
    def busy(self) -> bool:
        """A reply is still due (a reap, or a spawn sent ahead)."""
        return self._reap_pending or bool(self._spawning)

    @property
    def reaping(self) -> bool:
        """The reply to a reap (or another tell_later) is still due (a spawn sent now would be answered after
        it)."""
        return self._reap_pending

    def spawned_ahead(self, target: Module) -> bool:
        """Whether a host was spawned ahead for `target` and not taken yet."""
        return target in self._spawned or any(module == target for module, _, _ in self._spawning)

    def ended(self) -> bool:
        """Whether the zygote has ended (as its pidfd says; False where there is none)."""
        return transport.ended(self.fd)

    def ask(self, message: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[int]]:
        """One request and its reply, or (None, []) and `broken` set.

        With None, only the next reply (that to a spawn sent ahead: see
        take_spawned). The replies to spawns sent ahead are read first and
        kept until their hosts are taken.
        """
        if message is not None and self._spawning:
            self._collect()
            if self.broken is not None:
                return None, []
        if self.on_request is not None:
            self.on_request(message and message["op"])
        try:
            self._ctrl.settimeout(self.reply_seconds)
            if message is not None:
                self._ctrl.send(message)
            if self._reap_pending and message is not None:  # the reply to the previous reap comes first
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

    def spawn_ahead(self, target: Module, spec: dict[str, Any], share: float = 1.0) -> None:
        """Send a spawn whose reply is read later (take_spawned), so the worker imports meanwhile.

        Several may be sent ahead (none while a reap's reply is due: see `reaping`). `share` says how many
        times the import time limit the host's import may take in wall-clock time (hosts spawned together
        share the cores)."""
        assert not self._reap_pending, "a spawn sent ahead is answered before any later request"
        try:
            self._ctrl.settimeout(self.reply_seconds)
            self._ctrl.send({"op": "spawn", "spec": spec})
        except OSError as exc:
            self.failed(f"{type(exc).__name__}: {exc}")
            return
        self._spawning.append((target, time.monotonic(), share))

    def go(self, waiting: Module, target: Module, spec: dict[str, Any], share: float = 1.0) -> bool:
        """Tell the host spawned ahead as `waiting` (with spec "gate": see worker._through_gate) what to import,
        now; from here on it is the host spawned ahead for `target`, its import started now. False when there
        is no such host to tell (its spawn failed, or the zygote did)."""
        spawned = self.take_spawned(waiting)
        if spawned is None or spawned[0] is None:
            return False
        reply, fds, _, _ = spawned
        if "error" in reply or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return False
        sock = socket.socket(fileno=fds[0])
        try:
            sock.settimeout(self.reply_seconds)
            protocol.send(sock, {"event": "go", "spec": spec})
        except OSError:
            pass  # it is gone: its first check says how (it never sends "imported")
        finally:
            sock.detach()
        self._spawned[target] = (reply, fds, time.monotonic(), share)
        return True

    def drop_spawned(self, target: Module) -> None:
        """End a host spawned ahead that nothing will take (it may wait at its gate): the zygote kills and reaps
        it, so it counts against no limit of the account's any more."""
        spawned = self.take_spawned(target)
        if spawned is None or spawned[0] is None:
            return
        reply, fds, _, _ = spawned
        for fd in fds:
            os.close(fd)
        if "pid" in reply:
            self.ask({"op": "reap", "pid": int(reply["pid"]), "grace": 0.0})

    def take_spawned(self, target: Module) -> tuple[dict[str, Any] | None, list[int], float, float] | None:
        """The reply to the spawn sent ahead for `target`, its descriptors, when it was sent and its share
        (see spawn_ahead); None if there is none. A reply of None: the zygote failed (see `broken`)."""
        if target not in self._spawned and any(module == target for module, _, _ in self._spawning):
            self._collect(until=target)
        if self.broken is not None and target not in self._spawned:
            return None, [], 0.0, 1.0
        return self._spawned.pop(target, None)

    def _collect(self, until: Module | None = None) -> None:
        """Read the replies to spawns sent ahead, in order (all of them, or up to `until`'s)."""
        while self._spawning and self.broken is None:
            target, sent_at, share = self._spawning.pop(0)
            reply, fds = self.ask(None)
            if reply is not None:
                self._spawned[target] = (reply, fds, sent_at, share)
            if target == until:
                return

    def abandon_spawned(self) -> None:
        """Give up the hosts spawn_ahead started and nothing took (channels closed, they exit; the zygote's
        exit ends them)."""
        if self.broken is None:
            self._collect()
        for reply, fds, _, _ in self._spawned.values():
            for fd in fds:
                os.close(fd)
        self._spawned.clear()

    def reap_later(self, pid: int) -> None:
        """Ask the zygote to reap a worker; its reply is read with the next request."""
        self.tell_later({"op": "reap", "pid": pid, "grace": EXIT_GRACE_SECONDS})

    def tell_later(self, message: dict[str, Any]) -> bool:
        """Send a request whose reply is read with the next one (see settle): the zygote answers in order, so
        it has been carried out before anything asked after it. False when the zygote failed."""
        if self._reap_pending and self.settle() is None:  # one reply is left to read later, at most
            return False
        if self.on_request is not None:
            self.on_request(message["op"])
        try:
            self._ctrl.settimeout(self.reply_seconds)
            self._ctrl.send(message)
            self._reap_pending = True
        except OSError as exc:
            self.failed(f"{type(exc).__name__}: {exc}")
            return False
        return True

    def settle(self) -> dict[str, Any] | None:
        """The reply to the request tell_later sent last ({} if none is due); None and `broken` set if it
        fails."""
        if self._spawning:  # their replies come first
            self._collect()
            if self.broken is not None:
                return None
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

    def ask_exit(self) -> None:
        """Ask the zygote to exit (it kills what is left, then cleans up), without waiting: see close."""
        if self._exit_asked:
            return
        self._exit_asked = True
        self.abandon_spawned()
        if self.broken is None:
            try:
                self._ctrl.settimeout(CLOSE_SECONDS)
                if self._reap_pending:
                    self._ctrl.recv()
                self._ctrl.send({"op": "exit"})
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        """Ask the zygote to exit, unless ask_exit did, and kill it if it has not within CLOSE_SECONDS."""
        self.ask_exit()
        self._ctrl.close()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid > 0 and system.wait_exit(self.pid, CLOSE_SECONDS) is None:
            self.kill()
