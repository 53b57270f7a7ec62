import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max())  # shift so exp does not overflow
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        A = self.A
        return A * (dLdA - (dLdA * A).sum(axis=1, keepdims=True))
