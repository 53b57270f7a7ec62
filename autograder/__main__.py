"""`python -m autograder`.

First the environment is checked (preflight: the Python version, the
packages), so that a student's wrong interpreter gets one line naming the
fix, not a traceback. Once the command is done (results written and
closed, the sandbox stopped, output flushed), the process ends at once:
tearing down the interpreter's hundreds of modules and arrays would cost
about a tenth of a grading and changes nothing (see README, "Performance").
The cyclic garbage collector is off until the command's modules are
imported (cli.imports_done).
"""

import gc
import os
import sys

# No cyclic garbage collection while the command's modules are imported (NumPy's included): each pass scans
# every object the imports made so far, about 6 ms of a grading. cli.imports_done turns it on again.
gc.disable()


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
