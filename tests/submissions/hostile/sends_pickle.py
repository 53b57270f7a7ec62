# Cheat: tries to make the grader run code. forward returns an object whose
# unpickling would run a command; backward writes a pickle with the same payload
# straight to the descriptors the grader reads (its protocol socket and stdout).
import os
import pickle
import stat

import numpy as np

MARKER = ""  # filled in by the test: the payload creates this file if it ever runs


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class Softmax:
    def forward(self, Z):
        return Payload()

    def backward(self, dLdA):
        blob = pickle.dumps(Payload())
        for fd in range(0, 64):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode) or fd == 1:
                    os.write(fd, blob)
            except OSError:
                pass
        return np.zeros_like(dLdA)
