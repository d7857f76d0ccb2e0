"""SplitMix64 is written once (recsim_envs.utils.rng.splitmix64_mix) and serves NumPy arrays and numba scalars."""

from __future__ import annotations

import numpy as np
from numba import njit

from recsim_envs.coop import kernel as K
from recsim_envs.utils import rng as crng

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _reference_mix(z: int) -> int:
    """SplitMix64 finaliser on Python ints (arbitrary precision, reduced mod 2^64 by hand)."""
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@njit
def _scalar_many(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = crng.splitmix64_scalar(x[i])


def test_numpy_and_numba_splitmix64_equal_the_reference_bit_for_bit():
    # the first output of SplitMix64 seeded with 0 is the published 0xE220A8397B1DCDAF
    assert _reference_mix(_GOLDEN) == 0xE220A8397B1DCDAF
    x = np.random.default_rng(0).integers(0, 2**63, size=200, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    x = np.concatenate([x, np.array([0, _GOLDEN, _MASK], dtype=np.uint64)])
    want = np.array([_reference_mix(int(v)) for v in x], dtype=np.uint64)
    np.testing.assert_array_equal(crng.splitmix64(x), want)
    got = np.zeros_like(x)
    _scalar_many(x, got)
    np.testing.assert_array_equal(got, want)


def test_kernel_stream_is_splitmix64_of_key_plus_golden_counter():
    keys = crng.seed_to_key(np.arange(3))
    ctrs = np.zeros(3, dtype=np.uint64)
    draws = [[K._u01(keys, ctrs, r) for _ in range(5)] for r in range(3)]
    for r in range(3):
        for c in range(1, 6):
            z = _reference_mix((int(keys[r]) + _GOLDEN * c) & _MASK)
            assert draws[r][c - 1] == (z >> 11) * 2.0**-53
    assert list(ctrs) == [5, 5, 5]
