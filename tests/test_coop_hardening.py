"""Issue-12 items of the coop family: opponent count limit, non-overlapping seed streams of resumed training."""

from __future__ import annotations

import gymnasium as gym
import pytest

import recsim_envs  # noqa: F401
from agents.coop_rl import run_part_seeds
from agents.train import ENV_SEED_STRIDE


@pytest.mark.parametrize("k", [126, 200])
def test_too_many_opponents_names_the_parameter_and_range(k):
    with pytest.raises(ValueError, match=r"opponents must list 0 to 125 rules, got " + str(k)):
        gym.make("recsim_envs/RecommenderCompetition-v0", opponents=["GOOD_X"] * k, n_nodes=300)


def test_most_opponents_allowed_builds():
    env = gym.make("recsim_envs/RecommenderCompetition-v0", opponents=["GOOD_X"] * 125, n_nodes=300)
    env.reset(seed=0)


def test_resumed_training_parts_never_share_env_seeds():
    """Env seeds e..e+n_envs−1 of every (run seed, resume point) part are disjoint from every other part's,
    including the case the old rule ``seed·100000 + done_steps`` got wrong (run 0 resumed at 100,000 steps
    started exactly on run 1's fresh seeds)."""
    n_envs = 64
    assert 0 * ENV_SEED_STRIDE + 100_000 == 1 * ENV_SEED_STRIDE  # the old collision, for the record
    parts = [(s, d) for s in range(40) for d in (0, 4096, 20_480, 100_000, 200_000, 1_000_000, 10**9)]
    starts = sorted((run_part_seeds(s, d)[0], (s, d)) for s, d in parts)
    for (a, pa), (b, pb) in zip(starts, starts[1:]):
        assert b - a >= n_envs, (pa, pb)
    assert all(0 <= e < 2**62 - n_envs for e, _ in starts)
    # fresh runs keep their historical seeds; model seeds differ between parts of one run
    assert run_part_seeds(3, 0) == (3 * ENV_SEED_STRIDE, 3)
    models = {run_part_seeds(3, d)[1] for d in (0, 4096, 100_000)}
    assert len(models) == 3
    # deterministic: the same part always gets the same streams
    assert run_part_seeds(7, 123_456) == run_part_seeds(7, 123_456)
