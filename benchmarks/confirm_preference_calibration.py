"""Confirm a PreferenceShift calibration candidate with real RecurrentPPO training (issue 18).

Trains the four Table 1 recommenders of ``benchmarks.reproduce_preference`` (same configs, hyperparameters and
evaluation: 1000 users seeded 10⁹, choice-marginalised 10-step metrics) on the oracle ids with the candidate's
env kwargs, and prints each cell next to the paper's, the mean absolute difference over the 16 cells and the
orderings. A short confirmation, not the Table 1 protocol (use few seeds; the mean over seeds is reported).

Usage::

    python -m benchmarks.confirm_preference_calibration --kwargs '{"beta_d": 20, "beta_c_width_270": 8}' \\
        --seeds 2 --timesteps 200000 [--workers 2] [--out results/confirm_calibration]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.calibrate_preference import TABLE1_CONFIGS, TABLE1_METRICS, table1_fit
from benchmarks.reproduce_preference import CONFIGS, EVAL_SEED, PAPER, rollout


def _job(args: tuple) -> dict:
    import torch

    import recsim_envs  # noqa: F401
    from agents.train import build_config, load_agent, train

    name, seed, timesteps, episodes, env_kwargs, out = args
    torch.set_num_threads(1)
    env_id, variant = CONFIGS[name]
    cfg = build_config(
        "ppo_lstm", env_id, seed=seed, variant=variant, env_kwargs=env_kwargs, overrides={"n_timesteps": timesteps}
    )
    run_dir = Path(out) / "runs" / name
    start = time.perf_counter()
    train(cfg, log_folder=run_dir, tensorboard=False)
    train_seconds = time.perf_counter() - start
    model_dir = run_dir / cfg.algo / f"{env_id.split('/')[-1]}_{variant}_s{seed}"
    policy, _ = load_agent(model_dir)
    res = rollout(policy, env_id, episodes, EVAL_SEED, env_kwargs)
    return {"config": name, "seed": seed, "train_seconds": round(train_seconds, 1), **res}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kwargs", type=json.loads, required=True, help="env kwargs of the candidate (JSON)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--timesteps", type=int, default=200_000)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("results/confirm_calibration"))
    args = ap.parse_args(argv)
    for name, v in (("seeds", args.seeds), ("timesteps", args.timesteps), ("episodes", args.episodes),
                    ("workers", args.workers)):  # fmt: skip
        if v < 1:
            raise ValueError(f"{name} must be an integer in [1, inf), got {v!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(c, s, args.timesteps, args.episodes, args.kwargs, str(args.out)) for s in range(args.seeds)
            for c in TABLE1_CONFIGS]  # fmt: skip
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as ex:
        rows = list(ex.map(_job, jobs))
    with open(args.out / "rows.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps({k: v for k, v in r.items() if k != "histogram"}) + "\n")
    mean = {c: {m: float(np.mean([r[m] for r in rows if r["config"] == c])) for m in TABLE1_METRICS}
            for c in TABLE1_CONFIGS}  # fmt: skip
    fit = table1_fit(mean, PAPER)
    print(f"candidate {args.kwargs}; {args.seeds} seeds × {args.timesteps:,} steps; mean over seeds (paper)")
    print("| metric | " + " | ".join(TABLE1_CONFIGS) + " |")
    print("|---" * (1 + len(TABLE1_CONFIGS)) + "|")
    for m in TABLE1_METRICS:
        print(f"| {m} | " + " | ".join(f"{mean[c][m]:.2f} ({PAPER[c][m]:.2f})" for c in TABLE1_CONFIGS) + " |")
    print(
        f"mean abs diff {fit['mean_abs_diff']:.2f}, RL − myopic engagement {fit['rl_minus_myopic']:+.2f}, "
        f"orderings {fit['orderings_held']}/{fit['orderings_total']} (on seed means); "
        f"wall {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
