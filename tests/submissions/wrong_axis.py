# Wrong: forward normalises each column (axis=0) instead of each row; backward is right.
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
        self.A = e / np.sum(e, axis=0, keepdims=True)
        return self.A

    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return self.A * (dLdA - inner)
