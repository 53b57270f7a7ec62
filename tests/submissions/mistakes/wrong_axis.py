import numpy as np


class Softmax:
    def forward(self, Z):
        # subtract the max for stability, then normalise
        Z_max = np.max(Z, axis=0, keepdims=True)
        exps = np.exp(Z - Z_max)
        self.A = exps / np.sum(exps, axis=0, keepdims=True)
        return self.A

    def backward(self, dLdA):
        N, C = dLdA.shape
        dLdZ = np.zeros((N, C))
        for i in range(N):
            a = self.A[i]
            J = np.diag(a) - np.outer(a, a)
            dLdZ[i] = dLdA[i] @ J
        return dLdZ
