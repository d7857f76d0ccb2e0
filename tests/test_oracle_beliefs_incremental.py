"""Per-step oracle beliefs of the Oracle/Penalized ids (compiled kernels in recsim_envs.preference.oracle) against
(a) the implementation they replaced — re-smoothing the whole history with ``NHMMOracle.smooth`` at every step,
kept here as the reference — on recorded trajectories, and (b) brute-force sums over all hidden paths."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs  # noqa: F401
from recsim_envs.preference import core, oracle
from recsim_envs.preference.core import PreferenceShiftConfig, UserBatch
from recsim_envs.preference.world import N_BINS
from recsim_envs.utils import rng as crng


def reference_beliefs(cfg: PreferenceShiftConfig, slate_hist, choice_hist, t) -> np.ndarray:
    """The replaced code path: users grouped by t, each group's full history smoothed from scratch."""
    tb, oracle = cfg.tables, cfg.oracle
    out = np.empty((len(t), 3, N_BINS))
    for tt in np.unique(t):
        idx = np.flatnonzero(t == tt)
        if tt == 0:
            out[idx] = tb["prior"]
            continue
        gamma = oracle.smooth(slate_hist[idx, :tt], choice_hist[idx, :tt])
        out[idx, 0] = gamma[:, tt]
        out[idx, 1] = gamma[:, 0]
        out[idx, 2] = gamma[:, 0] @ tb["natural_powers"][tt]
    return out


@pytest.fixture(params=["backward", "backward_grouped", "joint"])
def update_rule(request, monkeypatch):
    """Run a test with each exact update rule (the switch is the horizon threshold read when a batch is built);
    the backward rule both one user at a time and with the users' products grouped by matrix (the
    batch-size switch ``ORACLE_GROUPED_FROM``)."""
    backward = request.param.startswith("backward")
    monkeypatch.setattr(core, "ORACLE_JOINT_FROM_HORIZON", 10_000 if backward else 1)
    monkeypatch.setattr(oracle, "ORACLE_GROUPED_FROM", 1 if request.param == "backward_grouped" else 10**9)
    return request.param


def test_batch_uses_the_rule_the_threshold_selects(update_rule):
    b = UserBatch(PreferenceShiftConfig(obs_mode="oracle_beliefs", horizon=4), 2)
    assert (b.joint is not None) == (update_rule == "joint")


@pytest.mark.parametrize("action_set,horizon", [("six", 10), ("fine", 7)])
def test_beliefs_match_replaced_implementation_with_staggered_resets(update_rule, action_set, horizon):
    """200 users, 3 episodes' worth of steps, users restarted at random times so they sit at different t."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs", action_set=action_set, horizon=horizon, beta_d=30.0)
    n = 200
    rng = np.random.default_rng(5)
    b = UserBatch(cfg, n)
    keys = crng.seed_to_key(np.arange(n))
    b.reset(np.ones(n, dtype=bool), keys)
    worst = 0.0
    for _ in range(3 * horizon):
        b.step(rng.integers(0, cfg.n_actions, n))
        ref = reference_beliefs(cfg, b.slate_hist, b.choice_hist, b.t)
        worst = max(worst, float(np.abs(b.oracle_beliefs() - ref).max()))
        restart = (b.t >= horizon) | (rng.random(n) < 0.1)
        keys = np.where(restart, crng.next_key(keys), keys)
        b.reset(restart, keys[restart])
    assert worst <= 1e-9


def test_oracle_env_observation_matches_replaced_implementation(update_rule):
    """The registered Oracle id, native vector env through two autoresets: observation block vs the reference."""
    env = gym.make_vec("recsim_envs/PreferenceShiftOracle-v0", num_envs=64, vectorization_mode="vector_entry_point")
    cfg = env.unwrapped.config
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    sl = np.zeros((64, cfg.horizon), dtype=np.int64)
    ch = np.zeros((64, cfg.horizon), dtype=np.int64)
    t = 0
    for _ in range(2 * cfg.horizon + 3):
        a = rng.integers(0, 6, 64)
        obs, _, term, _, info = env.step(a)
        sl[:, t], ch[:, t] = a, info["choice_bin"]
        t += 1
        ref = reference_beliefs(cfg, sl, ch, np.full(64, t))
        got = (info["final_obs"] if term.all() else obs)[:, 73:].reshape(64, 3, N_BINS)
        # the observation is float32: compare at its resolution, and the float64 state at 1e-9 below
        np.testing.assert_allclose(got, ref.astype(np.float32), rtol=0, atol=1e-7)
        if term.all():
            np.testing.assert_allclose(
                obs[:, 73:].reshape(64, 3, N_BINS), np.broadcast_to(cfg.tables["prior"], (64, 3, 36)), atol=1e-7
            )
            t = 0
        else:
            assert np.abs(env.unwrapped._batch.beliefs - ref).max() <= 1e-9


def _enumerate(cfg, slates, choices):
    """P(u_0, …, u_T, x_0..x_{T−1} | slates) over all 36^(T+1) hidden paths, as an array with one axis per u_t."""
    tb = cfg.tables
    horizon = len(slates)
    grid = np.indices((N_BINS,) * (horizon + 1))
    joint = tb["prior"][grid[0]].copy()
    for k in range(horizon):
        a, x = slates[k], choices[k]
        joint *= tb["emission"][a][grid[k], x] * tb["transition"][a][grid[k], grid[k + 1]]
    return joint


def test_beliefs_match_brute_force_enumeration(update_rule):
    """Horizon 3: after each step t, the three beliefs vs marginals of the enumerated path distribution of the
    first t steps (u_t marginal, u_0 marginal, and the u_0 marginal pushed through the flat slate's T^t)."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs", horizon=3)
    t_nat = cfg.oracle.transition_natural
    b = UserBatch(cfg, 3)
    b.reset(np.ones(3, dtype=bool), crng.seed_to_key(np.arange(3) + 11))
    rng = np.random.default_rng(4)
    acts = rng.integers(0, 6, (3, 3))
    for t in range(1, 4):
        b.step(acts[:, t - 1])
        for i in range(3):
            joint = _enumerate(cfg, b.slate_hist[i, :t], b.choice_hist[i, :t])
            z = joint.sum()
            p_ut = joint.sum(axis=tuple(range(t))) / z
            p_u0 = joint.sum(axis=tuple(range(1, t + 1))) / z
            got = b.beliefs[i]
            np.testing.assert_allclose(got[0], p_ut, rtol=0, atol=1e-12)
            np.testing.assert_allclose(got[1], p_u0, rtol=0, atol=1e-12)
            np.testing.assert_allclose(got[2], p_u0 @ np.linalg.matrix_power(t_nat, t), rtol=0, atol=1e-12)


def test_long_horizon_uses_joint_rule_and_matches_reference():
    """At the default threshold a horizon ≥ 36 takes the constant-memory joint rule; 40 steps vs the reference."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs", horizon=40)
    b = UserBatch(cfg, 16)
    assert b.joint is not None and b.filt is None
    b.reset(np.ones(16, dtype=bool), crng.seed_to_key(np.arange(16)))
    rng = np.random.default_rng(9)
    for _ in range(40):
        b.step(rng.integers(0, 6, 16))
    ref = reference_beliefs(cfg, b.slate_hist, b.choice_hist, b.t)
    assert np.abs(b.beliefs - ref).max() <= 1e-9


def test_history_mode_keeps_no_belief_state():
    b = UserBatch(PreferenceShiftConfig(), 4)
    assert b.beliefs is None
    with pytest.raises(ValueError, match="obs_mode"):
        b.oracle_beliefs()
