"""Counter-based random streams, vectorised over users / replicas.

Why not one ``numpy.random.Generator`` per user: a native vector env must reproduce, user by user, the
trajectory of a single env seeded ``seed + i`` (CONTRIBUTING.md), and drawing from ``n`` Generator objects is a Python
loop over users. Instead each user owns a 64-bit *key*; the ``c``-th uniform of stream ``s`` is the SplitMix64
finaliser applied to ``key + golden·(c·n_streams + s + 1)``. That is a pure function of (key, counter), so the
same numbers come out whether one user or 4096 are stepped in one array operation.

Keys derive from the seed passed to ``reset`` (``seed_to_key``) and, for later episodes without a seed, from the
previous key (``next_key``), so ``reset(seed=s)`` fixes every later draw.

The SplitMix64 finaliser is written once, :func:`splitmix64_mix`, in operations that mean the same on a uint64
NumPy array (the vectorised :func:`splitmix64`) and on a uint64 scalar inside a numba kernel
(:func:`splitmix64_scalar`, the same function compiled; ``coop/kernel.py`` draws its replica streams with it), so
the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / float(1 << 53)


def splitmix64_mix(z: Any) -> Any:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014) with wrapping uint64 arithmetic; ``z`` a uint64 ndarray or
    a uint64 scalar (inside numba).

    In place on a uint64 array (callers pass a copy) and by rebinding on a uint64 scalar, so the one body serves
    :func:`splitmix64` (NumPy) and :func:`splitmix64_scalar` (numba)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        return splitmix64_mix(z)


def _compile_scalar() -> Callable[[np.uint64], np.uint64]:
    return njit(cache=True)(splitmix64_mix)


#: :func:`splitmix64_mix` compiled by numba for uint64 scalars, callable from other jitted kernels
splitmix64_scalar = _compile_scalar()


#: streams per counter value of :func:`uniforms` (its default ``n_streams``), as the uint64 the kernels multiply by
N_STREAMS = np.uint64(8)


@njit(cache=True, inline="always")
def uniform_scalar(key: np.uint64, counter_x_streams: np.uint64, stream: int) -> float:
    """:func:`uniforms` for one key inside a compiled kernel: ``counter_x_streams`` is the counter times
    ``N_STREAMS`` (as uint64), the result the same float64 in [0, 1) as the vectorised function gives."""
    return float(splitmix64_scalar(key + _GOLDEN * (counter_x_streams + np.uint64(stream + 1))) >> _S11) * _INV53


def seed_to_key(seeds: np.ndarray | int) -> np.ndarray:
    """Map integer seeds (>= 0) to stream keys: ``key = splitmix64(seed·golden + 1)``."""
    s = np.asarray(seeds, dtype=np.int64)
    if np.any(s < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seeds!r}")
    with np.errstate(over="ignore"):
        return splitmix64(s.astype(np.uint64) * _GOLDEN + np.uint64(1))


def next_key(keys: np.ndarray) -> np.ndarray:
    """Key for the next episode of the same user (no new seed given)."""
    with np.errstate(over="ignore"):
        return splitmix64(np.asarray(keys, dtype=np.uint64) ^ np.uint64(0xD1B54A32D192ED03))


def uniforms(keys: np.ndarray, counter: np.ndarray | int, stream: int, n_streams: int = int(N_STREAMS)) -> np.ndarray:
    """Uniform(0,1) draws, one per key: the ``counter``-th number of stream ``stream``.

    ``keys`` has shape ``[n]`` (uint64); ``counter`` is a scalar or ``[n]`` int array. Result: float64 ``[n]``
    in ``[0, 1)`` with 53 random bits.
    """
    k = np.asarray(keys, dtype=np.uint64)
    c = np.asarray(counter, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = k + _GOLDEN * (c * np.uint64(n_streams) + np.uint64(stream + 1))
    z = splitmix64(x)
    return (z >> _S11).astype(np.float64) * _INV53


def categorical(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sample of one index per row of ``probs`` ``[n, K]`` from uniforms ``u`` ``[n]``.

    Rows need not be normalised. The index is the first bin whose cumulative mass exceeds ``u·total``, clamped
    to the last bin with positive mass so round-off can never return a zero-probability bin.
    """
    cdf = np.cumsum(probs, axis=-1)
    total = cdf[..., -1:]
    idx = (cdf <= u[..., None] * total).sum(axis=-1)
    last_pos = probs.shape[-1] - 1 - np.argmax((probs > 0)[..., ::-1], axis=-1)
    return np.minimum(idx, last_pos)


def episode_keys(
    seed: int | list[int] | tuple[int, ...] | np.ndarray | None,
    n: int,
    np_random: np.random.Generator,
    previous: np.ndarray | None,
) -> np.ndarray:
    """Stream keys for the users of a reset (the rule of CONTRIBUTING.md, shared by every env).

    ``seed`` an int ``s``: user ``i`` gets ``seed_to_key(s + i)`` (a single env is ``n = 1``); a list of ``n``
    ints: one seed per user; ``None``: the next episode of each user (``next_key(previous)``), or, on the very
    first reset, seeds drawn from the env's ``np_random``.
    """
    if seed is None:
        if previous is None:
            return seed_to_key(np_random.integers(2**62, size=n))
        return next_key(previous)
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = np.asarray(seed)
        if seeds.shape != (n,) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seed must be an int or a list of {n} ints, got {seed!r}")
    else:
        seeds = np.arange(n) + int(seed)
    return seed_to_key(seeds)


def generator_seed(seed: int | list[int] | tuple[int, ...] | np.ndarray | None) -> int | None:
    """The int that seeds a vector env's own ``np_random`` when ``reset`` gets one seed per user (the first)."""
    if isinstance(seed, (list, tuple, np.ndarray)):
        return int(np.asarray(seed).reshape(-1)[0]) if len(seed) else None
    return seed
