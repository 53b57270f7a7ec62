"""The sandbox's parts, in this process: the wire protocol, output capture, staging, and the
grader's side when the zygote dies or stops answering (which no submission can cause when
grading as root, so it is provoked here from outside)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from autograder.config import Limits
from autograder.sandbox import executors, protocol, staging, system, transport, worker
from autograder.sandbox.capture import OutputTail
from autograder.sandbox.base import Ahead, import_share
from autograder.sandbox.runner import TOGETHER_SECONDS, Sandbox, describe_status
from autograder.sandbox.staging import stage_submission
from helpers import PROJECT

FORWARD = [{"op": "call", "method": "forward", "args": ["Z"], "graded": True}]
Z = np.array([[1.0, 2.0, 3.0]])
LIMITS = Limits(call_timeout=2, import_timeout=2, budget=10)


# -- protocol ------------------------------------------------------------------------------------
def frame(header: bytes, data: bytes = b"") -> bytes:
    return protocol.MAGIC + struct.pack(">I", len(header)) + header + data


def test_round_trip_keeps_bits_and_what_follows():
    array = np.array([[0.1, -2.5e-300, np.nan]], dtype=np.float64)
    reader = protocol.Reader(max_array_bytes=1 << 20)
    assert reader.feed(protocol.pack({"event": "result"}, {"result": array}) + b"NEXT")
    assert reader.arrays["result"].tobytes() == array.tobytes()
    assert bytes(reader.rest) == b"NEXT"


@pytest.mark.parametrize("dtype", sorted(protocol.WIRE_DTYPES))
@pytest.mark.parametrize("shape", [(2, 3), (0, 3), ()])
def test_every_wire_dtype_and_shape_travels_exactly(dtype, shape):
    array = (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    reader = protocol.Reader(max_array_bytes=1 << 20)
    assert reader.feed(protocol.pack({}, {"a": array, "b": np.asfortranarray(np.ones((3, 4)))[:, ::2]}))
    got = reader.arrays["a"]
    native = array.astype(array.dtype.newbyteorder("="))  # either byte order arrives in this machine's
    assert got.dtype == native.dtype and got.dtype.isnative and got.shape == array.shape
    assert got.tobytes() == native.tobytes()
    assert np.array_equal(reader.arrays["b"], np.ones((3, 2)))


@pytest.mark.parametrize("data, words", [
    (b"XXXX" + b"\0" * 8, "protocol marker"),
    (frame(b"[" * 100000 + b"]" * 100000), "RecursionError"),
    (frame(b"\xff\xfe"), "not valid JSON"),
    (frame(b"[1, 2]"), "not a JSON object"),
    (protocol.MAGIC + struct.pack(">I", protocol.MAX_HEADER_BYTES + 1), "over the"),
    (frame(json.dumps({"arrays": {"a": {"dtype": "|O", "shape": [1], "nbytes": 8, "sendable": True}}}).encode()),
     "malformed"),
    (frame(json.dumps({"arrays": {"a": {"dtype": "<f8", "shape": [2], "nbytes": 8, "sendable": True}}}).encode()),
     "claims 8 bytes"),
    (frame(json.dumps({"arrays": {name: {"dtype": "<f8", "shape": [100], "nbytes": 800, "sendable": True}
                                  for name in "abc"}}).encode()), "over the 2000-byte limit"),
])
def test_malformed_messages_are_protocol_errors(data, words):
    with pytest.raises(protocol.ProtocolError, match=words.replace("(", r"\(").replace(")", r"\)")):
        protocol.Reader(max_array_bytes=2000).feed(data)


def test_a_large_result_is_described_not_sent():
    meta = protocol.describe_array(np.zeros((100, 100)), max_bytes=1000)
    assert meta["sendable"] is False and meta["too_large"] == 80000 and meta["shape"] == [100, 100]


# -- output capture --------------------------------------------------------------------------------
def test_output_keeps_head_and_tail_and_says_how_much_was_cut():
    tail = OutputTail(30)
    tail.add(b"HEAD" + b"x" * 1000)
    tail.add(b"\x00\x1b[31m" + b"y" * 100 + b"\xffTAIL")
    text = tail.text()
    assert text.startswith("HEAD") and text.endswith("TAIL") and "bytes of output cut" in text
    assert "\x00" not in text and "\x1b" not in text
    assert tail.total == 1004 + 6 + 100 + 5


# -- staging ---------------------------------------------------------------------------------------
def test_staging_copies_files_only_and_never_follows_links(tmp_path):
    src = tmp_path / "submission"
    (src / "mytorch" / "nn").mkdir(parents=True)
    (src / "mytorch" / "nn" / "activation.py").write_text("x = 1\n")
    (src / "mytorch" / "nn" / "answers").symlink_to(PROJECT / "test_cases")
    (src / "secret.yaml").symlink_to(PROJECT / "test_cases" / "01_writeup_example.yaml")
    (src / "big.npy").write_bytes(b"\0" * (staging.STAGE_MAX_FILE_BYTES + 1))
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "x.pyc").write_bytes(b"")
    skipped = stage_submission(src, tmp_path / "stage")
    copied = sorted(str(p.relative_to(tmp_path / "stage")) for p in (tmp_path / "stage").rglob("*"))
    assert copied == ["mytorch", "mytorch/nn", "mytorch/nn/activation.py"]
    assert any("answers" in s and "link" in s for s in skipped) and any("big.npy" in s for s in skipped)


# -- limits ----------------------------------------------------------------------------------------
def test_limits_cpu_soft_then_hard_and_memory_on_top_of_the_start_size():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            before = system.address_space_bytes()
            system.apply_limits({"cpu_seconds": 7, "memory_mb": 100, "max_file_mb": 1, "nproc": 0})
            values = [resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_AS)[0] - before,
                      resource.getrlimit(resource.RLIMIT_FSIZE)]
            os.write(write, json.dumps(values).encode())
        finally:
            os._exit(0)
    os.close(write)
    cpu, extra, fsize = json.loads(os.read(read, 1000))
    os.waitpid(pid, 0)
    assert cpu == [7, 8] and fsize == [1 << 20, 1 << 20]
    assert 99 << 20 <= extra <= 101 << 20


def test_status_words_name_the_likely_limit():
    assert "CPU-time limit" in describe_status(signal.SIGXCPU)  # a raw wait status: killed by that signal
    assert "segmentation fault" in describe_status(signal.SIGSEGV)
    assert "exited with status 3" in describe_status(3 << 8)


# -- the zygote failing ----------------------------------------------------------------------------
def reference_sandbox(**options) -> Sandbox:
    return Sandbox(PROJECT / "reference", ".", "mytorch.nn.activation", "Softmax", LIMITS, **options)


@pytest.fixture()
def sandbox(sandbox_account):
    box = reference_sandbox()
    yield box
    box.close()


def own_children() -> list[int]:
    return system.children(os.getpid())


def test_zygote_killed_between_tests_fails_the_rest_honestly(sandbox):
    assert sandbox.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"
    os.kill(sandbox.zygote_pid, signal.SIGKILL)
    time.sleep(0.05)
    for _ in range(2):
        outcome = sandbox.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert outcome.kind == "sandbox" and "stopped working (it was killed by SIGKILL" in outcome.detail
    sandbox.close()
    assert own_children() == []


def test_zygote_that_stops_answering_is_killed_within_the_deadline(sandbox_account):
    with reference_sandbox(hosting=False, zygote_reply_seconds=0.5) as sandbox:  # every check asks for a worker
        assert sandbox.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"
        os.kill(sandbox.zygote_pid, signal.SIGSTOP)
        start = time.monotonic()
        outcome = sandbox.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert time.monotonic() - start < 2
        assert outcome.kind == "sandbox" and "no answer within 0.5 s" in outcome.detail
    assert own_children() == []


def test_zygote_killed_during_a_call_takes_its_worker_and_says_so(sandbox_account, tmp_path):
    (tmp_path / "activation.py").write_text(
        "import os, time\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        if os.fork() == 0:\n"  # a child that would outlive everyone if nothing killed it
        "            os.setsid(); time.sleep(60)\n"
        "        time.sleep(60)\n")
    box = Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS)
    killer = threading.Timer(0.5, os.kill, (box.zygote_pid, signal.SIGKILL))
    try:
        killer.start()
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=5)
        assert outcome.kind == "crashed" and "sandbox process" in outcome.detail and "stopped" in outcome.detail
        assert outcome.wall_seconds < 2, outcome
    finally:
        box.close()
    assert own_children() == []


def test_begin_close_leaves_the_clean_up_to_the_zygote_and_close_makes_sure(sandbox_account, tmp_path):
    """begin_close: the zygote kills what is left (a check's child that outlives it here) and removes the
    run's copies on its own, while the grader writes results; close() then finds nothing left to do."""
    (tmp_path / "activation.py").write_text(
        "import os, time\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        if os.fork() == 0:\n"
        "            os.setsid(); time.sleep(60)\n"
        "        return Z\n")
    box = Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS)
    try:
        assert box.run(FORWARD, {"Z": Z}, call_timeout=5).kind == "ok"
        parent, zygote = box._parent, box.zygote_pid
        assert parent.is_dir()
        box.begin_close()
        assert system.wait_exit(zygote, 5) is not None  # it ended by itself, having cleaned up first
        assert not parent.exists()
        box.begin_close()  # once is enough; a second call changes nothing
    finally:
        box.close()
    assert own_children() == []


def spare_child() -> tuple["worker._Spare", socket.socket]:
    """A host's spare shared child (worker._Spare) forked from this process, whose work is to say hello on the
    socket it is handed; and the host's grader socket, which the spare closes."""
    def serve(channels: list[int]):
        with socket.socket(fileno=channels[0]) as sock:
            sock.sendall(b"hello")
        os._exit(0)

    proto, _other = socket.socketpair()
    return worker._Spare(serve, proto), _other


def test_a_hosts_spare_child_takes_the_first_shared_channels_once():
    spare, _ = spare_child()
    ours, theirs = socket.socketpair()
    out_read, out_write = os.pipe()
    assert spare.take([theirs.detach(), out_write])
    assert ours.recv(5) == b"hello"
    assert os.waitpid(spare.pid, 0)[0] == spare.pid
    assert not spare.take([os.dup(0), os.dup(0)])  # once only: the next shared child is forked as before
    spare.end()  # taken: nothing to kill
    os.close(out_read)


def test_a_hosts_spare_child_is_killed_before_anything_else_and_refuses_once_dead():
    spare, _ = spare_child()
    pid = spare.pid
    spare.end()
    with pytest.raises(ChildProcessError):  # killed and collected
        os.waitpid(pid, os.WNOHANG)
    spare, _ = spare_child()
    os.kill(spare.pid, signal.SIGKILL)  # as a sweep after a fresh child would
    os.waitpid(spare.pid, 0)
    a, b = os.dup(0), os.dup(0)
    assert not spare.take([a, b])  # the host then forks one as before, with the channels it still has
    os.close(a)
    os.close(b)


def test_close_restores_the_subreaper_setting(sandbox):
    assert system.is_subreaper()
    sandbox.close()
    assert not system.is_subreaper()


def test_large_inputs_are_sent_after_the_import(sandbox):
    big = np.random.default_rng(0).normal(size=(300, 300))  # 720 KB: more than is sent ahead
    assert big.nbytes > executors.EARLY_REQUEST_BYTES
    outcome = sandbox.run(FORWARD, {"Z": big}, call_timeout=2)
    assert outcome.kind == "ok" and outcome.array is not None
    assert np.allclose(outcome.array.sum(axis=1), 1.0)


def test_closing_the_connection_and_returning_is_named(sandbox_account, tmp_path):
    (tmp_path / "activation.py").write_text(
        "import os\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        for fd in range(3, 64):\n"
        "            try:\n"
        "                os.close(fd)\n"
        "            except OSError:\n"
        "                pass\n"
        "        return Z\n")
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert outcome.kind == "crashed" and "could not send its answer back" in outcome.detail, outcome
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "crashed"  # every test gets a fresh worker
    assert own_children() == []


def test_a_submission_may_have_its_own_package_named_autograder(sandbox_account, tmp_path):
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "__init__.py").write_text("VALUE = 'the student one'\n")
    (tmp_path / "activation.py").write_text(
        "import autograder\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        print(autograder.VALUE, hasattr(autograder, 'grade'))\n"
        "        return Z\n")
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
    assert outcome.kind == "ok" and outcome.output.strip() == "the student one False", outcome


# -- the host: one import per submission, one forked child per check --------------------------------
def host_of(box: Sandbox) -> int:
    hosts = [pid for pid in box.host_pids().values() if pid is not None]
    assert len(hosts) == 1, "the first check should have started a host"
    return hosts[0]


SOFTMAX = (  # forward only, right for small inputs
    "class Softmax:\n"
    "    def forward(self, Z):\n"
    "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n")


def write_submission(folder: Path, body: str) -> None:
    (folder / "activation.py").write_text("import os, sys, time\nimport numpy as np\n" + body)


CALL_COUNTER = (
    "print('imported in', os.getpid())\n"
    "CALLS = []\n"
    "class Softmax:\n"
    "    def forward(self, Z):\n"
    "        CALLS.append(1)\n"
    "        print('call', len(CALLS), 'in', os.getpid(), 'parent', os.getppid())\n"
    "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n")


def call_lines(outcomes: list) -> list[str]:
    """The line each call printed, after the import's line (shown with every check)."""
    lines = [o.output.splitlines() for o in outcomes]
    assert all(len(pair) == 2 and pair[0].startswith("imported in ") for pair in lines), lines
    return [pair[1] for pair in lines]


def test_checks_share_one_child_of_the_import_and_each_output_is_its_own(sandbox_account, tmp_path):
    write_submission(tmp_path, CALL_COUNTER)
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(3)]
        host = host_of(box)
    assert [(o.kind, o.shared) for o in outcomes] == [("ok", True)] * 3
    assert all(o.output.startswith(f"imported in {host}\n") for o in outcomes)
    calls = call_lines(outcomes)
    assert [line.split()[1] for line in calls] == ["1", "2", "3"], calls  # one process, module state kept
    assert len({line.split(" in ")[1] for line in calls}) == 1 and calls[0].endswith(f"parent {host}")
    assert own_children() == []


def test_a_fresh_run_shares_nothing_and_ends_sharing(sandbox_account, tmp_path):
    write_submission(tmp_path, CALL_COUNTER)
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        first = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        again = box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True)  # as grade does when a check fails
        later = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]
        host = host_of(box)
    assert first.shared and not again.shared and not any(o.shared for o in later)
    calls = call_lines([first, again, *later])
    assert [line.split()[1] for line in calls] == ["1"] * 4, calls  # each from the clean post-import state
    assert len({line.split(" in ")[1] for line in calls}) == 4 and all(c.endswith(f"parent {host}") for c in calls)
    assert own_children() == []


# -- a check sent ahead (Ahead) ------------------------------------------------------------------------
SLEEPS = (  # sleeps as long as its first input says, leaves a file named after its second, returns 2 Z
    "class Softmax:\n"
    "    def forward(self, Z):\n"
    "        time.sleep(float(Z[0, 0]))\n"
    "        open(f'ran-{int(Z[0, 1])}', 'w').close()\n"
    "        return 2 * Z\n")
TARGET = (".", "activation", "Softmax")


def sleeper(tmp_path: Path, body: str = SLEEPS) -> Sandbox:
    write_submission(tmp_path, body)
    return Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS)


def ahead(seconds: float, mark: int, call_timeout: float = 2) -> Ahead:
    """A check (new objects each time: run() must be given these very ones to take its answer)."""
    return Ahead([dict(FORWARD[0])], {"Z": np.array([[seconds, mark]])}, TARGET, call_timeout)


def ran(box: Sandbox, mark: int) -> bool:
    """Whether the check marked so got as far as leaving its file (in its folder, which checks share)."""
    return any(Path(box.hosts.get(TARGET[:2]).workdir).rglob(f"ran-{mark}"))


def test_a_check_sent_ahead_runs_while_the_grader_judges_the_one_before(sandbox_account, tmp_path):
    with sleeper(tmp_path) as box:
        then = ahead(0.4, 2)
        assert box.run(FORWARD, {"Z": np.array([[0.0, 1.0]])}, call_timeout=2, then=then).kind == "ok"
        time.sleep(0.5)  # the grader judges the first meanwhile
        start = time.monotonic()
        outcome = box.run(then.steps, then.inputs, call_timeout=2, target=TARGET)
        assert time.monotonic() - start < 0.2  # it had slept already
        assert outcome.kind == "ok" and outcome.shared and np.array_equal(outcome.array, [[0.8, 4.0]])
        assert box.run(FORWARD, {"Z": np.array([[0.0, 3.0]])}, call_timeout=2).kind == "ok"  # in step again


def test_a_check_sent_ahead_that_is_not_run_next_is_killed_and_never_answers(sandbox_account, tmp_path):
    with sleeper(tmp_path) as box:
        then = ahead(0.3, 2)
        assert box.run(FORWARD, {"Z": np.array([[0.0, 1.0]])}, call_timeout=2, then=then).kind == "ok"
        other = box.run(FORWARD, {"Z": np.array([[0.0, 3.0]])}, call_timeout=2)  # say the first failed
        assert other.kind == "ok" and np.array_equal(other.array, [[0.0, 6.0]])  # its own answer
        time.sleep(0.5)
        assert ran(box, 3) and not ran(box, 2)  # killed before it got that far
        again = box.run(then.steps, then.inputs, call_timeout=2, target=TARGET)  # the same objects: sent anew
        assert again.kind == "ok" and np.array_equal(again.array, [[0.6, 4.0]]) and ran(box, 2)


def test_a_check_sent_ahead_and_then_asked_for_fresh_runs_in_a_fresh_child(sandbox_account, tmp_path):
    with sleeper(tmp_path) as box:
        then = ahead(0.0, 2)
        assert box.run(FORWARD, {"Z": np.array([[0.0, 1.0]])}, call_timeout=2, then=then).kind == "ok"
        outcome = box.run(then.steps, then.inputs, call_timeout=2, target=TARGET, fresh=True)
        assert outcome.kind == "ok" and not outcome.shared


def test_the_time_limit_of_a_check_sent_ahead_counts_from_when_it_was_sent(sandbox_account, tmp_path):
    with sleeper(tmp_path) as box:
        then = ahead(30, 2, call_timeout=0.6)
        assert box.run(FORWARD, {"Z": np.array([[0.0, 1.0]])}, call_timeout=2, then=then).kind == "ok"
        time.sleep(0.4)
        start = time.monotonic()
        outcome = box.run(then.steps, then.inputs, call_timeout=0.6, target=TARGET)
        assert outcome.kind == "timeout" and time.monotonic() - start < 0.4


def test_nothing_is_sent_ahead_after_an_answer_that_printed(sandbox_account, tmp_path):
    with sleeper(tmp_path, SLEEPS.replace("return 2 * Z", "print('hello'); return 2 * Z")) as box:
        then = ahead(0.0, 2)
        assert box.run(FORWARD, {"Z": np.array([[0.0, 1.0]])}, call_timeout=2, then=then).output
        time.sleep(0.3)
        assert box.hosts.get(TARGET[:2]).ahead is None and not ran(box, 2)


def test_a_thread_left_running_by_a_check_ends_the_shared_child(sandbox_account, tmp_path):
    write_submission(tmp_path, "import threading\n" + CALL_COUNTER.replace(
        "        CALLS.append(1)\n",
        "        CALLS.append(1)\n        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(3)]
        host_of(box)
    assert [(o.kind, o.shared) for o in outcomes] == [("ok", True)] * 3, outcomes
    calls = call_lines(outcomes)
    assert [line.split()[1] for line in calls] == ["1"] * 3, calls  # each in a new shared child
    assert len({line.split(" in ")[1] for line in calls}) == 3
    assert own_children() == []


def test_an_exception_in_the_shared_child_is_decided_in_a_fresh_one(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "CALLS = []\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        CALLS.append(1)\n"
        "        if len(CALLS) == 2:\n"  # fails only after an earlier check ran in the same process
        "            raise RuntimeError('second call')\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(3)]
    assert [(o.kind, o.shared) for o in outcomes] == [("ok", True), ("ok", False), ("ok", False)], outcomes
    assert own_children() == []


def test_host_killed_between_checks_the_rest_run_in_workers_of_their_own(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        print('parent', os.getppid())\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"
        os.kill(host_of(box), signal.SIGKILL)
        time.sleep(0.05)
        after = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]
        assert list(box.host_pids().values()) == [None]
        zygote = box.zygote_pid
    assert [o.kind for o in after] == ["ok", "ok"], after
    assert all(o.output.strip() == f"parent {zygote}" for o in after), [o.output for o in after]
    assert own_children() == []


def test_host_killed_by_its_own_check_costs_nothing_but_a_fresh_worker(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "import signal\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        try:\n"
        "            os.kill(os.getppid(), signal.SIGKILL)\n"  # the host, then (in a worker) the zygote: refused
        "        except PermissionError:\n"
        "            pass\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(3)]
    if os.geteuid() == 0:
        assert [o.kind for o in outcomes] == ["ok"] * 3, outcomes
    assert own_children() == []


def test_what_a_check_leaves_running_is_killed_before_the_next_check(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "MARKER = os.path.abspath('pids')\n"  # in the host's folder, which its checks share
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        alive = []\n"
        "        if os.path.exists(MARKER):\n"
        "            for pid in open(MARKER).read().split():\n"
        "                try:\n"
        "                    os.kill(int(pid), 0)\n"
        "                    alive.append(pid)\n"
        "                except OSError:\n"
        "                    pass\n"
        "        print('alive', len(alive))\n"
        "        pids = []\n"
        "        for detach in (False, True):\n"
        "            pid = os.fork()\n"
        "            if pid == 0:\n"
        "                if detach:\n"
        "                    os.setsid()\n"
        "                    if os.fork():\n"
        "                        os._exit(0)\n"
        "                    with open(MARKER, 'a') as f:\n"
        "                        f.write(f' {os.getpid()}')\n"
        "                time.sleep(60)\n"
        "                os._exit(0)\n"
        "            pids.append(pid)\n"
        "        with open(MARKER, 'a') as f:\n"
        "            f.write(f' {pids[0]}')\n"
        "        time.sleep(0.2)\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(3)]
        assert host_of(box)
    assert [o.kind for o in outcomes] == ["ok"] * 3, outcomes
    assert [o.output.strip() for o in outcomes] == ["alive 0"] * 3
    assert own_children() == []


def test_threads_at_import_mean_a_worker_per_check(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "import threading\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        print('threads', threading.active_count())\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]
        assert list(box.host_pids().values()) == [None]
    assert [(o.kind, o.output.strip()) for o in outcomes] == [("ok", "threads 2")] * 2, outcomes
    assert own_children() == []


def test_a_crash_in_a_forked_check_is_run_again_and_named(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "import ctypes\n"
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        ctypes.string_at(0)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]
        assert host_of(box)  # a crash of a check is not the host's
    assert all(o.kind == "crashed" and "SIGSEGV" in o.detail for o in outcomes), outcomes
    assert own_children() == []


def test_modules_are_preloaded_when_the_submission_names_them(tmp_path):
    from autograder.sandbox import zygote

    (tmp_path / "pkg").mkdir()
    (tmp_path / "a.py").write_text("import numpy as np\n")
    assert "unittest.mock" not in zygote.wanted(str(tmp_path))
    assert set(zygote.PRELOAD_ALWAYS) & set(zygote.PRELOAD) <= set(zygote.wanted(str(tmp_path)))
    (tmp_path / "pkg" / "b.py").write_text("from unittest import mock\nx = np.random.rand(3)\n")
    chosen = zygote.wanted(str(tmp_path))
    assert {"unittest.mock", "numpy.random"} <= set(chosen) and "multiprocessing" not in chosen
    assert zygote.wanted(None) == list(zygote.PRELOAD)


def test_a_zombie_has_ended_and_a_sleeper_has_not():
    sleeper = os.fork()
    if sleeper == 0:
        time.sleep(30)
        os._exit(0)
    quitter = os.fork()
    if quitter == 0:
        os._exit(0)
    try:
        assert system.wait_ended(quitter, 5.0)  # a zombie, not reaped yet
        assert system.has_ended(quitter) and not system.has_ended(sleeper)
        assert set(system.live_descendants(os.getpid())) >= {sleeper}
        assert quitter not in system.live_descendants(os.getpid())
    finally:
        os.kill(sleeper, signal.SIGKILL)
        os.waitpid(sleeper, 0)
        os.waitpid(quitter, 0)


def test_a_stopped_host_costs_one_call_timeout_then_checks_get_workers_of_their_own(sandbox_account, tmp_path):
    write_submission(tmp_path, SOFTMAX)
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"
        os.kill(host_of(box), signal.SIGSTOP)  # as a check of the same account could
        stuck = box.run(FORWARD, {"Z": Z}, call_timeout=0.5, fresh=True)  # the host must fork it
        assert stuck.kind == "timeout" and stuck.wall_seconds < 2, stuck
        assert list(box.host_pids().values()) == [None]
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"
    assert own_children() == []


def test_draining_a_pipe_that_never_empties_ends():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    writer = os.fork()
    if writer == 0:  # writes for as long as anyone reads
        os.close(read_end)
        block = b"x" * 65536
        try:
            while True:
                os.write(write_end, block)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        tail = OutputTail(100)
        start = time.monotonic()
        transport.drain(read_end, tail, deadline=start + 60)  # without the cap: a minute of reading
        assert time.monotonic() - start < 10 and tail.total >= transport.DRAIN_MAX_BYTES
    finally:
        os.kill(writer, signal.SIGKILL)
        os.waitpid(writer, 0)
        os.close(read_end)


def test_zygote_stopped_while_a_check_left_something_to_kill_fails_within_the_deadline(sandbox_account, tmp_path):
    write_submission(tmp_path, (
        "class Softmax:\n"
        "    def forward(self, Z):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "        return np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n"))
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS, zygote_reply_seconds=0.5) as box:
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"  # its sleeper is left to the sweep
        os.kill(box.zygote_pid, signal.SIGSTOP)
        start = time.monotonic()
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert time.monotonic() - start < 2
        assert outcome.kind == "sandbox" and "no answer within 0.5 s" in outcome.detail, outcome
    assert own_children() == []


def test_a_check_that_leaves_nothing_is_swept_by_the_grader_alone(sandbox_account, tmp_path):
    write_submission(tmp_path, SOFTMAX)
    asked: list[str | None] = []
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS, on_zygote_request=asked.append) as box:
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]  # in the shared child
        for _ in range(3):
            outcomes.append(box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True))
            time.sleep(0.2)  # the check's process has exited by the next one
        assert system.live_descendants(host_of(box)) == []
    assert [o.kind for o in outcomes] == ["ok"] * 5
    assert asked.count("spawn") == 1 and "sweep" not in asked[asked.index("hosted"):], asked
    assert own_children() == []


LIMITS_SEEN = (  # what the import finds: when it ran, and the limits it runs under
    "import resource\n"
    "print('imported at', time.monotonic(), 'cpu', resource.getrlimit(resource.RLIMIT_CPU)[1],\n"
    "      'file', resource.getrlimit(resource.RLIMIT_FSIZE)[1])\n")


def test_the_host_started_with_the_sandbox_imports_nothing_until_prepare_says_what(sandbox_account, tmp_path):
    """Sandbox starts a host at once, which enters the sandbox while the grader reads the fixtures; it runs
    nothing of the submission, and is under no limit of the fixtures', until prepare tells it what to import
    (worker._through_gate): then it imports under those limits, and is the target's host."""
    write_submission(tmp_path, LIMITS_SEEN + SOFTMAX)
    limits = Limits(call_timeout=2, import_timeout=3, budget=7, max_file_mb=5)
    with Sandbox(tmp_path, ".", "activation", "Softmax", limits) as box:
        time.sleep(0.5)  # the grader reading the fixtures
        told = time.monotonic()
        box.prepare((".", "activation", "Softmax"))
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert outcome.kind == "ok" and outcome.shared
        words = outcome.output.split()
        assert float(words[2]) > told  # imported only once told what to
        assert int(words[4]) == int(limits.import_timeout + limits.budget) + 2 + 1  # a host's CPU limit (hard)
        assert int(words[6]) == limits.max_file_mb * 1024 * 1024
        assert len(system.descendants(box.zygote_pid)) == 2  # that host and its shared child: no other


def test_the_host_started_with_the_sandbox_ends_when_no_prepare_needs_it(sandbox_account, tmp_path):
    write_submission(tmp_path, SOFTMAX)
    with reference_sandbox() as box:
        time.sleep(0.3)  # it waits, in the sandbox
        assert len(system.live_descendants(box.zygote_pid)) == 1
        assert box.run(FORWARD, {"Z": Z}, call_timeout=2).kind == "ok"  # no prepare: a host of its own
        assert len(system.descendants(box.zygote_pid)) == 2  # that host and its shared child: no other
    assert own_children() == []


def test_a_prepared_host_imports_before_the_first_check_which_uses_it(sandbox_account, tmp_path):
    write_submission(tmp_path, "print('imported at', time.monotonic())\n" + SOFTMAX)
    asked: list[str | None] = []
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS, on_zygote_request=asked.append) as box:
        box.prepare((".", "activation", "Softmax"))
        time.sleep(1.0)  # the grader reading fixtures (the host needs about 10 ms)
        before = time.monotonic()
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert host_of(box)
    assert outcome.kind == "ok" and outcome.shared
    imported_at = float(outcome.output.split()[2])
    assert imported_at < before  # it had imported while the grader was busy
    assert "spawn" not in asked and asked[0] is None  # the first check read the prepared spawn's reply
    assert own_children() == []


@pytest.mark.parametrize("then", ["another target", "nothing"])
def test_a_prepared_host_that_never_imports_is_stopped_and_its_failure_kept(sandbox_account, tmp_path, then):
    """The first check takes every prepared host before it runs (so the files their imports left are the only
    ones kept): a host whose import hangs costs its import time limit once, and its module's checks fail at once."""
    write_submission(tmp_path, SOFTMAX)
    (tmp_path / "other.py").write_text("import time\ntime.sleep(60)\n")  # a host that would never be ready
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        box.prepare((".", "other", "Softmax"), (".", "activation", "Softmax"))
        if then == "another target":
            outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
            # the host of both gives up after TOGETHER_SECONDS; then other.py's own host, its limit
            assert outcome.kind == "ok" and outcome.wall_seconds < TOGETHER_SECONDS + LIMITS.import_timeout + 1, \
                outcome
            start = time.monotonic()
            other = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Softmax"))
            assert other.kind == "import_timeout" and time.monotonic() - start < 0.5, other
    assert own_children() == []


@contextlib.contextmanager
def removed_after(*paths: str) -> Iterator[None]:
    """Files a test makes in the shared temporary folders are gone after it, whatever happened."""
    try:
        yield
    finally:
        for path in paths:
            if os.path.exists(path):
                os.remove(path)


@pytest.mark.parametrize("together", [True, False], ids=["one host", "a host each"])
def test_prepared_hosts_import_together_and_only_their_imports_files_stay(sandbox_account, tmp_path, together):
    """Hosts prepared together import at once (or one host imports both); a temporary file a check writes is
    not kept like an import's."""
    write_submission(tmp_path, SOFTMAX)
    (tmp_path / "other.py").write_text(SOFTMAX.replace("class Softmax", "class Other") +
                                       "open('/tmp/ag-test-import-file', 'w').close()\n")
    stashing = ("    def forward(self, Z):\n        open('/tmp/ag-test-check-file', 'w').close()\n"
                "        return Z\n")
    (tmp_path / "other.py").write_text((tmp_path / "other.py").read_text() + "class Writer:\n" + stashing)
    with removed_after("/tmp/ag-test-import-file", "/tmp/ag-test-check-file"):
        with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS, together=together) as box:
            box.prepare((".", "activation", "Softmax"), (".", "other", "Writer"))
            first = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Writer"))
            assert first.kind == "ok"
            assert len(box.host_pids()) == (1 if together else 2) and all(box.host_pids().values())
            fresh = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "activation", "Softmax"), fresh=True)
            assert fresh.kind == "ok"
            box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "activation", "Softmax"))  # after the sweep
            swept = box._files_uid is not None  # as root with a dedicated account (as on Gradescope)
            assert swept == (sandbox_account is not None)
            assert os.path.exists("/tmp/ag-test-import-file")  # an import's file stays
            assert os.path.exists("/tmp/ag-test-check-file") != swept  # a check's is swept before the next
    assert own_children() == []


def test_a_prepared_host_still_importing_outlives_the_clean_up_after_another_that_failed(sandbox_account, tmp_path):
    """Hosts start together: the one whose import failed is reaped (with the orphans) while another still
    imports, which must survive it."""
    write_submission(tmp_path, "import time\ntime.sleep(0.5)\n" + SOFTMAX)
    (tmp_path / "broken.py").write_text("raise ValueError('broken at import')\n")
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        box.prepare((".", "broken", "Softmax"), (".", "activation", "Softmax"))
        broken = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "broken", "Softmax"))
        assert broken.kind == "import_error"
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        assert outcome.kind == "ok" and outcome.shared, outcome
        assert box.host_pids()[(".", "activation")]
    assert own_children() == []


# -- one host for several modules ------------------------------------------------------------------
DOUBLE = SOFTMAX.replace("return np.exp(Z)", "return 2 * np.exp(Z)")  # a Softmax of its own, in another file


def softmax_of(Z: np.ndarray, times: float = 1.0) -> np.ndarray:
    return times * np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)


def prepared_pair(tmp_path: Path, other: str, asked: list | None = None) -> Sandbox:
    """A sandbox of activation.py (SOFTMAX) and other.py (`other`), both prepared, as grade prepares them."""
    write_submission(tmp_path, SOFTMAX)
    (tmp_path / "other.py").write_text("import os, sys\nimport numpy as np\n" + other)
    box = Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS,
                  on_zygote_request=asked.append if asked is not None else None)
    box.prepare((".", "activation", "Softmax"), (".", "other", "Softmax"))
    return box


def test_one_host_imports_every_module_and_each_check_names_its_own_class(sandbox_account, tmp_path):
    """Two files, each with a class of one name: one host imported both (one spawn in all), and each check
    ran its own file's class. An import that only adds modules (a helper file of the submission) is fine."""
    asked: list[str | None] = []
    (tmp_path / "helper.py").write_text("TWO = 2\n")
    with prepared_pair(tmp_path, "from helper import TWO\n" + DOUBLE, asked) as box:
        mine = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        other = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Softmax"))
        assert list(box.host_pids()) == [(".", "*")] and all(box.host_pids().values())
    assert mine.kind == other.kind == "ok" and mine.shared and other.shared
    assert np.allclose(mine.array, softmax_of(Z)) and np.allclose(other.array, softmax_of(Z, 2.0))
    assert asked.count("spawn") == 0 and asked.count("hosted") == 1, asked  # the one spawn was sent ahead
    assert own_children() == []


def test_what_fails_in_the_host_of_several_is_decided_where_its_file_was_imported_alone(sandbox_account, tmp_path):
    """other.py changes activation's class when both are imported together (which a host of several modules
    cannot see): a check that fails there, run fresh as grade runs it, is answered by a host of activation.py
    alone. Later checks of that class run there too; the other file's checks stay in the shared host.
    (`import activation` would load a copy of its own, as alone: other.py finds the module the host loaded.)"""
    patching = ("import gc, types\n"
                "for found in gc.get_objects():\n"
                "    if isinstance(found, types.ModuleType) and found.__name__ == 'activation':\n"
                "        found.Softmax.forward = lambda self, Z: 0 * Z\n" + DOUBLE)
    with prepared_pair(tmp_path, patching) as box:
        shared = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        fresh = box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True)
        later = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        other = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Softmax"))
        pids = box.host_pids()
    assert shared.shared and np.allclose(shared.array, 0)  # patched, so the grader finds it wrong ...
    assert not fresh.shared and np.allclose(fresh.array, softmax_of(Z))  # ... and decides it on activation alone
    assert not later.shared and np.allclose(later.array, softmax_of(Z))
    assert other.shared and np.allclose(other.array, softmax_of(Z, 2.0))
    assert set(pids) == {(".", "*"), (".", "activation")} and all(pids.values())
    assert own_children() == []


@pytest.mark.parametrize("other, why", [
    ("print('other imported')\n" + DOUBLE, "printed"),
    ("raise ValueError('other is broken')\n", "raised"),
    ("import threading\nthreading.Thread(target=lambda: __import__('time').sleep(30), daemon=True).start()\n"
     + DOUBLE, "started a thread"),
    ("sys.path.insert(0, '/tmp')\n" + DOUBLE, "changed sys.path"),
    ("np.seterr(all='raise')\n" + DOUBLE, "changed NumPy's error handling"),
    ("np.exp = lambda x: x\n" + DOUBLE, "replaced a NumPy function"),
    ("import builtins\nbuiltins.max = min\n" + DOUBLE, "replaced a builtin"),
    ("import signal\nsignal.signal(signal.SIGUSR1, lambda *args: None)\n" + DOUBLE, "set a signal handler"),
    ("import signal\nsignal.setitimer(signal.ITIMER_VIRTUAL, 100)\n" + DOUBLE, "started a timer"),
    ("class Tracer:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
     "    def __call__(self, frame, event, arg):\n        return None\n"
     "sys.settrace(Tracer())\n" + DOUBLE, "set a trace hook that says it equals anything"),
])
def test_an_import_that_does_not_go_as_it_would_alone_means_a_host_per_file(sandbox_account, tmp_path, other, why):
    """The host of several modules is used only when every import went as it would alone: else each file
    gets a host of its own (or workers of its own), and activation.py's checks see nothing of other.py."""
    with prepared_pair(tmp_path, other) as box:
        mine = box.run(FORWARD, {"Z": Z}, call_timeout=2)
        theirs = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Softmax"))
        pids = box.host_pids()
    assert mine.kind == "ok" and mine.output == "" and np.allclose(mine.array, softmax_of(Z)), (why, mine)
    assert not pids.get((".", "*")) and pids.get((".", "activation")), (why, pids)
    if why == "printed":
        assert theirs.kind == "ok" and theirs.output == "other imported\n"
    if why == "raised":
        assert theirs.kind == "import_error" and "other is broken" in theirs.error["message"]
    assert own_children() == []


@pytest.mark.parametrize("other", ["hangs", "is slow"])
def test_an_import_that_hangs_or_is_slow_is_left_to_a_host_of_its_own(sandbox_account, tmp_path, other):
    """The host of several modules has TOGETHER_SECONDS for all its imports, and blames no file when they take
    longer: every file then gets a host of its own, as before, and they import in parallel. One that hangs
    fails its own checks, once, after its own limit; slow ones pass (imported one after another, their time
    would have added up)."""
    write_submission(tmp_path, SOFTMAX)
    (tmp_path / "other.py").write_text("import time\ntime.sleep(60 if %r == 'hangs' else 0.7)\nimport numpy as np\n"
                                       % other + DOUBLE)
    for slow in ("third", "fourth"):
        (tmp_path / f"{slow}.py").write_text("import time\ntime.sleep(0.7)\nimport numpy as np\n" + DOUBLE)
    targets = [(".", name, "Softmax") for name in ("activation", "other", "third", "fourth")]
    with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
        box.prepare(*targets)
        start = time.monotonic()
        outcomes = [box.run(FORWARD, {"Z": Z}, call_timeout=2, target=t) for t in targets]
        took = time.monotonic() - start
        again = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=targets[1])
        pids = box.host_pids()
    kinds = [o.kind for o in outcomes]
    alone = LIMITS.import_timeout * import_share(len(targets))  # the wall-clock limit of each host of its own
    if other == "hangs":
        assert kinds == ["ok", "import_timeout", "ok", "ok"] and again.kind == "import_timeout", kinds
        assert alone < took < TOGETHER_SECONDS + alone + 1.0, took  # its limit once, after the second given up
    else:
        assert kinds == ["ok"] * 4 and all(np.allclose(o.array, softmax_of(Z, 2.0)) for o in outcomes[1:]), kinds
        assert took < TOGETHER_SECONDS + 0.7 + 1.0, took  # not 3 x 0.7 s one after another
    assert pids.get((".", "activation")) and pids.get((".", "third")) and not pids.get((".", "*")), pids
    assert own_children() == []


def test_a_host_started_after_checks_keeps_only_what_its_own_import_made(sandbox_account, tmp_path):
    """A check's temporary file, still there when a host starts later (a check that passed in a shared child
    is not swept after), is not taken for that import's: it goes with the next sweep. The import's stays."""
    writer = ("class Writer:\n    def forward(self, Z):\n        open('/tmp/ag-test-early-check', 'w').close()\n"
              "        return Z\n")
    write_submission(tmp_path, SOFTMAX + writer)
    (tmp_path / "other.py").write_text("import numpy as np\n" + DOUBLE + "open('/tmp/ag-test-late-import', 'w').close()\n")
    with removed_after("/tmp/ag-test-early-check", "/tmp/ag-test-late-import"):
        with Sandbox(tmp_path, ".", "activation", "Softmax", LIMITS) as box:
            box.prepare((".", "activation", "Writer"))
            assert box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "activation", "Writer")).kind == "ok"
            assert os.path.exists("/tmp/ag-test-early-check")  # a pass in the shared child: nothing swept yet
            assert box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Softmax")).kind == "ok"
            box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True)  # a fresh child: swept before the next
            box.run(FORWARD, {"Z": Z}, call_timeout=2)
            swept = box._files_uid is not None  # as root with a dedicated account (as on Gradescope)
            assert os.path.exists("/tmp/ag-test-early-check") != swept
            assert os.path.exists("/tmp/ag-test-late-import")
    assert own_children() == []


def test_a_check_that_hangs_in_the_host_of_several_runs_again_in_its_files_own_host(sandbox_account, tmp_path):
    """other.py's import makes every fork sleep (a hook run at fork, which the host cannot read), so a check of
    activation's hangs in the host of both: it is run again, once, in a host of activation.py alone, where it
    passes; the host of both is dropped."""
    hook = "import os, time\nos.register_at_fork(after_in_child=lambda: time.sleep(30))\n"
    with prepared_pair(tmp_path, hook + DOUBLE) as box:
        outcome = box.run(FORWARD, {"Z": Z}, call_timeout=1)
        later = box.run(FORWARD, {"Z": Z}, call_timeout=1)
        pids = box.host_pids()
    assert outcome.kind == later.kind == "ok" and not outcome.shared, outcome
    assert np.allclose(outcome.array, softmax_of(Z)) and np.allclose(later.array, softmax_of(Z))
    assert not pids.get((".", "*")) and pids.get((".", "activation")), pids
    assert own_children() == []


LINGERING = "/tmp/ag-test-lingering"
LINGERER = (  # a check that keeps its shared child running once the grader is done with it, writing a file
    "def _linger(code):\n"
    "    while True:\n"
    f"        open({LINGERING!r}, 'w').close()\n"
    "        time.sleep(0.02)\n"
    "class Lingerer:\n"
    "    def forward(self, Z):\n"
    "        os._exit = _linger  # the shared child's own exit, once its socket closes\n"
    "        return Z\n"
    "class Reader:\n"
    "    def forward(self, Z):\n"
    "        time.sleep(0.2)\n"
    f"        return Z * os.path.exists({LINGERING!r})\n")


def test_what_the_shared_child_of_several_left_is_swept_when_a_file_host_runs_next(sandbox_account, tmp_path):
    """A class decided alone runs in a fresh child of its file's own host; the shared child of the host of
    several that it ended first is swept before the next check, even though the fresh child's own sweep is
    due too: nothing a check of another file left keeps running into later checks."""
    with prepared_pair(tmp_path, "import time\n" + DOUBLE + LINGERER) as box:
        try:
            alone = box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True)  # activation's class, decided alone
            lingers = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Lingerer"))
            again = box.run(FORWARD, {"Z": Z}, call_timeout=2)  # ends that shared child; runs in activation's host
            if os.path.exists(LINGERING):  # (swept with the account's files as root; not as a normal user)
                os.unlink(LINGERING)
            read = box.run(FORWARD, {"Z": Z}, call_timeout=2, target=(".", "other", "Reader"))  # made again?
        finally:
            if os.path.exists(LINGERING):
                os.unlink(LINGERING)
    assert alone.kind == lingers.kind == again.kind == read.kind == "ok", (alone, lingers, again, read)
    assert lingers.shared and not again.shared
    assert np.allclose(read.array, 0), "a process left by an earlier check still ran"
    assert own_children() == []


def test_a_class_decided_alone_stays_alone_when_the_host_of_several_is_dropped(sandbox_account, tmp_path):
    """A class whose check was decided alone runs each later check in a fresh process: still so once the host
    of several is gone (a check that hung there drops it) and its file's own host serves it."""
    hanging = "import time\nclass Hanger:\n    def forward(self, Z):\n        time.sleep(60)\n" + DOUBLE
    with prepared_pair(tmp_path, hanging) as box:
        alone = box.run(FORWARD, {"Z": Z}, call_timeout=2, fresh=True)
        hung = box.run(FORWARD, {"Z": Z}, call_timeout=1, target=(".", "other", "Hanger"))
        later = [box.run(FORWARD, {"Z": Z}, call_timeout=2) for _ in range(2)]
        pids = box.host_pids()
    assert hung.kind == "timeout" and not pids.get((".", "*")), (hung, pids)
    assert alone.kind == "ok" and not alone.shared
    assert [(o.kind, o.shared) for o in later] == [("ok", False)] * 2, later
    assert own_children() == []


def test_a_file_of_the_host_of_several_runs_without_the_files_it_did_not_import(sandbox_account, tmp_path):
    """pkg/b.py uses pkg.a without importing it: alone, pkg has no attribute a, and its check fails as it
    would in a host of its own (no host of several makes it pass); pkg/a.py's check still passes there."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def double(Z):\n    return 2 * Z\n"
                                           "class A:\n    def forward(self, Z):\n        return double(Z)\n")
    (tmp_path / "pkg" / "b.py").write_text("import pkg\nclass B:\n    def forward(self, Z):\n"
                                           "        return pkg.a.double(Z)\n")
    targets = [(".", "pkg.a", "A"), (".", "pkg.b", "B")]
    with Sandbox(tmp_path, ".", "pkg.a", "A", LIMITS) as box:
        box.prepare(*targets)
        a, b = (box.run(FORWARD, {"Z": Z}, call_timeout=2, target=t) for t in targets)
        pids = box.host_pids()
    assert pids.get((".", "*")), pids  # one host imported both
    assert a.kind == "ok" and a.shared and np.allclose(a.array, 2 * Z)
    assert b.kind == "error" and "has no attribute 'a'" in b.error["message"], b
    assert own_children() == []
