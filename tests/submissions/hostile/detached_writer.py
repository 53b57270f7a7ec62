# Cheat: leaves a double-forked, setsid'd process behind that waits until grading
# is over, then overwrites the results file with a full score and touches MARKER
# (set by the test) to prove it survived. Its own answers are wrong.
import json
import os
import time

import numpy as np

# the grader's command line: its (forked) zygote, the parent of this process, has the same one
GRADER_CMDLINES = [f"/proc/{os.getppid()}/cmdline"]

MARKER = ""  # filled in by the test
FAKE = {"score": 100.0, "tests": []}


def _results_paths():
    paths = ["/autograder/results/results.json"]
    for cmdline in GRADER_CMDLINES:
        try:
            args = open(cmdline, "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        paths.extend(args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--results")
    return paths


def _detach():
    paths = _results_paths()
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    for fd in range(0, 64):
        try:
            os.close(fd)
        except OSError:
            pass
    time.sleep(0.5)
    if MARKER:
        open(MARKER, "w").close()
    for path in paths:
        try:
            with open(path, "w") as handle:
                json.dump(FAKE, handle)
        except OSError:
            pass
    os._exit(0)


_detach()


class Softmax:
    def forward(self, Z):
        _detach()
        return np.zeros_like(Z)

    def backward(self, dLdA):
        return np.zeros_like(dLdA)
