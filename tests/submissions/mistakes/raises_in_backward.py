import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        a = self.A.flatten()
        J = np.diag(a) - np.outer(a, a)
        dLdZ = dLdA @ J
        return dLdZ
