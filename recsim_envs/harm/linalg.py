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


@njit(cache=True, fastmath=True)
def _ridge_rows_kernel(indptr, indices, t, Y, lam, X):  # pragma: no cover - compiled
    R = indptr.size - 1
    k = Y.shape[1]
    y = np.empty(k)
    G = np.empty((k, k))
    L = np.empty((k, k))
    b = np.empty(k)
    x = np.empty(k)
    sse = 0.0
    failed = 0
    for row in range(R):
        for i in range(k):
            b[i] = 0.0
            for j in range(k):
                G[i, j] = 0.0
        tt = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            c = indices[p]
            tv = t[p]
            tt += tv * tv
            for i in range(k):
                y[i] = Y[c, i]
            for i in range(k):
                yi = y[i]
                b[i] += yi * tv
                for j in range(k):  # the full square vectorises better than the triangle
                    G[i, j] += yi * y[j]
        # Cholesky of G + λI (lower triangle), then forward and back substitution
        ok = True
        for j in range(k):
            acc = G[j, j] + lam
            for q in range(j):
                acc -= L[j, q] * L[j, q]
            if not acc > 0.0:
                ok = False
                break
            L[j, j] = np.sqrt(acc)
            for i in range(j + 1, k):
                acc = G[i, j]
                for q in range(j):
                    acc -= L[i, q] * L[j, q]
                L[i, j] = acc / L[j, j]
        if not ok:  # counted, not signalled by NaN: fastmath may assume finite values
            for i in range(k):
                X[row, i] = 0.0
            failed += 1
            continue
        for i in range(k):
            acc = b[i]
            for q in range(i):
                acc -= L[i, q] * x[q]
            x[i] = acc / L[i, i]
        for i in range(k - 1, -1, -1):
            acc = x[i]
            for q in range(i + 1, k):
                acc -= L[q, i] * x[q]
            x[i] = acc / L[i, i]
        # Σ (t − x·y)² = Σ t² − 2 xᵀb + xᵀ G x  (G symmetric, lower triangle stored)
        xgx = 0.0
        xb = 0.0
        for i in range(k):
            xb += x[i] * b[i]
            xgx += G[i, i] * x[i] * x[i]
            for j in range(i):
                xgx += 2.0 * G[i, j] * x[i] * x[j]
            X[row, i] = x[i]
        sse += tt - 2.0 * xb + xgx
    return sse, failed


def ridge_rows(
    indptr: np.ndarray, indices: np.ndarray, t: np.ndarray, Y: np.ndarray, lam: float
) -> tuple[np.ndarray, float]:
    """Per-row ridge regressions of a CSR matrix's targets on features of its columns, in one compiled pass.

    Row ρ has observations (column ``indices[p]``, target ``t[p]``) for p in ``indptr[ρ]:indptr[ρ+1]``; its
    solution is x_ρ = argmin Σ_p (t_p − x·Y[indices[p]])² + ``lam`` ‖x‖² (Gram matrix and right-hand side
    accumulated per row, Cholesky solve). Returns X [rows, k] and the total squared error Σ (t − x·y)² at the
    solutions (from the normal equations, without forming predictions). O(nnz · k²) time, O(k²) extra memory.
    A row whose system is not positive definite (``lam`` = 0 and too few observations) raises ``LinAlgError``.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    X = np.empty((indptr.size - 1, Y.shape[1]))
    sse, failed = _ridge_rows_kernel(
        np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(t, dtype=np.float64), Y, float(lam), X,
    )  # fmt: skip
    if failed:
        raise np.linalg.LinAlgError("ridge_rows: a row's Gram matrix + lam·I is not positive definite")
    return X, float(sse)
