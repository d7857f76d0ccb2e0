"""Rank Carvalho's rewiring heuristics on a registered preset, fast (30 replicas in the compiled simulator),
then play one of them through the env exactly as a learned agent would."""

import gymnasium as gym

import recsim_envs  # noqa: F401  (registers the ids)
from baselines.coop import RulePolicy, evaluate_rules

env_id = "recsim_envs/CooperationRewiringN100-v0"
table = evaluate_rules(("GOOD", "RANDOM", "FAIR", "NO_MED", "BAD", "C_LOW"), env_id, n_replicas=30, seed=0)
for rule, m in sorted(table.items(), key=lambda kv: -kv[1]["cooperator_fraction"]):
    print(f"{rule:7s} coop {m['cooperator_fraction']:.2f}  rewires/opportunity {m['rewires_per_opportunity']:.2f}")

env = gym.make(env_id)
policy = RulePolicy("GOOD", env)  # the kernel's rule, drawing from the env's own stream
obs, info = env.reset(seed=0)
done, ret = False, 0.0
while not done:
    obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
    ret += reward
    done = terminated or truncated
print(f"GOOD through the env: return {ret:+.2f}, cooperators {info['cooperator_fraction']:.2f}")
