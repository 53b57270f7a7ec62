import numpy as np


class Softmax:
    def forward(self, Z):
        Z -= np.max(Z, axis=1, keepdims=True)  # stability, no extra copy
        np.exp(Z, out=Z)
        self.A = Z / np.sum(Z, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        A = self.A
        return A * (dLdA - np.sum(dLdA * A, axis=1, keepdims=True))
