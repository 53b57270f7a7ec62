# Fault: fills the disk at import (files of 4 MB, under the file-size limit, in
# its own folder, which the test puts on a small disk with the results folder)
# until the file system is full, then computes correct answers. The results
# must still be written in full.
import os

import numpy as np

written = 0
for folder in (os.getcwd(),):
    for i in range(10000):
        try:
            with open(os.path.join(folder, f"fill-{os.getpid()}-{i}"), "wb") as handle:
                handle.write(b"x" * (4 << 20))
            written += 4
        except OSError as exc:
            print(f"stopped in {folder} after {written} MB: {type(exc).__name__}")
            break


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        s = (dLdA * self.A).sum(axis=1, keepdims=True)
        return self.A * (dLdA - s)
