"""SB3 training throughput: our native vector env through the adapter vs SB3's make_vec_env over single envs.

Usage: ``python -m benchmarks.train_speed [--steps 20000] [--n-envs 32]``

Same algorithm, hyperparameters (``agents/hyperparams``), seed and number of envs; only the vectorisation differs.
Prints env steps per second of ``model.learn`` (rollout collection and gradient updates together) on one torch
thread, and the load average at the start (other processes on the machine slow every row alike).
"""

from __future__ import annotations

import argparse
import os
import time

from agents.train import build_config, make_model

ENV_ID = "recsim_envs/PreferenceShiftOracle-v0"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--n-envs", type=int, default=32)
    args = p.parse_args(argv)
    if args.steps < 1 or args.n_envs < 1:
        raise ValueError(f"steps and n_envs must be integers in [1, inf), got {args.steps!r}, {args.n_envs!r}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {ENV_ID}, {args.n_envs} envs, {args.steps} steps")
    print("| algo | vectorisation | steps/s |\n|---|---|---|")
    for algo in ("ppo", "ppo_lstm"):
        for vec in ("native", "dummy"):
            cfg = build_config(algo, ENV_ID, seed=0, overrides={"n_envs": args.n_envs}, vectorization=vec)
            model, _ = make_model(cfg)
            start = time.perf_counter()
            model.learn(args.steps)
            rate = args.steps / (time.perf_counter() - start)
            model.env.close()
            print(f"| {algo} | {vec} | {rate:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
