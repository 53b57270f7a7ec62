# Honest but noisy: correct answers, after printing megabytes of text, binary
# garbage, terminal escapes, NUL bytes and the protocol's marker to stdout and stderr.
import os
import sys

import numpy as np

GARBAGE = bytes(range(256)) * 16 + b"\x1b[31mred\x1b[0m\x00AGW1\xff\xfe"


def _flood(label):
    print(label, "starting")
    for i in range(2000):
        sys.stdout.write(f"{label} line {i}: " + "x" * 1000 + "\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(GARBAGE * 64)
    sys.stdout.buffer.flush()
    os.write(2, GARBAGE * 64)
    print(label, "done")


class Softmax:
    def forward(self, Z):
        _flood("forward")
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        _flood("backward")
        return self.A * (dLdA - (dLdA * self.A).sum(axis=1, keepdims=True))
