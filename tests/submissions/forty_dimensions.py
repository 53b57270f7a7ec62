"""Returns a 40-dimensional array (the right values, wrapped in 38 extra axes of length 1)."""
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A.reshape((1,) * 38 + self.A.shape)

    def backward(self, dLdA):
        inner = (dLdA * self.A).sum(axis=1, keepdims=True)
        return (self.A * (dLdA - inner)).reshape((1,) * 38 + dLdA.shape)
