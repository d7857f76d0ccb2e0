"""PreferenceShiftLearned throughput (user-steps/s): the cached (incremental) simulator vs the full recompute.

Usage: ``python -m benchmarks.speed_learned [--users 32 1024] [--seconds 3] [--devices cuda]``

Figures are user-steps per second of wall time and per CPU second of the process (the CPU figure is what to
compare on a shared machine; run with ``OPENBLAS_NUM_THREADS=1`` there, since BLAS threads that spin-wait on a
busy machine inflate both). Rows, measured in the same process:

- ``native vector env``: ``gym.make_vec("recsim_envs/PreferenceShiftLearned-v0", vectorization_mode=
  "vector_entry_point")`` stepping random "six" actions — the simulator as shipped, which runs each estimator
  incrementally (one token per step, earlier keys and values cached);
- ``full recompute (previous algorithm)``: the same users stepped the way the simulator did before the cache —
  every step the future and initial-preference estimators re-run over the whole history (T + 1 tokens, causal
  passes of ``LearnedUserModel.future_belief_at`` / ``initial_belief``), choices and rewards as in the env.

``--devices cuda`` (any torch devices) adds, per device, the native vector env made with ``device=…`` (the
network in torch there) and its agreement with the NumPy runner: the same users and slates stepped side by side
for 30 steps (three episodes), the largest absolute difference of any belief or reward and the number of choices
that differ.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from recsim_envs.preference.learned.core import LearnedShiftConfig, LearnedUserBatch, mean_angle_deg
from recsim_envs.preference.world import COS, N_BINS
from recsim_envs.utils import rng as crng

ENV_ID = "recsim_envs/PreferenceShiftLearned-v0"


def _timed(step_fn, n_users: int, seconds: float, warm_up: int = 11) -> tuple[float, float]:
    """Run ``step_fn`` for about ``seconds`` of wall time after ``warm_up`` untimed steps (an episode: every
    history length once, which a torch device needs before its kernels are loaded); user-steps per wall second
    and per CPU second of this process (the CPU figure is the contention-robust one on a shared machine; it
    counts every thread)."""
    for _ in range(warm_up):
        step_fn()
    steps, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        step_fn()
        steps += 1
        wall = time.perf_counter() - wall0
        if wall >= seconds:
            return steps * n_users / wall, steps * n_users / max(time.process_time() - cpu0, 1e-9)


def bench_native(
    n: int, seconds: float, checkpoint: str | None = None, device: str | None = None
) -> tuple[float, float]:
    env = gym.make_vec(
        ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", checkpoint=checkpoint, device=device
    )
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


def device_agreement(device: str, n: int, checkpoint: str | None = None, steps: int = 30) -> tuple[float, int]:
    """(largest |difference| of any belief or reward, number of differing choices) between the NumPy runner and
    the torch runner on ``device``, the same ``n`` users and slates stepped side by side."""
    batches = [LearnedUserBatch(LearnedShiftConfig(checkpoint=checkpoint, device=d), n) for d in (None, device)]
    keys = crng.seed_to_key(np.arange(n))
    for b in batches:
        b.reset(np.ones(n, dtype=bool), keys)
    rng = np.random.default_rng(0)
    worst, flips = 0.0, 0
    for _ in range(steps):
        a = rng.integers(0, batches[0].cfg.n_actions, n)
        ref, got = (b.step(a) for b in batches)
        flips += int((ref["choice_bin"] != got["choice_bin"]).sum())
        pairs = [(ref["reward"], got["reward"])] + [
            (getattr(batches[0], k), getattr(batches[1], k)) for k in ("belief", "init_belief")
        ]
        worst = max(worst, *(float(np.abs(x - y).max()) for x, y in pairs))
        done = batches[0].t >= batches[0].cfg.horizon
        if done.any():
            keys = np.where(done, crng.next_key(keys), keys)
            for b in batches:
                b.reset(done, keys[done])
    return worst, flips


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs="*", default=[32, 1024])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--checkpoint", default=None, help="learned-model checkpoint (default: the shipped one)")
    p.add_argument("--devices", nargs="*", default=[], help="torch devices to time too (e.g. cuda)")
    p.add_argument("--no-recompute", action="store_true", help="skip the full-recompute rows (slow at large n)")
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
        nan = (float("nan"), float("nan"))
        old = nan if args.no_recompute else bench_full_recompute(n, args.seconds, args.checkpoint)
        rows[n] = dict(cached=new, full_recompute=old)
        print(
            f"| {n} | {new[0]:,.0f} / {new[1]:,.0f} | {old[0]:,.0f} / {old[1]:,.0f} | "
            f"{new[0] / old[0]:.1f}× / {new[1] / old[1]:.1f}× |",
            flush=True,
        )
    for device in args.devices:
        worst, flips = device_agreement(device, 256, args.checkpoint)
        print(f"\ndevice={device!r}: vs the NumPy runner over 30 steps of 256 users: largest |difference| of a belief")
        print(f"or reward {worst:.1e}, {flips} differing choices")
        print("| users | native vector env, device: wall / CPU | NumPy runner: wall / CPU | ratio (wall) |")
        print("|---|---|---|---|")
        for n in args.users:
            dev = bench_native(n, args.seconds, args.checkpoint, device)
            cpu = rows[n]["cached"] if n in rows else bench_native(n, args.seconds, args.checkpoint)
            rows[n][device] = dev
            print(f"| {n} | {dev[0]:,.0f} / {dev[1]:,.0f} | {cpu[0]:,.0f} / {cpu[1]:,.0f} | {dev[0] / cpu[0]:.1f}× |",
                  flush=True)  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return rows


if __name__ == "__main__":
    main()
