"""Env step throughput of every family through the public API, this tree against an older commit (issue 11).

The generic env shell (``recsim_envs.utils.shell``) replaced the per-family env classes; this script checks that
stepping did not get slower. Each cell (id, single or native vector env, number of users) runs ``--rounds``
times per tree in a fresh subprocess, old and new interleaved (the order alternates), for ``--seconds`` of
stepping after a short warm-up; the table gives the medians and their ratio. The old tree is
``git archive``d into a temporary folder. Usage::

    python -m benchmarks.speed_shell --baseline-rev a8850e0 [--rounds 2] [--seconds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: id -> the cells timed: users per env ("single": the single env, else the native vector env with that many users)
PLAN: dict[str, tuple[int | str, ...]] = {
    "PreferenceShift-v0": ("single", 64, 4096),
    "PreferenceShiftMO-v0": (64,),
    "PreferenceShiftLearned-v0": ("single", 256),
    "HarmMitigation-v0": ("single", 64, 1024),
    "HarmMitigationSampling-v0": (64,),
    "CooperationRewiringN10-v0": ("single", 64),
    "RecommenderCompetition-v0": (16,),
}
#: (id, "single" | "vector", users)
CELLS: list[tuple[str, str, int]] = [
    (env_id, "single", 1) if users == "single" else (env_id, "vector", int(users))
    for env_id, cells in PLAN.items()
    for users in cells
]


def worker(env_id: str, mode: str, n: int, seconds: float) -> float:
    """User-steps per second of one cell (masked families: the first valid action; others: fixed samples)."""
    import warnings

    import gymnasium as gym
    import numpy as np

    import recsim_envs  # noqa: F401  (registers the ids)

    warnings.simplefilter("ignore")
    full = f"recsim_envs/{env_id}"
    single = mode == "single"
    env: Any = (
        gym.make(full, disable_env_checker=True)
        if single
        else gym.make_vec(full, num_envs=n, vectorization_mode="vector_entry_point")
    )
    env.reset(seed=0)
    masks = getattr(env.unwrapped, "action_masks", None)
    env.action_space.seed(0)
    samples = [env.action_space.sample() for _ in range(64)]

    def run(k: int) -> None:
        for i in range(k):
            if masks is not None:
                a = np.atleast_2d(masks()).argmax(1)
                action = int(a[0]) if single else a
            else:
                action = samples[i % 64]
            r = env.step(action)
            if single and (r[2] or r[3]):
                env.reset()

    run(20)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run(50)
        steps += 50
    return steps * n / (time.perf_counter() - t0)


def _cell(tree: Path, cell: tuple[str, str, int], seconds: float) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    code = f"from benchmarks.speed_shell import worker; print(worker(*{json.dumps([*cell, seconds])}))"
    res = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=f"{tree}{os.pathsep}{REPO}"),
                         capture_output=True, text=True, cwd=tempfile.gettempdir())  # fmt: skip
    if res.returncode != 0:
        print(f"<!-- {cell} in {tree}: exit {res.returncode}: {res.stderr.strip()[-300:]} -->")
        return float("nan")
    return float(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-rev", default="a8850e0", help="commit to compare with (default: before issue 11)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        archive = subprocess.run(["git", "archive", args.baseline_rev, "recsim_envs"], cwd=REPO, capture_output=True,
                                 check=True)  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        trees = {"old": old, "new": REPO}
        print(f"| id | env | users | {args.baseline_rev} user-steps/s | this tree | new / old |")
        print("|---|---|---|---|---|---|")
        for cell in CELLS:
            res: dict[str, list[float]] = {"old": [], "new": []}
            for r in range(args.rounds):
                for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                    res[name].append(_cell(trees[name], cell, args.seconds))
            o, n = statistics.median(res["old"]), statistics.median(res["new"])
            print(f"| {cell[0]} | {cell[1]} | {cell[2]} | {o:,.0f} | {n:,.0f} | {n / o:.2f} |", flush=True)


if __name__ == "__main__":
    main()
