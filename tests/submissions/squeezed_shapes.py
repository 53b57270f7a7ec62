# Wrong for a batch of one: both methods squeeze their output, so a (1, C) result comes back as (C,).
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = e / np.sum(e, axis=1, keepdims=True)
        return self.A.squeeze()

    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return np.squeeze(self.A * (dLdA - inner))
