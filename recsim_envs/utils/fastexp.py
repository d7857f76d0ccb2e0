"""A compiled exp for numba kernels: vectorisable (no libm call) and within 1e-15 relative of ``numpy.exp``.

``exp_into(x, out, k, POW2)`` reduces each x = k ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in two parts, so the
reduction is exact for every k the range allows), evaluates the Taylor series of e^r to r¹² (truncation < 2e-17
relative) and scales by 2^k read from the table :data:`POW2`. Inputs are clamped to [−745, 700]: above, the
caller's values would overflow anyway; below, exp is 0 or subnormal in float64 (−745 gives 5e-324).

``exp_into`` is compiled without floating-point reassociation (``fastmath={"contract"}``), which would merge
the two-part reduction and lose its exactness; kernels with any fastmath flags may call it (it is not inlined).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: 2^k for k = −1100 … 1023 (subnormal or 0 at the low end; ``exp_into`` reads k ∈ [−1075, 1010])
POW2 = np.ldexp(1.0, np.arange(-1100, 1024))


@njit(cache=True, fastmath={"contract"}, inline="always")
def _exp_parts(x):  # pragma: no cover - compiled
    """(e^r, k + 1100) with x = k ln 2 + r (x clamped to [−745, 700]): e^x = e^r · POW2[k + 1100]."""
    x = min(max(x, -745.0), 700.0)
    kf = np.floor(x * 1.4426950408889634 + 0.5)
    r = (x - kf * 0.6931471803691238) - kf * 1.9082149292705877e-10
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p, np.int64(kf) + 1100


@njit(cache=True, fastmath={"contract"}, nogil=True)
def exp_into(x, out, k, pow2):  # pragma: no cover - compiled
    """``out[i] = e^{x[i]}`` for i < len(out) (``x`` may be longer; ``k`` is int64 scratch of at least that
    length). Two passes, so LLVM vectorises the first (reduction and polynomial, 4 lanes under AVX2), which it
    does not do with the table read in the same loop (≈ 2× faster than one loop doing both)."""
    for i in range(out.shape[0]):
        out[i], k[i] = _exp_parts(x[i])
    for i in range(out.shape[0]):
        out[i] *= pow2[k[i]]
