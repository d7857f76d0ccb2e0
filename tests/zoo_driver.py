"""Run rl-zoo3's own ``train`` entry point on several ids in one process (used by tests/test_zoo.py).

Usage: python tests/zoo_driver.py LOG_DIR ID [ID ...]; prints one JSON line per id.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import traceback

if __name__ == "__main__":
    from rl_zoo3.train import train
    from stable_baselines3 import PPO

    log_dir, ids = sys.argv[1], sys.argv[2:]
    conf = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agents", "hyperparams", "ppo.yml")
    for env_id in ids:
        sys.argv = [
            "rl_zoo3.train", "--algo", "ppo", "--env", env_id, "--gym-packages", "recsim_envs", "-conf", conf,
            "-n", "256", "--eval-freq", "-1", "-f", log_dir, "--seed", "0", "--log-interval", "-1",
            "-params", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:1", "policy_kwargs:dict(net_arch=[16])",
        ]  # fmt: skip
        row = {"id": env_id}
        try:
            train()
            name = env_id.split("/")[-1]
            zips = glob.glob(os.path.join(log_dir, "ppo", "**", f"*{name}.zip"), recursive=True)
            row["num_timesteps"] = int(PPO.load(zips[0], device="cpu").num_timesteps) if zips else 0
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
            row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"
        print("ZOO " + json.dumps(row), flush=True)
