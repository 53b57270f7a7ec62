"""Stochastic gradient descent with momentum."""

import numpy as np


class SGD:
    def __init__(self, model, lr=0.1, momentum=0):
        self.l = model.layers
        self.lr = lr
        self.mu = momentum
        self.v_W = [np.zeros(layer.W.shape) for layer in self.l]
        self.v_b = [np.zeros(layer.b.shape) for layer in self.l]

    def step(self):
        raise NotImplementedError("SGD.step: update every layer's W and b (with momentum when mu is not 0)")
