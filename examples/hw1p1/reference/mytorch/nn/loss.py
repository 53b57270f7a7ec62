"""Losses (reference solution)."""

import numpy as np


class MSELoss:
    def forward(self, A, Y):
        self.A, self.Y = A, Y
        n, c = A.shape
        return float(np.sum((A - Y) ** 2) / (n * c))

    def backward(self):
        n, c = self.A.shape
        return 2.0 * (self.A - self.Y) / (n * c)


class CrossEntropyLoss:
    def forward(self, A, Y):
        self.Y = Y
        shifted = A - A.max(axis=1, keepdims=True)
        log_s = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.S = np.exp(log_s)
        return float(np.sum(-Y * log_s) / A.shape[0])

    def backward(self):
        return (self.S - self.Y) / self.Y.shape[0]
