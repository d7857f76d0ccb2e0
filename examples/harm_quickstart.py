"""HarmMitigation in five minutes: make the env, optimise the IFT-gradient policy, run it, compare to analytics.

python examples/harm_quickstart.py
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids)
from baselines.harm import HarmProblem, StationaryPolicy, compare, summary

# 256 users stepped together; the paper's parameters (λ = 100, α_H = 0.5, α_NH = 0.25, β = 0.2, k = 1, c = 6)
venv = gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=256, vectorization_mode="vector_entry_point", horizon=400)

# every baseline, solved analytically for the catalogue's users at their stationary profiles
solutions = compare(HarmProblem.from_env(venv))
for name, sol in solutions.items():
    s = summary(sol)
    print(f"{name:12s} f = {s['f_mean']:8.3f}   pCLK = {s['pclk_mean']:.3f}   pH = {s['ph_mean']:.4f}")

# run the IFT policy in the env: average click and harm rates over the second half of the episode
policy = StationaryPolicy(solutions["ift"], venv, seed=0)
obs, info = venv.reset(seed=0)
clicks, harms = [], []
for t in range(400):
    obs, reward, term, trunc, info = venv.step(policy.act(obs, info))
    if t >= 200:
        clicks.append(info["click"])
        harms.append(info["harm"])
users = info["final_info"]["user"] if "final_info" in info else info["user"]
print(
    f"env, IFT policy: click rate {np.mean(clicks):.3f}, harm rate {np.mean(harms):.4f} "
    f"(analytic at ū for these users: {solutions['ift'].pclk[users].mean():.3f}, "
    f"{solutions['ift'].ph[users].mean():.4f}; the paper's step sizes add a small fluctuation bias)"
)
