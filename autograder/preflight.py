"""Before the grader imports anything: is this Python able to run it? Each problem is one line naming the fix.

Kept to syntax that old Pythons still read, so that a Python older than the
grader supports gets this message, not a SyntaxError from a module it could
not parse. Used by `python -m autograder` and by the handout's conftest.py.
"""

import importlib.util
import os
import sys

MIN_PYTHON = (3, 10)
PACKAGES = (("numpy", "numpy"), ("yaml", "pyyaml"), ("gradescope_utils", "gradescope-utils"))
# found, not imported: a grading whose fixtures are all indexed never imports it (see fixtures.load_yaml)
FOUND_ONLY = ("yaml",)


def activate_command():
    """How to activate the handout's virtual environment in this system's usual shell."""
    if os.name == "nt":
        return ".venv\\Scripts\\Activate.ps1 (PowerShell)"
    return "source .venv/bin/activate"


def problem():
    """One line saying what keeps this Python from running the grader and how to fix it; None when nothing does."""
    here = "Python {}.{}.{} ({})".format(sys.version_info[0], sys.version_info[1], sys.version_info[2],
                                         sys.executable or "python")
    if sys.version_info[:2] < MIN_PYTHON:
        return ("this is {}, and the grader needs Python {}.{} or newer: install a newer Python, create the "
                "virtual environment with it and activate it (see README.md)".format(here, *MIN_PYTHON))
    for module, package in PACKAGES:
        try:
            if module not in FOUND_ONLY:
                __import__(module)
            elif importlib.util.find_spec(module) is None:
                raise ImportError(module)
        except ImportError:
            in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
            if not in_venv and os.path.isdir(".venv"):
                fix = "activate the virtual environment with `{}`, then run the command again".format(
                    activate_command())
            else:
                fix = "install the requirements with `python -m pip install -r requirements.txt`"
            return "{} is not installed for this Python ({}): {}".format(package, here, fix)
    return None
