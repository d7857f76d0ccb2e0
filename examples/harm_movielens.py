"""Harm-exposure users from real MovieLens data (Sci-Fi, 100 items × 100 users, biased MF cached on disk).

    python examples/harm_movielens.py /path/to/ml-latest-small
    RECSIM_MOVIELENS_DIR=/path/to/ml-latest-small python examples/harm_movielens.py

MovieLens "latest-small" (≈ 1 MB zip, ratings.csv, movies.csv, tags.csv) is free for research from GroupLens:
https://grouplens.org/datasets/movielens/latest/ (direct: https://files.grouplens.org/datasets/movielens/ml-latest-small.zip);
unzip it anywhere and pass the folder.

Harm labels: the Kaggle IMDB parental-guide CSV if you pass ``parental_guide=...`` to ``gym.make`` (harmful iff a
category is Severe), your own ``labels=movieId,harmful`` CSV, or by default the documented tag/genre proxy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gymnasium as gym

import recsim_envs  # noqa: F401
from baselines.harm import HarmProblem, compare, relative_improvement

directory = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RECSIM_MOVIELENS_DIR")
if not directory or not (Path(directory) / "ratings.csv").exists():
    sys.exit(
        f"MovieLens not found ({directory or 'no folder given'}): download "
        "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip (GroupLens, free for research), unzip "
        "it, and pass the folder as the first argument or set RECSIM_MOVIELENS_DIR."
    )
env = gym.make("recsim_envs/HarmMitigation-v0", dataset=directory, genre="Sci-Fi")
cat = env.unwrapped.config.catalogue
print(
    f"{cat.n_items} items ({cat.harmful.mean():.0%} harmful via {cat.harm_source}), {cat.n_users} users, "
    f"MF RMSE {cat.info['mf_rmse']:.3f}"
)
print("harmful:", ", ".join(t for t, h in zip(cat.titles, cat.harmful) if h))

sols = compare(HarmProblem.from_env(env))
f_ift = sols["ift"].f.mean()
for name, sol in sols.items():
    gain = "" if name == "ift" else f"  (IFT {100 * relative_improvement(f_ift, sol.f.mean()):+.1f} %)"
    print(f"{name:12s} f = {sol.f.mean():7.3f}  pCLK = {sol.pclk.mean():.3f}  pH = {sol.ph.mean():.4f}{gain}")
