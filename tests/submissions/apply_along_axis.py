# Correct, row by row with np.apply_along_axis.
import numpy as np


def softmax_row(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def backward_row(packed):
    a, g = np.split(packed, 2)
    J = np.diag(a) - np.outer(a, a)
    return g @ J


class Softmax:
    def forward(self, Z):
        self.A = np.apply_along_axis(softmax_row, 1, Z)
        return self.A

    def backward(self, dLdA):
        return np.apply_along_axis(backward_row, 1, np.hstack([self.A, dLdA]))
