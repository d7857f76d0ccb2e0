"""Train SB3 directly on the native gymnasium vector env (one array operation per step for all users).

SB3 cannot consume a gymnasium VectorEnv; agents.sb3_vec.GymnasiumVecEnvAdapter re-packages it as an SB3 VecEnv.
"""

import gymnasium as gym
import torch
from sb3_contrib import RecurrentPPO

import recsim_envs  # noqa: F401  (registers the ids)
from agents.sb3_vec import GymnasiumVecEnvAdapter, make_sb3_vec_env

# by hand: gymnasium.make_vec with the id's native vector entry point, then the adapter
native = gym.make_vec("recsim_envs/PreferenceShiftOracle-v0", num_envs=32, vectorization_mode="vector_entry_point")
vec_env = GymnasiumVecEnvAdapter(native)
vec_env.seed(0)  # env i starts from seed 0 + i, exactly like 32 single envs seeded 0..31

# or in one call (adds VecMonitor for episode statistics); vectorization="dummy" gives SB3's make_vec_env path
vec_env = make_sb3_vec_env("recsim_envs/PreferenceShiftOracle-v0", n_envs=32, seed=0)

torch.set_num_threads(1)  # these networks are tiny: extra torch threads only add overhead on a busy CPU
model = RecurrentPPO(
    "MlpLstmPolicy", vec_env, n_steps=40, batch_size=320, n_epochs=4, policy_kwargs={"lstm_hidden_size": 64}, seed=0
)
model.learn(20_000, progress_bar=True)
print("trained on", model.num_timesteps, "user-steps")
