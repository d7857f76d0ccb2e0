"""Stable-Baselines3 agents (PPO, RecurrentPPO, MaskablePPO) for the recsim_envs ids."""
