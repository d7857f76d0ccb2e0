"""Small dense linear algebra batched over users, compiled with numba.

``numpy.linalg.solve`` on a stack of P small (d × d, d ≈ 12) systems pays a LAPACK call per matrix; the fixed-point
and IFT solves of the harm model issue one such stack per Newton step, so a compiled loop is several times faster.
Also here: the model's scores exp(U Vᵀ) in one compiled pass (:func:`exp_scores`) and the per-row / per-column
ridge solves of the ALS matrix factorisation (:func:`ridge_rows`, :func:`ridge_cols`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from recsim_envs.utils.fastexp import POW2, exp_into
from recsim_envs.utils.kernels import CHUNK, run_chunked


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
def _ridge_solve(G, b, tt, lam, L, x):  # pragma: no cover - compiled
    """x = (G + λI)⁻¹ b by Cholesky (lower triangle in L); returns (ok, Σ t² − 2 xᵀb + xᵀ G x), the squared error at
    x from the normal equations (G symmetric). ok is False when G + λI is not positive definite."""
    k = b.size
    for j in range(k):
        acc = G[j, j] + lam
        for q in range(j):
            acc -= L[j, q] * L[j, q]
        if not acc > 0.0:  # flagged, not signalled by NaN: fastmath may assume finite values
            return False, 0.0
        L[j, j] = np.sqrt(acc)
        for i in range(j + 1, k):
            acc = G[i, j]
            for q in range(j):
                acc -= L[i, q] * L[j, q]
            L[i, j] = acc / L[j, j]
    for i in range(k):  # forward and back substitution
        acc = b[i]
        for q in range(i):
            acc -= L[i, q] * x[q]
        x[i] = acc / L[i, i]
    for i in range(k - 1, -1, -1):
        acc = x[i]
        for q in range(i + 1, k):
            acc -= L[q, i] * x[q]
        x[i] = acc / L[i, i]
    xgx = 0.0
    xb = 0.0
    for i in range(k):
        xb += x[i] * b[i]
        xgx += G[i, i] * x[i] * x[i]
        for j in range(i):
            xgx += 2.0 * G[i, j] * x[i] * x[j]
    return True, tt - 2.0 * xb + xgx


@njit(cache=True, fastmath=True)
def _packed_outer(Y):  # pragma: no cover - compiled
    """The lower triangles of y yᵀ for every row y of Y, packed row by row, [rows, k(k+1)/2]."""
    n, k = Y.shape
    out = np.empty((n, k * (k + 1) // 2))
    for r in range(n):
        q = 0
        for i in range(k):
            for j in range(i + 1):
                out[r, q] = Y[r, i] * Y[r, j]
                q += 1
    return out


@njit(cache=True, fastmath=True)
def _unpack(g, G):  # pragma: no cover - compiled
    k = G.shape[0]
    q = 0
    for i in range(k):
        for j in range(i + 1):
            G[i, j] = g[q]
            G[j, i] = g[q]
            q += 1


@njit(cache=True, fastmath=True)
def _ridge_rows_range(lo, hi, indptr, indices, t, Y, YY, lam, X, sse, failed):  # pragma: no cover - compiled
    k = Y.shape[1]
    kk = YY.shape[1]
    g = np.empty(kk)
    G = np.empty((k, k))
    L = np.empty((k, k))
    b = np.empty(k)
    x = np.empty(k)
    for row in range(lo, hi):
        for q in range(kk):
            g[q] = 0.0
        for i in range(k):
            b[i] = 0.0
        tt = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            c = indices[p]
            tv = t[p]
            tt += tv * tv
            for i in range(k):
                b[i] += Y[c, i] * tv
            for q in range(kk):  # Gram matrix: add the column's precomputed (packed) y yᵀ
                g[q] += YY[c, q]
        _unpack(g, G)
        ok, e = _ridge_solve(G, b, tt, lam, L, x)
        failed[row] = not ok
        sse[row] = e
        for i in range(k):
            X[row, i] = x[i] if ok else 0.0


@njit(cache=True, fastmath=True)
def _ridge_cols_kernel(indptr, indices, t, Y, lam, X, sse, failed):  # pragma: no cover - compiled
    n_cols, k = X.shape
    kk = k * (k + 1) // 2
    G = np.zeros((n_cols, kk))  # packed lower triangles: half the memory traffic of full squares
    B = np.zeros((n_cols, k))
    TT = np.zeros(n_cols)
    yy = np.empty(kk)
    for row in range(indptr.size - 1):  # rows in order: each column's sums see its rows in increasing order
        q = 0
        for i in range(k):
            for j in range(i + 1):
                yy[q] = Y[row, i] * Y[row, j]
                q += 1
        for p in range(indptr[row], indptr[row + 1]):
            c = indices[p]
            tv = t[p]
            TT[c] += tv * tv
            for i in range(k):
                B[c, i] += Y[row, i] * tv
            for q in range(kk):
                G[c, q] += yy[q]
    Gc = np.empty((k, k))
    L = np.empty((k, k))
    x = np.empty(k)
    for c in range(n_cols):
        _unpack(G[c], Gc)
        ok, e = _ridge_solve(Gc, B[c], TT[c], lam, L, x)
        failed[c] = not ok
        sse[c] = e
        for i in range(k):
            X[c, i] = x[i] if ok else 0.0


@njit(cache=True, fastmath=True, parallel=True)
def _ridge_rows_parallel(indptr, indices, t, Y, YY, lam, X, sse, failed):  # pragma: no cover - compiled
    R = indptr.size - 1
    for ch in prange((R + CHUNK - 1) // CHUNK):
        _ridge_rows_range(ch * CHUNK, min(R, (ch + 1) * CHUNK), indptr, indices, t, Y, YY, lam, X, sse, failed)


def ridge_rows(
    indptr: np.ndarray, indices: np.ndarray, t: np.ndarray, Y: np.ndarray, lam: float
) -> tuple[np.ndarray, float]:
    """Per-row ridge regressions of a CSR matrix's targets on features of its columns, in one compiled pass.

    Row ρ has observations (column ``indices[p]``, target ``t[p]``) for p in ``indptr[ρ]:indptr[ρ+1]``; its
    solution is x_ρ = argmin Σ_p (t_p − x·Y[indices[p]])² + ``lam`` ‖x‖² (Gram matrix and right-hand side
    accumulated per row from the columns' precomputed packed y yᵀ, Cholesky solve). Returns X [rows, k] and the
    total squared error Σ (t − x·y)² at the solutions (from the normal equations, without forming predictions).
    O(nnz · k²) time, O(rows + len(Y) · k²) extra memory (use :func:`ridge_cols` when Y is the large side).
    Rows are independent: from 128 rows on they are split over numba's threads
    (:func:`recsim_envs.utils.kernels.run_chunked`), with identical results (the squared error is kept per row
    and summed afterwards in a fixed order).
    A row whose system is not positive definite (``lam`` = 0 and too few observations) raises ``LinAlgError``.
    """
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    R = indptr.size - 1
    X = np.empty((R, Y.shape[1]))
    sse = np.empty(R)
    failed = np.empty(R, dtype=np.bool_)
    args: tuple[Any, ...] = (  # run_chunked passes them on to the kernels as they are
        np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(t, dtype=np.float64), Y, _packed_outer(Y), float(lam), X, sse, failed,
    )  # fmt: skip
    run_chunked(_ridge_rows_range, _ridge_rows_parallel, R, *args)
    if failed.any():
        raise np.linalg.LinAlgError("ridge_rows: a row's Gram matrix + lam·I is not positive definite")
    return X, float(sse.sum())


@njit(cache=True, fastmath={"contract"})  # no reassociation: it would merge exp_into's two-part ln 2 reduction
def _exp_scores_kernel(U, VT, pow2, out):  # pragma: no cover - compiled
    m, n = out.shape
    t = np.empty(n)
    k = np.empty(n, dtype=np.int64)
    for i in range(m):
        for j in range(n):
            t[j] = 0.0
        for q in range(VT.shape[0]):  # t = u · v for every item, vectorised over items
            uq = U[i, q]
            for j in range(n):
                t[j] += uq * VT[q, j]
        exp_into(t, out[i], k, pow2)


def exp_scores(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """exp(min(U Vᵀ, 700)) for U [m, d], V [n, d], [m, n]: ``recsim_envs.harm.model.scores`` in one compiled pass
    (dot products and a polynomial exp, ≈ 2.5× faster than NumPy's exp alone on this machine; the exp's relative
    error is ≤ 1e-15, and the dot products may differ from BLAS's in the last bit, which moves exp(⟨u, v⟩) by
    ≈ 1e-16 · |⟨u, v⟩| relative; exponents below −745 are read as −745)."""
    U = np.ascontiguousarray(U, dtype=np.float64)
    VT = np.ascontiguousarray(np.asarray(V, dtype=np.float64).T)
    if U.ndim != 2 or VT.ndim != 2 or U.shape[1] != VT.shape[0]:
        raise ValueError(f"U must be [m, d] and V [n, d], got shapes {U.shape} and {np.shape(V)}")
    out = np.empty((U.shape[0], VT.shape[1]))
    _exp_scores_kernel(U, VT, POW2, out)
    return out


def ridge_cols(
    indptr: np.ndarray, indices: np.ndarray, t: np.ndarray, Y: np.ndarray, lam: float, n_cols: int
) -> tuple[np.ndarray, float]:
    """:func:`ridge_rows` for the *columns* of a CSR matrix, without transposing it: column γ's observations are
    (row ρ, target ``t[p]``) for the stored entries p of column γ, with features Y[ρ]; its solution is
    x_γ = argmin Σ (t_p − x·Y[ρ])² + ``lam`` ‖x‖². One serial pass over the rows in order accumulates every
    column's Gram matrix and right-hand side (the rows' features are read sequentially, so a large Y is streamed
    rather than gathered), then the ``n_cols`` systems are solved. Each column's sums see its rows in increasing
    order, as ``ridge_rows`` on the sorted transpose would. O(nnz · k² + n_cols · k²) time and memory
    O(n_cols · k²). Returns X [n_cols, k] and the total squared error; raises ``LinAlgError`` like ``ridge_rows``."""
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if Y.shape[0] != indptr.size - 1:
        raise ValueError(f"Y must have one row per matrix row ({indptr.size - 1}), got shape {Y.shape}")
    X = np.empty((int(n_cols), Y.shape[1]))
    sse = np.empty(int(n_cols))
    failed = np.empty(int(n_cols), dtype=np.bool_)
    _ridge_cols_kernel(
        np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(t, dtype=np.float64), Y, float(lam), X, sse, failed,
    )  # fmt: skip
    if failed.any():
        raise np.linalg.LinAlgError("ridge_cols: a column's Gram matrix + lam·I is not positive definite")
    return X, float(sse.sum())
