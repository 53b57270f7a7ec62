"""An independent softmax, written differently from the reference on purpose.

Plain Python floats, ``math.fsum`` and the explicit Jacobian of the writeup:
no NumPy vector tricks shared with the reference, so agreement between the two
means something. Used by ``generate`` (which refuses to write fixtures that
disagree) and by the test suite.
"""

from __future__ import annotations

import math
from typing import Sequence

Row = Sequence[float]


def softmax_row(z: Row) -> list[float]:
    """Softmax of one row, shifted by its maximum."""
    top = max(z)
    exps = [math.exp(v - top) for v in z]
    total = math.fsum(exps)
    return [e / total for e in exps]


def jacobian_row(a: Row) -> list[list[float]]:
    """J[m][n] = a_m (delta_mn - a_n), element by element."""
    return [[a[m] * ((1.0 if m == n else 0.0) - a[n]) for n in range(len(a))] for m in range(len(a))]


def backward_row(a: Row, dlda: Row) -> list[float]:
    """dLdZ = dLdA . J for one row, summed exactly with fsum."""
    jac = jacobian_row(a)
    return [math.fsum(dlda[m] * jac[m][n] for m in range(len(a))) for n in range(len(a))]


def softmax(z: Sequence[Row]) -> list[list[float]]:
    """Row-wise softmax of a batch."""
    return [softmax_row(row) for row in z]


def backward(a: Sequence[Row], dlda: Sequence[Row]) -> list[list[float]]:
    """Row-wise dLdZ of a batch."""
    return [backward_row(ra, rd) for ra, rd in zip(a, dlda)]
