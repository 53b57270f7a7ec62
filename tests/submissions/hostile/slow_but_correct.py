# Honest: correct, but takes its time at import and in every call (sleeps), and
# computes backward with explicit Python loops over the Jacobian.
import time

import numpy as np

time.sleep(0.05)


class Softmax:
    def forward(self, Z):
        time.sleep(0.01)
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        time.sleep(0.01)
        N, C = dLdA.shape
        dLdZ = np.zeros((N, C))
        for i in range(N):
            a = self.A[i]
            for m in range(C):
                for n in range(C):
                    dLdZ[i, n] += dLdA[i, m] * a[m] * ((m == n) - a[n])
        return dLdZ
