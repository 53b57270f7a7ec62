"""Returns a 40-dimensional array (the right values, wrapped in 38 extra axes of length 1); 32 dimensions on
NumPy 1.x, which allows no more."""
import numpy as np

EXTRA = 38 if int(np.__version__.split(".")[0]) >= 2 else 30


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A.reshape((1,) * EXTRA + self.A.shape)

    def backward(self, dLdA):
        inner = (dLdA * self.A).sum(axis=1, keepdims=True)
        return (self.A * (dLdA - inner)).reshape((1,) * EXTRA + dLdA.shape)
