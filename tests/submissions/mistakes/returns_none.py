import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)

    def backward(self, dLdA):
        A = self.A
        dLdZ = A * (dLdA - np.sum(dLdA * A, axis=1, keepdims=True))
