# Benchmark submission: imports fine, then every call spins forever (a busy loop, the
# costlier kind of hang: it burns CPU until the grader's time limit stops it).
import numpy as np


class Softmax:
    def forward(self, Z):
        while True:
            pass

    def backward(self, dLdA):
        while True:
            pass
