"""Multi-layer perceptrons built from your own Linear and ReLU."""

# for you to use:
from mytorch.nn.activation import ReLU
from mytorch.nn.linear import Linear


class MLP0:
    def __init__(self, debug=False):
        raise NotImplementedError("MLP0.__init__: build self.layers, a Linear from 2 to 3 features then a ReLU")

    def forward(self, A0):
        raise NotImplementedError("MLP0.forward: pass A0 through self.layers in order")

    def backward(self, dLdA):
        raise NotImplementedError("MLP0.backward: pass dLdA back through self.layers in reverse order")


class MLP1:
    def __init__(self, debug=False):
        raise NotImplementedError("MLP1.__init__: build self.layers, Linear 2 to 3, ReLU, Linear 3 to 2, ReLU")

    def forward(self, A0):
        raise NotImplementedError("MLP1.forward: pass A0 through self.layers in order")

    def backward(self, dLdA):
        raise NotImplementedError("MLP1.backward: pass dLdA back through self.layers in reverse order")


class MLP4:
    def __init__(self, debug=False):
        raise NotImplementedError("MLP4.__init__: Linear layers 2-4-8-8-4-2, each followed by a ReLU")

    def forward(self, A0):
        raise NotImplementedError("MLP4.forward: pass A0 through self.layers in order")

    def backward(self, dLdA):
        raise NotImplementedError("MLP4.backward: pass dLdA back through self.layers in reverse order")
