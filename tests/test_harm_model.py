"""Harm-exposure model: click models vs enumeration, fixed points, IFT gradient vs finite differences and vs
autograd through an unrolled fixed point (Chee et al. 2024; docs/models/harm.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim_envs.harm.model import (
    HarmParams,
    ItemClickModel,
    SamplingClickModel,
    SetClickModel,
    StationaryProfileError,
    attraction_map,
    evaluate,
    objective_gradient,
    organic_choice,
    scores,
    stationary_profile,
)


def _toy(m=3, n=7, d=4, seed=0):
    rng = np.random.default_rng(seed)
    V = rng.normal(0, 0.6, (n, d))
    U0 = rng.normal(0, 0.6, (m, d)) + 0.4
    harmful = np.zeros(n, bool)
    harmful[[1, 4]] = True
    return rng, V, U0, harmful


def _enumerate_sampling(q, s, c):
    """Exact E over all 2^n independent sets: click probabilities r [m, n] and organic probability o [m]."""
    m, n = s.shape
    r, o = np.zeros((m, n)), np.zeros(m)
    for bits in itertools.product([0, 1], repeat=n):
        b = np.array(bits, bool)
        w = np.prod(np.where(b, q, 1 - q), axis=1)
        sE = (s * b).sum(1)
        r += w[:, None] * b * s / (sE + c)[:, None]
        o += w * c / (sE + c)
    return r, o


def test_sampling_click_model_matches_enumeration_including_q_at_bounds():
    rng, V, U0, harmful = _toy()
    s = scores(U0, V)
    q = rng.uniform(0, 1, s.shape)
    q[:, 0], q[:, 1], q[:, 2] = 1.0, 0.0, 1.0  # certain and impossible items
    for c in (0.5, 2.0, 20.0):
        cm = SamplingClickModel(c, 3).clicks(q, s)
        r, o = _enumerate_sampling(q, s, c)
        np.testing.assert_allclose(cm.r, r, atol=1e-10)
        np.testing.assert_allclose(cm.o, o, atol=1e-10)


def test_set_policy_matches_direct_definition_and_item_policy():
    rng, V, U0, harmful = _toy()
    m, n = U0.shape[0], V.shape[0]
    s = scores(U0, V)
    sig = organic_choice(s)
    sets = np.stack([rng.permutation(n)[:3] for _ in range(m * 5)]).reshape(m, 5, 3)
    pi = rng.dirichlet(np.ones(5), m)
    c = 1.5
    # p(v | E) = 1[v∈E] s_v/(s_E + c) + c/(s_E + c) σ_v, averaged over E ~ π (docs/models/harm.md), one set at a time
    p_direct = np.zeros((m, n))
    for i in range(m):
        for j in range(5):
            mask = np.zeros(n, bool)
            mask[sets[i, j]] = True
            sE = s[i, mask].sum()
            p_direct[i] += pi[i, j] * (mask * s[i] / (sE + c) + c / (sE + c) * sig[i])
    met = evaluate(SetClickModel(c, sets, n), pi, U0, V, harmful, lam=2.0)
    np.testing.assert_allclose(met.p, p_direct, atol=1e-13)
    # singleton sets = the item policy
    pi_items = rng.dirichlet(np.ones(n), m)
    singles = np.broadcast_to(np.arange(n)[None, :, None], (m, n, 1))
    a = evaluate(SetClickModel(c, singles, n), pi_items, U0, V, harmful, 2.0)
    b = evaluate(ItemClickModel(c), pi_items, U0, V, harmful, 2.0)
    np.testing.assert_allclose(a.p, b.p, atol=1e-14)
    np.testing.assert_allclose(a.f, b.f, atol=1e-13)


def test_harm_equals_paper_form_when_no_harmful_item_is_recommended():
    rng, V, U0, harmful = _toy()
    pi = rng.dirichlet(np.ones(V.shape[0]), U0.shape[0])
    pi[:, harmful] = 0
    pi /= pi.sum(1, keepdims=True)
    met = evaluate(ItemClickModel(3.0), pi, U0, V, harmful, lam=5.0)
    sig_h = organic_choice(scores(U0, V))[:, harmful].sum(1)
    np.testing.assert_allclose(met.ph, sig_h * (1 - met.pclk), rtol=1e-12)  # pH = (s_H/s_Ω)(1 − pCLK)
    np.testing.assert_allclose(met.f, met.pclk - 5.0 * met.ph)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(0.01, 100.0), cls=st.sampled_from(["item", "sampling"]))
def test_consumption_is_a_distribution(seed, c, cls):
    rng, V, U0, harmful = _toy(seed=seed)
    V = V * rng.uniform(0.1, 4.0)  # wide score ranges
    if cls == "item":
        pol, theta = ItemClickModel(c), rng.dirichlet(np.ones(V.shape[0]) * 0.3, U0.shape[0])
    else:
        pol, theta = SamplingClickModel(c, 3), rng.uniform(0, 1, (U0.shape[0], V.shape[0])) ** 2
    met = evaluate(pol, theta, U0, V, harmful, lam=1.0)
    assert np.all(np.isfinite(met.p)) and np.all(met.p >= -1e-12) and np.all(met.p <= 1 + 1e-12)
    np.testing.assert_allclose(met.p.sum(1), 1.0, atol=1e-9)
    assert np.all((met.pclk >= -1e-12) & (met.pclk <= 1 + 1e-12) & (met.ph >= -1e-12) & (met.ph <= 1 + 1e-12))


@pytest.mark.parametrize("method", ["newton", "picard"])
def test_fixed_point_is_fixed_and_stable(method):
    rng, V, U0, harmful = _toy(m=5)
    params = HarmParams(lam=3.0)
    pi = rng.dirichlet(np.ones(V.shape[0]), 5)
    sp = stationary_profile(ItemClickModel(2.0), pi, U0, V, harmful, params, tol=1e-12, method=method, max_iter=500)
    p = evaluate(ItemClickModel(2.0), pi, sp.U, V, harmful, 3.0).p
    F = attraction_map(p, U0, V, params.alphas(harmful), params.beta)
    assert np.abs(F - sp.U).max() <= 1e-12
    assert sp.ok and np.all(sp.converged) and np.all(sp.residual <= 1e-12)
    assert np.all((sp.spectral_radius > 0) & (sp.spectral_radius < 1)) and np.all(sp.iterations >= 1)
    assert not np.allclose(sp.U, U0)  # the profile moved toward the consumed items


def test_newton_and_picard_agree_and_newton_needs_fewer_iterations():
    rng, V, U0, harmful = _toy(m=4)
    params = HarmParams(lam=3.0, alpha_harmful=0.7, alpha_benign=0.2, beta=0.05)
    pi = rng.dirichlet(np.ones(V.shape[0]), 4)
    a = stationary_profile(ItemClickModel(2.0), pi, U0, V, harmful, params, tol=1e-12, method="newton")
    b = stationary_profile(ItemClickModel(2.0), pi, U0, V, harmful, params, tol=1e-12, method="picard", max_iter=2000)
    np.testing.assert_allclose(a.U, b.U, atol=1e-10)
    assert a.iterations.max() < b.iterations.min()


def test_non_convergence_is_reported_and_strict_raises():
    rng, V, U0, harmful = _toy()
    params = HarmParams(alpha_harmful=0.8, alpha_benign=0.8, beta=0.01)
    pi = rng.dirichlet(np.ones(V.shape[0]), U0.shape[0])
    sp = stationary_profile(ItemClickModel(1.0), pi, U0, V, harmful, params, method="picard", max_iter=2, tol=1e-12)
    assert not sp.ok and not sp.converged.any() and np.all(sp.residual > 1e-12)
    with pytest.raises(StationaryProfileError, match="residual"):
        stationary_profile(ItemClickModel(1.0), pi, U0, V, harmful, params, method="picard", max_iter=2, strict=True)


def test_static_preferences_fixed_point_is_u0():
    rng, V, U0, harmful = _toy()
    params = HarmParams(alpha_harmful=0.0, alpha_benign=0.0, beta=0.3)
    pi = rng.dirichlet(np.ones(V.shape[0]), U0.shape[0])
    sp = stationary_profile(ItemClickModel(1.0), pi, U0, V, harmful, params)
    np.testing.assert_allclose(sp.U, U0, atol=1e-14)
    assert np.all(sp.spectral_radius < 1e-12)


def _policies(rng, m, n):
    sets = np.stack([rng.permutation(n)[:2] for _ in range(m * 4)]).reshape(m, 4, 2)
    q = rng.uniform(0.05, 0.95, (m, n))
    return [
        ("item", ItemClickModel(2.0), rng.dirichlet(np.ones(n), m)),
        ("set", SetClickModel(2.0, sets, n), rng.dirichlet(np.ones(4), m)),
        ("sampling", SamplingClickModel(2.0, 3), q),
    ]


@pytest.mark.parametrize("which", ["item", "set", "sampling"])
def test_ift_gradient_matches_finite_differences(which):
    rng, V, U0, harmful = _toy()
    params = HarmParams(lam=3.0)
    name, pol, theta = next(p for p in _policies(rng, U0.shape[0], V.shape[0]) if p[0] == which)
    sp = stationary_profile(pol, theta, U0, V, harmful, params, tol=1e-14)
    g = objective_gradient(pol, theta, sp, U0, V, harmful, params)
    eps = 1e-6
    fd = np.zeros_like(theta)
    for j in range(theta.shape[1]):  # central differences of f(θ, ū(θ)), one coordinate at a time
        tp, tm = theta.copy(), theta.copy()
        tp[:, j] += eps
        tm[:, j] -= eps
        fp = stationary_profile(pol, tp, U0, V, harmful, params, tol=1e-14).metrics.f
        fm = stationary_profile(pol, tm, U0, V, harmful, params, tol=1e-14).metrics.f
        fd[:, j] = (fp - fm) / (2 * eps)
    assert np.abs(fd).max() > 0.1  # the check is not vacuous
    np.testing.assert_allclose(g, fd, atol=1e-7 * max(1.0, np.abs(fd).max()))
    # and the IFT part matters: the gradient at a frozen profile is different
    static = pol.vjp_theta(
        theta, scores(sp.U, V), -3.0 * harmful[None, :].astype(float), _static_zo(pol, sp, V, harmful)
    )
    assert np.abs(static - g).max() > 1e-3


def _static_zo(pol, sp, V, harmful):
    sig_h = organic_choice(scores(sp.U, V))[:, harmful].sum(1)
    return -1.0 - 3.0 * sig_h


@pytest.mark.parametrize("cls", ["item", "sampling"])
def test_ift_gradient_matches_autograd_through_unrolled_fixed_point(cls):
    torch = pytest.importorskip("torch")
    from recsim_envs.harm.torch_model import TorchHarmModel

    rng, V, U0, harmful = _toy()
    params = HarmParams(lam=3.0)
    m, n = U0.shape[0], V.shape[0]
    if cls == "item":
        pol, theta = ItemClickModel(2.0), rng.dirichlet(np.ones(n), m)
    else:
        pol, theta = SamplingClickModel(2.0, 3), rng.uniform(0.05, 0.95, (m, n))
    sp = stationary_profile(pol, theta, U0, V, harmful, params, tol=1e-14)
    g = objective_gradient(pol, theta, sp, U0, V, harmful, params)
    tm = TorchHarmModel(V, harmful, U0, 2.0, 3.0, 0.5, 0.25, 0.2, cls, device="cpu")
    assert float(sp.spectral_radius.max()) < 0.5  # so 80 unrolled steps contract the error below 1e-24
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared machine
    try:
        th = torch.tensor(theta, requires_grad=True)
        f = tm.unrolled_objective(th, n_steps=80)  # plain autograd through 80 applications of F
        (g_unrolled,) = torch.autograd.grad(f.sum(), th)
        # the torch twin's own adjoint IFT gradient
        U, _, res = tm.stationary_profile(torch.tensor(theta), tol=1e-13)
        g_twin = tm.ift_gradient(torch.tensor(theta), U).numpy()
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(f.detach().numpy(), sp.metrics.f, atol=1e-9)
    np.testing.assert_allclose(g_unrolled.numpy(), g, atol=1e-8)
    assert float(res.max()) <= 1e-13
    np.testing.assert_allclose(g_twin, g, atol=1e-8)


def test_gradient_memory_is_linear_in_items():
    """Large catalogue, two users: the adjoint form works with [m, n, d] arrays; an n × n array would take 3.2 GB
    here. Peak traced allocation (numpy reports to tracemalloc) must stay far below that."""
    import tracemalloc

    rng = np.random.default_rng(3)
    n, d = 20_000, 12
    V = rng.normal(0, 0.3, (n, d))
    U0 = rng.normal(0, 0.3, (2, d))
    harmful = rng.random(n) < 0.2
    pi = rng.dirichlet(np.ones(n), 2)
    params = HarmParams()
    tracemalloc.start()
    try:
        sp = stationary_profile(ItemClickModel(6.0), pi, U0, V, harmful, params)
        g = objective_gradient(ItemClickModel(6.0), pi, sp, U0, V, harmful, params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert g.shape == (2, n) and np.all(np.isfinite(g))
    per_mnd = 2 * n * d * 8  # bytes of one [m, n, d] float64 array
    assert peak < 50 * per_mnd, (peak, per_mnd)  # 192 MB; n × n float64 is 3.2 GB


def test_compiled_scores_match_numpy_exp_including_clipping():
    """``scores`` (compiled polynomial exp for 2-D float64 inputs) against numpy.exp(min(U Vᵀ, 700)) on exponents
    from −800 (underflow) to beyond the 700 clip; float32 inputs keep the NumPy path."""
    from recsim_envs.harm.linalg import exp_scores

    rng = np.random.default_rng(3)
    U = rng.normal(size=(40, 6)) * rng.choice([0.1, 1.0, 10.0], size=(40, 1))
    V = rng.normal(size=(30, 6))
    U[0], V[0] = 20.0, 20.0  # ⟨u, v⟩ = 2400: clipped at 700
    x = U @ V.T
    ref = np.exp(np.minimum(x, 700.0))
    got = scores(U, V)
    big = ref > 1e-290
    np.testing.assert_allclose(got[big], ref[big], rtol=1e-15 * (1 + np.abs(x[big]).max()))
    assert np.all(got[~big] < 1e-280) and np.all(got >= 0.0)
    assert got[0, 0] == pytest.approx(np.exp(700.0), rel=1e-14)
    np.testing.assert_array_equal(exp_scores(U, V), got)
    assert scores(U.astype(np.float32), V.astype(np.float32)).dtype == np.float32
