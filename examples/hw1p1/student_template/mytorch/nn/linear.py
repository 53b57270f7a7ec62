"""Linear layer: Z = A @ W.T + ones((N, 1)) @ b.T."""

import numpy as np


class Linear:
    def __init__(self, in_features, out_features, debug=False):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros((out_features, 1))
        self.debug = debug

    def forward(self, A):
        raise NotImplementedError("Linear.forward: keep A and N, return Z = A @ W.T + ones((N, 1)) @ b.T")

    def backward(self, dLdZ):
        raise NotImplementedError("Linear.backward: store self.dLdW and self.dLdb, return dLdA = dLdZ @ W")
