"""Tries to read hidden inputs out through the text of a hidden test: what it prints, its exception's
message and class name, and a line number it chooses (compile() with its own file name)."""
import numpy as np


def _secret(x):
    return int(np.abs(x).sum() * 1000)


class Softmax:
    def forward(self, Z):
        n = _secret(Z)
        print("SECRET-TOKEN", n, flush=True)
        code = "\n" * (n % 5000) + "raise ValueError('leak %d' % n)"
        exec(compile(code, __file__, "exec"), {"n": n})

    def backward(self, dLdA):
        n = _secret(dLdA)
        print("SECRET-TOKEN", n, flush=True)
        raise type(f"Leak{n}Error", (ValueError,), {})(f"{n} {n / 7:.6f}")
