"""Seconds per 1,000 env steps of an RLlib PPO iteration under each sampler / model / torch-thread setting.

Needs the ``rllib`` extra's virtualenv (see ``examples/rllib_ppo.py``). Every setting is built in the same process,
one after another, on the same local Ray instance (sampling and learning both run in the driver:
``num_env_runners=0``, ``num_learners=0``, as in the example), so the ratios between rows are measured under the
same load. Each row: one warm-up iteration (numba compilation, first tensors), then the median of ``--iters``
timed iterations of ``--batch`` env steps, split into sampling and learner update (RLlib's own timers of the last
iteration).

The settings: the example's earlier configuration (LSTM policy, one env per env runner, torch's default thread
count, i.e. one per core) and the example's current one (ten envs stepped at once, one torch thread), plus the
steps in between and the feed-forward policy for scale::

    python -m benchmarks.speed_rllib                                     # PreferenceShiftOracle-v0, 1,000 steps
    python -m benchmarks.speed_rllib --env recsim_envs/HarmMitigation-v0 --iters 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

SETTINGS = (
    # (label, use_lstm, num_envs, torch threads: 0 = torch's default)
    ("LSTM, 1 env, default threads (earlier example)", True, 1, 0),
    ("LSTM, 1 env, 1 thread", True, 1, 1),
    ("LSTM, 10 envs, 1 thread (example now)", True, 10, 1),
    ("MLP 64x64, 1 env, 1 thread", False, 1, 1),
    ("MLP 64x64, 10 envs, 1 thread", False, 10, 1),
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="recsim_envs/PreferenceShiftOracle-v0")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--iters", type=int, default=3)
    args = p.parse_args(argv)
    import ray
    import torch

    from examples.rllib_ppo import ppo_config, register_rllib_envs

    default_threads = torch.get_num_threads()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_rllib_envs([args.env])
    load0 = os.getloadavg()[0]
    print(f"{args.env}: {args.batch} env steps per iteration, median of {args.iters} iterations after one warm-up")
    print("| setting | torch threads | s / iteration | sampling s | learner s | s per 1,000 steps |")
    print("|---|---|---|---|---|---|")
    try:
        for label, lstm, num_envs, threads in SETTINGS:
            torch.set_num_threads(threads or default_threads)
            algo = ppo_config(args.env, 0.0, batch=args.batch, num_envs=num_envs, use_lstm=lstm).build_algo()
            try:
                algo.train()
                walls = []
                for _ in range(args.iters):
                    t = time.perf_counter()
                    res = algo.train()
                    walls.append(time.perf_counter() - t)
            finally:
                algo.stop()
            wall = statistics.median(walls)
            timers = res["timers"]
            print(
                f"| {label} | {torch.get_num_threads()} | {wall:.2f} | {timers['env_runner_sampling_timer']:.2f} | "
                f"{timers['learner_update_timer']:.2f} | {1000 * wall / args.batch:.2f} |",
                flush=True,
            )
    finally:
        ray.shutdown()
    print(f"load average (1 min): {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
