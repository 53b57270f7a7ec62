# Appended to the hw1p1 reference's mytorch/nn/activation.py (see test_attacks): every forward keeps the
# inputs it is given, in a module global and in a file of its working folder, and shows what earlier
# checks kept in its own test: printed, and, from the second check on, in an exception's message. A
# hidden case's inputs must never reach a visible test this way (grade.run_order).
import os as _os

import numpy as _np

_KEPT = []  # what this process saw (the shared child of the host keeps it from check to check)
_FILE = "kept_inputs.txt"  # in the host's working folder, where later checks find it


def _keeping(forward):
    def keep(self, Z, *args, **kwargs):
        seen = list(_KEPT)
        if _os.path.exists(_FILE):
            with open(_FILE) as file:
                seen.append(file.read())
        shown = "KEPT " + " | ".join(seen)
        print(shown)
        values = " ".join(repr(float(v)) for v in _np.ravel(Z))
        _KEPT.append(values)
        with open(_FILE, "a") as file:
            file.write(values + "\n")
        if seen and type(self).__name__ != "Identity":
            raise ValueError(shown)
        return forward(self, Z, *args, **kwargs)
    return keep


for _cls in (Identity, Sigmoid, Tanh, ReLU, GELU, Softmax):  # noqa: F821 - defined by the file it is appended to
    _cls.forward = _keeping(_cls.forward)
