"""The hosts of the hardened backend: a worker per module that imported the submission once, and its children.

A host serves every class of its module (each request names its class).
It forks one *shared* child, which answers check after check, and a
*fresh* child for each check that must run in a process that ran nothing
else (see worker._host). This module keeps the hosts of one sandbox, asks
them for children, notices what a check left running, and clears it before
the next check (the sweep).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from . import system, zygote
from .base import Ahead, Module, Target
from .capture import OutputTail
from .zygote_client import EXIT_GRACE_SECONDS, ZygoteClient


@dataclass
class Host:
    """A worker that imported a submission once and forks one child per check (see worker._host)."""

    pid: int
    sock: socket.socket  # its protocol socket: a byte and two descriptors per check; it answers none
    out_fd: int  # its output pipe: what it printed while importing, and anything after
    preamble: OutputTail  # output of the import, shown with every check (as when each check imported)
    workdir: str
    serial: socket.socket | None = None  # the shared child's protocol socket, while one runs
    serial_out: int = -1  # ... and its output pipe
    serial_off: bool = False  # it could not fork a shared child: every check runs in a child of its own
    alone: set[Target] = field(default_factory=set)  # classes a check of which failed: their checks run in fresh children
    ahead: Ahead | None = None  # the request sent to the shared child before the grader asked for it (see Ahead)
    ahead_sent: float = 0.0  # ... and when (its time limit counts from then)


class Hosts:
    """The host of each module (None: that module's checks run in workers of their own), and their clean-up.

    `files_uid` is the account whose temporary files a sweep deletes (None:
    none are; only a dedicated account's are).
    """

    def __init__(self, client: ZygoteClient, files_uid: int | None) -> None:
        self._client = client
        self._files_uid = files_uid
        self._hosts: dict[Module, Host | None] = {}
        self._kept: set[tuple[str, int]] = set()  # temporary files made while a host imported: they stay
        self.sweep_due: int | None = None  # a host whose last check has not been swept yet

    def __contains__(self, key: Module) -> bool:
        return key in self._hosts

    def get(self, key: Module) -> Host | None:
        return self._hosts.get(key)

    def set(self, key: Module, host: Host | None) -> None:
        self._hosts[key] = host

    def pids(self) -> dict[Module, int | None]:
        """Each module tried so far and its host's pid (None: it runs without one, or its host was dropped)."""
        return {key: host.pid if host else None for key, host in self._hosts.items()}

    def files_now(self) -> set[tuple[str, int]]:
        """What the account has in the temporary folders now (nothing is known without a dedicated account)."""
        return system.files_of(self._files_uid) if self._files_uid is not None else set()

    def keep_import_files(self, before: set[tuple[str, int]]) -> None:
        """What the account has in the temporary folders now and had not `before` the imports began (what they
        made) stays, as when each check imported; what a check made before never does."""
        self._kept |= self.files_now() - before

    @staticmethod
    def fork_child(host: Host, kind: bytes) -> tuple[socket.socket, int] | None:
        """Ask the host for a child (b"F": one check, b"S": the shared one) on new channels: the grader's
        ends (protocol socket, output pipe), or None when the host did not take them."""
        parent, child = socket.socketpair()
        out_read, out_write = os.pipe()
        try:
            system.set_pipe_size(out_read, zygote.OUTPUT_PIPE_BYTES)
            os.set_blocking(out_read, False)
            socket.send_fds(host.sock, [kind], [child.fileno(), out_write])
        except OSError:
            parent.close()
            os.close(out_read)
            return None
        finally:
            child.close()
            os.close(out_write)
        return parent, out_read

    def start_serial(self, host: Host) -> bool:
        """Have the host fork its shared child, unless it has one; False when it could not (every check of it
        then runs in a child of its own)."""
        if host.serial is None and not host.serial_off:
            channels = self.fork_child(host, b"S")
            if channels is None:
                host.serial_off = True
            else:
                host.serial, host.serial_out = channels
        return host.serial is not None

    @staticmethod
    def output_of(host: Host, limit: int) -> OutputTail:
        """A check's output starts with what the host printed while importing (as when each check imported)."""
        output = OutputTail(limit)
        output.add(bytes(host.preamble.head))
        output.add(bytes(host.preamble.tail))
        output.total += host.preamble.cut
        return output

    def left_behind(self, host: Host) -> bool:
        """Whether a check left something running: a process below the host beside its shared child, an
        orphan, or a thread in the shared child (which could print into, or change, later checks)."""
        hosts = {h.pid for h in self._hosts.values() if h is not None}
        below = system.live_descendants(host.pid)
        return (len(below) != 1 or system.thread_count(below[0]) > 1
                or any(c not in hosts for c in system.children(self._client.pid)))

    def end_serial(self, host: Host, *, alone: Target | None = None) -> None:
        """Close the host's shared child's channels (it exits when its socket closes; a sweep sees to it);
        with `alone`, that class's later checks each run in a fresh child."""
        if alone is not None:
            host.alone.add(alone)
        host.ahead = None  # its answer is never read
        if host.serial is None:
            return
        host.serial.close()
        os.close(host.serial_out)
        host.serial, host.serial_out = None, -1
        self.sweep_due = host.pid

    def kill_serial(self, host: Host, *, alone: Target | None = None) -> None:
        """End the host's shared child at once: it and everything below the host are killed now (not at the
        next sweep), then its channels close (see end_serial)."""
        self._client.ask({"op": "sweep", "host": host.pid, "grace": 0.0})
        self.end_serial(host, alone=alone)

    def drop_ahead(self, keep: Host | None = None) -> None:
        """End the shared child of every host but `keep` that was sent a request ahead: nothing will read its
        answer, and what it runs (and started) is killed before anything else runs."""
        for host in self._hosts.values():
            if host is not None and host is not keep and host.ahead is not None:
                self.kill_serial(host)

    def drop(self, key: Module) -> None:
        """Stop a host that died or misbehaved; that module's checks then run in workers of their own."""
        host = self._hosts.get(key)
        self._hosts[key] = None
        if host is None:
            return
        self.end_serial(host)
        host.sock.close()
        os.close(host.out_fd)
        self._client.ask({"op": "reap", "pid": host.pid, "grace": 0.0})

    def sweep(self) -> dict | None:
        """Clear what the last forked check left, before anything else runs; None if the zygote failed.

        When nothing below the host runs any more and the zygote has no child but
        the hosts (no orphan), nothing is left to kill: the grader (root, like
        the zygote) deletes the temporary files itself, saving a round trip.
        Otherwise the zygote kills and reaps.
        """
        host, self.sweep_due = self.sweep_due, None
        if host is None:
            return {}
        hosts = {h.pid for h in self._hosts.values() if h is not None}
        if not system.live_descendants(host) and not [c for c in system.children(self._client.pid) if c not in hosts]:
            if self._files_uid is not None:
                system.remove_files_of(self._files_uid, keep=self._kept)
            return {"host_alive": system.is_alive(host)}
        reply, _ = self._client.ask({"op": "sweep", "host": host, "grace": EXIT_GRACE_SECONDS})
        return reply

    def close(self) -> None:
        """Close every host's channels (it ends when its socket closes; the zygote's exit kills it anyway)."""
        for host in self._hosts.values():
            if host is not None:
                self.end_serial(host)
                host.sock.close()
                os.close(host.out_fd)
        self._hosts.clear()
