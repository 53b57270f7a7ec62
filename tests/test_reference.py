"""The reference solution, checked against things it does not share code with.

Finite differences of its own forward, the writeup's worked example (numbers
typed in from the writeup), the explicit-Jacobian formula and the plain-Python
implementation in autograder/independent.py. If the reference were wrong,
every fixture would be wrong, so it gets the most careful checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder import independent
from autograder.generate import jacobians
from helpers import SOFTMAX, reference_class

Softmax = reference_class(SOFTMAX)

# The writeup's worked example, typed in from the writeup.
WRITEUP_A = [[0.1, 0.2, 0.7]]
WRITEUP_DLDA = [[0.01, -0.03, 0.02]]
WRITEUP_J = [[0.09, -0.02, -0.07], [-0.02, 0.16, -0.14], [-0.07, -0.14, 0.21]]
WRITEUP_DLDZ = [[0.0001, -0.0078, 0.0077]]


def forward(Z: np.ndarray) -> np.ndarray:
    return Softmax().forward(np.array(Z, copy=True))


def backward_at(Z: np.ndarray, dLdA: np.ndarray) -> np.ndarray:
    """dLdZ at Z, the way a network uses the layer: forward, then backward."""
    layer = Softmax()
    layer.forward(np.array(Z, copy=True))
    return layer.backward(np.array(dLdA, copy=True))


def explicit_jacobian_backward(A: np.ndarray, dLdA: np.ndarray) -> np.ndarray:
    """dLdZ[i] = dLdA[i] @ J_i with the full C x C Jacobian of each row."""
    return np.einsum("nm,nmk->nk", dLdA, jacobians(A))


# -- the writeup's worked example ------------------------------------------------

def test_writeup_example_backward_gives_the_writeup_numbers():
    layer = Softmax()
    layer.A = np.array(WRITEUP_A)
    dLdZ = layer.backward(np.array(WRITEUP_DLDA))
    assert dLdZ.shape == (1, 3)
    np.testing.assert_allclose(dLdZ, WRITEUP_DLDZ, rtol=0, atol=1e-12)


def test_writeup_example_jacobian_is_the_writeup_matrix():
    np.testing.assert_allclose(jacobians(np.array(WRITEUP_A))[0], WRITEUP_J, rtol=0, atol=1e-12)
    np.testing.assert_allclose(independent.jacobian_row(WRITEUP_A[0]), WRITEUP_J, rtol=0, atol=1e-12)
    np.testing.assert_allclose(independent.backward(WRITEUP_A, WRITEUP_DLDA), WRITEUP_DLDZ, rtol=0, atol=1e-12)


def test_writeup_example_forward_recovers_A_from_its_logits():
    Z = np.log(np.array(WRITEUP_A)) + 3.0  # any shift gives the same probabilities
    np.testing.assert_allclose(forward(Z), WRITEUP_A, rtol=0, atol=1e-12)


# -- finite differences ----------------------------------------------------------

def numerical_gradient(Z: np.ndarray, dLdA: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of L(Z) = sum(dLdA * softmax(Z)), whose gradient is dLdZ."""
    grad = np.zeros_like(Z)
    for index in np.ndindex(*Z.shape):
        up, down = Z.copy(), Z.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (np.sum(dLdA * forward(up)) - np.sum(dLdA * forward(down))) / (2 * h)
    return grad


@pytest.mark.parametrize("shape, scale, seed", [((1, 3), 1.0, 0), ((4, 5), 2.0, 1), ((3, 2), 0.3, 2),
                                                ((2, 7), 4.0, 3), ((1, 1), 1.0, 4)])
def test_backward_matches_finite_differences_of_forward(shape, scale, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, scale, size=shape)
    dLdA = rng.normal(size=shape)
    np.testing.assert_allclose(backward_at(Z, dLdA), numerical_gradient(Z, dLdA), rtol=1e-6, atol=1e-8)


def test_finite_differences_would_catch_the_diagonal_only_mistake():
    """The check above has teeth: the element-wise (diagonal-only) gradient is far from it."""
    rng = np.random.default_rng(5)
    Z, dLdA = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    A = forward(Z)
    assert not np.allclose(dLdA * A * (1 - A), numerical_gradient(Z, dLdA), rtol=1e-6, atol=1e-8)


# -- numerical stability -----------------------------------------------------------

LARGE_LOGITS = np.array([
    [1000.0, 1001.0, 1002.0, 999.5],
    [-1000.0, -1001.0, -1002.0, -999.5],
    [5000.0, -5000.0, 0.0, 4999.0],
    [-4000.0, -4000.0, -4000.0, -4000.0],
    [3000.0, 2990.0, -3000.0, 3000.0],
    [-7.5e4, 7.5e4, 1.0, -1.0],
])


def test_forward_does_not_overflow_for_logits_in_the_thousands():
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        A = forward(LARGE_LOGITS)
    assert np.isfinite(A).all()
    np.testing.assert_allclose(A, independent.softmax(LARGE_LOGITS.tolist()), rtol=0, atol=1e-12)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(A[3], 0.25, rtol=0, atol=1e-15)


def test_backward_is_finite_and_exact_for_logits_in_the_thousands():
    dLdA = np.random.default_rng(6).normal(size=LARGE_LOGITS.shape)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        dLdZ = backward_at(LARGE_LOGITS, dLdA)
    assert np.isfinite(dLdZ).all()
    A = np.array(independent.softmax(LARGE_LOGITS.tolist()))
    np.testing.assert_allclose(dLdZ, independent.backward(A.tolist(), dLdA.tolist()), rtol=0, atol=1e-12)


def test_forward_is_shift_invariant_far_from_zero():
    Z = np.random.default_rng(7).normal(0, 3, size=(5, 6))
    for shift in (-2000.0, 2000.0):
        np.testing.assert_allclose(forward(Z + shift), forward(Z), rtol=0, atol=1e-10)


# -- backward equals the explicit Jacobian ---------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_backward_matches_the_explicit_jacobian(seed):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(1, 9), rng.integers(1, 13)
    Z, dLdA = rng.normal(0, 3, size=(n, c)), rng.normal(size=(n, c))
    A = forward(Z)
    np.testing.assert_allclose(backward_at(Z, dLdA), explicit_jacobian_backward(A, dLdA), rtol=0, atol=1e-12)


def test_backward_uses_self_A():
    """Backward reads the stored A (the grader relies on this to grade backward on its own)."""
    layer = Softmax()
    layer.forward(np.zeros((1, 3)))
    layer.A = np.array(WRITEUP_A)
    np.testing.assert_allclose(layer.backward(np.array(WRITEUP_DLDA)), WRITEUP_DLDZ, rtol=0, atol=1e-12)


# -- properties over shapes, scales and dtypes --------------------------------------------

shapes = st.tuples(st.integers(1, 8), st.integers(1, 12))
logits = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
gradients = st.floats(-100, 100, allow_nan=False, allow_infinity=False)


@st.composite
def batches(draw: st.DrawFn, elements: st.SearchStrategy = logits) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(shapes)
    Z = draw(hnp.arrays(np.float64, shape, elements=elements))
    dLdA = draw(hnp.arrays(np.float64, shape, elements=gradients))
    return Z, dLdA


@settings(max_examples=150, deadline=None)
@given(batches())
def test_forward_is_a_distribution_per_row_and_agrees_with_independent(batch):
    Z, _ = batch
    original = Z.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        A = Softmax().forward(Z)
    assert np.array_equal(Z, original), "forward modified its input"
    assert A.shape == Z.shape and A.dtype == np.float64
    assert np.isfinite(A).all() and (A >= 0).all() and (A <= 1).all()
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(A, independent.softmax(Z.tolist()), rtol=0, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(batches())
def test_backward_agrees_with_independent_and_sums_to_zero(batch):
    Z, dLdA = batch
    layer = Softmax()
    A = layer.forward(Z.copy())
    original = dLdA.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        dLdZ = layer.backward(dLdA)
    assert np.array_equal(dLdA, original), "backward modified its input"
    assert dLdZ.shape == Z.shape and np.isfinite(dLdZ).all()
    scale = 1e-12 * max(1.0, float(np.abs(dLdA).max()))
    np.testing.assert_allclose(dLdZ, independent.backward(A.tolist(), dLdA.tolist()), rtol=0, atol=scale)
    np.testing.assert_allclose(dLdZ, explicit_jacobian_backward(A, dLdA), rtol=0, atol=scale)
    np.testing.assert_allclose(dLdZ.sum(axis=1), 0.0, rtol=0, atol=scale * Z.shape[1])


@settings(max_examples=100, deadline=None)
@given(batches(st.floats(-1e4, 1e4, width=32)), st.floats(-3000, 3000, width=32))
def test_float32_input_stays_finite_and_close_to_float64(batch, shift):
    """float32 overflows at exp(89); the max-subtraction must protect it too."""
    Z64, _ = batch
    Z32 = (Z64 + np.float64(shift)).astype(np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        A32 = Softmax().forward(Z32.copy())
    assert A32.dtype.kind == "f" and np.isfinite(A32).all()
    A64 = forward(Z32.astype(np.float64))
    np.testing.assert_allclose(A32.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(A32, A64, rtol=1e-3, atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(shapes, st.floats(1e-3, 1e4), st.floats(-5000, 5000), st.integers(0, 2**32 - 1))
def test_forward_is_invariant_to_a_per_row_shift(shape, scale, shift, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, scale, size=shape)
    offsets = rng.uniform(-abs(shift), abs(shift), size=(shape[0], 1)).round()
    # Integer shifts keep Z + offsets close to exact; the result depends only on differences within a row.
    largest = float(np.abs(Z).max() + np.abs(offsets).max())
    np.testing.assert_allclose(forward(Z + offsets), forward(Z), rtol=0, atol=8 * np.spacing(max(1.0, largest)))
