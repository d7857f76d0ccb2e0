"""agents/gnn.py: the GNN ranking policy on synthetic graph observations (no cooperation env needed).

Checks: any N with the same weights, masked nodes get probability exactly zero (with and without
MaskablePPO's own masks), node scores are permutation-equivariant and the value invariant, an edge list gives
the same scores as the adjacency, the attention module reads the adjacency (the MLP module does not), weights
transfer from N = 10 to N = 30, save/load round trip, seeding, validation errors, and MaskablePPO learning a
graph-dependent ranking task in a tiny budget (also at a graph size it never saw).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib import MaskablePPO

from agents.gnn import (
    GNNRankingPolicy,
    RankingConfig,
    RankingNet,
    graph_tensors,
    resolve_graph_keys,
    transfer_policy_weights,
)


# -- synthetic observations ----------------------------------------------------------------------------------
def random_graph_obs(n: int, rng: np.random.Generator, p_edge: float = 0.3) -> dict[str, np.ndarray]:
    """One observation shaped like CooperationRewiring's: strategies, degree/(N-1), adjacency, focus, mask."""
    upper = np.triu(rng.random((n, n)) < p_edge, 1)
    adj = (upper | upper.T).astype(np.int8)
    deg = adj.sum(1)
    strategy = rng.integers(0, 2, n)
    focus = int(rng.integers(n))
    mask = adj[focus] == 0
    mask[focus] = False
    if not mask.any():  # keep at least one valid target
        j = (focus + 1) % n
        adj[focus, j] = adj[j, focus] = 0
        mask[j] = True
        deg = adj.sum(1)
    feats = np.stack([strategy, deg / (n - 1)], axis=1).astype(np.float32)
    nbrs = np.flatnonzero(adj[focus])
    dropped = int(rng.choice(nbrs)) if len(nbrs) else (focus + 1) % n
    return {
        "node_features": feats,
        "adjacency": adj,
        "focused_node": np.int64(focus),
        "dropped_node": np.int64(dropped),
        "action_mask": mask.astype(np.int8),
        "time": rng.random(1).astype(np.float32),
    }


def graph_space(n: int) -> spaces.Dict:
    """The layout of CooperationRewiring's observation."""
    return spaces.Dict(
        {
            "node_features": spaces.Box(0.0, 1.0, (n, 2), np.float32),
            "adjacency": spaces.Box(0, 1, (n, n), np.int8),
            "focused_node": spaces.Discrete(n),
            "dropped_node": spaces.Discrete(n),
            "action_mask": spaces.Box(0, 1, (n,), np.int8),
            "time": spaces.Box(0.0, 1.0, (1,), np.float32),
        }
    )


def stack(obs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([o[k] for o in obs]) for k in obs[0]}


def tensors(batch: dict[str, np.ndarray]):
    """Raw (not SB3-preprocessed) batch -> graph tensors; the focus is an index here."""
    keys = resolve_graph_keys(graph_space(batch["node_features"].shape[1]))
    return graph_tensors({k: th.as_tensor(v) for k, v in batch.items()}, keys, focus_is_onehot=False)


class TriadicClosureEnv(gym.Env):
    """Contextual bandit on a random graph: reward 1 for linking the focus to a friend of a friend that is a
    cooperator, else 0. Needs the adjacency (two hops) and the strategies, like the real rewiring decision."""

    metadata = {"render_modes": []}

    def __init__(self, n: int = 10, p_edge: float = 0.25):
        self.n, self.p_edge = n, p_edge
        self.observation_space = graph_space(n)
        self.action_space = spaces.Discrete(n)

    def _new(self):
        while True:
            o = random_graph_obs(self.n, self.np_random, self.p_edge)
            if self._good(o).any():
                return o

    @staticmethod
    def _good(o) -> np.ndarray:
        a = o["adjacency"].astype(int)
        two_hop = (a @ a)[o["focused_node"]] > 0
        return two_hop & (o["action_mask"] > 0) & (o["node_features"][:, 0] > 0.5)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.obs = self._new()
        return self.obs, {}

    def step(self, action):
        if not self.obs["action_mask"][action]:
            raise ValueError(f"action {action} is masked")
        reward = float(self._good(self.obs)[action])
        self.obs = self._new()
        return self.obs, reward, True, False, {}

    def action_masks(self) -> np.ndarray:
        return self.obs["action_mask"].astype(bool)


def model_for(n: int, seed: int = 0, **policy_kwargs) -> MaskablePPO:
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(TriadicClosureEnv, n_envs=1, seed=seed, env_kwargs={"n": n})
    return MaskablePPO(GNNRankingPolicy, env, seed=seed, policy_kwargs=policy_kwargs, n_steps=64, batch_size=32)


def probs(model: MaskablePPO, batch, action_masks=None) -> np.ndarray:
    obs_t, _ = model.policy.obs_to_tensor(batch)
    with th.no_grad():
        return model.policy.get_distribution(obs_t, action_masks).distribution.probs.numpy()


# -- tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["gat", "mlp"])
def test_same_weights_any_graph_size(module):
    net = RankingNet(RankingConfig(module=module, hidden_dim=16, heads=2, use_dropped=True, global_features=1))
    net.init_weights(th.Generator().manual_seed(0))
    rng = np.random.default_rng(1)
    for n in (5, 10, 30, 77):
        logits, value = net(tensors(stack([random_graph_obs(n, rng) for _ in range(3)])))
        assert logits.shape == (3, n) and value.shape == (3, 1)
        assert th.isfinite(logits).all() and th.isfinite(value).all()


def test_masked_nodes_get_zero_probability():
    model = model_for(12)
    rng = np.random.default_rng(2)
    batch = stack([random_graph_obs(12, rng) for _ in range(64)])
    # the observation's own mask is applied even when MaskablePPO passes none (plain predict)
    p = probs(model, batch)
    assert np.all(p[batch["action_mask"] == 0] == 0.0)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    # an external mask is intersected with the observation's
    extra = rng.random((64, 12)) < 0.5
    p2 = probs(model, batch, extra)
    allowed = (batch["action_mask"] > 0) & extra
    has_any = allowed.any(1)
    assert np.all(p2[has_any][~allowed[has_any]] == 0.0)
    # sampled actions (stochastic predict) are always valid
    for _ in range(5):
        actions, _ = model.predict(batch, deterministic=False)
        assert np.all(batch["action_mask"][np.arange(64), actions] == 1)


def test_allow_decline_unmasks_only_the_focused_node():
    """With allow_decline the focused node (= "no new link") is selectable; every other masked node stays at 0."""
    model = model_for(12, allow_decline=True)
    batch = stack([random_graph_obs(12, np.random.default_rng(12)) for _ in range(32)])
    p = probs(model, batch, batch["action_mask"].astype(bool))
    focus = np.zeros((32, 12), dtype=bool)
    focus[np.arange(32), batch["focused_node"]] = True
    assert np.all(p[focus] > 0)
    assert np.all(p[(batch["action_mask"] == 0) & ~focus] == 0.0)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    assert np.all(probs(model_for(12), batch)[focus] == 0.0)  # default: no decline
    with pytest.raises(ValueError, match="allow_decline must be True or False"):
        model_for(6, allow_decline="yes")


def test_use_obs_mask_false_leaves_masking_to_maskableppo():
    model = model_for(8, use_obs_mask=False)
    batch = stack([random_graph_obs(8, np.random.default_rng(3)) for _ in range(4)])
    assert (probs(model, batch) > 0).all()
    p = probs(model, batch, batch["action_mask"].astype(bool))
    assert np.all(p[batch["action_mask"] == 0] == 0.0)


@pytest.mark.parametrize("module,pool,share", [("gat", "sum", False), ("gat", "mean", True), ("mlp", "sum", False)])
def test_scores_permutation_equivariant_value_invariant(module, pool, share):
    config = RankingConfig(module=module, pool=pool, share_encoder=share, hidden_dim=16, heads=4, use_dropped=True)
    net = RankingNet(config)
    net.init_weights(th.Generator().manual_seed(3))
    rng = np.random.default_rng(4)
    n = 15
    obs = random_graph_obs(n, rng)
    perm = rng.permutation(n)
    inv = np.argsort(perm)
    permuted = {
        "node_features": obs["node_features"][perm],
        "adjacency": obs["adjacency"][np.ix_(perm, perm)],
        "focused_node": np.int64(inv[obs["focused_node"]]),
        "dropped_node": np.int64(inv[obs["dropped_node"]]),
        "action_mask": obs["action_mask"][perm],
        "time": obs["time"],
    }
    with th.no_grad():
        s1, v1 = net(tensors(stack([obs])))
        s2, v2 = net(tensors(stack([permuted])))
    th.testing.assert_close(s2[0], s1[0][perm], rtol=1e-5, atol=1e-6)
    th.testing.assert_close(v2, v1, rtol=1e-5, atol=1e-6)
    # and the scores are not trivially constant
    assert s1.std() > 1e-4


def test_edge_list_equals_adjacency():
    rng = np.random.default_rng(5)
    n = 9
    batch = stack([random_graph_obs(n, rng) for _ in range(4)])
    edges = np.full((4, 40, 2), -1, dtype=np.int64)  # one direction per edge, padded with -1
    both = np.full((4, 2, 80), n, dtype=np.int64)  # PyG edge_index: both directions, padded with N
    for b in range(4):
        u, v = np.nonzero(np.triu(batch["adjacency"][b], 1))
        edges[b, : len(u)] = np.stack([u, v], 1)
        both[b, :, : 2 * len(u)] = np.stack([np.r_[u, v], np.r_[v, u]])
    _, adj_d, *_ = tensors(batch)
    for name, layout, arr, shape in (("edges", "rows", edges, (40, 2)), ("edge_index", "cols", both, (2, 80))):
        space = spaces.Dict(
            {
                "node_features": spaces.Box(0.0, 1.0, (n, 2), np.float32),
                name: spaces.Box(-1, n, shape, np.int64),
                "focused_node": spaces.Discrete(n),
                "action_mask": spaces.Box(0, 1, (n,), np.int8),
            }
        )
        keys = resolve_graph_keys(space)
        assert keys.edges == name and keys.edges_layout == layout and keys.adjacency is None
        el = {k: th.as_tensor(v) for k, v in batch.items() if k != "adjacency"}
        el[name] = th.as_tensor(arr)
        assert th.equal(graph_tensors(el, keys, focus_is_onehot=False).adjacency, adj_d)


def test_attention_reads_adjacency_mlp_does_not():
    rng = np.random.default_rng(6)
    n = 12
    obs = random_graph_obs(n, rng)
    # rewire two edges among nodes other than the focus, keeping every node's degree
    other = stack([obs])
    a = other["adjacency"][0]
    f = int(obs["focused_node"])
    for _ in range(1000):
        i, j, k, m = rng.choice([x for x in range(n) if x != f], 4, replace=False)
        if a[i, j] and a[k, m] and not a[i, k] and not a[j, m]:
            a[i, j] = a[j, i] = a[k, m] = a[m, k] = 0
            a[i, k] = a[k, i] = a[j, m] = a[m, j] = 1
            break
    else:
        pytest.fail("no degree-preserving double-edge swap found")
    for module, changes in (("gat", True), ("mlp", False)):
        net = RankingNet(RankingConfig(module=module, hidden_dim=16, heads=2))
        net.init_weights(th.Generator().manual_seed(7))
        with th.no_grad():
            s1, _ = net(tensors(stack([obs])))
            s2, _ = net(tensors(other))
        assert (not th.allclose(s1, s2, atol=1e-6)) == changes, module


def test_transfer_weights_from_n10_to_n30():
    small, large = model_for(10, seed=1), model_for(30, seed=2)
    batch = stack([random_graph_obs(30, np.random.default_rng(8)) for _ in range(5)])
    obs_t, _ = large.policy.obs_to_tensor(batch)
    with th.no_grad():
        before = large.policy.node_scores(obs_t)
        transfer_policy_weights(small.policy, large.policy)
        after = large.policy.node_scores(obs_t)
        direct = small.policy.net.scores(tensors(batch))  # the N=10 network itself, on N=30 graphs
    assert not th.allclose(before, after)
    th.testing.assert_close(after, direct)
    other = model_for(10, seed=1, hidden_dim=32, heads=4)
    with pytest.raises(ValueError, match="hidden_dim"):
        transfer_policy_weights(other.policy, large.policy)


def test_save_load_round_trip(tmp_path):
    model = model_for(10, seed=3, hidden_dim=32, layers=1, pool="mean")
    model.save(tmp_path / "m.zip")
    loaded = MaskablePPO.load(tmp_path / "m.zip", device="cpu")
    assert loaded.policy.ranking_config == model.policy.ranking_config
    batch = stack([random_graph_obs(10, np.random.default_rng(9)) for _ in range(6)])
    np.testing.assert_allclose(probs(loaded, batch), probs(model, batch), rtol=1e-6)


def test_same_seed_same_weights_different_seed_different():
    w = [model_for(10, seed=s).policy.net.state_dict() for s in (4, 4, 5)]
    assert all(th.equal(w[0][k], w[1][k]) for k in w[0])
    assert not all(th.equal(w[0][k], w[2][k]) for k in w[0])
    a = model_for(10, seed=4, init_seed=11).policy.net.state_dict()
    b = model_for(10, seed=5, init_seed=11).policy.net.state_dict()
    assert all(th.equal(a[k], b[k]) for k in a)


def test_validation_errors():
    with pytest.raises(ValueError, match="module must be one of"):
        RankingConfig(module="transformer")
    with pytest.raises(ValueError, match="pool must be one of"):
        RankingConfig(pool="max")
    with pytest.raises(ValueError, match="hidden_dim must be an integer"):
        RankingConfig(hidden_dim=0)
    with pytest.raises(ValueError, match="multiple of heads"):
        RankingConfig(hidden_dim=30, heads=4)
    with pytest.raises(ValueError, match="activation"):
        RankingConfig(activation="NotALayer")
    with pytest.raises(ValueError, match="observation_space must be a gymnasium.spaces.Dict"):
        resolve_graph_keys(spaces.Box(0, 1, (3, 2)))
    with pytest.raises(ValueError, match="no focus entry"):
        resolve_graph_keys(spaces.Dict({"node_features": spaces.Box(0, 1, (3, 2))}))
    with pytest.raises(ValueError, match="unknown entries"):
        model_for(6, hidden_size=3)
    no_graph = spaces.Dict({k: v for k, v in graph_space(6).spaces.items() if k != "adjacency"})
    with pytest.raises(ValueError, match="module='gat' needs an adjacency"):
        GNNRankingPolicy(no_graph, spaces.Discrete(6), lambda _: 3e-4)
    with pytest.raises(ValueError, match="action_space must be Discrete"):
        GNNRankingPolicy(graph_space(6), spaces.Box(0, 1, (6,)), lambda _: 3e-4)
    with pytest.raises(ValueError, match="N=7 rows"):
        GNNRankingPolicy(graph_space(6), spaces.Discrete(7), lambda _: 3e-4)


def test_policy_name_for_zoo_yaml_resolves_without_a_global_alias():
    """The YAML name resolves through agents.train.resolve_policy; MaskablePPO's alias table is left alone."""
    from stable_baselines3.common.env_util import make_vec_env

    from agents.train import resolve_policy

    env = make_vec_env(TriadicClosureEnv, n_envs=1, seed=0, env_kwargs={"n": 6})
    policy = resolve_policy("GNNRankingPolicy")
    assert isinstance(MaskablePPO(policy, env, n_steps=16, batch_size=16).policy, GNNRankingPolicy)
    assert "GNNRankingPolicy" not in MaskablePPO.policy_aliases


def greedy_success(model: MaskablePPO, n: int, episodes: int, seed: int) -> tuple[float, float]:
    """Greedy success rate of the model and the success rate of a uniformly random valid choice."""
    env = TriadicClosureEnv(n)
    env.reset(seed=seed)
    obs = [env._new() for _ in range(episodes)]
    batch = stack(obs)
    actions, _ = model.predict(batch, deterministic=True)
    good = np.stack([TriadicClosureEnv._good(o) for o in obs])
    chance = (good.sum(1) / batch["action_mask"].sum(1)).mean()
    return float(good[np.arange(episodes), actions].mean()), float(chance)


def test_maskable_ppo_learns_triadic_closure_and_generalises():
    """A tiny budget (4096 steps, ~10 s) takes the greedy success rate far above chance, and the same weights
    keep most of that advantage on graphs three times larger (N = 24, never seen in training)."""
    th.set_num_threads(1)
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(TriadicClosureEnv, n_envs=8, seed=0, env_kwargs={"n": 8})
    model = MaskablePPO(
        GNNRankingPolicy,
        env,
        seed=0,
        n_steps=64,
        batch_size=128,
        n_epochs=4,
        learning_rate=1e-3,
        policy_kwargs={"hidden_dim": 32, "heads": 2, "pool": "mean"},
    )
    before, chance = greedy_success(model, 8, 400, seed=100)
    model.learn(4096)
    after, _ = greedy_success(model, 8, 400, seed=100)
    assert after > chance + 0.25 and after > before + 0.2, (before, after, chance)
    big = model_for(24, seed=0, hidden_dim=32, heads=2, pool="mean")
    transfer_policy_weights(model.policy, big.policy)
    after_big, chance_big = greedy_success(big, 24, 400, seed=200)
    assert after_big > chance_big + 0.15, (after_big, chance_big)
