"""Losses: forward(A, Y) returns the loss L, a number; backward() returns dLdA."""

import numpy as np


class MSELoss:
    def forward(self, A, Y):
        raise NotImplementedError("MSELoss.forward: return L = sum((A - Y)**2) / (N * C)")

    def backward(self):
        raise NotImplementedError("MSELoss.backward: return dLdA = 2 * (A - Y) / (N * C)")


class CrossEntropyLoss:
    def forward(self, A, Y):
        raise NotImplementedError("CrossEntropyLoss.forward: return L = sum(-Y * log(softmax(A))) / N, stably")

    def backward(self):
        raise NotImplementedError("CrossEntropyLoss.backward: return dLdA = (softmax(A) - Y) / N")
