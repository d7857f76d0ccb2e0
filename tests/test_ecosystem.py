"""Every id works unchanged with the libraries researchers use: MO-Gymnasium's episode statistics (NEXT_STEP
autoreset), SB3 / rl-zoo3 on the multi-objective ids (``weights=``), gymnasium's RecordVideo."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import recsim_envs

MO_IDS = [i for i in recsim_envs.env_ids() if i.endswith("MO-v0")]
#: small but faithful settings so each MO id finishes a few episodes quickly
SMALL = {
    "recsim_envs/CooperationRewiringMO-v0": dict(n_nodes=10, degree=4, beta=0.1, max_steps=60),
    "recsim_envs/RecommenderCompetitionMO-v0": dict(n_nodes=20, degree=4, beta=0.1, max_steps=80),
    "recsim_envs/HarmMitigationMO-v0": dict(n_items=30, n_users=12, horizon=7),
}
#: MO id -> (weights that reproduce the scalar id's default reward, that scalar id)
SCALAR_TWIN = {
    "recsim_envs/PreferenceShiftMO-v0": ([1.0, 0.0, 0.0], "recsim_envs/PreferenceShift-v0"),
    "recsim_envs/PreferenceShiftLearnedMO-v0": ([1.0, 0.0, 0.0], "recsim_envs/PreferenceShiftLearned-v0"),
    "recsim_envs/CooperationRewiringMO-v0": ([1.0, 0.0], "recsim_envs/CooperationRewiring-v0"),
    "recsim_envs/RecommenderCompetitionMO-v0": ([1.0, 0.0, 0.0], "recsim_envs/RecommenderCompetition-v0"),
    "recsim_envs/HarmMitigationMO-v0": ([1.0, 100.0], "recsim_envs/HarmMitigation-v0"),  # click - λ harm, λ = 100
}


def _fixed_actions(venv) -> np.ndarray:
    """A deterministic, always-valid batch of actions (first valid choice on masked envs, else all zeros)."""
    base = venv.unwrapped
    if hasattr(base, "action_masks"):
        return np.argmax(base.action_masks(), axis=1)
    return np.zeros((venv.num_envs, *venv.single_action_space.shape), dtype=venv.single_action_space.dtype)


def _episodes_by_hand(env_id: str, n: int, per_user: int) -> list[list[tuple[np.ndarray, int]]]:
    """Per-user (return, length) of the first episodes of the SAME_STEP env, summed here from raw rewards."""
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **SMALL.get(env_id, {}))
    venv.reset(seed=5)
    acc = np.zeros((n, venv.unwrapped.reward_dim))
    length = np.zeros(n, dtype=int)
    eps: list[list[tuple[np.ndarray, int]]] = [[] for _ in range(n)]
    for _ in range(2000):
        _, r, te, tr, _ = venv.step(_fixed_actions(venv))
        acc += r
        length += 1
        for u in np.flatnonzero(te | tr):
            eps[u].append((acc[u].copy(), int(length[u])))
            acc[u], length[u] = 0, 0
        if min(len(e) for e in eps) >= per_user:
            return eps
    raise AssertionError(f"{env_id}: fewer than {per_user} episodes per user in 2000 steps")


@pytest.mark.parametrize("env_id", MO_IDS)
def test_mo_gymnasium_episode_statistics_are_right_with_next_step_autoreset(env_id):
    from mo_gymnasium.wrappers.vector import MORecordEpisodeStatistics

    n, per_user = 3, 2
    expected = _episodes_by_hand(env_id, n, per_user)
    venv = gym.make_vec(
        env_id,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.NEXT_STEP,
        **SMALL.get(env_id, {}),
    )
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    venv = MORecordEpisodeStatistics(venv)
    venv.reset(seed=5)
    got: list[list[tuple[np.ndarray, int]]] = [[] for _ in range(n)]
    for _ in range(4000):
        _, _, _, _, info = venv.step(_fixed_actions(venv))
        if "episode" in info:
            for u in np.flatnonzero(info["_episode"]):
                got[u].append((info["episode"]["r"][u].copy(), int(info["episode"]["l"][u])))
        if min(len(e) for e in got) >= per_user:
            break
    for u in range(n):
        for (r_exp, l_exp), (r_got, l_got) in zip(expected[u][:per_user], got[u][:per_user]):
            assert l_got == l_exp, (env_id, u)
            np.testing.assert_allclose(r_got, r_exp, rtol=1e-5, atol=1e-5, err_msg=f"{env_id} user {u}")


def test_next_step_autoreset_returns_last_observation_then_a_zero_reward_reset_step():
    kw = dict(n_items=30, n_users=12, horizon=3)
    same = gym.make_vec("recsim_envs/HarmMitigation-v0", num_envs=2, vectorization_mode="vector_entry_point", **kw)
    nxt = gym.make_vec(
        "recsim_envs/HarmMitigation-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        autoreset_mode="NextStep",
        **kw,
    )
    o_same, _ = same.reset(seed=1)
    o_next, _ = nxt.reset(seed=1)
    a = np.zeros((2, 1), dtype=np.int64)
    for _ in range(2):
        same.step(a)
        nxt.step(a)
    o_same, r_same, te_same, _, info = same.step(a)  # episode ends: SAME_STEP already shows the next start
    o_next, r_next, te_next, _, _ = nxt.step(a)
    assert te_same.all() and te_next.all()
    np.testing.assert_array_equal(o_next, info["final_obs"])
    np.testing.assert_array_equal(r_next, r_same)
    o_next, r_next, te_next, tr_next, _ = nxt.step(a)  # the reset step: next episode's start, reward 0
    np.testing.assert_array_equal(o_next, o_same)
    assert not te_next.any() and not tr_next.any() and np.all(r_next == 0)


def test_autoreset_mode_rejects_unknown_values():
    with pytest.raises(ValueError, match="autoreset_mode"):
        gym.make_vec(
            "recsim_envs/PreferenceShift-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            autoreset_mode="sometimes",
        )


@pytest.mark.parametrize("env_id", sorted(SCALAR_TWIN))
def test_weights_scalarise_mo_id_to_its_scalar_twin(env_id):
    weights, scalar_id = SCALAR_TWIN[env_id]
    kw = SMALL.get(env_id, {})
    mo = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point", weights=weights, **kw)
    plain = gym.make_vec(scalar_id, num_envs=4, vectorization_mode="vector_entry_point", **kw)
    mo.reset(seed=3)
    plain.reset(seed=3)
    for _ in range(12):
        a = _fixed_actions(plain)
        _, r_mo, _, _, info = mo.step(a)
        _, r_plain, _, _, _ = plain.step(a)
        assert np.ndim(r_mo) == 1
        np.testing.assert_allclose(r_mo, r_plain, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(info["vector_reward"] @ np.asarray(weights), r_mo)
    single = gym.make(env_id, weights=weights, **kw)
    single.reset(seed=0)
    _, r, *_ = single.step(_fixed_actions(plain)[0])
    assert isinstance(r, float)


def test_weights_must_match_the_number_of_objectives():
    with pytest.raises(ValueError, match="weights"):
        gym.make("recsim_envs/HarmMitigationMO-v0", weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="weights"):
        gym.make_vec(
            "recsim_envs/PreferenceShift-v0", num_envs=2, vectorization_mode="vector_entry_point", weights=[1.0]
        )


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("recsim_envs/PreferenceShiftOracle-v0", {}),
        ("recsim_envs/HarmMitigation-v0", dict(n_items=30, n_users=12, horizon=6)),
        ("recsim_envs/CooperationRewiring-v0", dict(n_nodes=10, degree=4, beta=0.1, max_steps=30)),
    ],
    ids=["preference", "harm", "coop"],
)
def test_record_video_records_a_whole_episode_of_every_family(env_id, kwargs, tmp_path):
    pytest.importorskip("moviepy", reason="moviepy is in the [dev] extra")
    from gymnasium.wrappers import RecordVideo

    env = RecordVideo(
        gym.make(env_id, render_mode="rgb_array", **kwargs), str(tmp_path), episode_trigger=lambda e: e == 0
    )
    env.reset(seed=0)
    env.action_space.seed(0)
    done, steps = False, 0
    while not done:
        masks = getattr(env.unwrapped, "action_masks", None)
        _, _, term, trunc, _ = env.step(int(np.argmax(masks())) if masks else env.action_space.sample())
        done, steps = term or trunc, steps + 1
    shapes = {f.shape for f in env.recorded_frames}
    assert len(env.recorded_frames) == steps + 1 and len(shapes) == 1  # one fixed frame size, whatever t
    env.close()  # encodes the video (moviepy refuses frames of different sizes)
    videos = list(tmp_path.glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


def test_pi_rnd_flat_slate_is_the_last_preference_action_and_drives_the_natural_shift():
    from recsim_envs.preference.world import FLAT_ACTION, N_BINS

    env = gym.make("recsim_envs/PreferenceShift-v0")
    cfg = env.unwrapped.config
    assert env.action_space.n == FLAT_ACTION + 1 == 7
    np.testing.assert_allclose(cfg.tables["slates"][FLAT_ACTION], np.full(N_BINS, 1.0 / N_BINS))
    # actions 0-5 keep the paper's slate means
    np.testing.assert_array_equal(cfg.tables["slate_means"][:FLAT_ACTION], np.arange(6) * 60.0)
    # playing it moves users with the natural-shift transition the safe-shift metric is defined by
    np.testing.assert_allclose(cfg.tables["transition"][FLAT_ACTION], cfg.oracle.transition_natural, atol=1e-12)
    env.reset(seed=0)
    _, _, _, _, info = env.step(FLAT_ACTION)
    assert info["slate"] == FLAT_ACTION
