"""Plug your own recommender into the leaderboard: a class with act(obs, info) and a factory taking the env.

Run it (writes results/examples/custom_agent_leaderboard/, never the main job's results/leaderboard_quick/), or:
python -m benchmarks.leaderboard --quick --envs recsim_envs/PreferenceShiftOracle-v0 \
    --policy mine=examples.custom_agent_leaderboard:make_policy --out results/examples/custom_agent_leaderboard
"""

import numpy as np

from benchmarks import leaderboard

ORACLE = "recsim_envs/PreferenceShiftOracle-v0"
COS = np.cos(
    np.deg2rad(np.arange(36)[:, None] * 10.0 - np.arange(6)[None, :] * 60.0)
)  # bins x the six peaked slates (action 6, the flat slate, is never the best match)


class BeliefGreedy:
    """Show the slate whose mean best matches the oracle belief over the user's current preference."""

    batched = True  # act() also takes stacked observations, so the leaderboard steps all users at once

    def act(self, obs, info):
        action = (np.atleast_2d(obs)[:, 73:109] @ COS).argmax(axis=1)  # obs[73:109]: belief over u_t
        return action if np.ndim(obs) == 2 else int(action[0])


def make_policy(env):
    return BeliefGreedy()


if __name__ == "__main__":
    leaderboard.main(
        ["--quick", "--envs", ORACLE, "--policy", "mine=__main__:make_policy"]
        + ["--out", "results/examples/custom_agent_leaderboard"]
    )
