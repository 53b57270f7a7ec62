"""Batch normalisation over the batch axis."""

import numpy as np


class BatchNorm1d:
    def __init__(self, num_features, alpha=0.9):
        self.alpha = alpha
        self.eps = 1e-8
        self.BW = np.ones((1, num_features))
        self.Bb = np.zeros((1, num_features))
        self.running_M = np.zeros((1, num_features))
        self.running_V = np.ones((1, num_features))

    def forward(self, Z, eval=False):
        raise NotImplementedError("BatchNorm1d.forward: return BZ = BW * NZ + Bb (training: batch mean and biased "
                                  "variance, update running_M and running_V; eval: the running statistics)")

    def backward(self, dLdBZ):
        raise NotImplementedError("BatchNorm1d.backward: store dLdBW and dLdBb, return dLdZ")
