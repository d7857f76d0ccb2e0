"""Registry-driven checks: every registered recsim_envs id, in its registered configuration.

Each family's env must pass these without per-env special cases; a new id is covered as soon as it registers.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env as gym_check_env

import recsim_envs

ALL_IDS = recsim_envs.env_ids()

# Warnings gymnasium's checker may legitimately raise for our envs; anything else fails the test.
ALLOWED_WARNINGS: list[str] = []
# MO ids (reward_dim > 1) return a vector reward, which the scalar checker notes; nothing else is allowed.
ALLOWED_WARNINGS_MO = [r"reward returned by `step\(\)` must be a float"]


def _policy_action(env, rng: np.random.Generator):
    """A random *valid* action: masked envs are sampled from their action mask."""
    base = env.unwrapped
    if hasattr(base, "action_masks"):
        mask = np.asarray(base.action_masks(), dtype=bool)
        return int(rng.choice(np.flatnonzero(mask)))
    space = env.action_space
    space.seed(int(rng.integers(2**31)))
    return space.sample()


def _rollout(env_id: str, seed: int, steps: int = 25):
    env = gym.make(env_id)
    rng = np.random.default_rng(seed + 1000)
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    for _ in range(steps):
        a = _policy_action(env, rng)
        obs, r, term, trunc, info = env.step(a)
        out.append((a, obs, r, term, trunc, info))
        if term or trunc:
            obs, info = env.reset()
            out.append((obs, info))
    env.close()
    return out


def _assert_tree_equal(a, b, path="root"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys differ {set(a) ^ set(b)}"
        for k in a:
            _assert_tree_equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_tree_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, (np.ndarray, np.generic, float, int, bool)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id).unwrapped
    allowed = ALLOWED_WARNINGS + (ALLOWED_WARNINGS_MO if getattr(env, "reward_dim", 1) > 1 else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env, skip_render_check=True)
    for w in caught:
        msg = str(w.message)
        assert any(re.search(p, msg) for p in allowed), f"unexpected warning: {msg}"
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_check_env(env_id):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id)
    if getattr(env.unwrapped, "reward_dim", 1) != 1:
        # MO ids return a vector reward; SB3 is run on their scalar twin (same env class, tested above).
        assert env.unwrapped.reward_space.shape == (env.unwrapped.reward_dim,)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sb3_checker.check_env(env.unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_rollouts_match(env_id):
    a = _rollout(env_id, seed=7)
    b = _rollout(env_id, seed=7)
    _assert_tree_equal(a, b)
    c = _rollout(env_id, seed=8)
    with pytest.raises(AssertionError):
        _assert_tree_equal(a, c)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_pickle_round_trip(env_id):
    env = gym.make(env_id)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        env.step(_policy_action(env, rng))
    clone = pickle.loads(pickle.dumps(env))
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(5):
        ra = env.step(_policy_action(env, rng_a))
        rb = clone.step(_policy_action(clone, rng_b))
        _assert_tree_equal(ra, rb)
        if ra[2] or ra[3]:
            break


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_spec_json_round_trip(env_id):
    spec = gym.spec(env_id)
    text = spec.to_json()
    json.loads(text)  # plain JSON
    again = EnvSpec.from_json(text)
    assert again == spec
    assert spec.vector_entry_point is not None, "every id needs a native vector_entry_point"


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_modes(env_id):
    probe = gym.make(env_id)
    modes = probe.metadata.get("render_modes", [])
    probe.close()
    assert "rgb_array" in modes and "ansi" in modes
    for mode in modes:
        env = gym.make(env_id, render_mode=mode)
        env.reset(seed=0)
        env.step(_policy_action(env, np.random.default_rng(0)))
        frame = env.render()
        if mode == "rgb_array":
            assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
            assert frame.dtype == np.uint8 and frame.std() > 0
        elif mode == "ansi":
            assert isinstance(frame, str) and len(frame) > 0 and "\n" not in frame.strip()
        env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_make_vec_matches_single_envs(env_id):
    n, seed, steps = 3, 11, 12
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    assert "autoreset_mode" in venv.metadata
    singles = [gym.make(env_id) for _ in range(n)]
    vobs, vinfo = venv.reset(seed=seed)
    sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    _compare_obs(vobs, sobs)
    rng = np.random.default_rng(5)
    for _ in range(steps):
        actions = [_policy_action(e, rng) for e in singles]
        vres = venv.step(_stack_actions(actions))
        sres = [e.step(a) for e, a in zip(singles, actions)]
        vobs, vrew, vterm, vtrunc, vinfo = vres
        np.testing.assert_allclose(vrew, np.stack([r[1] for r in sres]), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(vterm, [r[2] for r in sres])
        np.testing.assert_array_equal(vtrunc, [r[3] for r in sres])
        if np.any(vterm | vtrunc):
            break  # autoreset conventions differ from single envs past this point
        _compare_obs(vobs, [r[0] for r in sres])
        for key, val in sres[0][4].items():
            if key in vinfo and isinstance(val, (int, float, np.number, np.ndarray)):
                np.testing.assert_allclose(
                    np.asarray(vinfo[key], dtype=float),
                    np.stack([np.asarray(r[4][key], dtype=float) for r in sres]),
                    rtol=1e-10,
                    atol=1e-12,
                    err_msg=key,
                )
    venv.close()


def _stack_actions(actions):
    return np.stack([np.asarray(a) for a in actions])


def _compare_obs(vobs, sobs):
    if isinstance(vobs, dict):
        for k in vobs:
            np.testing.assert_allclose(vobs[k], np.stack([o[k] for o in sobs]), rtol=1e-10, atol=1e-12, err_msg=k)
    else:
        np.testing.assert_allclose(vobs, np.stack(sobs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_make_vec_accepts_one_seed_per_env(env_id):
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    obs_list, _ = venv.reset(seed=[5, 9])
    singles = [gym.make(env_id) for _ in range(2)]
    _compare_obs(obs_list, [e.reset(seed=s)[0] for e, s in zip(singles, (5, 9))])
    venv.close()
