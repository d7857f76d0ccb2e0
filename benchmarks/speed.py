"""PreferenceShift throughput in user-steps/s: single env, SyncVectorEnv, native vector env, bare NumPy ceiling.

Usage: ``python -m benchmarks.speed [--users 1 64 4096] [--seconds 2]``

The bare-NumPy loop is the same model step (choice draw, preference draw, the three engagement metrics, the
same counter-based random streams) written as straight array code with no env, spaces, observations or info
around it: the ceiling the native vector env is compared with.
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from recsim_envs.preference.core import PreferenceShiftConfig, draw_rows
from recsim_envs.preference.world import COS
from recsim_envs.utils import rng as crng

ENV_ID = "recsim_envs/PreferenceShift-v0"


def _timed(step_fn, n_users: int, seconds: float) -> float:
    """Run ``step_fn`` repeatedly for about ``seconds``; return user-steps per second."""
    step_fn()  # warm-up
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            step_fn()
        steps += 10
        el = time.perf_counter() - start
        if el >= seconds:
            return steps * n_users / el


def bench_single(seconds: float) -> float:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 6, 10_000)
    state = {"i": 0}

    def step():
        _, _, term, trunc, _ = env.step(int(actions[state["i"] % 10_000]))
        state["i"] += 1
        if term or trunc:
            env.reset()

    return _timed(step, 1, seconds)


def bench_sync(n: int, seconds: float) -> float:
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="sync")
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def step():
        env.step(rng.integers(0, 6, n))

    return _timed(step, n, seconds)


def bench_native(n: int, seconds: float) -> float:
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 6, (64, n))
    state = {"i": 0}

    def step():
        env.step(actions[state["i"] % 64])
        state["i"] += 1

    return _timed(step, n, seconds)


def bench_bare(n: int, seconds: float) -> float:
    """The model step as bare array code (same tables, draws and metrics; no spaces, obs or info): the ceiling."""
    cfg = PreferenceShiftConfig()
    tb = cfg.tables
    em_cdf, tr_cdf, exp_cos, nat, exp_nat = (
        tb["emission_cdf"],
        tb["transition_cdf"],
        tb["expected_cos"],
        tb["natural_cos"],
        tb["expected_natural_cos"],
    )
    weights = cfg.reward_weights()
    keys = crng.seed_to_key(np.arange(n))
    u0 = np.full(n, 13)
    actions = np.random.default_rng(0).integers(0, 6, (64, n))
    state = {"i": 0, "u": u0.copy()}

    def step():
        i, u = state["i"], state["u"]
        t = i % 10
        a = actions[i % 64]
        row = a * 36 + u
        x = draw_rows(em_cdf, row, crng.uniforms(keys, i, 0))
        nxt = draw_rows(tr_cdf, row, crng.uniforms(keys, i, 1))
        realised = np.stack([COS[u, x], COS[u0, x], nat[t, u0, x]], axis=1)
        _expected = (exp_cos[a, u, u], exp_cos[a, u, u0], exp_nat[t, a, u, u0])
        _reward = realised @ weights
        state["u"], state["i"] = nxt, i + 1

    return _timed(step, n, seconds)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, nargs="+", default=[1, 64, 4096])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args(argv)
    print(f"# PreferenceShift-v0 user-steps/s — {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print("| users | single env | SyncVectorEnv | native vector env | bare NumPy (ceiling) | native / bare |")
    print("|---|---|---|---|---|---|")
    single = bench_single(args.seconds)
    for n in args.users:
        sync = bench_sync(n, args.seconds) if n <= 64 else float("nan")
        native = bench_native(n, args.seconds)
        bare = bench_bare(n, args.seconds)
        single_s = f"{single:,.0f}" if n == 1 else "—"
        sync_s = f"{sync:,.0f}" if n <= 64 else "— (not run: one Python env object per user)"
        print(f"| {n} | {single_s} | {sync_s} | {native:,.0f} | {bare:,.0f} | {native / bare:.2f} |")


if __name__ == "__main__":
    main()
