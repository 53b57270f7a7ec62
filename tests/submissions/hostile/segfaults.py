# Faulty: a correct forward, and a backward that crashes the interpreter with a
# segmentation fault. (Backward's test calls forward first, so the crash must be
# in backward for the forward tests to be unaffected.)
import ctypes

import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        ctypes.string_at(0)
        return dLdA
