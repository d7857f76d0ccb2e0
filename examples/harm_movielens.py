"""Harm-exposure users from real MovieLens data (Sci-Fi, 100 items × 100 users, biased MF cached on disk).

    python examples/harm_movielens.py /path/to/ml-latest-small

Harm labels: the Kaggle IMDB parental-guide CSV if you pass ``parental_guide=...`` to ``gym.make`` (harmful iff a
category is Severe), your own ``labels=movieId,harmful`` CSV, or by default the documented tag/genre proxy.
"""

from __future__ import annotations

import sys

import gymnasium as gym

import recsim_envs  # noqa: F401
from baselines.harm import HarmProblem, compare, relative_improvement

directory = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ml-latest-small"
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
