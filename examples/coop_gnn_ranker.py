"""Train a GNN rewiring recommender with MaskablePPO and compare it with heuristics (about 1-2 minutes on a CPU).

The recommender is asked for a new partner z whenever a user of the network rewires; it scores every node with
the same small graph network, so the weights trained at N = 10 also run at N = 30.

    python examples/coop_gnn_ranker.py [--reward coops|rewires] [--steps 30000]
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch

from agents.coop_rl import RulePolicy, load_ranker, rollout_learned, train_ranker

N10 = "recsim_envs/CooperationRewiringN10-v0"
N30 = "recsim_envs/CooperationRewiringN30-v0"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reward", default="coops", choices=["coops", "rewires"])
    p.add_argument("--steps", type=int, default=30_000, help="training decisions (the benchmark uses 400k)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as run_dir:
        # hyperparameters: agents/hyperparams/ppo_mask.yml (entry CooperationRewiringN10-v0)
        summary = train_ranker(N10, args.reward, args.seed, run_dir, n_timesteps=args.steps)
        print(f"trained {summary['n_timesteps']} decisions in {summary['train_seconds']} s")
        learned = load_ranker(run_dir)  # greedy GNN policy, any N
        for env_id, replicas in ((N10, 300), (N30, 60)):
            print(f"\n{env_id}: mean over {replicas} replicas (same replica seeds for every policy)")
            for name, policy in [("GNN", learned)] + [(r, RulePolicy(r)) for r in ("GOOD", "NO_MED", "BAD")]:
                m = rollout_learned(policy, env_id, replicas, seed=123)
                extra = ""
                if "action_strategy" in m:
                    extra = f"  recommends C {m['action_strategy'].mean():.2f}, degree {m['action_degree'].mean():.1f}"
                print(
                    f"  {name:7s} cooperators {np.mean(m['cooperator_fraction']):.2f}  "
                    f"#rewires {np.mean(m['rewires']):6.1f}{extra}"
                )


if __name__ == "__main__":
    main()
