"""Small dense linear algebra batched over users, compiled with numba.

``numpy.linalg.solve`` on a stack of P small (d × d, d ≈ 12) systems pays a LAPACK call per matrix; the fixed-point
and IFT solves of the harm model issue one such stack per Newton step, so a compiled loop is several times faster.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _solve_kernel(A, b, out):  # pragma: no cover - compiled
    P, d, _ = A.shape
    M = np.empty((d, d))
    x = np.empty(d)
    for p in range(P):
        for i in range(d):
            x[i] = b[p, i]
            for j in range(d):
                M[i, j] = A[p, i, j]
        ok = True
        for k in range(d):  # Gaussian elimination with partial pivoting
            piv = k
            big = abs(M[k, k])
            for i in range(k + 1, d):
                if abs(M[i, k]) > big:
                    big = abs(M[i, k])
                    piv = i
            if big == 0.0:
                ok = False
                break
            if piv != k:
                for j in range(d):
                    M[k, j], M[piv, j] = M[piv, j], M[k, j]
                x[k], x[piv] = x[piv], x[k]
            for i in range(k + 1, d):
                fct = M[i, k] / M[k, k]
                if fct != 0.0:
                    for j in range(k, d):
                        M[i, j] -= fct * M[k, j]
                    x[i] -= fct * x[k]
        if not ok:
            for i in range(d):
                out[p, i] = np.nan
            continue
        for i in range(d - 1, -1, -1):
            acc = x[i]
            for j in range(i + 1, d):
                acc -= M[i, j] * out[p, j]
            out[p, i] = acc / M[i, i]


def batched_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with A[p] x[p] = b[p] for A [P, d, d], b [P, d]; rows with a singular A[p] come back as NaN."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if A.ndim != 3 or A.shape[1] != A.shape[2] or b.shape != A.shape[:2]:
        raise ValueError(f"A must be [P, d, d] and b [P, d], got shapes {A.shape} and {b.shape}")
    out = np.empty_like(b)
    _solve_kernel(A, b, out)
    return out
