# Imports fine but has no Softmax class: the student named it differently.
import numpy as np


class SoftMax:
    def forward(self, Z):
        e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = e / np.sum(e, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        return self.A * (dLdA - np.sum(dLdA * self.A, axis=1, keepdims=True))
