"""Issue-12 items of the coop family: opponent count limit, non-overlapping seed streams of resumed training."""

from __future__ import annotations

import gymnasium as gym
import pytest

import recsim_envs  # noqa: F401
from agents.train import ENV_SEED_STRIDE, MAX_PART, MAX_RUN_SEED, run_part_seeds


@pytest.mark.parametrize("k", [126, 200])
def test_too_many_opponents_names_the_parameter_and_range(k):
    with pytest.raises(ValueError, match=r"opponents must list 0 to 125 rules, got " + str(k)):
        gym.make("recsim_envs/RecommenderCompetition-v0", opponents=["GOOD_X"] * k, n_nodes=300)


def test_most_opponents_allowed_builds():
    env = gym.make("recsim_envs/RecommenderCompetition-v0", opponents=["GOOD_X"] * 125, n_nodes=300)
    env.reset(seed=0)


def _first_collision(first_env_seed, runs, n_envs: int):
    """The first two (run seed, part) pairs whose env seed sets [first, first + n_envs) overlap, or None."""
    starts = sorted((first_env_seed(s, p), (s, p)) for s, p in runs)
    for (a, pa), (b, pb) in zip(starts, starts[1:]):
        if b - a < n_envs:
            return pa, pb
    return None


def test_training_parts_never_share_env_seeds():
    """Env seeds of every (run seed, part) of training — fresh runs and long/resumed ones — are disjoint sets
    (run_part_seeds), while the former rule ``seed·100000 + done_steps`` makes run 0 resumed at 100,000 steps
    start on run 1's seeds; the same check finds that collision. Parts are numbered ceil(done_steps / n_envs)
    (agents.coop_train), so done_steps = n_envs · part."""
    n_envs = 64
    runs = [(s, p) for s in range(40) for p in (0, 1, 64, 320, 1_563, 3_125, 15_625, 2**25 - 1)]
    assert _first_collision(lambda s, p: run_part_seeds(s, p, n_envs)[0], runs, n_envs) is None
    old = _first_collision(lambda s, p: s * ENV_SEED_STRIDE + p * n_envs, runs, n_envs)
    assert old is not None  # e.g. (0, 1563) resumed at 100,032 steps overlaps run 1's fresh seeds
    # every seed fits the envs' int64 seeds; the largest run seed and part too
    top = run_part_seeds(MAX_RUN_SEED - 1, MAX_PART - 1, ENV_SEED_STRIDE)[0]
    assert 0 <= top and top + ENV_SEED_STRIDE < 2**62
    assert run_part_seeds(MAX_RUN_SEED - 1, 0, ENV_SEED_STRIDE)[0] + ENV_SEED_STRIDE <= 2**40  # below every part
    # fresh runs keep their historical seeds; model seeds differ between parts of one run; deterministic
    assert run_part_seeds(3, 0) == (3 * ENV_SEED_STRIDE, 3)
    assert len({run_part_seeds(3, p)[1] for p in (0, 1, 64, 1_563)}) == 4
    assert run_part_seeds(7, 1_929) == run_part_seeds(7, 1_929)
    for kwargs, match in (
        ({"seed": MAX_RUN_SEED, "part": 0}, "seed must be an integer in"),
        ({"seed": 0, "part": MAX_PART}, "part must be an integer in"),
        ({"seed": 0, "part": 1, "n_envs": ENV_SEED_STRIDE + 1}, "n_envs must be an integer in"),
    ):
        with pytest.raises(ValueError, match=match):
            run_part_seeds(**kwargs)
