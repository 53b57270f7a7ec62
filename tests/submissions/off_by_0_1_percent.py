# Wrong by a little: both outputs are 0.1 % too large, which the tolerance must reject.
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = e / np.sum(e, axis=1, keepdims=True)
        return self.A * 1.001

    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return self.A * (dLdA - inner) * 1.001
