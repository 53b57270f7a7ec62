# Correct, in plain loops: builds each sample's full C x C Jacobian and multiplies by hand.
import math

import numpy as np


class Softmax:
    def forward(self, Z):
        N, C = Z.shape
        A = np.zeros((N, C))
        for i in range(N):
            top = max(Z[i, k] for k in range(C))
            exps = [math.exp(Z[i, k] - top) for k in range(C)]
            total = sum(exps)
            for k in range(C):
                A[i, k] = exps[k] / total
        self.A = A
        return A

    def backward(self, dLdA):
        N, C = dLdA.shape
        dLdZ = np.zeros((N, C))
        for i in range(N):
            J = [[0.0] * C for _ in range(C)]
            for m in range(C):
                for n in range(C):
                    a_m, a_n = self.A[i, m], self.A[i, n]
                    J[m][n] = a_m * (1.0 - a_m) if m == n else -a_m * a_n
            for n in range(C):
                dLdZ[i, n] = sum(dLdA[i, m] * J[m][n] for m in range(C))
        return dLdZ
