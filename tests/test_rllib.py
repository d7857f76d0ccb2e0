"""recsim_envs.rllib and examples/rllib_ppo.py under RLlib (the [rllib] extra, its own virtualenv).

ray[rllib] 2.60 pins gymnasium 1.2.2 while the [dev] set runs gymnasium 1.4, so these tests are marked ``rllib``,
deselected from the default run (pyproject ``addopts``) and run by ``.ci/run`` in a second virtualenv:
``python -m pytest -m rllib tests/test_rllib.py``. The learning results (more iterations, the LTV and harm runs)
are in benchmarks/RESULTS.md, "RLlib".
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs
from recsim_envs.rllib import register_rllib_envs

pytestmark = pytest.mark.rllib
ORACLE = "recsim_envs/PreferenceShiftOracle-v0"


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_every_id_is_registered_and_built_with_the_env_config():
    from ray.tune.registry import ENV_CREATOR, _global_registry

    names = register_rllib_envs()
    assert names == recsim_envs.env_ids()
    for env_id in names:
        env = _global_registry.get(ENV_CREATOR, env_id)({})
        assert env.spec.id == env_id
        env.reset(seed=0)
        env.step(env.action_space.sample())
    harm = _global_registry.get(ENV_CREATOR, "recsim_envs/HarmMitigation-v0")({"horizon": 7})
    assert (
        harm.unwrapped.config.horizon == 7 and gym.make("recsim_envs/HarmMitigation-v0").unwrapped.config.horizon != 7
    )
    with pytest.raises(ValueError, match="not recsim_envs ids"):
        register_rllib_envs(["CartPole-v1"])


def test_random_recommender_returns_match_an_independent_rollout():
    from examples.rllib_ppo import random_returns

    got = random_returns(ORACLE, episodes=3, seed=5)
    # the same users (reset seeds 5, 6, 7) and the same action stream, one env at a time
    rng = np.random.default_rng(5)
    draws = np.stack([rng.integers(7, size=3) for _ in range(10)])  # one draw for the 3 users per step, 10 steps
    want = []
    for i in range(3):
        env = gym.make(ORACLE, disable_env_checker=True)
        env.reset(seed=5 + i)
        want.append(sum(float(env.step(int(draws[t, i]))[1]) for t in range(10)))
    np.testing.assert_allclose(got, want)


def test_lstm_ppo_myopic_beats_a_random_recommender_on_the_oracle_id(ray_local):
    """The paper's myopic agent (γ = 0, LSTM policy): 6 iterations x 1,000 steps, greedy on 100 fresh users.

    RLlib's seeded run is reproducible on one machine; at this budget it gave a paired difference of 1.20 ± 0.17
    (trained 7.32 vs random 6.12; benchmarks/RESULTS.md, "RLlib"). The check asks for a difference above 3 standard
    errors of the paired difference (one-sided p < 0.002 for no improvement) over the *same* 100 users, and a
    trained mean within the return's range.
    """
    from examples.rllib_ppo import train

    res = train(ORACLE, gamma=0.0, iterations=6, eval_episodes=100, batch=1000, num_envs=10, seed=0)
    assert res["env_steps"] == 6000 and len(res["train_return_per_iteration"]) == 6
    assert all(math.isfinite(r) for r in res["train_return_per_iteration"])
    trained, rand, diff = res["trained"], res["random"], res["paired_difference"]
    assert trained["n"] == rand["n"] == 100
    # the per-step reward is a cosine (engagement x_tᵀu_t), so a 10-step return lies in [-10, 10]
    assert -10.0 <= rand["mean"] <= 10.0 and -10.0 <= trained["mean"] <= 10.0
    assert diff["mean"] == pytest.approx(trained["mean"] - rand["mean"])
    assert diff["mean"] > 3 * diff["se"] > 0
