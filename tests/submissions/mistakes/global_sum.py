import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z))
        self.A = exps / np.sum(exps)  # normalise
        return self.A

    def backward(self, dLdA):
        A = self.A
        return A * (dLdA - np.sum(dLdA * A, axis=1, keepdims=True))
