"""Independent implementations of every class of HW1P1, for `generate` and `audit` to check the fixtures against.

Plain Python on nested lists, written apart from the reference: loops, math.fsum, the formulas of the
writeup read literally (GELU with math.erf, Softmax with the max subtracted). Each function takes the case's
inputs (name -> nested lists) and the constructor's arguments, and returns expected values by name.
"""

import math
from math import fsum


def _shape(m):
    return len(m), len(m[0])


def _map(m, f):
    return [[f(x) for x in row] for row in m]


def _zip(a, b, f):
    return [[f(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


def _matmul(a, b):
    cols = list(zip(*b))
    return [[fsum(x * y for x, y in zip(row, col)) for col in cols] for row in a]


def _transpose(m):
    return [list(col) for col in zip(*m)]


def _activation(inputs, f, df):
    """A = f(Z); dLdZ = dLdA * f'(Z), given as a function of z and a."""
    Z, dLdA = inputs["Z"], inputs["dLdA"]
    A = _map(Z, f)
    dLdZ = [[g * df(z, a) for z, a, g in zip(rz, ra, rg)] for rz, ra, rg in zip(Z, A, dLdA)]
    return {"A": A, "dLdZ": dLdZ}


def identity(inputs):
    return _activation(inputs, lambda z: z, lambda z, a: 1.0)


def sigmoid(inputs):
    def f(z):  # the two forms are the same function; each is the one that does not overflow
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return _activation(inputs, f, lambda z, a: a * (1.0 - a))


def tanh(inputs):
    return _activation(inputs, math.tanh, lambda z, a: 1.0 - a * a)


def relu(inputs):
    return _activation(inputs, lambda z: z if z > 0 else 0.0, lambda z, a: 1.0 if z > 0 else 0.0)


def gelu(inputs):
    return _activation(inputs, lambda z: 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0))),
                       lambda z, a: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
                       + z * math.exp(-z * z / 2.0) / math.sqrt(2.0 * math.pi))


def linear(inputs, in_features, out_features):
    A, W, b, dLdZ = inputs["A"], inputs["W"], inputs["b"], inputs["dLdZ"]
    assert _shape(W) == (out_features, in_features)
    Z = [[fsum([fsum(a * w for a, w in zip(row, wrow)), b[j][0]]) for j, wrow in enumerate(W)] for row in A]
    dLdW = [[fsum(dLdZ[n][j] * A[n][i] for n in range(len(A))) for i in range(in_features)]
            for j in range(out_features)]
    dLdb = [[fsum(dLdZ[n][j] for n in range(len(A)))] for j in range(out_features)]
    return {"Z": Z, "dLdA": _matmul(dLdZ, W), "dLdW": dLdW, "dLdb": dLdb}


def mse(inputs):
    A, Y = inputs["A"], inputs["Y"]
    n, c = _shape(A)
    L = fsum((a - y) ** 2 for ra, ry in zip(A, Y) for a, y in zip(ra, ry)) / (n * c)
    return {"L": L, "dLdA": _zip(A, Y, lambda a, y: 2.0 * (a - y) / (n * c))}


def cross_entropy(inputs):
    A, Y = inputs["A"], inputs["Y"]
    n = len(A)
    losses, dLdA = [], []
    for row, labels in zip(A, Y):
        top = max(row)
        log_total = top + math.log(fsum(math.exp(x - top) for x in row))
        losses.append(fsum(-y * (x - log_total) for x, y in zip(row, labels)))
        dLdA.append([(math.exp(x - log_total) - y) / n for x, y in zip(row, labels)])
    return {"L": fsum(losses) / n, "dLdA": dLdA}


def batchnorm(inputs, num_features, alpha=0.9):
    Z, BW, Bb, dLdBZ = inputs["Z"], inputs["BW"][0], inputs["Bb"][0], inputs["dLdBZ"]
    n = len(Z)
    eps = 1e-8
    columns = _transpose(Z)
    M = [fsum(col) / n for col in columns]
    V = [fsum((z - m) ** 2 for z in col) / n for col, m in zip(columns, M)]
    NZ = [[(z - M[j]) / math.sqrt(V[j] + eps) for j, z in enumerate(row)] for row in Z]
    BZ = [[BW[j] * x + Bb[j] for j, x in enumerate(row)] for row in NZ]
    running_M = [alpha * 0.0 + (1 - alpha) * m for m in M]  # from a new layer's zeros and ones
    running_V = [alpha * 1.0 + (1 - alpha) * v for v in V]
    # evaluation: the running statistics the grader sets, untouched by the training forward above
    BZ_eval = [[BW[j] * (z - inputs["running_M"][0][j]) / math.sqrt(inputs["running_V"][0][j] + eps) + Bb[j]
                for j, z in enumerate(row)] for row in inputs["Z_eval"]]
    # backward, column by column: the derivative of the normalisation through M and V
    dLdZ = [[0.0] * num_features for _ in range(n)]
    dLdBW, dLdBb = [], []
    for j in range(num_features):
        g = [dLdBZ[i][j] for i in range(n)]
        x = [NZ[i][j] for i in range(n)]
        dLdBW.append(fsum(gi * xi for gi, xi in zip(g, x)))
        dLdBb.append(fsum(g))
        # dL/dz_i = BW/(n*sigma) * (n*g_i - sum(g) - x_i * sum(g*x)), sigma = sqrt(V + eps)
        sigma = math.sqrt(V[j] + eps)
        sum_g, sum_gx = fsum(g), fsum(gi * xi for gi, xi in zip(g, x))
        for i in range(n):
            dLdZ[i][j] = BW[j] / (n * sigma) * (n * g[i] - sum_g - x[i] * sum_gx)
    return {"BZ": BZ, "new_running_M": [running_M], "new_running_V": [running_V], "BZ_eval": BZ_eval,
            "dLdZ": dLdZ, "dLdBW": [dLdBW], "dLdBb": [dLdBb]}


def sgd(inputs, model=None, lr=0.1, momentum=0):
    out = {}
    for layer in ("0", "1"):
        for p in ("W", "b"):
            value = inputs[p + layer]
            velocity = _map(value, lambda _: 0.0)
            for step, grad in ((1, inputs["dLd" + p + layer]), (2, inputs["dLd" + p + layer + "_2"])):
                velocity = _zip(velocity, grad, lambda v, g: momentum * v + g)
                value = _zip(value, velocity, lambda w, v: w - lr * v)
                out[f"{p}{layer}_step{step}"] = value
    return out


def mlp(inputs):
    """Linear layers W0, b0, W1, ..., each followed by a ReLU."""
    count = sum(1 for name in inputs if name.startswith("W"))
    A = inputs["A0"]
    stored = []
    for i in range(count):
        W, b = inputs[f"W{i}"], inputs[f"b{i}"]
        Z = [[fsum([fsum(a * w for a, w in zip(row, wrow)), b[j][0]]) for j, wrow in enumerate(W)] for row in A]
        stored.append((A, Z))
        A = _map(Z, lambda z: z if z > 0 else 0.0)
    out = {"A_out": A}
    grad = inputs["dLdA_out"]
    for i in reversed(range(count)):
        A_in, Z = stored[i]
        dZ = _zip(grad, Z, lambda g, z: g if z > 0 else 0.0)
        out[f"dLdW{i}"] = _matmul(_transpose(dZ), A_in)
        out[f"dLdb{i}"] = [[fsum(col)] for col in _transpose(dZ)]
        grad = _matmul(dZ, inputs[f"W{i}"])
    out["dLdA0"] = grad
    return out
