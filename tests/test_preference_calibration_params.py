"""The calibration parameters added for issue 18: β_c profile shape (asymmetric bumps, floor) and the
feed-belief exponent, against direct evaluations of their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from recsim_envs.preference.core import PreferenceShiftConfig
from recsim_envs.preference.model import beta_c_profile, beta_c_two_bumps
from recsim_envs.preference.world import N_BINS, THETA_DEG


def test_two_bump_family_shape():
    bc = beta_c_two_bumps(width_80=1.0, width_270=8.0, floor=0.5)
    # the local maxima sit at 80° and 270° and the floor bounds the profile from below
    assert np.argmax(bc) == 27 and abs(bc[27] - 4.0) < 0.1  # ≈: the other bump adds its tail
    assert bc[8] >= bc[7] and bc[8] >= bc[9] and abs(bc[8] - 1.0) < 0.01
    assert bc.min() >= 0.5
    # the sharper 270° bump is narrower: at ±40° from its peak it has lost more than the 80° bump at ±40°
    assert (bc[27] - bc[23]) / (4.0 - 0.5) > (bc[8] - bc[12]) / (1.0 - 0.5)
    # symmetric, no floor: the preset profile
    np.testing.assert_array_equal(beta_c_two_bumps(2.0, 2.0, 0.0), beta_c_profile("two_bumps", 2.0))


def test_config_uses_shaped_profile_and_keeps_default_tables():
    cfg = PreferenceShiftConfig(beta_c_width=1.0, beta_c_width_270=4.0, beta_c_floor=0.3)
    theta = np.deg2rad(THETA_DEG)
    direct = (
        0.3
        + 0.7 * np.exp(1.0 * (np.cos(theta - np.deg2rad(80)) - 1))
        + 3.7 * np.exp(4.0 * (np.cos(theta - np.deg2rad(270)) - 1))
    )
    np.testing.assert_allclose(cfg.tables["beta_c"], direct, rtol=1e-12)
    default, explicit = PreferenceShiftConfig(), PreferenceShiftConfig(feed_exponent=3.0, beta_c_floor=0.0)
    np.testing.assert_array_equal(default.tables["transition"], explicit.tables["transition"])


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_feed_exponent_transition_matches_definition(k):
    """T[a][u, u'] ∝ exp(β_d V(u')), V from the choices candidate u' makes under the feed belief b ∝ s^k."""
    cfg = PreferenceShiftConfig(feed_exponent=k, beta_d=20.0, flexibility=0.7)
    s, bc = cfg.tables["slates"][2], cfg.tables["beta_c"]
    b = s**k / (s**k).sum()
    cos = np.cos(np.deg2rad(THETA_DEG[:, None] - THETA_DEG[None, :]))
    for u in (0, 13, 30):
        values = np.empty(N_BINS)
        for up in range(N_BINS):
            q = b * np.exp(bc[up] * cos[up])
            q /= q.sum()
            values[up] = q @ (0.7 * cos[u] + 0.3 * cos[up])
        p = np.exp(20.0 * (values - values.max()))
        np.testing.assert_allclose(cfg.tables["transition"][2, u], p / p.sum(), rtol=1e-9, atol=1e-300)
    np.testing.assert_array_equal(cfg.oracle.transition, cfg.tables["transition"])


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(feed_exponent=0.0), "feed_exponent"),
        (dict(feed_exponent=float("nan")), "feed_exponent"),
        (dict(beta_c_floor=1.5), "beta_c_floor"),
        (dict(beta_c_floor=-0.1), "beta_c_floor"),
        (dict(beta_c_width_270=0.0), "beta_c_width_270"),
        (dict(beta_c="constant", beta_c_floor=0.2), "beta_c_floor"),
    ],
)
def test_bad_calibration_kwargs_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        PreferenceShiftConfig(**kwargs)
