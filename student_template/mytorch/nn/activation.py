import numpy as np


class Softmax:
    """
    Softmax activation, applied to each row of a batch.

    Read the "Softmax" section of the writeup before you start: it gives the
    forward equation, the Jacobian and a worked example you can check against.
    """

    def forward(self, Z):
        """
        Z: array of shape (N, C), one row of C logits per sample.
        Return A of shape (N, C) where each row of A is the softmax of the
        same row of Z, and keep A in self.A for backward.
        Softmax does not act element-wise: each output uses its whole row.
        """
        raise NotImplementedError("Softmax.forward: see 'Softmax Forward Equation' in the writeup")

    def backward(self, dLdA):
        """
        dLdA: array of shape (N, C), the gradient of the loss with respect to A.
        Return dLdZ of shape (N, C): for each row, dLdA times that row's
        C x C Jacobian (see 'Softmax Backward Equation' in the writeup).
        """
        raise NotImplementedError("Softmax.backward: see 'Softmax Backward Equation' in the writeup")
