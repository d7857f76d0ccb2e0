"""PreferenceShift model and oracle against independent computations (enumeration, loops, Monte-Carlo)."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recsim_envs  # noqa: F401
from recsim_envs.preference.calibration import calibration_report
from recsim_envs.preference.core import PreferenceShiftConfig, UserBatch, draw_rows
from recsim_envs.preference.model import beta_c_profile, choice_probabilities, preference_transition
from recsim_envs.preference.oracle import NHMMOracle
from recsim_envs.preference.world import (
    COS,
    N_BINS,
    THETA_DEG,
    action_slates,
    initial_preference_distribution,
    slate_distribution,
)
from recsim_envs.utils import rng as crng


def _angle_cos(a_deg, b_deg):
    return np.cos(np.deg2rad(a_deg - b_deg))


def test_slate_kernels_peak_at_mean_and_normalise():
    for kernel in ("clipped_normal", "von_mises"):
        for mu in (0.0, 130.0, 350.0):
            s = slate_distribution(mu, 60.0, kernel)
            assert s.shape == (N_BINS,) and np.isclose(s.sum(), 1.0)
            assert THETA_DEG[s.argmax()] == mu
            # symmetric around the mean
            k = int(mu // 10)
            np.testing.assert_allclose(s[(k + 3) % 36], s[(k - 3) % 36])
    narrow, wide = slate_distribution(90.0, 30.0), slate_distribution(90.0, 60.0)
    assert narrow.max() > wide.max()


def test_choice_and_transition_match_elementwise_definition():
    """Emission and transition tables against a direct per-element evaluation of App. H's formulas."""
    rng = np.random.default_rng(0)
    s = rng.dirichlet(np.ones(N_BINS))
    bc = rng.uniform(0.2, 4.0, N_BINS)
    beta_d, lam = 7.0, 0.8
    em = choice_probabilities(s, bc)
    tr = preference_transition(s, bc, beta_d, lam)
    b = s**3 / (s**3).sum()
    for u in (0, 13, 27):
        w = np.array([s[x] * np.exp(bc[u] * _angle_cos(10 * x, 10 * u)) for x in range(N_BINS)])
        np.testing.assert_allclose(em[u], w / w.sum(), rtol=1e-12)
        values = []
        for up in range(N_BINS):
            q = np.array([b[x] * np.exp(bc[up] * _angle_cos(10 * x, 10 * up)) for x in range(N_BINS)])
            q /= q.sum()
            values.append(
                sum(
                    q[x] * (lam * _angle_cos(10 * x, 10 * u) + (1 - lam) * _angle_cos(10 * x, 10 * up))
                    for x in range(36)
                )
            )
        p = np.exp(beta_d * np.array(values))
        np.testing.assert_allclose(tr[u], p / p.sum(), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    beta_c=st.lists(st.floats(0.0, 20.0), min_size=36, max_size=36),
    mu=st.floats(0.0, 359.9),
    sigma=st.floats(1.0, 360.0),
    beta_d=st.floats(0.0, 500.0),
    lam=st.floats(0.0, 1.0),
    kernel=st.sampled_from(["clipped_normal", "von_mises"]),
)
def test_probabilities_are_distributions(beta_c, mu, sigma, beta_d, lam, kernel):
    s = slate_distribution(mu, sigma, kernel)
    bc = np.array(beta_c)
    for table in (choice_probabilities(s, bc), preference_transition(s, bc, beta_d, lam)):
        assert np.all(np.isfinite(table))
        assert np.all(table >= 0) and np.all(table <= 1)
        np.testing.assert_allclose(table.sum(axis=-1), 1.0, atol=1e-12)


@pytest.fixture(scope="module")
def oracle():
    slates, _, _ = action_slates("six")
    return NHMMOracle(slates, beta_c_profile(), 50.0, 0.9, initial_preference_distribution())


def test_oracle_matches_brute_force_enumeration(oracle):
    """Filtering, choice prediction, smoothing and likelihood vs summing over all 36^(T+1) hidden paths (T=3)."""
    rng = np.random.default_rng(1)
    horizon = 3
    sl = rng.integers(0, 6, (3, horizon))
    ch = rng.integers(0, 36, (3, horizon))
    filt = oracle.filter(sl, ch)
    gamma = oracle.smooth(sl, ch)
    grid = np.indices((N_BINS,) * (horizon + 1))
    for i in range(sl.shape[0]):
        joint = oracle.prior[grid[0]].copy()
        for t in range(horizon):
            joint *= oracle.emission[sl[i, t]][grid[t], ch[i, t]] * oracle.transition[sl[i, t]][grid[t], grid[t + 1]]
        z = joint.sum()
        assert np.isclose(np.log(z), filt.log_likelihood[i], rtol=1e-12)
        for t in range(horizon + 1):
            axes = tuple(a for a in range(horizon + 1) if a != t)
            np.testing.assert_allclose(gamma[i, t], joint.sum(axis=axes) / z, atol=1e-12)
        # predictive belief over u_2 and the choice prediction for x_2 use only x_0, x_1
        partial = oracle.prior[grid[0]].copy()
        for t in range(2):
            partial *= oracle.emission[sl[i, t]][grid[t], ch[i, t]] * oracle.transition[sl[i, t]][grid[t], grid[t + 1]]
        p_u2 = partial.sum(axis=(0, 1, 3)) / partial.sum()
        np.testing.assert_allclose(filt.alpha[i, 2], p_u2, atol=1e-12)
        np.testing.assert_allclose(filt.choice_predictions[i, 2], p_u2 @ oracle.emission[sl[i, 2]], atol=1e-12)


def test_natural_shift_and_policy_prediction(oracle):
    rng = np.random.default_rng(2)
    b0 = rng.dirichlet(np.ones(N_BINS), size=2)
    nat = oracle.natural_shift(b0, 4)
    np.testing.assert_allclose(nat[:, 4], b0 @ np.linalg.matrix_power(oracle.transition_natural, 4), atol=1e-12)
    seq = np.array([1, 4, 4])
    pred = oracle.predict_under_policy(b0, seq)
    expect = b0 @ oracle.transition[1] @ oracle.transition[4] @ oracle.transition[4]
    np.testing.assert_allclose(pred[:, 3], expect, atol=1e-12)


def test_monte_carlo_matches_exact_propagation():
    """20,000 simulated users under a fixed slate sequence vs the oracle's exact distributions of u_t and x_t."""
    n = 20_000
    env = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=n, vectorization_mode="vector_entry_point")
    cfg = env.unwrapped.config if hasattr(env, "unwrapped") else env.config
    seq = [4, 4, 1, 0, 5]
    obs, info = env.reset(seed=123)
    exact = cfg.oracle.predict_under_policy(cfg.tables["prior"], np.array(seq))[0]
    emp0 = np.bincount(info["preference_bin"], minlength=36) / n
    assert 0.5 * np.abs(emp0 - exact[0]).sum() < 0.03
    for t, a in enumerate(seq):
        obs, r, term, trunc, info = env.step(np.full(n, a))
        choice_exact = exact[t] @ cfg.tables["emission"][a]
        emp_choice = np.bincount(info["choice_bin"], minlength=36) / n
        assert 0.5 * np.abs(emp_choice - choice_exact).sum() < 0.03, t
        emp_next = np.bincount(info["next_preference_bin"], minlength=36) / n
        assert 0.5 * np.abs(emp_next - exact[t + 1]).sum() < 0.03, t
        # expected (choice-marginalised) metrics are the conditional means of the realised ones
        for name in ("engagement", "engagement_initial", "engagement_natural"):
            se = info[name].std() / np.sqrt(n)
            assert abs(info[name].mean() - info["expected_" + name].mean()) < 4 * se + 1e-3, name


def test_engagement_natural_uses_the_flat_slate_expectation():
    env = gym.make("recsim_envs/PreferenceShift-v0")
    cfg = env.unwrapped.config
    obs, info = env.reset(seed=5)
    u0 = info["initial_preference_bin"]
    delta = np.eye(N_BINS)[u0]
    nat = cfg.oracle.natural_shift(delta, cfg.horizon)[0]
    for t in range(cfg.horizon):
        obs, r, term, trunc, info = env.step(t % 6)
        x = info["choice_bin"]
        expect = float(nat[t] @ np.cos(np.deg2rad(THETA_DEG - 10 * x)))
        assert np.isclose(info["engagement_natural"], expect, atol=1e-12)
        assert np.isclose(info["engagement_initial"], np.cos(np.deg2rad(10 * (x - u0))), atol=1e-12)


def test_reward_is_weighted_sum_of_named_components():
    env = gym.make("recsim_envs/PreferenceShift-v0", nu_initial=0.7, nu_natural=-0.3)
    env.reset(seed=0)
    for a in (0, 2, 4):
        _, r, _, _, info = env.step(a)
        c = info["rewards"]
        assert np.isclose(r, c["engagement"] + 0.7 * c["engagement_initial"] - 0.3 * c["engagement_natural"])
        np.testing.assert_allclose(info["objectives"], [c[k] for k in c], rtol=1e-6)


def test_oracle_beliefs_observation_equals_oracle_smoothing():
    env = gym.make("recsim_envs/PreferenceShiftOracle-v0")
    cfg = env.unwrapped.config
    obs, _ = env.reset(seed=9)
    slates, choices = [], []
    for a in (3, 4, 4):
        obs, _, _, _, info = env.step(a)
        slates.append(a)
        choices.append(info["choice_bin"])
    gamma = cfg.oracle.smooth(np.array([slates]), np.array([choices]))[0]
    beliefs = obs[73:].reshape(3, 36)
    np.testing.assert_allclose(beliefs[0], gamma[3], atol=1e-6)
    np.testing.assert_allclose(beliefs[1], gamma[0], atol=1e-6)
    np.testing.assert_allclose(
        beliefs[2], gamma[0] @ np.linalg.matrix_power(cfg.oracle.transition_natural, 3), atol=1e-6
    )


def test_calibrated_defaults_reproduce_design_properties():
    cfg = PreferenceShiftConfig()
    r = calibration_report(cfg.beta_d, cfg.beta_c_width)
    assert abs(((r.natural_mean_deg - 80.0 + 180) % 360) - 180) < 15  # natural shifts drift to the 80° mode
    assert r.natural_mass_near_80 > 0.6
    assert 240.0 <= r.best_constant_mean_deg <= 270.0 and r.manipulation_gain > 0.3
    weak = calibration_report(5.0, cfg.beta_c_width)
    assert weak.manipulation_gain < 0  # β_d far too small: no manipulation incentive


def test_vector_env_same_step_autoreset():
    n = 4
    env = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=n, vectorization_mode="vector_entry_point", horizon=2)
    obs, _ = env.reset(seed=0)
    env.step(np.zeros(n, dtype=int))
    obs, r, term, trunc, info = env.step(np.zeros(n, dtype=int))
    assert term.all() and info["_final_obs"].all()
    np.testing.assert_allclose(info["final_obs"][:, 72], 1.0)  # t/horizon at the end
    np.testing.assert_allclose(obs[:, 72], 0.0)  # already the next episode
    # the next episode continues each user's stream: equals a single env's second episode
    single = gym.make("recsim_envs/PreferenceShift-v0", horizon=2)
    single.reset(seed=2)
    single.step(0)
    single.step(0)
    _, info_single = single.reset()
    assert info["next_preference_bin"][2] == info_single["preference_bin"]


BAD_KWARGS = [
    ("horizon", 0),
    ("horizon", 2.5),
    ("flexibility", 1.5),
    ("flexibility", float("nan")),
    ("beta_d", -1.0),
    ("beta_c", "spiky"),
    ("beta_c", [1.0] * 35),
    ("beta_c", [float("nan")] * 36),
    ("beta_c_width", 0.0),
    ("initial_mean_deg", 360.0),
    ("initial_std_deg", 0.0),
    ("slate_std_deg", 0.5),
    ("slate_kernel", "box"),
    ("action_set", "seven"),
    ("obs_mode", "pixels"),
    ("nu_initial", float("inf")),
    ("nu_natural", "1"),
]


@pytest.mark.parametrize("name,value", BAD_KWARGS)
def test_bad_kwargs_raise_value_error_naming_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        gym.make("recsim_envs/PreferenceShift-v0", **{name: value})


@settings(max_examples=30, deadline=None)
@given(
    beta_d=st.one_of(st.floats(-10, 1e5), st.just(float("nan"))),
    flexibility=st.one_of(st.floats(-1, 2), st.just(float("nan"))),
    slate_std_deg=st.floats(-10, 400),
    action=st.one_of(st.integers(-5, 10), st.floats(-2, 8), st.text(max_size=2)),
)
def test_fuzzed_kwargs_and_actions_give_value_error_or_finite_output(beta_d, flexibility, slate_std_deg, action):
    try:
        env = gym.make(
            "recsim_envs/PreferenceShift-v0", beta_d=beta_d, flexibility=flexibility, slate_std_deg=slate_std_deg
        )
    except ValueError:
        return
    obs, _ = env.reset(seed=0)
    try:
        obs, r, *_rest, info = env.step(action)
    except ValueError:
        return
    assert np.all(np.isfinite(obs)) and np.isfinite(r)
    assert all(np.isfinite(v) for v in info["rewards"].values())


@pytest.mark.parametrize("action", [-1, 7, 2.5, "a", [1, 2], None])  # 6 is the flat slate (π_rnd)
def test_bad_actions_raise(action):
    env = gym.make("recsim_envs/PreferenceShift-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_enumeration_of_fine_action_set():
    slates, means, stds = action_slates("fine")
    assert slates.shape == (72, 36)
    for a in (0, 35, 36, 71):
        assert means[a] == 10 * (a % 36) and stds[a] == (30 if a < 36 else 60)
    assert list(itertools.islice(means, 3)) == [0.0, 10.0, 20.0]


def test_final_info_is_not_overwritten_by_autoreset():
    n = 64
    env = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=n, vectorization_mode="vector_entry_point", horizon=3)
    env.reset(seed=1)
    for _ in range(2):
        env.step(np.full(n, 4))
    _, _, term, _, info = env.step(np.full(n, 4))
    assert term.all()
    singles = [gym.make("recsim_envs/PreferenceShift-v0", horizon=3) for _ in range(3)]
    for i, e in enumerate(singles):
        e.reset(seed=1 + i)
        for _ in range(3):
            _, _, _, _, si = e.step(4)
        assert info["final_info"]["next_preference_bin"][i] == si["next_preference_bin"]
        assert info["final_info"]["choice_bin"][i] == si["choice_bin"]


def test_draw_rows_counts_cdf_entries_below_the_scaled_uniform():
    """The compiled inverse-CDF draw against the gathered NumPy count it replaced, on the env's tables and on a
    hand-made row with a zero-mass tail, including uniforms 0 and just below 1."""
    tb = PreferenceShiftConfig(action_set="fine").tables
    rng = np.random.default_rng(11)
    for table in (tb["emission_cdf"], tb["transition_cdf"], np.cumsum([[0.5, 0.5] + [0.0] * 34], axis=1)):
        rows = rng.integers(0, table.shape[0], 5000)
        u = rng.random(5000)
        u[:50], u[50:100] = 0.0, np.nextafter(1.0, 0.0)
        gathered = table[rows]
        expected = np.minimum((gathered <= (u * gathered[:, -1])[:, None]).sum(axis=1), 35)
        np.testing.assert_array_equal(draw_rows(table, rows, u), expected)
    # the zero-mass tail is never drawn: u just below 1 lands in bin 1, u = 0 in bin 0
    assert draw_rows(table, np.zeros(2, dtype=np.int64), np.array([0.0, np.nextafter(1.0, 0.0)])).tolist() == [0, 1]


@pytest.mark.parametrize("kwargs", [dict(obs_mode="oracle_beliefs"), dict(action_set="fine", horizon=45)])
def test_compiled_response_matches_numpy_reference(kwargs):
    """The one-pass compiled response of UserBatch (both draws and the six engagements) against the NumPy code it
    replaced (counter-based uniforms, draw_rows, table gathers), on random states: with the tabulated expected
    natural engagement, and without it (fine slates, horizon 45: the table would exceed EXPNAT_MAX_ENTRIES)."""
    cfg = PreferenceShiftConfig(**kwargs)
    tb = cfg.tables
    assert ("expected_natural_cos" in tb) == (kwargs.get("action_set") != "fine")
    n = 500
    rng = np.random.default_rng(3)
    b = UserBatch(cfg, n)
    b.keys = crng.seed_to_key(rng.integers(0, 10**9, n))
    b.u, b.u0 = rng.integers(0, N_BINS, n), rng.integers(0, N_BINS, n)
    t, a = rng.integers(0, cfg.horizon, n), rng.integers(0, cfg.n_actions, n)
    choice, objectives, before, after = b._respond(a, t)
    u, u0, row = b.u, b.u0, a * N_BINS + b.u
    want_choice = draw_rows(tb["emission_cdf"], row, crng.uniforms(b.keys, t, 0))
    np.testing.assert_array_equal(choice, want_choice)
    want_next = draw_rows(tb["transition_cdf"], row, crng.uniforms(b.keys, t, 1))
    np.testing.assert_array_equal(before["next_preference_bin"], want_next)
    np.testing.assert_array_equal(
        objectives, np.stack([COS[u, want_choice], COS[u0, want_choice], tb["natural_cos"][t, u0, want_choice]], axis=1)
    )
    np.testing.assert_array_equal(after["expected_engagement"], tb["expected_cos"][a, u, u])
    np.testing.assert_array_equal(after["expected_engagement_initial"], tb["expected_cos"][a, u, u0])
    expnat = np.einsum("nx,nx->n", tb["emission"][a, u], tb["natural_cos"][t, u0])
    np.testing.assert_allclose(after["expected_engagement_natural"], expnat, rtol=0, atol=1e-12)
    with pytest.raises(IndexError, match="horizon"):
        b._respond(a, np.full(n, cfg.horizon + 1))


@pytest.mark.parametrize("obs_mode", ["history", "oracle_beliefs"])
def test_compiled_observations_match_numpy_reference(obs_mode):
    """The compiled observation block against the gather it replaced: the (last slate, last choice) row of
    obs_pairs, t / horizon, the flattened beliefs, all float32 (bit for bit), and a fresh array on every call."""
    cfg = PreferenceShiftConfig(obs_mode=obs_mode)
    n = 300
    rng = np.random.default_rng(8)
    b = UserBatch(cfg, n)
    b.reset(np.ones(n, dtype=bool), crng.seed_to_key(np.arange(n)))
    for _ in range(4):
        b.step(rng.integers(0, cfg.n_actions, n))
    b.last_slate[:7], b.last_choice[:7] = -1, -1  # users before their first step
    want = np.take(cfg.tables["obs_pairs"], (b.last_slate + 1) * (N_BINS + 1) + b.last_choice + 1, axis=0)
    want[:, 2 * N_BINS] = b.t / cfg.horizon
    if b.beliefs is not None:
        want[:, 2 * N_BINS + 1 :] = b.beliefs.reshape(n, 3 * N_BINS)
    got = b.observations()
    assert got.dtype == np.float32 and got.shape == (n, cfg.obs_dim)
    np.testing.assert_array_equal(got, want)
    assert not np.shares_memory(got, b.observations())
