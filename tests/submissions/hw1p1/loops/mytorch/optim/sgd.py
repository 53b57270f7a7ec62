import numpy as np


class SGD:
    """The other form of momentum: v = mu * v - lr * g; W = W + v (the same steps)."""

    def __init__(self, model, lr=0.1, momentum=0):
        self.model = model
        self.lr = lr
        self.mu = momentum
        self.v_W = [np.zeros_like(layer.W) for layer in model.layers]
        self.v_b = [np.zeros_like(layer.b) for layer in model.layers]

    def step(self):
        for i, layer in enumerate(self.model.layers):
            self.v_W[i] = self.mu * self.v_W[i] - self.lr * layer.dLdW
            self.v_b[i] = self.mu * self.v_b[i] - self.lr * layer.dLdb
            layer.W += self.v_W[i]
            layer.b += self.v_b[i]
