"""Train PPO on the penalised PreferenceShift id, save it, reload it and score it on 1000 users.

Same as: python -m agents.train --algo ppo --env recsim_envs/PreferenceShiftPenalized-v0 -n 50000
Writes its run under results/examples/train_ppo/ (git-ignored; never the main job's folders).
"""

from agents.evaluation import SB3Policy, evaluate_batched
from agents.train import build_config, load_agent, train

config = build_config(
    "ppo",  # or "ppo_lstm" (RecurrentPPO, 64 LSTM cells), "ppo_mask"
    "recsim_envs/PreferenceShiftPenalized-v0",
    seed=0,
    variant="ltv",  # "myopic" = the same config with gamma = 0
    overrides={"n_timesteps": 50_000},  # any key of agents/hyperparams/ppo.yml
    env_kwargs={"nu_initial": 1.0, "nu_natural": 1.0},  # penalty weights (already the id's defaults)
)
model, run_dir = train(config, log_folder="results/examples/train_ppo", progress_bar=True)
print(f"saved {run_dir}")

policy, saved_config = load_agent(run_dir)  # model.zip + config.yml (exact config and seed)
result = evaluate_batched(policy, config.env_id, 1000, seed=10**9, env_kwargs=config.env_kwargs)
for metric in ("return", "expected_engagement", "expected_engagement_initial", "expected_engagement_natural"):
    print(f"{metric:30s} {result[metric].mean():7.3f}")
same = evaluate_batched(SB3Policy(model), config.env_id, 1000, seed=10**9, env_kwargs=config.env_kwargs)
print("reloaded agent evaluates identically:", (same["return"] == result["return"]).all())
