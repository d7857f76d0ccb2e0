"""Train sb3-contrib's MaskablePPO on the smallest Table-4 preset (N = 10) with the Dict observation and the
env's action_masks(), then compare its return with the GOOD heuristic (needs the [train] extra). 20 evaluation
episodes that mostly end at ±1 give returns with a standard error of ≈ 0.2: use baselines.coop.evaluate_rules for
the heuristics' exact scale (e.g. GOOD ≈ +0.70, RANDOM ≈ +0.47 on this preset over 1000+ replicas)."""

import gymnasium as gym
import numpy as np
from sb3_contrib import MaskablePPO

import recsim_envs  # noqa: F401
from baselines.coop import HeuristicPolicy

env_id = "recsim_envs/CooperationRewiringN10-v0"
model = MaskablePPO("MultiInputPolicy", gym.make(env_id), n_steps=256, batch_size=64, seed=0, device="cpu")
model.learn(3_000)


def mean_return(act, episodes=20):
    env = gym.make(env_id)
    total = 0.0
    for ep in range(episodes):
        obs, info = env.reset(seed=10_000 + ep)
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(act(env, obs, info))
            total += r
            done = term or trunc
    return total / episodes


good = HeuristicPolicy("GOOD", seed=0)
ppo = mean_return(lambda e, o, i: int(model.predict(o, action_masks=e.unwrapped.action_masks(), deterministic=True)[0]))
print(f"MaskablePPO {ppo:+.2f}   GOOD {mean_return(lambda e, o, i: good.act(o, i)):+.2f}   (2·(coop − ½) at the end)")
rng = np.random.default_rng(0)
rand = mean_return(lambda e, o, i: int(rng.choice(np.flatnonzero(o["action_mask"]))))
print(f"random valid choice {rand:+.2f}")
