# Cheat: writes a full-score results.json itself, wherever the grader keeps it
# (the Gradescope path, and the path named on the grader's command line), then
# returns wrong answers. Prints FORGED for every write that worked.
import json
import os

import numpy as np

# the grader's command line: its (forked) zygote, the parent of this process, has the same one
GRADER_CMDLINES = [f"/proc/{os.getppid()}/cmdline"]

FAKE = {"score": 100.0, "tests": [{"name": "everything", "score": 100.0, "max_score": 100.0, "status": "passed"}]}


def _results_paths():
    paths = {"/autograder/results/results.json"}
    for cmdline in GRADER_CMDLINES:
        try:
            args = open(cmdline, "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-1]):
            if arg == "--results":
                paths.add(args[i + 1])
    return paths


for path in sorted(_results_paths()):
    for target in (path, os.path.join(os.path.dirname(path), "forged.json")):
        try:
            with open(target, "w") as handle:
                json.dump(FAKE, handle)
            print("FORGED", target)
        except OSError as exc:
            print("denied:", target, type(exc).__name__)


class Softmax:
    def forward(self, Z):
        return np.zeros_like(Z)

    def backward(self, dLdA):
        return np.zeros_like(dLdA)
