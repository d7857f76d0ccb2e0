"""The Table 1 proxies of benchmarks.calibrate_preference against the env-driven policies they stand for."""

from __future__ import annotations

import numpy as np

from baselines.preference import BeliefMyopicPolicy, OptimalPolicy
from benchmarks.calibrate_preference import TABLE1_METRICS, _belief_greedy, _dp_optimum, table1_fit
from benchmarks.reproduce_preference import ORACLE, PAPER, rollout
from recsim_envs.preference.core import PreferenceShiftConfig

KW = {"beta_d": 20.0, "beta_c_width_270": 8.0}


def test_belief_greedy_proxy_equals_belief_myopic_policy_in_the_env():
    """Same users (seeds 7..), the baseline policy re-filters the history with NHMMOracle.filter each step."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs", **KW)
    proxy = _belief_greedy(cfg, 200, seed=7, penalised=False)
    ref = rollout(BeliefMyopicPolicy(cfg), ORACLE, 200, 7, KW)
    for m in TABLE1_METRICS:
        assert abs(proxy[m] - ref[m]) < 1e-9, m


def test_dp_proxy_exact_propagation_matches_monte_carlo():
    """Exact (u_t, u_0) propagation under the known-u DP policy vs 2000 simulated users (sampling error ≈ 0.05)."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs", **KW)
    exact = _dp_optimum(cfg, penalised=False)
    mc = rollout(OptimalPolicy(cfg), ORACLE, 2000, 3, KW)
    for m in TABLE1_METRICS:
        assert abs(exact[m] - mc[m]) < 0.25, (m, exact[m], mc[m])
    np.testing.assert_allclose(exact["cohort"].sum(axis=1), 1.0, atol=1e-12)


def test_fit_counts_cells_and_orderings():
    fit = table1_fit(PAPER, PAPER)
    assert fit["mean_abs_diff"] == 0.0 and fit["orderings_held"] == fit["orderings_total"] == 10
    assert np.isclose(fit["rl_minus_myopic"], 7.49 - 5.71)
    shifted = {c: {m: v + (1.0 if c == "rl" else 0.0) for m, v in d.items()} for c, d in PAPER.items()}
    assert np.isclose(table1_fit(shifted, PAPER)["mean_abs_diff"], 4 / 16)
