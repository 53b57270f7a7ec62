"""The hardened backend (Linux, root on Gradescope): the zygote, its hosts and their children, as one Sandbox.

``Sandbox`` must be started before any fixture is loaded: it forks the
zygote, and every worker is forked from that clean copy. Its parts, one job
each: zygote_client.py talks to the zygote, hosts.py keeps the hosts and
clears what their checks leave, executors.py runs a check in one place, and
escalation.escalate decides where a check runs and runs again. Every wait
has a deadline, so neither a worker nor a stuck zygote can hold the grader:
once the budget is spent, remaining tests fail at once, and if the zygote
stops answering, it is killed and the remaining tests fail with that reason.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..limits import Limits
from . import files, system, worker
from .base import Ahead, Module, SandboxBase, Target, import_share
from .escalation import FROM_FRESH_CHILD, FROM_SHARED_CHILD, Place, escalate
from .executors import MAX_RESULT_BYTES, Executors, describe_status, module_of
from .hosts import Host, Hosts
from .outcome import CallOutcome
from .staging import stage_submission
from .zygote_client import ZYGOTE_REPLY_SECONDS, ZygoteClient

__all__ = ["Sandbox", "describe_status"]

HOSTING = sys.platform.startswith("linux")  # the sweep between checks finds processes through /proc
TOGETHER = "*"  # the module name of a host of several modules: no module has it
WAITING: Module = ("", "?")  # the key of the host started before the grader knows what it imports
# Wall-clock seconds a host of several modules has for all its imports (at most one import's limit): a
# submission's files import in milliseconds; slower ones are left to a host each, which import in parallel.
TOGETHER_SECONDS = 1.0


class Sandbox(SandboxBase):
    """Runs checks of one submission, each in a fresh, limited, unprivileged worker.

    ``limits`` and ``budget_left`` may be set after construction (before
    the first ``run``), once the fixtures that state them are read.

    With ``hosting`` (the default on Linux), the first check of a submission
    starts a *host*: a worker that enters the sandbox and imports the
    submission once. Checks then run in one *shared* child the host forks,
    one after another, each on a fresh instance: a process per check would
    cost several times the checks themselves. Only answers come from the
    shared child: anything else (an exception, a crash, an answer too large)
    ends it, and that check and every later one runs in a fresh child forked
    from the clean post-import state. So does a check whose answer the grader
    finds wrong (``run(fresh=True)``): a failure is always decided in a
    process that ran nothing else. A check that crashes in a fresh child is
    run again in a worker of its own; if the host dies, or cannot fork safely
    (threads), every check gets a worker of its own, as without hosting.

    With ``together`` (the default), the modules prepared together share one
    host, which imports them one after another, each with none of the others'
    modules loaded (and each check runs with its own file's only): a host per
    file costs more than most checks. It is used only while the imports went
    as each would alone, and fast: none failed, printed or changed what the
    others run with (see worker._shared_state), and all were done within
    TOGETHER_SECONDS. Else each module gets a host of its own, as without
    ``together``, and the host of several is not held against any file. Only
    passes come from it: a check that fails in its child is decided again in
    a fresh child of its module's own host (started then), so a wrong answer
    is always decided where its file was imported alone; a check that hangs
    there drops it, and runs again in its file's own host.

    ``zygote_reply_seconds`` is how long the zygote may take to answer before
    it is declared broken; ``on_zygote_request`` sees the op of each request
    the grader awaits a reply to (see ZygoteClient), for tests and profiling.
    """

    name = "hardened"

    def __init__(self, stage_from: Path, import_root: str, module: str, class_name: str, limits: Limits,
                 *, grader_root: Path | None = None, hosting: bool = HOSTING, together: bool = True,
                 zygote_reply_seconds: float = ZYGOTE_REPLY_SECONDS,
                 on_zygote_request: Callable[[str | None], None] | None = None) -> None:
        super().__init__((import_root, module, class_name), limits)
        self.hosting = hosting
        self.together = together
        self.account = system.sandbox_account()
        self._closed = False
        self._closing = False  # begin_close was called: nothing runs any more
        # <tmp>/autograder-XXXX (0711) holds the pristine copy (stage/, 0700) and one folder per worker
        self._parent = Path(files.private_folder(tempfile.gettempdir(), "autograder-", 0o711))
        stage = self._parent / "stage"
        try:
            self.skipped = stage_submission(Path(stage_from), stage)
        except BaseException:  # a copy that failed, or Ctrl-C: no folder outlives the run (as in portable)
            files.remove_tree(str(self._parent))
            raise
        owner = self.account.uid if self.account else os.getuid()
        spec = {
            "stage": str(stage),
            "import_root": import_root,
            "module": module,
            "class_name": class_name,
            "grader_root": str(grader_root) if grader_root else None,
            "uid": self.account.uid if self.account else None,
            "gid": self.account.gid if self.account else None,
            "tmp_root": str(self._parent),
            "max_result_bytes": MAX_RESULT_BYTES,
        }
        nproc_base = system.tasks_of(owner)  # RLIMIT_NPROC counts every process of the account
        # Should the zygote die, its workers and their descendants are handed to us, not to init.
        self._children_before = set(system.children(os.getpid()))
        self._was_subreaper = system.is_subreaper()
        system.become_subreaper()
        # the account's files in shared temporary folders are deleted after each test: only a dedicated account's
        dedicated = self.account is not None and self.account.dedicated
        self._files_uid = self.account.uid if dedicated else None  # whose temporary files a sweep deletes
        self.zygote = ZygoteClient(self.account.uid if dedicated else None, str(stage),
                                   isolate=self.account is not None, spare=self._children_before,
                                   reply_seconds=zygote_reply_seconds, on_request=on_zygote_request,
                                   remove=str(self._parent))
        self.hosts = Hosts(self.zygote, self._files_uid)
        self._executors = Executors(self, self.zygote, self.hosts, spec, nproc_base)
        self._ahead: list[Target] = []  # hosts started by prepare, not yet taken
        self._files_before: set[tuple[str, int]] = set()  # the account's temporary files when they started
        self._ahead_failed: dict[Module, CallOutcome] = {}  # ... whose import failed: their first check's outcome
        self._ahead_together: tuple[Target, dict[Module, Target]] | None = None  # a host of several, not taken
        self._together: set[Module] = set()  # the modules the host of several serves (key: _together_key)
        self._together_key: Module = ("", TOGETHER)
        self._together_alone: set[Target] = set()  # its classes decided alone (Host.alone), its files' hosts' too
        # A host started now, before the grader has read the fixtures: it enters the sandbox meanwhile and waits,
        # having run nothing of the submission, to be told what to import (prepare; worker._through_gate).
        self._waiting = self.hosting and self.zygote.broken is None
        if self._waiting:
            self.zygote.spawn_ahead(WAITING, dict(spec, host=True, gate=True))

    @property
    def zygote_pid(self) -> int:
        """The zygote's pid; -1 once it was killed."""
        return self.zygote.pid

    @property
    def _broken(self) -> str | None:  # type: ignore[override]  # why nothing more can run: the zygote failed
        return self.zygote.broken

    def host_pids(self) -> dict[Module, int | None]:
        """Each module whose checks started so far, and its host's pid (None: its checks run in workers of
        their own: hosting is off, the import left threads, or the host died or hung)."""
        return self.hosts.pids()

    def warnings(self) -> list[str]:
        """For the staff: where this sandbox is weaker than it should be (as root), in words; empty when not."""
        if self.account is None:
            return []
        return [self.account.note] * bool(self.account.note) + [
            f"student code was not isolated from the machine's {what}: this kernel or container refused a namespace"
            for what in self.not_isolated()]

    def not_isolated(self) -> list[str]:
        """What student code shares with the machine although it should not (as root): the network, System V
        IPC. Read from /proc while the zygote runs; empty when not root, or when all is isolated."""
        if self.account is None or self.zygote_pid <= 0:
            return []
        missing = []
        for name, what in (("net", "network"), ("ipc", "System V IPC")):
            try:
                if os.readlink(f"/proc/{self.zygote_pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}"):
                    missing.append(what)
            except OSError:  # no /proc, or the zygote is gone: unknown, and nothing to say
                pass
        return missing

    # -- lifecycle -------------------------------------------------------
    def begin_close(self) -> None:
        """No check runs any more: the hosts' channels close, and the zygote kills what is left and removes
        the copies while the grader goes on (the results); close() waits for it and makes sure."""
        if self._closed or self._closing:
            return
        self._closing = True
        self.hosts.close()
        self.zygote.ask_exit()

    def close(self) -> None:
        """Stop the zygote (which kills anything left), make sure nothing survives, remove the copies."""
        if self._closed:
            return
        self._closed = True
        self.begin_close()
        self.zygote.close()
        # anything orphaned and handed to us (the zygote was killed, or died) goes too, and what the
        # account left in the shared temporary folders when the zygote could not finish removing it
        system.kill_all_children(spare=self._children_before)
        if self._files_uid is not None:
            system.remove_files_of(self._files_uid)
            system.remove_ipc_objects(self._files_uid)  # the machine's: where the zygote had no namespace of its own
        if not self._was_subreaper:
            system.become_subreaper(False)
        files.remove_tree(str(self._parent))

    def prepare(self, *targets: Target) -> None:
        """Start the targets' hosts now, all at once: they enter the sandbox and import while the grader reads
        the fixtures, and the first run() finds them (nearly) ready. Call once `limits` are set.

        Several modules of one import root get one host that imports them all (see the class's docstring).
        Hosts started together share the cores, so each import may take its time limit times (hosts /
        cores) of wall-clock time: as much CPU as it would have alone. The first run() takes them all,
        before any check runs: the temporary files the account has then were made by imports, and stay
        (see Hosts.keep_import_files); those of checks never do.
        """
        if not self.hosting or self._broken is not None or self._closed or self.zygote.reaping:
            return
        pending = self._ahead_together[1] if self._ahead_together else {}
        modules = {module_of(t): t for t in targets if module_of(t) not in self.hosts and module_of(t) not in pending
                   and module_of(t) not in self._together and not self.zygote.spawned_ahead(module_of(t))}
        roots = {root for root, _ in modules}
        self._files_before = self._files_now()
        if self.together and len(modules) > 1 and len(roots) == 1 and not self._together and not pending:
            key = (roots.pop(), TOGETHER, "")
            spec = self._executors.worker_spec(key, self.limits.call_timeout, host=True,
                                               modules=[name for _, name in modules])
            # its wall-clock time for all its imports, TOGETHER_SECONDS, as a share of one import's limit
            self._spawn_ahead(module_of(key), spec, min(1.0, TOGETHER_SECONDS / self.limits.import_timeout))
            self._ahead_together = key, modules
            return
        self._spawn_each(modules)

    def _spawn_each(self, modules: dict[Module, Target]) -> None:
        """A host of its own for each module, started now (see prepare)."""
        share = import_share(len(modules))
        for module, target in modules.items():
            self._spawn_ahead(module, self._executors.worker_spec(target, self.limits.call_timeout, host=True), share)
            self._ahead.append(target)

    def _spawn_ahead(self, module: Module, spec: dict[str, Any], share: float) -> None:
        """Start a host for `module` whose import goes on while the grader works: the waiting host, told now,
        while no check has run yet; else a new one."""
        if self._waiting and not self._executors.checks_ran:
            self._waiting = False
            if self.zygote.go(WAITING, module, {key: spec[key] for key in worker.GATE_KEYS}, share):
                return
        self.zygote.spawn_ahead(module, spec, share)

    def _drop_waiting(self) -> None:
        """The waiting host, if nothing took it, ends (the first check did not come through prepare)."""
        if self._waiting:
            self._waiting = False
            self.zygote.drop_spawned(WAITING)

    def _take_hosts(self, started: float) -> CallOutcome | None:
        """Take every host started ahead (see prepare), in order; an outcome when the zygote failed. A host
        whose import failed keeps its outcome for its module's first check."""
        if self._ahead_together is not None:
            failure = self._take_together(started)
            if failure is not None:
                return failure
        ahead, self._ahead = self._ahead, []
        for target in ahead:
            module = module_of(target)
            outcome = self._executors.in_own_worker([], {}, self.limits.call_timeout, target, started, host=True)
            host = self.hosts.get(module)
            if outcome.kind == "hosted" and host is not None:
                if not self.zygote.tell_later({"op": "hosted", "pid": host.pid}):
                    return self._lost()
            elif outcome.kind == "hosted" or outcome.kind.import_failed or outcome.phase == "import":
                self.hosts.set(module, None)  # not forkable: workers of its own; else its import failure, kept
                if outcome.kind != "hosted":
                    self._ahead_failed[module] = outcome
            elif self._broken is not None:
                return self._lost()
        self.hosts.keep_import_files(self._files_before)  # what the imports left stays, as when each check imported
        # each forks its shared child now, all at once, rather than at its first check
        for module in [module_of(t) for t in ahead] + [self._together_key] * bool(self._together):
            host = self.hosts.get(module)
            if host is not None:
                self.hosts.start_serial(host)
        return None

    def _take_together(self, started: float) -> CallOutcome | None:
        """Take the host of several modules started ahead, or else start a host for each (see prepare): an
        import that failed, printed, hung or was slow is then done again, as alone; an outcome when the
        zygote failed."""
        assert self._ahead_together is not None
        key, modules = self._ahead_together
        self._ahead_together = None
        outcome = self._executors.in_own_worker([], {}, self.limits.call_timeout, key, started, host=True)
        host = self.hosts.get(module_of(key))
        if outcome.kind == "hosted" and host is not None and not host.preamble.total:
            if not self.zygote.tell_later({"op": "hosted", "pid": host.pid}):
                return self._lost()
            self._together, self._together_key = set(modules), module_of(key)
            self._together_alone = host.alone
            return None
        if host is not None:  # it printed while importing: each check shows what its own file's import printed
            self.hosts.drop(module_of(key))
        if self._broken is not None or self.zygote.settle() is None:
            return self._lost()
        self._spawn_each(modules)
        return None

    # -- one check ---------------------------------------------------------
    def _run_any(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                 key: Target, started: float, fresh: bool = False, then: Ahead | None = None) -> CallOutcome:
        """Through the host of several modules when it serves the target's (what does not stand there goes on
        to the module's own host), else through the module's own host when it has one (started on the
        module's first check), else in a worker of its own."""
        run = self._executors
        self._drop_waiting()
        # a request sent ahead is answered only where it went, and only if it is this very check (see Ahead)
        serving = None if fresh else self._serving_host(key)
        ahead = serving.ahead if serving is not None else None
        self.hosts.drop_ahead(keep=serving if ahead is not None and ahead.steps is steps and ahead.target == key
                              else None)
        failure = self._take_hosts(started) if self._ahead or self._ahead_together else self._swept()
        if failure is not None:
            return failure
        module = module_of(key)
        if module in self._ahead_failed:  # its import failed while it was started ahead
            return self._ahead_failed.pop(module)
        run.checks_ran = True
        together = self.hosts.get(self._together_key) if module in self._together else None
        if together is not None:  # its module's own host only decides what did not pass (started then)
            places = self._shared_place(together, self._together_key, steps, inputs, call_timeout, key, started,
                                        fresh, hang_stands=False, then=then)
            places.append(Place(lambda: self._in_module_host(steps, inputs, call_timeout, key, started),
                                stands=FROM_FRESH_CHILD, give_up=lambda: self.hosts.drop(module),
                                refusal_gives_up=True))
        else:
            if self.hosting and module not in self.hosts:
                first = self._start_host(steps, inputs, call_timeout, key, started)
                if first is not None:
                    return first
            host = self.hosts.get(module)
            places = []
            if host is not None:
                places = self._shared_place(host, module, steps, inputs, call_timeout, key, started, fresh, then=then)
                places.append(Place(lambda: run.in_fresh_child(host, key, steps, inputs, call_timeout, started),
                                    stands=FROM_FRESH_CHILD, give_up=lambda: self.hosts.drop(module),
                                    refusal_gives_up=True))
        places.append(Place(lambda: run.in_own_worker(steps, inputs, call_timeout, key, started)))
        return escalate(places, stopped=lambda: self._broken is not None or self.zygote.ended(),
                        spent=lambda: time.monotonic() - started >= self.budget_left, lost=self._lost)

    def _shared_place(self, host: Host, module: Module, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray],
                      call_timeout: float, key: Target, started: float, fresh: bool, *,
                      hang_stands: bool = True, then: Ahead | None = None) -> list[Place]:
        """The host's shared child as the first place of a check, unless the check must run in a fresh
        process: asked to (`fresh`), or one of its class did not pass before. Without `hang_stands` (the host
        of several, whose other files' imports may slow a check down), a check that hangs there drops the
        host and runs again in its file's own host: once, as the host is then gone. `then` goes ahead only
        to the shared child that would answer it too."""
        if fresh or host.serial_off or key in host.alone:
            self.hosts.end_serial(host, alone=key)  # the sweep after a fresh child would kill it
            return []
        if then is not None and self._serving_host(then.target) is not host:
            then = None
        return [Place(lambda: self._executors.in_shared_child(host, key, steps, inputs, call_timeout, started, then),
                      stands=FROM_SHARED_CHILD, give_up=lambda: self.hosts.drop(module), before_next=self._swept,
                      hang_stands=hang_stands)]

    def _serving_host(self, key: Target) -> Host | None:
        """The host whose shared child a check of `key` goes to first, if any (see _run_any, _shared_place)."""
        module = module_of(key)
        host = self.hosts.get(self._together_key if module in self._together else module)
        return None if host is None or host.serial_off or key in host.alone else host

    def _in_module_host(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                        key: Target, started: float) -> CallOutcome | None:
        """The check in a fresh child of its module's own host, started now if it has none; the outcome of
        that start when it ends the check (see _start_host); None when the module has no host."""
        module = module_of(key)
        # What the shared child of several left goes first: none of it may pass for the import's, nor run on
        # beside this check (the sweep due after it would be this host's, which leaves the other's alone).
        failure = self._swept()
        if failure is not None:
            return failure
        if module not in self.hosts:
            first = self._start_host(steps, inputs, call_timeout, key, started)
            if first is not None:
                return first
        host = self.hosts.get(module)
        if host is None:
            return None
        return self._executors.in_fresh_child(host, key, steps, inputs, call_timeout, started)

    def _start_host(self, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], call_timeout: float,
                    key: Target, started: float) -> CallOutcome | None:
        """The first check of the target's module starts its host; an outcome when that ends the check (the
        import failed, the budget is spent, the zygote failed), None when the check is to run (with or without
        a host)."""
        module = module_of(key)
        self.hosts.set(module, None)
        before = self._files_now()
        first = self._executors.in_own_worker(steps, inputs, call_timeout, key, started, host=True)
        if first.kind != "hosted":
            return first  # the import failed (as it would in a worker of its own), or the budget is spent
        host = self.hosts.get(module)
        if host is not None:
            if module in self._together:  # one set: a class decided alone stays so, whichever host serves it
                host.alone = self._together_alone
            if not self.zygote.tell_later({"op": "hosted", "pid": host.pid}):
                return self._lost()
            self.hosts.keep_import_files(before)  # what the import left stays, as when each check imported
        return None

    def _files_now(self) -> set[tuple[str, int]]:
        """The account's temporary files before a host starts: what its import makes is what was not there.
        Before any check ran, all of them count as the imports' (as they always did), and none is listed."""
        return self.hosts.files_now() if self._executors.checks_ran else set()

    def _swept(self) -> CallOutcome | None:
        """Sweep what the last check left, if due; an outcome when the zygote failed."""
        if self.hosts.sweep_due is not None and self.hosts.sweep() is None:
            return self._lost()
        return None

    def _lost(self) -> CallOutcome:
        return CallOutcome("sandbox", detail=self._broken or "")
