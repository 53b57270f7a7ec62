# Wrong: backward averages over the batch (divides by N), which belongs in the loss, not in the layer.
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = e / np.sum(e, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        N = dLdA.shape[0]
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return self.A * (dLdA - inner) / N
