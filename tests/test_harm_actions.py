"""HarmMitigation action encodings (Discrete at k = 1, duplicate-resolving slates, logits), custom catalogues and
kwarg validation; random agents and SB3 DQN run on the registered ids."""

from __future__ import annotations

import tracemalloc

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs  # noqa: F401
from recsim_envs.harm.core import HarmConfig, resolve_duplicates
from recsim_envs.harm.data import synthetic_catalogue
from recsim_envs.harm.env import HarmMitigationEnv

SMALL = dict(n_items=30, n_users=12)


def _resolve_reference(row, n):
    """Left-to-right reading: a repeated entry takes the lowest index the original row does not name."""
    free = iter(sorted(set(range(n)) - set(row)))
    seen, out = set(), []
    for x in row:
        out.append(next(free) if x in seen else x)
        seen.add(x)
    return out


def test_duplicate_resolution_matches_the_documented_rule():
    rng = np.random.default_rng(0)
    for n, k in [(5, 5), (6, 3), (10, 4), (80, 80)]:
        a = rng.integers(0, n, size=(200, k))
        got = resolve_duplicates(a, n)
        for row, g in zip(a, got):
            assert g.tolist() == _resolve_reference(row.tolist(), n)
            assert len(set(g.tolist())) == k


def test_k1_is_discrete_and_k3_slates_resolve_duplicates_in_the_env():
    env = gym.make("recsim_envs/HarmMitigation-v0", **SMALL)
    cfg = env.unwrapped.config
    assert env.action_space == gym.spaces.Discrete(cfg.n_candidates)
    env.reset(seed=0)
    for a in (3, np.int64(3), np.array(3), np.array([3])):  # int, numpy scalar, 0-d and length-1 arrays
        _, _, _, _, info = env.step(a)
        assert np.flatnonzero(info["recommended_mask"]).tolist() == [cfg.candidates[3]]
    env3 = gym.make("recsim_envs/HarmMitigation-v0", k=3, **SMALL)
    env3.reset(seed=0)
    _, _, _, _, info = env3.step(np.array([4, 4, 0]))  # repeat of 4 → lowest unnamed index, 1
    cand = env3.unwrapped.config.candidates
    assert np.flatnonzero(info["recommended_mask"]).tolist() == sorted(cand[[4, 1, 0]].tolist())


def test_logits_decode_to_capped_inclusion_probabilities():
    env = gym.make("recsim_envs/HarmMitigationSampling-v0", **SMALL)
    cfg = env.unwrapped.config
    assert cfg.action_type == "logits" and cfg.k == 5
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, (50, cfg.n_candidates))
    x[0, :3] = [-np.inf, -1e300, 140.0]
    q = cfg.decode_logits(x)
    for row, qr in zip(5.0 * x, q[:, cfg.candidates]):  # logit 5·a; direct softmax in extended precision, per row
        e = np.exp(np.longdouble(row) - np.longdouble(row[np.isfinite(row)].max()))
        np.testing.assert_allclose(qr, np.minimum(1.0, cfg.k * e / e.sum()).astype(float), rtol=1e-12, atol=1e-300)
    special = np.zeros((3, cfg.n_candidates))
    special[0, [2, 7]] = np.inf  # two +inf: each gets half the mass, k/2 ≥ 1 → both included surely
    special[1] = -np.inf  # nothing recommended
    special[2, 4] = -np.inf
    qs3 = cfg.decode_logits(special)[:, cfg.candidates]
    assert qs3[0].tolist() == [1.0 if j in (2, 7) else 0.0 for j in range(cfg.n_candidates)]
    assert not qs3[1].any() and qs3[2, 4] == 0.0
    np.testing.assert_allclose(qs3[2].sum(), cfg.k)
    assert np.all(q.sum(1) <= cfg.k + 1e-9) and np.all(q[:, cfg.catalogue.harmful] == 0)
    qs = rng.random((10, cfg.n_candidates))
    qs *= np.minimum(1.0, 4.0 / qs.sum(1, keepdims=True))  # Σq ≤ 4 < k, and some entries exactly 0 and 1
    qs[:, 0], qs[:, 1] = 0.0, 1.0
    np.testing.assert_allclose(cfg.decode_logits(cfg.encode_logits(qs))[:, cfg.candidates], qs, rtol=1e-9)
    env.reset(seed=0)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (cfg.n_candidates,), np.float64)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(cfg.n_candidates, np.nan))
    with pytest.raises(ValueError, match="logits per user"):
        env.step(np.zeros(3))


@pytest.mark.parametrize("k", [1, 3, 80])
def test_random_agent_runs_ten_thousand_steps(k):
    """10⁴ uniformly sampled actions (100 users × 100 steps in the native vector env, then 300 single-env steps):
    every sample is a valid slate of k distinct recommendable items."""
    venv = gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=100, vectorization_mode="vector_entry_point", k=k)
    venv.action_space.seed(k)
    venv.reset(seed=k)
    cand = venv.unwrapped.config.candidates
    for _ in range(100):
        _, r, _, _, info = venv.step(venv.action_space.sample())
        assert np.all(np.isfinite(r)) and np.all(info["recommended_mask"].sum(1) == k)
        assert np.all(info["recommended_mask"][:, cand].sum(1) == k)  # only recommendable items
    env = gym.make("recsim_envs/HarmMitigation-v0", k=k, horizon=100)
    env.action_space.seed(k)
    env.reset(seed=k)
    for _ in range(300):
        _, r, term, _, info = env.step(env.action_space.sample())
        assert np.isfinite(r) and info["recommended_mask"].sum() == k
        if term:
            env.reset()


def test_random_agent_runs_on_the_sampling_and_mo_ids():
    for env_id in ("recsim_envs/HarmMitigationSampling-v0", "recsim_envs/HarmMitigationMO-v0"):
        env = gym.make(env_id, horizon=100)
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(300):
            _, r, term, _, _ = env.step(env.action_space.sample())
            assert np.all(np.isfinite(r))
            if term:
                env.reset()


def test_sb3_dqn_trains_1000_steps_on_harm_mitigation():
    sb3 = pytest.importorskip("stable_baselines3")
    import torch

    env = gym.make("recsim_envs/HarmMitigation-v0")
    model = sb3.DQN("MlpPolicy", env, learning_starts=500, train_freq=8, buffer_size=1000, seed=0, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.learn(1000)
    finally:
        torch.set_num_threads(threads)
    assert model.num_timesteps == 1000
    a, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(int(a))


def test_vector_env_wrong_shape_actions_raise_value_error():
    venv = gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=4, vectorization_mode="vector_entry_point", **SMALL)
    venv.reset(seed=0)
    for bad in (0, np.zeros((4, 2), dtype=int), np.zeros(3, dtype=int)):
        with pytest.raises(ValueError, match="action"):
            venv.step(bad)
    venv.step(np.zeros(4, dtype=int))
    venv.step(np.zeros((4, 1), dtype=int))


def test_custom_catalogue_arrays_file_and_errors(tmp_path):
    base = synthetic_catalogue(20, 7, seed=3)
    arrays = dict(item_embeddings=base.V, harmful=base.harmful, user_profiles=base.U0)
    env = HarmMitigationEnv(catalogue=arrays)
    cfg = env.config
    assert (cfg.n_items, cfg.n_users) == (20, 7)
    np.testing.assert_array_equal(cfg.catalogue.V, base.V)
    np.testing.assert_array_equal(cfg.candidates, np.flatnonzero(~base.harmful))
    users = {env.reset(seed=s)[1]["user"] for s in range(60)}
    assert users == set(range(7))  # every user reachable, no IndexError (users derived from the catalogue)
    np.savez(tmp_path / "cat.npz", **arrays)
    from_file = gym.make("recsim_envs/HarmMitigation-v0", catalogue=str(tmp_path / "cat.npz"))
    np.testing.assert_array_equal(from_file.unwrapped.config.catalogue.U0, base.U0)
    lists = {k: np.asarray(v).tolist() for k, v in arrays.items()}  # plain JSON works too
    assert HarmMitigationEnv(catalogue=lists).config.n_items == 20

    bad_cases = [
        (dict(arrays, harmful=base.harmful[:-1]), "harmful must have shape"),
        (dict(arrays, user_profiles=base.U0[:, :5]), "user_profiles must have the embedding dimension"),
        (dict(arrays, item_embeddings=np.where(np.eye(20, 12) > 0, np.nan, base.V)), "item_embeddings.*finite"),
        (dict(arrays, user_profiles=np.full_like(base.U0, np.inf)), "user_profiles.*finite"),
        (dict(arrays, harmful=np.ones(20, bool)), "no recommendable item"),
        (dict(arrays, harmful=np.full(20, 2)), "harmful must hold booleans or 0/1"),
        (dict(item_embeddings=base.V, harmful=base.harmful), "missing \\['user_profiles'\\]"),
    ]
    for bad, match in bad_cases:
        with pytest.raises(ValueError, match=match):
            HarmMitigationEnv(catalogue=bad)
    with pytest.raises(ValueError, match="n_users=9 contradicts the supplied catalogue"):
        HarmMitigationEnv(catalogue=arrays, n_users=9)
    with pytest.raises(ValueError, match="cannot be combined"):
        HarmMitigationEnv(catalogue=arrays, genre="Sci-Fi")
    with pytest.raises(ValueError, match="catalogue file not found"):
        HarmMitigationEnv(catalogue="x")
    with pytest.raises(ValueError, match="catalogue must be"):
        HarmMitigationEnv(catalogue=3)
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(ValueError, match="junk.npz: not a readable"):
        HarmMitigationEnv(catalogue=str(tmp_path / "junk.npz"))


@pytest.mark.parametrize("name", ["allow_harmful", "analytic_info"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_boolean_kwargs_must_be_bools(name, value):
    with pytest.raises(ValueError, match=f"{name} must be True or False"):
        HarmConfig(**{name: value}, **SMALL)


@pytest.mark.parametrize("value", ["no", 2, None])
def test_vector_env_multi_objective_must_be_bool(value):
    with pytest.raises(ValueError, match="multi_objective must be True or False"):
        gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=2, vectorization_mode="vector_entry_point",
                     multi_objective=value, **SMALL)  # fmt: skip


@pytest.mark.parametrize("name, value", [("genre", "Drama"), ("labels", "/no/such.csv"), ("parental_guide", "x.csv")])
def test_synthetic_catalogue_refuses_movielens_only_kwargs(name, value):
    with pytest.raises(ValueError, match=f"{name}=.*applies to a MovieLens dataset only"):
        gym.make("recsim_envs/HarmMitigation-v0", **{name: value})


def test_large_catalogue_builds_without_quadratic_memory():
    """n_items = 100,000: (n_users + n_items) × n_items float64 would be 80 GB; measured peak must stay small."""
    tracemalloc.start()
    env = HarmMitigationEnv(n_items=100_000, n_users=100, action_type="logits", k=5, c=20.0, analytic_info=False)
    env.reset(seed=0)
    env.step(np.zeros(env.config.n_candidates))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200e6, peak  # ~ a few [n_items × d] and [n_items] arrays
    # above the exact-bound budget the O(n·d) bounding-box bound is used: it must still bound s_Ω at the profiles
    V, U0 = env.config.catalogue.V, env.config.catalogue.U0
    assert env.config.s_bound >= np.exp(U0[:50] @ V.T).sum(1).max()
