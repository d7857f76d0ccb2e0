"""Issue 12 fixes: log-space preference tables, dense coop graphs, one validation rule for every env.

Values are checked against independent computations: mpmath at 50 digits for the preference tables, the graph
complement for the coop builder, and graph digests recorded on the code before the change for the sparse case.
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import mpmath as mp
import numpy as np
import pytest

import recsim_envs  # noqa: F401  (registers the ids)
from recsim_envs.coop import kernel as K
from recsim_envs.coop.simulator import CoopBatch, CoopConfig
from recsim_envs.preference.core import PreferenceShiftConfig, UserBatch
from recsim_envs.preference.world import initial_preference_distribution
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_choice, check_discrete_actions, check_path

mp.mp.dps = 50


# ---- preference: prior and choice tables against 50-digit arithmetic --------------------------------------
def _circ(a, b):
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _mp_bump(mean, std, centres):
    w = [mp.exp(-(mp.mpf(_circ(c, mean)) ** 2) / (2 * mp.mpf(std) ** 2)) for c in centres]
    z = mp.fsum(w)
    return [x / z for x in w]


@pytest.mark.parametrize("mean,std", [(135.0, 0.1), (135.0, 1e-3), (131.0, 0.05), (130.0, 20.0), (355.0, 0.3)])
def test_initial_preference_distribution_matches_high_precision(mean, std):
    got = initial_preference_distribution(mean, std)
    want = np.array([float(x) for x in _mp_bump(mean, std, range(0, 360, 10))])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_prior_between_bins_splits_the_mass_and_users_start_there():
    env = gym.make("recsim_envs/PreferenceShiftOracle-v0", initial_mean_deg=135.0, initial_std_deg=0.1)
    starts = set()
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        assert np.all(np.isfinite(obs))
        starts.add(info["initial_preference_bin"])
        obs, *_ = env.step(0)
        assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs)
    assert starts == {13, 14}  # 130° and 140°, the two bins 5° from the mean; never bin 0


def _mp_emission(mean, std, beta):
    s = _mp_bump(mean, std, range(0, 360, 10))
    rows = []
    for u in range(36):
        w = [s[x] * mp.exp(beta * mp.cos(mp.radians(10 * (x - u)))) for x in range(36)]
        z = mp.fsum(w)
        rows.append([float(v / z) for v in w])
    return np.array(rows)


@pytest.mark.parametrize("std,beta", [(1.0, 1e3), (3.0, 1e3), (60.0, 4.0)])
def test_choice_table_matches_high_precision(std, beta):
    cfg = PreferenceShiftConfig(beta_c=[beta] * 36, slate_std_deg=std)
    em = cfg.tables["emission"]
    assert np.all(np.isfinite(em))
    for a in (0, 3):  # slates at 0° and 180°
        np.testing.assert_allclose(em[a], _mp_emission(60.0 * a, std, beta), rtol=0, atol=1e-12)


def test_narrow_slate_choice_lands_where_the_slate_underflowed():
    """σ = 3°, β_c = 1000, slate at 0°, user at 180°: the slate's weight at 130° is e^−939 (0 in float64) yet
    that is where the user picks (50-digit arithmetic agrees); the old table put every choice near the slate."""
    cfg = PreferenceShiftConfig(beta_c=[1e3] * 36, slate_std_deg=3.0)
    row = cfg.tables["emission"][0, 18]
    assert np.argmax(row) == 13 and np.argmax(_mp_emission(0.0, 3.0, 1e3)[18]) == 13


def test_transition_table_matches_high_precision():
    beta, std, beta_d, lam = 1e3, 1.0, 50.0, 0.9
    cfg = PreferenceShiftConfig(beta_c=[beta] * 36, slate_std_deg=std, beta_d=beta_d, flexibility=lam)
    s = _mp_bump(0.0, std, range(0, 360, 10))
    b = [x**3 for x in s]
    zb = mp.fsum(b)
    b = [x / zb for x in b]
    cos = [[mp.cos(mp.radians(10 * (i - j))) for j in range(36)] for i in range(36)]
    q = []
    for up in range(36):
        w = [b[x] * mp.exp(beta * cos[x][up]) for x in range(36)]
        z = mp.fsum(w)
        q.append([v / z for v in w])
    for u in (0, 9, 18):
        v = [
            lam * mp.fsum(q[up][x] * cos[x][u] for x in range(36))
            + (1 - lam) * mp.fsum(q[up][x] * cos[x][up] for x in range(36))
            for up in range(36)
        ]
        m = max(v)
        w = [mp.exp(beta_d * (x - m)) for x in v]
        z = mp.fsum(w)
        np.testing.assert_allclose(cfg.tables["transition"][0, u], [float(x / z) for x in w], rtol=0, atol=1e-12)


def test_underflowing_choice_config_runs_finite():
    env = gym.make("recsim_envs/PreferenceShiftOracle-v0", beta_c=[1e3] * 36, slate_std_deg=1.0)
    obs, _ = env.reset(seed=3)
    choices = set()
    for t in range(10):
        obs, r, term, trunc, info = env.step(t % 6)
        choices.add(info["choice_bin"])
        assert np.all(np.isfinite(obs)) and np.isfinite(r) and env.observation_space.contains(obs)
        assert all(np.isfinite(info[k]) for k in ("expected_engagement", "expected_engagement_natural"))
    assert choices != {0}


def test_expected_natural_engagement_without_the_table_equals_the_table():
    cfg = PreferenceShiftConfig(action_set="fine", horizon=5)
    assert "expected_natural_cos" in cfg.tables
    keys = crng.seed_to_key(np.arange(50))
    outs = []
    for drop in (False, True):
        batch = UserBatch(cfg, 50)
        batch.reset(np.ones(50, dtype=bool), keys)
        tb = dict(cfg.tables)
        if drop:
            cfg.tables.pop("expected_natural_cos")
        try:
            outs.append([batch.step(np.arange(50) % 72)["expected_engagement_natural"] for _ in range(5)])
        finally:
            cfg.tables.update(tb)
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-13)
    long = PreferenceShiftConfig(action_set="fine", horizon=1000)
    assert "expected_natural_cos" not in long.tables  # 93 M entries: computed per step instead


# ---- coop: dense graphs through the complement ------------------------------------------------------------
def _batch(n, k, reps=3, seed=0):
    b = CoopBatch(CoopConfig(n_nodes=n, degree=k, max_steps=1), reps)
    b.reset(crng.seed_to_key(np.arange(seed, seed + reps)))
    return b


def _assert_simple_regular(b, k):
    n = b.n
    for r in range(b.R):
        adj = b.pos[r] >= 0
        assert np.array_equal(adj, adj.T) and not adj.diagonal().any()
        assert np.all(adj.sum(1) == k) and np.all(b.deg[r] == k)
        for v in range(n):  # neighbour lists agree with the edge index, no duplicates
            nb = b.nbr[r, v, : b.deg[r, v]]
            assert len(set(nb.tolist())) == k and np.all(b.pos[r, v, nb] == np.arange(k))


@pytest.mark.parametrize("n,k", [(12, 9), (61, 58), (100, 97), (7, 4)])
def test_dense_graph_is_the_complement_of_its_sparse_twin(n, k):
    dense, sparse = _batch(n, k), _batch(n, n - 1 - k)
    _assert_simple_regular(dense, k)
    eye = np.eye(n, dtype=bool)
    for r in range(3):
        assert np.array_equal(dense.pos[r] >= 0, ~(sparse.pos[r] >= 0) & ~eye)
    np.testing.assert_array_equal(dense.strat, sparse.strat)  # same stream consumed: same strategies
    assert not np.array_equal(dense.pos[0] >= 0, dense.pos[1] >= 0)  # seeds still give different graphs


@pytest.mark.parametrize("n,k", [(100, 99), (3, 2), (100, 98), (100, 50), (101, 50)])
def test_boundary_degrees_build_simple_regular_graphs(n, k):
    _assert_simple_regular(_batch(n, k, reps=2), k)


# digests of (neighbour lists, strategies) of replicas 0..2 recorded on commit 27f385d, before the change
SPARSE_DIGESTS = {
    (10, 4): "9e5aeafcc2db1098",
    (11, 4): "aa6791bb5b456be7",
    (30, 8): "faecb723fad96bdd",
    (60, 29): "980f6f912b463cb1",
    (100, 28): "e3fd4a148a9d368d",
    (7, 2): "f5d81c694736fbf9",
}


@pytest.mark.parametrize("n,k", list(SPARSE_DIGESTS))
def test_sparse_graphs_are_unchanged_for_the_same_seed(n, k):
    b = _batch(n, k)
    h = hashlib.sha256()
    for r in range(3):
        for v in range(n):
            h.update(b.nbr[r, v, : b.deg[r, v]].astype(np.int64).tobytes())
        h.update(b.strat[r].astype(np.int64).tobytes())
    assert h.hexdigest()[:16] == SPARSE_DIGESTS[(n, k)]


def test_switch_in_places_an_unplaceable_pair_and_keeps_the_graph_simple():
    # a 4-regular graph on 30 nodes and a leftover stub pair (u, v) of adjacent nodes (no edge can join them)
    b = _batch(30, 4, reps=1)
    a = b.pos[0] >= 0
    u = 0
    v = int(b.nbr[0, 0, 0])  # a neighbour of u: the pair (u, v) cannot be linked again
    deg_before = b.deg[0].copy()
    K._switch_in(b.nbr, b.pos, b.deg, b.keys, b.ctrs, 0, 30, u, v)
    adj = b.pos[0] >= 0
    assert np.array_equal(adj, adj.T) and not adj.diagonal().any()
    expected = deg_before.copy()
    expected[[u, v]] += 1
    np.testing.assert_array_equal(b.deg[0], expected)  # u and v gained one edge each, everyone else unchanged
    assert adj.sum() == a.sum() + 2


def test_large_graph_with_repair_is_simple_regular():
    n, k = 700, 100  # n·k above REPAIR_MIN_STUBS
    assert n * k > K.REPAIR_MIN_STUBS
    _assert_simple_regular(_batch(n, k, reps=1), k)


# ---- actions and flags: one rule for every env ------------------------------------------------------------
def test_coop_huge_action_is_a_value_error_naming_action_and_range():
    env = gym.make("recsim_envs/CooperationRewiring-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an integer node index in \[0, 29\]"):
        env.step(2**70)


def test_single_and_vector_preference_envs_share_one_action_rule():
    env = gym.make("recsim_envs/PreferenceShift-v0")
    venv = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=2, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    venv.reset(seed=0)
    env.step(2.0)
    venv.step([1.0, 2.0])  # integral floats: accepted by both
    # the "six" set has 7 actions: the paper's six slates and π_rnd's flat slate (index 6)
    for bad in (2.5, True, "a", 2**70, float("nan"), -1, 7):
        with pytest.raises(ValueError, match=r"action.* in \[0, 6\]"):
            env.step(bad)
        with pytest.raises(ValueError, match=r"action.* in \[0, 6\]"):
            venv.step([0, bad])


@pytest.mark.parametrize(
    "env_id",
    [
        "recsim_envs/PreferenceShift-v0",
        "recsim_envs/PreferenceShiftLearned-v0",
        "recsim_envs/CooperationRewiring-v0",
        "recsim_envs/RecommenderCompetition-v0",
        "recsim_envs/HarmMitigation-v0",
    ],
)
def test_vector_envs_take_multi_objective_only_as_a_boolean(env_id):
    for bad in ("no", 2, None, 1):
        with pytest.raises(ValueError, match="multi_objective must be True or False"):
            gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", multi_objective=bad)
    venv = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", multi_objective=np.True_)
    assert venv.unwrapped.multi_objective is True


def test_reward_weights_of_strings_name_the_parameter():
    with pytest.raises(ValueError, match="reward_weights must be an array of real numbers"):
        gym.make("recsim_envs/RecommenderCompetition-v0", reward_weights=["a", "b", "c"])
    with pytest.raises(ValueError, match="reward_weights"):
        gym.make("recsim_envs/RecommenderCompetition-v0", reward_weights=[True, False, True])


def test_validation_helpers(tmp_path):
    assert check_bool("x", np.False_) is False
    for bad in (1, 0, "True", None, np.array([True])):
        with pytest.raises(ValueError, match="x must be True or False"):
            check_bool("x", bad)
    f = tmp_path / "f.npz"
    f.write_bytes(b"")
    assert check_path("p", f) == str(f) and check_path("p", None, optional=True) is None
    for bad, kind in ((tmp_path / "missing", "file"), (f, "dir"), (3, "file"), (None, "file")):
        with pytest.raises(ValueError, match="p must be a path"):
            check_path("p", bad, kind)
    assert check_choice("c", "a", ("a", None)) == "a" and check_choice("c", None, ("a", None)) is None
    for bad in (1, np.array([1, 2]), float("nan")):
        with pytest.raises(ValueError, match="c must be one of"):
            check_choice("c", bad, (True, False, "a"))
    np.testing.assert_array_equal(check_discrete_actions("a", [1, 2.0], 3, (2,)), [1, 2])
    with pytest.raises(ValueError, match=r"a must have shape \(2,\)"):
        check_discrete_actions("a", 1, 3, (2,))
