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


def test_batched_lstm_policy_matches_a_one_user_at_a_time_greedy_rollout():
    """RLlibPolicy (state carried per user through the batched rollout engine) vs a hand-written loop that runs each
    user alone, carrying the LSTM state itself; random weights, so the greedy action varies with obs and state."""
    import torch
    from ray.rllib.core.columns import Columns

    from examples.rllib_ppo import policy_returns, ppo_config

    module = ppo_config(ORACLE, 0.0).get_rl_module_spec(env=gym.make(ORACLE, disable_env_checker=True)).build()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # RLlib starts the policy head near zero (argmax always 0): draw every weight instead
        for p in module.parameters():
            p.normal_(0.0, 0.5, generator=gen)
    got = policy_returns(module, ORACLE, episodes=4, seed=11)
    want, actions = [], set()
    for i in range(4):
        env = gym.make(ORACLE, disable_env_checker=True)
        obs, _ = env.reset(seed=11 + i)
        state = {k: torch.as_tensor(v)[None] for k, v in module.get_initial_state().items()}
        total, done = 0.0, False
        while not done:
            batch = {Columns.OBS: torch.as_tensor(obs, dtype=torch.float32)[None, None], Columns.STATE_IN: state}
            with torch.no_grad():
                out = module.forward_inference(batch)
            state = out[Columns.STATE_OUT]
            a = int(out[Columns.ACTION_DIST_INPUTS][0, 0].argmax())
            actions.add(a)
            obs, r, term, trunc, _ = env.step(a)
            total += float(r)
            done = term or trunc
        want.append(total)
    assert len(actions) > 1  # the greedy action depends on the observation and the carried state
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_lstm_ppo_myopic_beats_a_random_recommender_on_the_oracle_id(ray_local):
    """The paper's myopic agent (γ = 0, LSTM policy): 6 iterations x 1,000 steps, greedy on 100 fresh users.

    RLlib's seeded run is reproducible on one machine; at this budget it gave a paired difference of 1.59 ± 0.17
    (trained 7.32 vs random 5.73; seeds 1 and 2: 1.53 ± 0.17, 1.69 ± 0.18; benchmarks/RESULTS.md, "RLlib"). The
    check asks for a difference above 3 standard errors of the paired difference (one-sided p < 0.002 for no
    improvement) over the *same* 100 users, and means within the return's range.
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


@pytest.mark.parametrize(
    "kwargs, match",
    [({"iterations": 0}, "iterations must be an integer in \\[1"), ({"eval_episodes": 1}, "eval_episodes must be")],
)
def test_train_rejects_a_budget_without_a_result(kwargs, match):
    from examples.rllib_ppo import train

    with pytest.raises(ValueError, match=match):
        train(ORACLE, gamma=0.0, **{"iterations": 1, **kwargs})
