"""Where does grading a correct submission spend its time? A profile, not a benchmark.

Run from the repository root:

    .venv/bin/python benchmarks/profile_grading.py [--top 25] [SUBMISSION]

It prints three things:

1. start-up: the cost of each import the `grade` command makes, timed in a
   fresh interpreter (so nothing is cached in memory);
2. the phases of one grading in this process (config, sandbox start, fixture
   loading, the checks, results JSON, report) and a cProfile of it;
3. the life of a check, phase by phase, as medians: the start of the host (or
   of a worker of its own) on the first check, then the checks its forks run.
   Timestamps are taken with CLOCK_MONOTONIC (shared by all processes) by
   wrappers installed before the zygote is forked, so the zygote and every
   worker inherit them. The wrappers only observe: they add three fields to the
   worker's messages, which the grader ignores.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IMPORT_STEPS = (  # what `grade` imports when the fixtures' own limits apply (as on Gradescope)
    ("numpy, yaml (the floor)", "import numpy, yaml"),
    ("autograder.cli", "import autograder.cli"),
    ("autograder.limits", "import autograder.limits"),
    ("autograder.grade (sandbox, compare, fixtures, results)", "import autograder.grade"),
    ("autograder.report", "import autograder.report, autograder.results"),
)


def startup_costs() -> list[tuple[str, float]]:
    """Each import of `python -m autograder grade`, in order, in a fresh interpreter."""
    code = ["import json, time", "out = []"]
    for label, stmt in IMPORT_STEPS:
        code += ["t = time.perf_counter()", stmt, f"out.append(({label!r}, time.perf_counter() - t))"]
    code.append("print(json.dumps(out))")
    text = "\n".join(code)
    runs = []
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", text], cwd=ROOT, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
    return [(label, statistics.median(r[i][1] for r in runs)) for i, (label, _) in enumerate(runs[0])]


WORKER_STEPS = ("die_with_parent", "apply_limits", "drop_privileges", "no_new_privileges", "close_fds_except")


# -- lifecycle instrumentation ------------------------------------------------------------------
class Lifecycle:
    """Wrappers that timestamp each phase of a check, in the grader, the zygote and the worker."""

    def __init__(self, zygote_log: Path) -> None:
        self.grader_pid = os.getpid()
        self.zygote_log = str(zygote_log)
        self.checks: list[dict[str, float]] = []  # grader side, one dict per check
        self.current: dict[str, float] = {}
        self.forked_at = 0.0  # in a worker: when the zygote called fork
        self.entered_at = 0.0  # in a worker: when it had entered the sandbox
        self.request_read = 0.0  # in a worker: when it had read the request
        self.in_check = False  # in a child a host forked (for one check, or shared by several)
        self.zygote_events: dict[str, float] = {}
        self.worker_parts: dict[str, float] = {}  # in a worker: time in each step of entering the sandbox
        self.active: set[str] = set()  # keys being timed now (a recursive call is timed once)
        self.prepared_at = 0.0  # when Sandbox.prepare asked for the host, before the first check

    def install(self) -> None:
        import shutil

        from autograder.sandbox import protocol, runner, system, transport, worker, zygote, zygote_client

        try:
            from autograder.sandbox import files
        except ImportError:  # an older tree
            files = None

        me = self

        def timed(owner: Any, name: str, key: str, *, where: str) -> None:
            """Time calls of owner.name (if it exists here) into the bucket of the process making them."""
            original = getattr(owner, name, None)
            if original is None:
                return

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if (where == "grader") != (os.getpid() == me.grader_pid) or key in me.active:
                    return original(*args, **kwargs)  # another process's business, or a recursive call
                me.active.add(key)
                start = time.monotonic()
                try:
                    return original(*args, **kwargs)
                finally:
                    me.active.discard(key)
                    # a worker is the only process with a fork timestamp of its own
                    bucket = (me.current if where == "grader" else me.worker_parts if me.forked_at
                              else me.zygote_events)
                    bucket[key] = bucket.get(key, 0.0) + time.monotonic() - start

            setattr(owner, name, wrapper)

        # grader side: each Sandbox.run is one check; the spawn request and its reply; the two messages
        me.wrap_run(runner.Sandbox)
        client = zygote_client.ZygoteClient
        ask = client.ask

        def grader_ask(zygote_end: Any, message: dict[str, Any] | None, *args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            reply = ask(zygote_end, message, *args, **kwargs)
            if message is None:  # the reply to the spawn Sandbox.prepare sent before this check
                me.current.update(spawn_sent=me.prepared_at, spawn_reply=time.monotonic())
            elif message.get("op") == "spawn":
                me.current.update(spawn_sent=start, spawn_reply=time.monotonic())
            return reply

        client.ask = grader_ask
        if hasattr(runner.Sandbox, "prepare"):
            prepare = runner.Sandbox.prepare

            def grader_prepare(sandbox: Any, *args: Any, **kwargs: Any) -> Any:
                me.prepared_at = time.monotonic()
                return prepare(sandbox, *args, **kwargs)

            runner.Sandbox.prepare = grader_prepare
        receive = transport.receive

        def grader_receive(*args: Any, **kwargs: Any) -> Any:
            header, arrays, why = receive(*args, **kwargs)
            now = time.monotonic()
            if header and header.get("event") == "imported":
                me.current.update({f"worker:{k}": v for k, v in header.get("bench_parts", {}).items()})
                me.current.update(imported_received=now, import_s=header.get("seconds", 0.0),
                                  started=header.get("bench_forked", 0.0), entered=header.get("bench_entered", 0.0))
            elif header and header.get("event") == "result":
                me.current.update(result_received=now, call_s=header.get("seconds", 0.0),
                                  result_sent=header.get("bench_sent", 0.0), forked=header.get("bench_forked", 0.0),
                                  request_read=header.get("bench_request_read", 0.0),
                                  hosted=bool(header.get("bench_hosted")))
            return header, arrays, why

        transport.receive = grader_receive

        # zygote side: whichever of these exist in this version, logged before each reply it sends
        for owner, name in ((zygote, "_preload"), (zygote, "_spawn"), (zygote, "_reap"), (zygote, "_sweep"),
                            (system, "live_descendants"), (tempfile, "mkdtemp"),
                            (shutil, "copytree"), (system, "copy_tree"), (system, "chown_tree"),
                            (files, "copy_tree"), (files, "private_folder"), (files, "remove_tree"),
                            (system, "set_pipe_size"), (shutil, "rmtree"), (system, "wait_exit"), (time, "sleep"),
                            (system, "kill_process_group"), (system, "kill_all_children"),
                            (system, "remove_files_of"), (system, "tasks_of")):
            timed(owner, name, name.lstrip("_"), where="zygote")
        real_fork = os.fork

        def fork() -> int:
            parent, at = os.getpid(), time.monotonic()
            pid = real_fork()
            if pid == 0 and parent != me.grader_pid:  # a worker (the zygote itself is forked by the grader)
                me.forked_at, me.worker_parts = at, {"child_runs": time.monotonic() - at}
            elif pid and parent != me.grader_pid:
                me.zygote_events["fork (in the zygote)"] = time.monotonic() - at
            return pid

        os.fork = fork

        def flush_zygote_events() -> None:
            if os.getpid() != me.grader_pid and not me.forked_at and me.zygote_events:
                with open(me.zygote_log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(me.zygote_events) + "\n")
                me.zygote_events = {}

        if hasattr(zygote, "Channel"):
            channel_send = zygote.Channel.send

            def zygote_channel_send(channel: Any, *args: Any, **kwargs: Any) -> None:
                flush_zygote_events()
                return channel_send(channel, *args, **kwargs)

            zygote.Channel.send = zygote_channel_send
        elif hasattr(zygote, "send_json"):
            send_json = zygote.send_json

            def zygote_send_json(*args: Any, **kwargs: Any) -> None:
                flush_zygote_events()
                return send_json(*args, **kwargs)

            zygote.send_json = zygote_send_json

        # worker side: when it entered the sandbox, read the request and sent each message
        enter = worker._enter_sandbox

        def worker_enter(*args: Any) -> str:
            workdir = enter(*args)
            me.entered_at = time.monotonic()
            return workdir

        worker._enter_sandbox = worker_enter
        if hasattr(worker, "_answer"):  # a child forked by a host
            check = worker._answer

            def worker_check(*args: Any, **kwargs: Any) -> Any:
                me.in_check = True
                return check(*args, **kwargs)

            worker._answer = worker_check
        for name in WORKER_STEPS:
            timed(system, name, name, where="worker")
        timed(os, "setsid", "setsid", where="worker")
        send, read_message = protocol.send, protocol.read_message

        def worker_read_message(*args: Any, **kwargs: Any) -> Any:
            message = read_message(*args, **kwargs)
            if me.forked_at:
                me.request_read = time.monotonic()
            return message

        def worker_send(sock: Any, header: dict[str, Any], arrays: Any = None) -> None:
            if me.forked_at and header.get("event") in ("imported", "result"):
                header = dict(header, bench_forked=me.forked_at, bench_entered=me.entered_at,
                              bench_request_read=me.request_read, bench_sent=time.monotonic(),
                              bench_parts=me.worker_parts, bench_hosted=me.in_check)
            return send(sock, header, arrays)

        protocol.send, protocol.read_message = worker_send, worker_read_message

    def wrap_run(self, sandbox_class: type) -> None:
        """Each call of Sandbox.run starts a check's record and ends it."""
        run = sandbox_class.run
        me = self

        def grader_run(sandbox: Any, *args: Any, **kwargs: Any) -> Any:
            me.current = {"run_start": time.monotonic()}
            me.checks.append(me.current)
            try:
                return run(sandbox, *args, **kwargs)
            finally:
                me.current["run_end"] = time.monotonic()

        sandbox_class.run = grader_run

    def table(self) -> list[tuple[str, float, float]]:
        """(phase, median ms per occurrence, total ms over the grading)."""
        rows: dict[str, list[float]] = {}

        def add(name: str, value: float) -> None:
            rows.setdefault(name, []).append(value * 1e3)

        for line in Path(self.zygote_log).read_text().splitlines():
            for key, value in json.loads(line).items():
                add(f"zygote: {key}", value)
        checks = [c for c in self.checks if "result_received" in c]
        forks_seen: set[float] = set()  # a host's shared child answers many checks
        for c, following in zip(checks, checks[1:] + [{}]):
            if "spawn_reply" in c:
                add("grader: spawn request (prepare's, when it did) -> reply", c["spawn_reply"] - c["spawn_sent"])
            if "entered" in c:  # this check started a worker (the host, or a worker of its own)
                add("start: fork -> sandbox entered", c["entered"] - c["started"])
                parts = [k[len("worker:"):] for k in c if k.startswith("worker:")]
                for name in parts:
                    add(f"  start: {name}", c[f"worker:{name}"])
                add("  start: rest of entering (environ, stdio, chdir, sys.path, modules)",
                    c["entered"] - c["started"] - sum(c[f"worker:{name}"] for name in parts))
                add("start: import the submission", c["import_s"])
            if c.get("hosted") and c["forked"] in forks_seen:  # a later check of a shared child
                add("shared child: run() starts -> request read", c["request_read"] - c["run_start"])
            elif c.get("hosted") and c["forked"] < c["run_start"]:  # a shared child forked when the hosts were taken
                forks_seen.add(c["forked"])
                add("shared child (forked ahead): run() starts -> request read", c["request_read"] - c["run_start"])
            elif c.get("hosted"):
                forks_seen.add(c["forked"])
                add("forked child: run() starts -> the host forks (last sweep, descriptors)", c["forked"] - c["run_start"])
                add("forked child: fork -> request read", c["request_read"] - c["forked"])
            else:
                add("own worker: imported -> request read", c["request_read"] - c["entered"] - c["import_s"])
            add("check: student call (forward / backward)", c["call_s"])
            add("check: rest of the steps, result packed and sent", c["result_sent"] - c["request_read"] - c["call_s"])
            add("grader: result sent -> received", c["result_received"] - c["result_sent"])
            add("grader: result received -> run() returns (drain, sweep or reap request)",
                c["run_end"] - c["result_received"])
            add("grader: whole Sandbox.run", c["run_end"] - c["run_start"])
            if following:
                add("grader: between two runs (compare, messages)", following["run_start"] - c["run_end"])
        return [(name, statistics.median(v), sum(v)) for name, v in rows.items()]


def profile_grading(submission: Path, top: int, fixtures: Path | None = None) -> None:
    from autograder.report import render
    from autograder.results import to_gradescope, write_results
    import autograder.grade as grade
    from autograder.sandbox import runner

    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        life = Lifecycle(Path(tmp) / "zygote.jsonl")
        life.install()
        phases: dict[str, float] = {}

        def phase(name: str, owner: Any, attr: str) -> None:
            original: Callable[..., Any] = getattr(owner, attr)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if os.getpid() != life.grader_pid:
                    return original(*args, **kwargs)
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

            setattr(owner, attr, wrapper)

        phase("locate the submission", grade, "locate")
        phase("start the sandbox (stage copy, fork zygote)", grade, "open_sandbox")
        phase("load fixtures", grade, "load_cases")
        phase("checks: sandbox.run", runner.Sandbox, "run")
        phase("checks: compare + messages", grade, "explain")
        phase("stop the sandbox", runner.Sandbox, "close")
        profiler = cProfile.Profile()
        t1 = time.perf_counter()
        profiler.enable()
        # the fixtures' own limits, as on Gradescope
        result = grade.grade_submission(submission, **({"fixtures": fixtures} if fixtures else {}))
        profiler.disable()
        t2 = time.perf_counter()
        document = to_gradescope(result)
        write_results(document, Path(tmp) / "results.json")
        t3 = time.perf_counter()
        render(result)
        t4 = time.perf_counter()
        lifecycle = life.table()

    print(f"\n2. One grading of {submission} in this process: score {result.score:g}/{result.max_score:g}, "
          f"{len(result.checks)} checks")
    for check in [c for c in result.checks if not c.passed][:3]:
        print(f"  FAILED {check.name}: {check.message.splitlines()[0] if check.message else ''}")
    print(f"  {'grade_submission (under cProfile)':<58} {1e3 * (t2 - t1):8.1f} ms")
    for name, seconds in phases.items():
        print(f"    {name:<56} {1e3 * seconds:8.1f} ms")
    print(f"  {'to_gradescope + write_results':<58} {1e3 * (t3 - t2):8.1f} ms")
    print(f"  {'render (terminal report)':<58} {1e3 * (t4 - t3):8.1f} ms")
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(top)
    print("\n  cProfile of grade_submission (grader process only), by cumulative time:")
    print("\n".join("  " + line for line in stream.getvalue().splitlines() if line.strip())[:12000])

    print("\n3. A check, phase by phase (ms; median per occurrence, and total over the grading). 'start' is the\n"
          "   first check's host (or a worker of its own) entering the sandbox and importing; 'shared child' the\n"
          "   child of the host that answers check after check; 'forked child' one the host forks (the shared one,\n"
          "   or one for a single check). The zygote's work (spawn, sweeps) partly overlaps the others'.")
    for name, median, total in lifecycle:
        print(f"  {name:<70} {median:7.2f} {total:8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile the grading of one submission.")
    parser.add_argument("submission", type=Path, nargs="?", default=ROOT / "benchmarks" / "submissions" / "correct.py")
    parser.add_argument("--top", type=int, default=25, help="cProfile rows to show (default %(default)s)")
    parser.add_argument("--fixtures", type=Path, help="the fixtures folder (default: the Softmax assignment's); "
                        "e.g. examples/hw1p1/test_cases with examples/hw1p1/reference")
    args = parser.parse_args(argv)
    print("1. Start-up of `python -m autograder grade`, step by step (median of 5 fresh interpreters):")
    total = 0.0
    for label, seconds in startup_costs():
        total += seconds
        print(f"  {label:<58} {1e3 * seconds:8.1f} ms")
    print(f"  {'sum':<58} {1e3 * total:8.1f} ms")
    profile_grading(args.submission.resolve(), args.top, args.fixtures and args.fixtures.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
