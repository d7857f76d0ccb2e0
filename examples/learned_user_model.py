"""The learned user model in five steps: data, beliefs, induced shifts, natural shifts, training in simulation.

Run: ``python examples/learned_user_model.py`` (NumPy only; uses the shipped checkpoint).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids)
from recsim_envs.preference.learned.algorithms import predict_future_preferences
from recsim_envs.preference.learned.data import generate_historical_data
from recsim_envs.preference.learned.network import LearnedUserModel
from recsim_envs.preference.world import THETA_DEG, action_slates


def mean_deg(dist: np.ndarray) -> float:
    rad = np.deg2rad(THETA_DEG)
    return float(np.rad2deg(np.arctan2(dist @ np.sin(rad), dist @ np.cos(rad))) % 360)


# 1. historical interaction data (slates and choices; true preferences are kept for evaluation only)
data = generate_historical_data(n_trajectories=200, seed=1)
model = LearnedUserModel.load()  # the shipped checkpoint

# 2. beliefs from one user's history: the future model over u_t, and the initial-preference model over u_0
slates, choices = data.slate_table[data.slates[:1]], data.choices[:1]
belief_t = model.future_beliefs(slates, choices)[0]  # [T+1, 36]
belief_0 = model.initial_belief(slates, choices, np.array([data.horizon]))[0]
print(f"true u_0 = {10 * data.preferences[0, 0]}°, estimated {mean_deg(belief_0):.0f}°")
print(f"true u_10 = {10 * data.preferences[0, -1]}°, estimated {mean_deg(belief_t[-1]):.0f}°")

# 3. Algorithm 1: what would a constant 240° slate do to a new cohort?
six, _, _ = action_slates("six")
induced = predict_future_preferences(model, six, np.full(10, 4), 10, n_samples=300)[0]
# 4. Algorithm 2 (tabulated): what would the flat slate ("natural shifts") do?
natural = model.natural_shift(induced[:1], 10)[0]
print(f"cohort mean after 10 steps: constant 240° -> {mean_deg(induced[-1]):.0f}°, natural -> {mean_deg(natural):.0f}°")

# 5. Algorithm 3: the penalised learned simulator, ready for any RL library
env = gym.make("recsim_envs/PreferenceShiftLearnedPenalized-v0")
obs, info = env.reset(seed=0)
total, done = 0.0, False
while not done:
    obs, reward, done, _, info = env.step(4)
    total += reward
print(f"penalised return of the constant 240° slate in simulation: {total:.2f}  components {info['rewards']}")
