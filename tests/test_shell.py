"""The generic env shell (recsim_envs.utils.shell): ``reward_weights=`` for every family, its paper-name aliases."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recsim_envs  # noqa: F401

SMALL = {
    "recsim_envs/HarmMitigation-v0": dict(n_items=30, n_users=10, horizon=5),
    "recsim_envs/CooperationRewiring-v0": dict(n_nodes=12, degree=4, max_steps=200),
}
#: id -> (reward_weights, the same weights through the family's paper names)
ALIASES = {
    "recsim_envs/PreferenceShift-v0": ([1.0, 0.5, -0.25], dict(nu_initial=0.5, nu_natural=-0.25)),
    "recsim_envs/PreferenceShiftLearned-v0": ([1.0, 2.0, 0.5], dict(nu_initial=2.0, nu_natural=0.5)),
    "recsim_envs/HarmMitigation-v0": ([1.0, 7.0], dict(lam=7.0)),
    "recsim_envs/CooperationRewiring-v0": ([0.0, 1.0], dict(reward_mode="rewires")),
}


def _actions(env, rng, n):
    masks = getattr(env.unwrapped, "action_masks", None)
    if masks is None:
        return env.action_space.sample()
    m = np.atleast_2d(masks())
    a = np.array([rng.choice(np.flatnonzero(row)) for row in m])
    return a if n else int(a[0])


@pytest.mark.parametrize("env_id", sorted(ALIASES))
def test_reward_weights_equal_their_paper_name_alias(env_id):
    weights, alias = ALIASES[env_id]
    kw = SMALL.get(env_id, {})
    a = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", reward_weights=weights, **kw)
    b = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **alias, **kw)
    a.reset(seed=4)
    b.reset(seed=4)
    a.action_space.seed(0)
    rng = np.random.default_rng(0)
    for _ in range(6):
        act = _actions(a, rng, 3)
        _, ra, *_, ia = a.step(act)
        _, rb, *_ = b.step(act)
        np.testing.assert_array_equal(ra, rb)
        # and the scalar reward is the weighted sum of the objectives (float32 in info)
        np.testing.assert_allclose(ra, ia["objectives"].astype(float) @ np.asarray(weights), rtol=0, atol=1e-5)


@pytest.mark.parametrize("env_id", sorted(ALIASES))
def test_reward_weights_and_an_alias_together_are_refused(env_id):
    weights, alias = ALIASES[env_id]
    with pytest.raises(ValueError, match="reward_weights"):
        gym.make(env_id, reward_weights=weights, **alias, **SMALL.get(env_id, {}))
    with pytest.raises(ValueError, match=r"reward_weights must have shape"):
        gym.make(env_id, reward_weights=weights + [1.0], **SMALL.get(env_id, {}))


def test_single_env_reward_weights_match_the_vector_env():
    kw = dict(reward_weights=[0.0, 1.0], **SMALL["recsim_envs/HarmMitigation-v0"])
    single = gym.make("recsim_envs/HarmMitigation-v0", **kw)
    venv = gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=1, vectorization_mode="vector_entry_point", **kw)
    single.reset(seed=9)
    venv.reset(seed=9)
    for a in [0, 3, 1, 2]:
        _, r1, *_, info = single.step(a)
        _, rv, *_ = venv.step([a])
        assert r1 == rv[0] == -info["harm"]
