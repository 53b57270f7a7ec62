# Appended to the hw1p1 reference's models/mlp.py (see test_attacks), whose Linear gets dLdb averaged, so that
# Linear's own tests fail and the failed MLP tests are graded again against the student's own Linear and ReLU
# (own_layers) once every test has run. Each MLP forward keeps the inputs it is given in a file of its working
# folder and answers a little off; Linear's forward, when the grader runs the parts itself, raises an exception
# whose message (shown by a visible test) holds what was kept. A hidden case's inputs must never reach a visible
# test this way: a visible test's second grading runs before any hidden input is sent.
import os as _os

import numpy as _np

from mytorch.nn.linear import Linear as _Linear

_FILE = "kept_mlp_inputs.txt"
_INSIDE = []  # set while an MLP runs its own layers


def _keeping(forward):
    def keep(self, A0, *args, **kwargs):
        with open(_FILE, "a") as file:
            file.write(" ".join(repr(float(v)) for v in _np.ravel(A0)) + "\n")
        _INSIDE.append(True)
        try:
            return forward(self, A0, *args, **kwargs) + 1.0  # wrong, so the test is graded against the parts
        finally:
            _INSIDE.pop()
    return keep


def _telling(forward):
    def tell(self, A, *args, **kwargs):
        if not _INSIDE and _os.path.exists(_FILE):
            with open(_FILE) as file:
                raise ValueError("KEPT " + file.read().replace("\n", " | "))
        return forward(self, A, *args, **kwargs)
    return tell


for _cls in (MLP0, MLP1, MLP4):  # noqa: F821 - defined by the file it is appended to
    _cls.forward = _keeping(_cls.forward)
_Linear.forward = _telling(_Linear.forward)
