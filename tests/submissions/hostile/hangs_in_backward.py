# Faulty: a correct forward, and a backward that never returns.
import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        while True:
            pass
