# Faulty: an endless loop at the top level, so importing never finishes.
while True:
    pass


class Softmax:
    def forward(self, Z):
        return Z

    def backward(self, dLdA):
        return dLdA
