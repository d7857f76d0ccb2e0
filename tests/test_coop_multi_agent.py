"""The PettingZoo multi-agent competition env (recsim_envs.coop.multi_agent)."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from baselines.coop import RulePolicy
from recsim_envs.coop import kernel as K
from recsim_envs.coop.multi_agent import env, raw_env
from recsim_envs.coop.render import _RECS
from recsim_envs.coop.simulator import simulate

MODEL = dict(n_nodes=30, degree=8, beta=0.05, W=1.0, W2=0.08, max_steps=3000, seed_fraction=0.2)
RULES = {"aligned": "GOOD", "engagement": "RANDOM"}


def _play(e, choose):
    """Run one episode; ``choose(agent, obs)`` gives the action of a live agent. Returns per-agent returns."""
    returns = {a: 0.0 for a in e.possible_agents}
    for agent in e.agent_iter():
        obs, reward, term, trunc, _ = e.last()
        returns[agent] += reward
        e.step(None if term or trunc else choose(agent, obs))
    return returns


def test_pettingzoo_api_test():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # style hints (Dict observation, agent names), not failures
        api_test(env(**MODEL), num_cycles=300)
        api_test(env(recommenders=("a_0", "a_1", "a_2"), exclusive=False, n_nodes=20, degree=4, max_steps=800,
                     seed_fraction=0.3), num_cycles=300)  # fmt: skip


def test_pettingzoo_seed_test_and_reset_seed_fixes_the_episode():
    seed_test(lambda: env(**MODEL), num_cycles=300)
    outcomes = []
    for _ in range(2):
        e = raw_env(**MODEL)
        e.reset(seed=11)
        rng = np.random.default_rng(0)
        _play(e, lambda a, o, rng=rng: int(rng.choice(np.flatnonzero(o["action_mask"]))))
        outcomes.append((e.batch.rec[0].copy(), e.batch.strat[0].copy(), int(e.batch.cnt[0, K.C_T])))
    for x, y in zip(*outcomes):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("seed", range(8))
def test_two_heuristic_agents_reproduce_the_simulator_on_the_same_seed(seed):
    """GOOD vs RANDOM agents (non-exclusive) answering through the agent interface with the simulator's rule
    draws: the whole trajectory — final shares, strategies' outcome, #rewires, steps — equals the simulator's
    replica seeded alike, where the same two rules are compiled into the kernel."""
    e = raw_env(recommenders=tuple(RULES), exclusive=False, **MODEL)
    e.reset(seed=seed)
    _play(e, lambda a, o: e.rule_action(RULES[a]))
    sim = simulate("NO_MED", 1, seed, contenders=tuple(RULES.values()), **MODEL)
    ours = e.batch.metrics()
    for key in ("shares", "cooperator_fraction", "rewires", "rewires_done", "steps", "recommender_changes"):
        np.testing.assert_array_equal(ours[key], sim[key], err_msg=key)


def test_exclusive_heuristic_agents_follow_the_simulator_in_distribution():
    """With exclusive rules the simulator spends draws on rewires that have no candidate (they never reach an
    agent), so trajectories differ; the law must not. Kernel-rule GOOD_X vs RANDOM_X agents (baselines.coop.RulePolicy
    bound to the multi-agent env) over 100 seeds
    vs the simulator over 400 replicas (half the users seeded, where the rules matter for cooperation: putting
    BAD in GOOD's seat moves the final cooperator fraction by z ≈ −4 here), two-sample z-tests on the final
    GOOD_X share and cooperator fraction."""
    model = {**MODEL, "seed_fraction": 0.5}
    pols = {a: RulePolicy(r) for a, r in RULES.items()}
    ours = []
    for s in range(100):
        e = raw_env(recommenders=tuple(RULES), **model)
        e.reset(seed=50_000 + s)
        for p in pols.values():
            p.bind(e)
        _play(e, lambda a, o: pols[a].act(o))
        ours.append((e.batch.reccount[0, 1], e.batch.msize[0, 1]))
    ours = np.array(ours) / model["n_nodes"]
    sim = simulate("NO_MED", 400, 7, contenders=("GOOD_X", "RANDOM_X"), **model)
    for k, theirs in enumerate((sim["shares"][:, 1], sim["cooperator_fraction"])):
        z = (ours[:, k].mean() - theirs.mean()) / np.sqrt(ours[:, k].var() / len(ours) + theirs.var() / len(theirs))
        assert abs(z) < 3.0, (k, ours[:, k].mean(), theirs.mean(), z)


def _own_state(e, j):
    """(share of users, fraction of all users that are j's cooperating users) from the batch state."""
    own = e.batch.rec[0] == j
    n = len(own)
    return own.sum() / n, (own & (e.batch.strat[0] == 1)).sum() / n


def test_reward_menu_returns_match_their_definitions():
    """adoption → final − initial share; cooperation → final − initial (own cooperating users)/N; engagement →
    turns/max_steps; each computed here from the state, not from the env's bookkeeping."""
    for seed in range(4):
        for w_name, comp in (("adoption", 0), ("cooperation", 1), ("engagement", 2)):
            w = np.eye(3)[comp]
            e = raw_env(recommenders=tuple(RULES), reward_weights={a: w for a in RULES}, **MODEL)
            e.reset(seed=seed)
            start = {a: _own_state(e, j) for j, a in enumerate(RULES, 1)}
            turns = dict.fromkeys(RULES, 0)
            final = {}

            def choose(a, o, turns=turns):
                turns[a] += 1
                return int(np.flatnonzero(o["action_mask"])[0])

            returns = {a: 0.0 for a in RULES}
            for agent in e.agent_iter():
                obs, reward, term, trunc, _ = e.last()
                returns[agent] += reward
                if term or trunc:
                    final[agent] = _own_state(e, e._index[agent])
                e.step(None if term or trunc else choose(agent, obs))
            for a in RULES:
                expected = (
                    final[a][comp] - start[a][comp] if comp < 2 else turns[a] / MODEL["max_steps"]
                )  # fmt: skip
                assert returns[a] == pytest.approx(expected, abs=1e-12), (seed, w_name, a)


def test_observation_is_the_agents_own_view_and_mask_is_exact():
    e = raw_env(recommenders=tuple(RULES), **MODEL)
    e.reset(seed=5)
    rng = np.random.default_rng(1)
    checked = 0
    for agent in e.agent_iter():
        obs, _, term, trunc, _ = e.last()
        if term or trunc:
            e.step(None)
            continue
        b = e.batch
        j = e._index[agent]
        adj = b.adjacency(0).astype(bool)
        own = b.rec[0] == j
        a_node, b_node = int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])
        assert own[a_node] and obs["focused_node"] == a_node and obs["dropped_node"] == b_node
        expected = own & ~adj[a_node]
        expected[a_node] = False
        np.testing.assert_array_equal(obs["action_mask"], expected.astype(np.int8))
        np.testing.assert_array_equal(obs["adjacency"], (adj & (own[:, None] | own[None, :])).astype(np.int8))
        visible = own | adj[own].any(0)
        np.testing.assert_array_equal(obs["node_features"][:, 3], visible)
        np.testing.assert_array_equal(obs["node_features"][:, 0], b.strat[0] * visible)
        for other in e.agents:
            if other != agent:
                assert not e.observe(other)["action_mask"].any()
        checked += 1
        e.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    assert checked > 5


def test_agent_without_users_is_terminated_and_removed():
    """W2 high and a tiny seed set: some agent loses all its users before the end in some episode."""
    seen = 0
    for seed in range(30):
        e = raw_env(recommenders=tuple(RULES), **{**MODEL, "W2": 1.0})
        e.reset(seed=seed)
        for agent in e.agent_iter():
            obs, _, term, trunc, info = e.last()
            if term and e.batch.cnt[0, K.C_STATUS] in (K.RUNNING, K.PENDING):
                assert info["share"] == 0.0 and e.batch.reccount[0, e._index[agent]] == 0
                seen += 1
            e.step(None if term or trunc else int(np.flatnonzero(obs["action_mask"])[0]))
        assert e.agents == []
    assert seen > 0


def test_invalid_actions_and_bad_kwargs_raise():
    e = raw_env(recommenders=tuple(RULES), invalid_action="raise", **MODEL)
    e.reset(seed=0)
    obs = e.observe(e.agent_selection)
    with pytest.raises(ValueError, match="masked"):
        e.step(int(obs["focused_node"]))
    for bad in (-1, MODEL["n_nodes"], 2**70, 1.5, "3", float("nan"), float("inf"), [1, 2]):
        with pytest.raises(ValueError, match="action"):
            e.step(bad)
    for kwargs, match in (
        (dict(recommenders=("a", "a")), "distinct"),
        (dict(recommenders="ab"), "recommenders"),
        (dict(recommenders=[f"r{i}" for i in range(200)]), "1 to 126"),
        (dict(seed_fraction=0.01), "seed_fraction"),
        (dict(reward_weights=[1, 2]), "reward_weights"),
        (dict(reward_weights={"nobody": [1, 0, 0]}), "unknown agents"),
        (dict(exclusive=1), "exclusive"),
        (dict(default_rule="EXTERNAL"), "default_rule"),
        (dict(invalid_action="ignore"), "invalid_action"),
    ):
        with pytest.raises(ValueError, match=match):
            raw_env(**{**MODEL, **kwargs})


def test_render_colours_users_by_recommender():
    e = raw_env(recommenders=tuple(RULES), render_mode="rgb_array", **MODEL)
    e.reset(seed=2)
    frame = e.render()
    single = gym.make("recsim_envs/RecommenderCompetition-v0", render_mode="rgb_array")
    single.reset(seed=0)
    assert frame.shape == single.render().shape and frame.dtype == np.uint8  # one fixed frame size per family
    for j in (1, 2):  # every agent with users shows its colour (rings and legend; the frame is resampled)
        if e.batch.reccount[0, j]:
            assert np.all(np.abs(frame.astype(int) - _RECS[j].astype(int)) <= 12, axis=-1).any()
    text = raw_env(recommenders=tuple(RULES), render_mode="ansi", **MODEL)
    text.reset(seed=2)
    assert "aligned=" in text.render() and "engagement=" in text.render()


def test_agent_view_return_is_the_agents_adoption_return():
    """One seat as a Gymnasium env, the other agent played by a fixed policy: the episode return equals the
    seat's share at the end of its episode minus its initial share (adoption reward telescopes)."""
    from gymnasium.utils.env_checker import check_env

    from recsim_envs.coop.multi_agent import AgentView

    other = RulePolicy("RANDOM")
    me = RulePolicy("GOOD")
    view = AgentView("aligned", {"engagement": other}, recommenders=tuple(RULES), **MODEL)
    other.bind(view.aec)
    me.bind(view.aec)
    for seed in range(5):
        obs, info = view.reset(seed=seed)
        start = info["share"]
        assert start == pytest.approx(3 / 30)  # 20 % of 30 users seeded, split evenly
        ret, done = 0.0, False
        while not done:
            assert view.action_masks().any() and view.action_masks()[obs["focused_node"]] == 0
            obs, r, term, trunc, info = view.step(me.act(obs))
            ret += r
            done = term or trunc
        n_own = int((view.aec.batch.rec[0] == 1).sum())
        assert ret == pytest.approx(n_own / 30 - start, abs=1e-12)
        assert info["share"] == pytest.approx(n_own / 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(AgentView("aligned", {"engagement": other}, recommenders=tuple(RULES), **MODEL),
                  skip_render_check=True)  # fmt: skip
    with pytest.raises(ValueError, match="missing"):
        AgentView("aligned", {}, recommenders=tuple(RULES), **MODEL)
