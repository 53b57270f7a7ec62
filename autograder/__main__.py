"""`python -m autograder`.

First the environment is checked (preflight: the Python version, the
packages), so that a student's wrong interpreter gets one line naming the
fix, not a traceback. Once the command is done (results written and
closed, the sandbox stopped, output flushed), the process ends at once:
tearing down the interpreter's hundreds of modules and arrays would cost
about a tenth of a grading and changes nothing (see README, "Performance").
"""

import os
import sys


def _run():
    from .preflight import problem

    trouble = problem()
    if trouble:
        print("error: " + trouble, file=sys.stderr)
        return 2
    from .cli import main

    return main()


try:
    code = _run()
except KeyboardInterrupt:  # Ctrl-C before the command had started (cli.main handles it after)
    code = 130
    try:
        print("interrupted", file=sys.stderr)
    except (OSError, ValueError):
        pass
try:
    sys.stdout.flush()
    sys.stderr.flush()
except (BrokenPipeError, ValueError):  # a closed pipe (`| head`): nothing more can be shown anyway
    pass
os._exit(code)
