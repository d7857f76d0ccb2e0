"""HarmMitigation envs: validation, action encodings, info against the model, and long-run averages against the
analytic stationary objective (Monte-Carlo)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs  # noqa: F401
from baselines.harm import HarmProblem, ift, top_k_u0, uniform
from benchmarks.reproduce_harm import long_run_check
from recsim_envs.harm.model import ItemPolicy, SamplingPolicy, evaluate

SMALL = dict(n_items=30, n_users=12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha_harmful=0.9, beta=0.2), "max\\(alpha\\) \\+ beta"),
        (dict(beta=0.0), "beta"),
        (dict(alpha_benign=-0.1), "alpha_benign"),
        (dict(c=0.0), "c must be"),
        (dict(lam=float("nan")), "lam"),
        (dict(k=0), "k must be"),
        (dict(horizon=0), "horizon"),
        (dict(action_type="slate"), "action_type"),
        (dict(dataset="/no/such/dir"), "dataset"),
        (dict(n_items=1), "n_items"),
    ],
)
def test_bad_kwargs_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("recsim_envs/HarmMitigation-v0", **kwargs)


def test_item_actions_are_validated():
    env = gym.make("recsim_envs/HarmMitigation-v0", k=3, **SMALL)
    env.reset(seed=0)
    n_rec = env.unwrapped.config.n_candidates
    with pytest.raises(ValueError, match="indices must be in"):
        env.step(np.array([0, 1, n_rec]))
    with pytest.raises(ValueError, match="indices must be in"):
        env.step(np.array([-1, 1, 2]))
    with pytest.raises(ValueError, match="k=3"):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="k=3"):
        env.step(0)
    with pytest.raises(ValueError, match="integer"):
        env.step(np.array([0.5, 1, 2]))
    _, _, _, _, info = env.step(np.array([0, 1, 2]))
    rec = np.flatnonzero(info["recommended_mask"])
    np.testing.assert_array_equal(rec, np.sort(env.unwrapped.config.candidates[[0, 1, 2]]))
    assert not env.unwrapped.config.catalogue.harmful[rec].any()  # candidates exclude harmful items by default


def test_probability_actions_are_validated_and_scaled_to_k():
    env = gym.make("recsim_envs/HarmMitigationSampling-v0", action_type="probabilities", **SMALL)
    env.reset(seed=0)
    cfg = env.unwrapped.config
    for bad in (np.full(cfg.n_candidates, 1.5), np.full(cfg.n_candidates, np.nan), np.ones(3)):
        with pytest.raises(ValueError, match="inclusion probabilities"):
            env.step(bad)
    q = cfg.decode_probabilities(np.ones((1, cfg.n_candidates)))
    np.testing.assert_allclose(q.sum(), cfg.k)
    assert np.all(q[:, cfg.catalogue.harmful] == 0)
    small = np.zeros((1, cfg.n_candidates))
    small[0, :3] = [0.2, 0.5, 1.0]
    np.testing.assert_allclose(cfg.decode_probabilities(small)[0, cfg.candidates[:3]], [0.2, 0.5, 1.0])


def test_info_matches_model_and_rewards_are_weighted_objectives():
    env = gym.make("recsim_envs/HarmMitigation-v0", lam=7.0, **SMALL)
    mo = gym.make("recsim_envs/HarmMitigationMO-v0", lam=7.0, **SMALL)
    obs, info = env.reset(seed=4)
    mo.reset(seed=4)
    cfg = env.unwrapped.config
    cat = cfg.catalogue
    np.testing.assert_allclose(obs[: cat.dim], cat.U0[info["user"]], rtol=1e-6)
    for t in range(20):
        a = np.array([t % cfg.n_candidates])
        obs, r, term, trunc, info = env.step(a)
        _, rv, *_ = mo.step(a)
        np.testing.assert_allclose(rv, info["objectives"])
        assert r == pytest.approx(info["click"] - 7.0 * info["harm"])
        assert r == pytest.approx(float(info["objectives"] @ np.array([1.0, 7.0])))
        assert info["harm"] == float(cat.harmful[info["item"]])
        pi = np.zeros((1, cat.n_items))
        pi[0, cfg.candidates[a[0]]] = 1.0
        met = evaluate(ItemPolicy(cfg.c), pi, info["previous_profile"][None], cat.V, cat.harmful, 7.0)
        assert info["pclk"] == pytest.approx(met.pclk[0], rel=1e-12)
        assert info["ph"] == pytest.approx(met.ph[0], rel=1e-12)
        # attraction rule with the consumed item
        v = info["item"]
        a_v = cfg.alpha_harmful if cat.harmful[v] else cfg.alpha_benign
        u0 = cat.U0[info["user"]]
        expect = (1 - a_v - cfg.beta) * info["previous_profile"] + a_v * cat.V[v] + cfg.beta * u0
        np.testing.assert_allclose(info["profile"], expect, rtol=1e-12)
    assert mo.unwrapped.reward_dim == 2 and mo.unwrapped.reward_space.shape == (2,)


def test_sampling_info_matches_model():
    env = gym.make("recsim_envs/HarmMitigationSampling-v0", action_type="probabilities", **SMALL)
    env.reset(seed=1)
    cfg = env.unwrapped.config
    a = np.linspace(0.0, 1.0, cfg.n_candidates)
    _, _, _, _, info = env.step(a)
    q = cfg.decode_probabilities(a[None])
    met = evaluate(
        SamplingPolicy(cfg.c, cfg.k), q, info["previous_profile"][None], cfg.catalogue.V, cfg.catalogue.harmful, cfg.lam
    )
    assert info["pclk"] == pytest.approx(met.pclk[0], abs=1e-9)
    assert info["ph"] == pytest.approx(met.ph[0], abs=1e-9)


def test_episode_ends_at_horizon_and_users_are_seed_controlled():
    env = gym.make("recsim_envs/HarmMitigation-v0", horizon=5, **SMALL)
    users = {env.reset(seed=s)[1]["user"] for s in range(40)}
    assert len(users) > 5  # different seeds sample different users
    assert env.reset(seed=3)[1]["user"] == env.reset(seed=3)[1]["user"]
    for t in range(5):
        _, _, term, trunc, _ = env.step(np.array([0]))
        assert term == (t == 4) and not trunc


def _long_run_gap(env_id, solver, scale, num_envs, burn, steps, **kw):
    """Per-user time averages of click and harm minus the analytic pCLK/pH at the user's stationary profile
    ((α, β) scaled together leave the stationary profile unchanged; small steps concentrate the process there)."""
    _, sol, rates, users = long_run_check(solver, scale, num_envs, burn, steps, 2, env_id, 10**7, **kw)
    return rates["click"] - sol.pclk[users], rates["harm"] - sol.ph[users]


@pytest.mark.parametrize("solver", [uniform, top_k_u0, ift], ids=["uniform", "top-k", "ift"])
def test_long_run_average_matches_analytic_objective(solver):
    d_click, d_harm = _long_run_gap("recsim_envs/HarmMitigation-v0", solver, 0.02, 160, 700, 2000, **SMALL)
    for d in (d_click, d_harm):
        se = d.std(ddof=1) / np.sqrt(d.size)
        assert abs(d.mean()) < 4 * se + 1e-3, (d.mean(), se)


def test_long_run_average_matches_analytic_objective_sampling():
    d_click, d_harm = _long_run_gap(
        "recsim_envs/HarmMitigationSampling-v0", uniform, 0.02, 160, 700, 2000, analytic_info=False, **SMALL
    )
    for d in (d_click, d_harm):
        se = d.std(ddof=1) / np.sqrt(d.size)
        assert abs(d.mean()) < 4 * se + 1e-3, (d.mean(), se)


def test_long_run_gap_is_detectable_with_a_wrong_model():
    """The Monte-Carlo check has power: the analytic values of a *different* c are rejected."""
    prob, sol, rates, users = long_run_check(top_k_u0, 0.02, 160, 700, 2000, 2, horizon=10**7, **SMALL)
    wrong = top_k_u0(HarmProblem(prob.V, prob.harmful, prob.U0, prob.params, prob.c * 1.3, prob.k))
    d = rates["click"] - wrong.pclk[users]
    assert abs(d.mean()) > 4 * d.std(ddof=1) / np.sqrt(d.size)


def test_dataset_directory_env_end_to_end(movielens_dir, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RECSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "harm_cache"))
    env = gym.make("recsim_envs/HarmMitigation-v0", dataset=str(movielens_dir), genre="Sci-Fi", horizon=30)
    cat = env.unwrapped.config.catalogue
    assert cat.n_items == 100 and cat.n_users == 100 and cat.dim == 12
    assert "Matrix" in " ".join(cat.titles) and 0.05 < cat.harmful.mean() < 0.4
    obs, info = env.reset(seed=0)
    total = 0.0
    for _ in range(30):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        total += r
        assert np.isfinite(r) and env.observation_space.contains(obs)
    assert term


def test_allow_harmful_counts_clicked_harm():
    env = gym.make("recsim_envs/HarmMitigation-v0", allow_harmful=True, **SMALL)
    cfg = env.unwrapped.config
    cat = cfg.catalogue
    assert cfg.n_candidates == cat.n_items  # every item recommendable
    h = int(np.flatnonzero(cat.harmful)[0])
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([h]))
    u = info["previous_profile"]
    s = np.exp(cat.V @ u)
    sig_h = s[cat.harmful].sum() / s.sum()
    # pH = P(click the harmful recommendation) + P(organic) σ_H
    assert info["ph"] == pytest.approx(s[h] / (s[h] + cfg.c) + cfg.c / (s[h] + cfg.c) * sig_h, rel=1e-12)


@pytest.mark.parametrize("action_type, empty", [("probabilities", 0.0), ("logits", -np.inf)])
def test_sampling_env_with_empty_recommendation_is_organic_only(action_type, empty):
    env = gym.make("recsim_envs/HarmMitigationSampling-v0", action_type=action_type, **SMALL)
    env.reset(seed=0)
    for _ in range(20):
        obs, r, _, _, info = env.step(np.full(env.unwrapped.config.n_candidates, empty))
        assert info["click"] == 0.0 and not info["recommended_mask"].any()
        assert info["pclk"] == pytest.approx(0.0, abs=1e-12)
        assert info["ph"] == pytest.approx(info["harm_share"], rel=1e-9)
        assert np.all(np.isfinite(obs)) and env.observation_space.contains(obs)


def test_vector_env_next_user_names_the_autoreset_user():
    venv = gym.make_vec(
        "recsim_envs/HarmMitigation-v0", num_envs=8, vectorization_mode="vector_entry_point", horizon=3, **SMALL
    )
    obs, info = venv.reset(seed=0)
    cat = venv.unwrapped.config.catalogue if hasattr(venv, "unwrapped") else venv.config.catalogue
    d = cat.dim
    changed = False
    for _ in range(7):
        obs, _, term, _, info = venv.step(np.zeros((8, 1), dtype=np.int64))
        np.testing.assert_allclose(obs[:, d : 2 * d], cat.U0[info["next_user"]], rtol=1e-6)  # u0 block of obs
        nxt = info["next_user"]
        changed |= bool(np.any(nxt != info["user"]))
        _, _, _, _, info2 = venv.step(np.zeros((8, 1), dtype=np.int64))
        np.testing.assert_array_equal(info2["user"], nxt)
        info = info2
    assert changed
