"""MyTorch autograder: fixtures from a reference solution, isolated grading, Gradescope results."""

import os as _os

# The grader and its workers do small array work; one BLAS thread each keeps
# forked workers cheap and lets the process limit count only real processes.
# Must be set before numpy is first imported, which is why it lives here.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
