import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        # derivative of softmax: a * (1 - a)
        dAdZ = self.A * (1 - self.A)
        return dLdA * dAdZ
