"""Multi-layer perceptrons built from the student's own Linear and ReLU (reference solution)."""

from mytorch.nn.activation import ReLU
from mytorch.nn.linear import Linear


class _Sequential:
    def forward(self, A0):
        A = A0
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def backward(self, dLdA):
        for layer in reversed(self.layers):
            dLdA = layer.backward(dLdA)
        return dLdA


class MLP0(_Sequential):
    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU()]
        self.debug = debug


class MLP1(_Sequential):
    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU(), Linear(3, 2), ReLU()]
        self.debug = debug


class MLP4(_Sequential):
    def __init__(self, debug=False):
        sizes = [2, 4, 8, 8, 4, 2]
        self.layers = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            self.layers += [Linear(fan_in, fan_out), ReLU()]
        self.debug = debug
