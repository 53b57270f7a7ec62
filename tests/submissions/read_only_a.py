"""A correct Softmax whose A is a read-only property (forward sets self._A): the grader cannot set self.A."""
import numpy as np


class Softmax:
    @property
    def A(self):
        return self._A

    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self._A = e / e.sum(axis=1, keepdims=True)
        return self._A

    def backward(self, dLdA):
        inner = (dLdA * self.A).sum(axis=1, keepdims=True)
        return self.A * (dLdA - inner)
