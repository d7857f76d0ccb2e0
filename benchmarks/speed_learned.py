"""PreferenceShiftLearned throughput (user-steps/s): the cached (incremental) simulator vs the full recompute.

Usage: ``python -m benchmarks.speed_learned [--users 32 1024] [--seconds 3]``

Figures are user-steps per second of wall time and per CPU second of the process (the CPU figure is what to
compare on a shared machine; run with ``OPENBLAS_NUM_THREADS=1`` there, since BLAS threads that spin-wait on a
busy machine inflate both). Rows, measured in the same process:

- ``native vector env``: ``gym.make_vec("recsim_envs/PreferenceShiftLearned-v0", vectorization_mode=
  "vector_entry_point")`` stepping random "six" actions — the simulator as shipped, which runs each estimator
  incrementally (one token per step, earlier keys and values cached);
- ``full recompute (previous algorithm)``: the same users stepped the way the simulator did before the cache —
  every step the future and initial-preference estimators re-run over the whole history (T + 1 tokens, causal
  passes of ``LearnedUserModel.future_belief_at`` / ``initial_belief``), choices and rewards as in the env.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from recsim_envs.preference.learned.core import LearnedShiftConfig, mean_angle_deg
from recsim_envs.preference.world import COS, N_BINS
from recsim_envs.utils import rng as crng

ENV_ID = "recsim_envs/PreferenceShiftLearned-v0"


def _timed(step_fn, n_users: int, seconds: float) -> tuple[float, float]:
    """Run ``step_fn`` for about ``seconds`` of wall time; user-steps per wall second and per CPU second of this
    process (the CPU figure is the contention-robust one on a shared machine; it counts every thread)."""
    step_fn()  # warm-up
    steps, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        step_fn()
        steps += 1
        wall = time.perf_counter() - wall0
        if wall >= seconds:
            return steps * n_users / wall, steps * n_users / max(time.process_time() - cpu0, 1e-9)


def bench_native(n: int, seconds: float, checkpoint: str | None = None) -> tuple[float, float]:
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", checkpoint=checkpoint)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    out = _timed(lambda: env.step(rng.integers(0, 6, n)), n, seconds)
    env.close()
    return out


class FullRecomputeUsers:
    """The simulator's step without the cache: both estimators re-run over the whole history every step."""

    def __init__(self, n: int, checkpoint: str | None = None):
        self.cfg = LearnedShiftConfig(checkpoint=checkpoint)
        self.model, self.tb, self.n = self.cfg.model, self.cfg.tables, n
        h = self.model.horizon
        self.keys = crng.seed_to_key(np.arange(n))
        self.t = np.zeros(n, dtype=np.int64)
        self.slate_vecs = np.zeros((n, h, N_BINS))
        self.choices = np.zeros((n, h), dtype=np.int64)
        self.belief = np.broadcast_to(self.tb["prior"], (n, N_BINS)).copy()
        self.emission = self.model.emission(self.tb["slates"])  # [A, u, x]

    def step(self, a: np.ndarray) -> np.ndarray:
        m, tb, t, rows = self.model, self.tb, self.t, np.arange(self.n)
        em = self.emission[a]
        q = np.einsum("nu,nux->nx", self.belief, em)
        choice = crng.categorical(q, crng.uniforms(self.keys, t, 0))
        cos_x = COS[:, choice].T
        post = self.belief * em[rows, :, choice]
        post /= post.sum(axis=1, keepdims=True)
        self.slate_vecs[rows, t] = tb["slates"][a]
        self.choices[rows, t] = choice
        new_t = t + 1
        init = m.initial_belief(self.slate_vecs, self.choices, new_t)  # full pass over the history
        natural = m.natural_shift(init, t)
        reward = (post * cos_x).sum(1) + (init * cos_x).sum(1) + (natural * cos_x).sum(1)
        mean_angle_deg(self.belief)
        self.belief = m.future_belief_at(self.slate_vecs, self.choices, new_t)  # full pass over the history
        self.t = new_t % self.model.horizon
        done = self.t == 0
        if done.any():
            self.slate_vecs[done] = 0.0
            self.choices[done] = 0
            self.belief[done] = tb["prior"]
        return reward


def bench_full_recompute(n: int, seconds: float, checkpoint: str | None = None) -> tuple[float, float]:
    users = FullRecomputeUsers(n, checkpoint)
    rng = np.random.default_rng(0)
    return _timed(lambda: users.step(rng.integers(0, 6, n)), n, seconds)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs="*", default=[32, 1024])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--checkpoint", default=None, help="learned-model checkpoint (default: the shipped one)")
    args = p.parse_args(argv)
    threads = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {threads}")
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    rows = {}
    print(
        "| users | cached (native vector env): wall / CPU | full recompute (previous): wall / CPU | ratio wall / CPU |"
    )
    print("|---|---|---|---|")
    for n in args.users:
        new = bench_native(n, args.seconds, args.checkpoint)
        old = bench_full_recompute(n, args.seconds, args.checkpoint)
        rows[n] = dict(cached=new, full_recompute=old)
        print(
            f"| {n} | {new[0]:,.0f} / {new[1]:,.0f} | {old[0]:,.0f} / {old[1]:,.0f} | "
            f"{new[0] / old[0]:.1f}× / {new[1] / old[1]:.1f}× |",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return rows


if __name__ == "__main__":
    main()
