# Faulty: forward asks for one huge array at once, backward grows a list until memory runs out.
import numpy as np


class Softmax:
    def forward(self, Z):
        big = np.ones((1 << 31,))  # 16 GB
        return big[: Z.size].reshape(Z.shape)

    def backward(self, dLdA):
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
