import numpy as np


class Linear:
    def __init__(self, in_features, out_features, debug=False):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros((out_features, 1))

    def forward(self, A):
        self.A = A
        self.N = A.shape[0]
        Z = np.zeros((self.N, self.W.shape[0]))
        for n in range(self.N):
            for j in range(self.W.shape[0]):
                Z[n, j] = sum(A[n, i] * self.W[j, i] for i in range(self.W.shape[1])) + self.b[j, 0]
        return Z

    def backward(self, dLdZ):
        out_features, in_features = self.W.shape
        self.dLdW = np.zeros((out_features, in_features))
        self.dLdb = np.zeros((out_features, 1))
        dLdA = np.zeros((self.N, in_features))
        for n in range(self.N):
            for j in range(out_features):
                self.dLdb[j, 0] += dLdZ[n, j]
                for i in range(in_features):
                    self.dLdW[j, i] += dLdZ[n, j] * self.A[n, i]
                    dLdA[n, i] += dLdZ[n, j] * self.W[j, i]
        return dLdA
