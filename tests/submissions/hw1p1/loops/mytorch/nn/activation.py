"""Every activation with explicit loops over entries, and GELU with math.erf through np.vectorize."""

import math

import numpy as np


def _each(f, *arrays):
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        out[index] = f(*(a[index] for a in arrays))
    return out


class Identity:
    def forward(self, Z):
        self.A = Z.copy()
        return self.A

    def backward(self, dLdA):
        return dLdA.copy()


class Sigmoid:
    def forward(self, Z):
        self.A = _each(lambda z: 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z)), Z)
        return self.A

    def backward(self, dLdA):
        return _each(lambda g, a: g * a * (1.0 - a), dLdA, self.A)


class Tanh:
    def forward(self, Z):
        self.A = _each(math.tanh, Z)
        return self.A

    def backward(self, dLdA):
        return _each(lambda g, a: g * (1.0 - a * a), dLdA, self.A)


class ReLU:
    def forward(self, Z):
        self.Z = Z
        self.A = _each(lambda z: z if z > 0 else 0.0, Z)
        return self.A

    def backward(self, dLdA):
        return _each(lambda g, z: g if z > 0 else 0.0, dLdA, self.Z)


erf = np.vectorize(math.erf)


class GELU:
    def forward(self, Z):
        self.Z = Z
        self.A = 0.5 * Z * (1 + erf(Z / math.sqrt(2)))
        return self.A

    def backward(self, dLdA):
        Z = self.Z
        return dLdA * (0.5 * (1 + erf(Z / math.sqrt(2))) + Z * np.exp(-0.5 * Z ** 2) / math.sqrt(2 * math.pi))


class Softmax:
    def forward(self, Z):
        self.A = np.zeros(Z.shape)
        for i in range(Z.shape[0]):
            e = np.exp(Z[i] - np.max(Z[i]))
            self.A[i] = e / np.sum(e)
        return self.A

    def backward(self, dLdA):
        dLdZ = np.zeros(dLdA.shape)
        for i in range(dLdA.shape[0]):
            a = self.A[i]
            J = np.diag(a) - np.outer(a, a)
            dLdZ[i] = dLdA[i] @ J
        return dLdZ
