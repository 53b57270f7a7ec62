"""A correct Softmax whose answers are big-endian float64 (A.astype('>f8')): the same values, another byte order."""
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A.astype(">f8")

    def backward(self, dLdA):
        inner = (dLdA * self.A).sum(axis=1, keepdims=True)
        return (self.A * (dLdA - inner)).astype(">f8")
