"""Activations: forward(Z) stores and returns A; backward(dLdA) returns dLdZ = dLdA * dA/dZ."""

import numpy as np


class Identity:
    def forward(self, Z):
        raise NotImplementedError("Identity.forward: return A = Z (and keep it in self.A)")

    def backward(self, dLdA):
        raise NotImplementedError("Identity.backward: return dLdZ = dLdA * dA/dZ, with dA/dZ = 1")


class Sigmoid:
    def forward(self, Z):
        raise NotImplementedError("Sigmoid.forward: return A = 1 / (1 + exp(-Z)) (and keep it in self.A)")

    def backward(self, dLdA):
        raise NotImplementedError("Sigmoid.backward: return dLdZ = dLdA * (A - A*A)")


class Tanh:
    def forward(self, Z):
        raise NotImplementedError("Tanh.forward: return A = tanh(Z) (and keep it in self.A)")

    def backward(self, dLdA):
        raise NotImplementedError("Tanh.backward: return dLdZ = dLdA * (1 - A*A)")


class ReLU:
    def forward(self, Z):
        raise NotImplementedError("ReLU.forward: return A = max(Z, 0) (keep Z and A)")

    def backward(self, dLdA):
        raise NotImplementedError("ReLU.backward: return dLdZ = dLdA where Z > 0, else 0")


class GELU:
    def forward(self, Z):
        raise NotImplementedError("GELU.forward: return A = 0.5 * Z * (1 + erf(Z / sqrt(2))) (keep Z and A)")

    def backward(self, dLdA):
        raise NotImplementedError("GELU.backward: return dLdZ = dLdA * dA/dZ (see the writeup for dA/dZ)")


class Softmax:
    def forward(self, Z):
        raise NotImplementedError("Softmax.forward: return each row's softmax (and keep it in self.A)")

    def backward(self, dLdA):
        raise NotImplementedError("Softmax.backward: return dLdZ, row i being dLdA[i] @ J_i")
