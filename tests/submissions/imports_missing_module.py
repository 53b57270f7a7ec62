# Does not import: it needs a module that is not installed (on line 3).
import numpy as np
import torch_helpers_that_do_not_exist as helpers


class Softmax:
    def forward(self, Z):
        self.A = helpers.softmax(Z)
        return self.A

    def backward(self, dLdA):
        return helpers.softmax_backward(self.A, dLdA)
