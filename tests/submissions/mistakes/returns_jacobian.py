import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        N, C = dLdA.shape
        J = np.zeros((N, C, C))
        for i in range(N):
            for m in range(C):
                for n in range(C):
                    if m == n:
                        J[i, m, n] = self.A[i, m] * (1 - self.A[i, m])
                    else:
                        J[i, m, n] = -self.A[i, m] * self.A[i, n]
        return J
