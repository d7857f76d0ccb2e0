"""benchmarks.reproduce_coop_adoption: the time-sampled simulation is the plain simulation, and the judging."""

from __future__ import annotations

import numpy as np

from benchmarks.reproduce_coop_adoption import ordering, simulate_with_shares
from recsim_envs.coop.simulator import simulate

KW = dict(n_nodes=60, degree=6, beta=0.05, W=1.0, W2=0.1, max_steps=4000, contenders=["GOOD_X", "RANDOM_X"])


def test_pausing_to_sample_shares_changes_no_draw():
    sampled = simulate_with_shares("NO_MED", 5, 3, 8, **KW)
    plain = simulate("NO_MED", 5, 3, **KW)
    for key in ("shares", "cooperator_fraction", "rewires", "steps", "recommender_changes", "heterogeneity"):
        np.testing.assert_array_equal(sampled[key], plain[key], err_msg=key)
    ts = sampled["share_ts"]
    assert ts.shape == (5, 9, 3) and list(sampled["t"]) == list(np.linspace(0, 4000, 9).round())
    np.testing.assert_array_equal(ts[:, -1], plain["shares"])
    np.testing.assert_allclose(ts[:, 0], np.tile([54 / 60, 3 / 60, 3 / 60], (5, 1)))  # 10 % seeds, split evenly
    np.testing.assert_array_equal(sampled["coop_ts"][:, -1], plain["cooperator_fraction"])


def test_paired_ordering_verdicts():
    rng = np.random.default_rng(0)
    base = rng.random(30)
    assert ordering(base + 0.1, base) == "holds"
    assert ordering(base, base + 0.1) == "reversed"
    assert ordering(base + rng.normal(0, 0.1, 30), base) == "within noise"
