"""Step 4096 PreferenceShift users at once with the native vector env and read the safe-shift metrics."""

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids)

envs = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=4096, vectorization_mode="vector_entry_point")
obs, info = envs.reset(seed=0)
totals = np.zeros(3)
for _ in range(10):
    actions = np.full(envs.num_envs, 4)  # always the 240° slate: the manipulation probe
    obs, reward, terminated, truncated, info = envs.step(actions)
    totals += info["objectives"].mean(axis=0)
print("mean cumulative engagement, r(u_0), r(u_rnd):", totals.round(2))
