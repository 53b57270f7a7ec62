"""What runs in the worker process: import the submission, make the calls, send back arrays.

This code runs in a process that also runs student code, so nothing here is
trusted by the grader: the grader parses what comes back as data and
compares it with fixtures the worker never saw. The worker receives inputs
only (for a backward check that includes the reference A, which is itself a
function of the inputs; see README, "Sandbox").
"""

from __future__ import annotations

import gc
import importlib
import linecache
import os
import reprlib
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Iterator, NoReturn

import numpy as np

from . import protocol, system

MAX_MESSAGE_CHARS = 2000
MAX_FRAMES = 12
FAILED = 70  # exit status when the worker's own code fails (it cannot send back, say)
_HIDDEN: list[Any] = []
GRADER_MODULES: list[str] = []  # filled in by the zygote (list_grader_modules)


def main(proto: socket.socket, out_fd: int, spec: dict[str, Any]) -> NoReturn:
    """Entry point in the freshly forked child; never returns."""
    code = 0
    try:
        workdir = _enter_sandbox(proto, out_fd, spec)
        if spec.get("gate"):
            spec = _through_gate(proto, workdir, spec)
            if spec is None:
                return
        if spec.get("host"):
            _host(proto, workdir, spec)
        else:
            _serve(proto, workdir, spec)
    except BaseException:  # noqa: BLE001 - the process ends here whatever happened
        code = FAILED
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _enter_sandbox(proto: socket.socket, out_fd: int, spec: dict[str, Any]) -> str:
    """Fresh folder, limits, scrubbed environment, dropped privileges, redirected output."""
    zygote = os.getppid()
    os.setsid()  # own session and process group: one killpg reaches everything that stays in it
    uid, gid = spec.get("uid"), spec.get("gid")
    workdir = spec["workdir"]  # made, filled and handed over by the zygote
    target = os.path.join(workdir, "submission")
    if not spec.get("gate"):
        system.apply_limits(spec["limits"])
    os.environ.clear()
    os.environ.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    })
    tempfile.tempdir = workdir
    if uid is not None:
        system.drop_privileges(uid, gid)
    system.no_new_privileges()
    # If the zygote is killed, so is this worker (set after the uid change, which clears it).
    if system.die_with_parent() and os.getppid() != zygote:
        os._exit(71)
    # stdout/stderr go to the capture pipe; the protocol socket stays the only other descriptor.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    keep = {0, 1, 2, proto.fileno()}
    system.close_fds_except(keep)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    os.chdir(target)
    sys.dont_write_bytecode = True
    # The grader's own package must not shadow a folder of the submission with the same name. The
    # modules are kept alive here (this code still runs from them) and not freed, which would be slow;
    # their names were listed in the zygote, as walking sys.modules here would touch (copy) many pages.
    _HIDDEN.extend(sys.modules.pop(name) for name in GRADER_MODULES if name in sys.modules)
    if not spec.get("gate"):
        _import_path(target, spec)
    return target


def _import_path(target: str, spec: dict[str, Any]) -> None:
    """Forget where the grader lives: the submission's own folder (its import root) comes first."""
    grader_root = spec.get("grader_root")
    sys.path[:] = [os.path.normpath(os.path.join(target, spec["import_root"]))] + [
        p for p in sys.path if p and p != "." and not (grader_root and p.startswith(grader_root))
    ]


# What the grader tells a host spawned before it knew what the host imports (see _through_gate).
GATE_KEYS = ("import_root", "module", "modules", "class_name", "host", "limits")


def _through_gate(proto: socket.socket, target: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """A host the grader started before reading the fixtures (runner.Sandbox: it enters the sandbox while the
    grader reads them) waits here, with nothing of the submission run yet, for what it is to import and its
    limits (GATE_KEYS); then it takes them, and its import begins. None: the grader did not need it."""
    try:
        header, _ = protocol.read_message(proto, max_array_bytes=0)
    except protocol.ProtocolError:
        return None
    given = header.get("spec")
    if header.get("event") != "go" or not isinstance(given, dict):
        return None
    spec = dict(spec, gate=False, **{key: given[key] for key in GATE_KEYS if key in given})
    system.apply_limits(spec["limits"])
    _import_path(target, spec)
    return spec


def list_grader_modules() -> None:
    """Called in the zygote before it forks workers: the names _enter_sandbox removes."""
    GRADER_MODULES[:] = [m for m in sys.modules if m.partition(".")[0] == "autograder"]


def _import_module(proto: socket.socket, workdir: str, spec: dict[str, Any]) -> tuple[Any, float]:
    """Import the submission's module and time it; on failure tell the grader why and return None."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(spec["module"])
    except BaseException as exc:  # noqa: BLE001 - report everything, even SystemExit at import
        _flush()
        protocol.send(proto, {"event": "imported", "ok": False, "error": describe_exception(exc, workdir),
                              "seconds": time.perf_counter() - start})
        return None, 0.0
    _flush()
    return module, time.perf_counter() - start


def _class_of(module: Any, class_name: str, workdir: str) -> tuple[type | None, dict[str, Any] | None]:
    """The class a request names, looked up in the imported module; else the import failure's message for it
    (the message a failed import sends: the class's checks fail as when its file could not be imported)."""
    try:
        return getattr(module, class_name), None
    except BaseException as exc:  # noqa: BLE001 - a module __getattr__ may raise anything
        _flush()
        return None, {"event": "imported", "ok": False, "error": describe_exception(exc, workdir), "seconds": 0.0,
                      "missing_class": True}


def _import_class(proto: socket.socket, workdir: str, spec: dict[str, Any]) -> tuple[type | None, float]:
    """Import the submission's module, then find its class; on failure tell the grader why and return None."""
    module, seconds = _import_module(proto, workdir, spec)
    if module is None:
        return None, 0.0
    cls, failure = _class_of(module, spec["class_name"], workdir)
    if failure is not None:
        protocol.send(proto, failure)
    return cls, seconds


def _serve(proto: socket.socket, workdir: str, spec: dict[str, Any]) -> None:
    """Import, then answer the one request, then return."""
    cls, seconds = _import_class(proto, workdir, spec)
    if cls is None:
        return
    protocol.send(proto, {"event": "imported", "ok": True, "seconds": seconds})
    header, arrays = protocol.read_message(proto, max_array_bytes=1 << 30)
    response, out_arrays = run_steps(cls, header["steps"], arrays, workdir,
                                     max_result_bytes=int(spec.get("max_result_bytes", 1 << 26)),
                                     classes=classes_of(sys.modules.get(spec["module"]), workdir))
    _flush()
    protocol.send(proto, response, out_arrays)


def _host(proto: socket.socket, workdir: str, spec: dict[str, Any]) -> None:
    """Import the module once, then fork children from this post-import state, until the grader hangs up.

    A host serves every class of its module: each request names the module
    and the class it checks ("module", "class_name"), looked up in the child;
    a class the module lacks is answered as a failed import of that class.
    With spec "modules", one host imports several modules, one after another;
    the grader uses it only while each import went as it would alone (see
    runner.Sandbox.prepare).

    The grader sends one byte and two descriptors (a protocol socket and an
    output pipe) per child: b"F" forks a child that answers one request and
    exits (one check in a fresh process); b"S" forks a child that answers
    requests one after another until its socket closes (checks in a shared
    process, a fresh instance each). The first shared child is forked as soon
    as the import is done (_Spare), so the first check does not wait for it.
    The host itself sends nothing after the import. Nothing here is trusted:
    the trusted zygote kills whatever a child left behind, and the grader
    decides what a shared child's answers count for.
    """
    names = spec.get("modules") or [spec["module"]]
    before = _shared_state() if len(names) > 1 else None
    modules: dict[str, Any] = {}
    views: dict[str, dict[str, Any]] = {}  # (several) the submission's modules each import loaded (_own_modules)
    seconds = 0.0
    for name in names:
        if before is not None:  # a host of several modules: each import finds none of the submission's
            _show(views, {})  # modules loaded, as alone
        module, took = _import_module(proto, workdir, dict(spec, module=name))
        if module is None:
            return
        modules[name] = module
        seconds += took
        if before is not None:
            views[name] = _own_modules(before[1][2], workdir)
    # Threads do not survive a fork (a child could wait forever on a lock one of them held): checks
    # of code that starts threads at import each import afresh in a worker of their own. A host of
    # several modules is also refused when one import changed what another's checks would run with.
    forkable = (threading.active_count() == 1 and _task_count() <= 1
                and (before is None or _same_state(before)))
    protocol.send(proto, {"event": "imported", "ok": True, "forkable": forkable, "seconds": seconds})
    if not forkable:
        return
    gc.freeze()  # a check's garbage collection then leaves the imported objects (shared pages) alone
    max_result_bytes = int(spec.get("max_result_bytes", 1 << 26))

    def child(channels: list[int], serial: bool) -> NoReturn:
        code = FAILED
        try:
            proto.close()
            _answer(socket.socket(fileno=channels[0]), channels[1], modules, workdir, max_result_bytes,
                    serial=serial, views=views)
            code = 0
        finally:
            os._exit(code)

    spare = _Spare(lambda channels: child(channels, serial=True), proto)
    while True:
        data, fds, _flags, _addr = socket.recv_fds(proto, 16, 2)
        if data[:1] == b"S" and len(fds) == 2 and spare.take(fds):
            continue
        spare.end()  # a fresh child runs alone, as before: no idle process beside it
        _reap_checks()
        if not data or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return
        pid = os.fork()
        if pid == 0:
            child(fds, serial=data[:1] == b"S")
        for fd in fds:
            os.close(fd)


class _Spare:
    """The host's first shared child, forked at once: it waits, running nothing, for the channels of the
    grader's first b"S", which the host passes on (take). Any other request ends it first (end), so that a
    fresh child never has a process of the account beside it that it did not have before."""

    def __init__(self, serve: Callable[[list[int]], NoReturn], proto: socket.socket) -> None:
        ours, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            code = FAILED
            try:
                ours.close()
                proto.close()
                data, fds, _flags, _addr = socket.recv_fds(theirs, 16, 2)
                theirs.close()
                if data and len(fds) == 2:
                    serve(fds)
                code = 0  # the host ended it, or died
            finally:
                os._exit(code)
        theirs.close()
        self._sock: socket.socket | None = ours

    def take(self, fds: list[int]) -> bool:
        """Hand the channels to the spare child, once; False when there is none (any more) to take them."""
        if self._sock is None:
            return False
        try:  # (no SIGPIPE: the submission's import may have set its default action)
            socket.send_fds(self._sock, [b"S"], fds, getattr(socket, "MSG_NOSIGNAL", 0))
        except OSError:  # it was killed (a sweep after a fresh child): fork one as before
            self.end()
            return False
        for fd in fds:
            os.close(fd)
        self._sock.close()
        self._sock = None
        return True

    def end(self) -> None:
        """Kill the spare child, unless it was taken or ended already, and collect it."""
        if self._sock is None:
            return
        self._sock.close()
        self._sock = None
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:  # not collected yet, so the pid is still its own
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _answer(sock: socket.socket, out_fd: int, modules: dict[str, Any], workdir: str, max_result_bytes: int, *,
            serial: bool = False, views: dict[str, dict[str, Any]] | None = None) -> None:
    """In a child of the host: own process group, output to its own pipe, then one request answered
    (or, when `serial`, every request until the grader closes the socket). A request names the module
    and the class it checks; in a host of several, it runs with the submission's modules that module's
    import loaded, and no other (`views`, see _show)."""
    host = os.getppid()
    os.setsid()  # its own group: one killpg reaches what it starts; the zygote sweeps the rest
    if system.die_with_parent() and os.getppid() != host:
        os._exit(71)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    while True:
        try:
            header, arrays = protocol.read_message(sock, max_array_bytes=1 << 30)
        except protocol.ProtocolError:
            if serial:  # the grader is done with this child
                return
            raise
        module = modules[str(header.get("module"))]  # the grader names only modules this host imported
        if views:
            _show(views, views[str(header.get("module"))])
        cls, failure = _class_of(module, str(header.get("class_name")), workdir)
        if cls is None:
            response, out_arrays = failure, {}
        else:
            response, out_arrays = run_steps(cls, header["steps"], arrays, workdir, max_result_bytes=max_result_bytes,
                                             classes=classes_of(module, workdir))
        _flush()
        protocol.send(sock, response, out_arrays)
        _flush()
        if not serial:
            return


def classes_of(module: Any, workdir: str) -> Callable[[str], type | None]:
    """The classes of an imported module by name (None: it has none of that name), for a batch's parts."""
    return lambda name: _class_of(module, name, workdir)[0]


def _reap_checks() -> None:
    """Collect checks that have ended (they would otherwise count against the process limit)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _own_modules(existing: dict[str, int], workdir: str) -> dict[str, Any]:
    """The submission's modules (a file or package folder in `workdir`, its copy) loaded since `existing`
    was listed."""
    folder = os.path.join(workdir, "")
    own = {}
    for name, module in list(sys.modules.items()):
        if name in existing:
            continue
        try:
            places = [getattr(module, "__file__", None)] + list(getattr(module, "__path__", None) or [])
            if any(isinstance(place, str) and place.startswith(folder) for place in places):
                own[name] = module
        except Exception:  # noqa: BLE001 - anything in sys.modules may be the student's: theirs
            own[name] = module
    return own


def _show(views: dict[str, dict[str, Any]], view: dict[str, Any]) -> None:
    """sys.modules holds, of the submission's modules, those of `view` only: as in a host of that file alone,
    a check cannot reach a file its own import did not load (a package's attribute `pkg.other`, say), and an
    import finds none loaded by another file's import."""
    for loaded in views.values():
        for name in loaded:
            sys.modules.pop(name, None)
    sys.modules.update(view)


def _shared_state() -> tuple[list[Any], list[dict[str, int]]]:
    """What one module's import could change for the checks of another imported in the same host, beyond
    the modules themselves: import paths and hooks, the folder, the environment, NumPy's error handling,
    signal handlers and timers, trace and profile hooks, the recursion limit; and the objects behind the
    names of builtins, NumPy and the loaded modules (see _same_state). (Hooks run at fork cannot be read:
    a check they slow down until it hangs is run again in its file's own host.)"""
    import builtins

    plain = [list(sys.path), list(sys.meta_path), list(sys.path_hooks), os.getcwd(), dict(os.environ), np.geterr(),
             [signal.getsignal(number) for number in sorted(signal.valid_signals())],
             [signal.getitimer(which) != (0.0, 0.0) for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL,
                                                                   signal.ITIMER_PROF)],
             sys.gettrace(), sys.getprofile(), sys.getrecursionlimit(), sys.excepthook, threading.excepthook]
    return [_strict(value) for value in plain], [{name: id(value) for name, value in list(space.items())}
                                                 for space in (vars(builtins), vars(np), sys.modules)]


_PLAIN = (str, int, float, bool, type(None))  # compared by value; anything else by identity


def _strict(value: Any) -> Any:
    """`value` in a form that compares without asking it: student code may put objects that say they equal
    anything in sys.path, a signal handler or a trace hook. Lists, tuples and dicts by their items, plain
    values by their exact type and value, anything else by its id and its type's."""
    kind = type(value)  # tested with `is`: `in` or == would ask a metaclass the student wrote
    if kind is list or kind is tuple:
        return ("list", tuple(_strict(item) for item in value))
    if kind is dict:
        return ("dict", tuple((_strict(key), _strict(item)) for key, item in value.items()))
    if any(kind is plain for plain in _PLAIN):
        return (id(kind), value)
    return ("object", id(kind), id(value))


def _same_state(before: tuple[list[Any], list[dict[str, int]]]) -> bool:
    """Whether _shared_state is as it was: a name may be added (an import adds its module, NumPy loads a
    submodule on first use), none replaced or removed."""
    plain, spaces = _shared_state()
    return plain == before[0] and all(now.get(name) == ident for was, now in zip(before[1], spaces)
                                      for name, ident in was.items())


def _task_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a student may have replaced or closed it
            pass


def run_steps(cls: type, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], workdir: str, *,
              max_result_bytes: int = 1 << 26,
              classes: Callable[[str], type | None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Make a fresh instance and run the steps; the step marked 'graded' gives the answer.

    Steps are data: {"op": "init", "args", "kwargs"} builds the instance with arguments (by default it is
    built with none before the first set or call), {"op": "object", "name", "value"} builds a plain
    argument object (mappings become objects with attributes, text names an array), {"op": "set", "attr",
    "from", "on"} sets an attribute path ("layers[2].W") of the instance or of an object, {"op": "call",
    "method", "args", "kwargs"} calls a method. An argument is the name of an array, {"object": NAME},
    or a literal number. The graded call's answer is what it returns, or the attribute path "value"
    of the instance (or of the object "on") after it.

    Several checks whose steps are each the start of the same steps are answered by one run (a batch): a
    call then carries "grades", a list of graded values ({"value", "on"} as above), each captured as a
    copy at its call, before any later step runs, so each is what a run of that check alone would give.
    The answer is {"batch": [one answer each]} with the arrays "result.0", "result.1", ... It comes only
    from a clean run: any exception, note or answer too large to send fails the whole batch, and the
    grader then runs each of its checks on its own. A batch may hold several such runs (of other cases,
    or other classes of the module, looked up with `classes`), each opened by {"op": "part",
    "class_name"} and run on its own fresh instance; their answers follow one another.

    For grading a class against the student's own parts (an MLP against their Linear and ReLU):
    {"op": "describe", "attr", "fields"} records, as data, the class name of each element of the
    attribute (a list) and the shapes of its array fields; a call with "through": {"attr", "reverse"}
    is made through those elements instead of the instance's own method (see _through); {"op": "perturb",
    "attr", "method", "seed", "reverse"?, "other"?} moves the value each element's method returns by a fixed
    random amount from then on (see _perturb), to see whether the instance's own call runs its parts.
    """
    if steps and steps[0].get("op") == "part":
        parts: list[tuple[type | None, list[dict[str, Any]]]] = []
        for step in steps:
            if step["op"] == "part":
                parts.append((classes(str(step.get("class_name"))) if classes else None, []))
            else:
                parts[-1][1].append(step)
        answers_of = (_answers(part_cls, part, inputs, workdir, max_result_bytes, batch=True)
                      for part_cls, part in parts if part_cls is not None)
        if any(part_cls is None for part_cls, _ in parts):
            return _unclean("")
        return _batch(answer for answers in answers_of for answer in answers)
    if not any("grades" in step for step in steps):
        for answer in _answers(cls, steps, inputs, workdir, max_result_bytes, batch=False):
            return answer
        return {"event": "result", "ok": False, "phase": "grader", "method": "",
                "error": {"type": "GraderError", "message": "no graded step", "frames": []}}, {}
    return _batch(_answers(cls, steps, inputs, workdir, max_result_bytes, batch=True))


def _batch(answers_of: Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]) -> tuple[dict[str, Any],
                                                                                         dict[str, np.ndarray]]:
    """The answer to a batch (see run_steps) from the answers of its runs, or its failure at the first that
    is not clean."""
    answers: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for answer, out in answers_of:
        if not answer.get("ok") or answer.get("notes") or (answer["returned"]["kind"] in ("ndarray", "scalar")
                                                           and "result" not in out):
            return (answer, {}) if not answer.get("ok") else _unclean(str(answer.get("method", "")))
        if "result" in out:
            arrays[f"result.{len(answers)}"] = out["result"]
        answers.append({key: answer[key] for key in ("method", "returned", "mutated", "seconds")})
    return {"event": "result", "ok": True, "batch": answers}, arrays


def _unclean(method: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return {"event": "result", "ok": False, "phase": "call", "method": method,
            "error": {"type": "GraderError", "message": "the checks run together did not run cleanly",
                      "frames": []}}, {}


def _answers(cls: type, steps: list[dict[str, Any]], inputs: dict[str, np.ndarray], workdir: str,
             max_result_bytes: int, *, batch: bool) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """Run the steps on a fresh instance, giving an answer at each graded value (see run_steps); alone, the
    steps end at the one graded call, and a failure is its answer."""
    notes: list[str] = []
    objects: dict[str, Any] = {}
    obj: Any = None
    described: dict[str, Any] | None = None
    for step in steps:
        op = step["op"]
        if op == "object":
            objects[step["name"]] = _build(step["value"], inputs, objects)
            continue
        if obj is None:
            try:
                if op == "init":
                    obj = cls(*_arguments(step.get("args", []), inputs, objects),
                              **_arguments(step.get("kwargs", {}), inputs, objects))
                    continue
                obj = cls()
            except BaseException as exc:  # noqa: BLE001
                yield {"event": "result", "ok": False, "phase": "construct", "method": "__init__",
                       "error": describe_exception(exc, workdir)}, {}
                return
        if op == "describe":
            described = describe_elements(obj, step["attr"], step.get("fields", []))
            continue
        if op == "perturb":
            try:
                _perturb(obj, step)
            except BaseException as exc:  # noqa: BLE001 - not a list, an element whose method cannot be replaced
                yield {"event": "result", "ok": False, "phase": "call", "method": str(step.get("method", "")),
                       "error": describe_exception(exc, workdir)}, {}
                return
            continue
        if op == "set":
            owner = obj if step.get("on") is None else objects[step["on"]]
            try:
                _set_path(owner, step["attr"], inputs[step["from"]].copy())
            except BaseException as exc:  # noqa: BLE001 - a read-only property, a __setattr__ that raises
                # forward has run: the call goes on with the student's own state, and says so
                notes.append(f"self.{step['attr']} could not be set ({type(exc).__name__}: a read-only property?), "
                             f"so the graded call used your own {step['attr']}, not the reference one")
            continue
        if op != "call":
            continue
        method = step["method"]
        grades = step.get("grades") or ([{"value": step.get("value"), "on": step.get("on")}]
                                        if step.get("graded") else [])
        given = _arguments(step.get("args", []), inputs, objects)
        keywords = _arguments(step.get("kwargs", {}), inputs, objects)
        named = [(name, g) for name, g in zip(step.get("args", []), given) if isinstance(name, str)]
        named += [(name, keywords[key]) for key, name in step.get("kwargs", {}).items() if isinstance(name, str)]
        pristine = [(name, g.copy()) for name, g in named if isinstance(g, np.ndarray)]
        start = time.perf_counter()
        try:
            if step.get("through") is not None:
                result = _through(obj, method, given, step["through"])
            else:
                result = getattr(obj, method)(*given, **keywords)
        except BaseException as exc:  # noqa: BLE001
            if grades or step.get("through") is not None:  # a part that raises ends the chain
                yield {"event": "result", "ok": False, "phase": "call", "method": method,
                       "error": describe_exception(exc, workdir), "notes": notes, **_parts(described)}, {}
                return
            notes.append(f"{method}() raised {type(exc).__name__} before the graded call; grading went on")
            continue
        seconds = time.perf_counter() - start
        if not grades:
            continue
        current = dict(named)
        mutated = [name for name, p in pristine if not _same(current[name], p)]
        for grade in grades:
            value = result
            if grade.get("value") is not None:
                owner = obj if grade.get("on") is None else objects[grade["on"]]
                try:
                    value = _get_path(owner, grade["value"])
                except BaseException as exc:  # noqa: BLE001 - not stored, or a property that raises
                    yield {"event": "result", "ok": False, "phase": "call", "method": method,
                           "error": describe_exception(exc, workdir), "notes": notes, "value": grade["value"],
                           **_parts(described)}, {}
                    return
            returned, arrays = describe_result(value, max_result_bytes)
            if batch:  # as it is now: later steps may change it in place
                arrays = {name: array.copy() for name, array in arrays.items()}
            yield {"event": "result", "ok": True, "method": method, "returned": returned, "mutated": mutated,
                   "seconds": seconds, "notes": list(notes), **_parts(described)}, arrays
        if not batch:
            return


MAX_DESCRIBED = 64  # elements of a described list; a longer list is described by its first ones and its length


def _parts(described: dict[str, Any] | None) -> dict[str, Any]:
    """The reply's description of the parts, when the request asked for one (replies to others are as before)."""
    return {} if described is None else {"described": described}


def _through(obj: Any, method: str, args: list[Any], through: dict[str, Any]) -> Any:
    """A method as the writeup says the object runs it: the same method of each element of the attribute
    `through["attr"]` in turn (in reverse order when `through["reverse"]`), the value each returns given to the
    next; returns the last one's. The elements are the student's own objects; nothing of the grader's runs."""
    parts = list(_get_path(obj, through["attr"]))
    value, = args
    for part in reversed(parts) if through.get("reverse") else parts:
        value = getattr(part, method)(value)
    return value


_rng = np.random.default_rng  # as NumPy had it before any student code ran


def _perturb(obj: Any, step: dict[str, Any]) -> None:
    """From now on, the method `step["method"]` of each element of the list `step["attr"]` but the last one
    called (the first when `step["reverse"]`; of a list of one, that one) returns its value moved by a fixed
    random amount of the value's own shape and spread (a float array's; anything else is returned as it is),
    drawn from (seed, the element's index), or (seed, index, 1) for the element `other`. The same request with
    and without "through" then shows whether the instance's own call hands each value on as its parts, called in
    order, would (own_layers.follows_its_parts); the last one's value is left as it is, as the instance may take
    it from what that part keeps (self.A) rather than from what it returns. Set on each element itself (and a
    class whose __call__ is that method calls it through the element): grader code calling only the student's
    own methods. An element that takes no attribute of its own (a class with __slots__) has its class's method
    answer for it, moved for that element alone."""
    parts, method = list(_get_path(obj, step["attr"])), step["method"]
    last = 0 if step.get("reverse") else len(parts) - 1
    for index, part in enumerate(parts):
        if index != last or len(parts) == 1:
            key = (int(step["seed"]), index) + ((1,) if index == step.get("other") else ())
            cls = type(part)
            calls_it = getattr(cls, "__call__", None) is getattr(cls, method, None)  # __call__ = forward: part(A)
            try:
                setattr(part, method, _moved(getattr(part, method), key))
            except AttributeError:
                if not isinstance(getattr(cls, method, None), type(_moved)):  # a property, say: as before
                    raise
                _move_in_class(cls, method, part, key)
            if calls_it:
                cls.__call__ = lambda self, *args, **kwargs: getattr(self, method)(*args, **kwargs)


_MOVED_IN_CLASS: dict[tuple[type, str], tuple[Callable[..., Any], dict[int, Callable[..., Any]]]] = {}


def _move_in_class(cls: type, method: str, part: Any, key: tuple[int, ...]) -> None:
    """The class's method, for `part` alone, returns its value moved (see _perturb); for any other instance, as
    it was."""
    if (cls, method) not in _MOVED_IN_CLASS:
        original, moved_of = getattr(cls, method), {}

        def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
            moved = moved_of.get(id(self))
            return moved(*args, **kwargs) if moved is not None else original(self, *args, **kwargs)

        setattr(cls, method, dispatch)
        _MOVED_IN_CLASS[(cls, method)] = original, moved_of
    original, moved_of = _MOVED_IN_CLASS[(cls, method)]
    moved_of[id(part)] = _moved(lambda *args, **kwargs: original(part, *args, **kwargs), key)


def _moved(method: Callable[..., Any], key: tuple[int, ...]) -> Callable[..., Any]:
    def moved(*args: Any, **kwargs: Any) -> Any:
        value = method(*args, **kwargs)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
            spread = float(np.std(value))
            offset = _rng(key).standard_normal(value.shape) * (spread if np.isfinite(spread) and spread > 0 else 1.0)
            value = value + offset.astype(value.dtype)
        return value
    return moved


def describe_elements(obj: Any, path: str, fields: list[str]) -> dict[str, Any]:
    """What a list attribute holds, as data: its length, and per element (the first MAX_DESCRIBED) the name of
    its class and the shape of each of `fields` that is an array (absent otherwise)."""
    try:
        elements = list(_get_path(obj, path))
    except BaseException as exc:  # noqa: BLE001 - not there, not a list, a property that raises
        return {"error": type(exc).__name__}
    items = []
    for element in elements[:MAX_DESCRIBED]:
        try:
            item: dict[str, Any] = {"class": str(type(element).__name__)[:100]}
        except BaseException:  # noqa: BLE001 - a metaclass may make __name__ anything
            item = {"class": "?"}
        for name in fields:
            try:
                value = getattr(element, name)
            except BaseException:  # noqa: BLE001
                continue
            if isinstance(value, np.ndarray):
                item[name] = [int(n) for n in value.shape]
        items.append(item)
    return {"length": len(elements), "items": items}


class ArgumentObject:
    """A plain object the grader builds for a class that takes other objects (a model whose layers hold arrays)."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        return f"ArgumentObject({', '.join(self.__dict__)})"


def _build(value: Any, inputs: dict[str, np.ndarray], objects: dict[str, Any]) -> Any:
    """An argument object from its data: mappings become objects, lists lists, names their arrays (copied)."""
    if isinstance(value, dict):
        return ArgumentObject(**{key: _build(item, inputs, objects) for key, item in value.items()})
    if isinstance(value, list):
        return [_build(item, inputs, objects) for item in value]
    return _argument(value, inputs, objects)


def _argument(value: Any, inputs: dict[str, np.ndarray], objects: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return inputs[value].copy()
    if isinstance(value, dict):
        return objects[value["object"]]
    return value


def _arguments(values: Any, inputs: dict[str, np.ndarray], objects: dict[str, Any]) -> Any:
    if isinstance(values, dict):
        return {key: _argument(value, inputs, objects) for key, value in values.items()}
    return [_argument(value, inputs, objects) for value in values]


def _path_parts(path: str) -> list[str | int]:
    """"layers[2].W" -> ["layers", 2, "W"]."""
    parts: list[str | int] = []
    for name in path.split("."):
        head, _, rest = name.partition("[")
        parts.append(head)
        parts.extend(int(index) for index in rest.replace("]", "").split("[") if rest)
    return parts


def _get_path(owner: Any, path: str) -> Any:
    for part in _path_parts(path):
        owner = owner[part] if isinstance(part, int) else getattr(owner, part)
    return owner


def _set_path(owner: Any, path: str, value: Any) -> None:
    *parts, last = _path_parts(path)
    for part in parts:
        owner = owner[part] if isinstance(part, int) else getattr(owner, part)
    if isinstance(last, int):
        owner[last] = value
    else:
        setattr(owner, last, value)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def describe_result(result: Any, max_bytes: int = 1 << 26) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What the student returned: an array travels as data, anything else as a description.

    An array larger than `max_bytes` is described but not sent (the grader
    would refuse it, and copying it could exhaust the worker's memory).
    """
    if result is None:
        return {"kind": "none", "type": "NoneType"}, {}
    if isinstance(result, (int, float, np.number)) and not isinstance(result, (bool, np.bool_)):
        # a number (a loss): sent as a 0-d array; a 0-d or one-element array is the same answer
        array = np.asarray(result)
        if array.dtype.str in protocol.WIRE_DTYPES:
            return {"kind": "scalar", "type": type(result).__name__, **protocol.describe_array(array)}, {"result": array}
    if isinstance(result, np.ndarray):
        array = np.asarray(result)
        if not array.dtype.isnative and array.nbytes <= max_bytes:
            # the same values in this machine's byte order (A.astype('>f8') is a right answer too)
            array = array.astype(array.dtype.newbyteorder("="))
        meta = protocol.describe_array(array, max_bytes=max_bytes)
        return {"kind": "ndarray", "type": type(result).__name__, **meta}, ({"result": array} if meta["sendable"] else {})
    try:
        shape = list(np.shape(result))
    except BaseException:  # noqa: BLE001
        shape = None
    try:
        text = reprlib.repr(result)[:200]
    except BaseException:  # noqa: BLE001 - a student's __repr__ may raise
        text = "<unprintable>"
    return {"kind": "other", "type": type(result).__name__, "repr": text, "shape": shape}, {}


def describe_exception(exc: BaseException, workdir: str) -> dict[str, Any]:
    """Type, message and the traceback frames that are in the student's own files."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if not frame.filename or frame.filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
            continue
        filename = os.path.abspath(frame.filename)
        if not filename.startswith(workdir + os.sep):
            continue
        line = linecache.getline(filename, frame.lineno or 0).strip() if frame.lineno else ""
        frames.append({"file": os.path.relpath(filename, workdir), "line": frame.lineno,
                       "function": frame.name, "code": line[:200]})
    if isinstance(exc, SyntaxError) and exc.filename:
        filename = os.path.abspath(exc.filename)
        if filename.startswith(workdir + os.sep):
            frames.append({"file": os.path.relpath(filename, workdir), "line": exc.lineno,
                           "function": "<module>", "code": (exc.text or "").strip()[:200]})
    if len(frames) > MAX_FRAMES:
        frames = frames[:2] + frames[-(MAX_FRAMES - 2):]
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = "<the exception's message could not be shown>"
    if isinstance(exc, SyntaxError):
        message = exc.msg or message
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + " ..."
    return {"type": type(exc).__name__, "message": message, "frames": frames,
            "not_implemented": isinstance(exc, NotImplementedError), "memory": isinstance(exc, MemoryError)}
