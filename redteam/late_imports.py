"""Driver: run `python -m autograder grade ...` in-process as root and report every module imported by the
grader process after Sandbox.prepare (student code starts then).

usage (from /work/wt/redteam20, as root):
    python redteam/late_imports.py grade SUBMISSION --fixtures FOLDER [--results R] [...]
Prints "LATE IMPORT: <module> <file>" per late import, and "late imports: N" at the end.
"""
import fcntl
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from autograder.sandbox import system  # noqa: E402
from autograder.sandbox.runner import Sandbox  # noqa: E402

ACCOUNT = "autograder-sbx-test"
MAIN = os.getpid()
state = {"prepared": False}
late = []


def hook(event, args):
    if event == "import" and state["prepared"] and os.getpid() == MAIN:
        if args[0] not in sys.modules:
            late.append((args[0], args[1]))
            if os.environ.get("LATE_STACK") and len(late) == 1:
                import traceback
                traceback.print_stack(limit=12)


sys.addaudithook(hook)
real_prepare = Sandbox.prepare


def prepare(self, *targets):
    state["prepared"] = True
    return real_prepare(self, *targets)


Sandbox.prepare = prepare
system.SANDBOX_USER = ACCOUNT
from autograder import cli  # noqa: E402

with open(os.path.join(tempfile.gettempdir(), f"{ACCOUNT}.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        code = cli.main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(f"prepared: {state['prepared']}", file=sys.stderr)
seen = set()
for name, filename in late:
    if name not in seen:
        seen.add(name)
        print(f"LATE IMPORT: {name} {filename}", file=sys.stderr)
print(f"late imports: {len(seen)} (exit {code})", file=sys.stderr)
