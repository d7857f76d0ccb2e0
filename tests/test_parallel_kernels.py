"""The per-user compiled kernels split over numba's threads (``recsim_envs.utils.kernels.run_chunked``): the
parallel path gives the serial path's numbers, the learned encoder's parallel attention matches the full causal
pass, and a process that forks after a parallel kernel ran keeps working (GNU OpenMP would terminate it)."""

from __future__ import annotations

import multiprocessing

import numba
import numpy as np
import pytest

from recsim_envs.preference import oracle
from recsim_envs.preference.core import PreferenceShiftConfig, UserBatch
from recsim_envs.preference.learned import network as nw
from recsim_envs.utils import kernels
from recsim_envs.utils import rng as crng


@pytest.fixture
def parallel_path(monkeypatch):
    """Take the chunked parallel kernels whatever the machine's thread count: ``run_chunked`` uses them only when
    numba has more than one thread, and ``prange`` runs the same chunks on however many threads exist (one on a
    single-core machine), so the parallel code path is tested everywhere."""
    monkeypatch.setattr(kernels, "get_num_threads", lambda: max(2, numba.get_num_threads()))


def _oracle_run(n: int, steps: int, seed: int = 0) -> np.ndarray:
    """Beliefs after each of ``steps`` random steps for ``n`` users with staggered restarts: [steps, n, 3, 36]."""
    cfg = PreferenceShiftConfig(obs_mode="oracle_beliefs")
    rng = np.random.default_rng(seed)
    b = UserBatch(cfg, n)
    keys = crng.seed_to_key(np.arange(n))
    b.reset(np.ones(n, dtype=bool), keys)
    out = []
    for _ in range(steps):
        b.step(rng.integers(0, cfg.n_actions, n))
        out.append(b.oracle_beliefs())
        restart = (b.t >= cfg.horizon) | (rng.random(n) < 0.1)
        keys = np.where(restart, crng.next_key(keys), keys)
        b.reset(restart, keys[restart])
    return np.stack(out)


@pytest.mark.parametrize("kernel,grouped_from", [("_backward_parallel", 1), ("_rowwise_parallel", 10**9)])
def test_oracle_parallel_kernel_equals_serial(monkeypatch, parallel_path, kernel, grouped_from):
    """Both forms of the backward rule: users' products grouped by matrix, and one user at a time."""
    calls = []
    real = getattr(oracle, kernel)

    def spy(*args):
        calls.append(args[0].shape[0])
        return real(*args)

    monkeypatch.setattr(oracle, kernel, spy)
    monkeypatch.setattr(oracle, "ORACLE_GROUPED_FROM", grouped_from)
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM", 1)
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM_FEW_THREADS", 1)
    parallel = _oracle_run(300, 14)
    assert calls and max(calls) == 300  # the threaded kernel really ran
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM", 10**9)
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM_FEW_THREADS", 10**9)
    serial = _oracle_run(300, 14)
    np.testing.assert_allclose(parallel, serial, rtol=0, atol=1e-13)


def test_learned_parallel_attention_matches_full_causal_pass(monkeypatch, parallel_path):
    """Sequences at different positions (restarted at different steps), every token's heads against
    ``network.forward`` on that sequence's whole token history."""
    monkeypatch.setattr(nw.IncrementalEncoder, "PARALLEL_FROM", 1)
    cfg = nw.NetworkConfig(horizon=6)
    rng = np.random.default_rng(2)
    params = {k: rng.normal(0, 0.3, s) for k, s in nw.parameter_shapes(cfg).items()}
    n = 70  # three chunks of kernels.CHUNK users, the last one partial
    assert n > 2 * kernels.CHUNK
    enc = nw.IncrementalEncoder(params, cfg, n)
    history = [[] for _ in range(n)]
    allowed = nw.attention_allowed(cfg.horizon)
    worst = 0.0
    for step in range(15):
        restart = np.flatnonzero((enc.pos > cfg.horizon) | (rng.random(n) < 0.15) | (step == 0))
        enc.restart(restart)
        for i in restart:
            history[i] = []
        tokens = nw.step_tokens(rng.dirichlet(np.ones(36), n), rng.integers(0, 36, n))
        tokens[restart] = nw.start_tokens(restart.size)
        heads = enc.append(tokens)
        for i in range(n):
            history[i].append(tokens[i])
            seq = np.array(history[i])[None]
            full = nw.forward(params, cfg, seq, allowed[: seq.shape[1], : seq.shape[1]])[0, -1]
            worst = max(worst, float(np.abs(heads[i] - full).max() / (1.0 + np.abs(full).max())))
    assert len(set(enc.pos.tolist())) > 1
    assert worst <= 1e-10


def _child(n: int) -> float:
    return float(_oracle_run(n, 3).sum())


def test_fork_after_parallel_kernel(monkeypatch, parallel_path):
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM", 1)
    monkeypatch.setattr(oracle, "ORACLE_PARALLEL_FROM_FEW_THREADS", 1)
    here = _child(200)  # runs the threaded kernel in this process first
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.map_async(_child, [200]).get(timeout=120)[0]  # (a terminated child would hang map)
    assert there == here


def test_learned_encoder_stack_equals_each_estimator_alone(monkeypatch, parallel_path):
    """A stack of two estimators stepped in one threaded pass (work items spread over estimators and blocks of
    users, with the beliefs read out in the same pass) against each estimator alone on one thread, and its
    beliefs against ``mixture_bin_probs`` of its heads; users restart at different steps."""
    cfg = nw.NetworkConfig(horizon=5)
    rng = np.random.default_rng(5)
    params = [{k: rng.normal(0, 0.3, s) for k, s in nw.parameter_shapes(cfg).items()} for _ in range(2)]
    n = 90
    stack = nw.IncrementalEncoder(params, cfg, n)
    alone = [nw.IncrementalEncoder(p, cfg, n) for p in params]
    slates = rng.dirichlet(np.ones(36), 4)
    rows = stack.slate_embedding(slates)  # [2, 4, d]
    for step in range(12):
        restart = np.flatnonzero((stack.pos > cfg.horizon) | (rng.random(n) < 0.2) | (step == 0))
        for enc in (stack, *alone):
            enc.restart(restart)
        a, c = rng.integers(0, 4, n), rng.integers(0, 36, n)
        hidden = np.stack([np.zeros(n, dtype=bool), rng.random(n) < 0.3])
        tokens = [nw.step_tokens(slates[a], c, h) for h in hidden]
        for t in tokens:
            t[restart] = nw.start_tokens(restart.size)
        x = stack.embed_steps(rows[:, a], c, hidden)
        x[:, restart] = stack.embed(nw.start_tokens(restart.size))
        monkeypatch.setattr(nw.IncrementalEncoder, "PARALLEL_FROM", 1)
        heads, beliefs = stack.append_embedded(x, beliefs=True)
        monkeypatch.setattr(nw.IncrementalEncoder, "PARALLEL_FROM", 10**9)
        for e in range(2):
            ref = alone[e].append(tokens[e])
            np.testing.assert_allclose(heads[e], ref, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(beliefs[e], nw.mixture_bin_probs(ref, cfg.n_components), rtol=1e-9, atol=1e-13)
    assert len(set(stack.pos.tolist())) > 1


def test_learned_simulator_threaded_equals_serial(monkeypatch, parallel_path, tmp_path):
    """The learned simulator's step (network stack and the compiled scoring passes) on numba's threads gives the
    one-thread numbers: every info entry over 14 steps with staggered restarts."""
    from recsim_envs.preference.learned import core as learned_core
    from recsim_envs.preference.learned.core import LearnedShiftConfig, LearnedUserBatch

    calls = []
    for name in ("_scored_parallel", "_chosen_parallel"):
        real = getattr(learned_core, name)
        monkeypatch.setattr(learned_core, name, lambda *a, _real=real: calls.append(1) or _real(*a))
    cfg = nw.NetworkConfig()
    rng = np.random.default_rng(8)
    params = {name: {k: rng.normal(0, 0.3, s) for k, s in nw.parameter_shapes(cfg).items()} for name in nw.ESTIMATORS}
    table = rng.dirichlet(np.ones(36), (cfg.horizon + 1, 36))
    model = nw.LearnedUserModel(cfg, params, PreferenceShiftConfig().tables["beta_c"], table)
    ckpt = str(model.save(tmp_path / "m.npz"))

    def run(threshold: int) -> list[dict]:
        monkeypatch.setattr(nw.IncrementalEncoder, "PARALLEL_FROM", threshold)
        monkeypatch.setattr(LearnedUserBatch, "PARALLEL_FROM", threshold)
        b = LearnedUserBatch(LearnedShiftConfig(checkpoint=ckpt), 100)
        steps = np.random.default_rng(1)
        keys = crng.seed_to_key(np.arange(100))
        b.reset(np.ones(100, dtype=bool), keys)
        outs = []
        for _ in range(14):
            outs.append(b.step(steps.integers(0, b.cfg.n_actions, 100)))
            restart = (b.t >= b.cfg.horizon) | (steps.random(100) < 0.1)
            keys = np.where(restart, crng.next_key(keys), keys)
            b.reset(restart, keys[restart])
        return outs

    threaded = run(1)
    assert len(calls) == 2 * 14  # the threaded scoring kernels really ran
    serial = run(10**9)
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a["choice_bin"], b["choice_bin"])
        for key in ("reward", "expected_engagement", "belief_mean_deg", "initial_belief_mean_deg", "objectives"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-12)
