"""Reference solution for the MyTorch Softmax layer (instructors only; never shipped to students)."""

import numpy as np


class Softmax:
    """Row-wise softmax: each row of Z becomes a probability distribution."""

    def forward(self, Z):
        """Return A = softmax(Z) along axis 1 and keep it for backward.

        Subtracting each row's maximum first leaves the result unchanged
        (softmax is shift-invariant) but keeps exp() from overflowing for
        large logits of either sign.
        """
        shifted = Z - np.max(Z, axis=1, keepdims=True)
        exps = np.exp(shifted)
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        """Return dLdZ for the batch, one row per sample.

        Row i is dLdA[i] @ J_i with J_i = diag(a) - a a^T, which expands to
        a * (dLdA[i] - dLdA[i] . a): O(N*C) time and memory, no C x C matrix.
        """
        A = self.A
        inner = np.sum(dLdA * A, axis=1, keepdims=True)
        return A * (dLdA - inner)
