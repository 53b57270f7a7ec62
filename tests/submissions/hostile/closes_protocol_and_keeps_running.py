# Faulty: a correct forward; backward closes every descriptor it did not open (the
# connection to the grader among them) and keeps running.
import os
import time

import numpy as np


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        for fd in range(3, 64):
            try:
                os.close(fd)
            except OSError:
                pass
        time.sleep(3600)
