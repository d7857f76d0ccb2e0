"""Learned user model (issue 7): data generator, network, training, Algorithms 1–3 and the learned-simulator env.

Model-quality tests use the shipped checkpoint on held-out trajectories it never saw and compare against the
exact NHMM oracle (an independent computation on the ground truth).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs  # noqa: F401
from recsim_envs.preference.learned import network as nw
from recsim_envs.preference.learned.algorithms import (
    counterfactual_preferences,
    predict_future_preferences,
)
from recsim_envs.preference.learned.core import LearnedShiftConfig, generate_penalised_trajectories
from recsim_envs.preference.learned.data import (
    FLAT_SLATE,
    HistoricalData,
    data_tables,
    generate_historical_data,
    ground_truth_config,
)
from recsim_envs.preference.oracle import NHMMOracle
from recsim_envs.preference.world import N_BINS, THETA, action_slates, flat_slate


@pytest.fixture(scope="module")
def model():
    return nw.LearnedUserModel.load()


@pytest.fixture(scope="module")
def held_out():
    """The shipped model's held-out split, regenerated from the seed recorded in its checkpoint."""
    meta = nw.LearnedUserModel.load().meta
    data = generate_historical_data(n_trajectories=meta["data"]["n_trajectories"], seed=meta["data"]["seed"])
    return data.split(meta["n_test"])[1]


@pytest.fixture(scope="module")
def oracle():
    cfg = ground_truth_config()
    tb = data_tables(cfg)
    return NHMMOracle(tb["slates"], tb["beta_c"], cfg.beta_d, cfg.flexibility, tb["prior"])


def _tv(p, q):
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


# -- data ------------------------------------------------------------------------------------------------
def test_historical_data_mixture_policy_and_format(tmp_path):
    d = generate_historical_data(n_trajectories=2000, horizon=6, seed=3)
    assert d.slates.shape == d.choices.shape == (2000, 6) and d.preferences.shape == (2000, 7)
    assert d.behaviour.sum() == 1000  # exactly half per behaviour policy
    uniform = d.slates[d.behaviour == 0]
    mostly_flat = d.slates[d.behaviour == 1]
    assert not np.any(uniform == FLAT_SLATE)
    # flat with prob 0.8, else uniform over 72 fine slates: SE of the mean over 6000 draws ≈ 0.005
    assert abs((mostly_flat == FLAT_SLATE).mean() - 0.8) < 0.02
    assert abs(np.bincount(uniform.ravel(), minlength=72).std() / (uniform.size / 72)) < 0.2
    np.testing.assert_allclose(d.slate_table.sum(axis=1), 1.0)
    np.testing.assert_allclose(d.slate_table[FLAT_SLATE], flat_slate())
    path = d.save(tmp_path / "hd.npz")
    e = HistoricalData.load(path)
    for k in ("slates", "choices", "behaviour", "preferences", "slate_table"):
        np.testing.assert_array_equal(getattr(e, k), getattr(d, k))
    assert e.meta == d.meta
    again = generate_historical_data(n_trajectories=2000, horizon=6, seed=3)
    np.testing.assert_array_equal(again.choices, d.choices)
    assert not np.array_equal(generate_historical_data(n_trajectories=2000, horizon=6, seed=4).choices, d.choices)
    train, test = d.split(500)
    assert train.n == 1500 and test.n == 500
    np.testing.assert_array_equal(test.choices, d.choices[1500:])


def test_historical_data_follows_ground_truth(oracle):
    """First choices match the exact ground-truth marginal (prior pushed through the emission), per slate type."""
    d = generate_historical_data(n_trajectories=6000, horizon=1, seed=1)
    flat = d.slates[:, 0] == FLAT_SLATE
    expected = oracle.prior @ oracle.emission[FLAT_SLATE]
    freq = np.bincount(d.choices[flat, 0], minlength=N_BINS) / flat.sum()
    assert _tv(freq, expected) < 0.06  # ~2400 draws over 36 bins: sampling TV ≈ 0.03
    assert _tv(freq, np.full(N_BINS, 1 / N_BINS)) > 0.15  # the cohort near 130° shows


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_trajectories=1), "n_trajectories"),
        (dict(horizon=0), "horizon"),
        (dict(flat_prob=1.5), "flat_prob"),
        (dict(beta_d=-1.0), "beta_d"),
        (dict(bogus=1), "ground_truth"),
    ],
)
def test_historical_data_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate_historical_data(**kwargs)


# -- network ---------------------------------------------------------------------------------------------
def _random_params(cfg, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, 0.3, s) for k, s in nw.parameter_shapes(cfg).items()}


def test_mixture_is_a_normalised_grid_von_mises():
    k = 4
    rng = np.random.default_rng(0)
    heads = rng.normal(0, 2, (5, 3 * k))
    lp = nw.mixture_bin_log_probs(heads, k)
    np.testing.assert_allclose(np.exp(lp).sum(axis=-1), 1.0)
    # one dominant component: the grid von Mises exp(κ cos(θ − μ)) / Σ
    mu, kappa = np.deg2rad(250.0), 3.0
    h = np.zeros(3 * k)
    h[0] = 50.0
    h[k : k + 2] = kappa * np.array([np.cos(mu), np.sin(mu)])
    ref = np.exp(kappa * np.cos(THETA - mu))
    np.testing.assert_allclose(np.exp(nw.mixture_bin_log_probs(h, k)), ref / ref.sum(), rtol=1e-9, atol=1e-12)


def test_numpy_forward_matches_torch():
    torch = pytest.importorskip("torch")
    from recsim_envs.preference.learned.transformer import torch_forward, torch_mixture_bin_log_probs

    cfg = nw.NetworkConfig()
    params = _random_params(cfg)
    rng = np.random.default_rng(1)
    slates = rng.dirichlet(np.ones(N_BINS), (4, 10))
    choices = rng.integers(0, N_BINS, (4, 10))
    lengths = np.array([0, 3, 7, 10])
    causal = nw.attention_allowed(10)
    for tokens, allowed in (
        (nw.build_tokens(slates, choices, lengths, 10), causal),
        (nw.build_tokens(slates, choices, lengths, 10, hide_first_choice=True), causal),
        (nw.build_tokens(slates, choices, lengths, 10, context_angle=THETA[:4]), causal),
    ):
        h_np = nw.forward(params, cfg, tokens, allowed)
        tp = {k: torch.tensor(v) for k, v in params.items()}
        h_t = torch_forward(tp, cfg, torch.tensor(tokens), torch.tensor(np.ascontiguousarray(allowed)))
        np.testing.assert_allclose(h_np, h_t.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            nw.mixture_bin_log_probs(h_np, 4), torch_mixture_bin_log_probs(h_t, 4).numpy(), rtol=1e-10, atol=1e-10
        )


def test_masks_hide_what_each_estimator_must_not_see():
    cfg = nw.NetworkConfig()
    params = {name: _random_params(cfg, i) for i, name in enumerate(nw.ESTIMATORS)}
    m = nw.LearnedUserModel(cfg, params, np.ones(N_BINS))
    rng = np.random.default_rng(2)
    slates = rng.dirichlet(np.ones(N_BINS), (3, 10))
    choices = rng.integers(0, N_BINS, (3, 10))
    other = choices.copy()
    other[:, 4:] = (other[:, 4:] + 11) % N_BINS
    t = np.full(3, 4)
    # future model at t: steps ≥ t do not matter; the step before does
    np.testing.assert_array_equal(m.future_belief_at(slates, choices, t), m.future_belief_at(slates, other, t))
    shifted = choices.copy()
    shifted[:, 3] = (shifted[:, 3] + 7) % N_BINS
    assert not np.allclose(m.future_belief_at(slates, choices, t), m.future_belief_at(slates, shifted, t))
    # initial model with L observed steps ignores later steps, and (uncorrected) never sees x_0
    lengths = np.full(3, 4)
    np.testing.assert_array_equal(m.initial_belief(slates, choices, lengths), m.initial_belief(slates, other, lengths))
    x0 = choices.copy()
    x0[:, 0] = (x0[:, 0] + 18) % N_BINS
    raw = m.initial_belief(slates, choices, lengths, corrected=False)
    np.testing.assert_array_equal(raw, m.initial_belief(slates, x0, lengths, corrected=False))
    # the E.2 correction multiplies in P(x_0 | s_0, u) and renormalises
    lik = m.emission(slates[:, 0])[np.arange(3), :, choices[:, 0]]
    np.testing.assert_allclose(
        m.initial_belief(slates, choices, lengths), raw * lik / (raw * lik).sum(1, keepdims=True), rtol=1e-12
    )


def test_training_is_reproducible_and_learns(tmp_path):
    torch = pytest.importorskip("torch")
    from recsim_envs.preference.learned.transformer import TrainConfig, observed_choice_log_lik, train_user_model

    torch.set_num_threads(1)
    data = generate_historical_data(n_trajectories=1200, horizon=4, seed=5)
    train, test = data.split(400)
    bc = ground_truth_config().tables["beta_c"]
    cfg = nw.NetworkConfig(horizon=4, d_model=16, d_ff=32)
    tcfg = TrainConfig(max_epochs=8, patience=0, batch_size=128, lr=1e-2, dropout=0.1)
    quiet = lambda msg: None  # noqa: E731
    a, report = train_user_model(train, bc, seed=0, net=cfg, train=tcfg, log=quiet)
    b, _ = train_user_model(train, bc, seed=0, net=cfg, train=tcfg, log=quiet)
    c, _ = train_user_model(train, bc, seed=1, net=cfg, train=tcfg, log=quiet)
    for name in nw.ESTIMATORS:
        for k in a.params[name]:
            np.testing.assert_array_equal(a.params[name][k], b.params[name][k])
    assert not np.array_equal(a.params["future"]["head_w"], c.params["future"]["head_w"])
    # held-out choice NLL of P̂_f beats the untrained (uniform-belief) predictor
    ll = observed_choice_log_lik(test, bc)  # [n, T, 36]
    belief = a.future_beliefs(test.slate_table[test.slates], test.choices)[:, :4]
    nll = -np.log((belief * np.exp(ll)).sum(-1)).mean()
    nll_uniform = -np.log(np.exp(ll).mean(-1)).mean()
    assert nll < nll_uniform - 0.05, (nll, nll_uniform)
    # save / load round trip (float32 weights)
    a.natural_table = np.full((5, N_BINS, N_BINS), 1 / N_BINS)
    a.save(tmp_path / "m.npz")
    back = nw.LearnedUserModel.load(tmp_path / "m.npz")
    got = back.future_beliefs(test.slate_table[test.slates[:5]], test.choices[:5])[:, :4]
    np.testing.assert_allclose(got, belief[:5], rtol=1e-4, atol=1e-6)


# -- the shipped checkpoint, against the exact oracle -------------------------------------------------------
def test_shipped_checkpoint_is_small_and_complete(model):
    assert nw.DEFAULT_CHECKPOINT.stat().st_size < 1_000_000
    assert model.natural_table is not None and model.natural_table.shape == (11, N_BINS, N_BINS)
    assert model.meta["choice_model"] == "true" and model.config.n_heads == 2 and model.config.n_layers == 2
    np.testing.assert_allclose(model.natural_table.sum(-1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(model.natural_table[0], np.eye(N_BINS))  # u_0^rnd = u_0


def test_shipped_model_predicts_held_out_choices_nearly_as_well_as_the_oracle(model, held_out, oracle):
    d = held_out
    f = oracle.filter(d.slates, d.choices)
    p_oracle = np.take_along_axis(f.choice_predictions, d.choices[..., None], -1)[..., 0]
    belief = model.future_beliefs(d.slate_table[d.slates], d.choices)[:, :-1]  # [n, T, 36]
    em = model.emission(d.slate_table)[d.slates, :, d.choices]  # [n, T, u]
    p_model = (belief * em).sum(-1)
    nll_oracle, nll_model = -np.log(p_oracle).mean(), -np.log(p_model).mean()
    nll_slate_only = -np.log(em.mean(-1)).mean()  # uniform belief over preferences
    assert nll_oracle <= nll_model + 0.005  # the oracle is the Bayes-optimal predictor
    # the learned model recovers most of what the exact oracle gains over knowing nothing about the user
    gained = (nll_slate_only - nll_model) / (nll_slate_only - nll_oracle)
    assert gained > 0.8, (nll_model, nll_oracle, nll_slate_only)
    # the stronger baseline: the known u_0 prior propagated through the shown slates, no choice history
    marginal = oracle.predict_under_policy(np.broadcast_to(oracle.prior, (d.n, N_BINS)), d.slates)[:, :-1]
    p_no_history = np.einsum("ntu,ntux->ntx", marginal, oracle.emission[d.slates])
    nll_no_history = -np.log(np.take_along_axis(p_no_history, d.choices[..., None], -1)[..., 0]).mean()
    gained_over_prior = (nll_no_history - nll_model) / (nll_no_history - nll_oracle)
    assert gained_over_prior > 0.78 and nll_model - nll_oracle < 0.02, (nll_model, nll_oracle, nll_no_history)


def test_shipped_model_tracks_hidden_preferences(model, held_out, oracle):
    d = held_out
    sv = d.slate_table[d.slates]
    belief = model.future_beliefs(sv, d.choices)  # [n, T+1, 36]
    steps = np.arange(d.horizon + 1)[None]
    rows = np.arange(d.n)[:, None]
    ll_model = np.log(belief[rows, steps, d.preferences] + 1e-300).mean()
    ll_prior = np.log(belief[rows, 0, d.preferences] + 1e-300).mean()  # the learned u_0 prior at every t
    ll_oracle = np.log(oracle.filter(d.slates, d.choices).alpha[rows, steps, d.preferences] + 1e-300).mean()
    assert ll_oracle >= ll_model - 0.01
    assert (ll_model - ll_prior) / (ll_oracle - ll_prior) > 0.8, (ll_model, ll_oracle, ll_prior)
    # initial preferences: the E.2-corrected belief is closer to the exact smoothed belief than the uncorrected one
    full = np.full(d.n, d.horizon)
    gamma0 = oracle.initial_preference_belief(d.slates, d.choices)
    corrected = model.initial_belief(sv, d.choices, full)
    raw = model.initial_belief(sv, d.choices, full, corrected=False)
    assert _tv(corrected, gamma0).mean() < _tv(raw, gamma0).mean()
    within_30 = (np.abs((corrected.argmax(1) - d.preferences[:, 0] + 18) % 36 - 18) <= 3).mean()
    within_30_oracle = (np.abs((gamma0.argmax(1) - d.preferences[:, 0] + 18) % 36 - 18) <= 3).mean()
    assert within_30 > within_30_oracle - 0.1


def _mean_angle(dist):
    v = dist @ np.stack([np.cos(THETA), np.sin(THETA)], axis=1)
    return np.rad2deg(np.arctan2(v[..., 1], v[..., 0])) % 360.0


def _angle_gap(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_algorithm1_predicts_induced_shifts_of_a_new_policy(model):
    """Constant 240° slate from the population prior: estimated cohort at t = 10 vs the exact propagation."""
    cfg = ground_truth_config()
    slates, _, _ = action_slates("six")
    exact_oracle = NHMMOracle(slates, cfg.tables["beta_c"], cfg.beta_d, cfg.flexibility, cfg.tables["prior"])
    est = predict_future_preferences(model, slates, np.full(10, 4), 10, n_samples=400, rng=np.random.default_rng(0))
    exact = exact_oracle.predict_under_policy(cfg.tables["prior"], np.full(10, 4))
    assert _tv(est[0, 10], exact[0, 10]) < 0.35
    assert _angle_gap(_mean_angle(est[0, 10]), _mean_angle(exact[0, 10])) < 20.0
    natural = exact_oracle.natural_shift(cfg.tables["prior"], 10)[0, 10]
    # the estimate separates the induced shift from the natural one
    assert _tv(est[0, 10], exact[0, 10]) < _tv(est[0, 10], natural) - 0.2


def test_algorithm2_table_matches_direct_monte_carlo_and_ground_truth(model, oracle):
    prior = oracle.prior
    direct = counterfactual_preferences(model, prior[None], 10, n_samples=3000, rng=np.random.default_rng(1))[0]
    table = np.stack([model.natural_shift(prior[None], t)[0] for t in range(11)])
    assert _tv(direct[1:], table[1:]).max() < 0.08  # t = 0 of the table is exact, not Monte-Carlo
    np.testing.assert_allclose(table[0], prior)
    exact = oracle.natural_shift(prior, 10)[0]
    assert _angle_gap(_mean_angle(table[10]), _mean_angle(exact[10])) < 15.0
    # natural shifts drift toward the 80° mode
    near80 = np.abs((np.arange(N_BINS) - 8 + 18) % 36 - 18) <= 3
    assert table[10, near80].sum() > table[0, near80].sum() + 0.2


# -- env / Algorithm 3 -------------------------------------------------------------------------------------
def test_learned_env_reward_is_weighted_sum_and_obs_matches_ground_truth_layout():
    env = gym.make("recsim_envs/PreferenceShiftLearned-v0", nu_initial=0.5, nu_natural=2.0, obs_mode="model_beliefs")
    truth = gym.make("recsim_envs/PreferenceShift-v0")
    obs, _ = env.reset(seed=1)
    tobs, _ = truth.reset(seed=1)
    assert env.observation_space.shape == (181,) and truth.observation_space.shape == (73,)
    np.testing.assert_array_equal(obs[:73], tobs)  # empty history, t = 0
    for _ in range(10):
        obs, r, term, trunc, info = env.step(4)
        comp = info["rewards"]
        weighted = comp["engagement"] + 0.5 * comp["engagement_initial"] + 2.0 * comp["engagement_natural"]
        assert r == pytest.approx(weighted)
        np.testing.assert_allclose(obs[73:].reshape(3, N_BINS).sum(1), 1.0, rtol=1e-5)
        assert all(-1.0 <= v <= 1.0 and np.isfinite(v) for v in comp.values())
        assert obs[36 + info["choice_bin"]] == 1.0
    assert term and not trunc


def test_algorithm3_penalised_trajectories():
    const = lambda obs, info: np.full(len(obs), 4)  # noqa: E731
    out = generate_penalised_trajectories(const, 64, seed=0, nu_initial=1.0, nu_natural=1.0)
    assert out["reward"].shape == (64, 10) and np.all(out["slates"] == 4)
    np.testing.assert_allclose(
        out["reward"], out["engagement"] + out["engagement_initial"] + out["engagement_natural"], rtol=1e-12
    )
    # a constant 240° slate drags users away from their initial preferences: the penalty terms fall over time
    assert out["engagement_initial"][:, -3:].mean() < out["engagement_initial"][:, :3].mean()
    # the engagement estimate is unbiased for its choice-marginalised version
    assert abs(out["engagement"].mean() - out["expected_engagement"].mean()) < 0.05


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(horizon=11), "horizon"),
        (dict(checkpoint="/nonexistent/model.npz"), "checkpoint"),
        (dict(checkpoint=3), "checkpoint"),
        (dict(obs_mode="oracle_beliefs"), "obs_mode"),
        (dict(nu_initial=float("nan")), "nu_initial"),
        (dict(action_set="seven"), "action_set"),
    ],
)
def test_learned_env_rejects_bad_kwargs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LearnedShiftConfig(**kwargs)


def test_learned_env_runs_without_torch(run_python):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import gymnasium as gym, recsim_envs\n"
        "env = gym.make('recsim_envs/PreferenceShiftLearnedPenalized-v0')\n"
        "env.reset(seed=0)\n"
        "print(sum(env.step(2)[1] for _ in range(10)))\n"
    )
    assert np.isfinite(float(run_python(code).splitlines()[-1]))


def test_algorithm1_starts_from_the_observed_history(model):
    slates, _, _ = action_slates("six")
    hist_slates = np.array([[4, 4, 4], [0, 1, 2]])
    hist_choices = np.array([[25, 27, 26], [3, 9, 12]])
    calls = []

    def policy(sl, ch, t):
        calls.append(t)
        np.testing.assert_array_equal(sl[:, :3], np.repeat(hist_slates, 50, axis=0))  # particles keep the history
        return np.full(sl.shape[0], 4)

    est = predict_future_preferences(
        model, slates, policy, 6, n_samples=50, rng=np.random.default_rng(0), history=(hist_slates, hist_choices)
    )
    assert est.shape == (2, 7, N_BINS) and calls == [3, 4, 5]
    np.testing.assert_allclose(est.sum(-1), 1.0)
    exact = model.future_beliefs(slates[hist_slates], hist_choices)  # [2, T+1, 36] on the real prefix
    np.testing.assert_allclose(est[:, :4], exact[:, :4], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="horizon"):
        predict_future_preferences(model, slates, np.zeros(20, dtype=int), 20)


# -- incremental simulation (keys/values cached) vs the full recompute -------------------------------------------
def _random_checkpoint(tmp_path, seed=0):
    cfg = nw.NetworkConfig()
    params = {name: _random_params(cfg, seed + i) for i, name in enumerate(nw.ESTIMATORS)}
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(N_BINS), (cfg.horizon + 1, N_BINS))
    m = nw.LearnedUserModel(cfg, params, ground_truth_config().tables["beta_c"], table, {"choice_model": "true"})
    return m.save(tmp_path / f"random{seed}.npz")


def test_incremental_simulation_equals_full_recompute_on_recorded_trajectories(tmp_path):
    """Every belief and reward of the cached (incremental) simulator, recomputed from the recorded histories with
    full causal passes over the whole sequence; users reset at different steps so positions differ per user."""
    from recsim_envs.preference.learned.core import LearnedUserBatch
    from recsim_envs.utils import rng as crng

    cfg = LearnedShiftConfig(checkpoint=str(_random_checkpoint(tmp_path)), action_set="fine")
    m, tb = cfg.model, cfg.tables
    n = 12
    batch = LearnedUserBatch(cfg, n)
    batch.reset(np.ones(n, dtype=bool), crng.seed_to_key(np.arange(n)))
    rng = np.random.default_rng(3)
    checked = 0
    for step in range(25):
        done = batch.t >= cfg.horizon
        if step == 4:  # restart some users mid-episode: from here on users sit at different positions
            done |= np.arange(n) % 3 == 0
        if done.any():
            batch.reset(done, crng.seed_to_key(100 + step * n + np.flatnonzero(done)))
        before = batch.belief.copy()
        out = batch.step(rng.integers(0, cfg.n_actions, n))
        t = batch.t
        sv = tb["slates"][batch.slate_hist]
        full_f = m.future_belief_at(sv, batch.choice_hist, t)
        full_i = m.initial_belief(sv, batch.choice_hist, t)
        prev_f = m.future_belief_at(sv, batch.choice_hist, t - 1)
        np.testing.assert_allclose(batch.belief, full_f, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(batch.init_belief, full_i, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(before, prev_f, rtol=1e-10, atol=1e-13)
        cos_x = np.cos(THETA[out["choice_bin"]][:, None] - THETA[None, :])
        np.testing.assert_allclose(out["engagement_initial"], (full_i * cos_x).sum(1), rtol=1e-10, atol=1e-13)
        natural = np.einsum("nu,nuv->nv", full_i, m.natural_table[t - 1])
        np.testing.assert_allclose(out["engagement_natural"], (natural * cos_x).sum(1), rtol=1e-10, atol=1e-13)
        checked += n
    assert checked == 25 * n and len(set(batch.t.tolist())) > 1


def test_incremental_encoder_refuses_a_full_sequence():
    cfg = nw.NetworkConfig(horizon=2)
    enc = nw.IncrementalEncoder(_random_params(cfg), cfg, 3)
    for _ in range(3):
        enc.append(nw.start_tokens(3))
    with pytest.raises(ValueError, match="maximum of 3 tokens"):
        enc.append(nw.start_tokens(3))


# -- checkpoint validation -----------------------------------------------------------------------------------
def _rewrite(path, out, drop=(), change=None):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    if change:
        arrays.update(change(arrays))
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (
            lambda p, d: _rewrite(
                p, d / "nan.npz", change=lambda a: {"future/l0_qkv_w": a["future/l0_qkv_w"] * np.nan}
            ),
            r"'future/l0_qkv_w' contains \d+ NaN/inf",
        ),
        (lambda p, d: _rewrite(p, d / "inf.npz", change=lambda a: {"beta_c": a["beta_c"] + np.inf}), "'beta_c'.*NaN"),
        (lambda p, d: _rewrite(p, d / "nometa.npz", drop=("meta",)), "lacks the 'meta' record"),
        (lambda p, d: _rewrite(p, d / "noweight.npz", drop=("initial/head_w",)), "lacks the weight 'initial/head_w'"),
        (
            lambda p, d: _rewrite(p, d / "shape.npz", change=lambda a: {"future/pos": a["future/pos"][:3]}),
            "'future/pos' has shape",
        ),
        (lambda p, d: _rewrite(p, d / "badmeta.npz", change=lambda a: {"meta": np.array("{x")}), "not valid JSON"),
        (lambda p, d: _rewrite(p, d / "v1.npz", change=lambda a: {"meta": np.array('{"network": {}}')}), "format 1"),
        (lambda p, d: _truncate(p, d / "truncated.npz"), "not a readable .npz archive"),
        (lambda p, d: _text(d / "text.npz"), "not a readable .npz archive"),
        (lambda p, d: _npy(d / "single.npz"), "single .npy array"),
    ],
    ids=[
        "nan-weights",
        "inf-beta_c",
        "no-meta",
        "missing-weight",
        "bad-shape",
        "bad-json",
        "old-format",
        "truncated-zip",
        "text-file",
        "npy-file",
    ],
)
def test_corrupt_checkpoint_is_refused_naming_file_and_problem(tmp_path, make_bad, message):
    bad = make_bad(_random_checkpoint(tmp_path), tmp_path)
    with pytest.raises(ValueError, match=message) as err:
        nw.LearnedUserModel.load(bad)
    assert str(bad) in str(err.value)
    assert type(err.value).__name__ in ("ValueError", "_CheckpointError")
    with pytest.raises(ValueError, match="checkpoint"):  # and the env refuses it at make
        LearnedShiftConfig(checkpoint=str(bad))


def _truncate(path, out):
    out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return out


def _text(out):
    out.write_text("this is not a checkpoint\n")
    return out


def _npy(out):
    with open(out, "wb") as f:
        np.save(f, np.ones(3))
    return out


def test_early_stopping_keeps_the_best_validation_epoch():
    torch = pytest.importorskip("torch")
    from recsim_envs.preference.learned.transformer import TrainConfig, _Stage

    cfg = nw.NetworkConfig(horizon=2, d_model=8, d_ff=8)
    tcfg = TrainConfig(max_epochs=50, patience=3, batch_size=10, validation_fraction=0.2)
    stage = _Stage("toy", cfg, tcfg, torch.Generator().manual_seed(0), lambda msg: None)
    val_losses = iter([3.0, 2.0, 2.5, 2.1, 2.2, 1.0])  # best at epoch 2; epoch 6 is never reached
    snapshots = []

    def batch_loss(params, idx, gen):
        loss = (params["head_b"] ** 2).sum()
        if gen is None:  # the validation pass: record the weights it scores
            snapshots.append(params["head_b"].detach().clone())
            return torch.tensor(next(val_losses))
        return loss + 0.1 * params["head_b"].sum()  # keeps the weights moving every epoch

    report = stage.fit(50, batch_loss)
    assert report["epochs"] == 5 and report["best_epoch"] == 2 and report["best_val_loss"] == 2.0
    torch.testing.assert_close(stage.params["head_b"].detach(), snapshots[1])
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(dropout=1.0)
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=-1)


def test_algorithm2_incremental_rollout_equals_full_recompute(tmp_path):
    """Algorithm 2 runs P̂_c incrementally; the same particles re-run with full causal passes give the same beliefs."""
    from recsim_envs.utils import rng as crng

    m = nw.LearnedUserModel.load(_random_checkpoint(tmp_path, seed=4))
    b0 = np.random.default_rng(0).dirichlet(np.ones(N_BINS), 2)
    got = counterfactual_preferences(m, b0, 10, n_samples=3, rng=np.random.default_rng(1))
    rng = np.random.default_rng(1)  # replay the same draws with the whole-sequence forward pass
    u0 = crng.categorical(np.repeat(b0, 3, axis=0), rng.random(6))
    em = m.emission(flat_slate())
    choices = np.zeros((6, 10), dtype=np.int64)
    slate_vecs = np.broadcast_to(flat_slate(), (6, 10, N_BINS))
    ref = np.zeros((6, 11, N_BINS))
    for t in range(11):
        ref[:, t] = m.counterfactual_belief_at(THETA[u0], slate_vecs, choices, np.full(6, t))
        if t < 10:
            choices[:, t] = crng.categorical(ref[:, t] @ em, rng.random(6))
    np.testing.assert_allclose(got, ref.reshape(2, 3, 11, N_BINS).mean(axis=1), rtol=1e-10, atol=1e-14)


def test_torch_device_simulator_equals_numpy_simulator(tmp_path):
    """``device="cpu"`` runs the learned simulator's network in torch (re-running the causal encoder over each
    history, no key/value cache); every belief, choice and reward equals the NumPy runner's on the same users,
    with staggered restarts, and a device this machine lacks is refused by name."""
    from recsim_envs.preference.learned.core import LearnedUserBatch
    from recsim_envs.utils import rng as crng

    ckpt = str(_random_checkpoint(tmp_path, seed=7))
    batches = [LearnedUserBatch(LearnedShiftConfig(checkpoint=ckpt, device=dev), 30) for dev in (None, "cpu")]
    assert type(batches[0].encoders).__name__ == "IncrementalEncoder"
    assert type(batches[1].encoders).__name__ == "TorchEncoderStack"
    rng = np.random.default_rng(4)
    for b in batches:
        b.reset(np.ones(30, dtype=bool), crng.seed_to_key(np.arange(30)))
    for step in range(24):
        a = rng.integers(0, batches[0].cfg.n_actions, 30)
        outs = [b.step(a) for b in batches]
        np.testing.assert_array_equal(outs[0]["choice_bin"], outs[1]["choice_bin"])
        np.testing.assert_allclose(outs[0]["reward"], outs[1]["reward"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batches[0].belief, batches[1].belief, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batches[0].init_belief, batches[1].init_belief, rtol=1e-9, atol=1e-12)
        done = (batches[0].t >= batches[0].cfg.horizon) | (rng.random(30) < 0.1)
        for b in batches:
            b.reset(done, crng.seed_to_key(1000 + step * 30 + np.flatnonzero(done)))
    for bad in ("cuda:99", "tpu", 3):
        with pytest.raises(ValueError, match="device"):
            LearnedShiftConfig(checkpoint=ckpt, device=bad)
