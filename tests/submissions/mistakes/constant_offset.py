import numpy as np

EPS = 1e-4  # keep probabilities away from 0 so log() is safe later


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True) + EPS
        return self.A

    def backward(self, dLdA):
        A = self.A
        return A * (dLdA - np.sum(dLdA * A, axis=1, keepdims=True))
