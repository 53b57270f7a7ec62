import numpy as np


class Softmax:
    def forward(self, Z):
        numerator = np.exp(Z)
        denominator = np.sum(numerator, axis=1, keepdims=True)
        self.A = numerator / denominator
        return self.A

    def backward(self, dLdA):
        A = self.A
        inner = np.sum(dLdA * A, axis=1, keepdims=True)
        return A * (dLdA - inner)
