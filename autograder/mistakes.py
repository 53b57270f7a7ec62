"""The catalogue of typical Softmax mistakes, shared by the feedback (diagnose.py) and the audit.

Each entry says what the mistake returns for a case (``produce``), the hint a
student reads when their output matches it, and a complete wrong
``activation.py`` (``mutant``) that makes exactly this mistake and nothing
else, so the audit can check that the grader catches it. To add a mistake,
add one ``Mistake`` to ``CATALOGUE``: the feedback recognises it from then on.

``produce`` receives the case's arrays ``{"Z", "dLdA", "A"}`` (``A`` is the
reference forward output, which backward is graded with) and returns the
wrong array, or None when the mistake does not show as an array (a wrong
type, an exception, an input changed in place): those are recognised by kind
in diagnose.py and use the hint from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Arrays = dict[str, np.ndarray]

# A mistake whose output would be bigger than this many numbers is not computed.
MAX_PRODUCED_ENTRIES = 2_000_000


@dataclass(frozen=True)
class Mistake:
    """One recognisable mistake: how it looks, what to tell the student, and a program that makes it."""

    name: str  # "wrong_axis"
    method: str  # "forward" or "backward"
    hint: str  # the "Looks like ..." sentence shown to students
    produce: Callable[[Arrays], np.ndarray | None]  # what this mistake returns for a case (None: not an array)
    mutant: str  # complete source of a wrong activation.py making exactly this mistake


# -- the correct computation, and helpers for the wrong ones -------------------------------

def softmax(Z: np.ndarray, axis: int | None = 1) -> np.ndarray:
    """Softmax along `axis` (None: over the whole array), with the maximum subtracted."""
    shifted = Z - np.max(Z, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def softmax_backward(A: np.ndarray, dLdA: np.ndarray) -> np.ndarray:
    """dLdZ row by row: a * (dLdA - dLdA . a)."""
    return A * (dLdA - np.sum(dLdA * A, axis=1, keepdims=True))


def _quiet(compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Run an overflowing computation the way a student's would run: inf and NaN, no warnings."""
    with np.errstate(all="ignore"):
        return compute()


def _jacobians(arrays: Arrays) -> np.ndarray | None:
    A = arrays["A"]
    n, c = A.shape
    if n * c * c > MAX_PRODUCED_ENTRIES:
        return None
    return np.einsum("ij,jk->ijk", A, np.eye(c)) - np.einsum("ij,ik->ijk", A, A)


def _first_row_only(arrays: Arrays) -> np.ndarray:
    out = np.zeros_like(arrays["dLdA"])
    out[0] = softmax_backward(arrays["A"][:1], arrays["dLdA"][:1])[0]
    return out


# -- mutant sources ------------------------------------------------------------------------

_HEADER = "import numpy as np\n\n\nclass Softmax:\n"
CORRECT_FORWARD = """\
    def forward(self, Z):
        exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = exps / np.sum(exps, axis=1, keepdims=True)
        return self.A
"""
CORRECT_BACKWARD = """\
    def backward(self, dLdA):
        inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
        return self.A * (dLdA - inner)
"""


def mutant_source(forward: str = CORRECT_FORWARD, backward: str = CORRECT_BACKWARD, *, about: str = "") -> str:
    """A complete activation.py: the correct methods except the one(s) given."""
    comment = f"# Mutant: {about}\n" if about else ""
    return comment + _HEADER + forward + "\n" + backward


def _forward(body: str) -> str:
    return "    def forward(self, Z):\n" + "".join(f"        {line}\n" for line in body.strip("\n").splitlines())


def _backward(body: str) -> str:
    return "    def backward(self, dLdA):\n" + "".join(f"        {line}\n" for line in body.strip("\n").splitlines())


# -- the catalogue -------------------------------------------------------------------------

CATALOGUE: tuple[Mistake, ...] = (
    # forward
    Mistake(
        name="wrong_axis",
        method="forward",
        hint="Looks like the softmax runs down each column (axis=0) instead of along each row (axis=1): "
             "every row of A should sum to 1.",
        produce=lambda x: softmax(x["Z"], axis=0),
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=0, keepdims=True))
self.A = exps / np.sum(exps, axis=0, keepdims=True)
return self.A
"""), about="softmax over axis 0"),
    ),
    Mistake(
        name="global_sum",
        method="forward",
        hint="Looks like every value is divided by the sum over the whole batch (np.sum without axis=1), "
             "which is right only when N = 1: divide by the sum of its own row (axis=1, keepdims=True).",
        produce=lambda x: softmax(x["Z"], axis=None),
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z))
self.A = exps / np.sum(exps)
return self.A
"""), about="normalises over the whole batch"),
    ),
    Mistake(
        name="no_normalisation",
        method="forward",
        hint="Looks like A is exp(Z) without dividing each row by its sum: softmax divides every "
             "exponential by the sum of its row, so that the row sums to 1.",
        produce=lambda x: _quiet(lambda: np.exp(x["Z"])),
        mutant=mutant_source(_forward("""
self.A = np.exp(Z)
return self.A
"""), about="no division by the row sums"),
    ),
    Mistake(
        name="no_max_subtraction",
        method="forward",
        hint="Looks like exp(Z) overflowed (inf once z > 709) or underflowed (0 once z < -745) because the "
             "row maximum was not subtracted first, and inf/inf or 0/0 gave NaN. Softmax is unchanged when "
             "a row is shifted by a constant; after subtracting each row's maximum every exponent is <= 0 "
             "and the largest term is exp(0) = 1, so nothing overflows and the sum is at least 1.",
        produce=lambda x: _quiet(lambda: np.exp(x["Z"]) / np.sum(np.exp(x["Z"]), axis=1, keepdims=True)),
        mutant=mutant_source(_forward("""
exps = np.exp(Z)
self.A = exps / np.sum(exps, axis=1, keepdims=True)
return self.A
"""), about="no max-subtraction"),
    ),
    Mistake(
        name="global_max",
        method="forward",
        hint="Looks like the maximum subtracted is the whole batch's (np.max(Z) without axis=1): a row far "
             "below that maximum underflows to all zeros and gives 0/0 = NaN. Subtract each row's own "
             "maximum (axis=1, keepdims=True).",
        produce=lambda x: _quiet(lambda: (lambda e: e / np.sum(e, axis=1, keepdims=True))(np.exp(x["Z"] - np.max(x["Z"])))),
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z))
self.A = exps / np.sum(exps, axis=1, keepdims=True)
return self.A
"""), about="subtracts the batch maximum"),
    ),
    Mistake(
        name="constant_offset",
        method="forward",
        hint="Looks like a small constant was added to every probability (an epsilon to avoid zeros?): "
             "softmax needs no epsilon once the row maximum is subtracted, and each row must sum to exactly 1.",
        produce=lambda x: softmax(x["Z"]) + 1e-4,
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
self.A = exps / np.sum(exps, axis=1, keepdims=True) + 1e-4
return self.A
"""), about="adds an epsilon to A"),
    ),
    Mistake(
        name="squeezed_shapes",
        method="forward",
        hint="Looks like the right values with the batch dimension squeezed away (np.squeeze, .flatten() "
             "or reshape(-1)): keep A of shape (N, C) even when N = 1.",
        produce=lambda x: np.squeeze(softmax(x["Z"])),
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
self.A = exps / np.sum(exps, axis=1, keepdims=True)
return np.squeeze(self.A)
"""), about="returns a squeezed A"),
    ),
    Mistake(
        name="missing_keepdims",
        method="forward",
        hint="Looks like a row sum or maximum without keepdims=True: its shape (N,) does not line up with "
             "the rows of an (N, C) array (NumPy matches it against the columns). Use keepdims=True, or "
             "index with [:, None].",
        produce=lambda x: _quiet(lambda: (lambda e: e / np.sum(e, axis=1))(np.exp(x["Z"] - np.max(x["Z"], axis=1, keepdims=True))))
        if x["Z"].shape[0] in (1, x["Z"].shape[1]) else None,
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
self.A = exps / np.sum(exps, axis=1)
return self.A
"""), about="row sum without keepdims"),
    ),
    Mistake(
        name="modifies_input",
        method="forward",
        hint="Looks like an in-place operation on the input (Z -= ..., Z[...] = ..., np.exp(Z, out=Z)): "
             "callers reuse their arrays, so a layer must work on a copy or build a new array.",
        produce=lambda x: None,
        mutant=mutant_source(_forward("""
Z -= np.max(Z, axis=1, keepdims=True)
exps = np.exp(Z)
self.A = exps / np.sum(exps, axis=1, keepdims=True)
return self.A
"""), about="subtracts the maximum from Z in place"),
    ),
    Mistake(
        name="returns_list",
        method="forward",
        hint="Looks like the result was built as a Python list: return a NumPy array (np.array(rows), or "
             "better, compute on whole arrays).",
        produce=lambda x: None,
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
self.A = exps / np.sum(exps, axis=1, keepdims=True)
return self.A.tolist()
"""), about="returns a list"),
    ),
    Mistake(
        name="returns_none",
        method="forward",
        hint="Looks like the `return` statement is missing (a method without one returns None), or it "
             "returns the result of an in-place operation.",
        produce=lambda x: None,
        mutant=mutant_source(_forward("""
exps = np.exp(Z - np.max(Z, axis=1, keepdims=True))
self.A = exps / np.sum(exps, axis=1, keepdims=True)
"""), about="forgets to return A"),
    ),
    # backward
    Mistake(
        name="diagonal_only",
        method="backward",
        hint="Looks like only the Jacobian's diagonal a_m (1 - a_m) was used: each output of softmax depends "
             "on every input of its row, so the off-diagonal terms -a_m a_n count too (multiply dLdA's row by "
             "the full C x C Jacobian).",
        produce=lambda x: x["dLdA"] * x["A"] * (1 - x["A"]),
        mutant=mutant_source(backward=_backward("""
return dLdA * self.A * (1 - self.A)
"""), about="diagonal of the Jacobian only"),
    ),
    Mistake(
        name="missing_outer_term",
        method="backward",
        hint="Looks like dLdZ = dLdA * A: that keeps diag(a) but drops the -a a^T part of the Jacobian, "
             "the term through which each output depends on the other inputs of its row.",
        produce=lambda x: x["dLdA"] * x["A"],
        mutant=mutant_source(backward=_backward("""
return dLdA * self.A
"""), about="drops the outer-product term"),
    ),
    Mistake(
        name="returns_dLdA",
        method="backward",
        hint="Looks like backward returns dLdA unchanged: the gradient has to go through softmax's Jacobian "
             "(each row of dLdA times that sample's C x C Jacobian).",
        produce=lambda x: x["dLdA"].copy(),
        mutant=mutant_source(backward=_backward("""
return dLdA
"""), about="returns dLdA"),
    ),
    Mistake(
        name="sign_error",
        method="backward",
        hint="Looks like a sign error: every value has the opposite sign. The Jacobian is diag(a) - a a^T "
             "(positive on the diagonal), not a a^T - diag(a).",
        produce=lambda x: -softmax_backward(x["A"], x["dLdA"]),
        mutant=mutant_source(backward=_backward("""
inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
return self.A * (inner - dLdA)
"""), about="flipped sign"),
    ),
    Mistake(
        name="divides_by_batch",
        method="backward",
        hint="Looks like dLdZ is divided by the batch size N: softmax's backward is per sample and averages "
             "nothing (a 1/N, if any, belongs to the loss and is already inside dLdA).",
        produce=lambda x: softmax_backward(x["A"], x["dLdA"]) / x["dLdA"].shape[0],
        mutant=mutant_source(backward=_backward("""
inner = np.sum(dLdA * self.A, axis=1, keepdims=True)
return self.A * (dLdA - inner) / dLdA.shape[0]
"""), about="divides by N"),
    ),
    Mistake(
        name="right_for_single_sample",
        method="backward",
        hint="Looks like the sum of dLdA * A runs over the whole batch (no axis=1), which is right only for "
             "a single sample (N = 1): each row needs its own sum (axis=1, keepdims=True).",
        produce=lambda x: x["A"] * (x["dLdA"] - np.sum(x["dLdA"] * x["A"])),
        mutant=mutant_source(backward=_backward("""
inner = np.sum(dLdA * self.A)
return self.A * (dLdA - inner)
"""), about="sums over the whole batch"),
    ),
    Mistake(
        name="backward_wrong_axis",
        method="backward",
        hint="Looks like the sum of dLdA * A runs down each column (axis=0) instead of along each row (axis=1): "
             "each sample's gradient depends on its own row only, A * (dLdA - sum(dLdA * A, axis=1, "
             "keepdims=True)). (For N = 1 this leaves only the Jacobian's diagonal.)",
        produce=lambda x: x["A"] * (x["dLdA"] - np.sum(x["dLdA"] * x["A"], axis=0, keepdims=True)),
        mutant=mutant_source(backward=_backward("""
inner = np.sum(dLdA * self.A, axis=0, keepdims=True)
return self.A * (dLdA - inner)
"""), about="sums over axis 0"),
    ),
    Mistake(
        name="first_row_only",
        method="backward",
        hint="Looks like only the first row was computed and the others were left at zero: is the `return` "
             "indented inside the `for` loop?",
        produce=_first_row_only,
        mutant=mutant_source(backward=_backward("""
dLdZ = np.zeros_like(dLdA)
for i in range(dLdA.shape[0]):
    a = self.A[i]
    dLdZ[i] = dLdA[i] @ (np.diag(a) - np.outer(a, a))
    return dLdZ
"""), about="return inside the loop"),
    ),
    Mistake(
        name="returns_jacobian",
        method="backward",
        hint="Looks like backward returns the Jacobian(s) instead of dLdZ: multiply each row of dLdA by its "
             "sample's Jacobian (dLdZ[i] = dLdA[i] @ J_i) and return the (N, C) result.",
        produce=_jacobians,
        mutant=mutant_source(backward=_backward("""
N, C = self.A.shape
J = np.zeros((N, C, C))
for i in range(N):
    J[i] = np.diag(self.A[i]) - np.outer(self.A[i], self.A[i])
return J
"""), about="returns the Jacobians"),
    ),
    Mistake(
        name="raises_in_backward",
        method="backward",
        hint="Looks like one Jacobian was built for the whole batch from the flattened A (N*C x N*C), which "
             "only lines up with dLdA when N = 1: build one C x C Jacobian per sample (row), or use the "
             "row-wise formula.",
        produce=lambda x: None,
        mutant=mutant_source(backward=_backward("""
a = self.A.flatten()
J = np.diag(a) - np.outer(a, a)
return dLdA @ J
"""), about="one Jacobian for the flattened batch"),
    ),
)

BY_NAME: dict[str, Mistake] = {m.name: m for m in CATALOGUE}


def named(name: str) -> Mistake:
    """The catalogue entry called `name` (KeyError if there is none)."""
    return BY_NAME[name]
