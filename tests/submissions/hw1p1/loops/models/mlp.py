from mytorch.nn.activation import ReLU
from mytorch.nn.linear import Linear


class MLP0:
    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU()]

    def forward(self, A0):
        Z0 = self.layers[0].forward(A0)
        return self.layers[1].forward(Z0)

    def backward(self, dLdA1):
        dLdZ0 = self.layers[1].backward(dLdA1)
        return self.layers[0].backward(dLdZ0)


class MLP1:
    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU(), Linear(3, 2), ReLU()]

    def forward(self, A0):
        A = A0
        for i in range(len(self.layers)):
            A = self.layers[i].forward(A)
        return A

    def backward(self, dLdA):
        for i in range(len(self.layers) - 1, -1, -1):
            dLdA = self.layers[i].backward(dLdA)
        return dLdA


class MLP4(MLP1):
    def __init__(self, debug=False):
        self.layers = []
        for a, b in [(2, 4), (4, 8), (8, 8), (8, 4), (4, 2)]:
            self.layers.append(Linear(a, b))
            self.layers.append(ReLU())
