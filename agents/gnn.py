"""GNN ranking policy for the rewiring recommender (Carvalho 2021 §4): one score per node, any graph size.

When a rewire is pending the recommender must name the node ``z`` that the focused node ``f`` links to. The
policy scores every node with the same small network and turns the scores into a categorical distribution over
``Discrete(N)``; invalid nodes (``f`` itself and its neighbours) get probability zero through the action mask.

Architecture (all modules act on one node at a time, so the weights do not depend on N)::

    x_i   = [node features of i (strategy, degree/(N-1)), 1[i = f], 1[i is a valid target], 1[i = b]]
    h_i   = H(x_i, A)                 per-node module: MLP, or dense masked graph attention over A + I
    h_g   = Σ_i h_i                   graph feature (``pool="mean"`` divides by N)
    s_i   = S([h_g, h_f, g, h_i])     score (logit) of node i; g = global inputs (elapsed time), if any
    V     = C([h'_g, h'_f, g])        critic on a pooled representation of its own encoder H'

(b, the node being dropped, and g are used when the observation has them, as CooperationRewiring's does.)

The scores are permutation-equivariant (relabel the nodes, the adjacency, the focus and the mask together and
the scores follow) and the value is invariant. Because no layer has a size-N dimension, a policy trained at
N = 10 runs unchanged at N = 30 (:func:`transfer_policy_weights`).

:class:`GNNRankingPolicy` plugs the network into sb3-contrib's ``MaskablePPO`` (it subclasses
``MaskableActorCriticPolicy``; the logits come from the per-node scores, not from a fixed-size linear head).
The observation is a ``Dict`` with node features, the adjacency matrix (or a fixed-size edge list, (E, 2) or
(2, E), padded with −1), the focused node and the action mask (optionally the dropped node and the time); key
names are resolved by :func:`resolve_graph_keys`. The mask in the observation is always applied, also when the
caller passes no ``action_masks`` (plain ``predict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

#: accepted observation key names, in order of preference
NODE_KEYS = ("node_features", "nodes", "features", "x")
ADJ_KEYS = ("adjacency", "adj")
EDGE_KEYS = ("edges", "edge_list", "edge_index")
FOCUS_KEYS = ("focused_node", "focused", "focus", "node", "agent_node")
DROPPED_KEYS = ("dropped_node", "dropped")
TIME_KEYS = ("time",)
MASK_KEYS = ("action_mask", "mask")
MODULES = ("gat", "mlp")
POOLS = ("sum", "mean")


# -- observation layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphKeys:
    """Which entries of the observation ``Dict`` hold what (all but ``nodes`` and ``focus`` may be ``None``).

    ``edges_layout`` is ``"rows"`` for an edge list of shape (E, 2) and ``"cols"`` for (2, E) (PyG's
    ``edge_index``). ``dropped`` is the node the focused one drops (a node indicator); ``time`` a global
    feature vector (fraction of the episode elapsed) fed to the scorer and the critic.
    """

    nodes: str
    focus: str
    mask: str | None
    adjacency: str | None = None
    edges: str | None = None
    edges_layout: str = "rows"
    dropped: str | None = None
    time: str | None = None


def _pick(space: spaces.Dict, given: str | None, candidates: Sequence[str], what: str, required: bool) -> str | None:
    if given is not None:
        if given not in space.spaces:
            raise ValueError(f"{what}_key must be one of {sorted(space.spaces)}, got {given!r}")
        return given
    for name in candidates:
        if name in space.spaces:
            return name
    if required:
        raise ValueError(
            f"observation_space has no {what} entry: expected one of {list(candidates)}, "
            f"got keys {sorted(space.spaces)}"
        )
    return None


def resolve_graph_keys(observation_space: spaces.Space, keys: dict[str, str] | None = None) -> GraphKeys:
    """Map a graph observation space onto :class:`GraphKeys`; ``ValueError`` if it is not one.

    ``keys`` may name entries explicitly (``{"nodes": "node_features", "focus": "focused", ...}``); otherwise
    the first present name of :data:`NODE_KEYS`, :data:`FOCUS_KEYS`, :data:`MASK_KEYS`, :data:`ADJ_KEYS`,
    :data:`EDGE_KEYS` is used.
    """
    if not isinstance(observation_space, spaces.Dict):
        raise ValueError(f"observation_space must be a gymnasium.spaces.Dict, got {type(observation_space).__name__}")
    keys = dict(keys or {})
    names = ("adjacency", "dropped", "edges", "focus", "mask", "nodes", "time")
    unknown = set(keys) - set(names)
    if unknown:
        raise ValueError(f"keys must use names in {list(names)}, got {sorted(unknown)}")
    sp = observation_space
    nodes = _pick(sp, keys.get("nodes"), NODE_KEYS, "nodes", True)
    node_space = sp[nodes]
    if not isinstance(node_space, spaces.Box) or len(node_space.shape) != 2:
        raise ValueError(f"observation_space[{nodes!r}] must be a Box of shape (N, F), got {node_space}")
    n = node_space.shape[0]
    edges = _pick(sp, keys.get("edges"), EDGE_KEYS, "edges", False)
    layout = "rows"
    if edges is not None:
        shape = sp[edges].shape
        if len(shape) != 2 or 2 not in shape:
            raise ValueError(f"observation_space[{edges!r}] must have shape (E, 2) or (2, E), got {shape}")
        layout = "rows" if shape[1] == 2 and (shape[0] != 2 or edges != "edge_index") else "cols"
    time_key = _pick(sp, keys.get("time"), TIME_KEYS, "time", False)
    if time_key is not None and (not isinstance(sp[time_key], spaces.Box) or len(sp[time_key].shape) != 1):
        raise ValueError(f"observation_space[{time_key!r}] must be a Box of shape (G,), got {sp[time_key]}")
    del n
    return GraphKeys(
        nodes=nodes,  # type: ignore[arg-type]
        focus=_pick(sp, keys.get("focus"), FOCUS_KEYS, "focus", True),  # type: ignore[arg-type]
        mask=_pick(sp, keys.get("mask"), MASK_KEYS, "mask", False),
        adjacency=_pick(sp, keys.get("adjacency"), ADJ_KEYS, "adjacency", False),
        edges=edges,
        edges_layout=layout,
        dropped=_pick(sp, keys.get("dropped"), DROPPED_KEYS, "dropped", False),
        time=time_key,
    )


class GraphBatch(NamedTuple):
    """A batch of graph observations as tensors (leading batch axis B)."""

    x: th.Tensor  # [B, N, F] node features
    adjacency: th.Tensor | None  # [B, N, N] bool (None if the observation has no graph)
    focus: th.Tensor  # [B] long: the node that rewires (f)
    mask: th.Tensor  # [B, N] bool: valid targets
    dropped: th.Tensor | None = None  # [B] long: the node being dropped (b)
    globals: th.Tensor | None = None  # [B, G] graph-level inputs


def _node_index(value: th.Tensor, b: int, n: int, onehot: bool | None) -> th.Tensor:
    """[B] long node indices from an index tensor ([B] or [B, 1]) or a one-hot one ([B, N])."""
    if onehot is None:
        onehot = value.dim() >= 2 and value.shape[-1] == n and n > 1
    if onehot:
        return value.reshape(b, n).argmax(dim=-1)
    return value.reshape(b).round().long()


def graph_tensors(obs: dict[str, th.Tensor], keys: GraphKeys, focus_is_onehot: bool | None = None) -> GraphBatch:
    """Batched tensors of a graph observation (see :class:`GraphBatch`); any N is accepted.

    ``obs`` holds tensors with a leading batch axis (as SB3's ``preprocess_obs`` returns them: a ``Discrete``
    focus arrives one-hot; ``focus_is_onehot=None`` decides from the shape). An edge list (``[B,E,2]`` or
    ``[B,2,E]``; entries that are negative or ≥ N are padding) becomes a symmetric dense adjacency.
    """
    x = obs[keys.nodes].float()
    if x.dim() == 2:
        x = x.unsqueeze(0)
    b, n, _ = x.shape
    focus = _node_index(obs[keys.focus], b, n, focus_is_onehot)
    dropped = None if keys.dropped is None else _node_index(obs[keys.dropped], b, n, focus_is_onehot)
    glob = None if keys.time is None else obs[keys.time].float().reshape(b, -1)
    mask = obs[keys.mask].reshape(b, n) > 0.5 if keys.mask is not None else th.ones(b, n, dtype=th.bool)
    adj = None
    if keys.adjacency is not None:
        adj = obs[keys.adjacency].reshape(b, n, n) > 0.5
    elif keys.edges is not None:
        e = obs[keys.edges]
        e = (e.reshape(b, 2, -1).transpose(1, 2) if keys.edges_layout == "cols" else e.reshape(b, -1, 2)).round().long()
        valid = (e >= 0).all(-1) & (e < n).all(-1)
        u, v = e[..., 0].clamp(0, n - 1), e[..., 1].clamp(0, n - 1)
        flat = th.zeros(b, n * n, device=x.device)
        ones = valid.float()
        flat.scatter_add_(1, u * n + v, ones)
        flat.scatter_add_(1, v * n + u, ones)
        adj = flat.view(b, n, n) > 0
    return GraphBatch(x, adj, focus, mask, dropped, glob)


# -- modules -------------------------------------------------------------------------------------------------
def _mlp(sizes: Sequence[int], act: type[nn.Module], last_act: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if last_act or i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class DenseGraphAttention(nn.Module):
    """One multi-head graph-attention layer (Veličković et al. 2018) on a dense adjacency, with a residual.

    e_ij = LeakyReLU(a_dstᵀ W h_i + a_srcᵀ W h_j) for j ∈ N(i) ∪ {i}; α = softmax_j(e);
    h_i ← h_i + act(O Σ_j α_ij W h_j).
    Masked entries get −inf before the softmax; self-loops keep every row non-empty. Cost O(B N² D).
    """

    def __init__(self, dim: int, heads: int, act: type[nn.Module]):
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden_dim must be a multiple of heads={heads}, got {dim}")
        self.heads, self.head_dim = heads, dim // heads
        self.lin = nn.Linear(dim, dim, bias=False)
        self.att_src = nn.Parameter(th.zeros(heads, self.head_dim))
        self.att_dst = nn.Parameter(th.zeros(heads, self.head_dim))
        self.out = nn.Linear(dim, dim)
        self.act = act()

    def forward(self, h: th.Tensor, adj: th.Tensor) -> th.Tensor:
        b, n, _ = h.shape
        z = self.lin(h).view(b, n, self.heads, self.head_dim)
        score_src = (z * self.att_src).sum(-1)  # [B, N, H]
        score_dst = (z * self.att_dst).sum(-1)
        e = nn.functional.leaky_relu(score_dst.unsqueeze(2) + score_src.unsqueeze(1), 0.2)  # [B, i, j, H]
        allowed = adj | th.eye(n, dtype=th.bool, device=h.device)
        e = e.masked_fill(~allowed.unsqueeze(-1), float("-inf"))
        alpha = th.softmax(e, dim=2)
        msg = th.einsum("bijh,bjhd->bihd", alpha, z).reshape(b, n, -1)
        return h + self.act(self.out(msg))


class NodeEncoder(nn.Module):
    """The per-node module H: an input MLP, then ``layers`` graph-attention layers (``module="gat"``) or more
    MLP layers (``module="mlp"``, which ignores the adjacency)."""

    def __init__(self, in_dim: int, hidden_dim: int, layers: int, module: str, heads: int, act: type[nn.Module]):
        super().__init__()
        self.module = module
        self.inp = _mlp([in_dim, hidden_dim], act, last_act=True)
        if module == "gat":
            self.layers = nn.ModuleList(DenseGraphAttention(hidden_dim, heads, act) for _ in range(layers))
        else:
            self.layers = nn.ModuleList(_mlp([hidden_dim, hidden_dim], act, last_act=True) for _ in range(layers))

    def forward(self, x: th.Tensor, adj: th.Tensor | None) -> th.Tensor:
        h = self.inp(x)
        for layer in self.layers:
            if self.module == "gat":
                if adj is None:
                    raise ValueError("module='gat' needs an adjacency or edge list in the observation")
                h = layer(h, adj)
            else:
                h = layer(h)
        return h


@dataclass(frozen=True)
class RankingConfig:
    """Hyperparameters of :class:`RankingNet` (every one documented; all plain JSON)."""

    node_features: int = 2  # F: features per node in the observation (strategy, degree/(N-1), ...)
    use_dropped: bool = False  # add a "is the node being dropped (b)" indicator to the node inputs
    global_features: int = 0  # G: graph-level inputs (e.g. elapsed time) fed to the scorer and the critic
    hidden_dim: int = 64  # width of h_i
    layers: int = 2  # graph-attention (or MLP) layers after the input layer
    module: str = "gat"  # H: "gat" (dense masked attention over the adjacency) or "mlp" (per node only)
    heads: int = 4  # attention heads (hidden_dim must be a multiple)
    pool: str = "sum"  # h_g = Σ_i h_i ("sum", as in the paper) or the mean over nodes ("mean")
    score_hidden: int = 64  # hidden width of the scorer S
    value_hidden: int = 64  # hidden width of the critic head C
    share_encoder: bool = False  # actor and critic share H (else the critic has its own H')
    activation: str = "ReLU"  # torch.nn activation class name

    def __post_init__(self) -> None:
        for name in ("node_features", "hidden_dim", "heads", "score_hidden", "value_hidden"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer in [1, inf), got {v!r}")
        for name in ("layers", "global_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer in [0, inf), got {v!r}")
        for name in ("use_dropped", "share_encoder"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.module not in MODULES:
            raise ValueError(f"module must be one of {list(MODULES)}, got {self.module!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {list(POOLS)}, got {self.pool!r}")
        if self.module == "gat" and self.hidden_dim % self.heads:
            raise ValueError(f"hidden_dim must be a multiple of heads={self.heads}, got {self.hidden_dim}")
        if not isinstance(getattr(nn, str(self.activation), None), type):
            raise ValueError(f"activation must name a torch.nn activation class, got {self.activation!r}")


class RankingNet(nn.Module):
    """Scores s_i = S([h_g, h_f, h_i, g]) for every node and a value V = C([h'_g, h'_f, g]) (g: global inputs)."""

    def __init__(self, config: RankingConfig):
        super().__init__()
        self.config = config
        act = getattr(nn, config.activation)
        in_dim = config.node_features + 2 + int(config.use_dropped)  # + focus, valid-target (, dropped) flags
        d, g = config.hidden_dim, config.global_features
        enc = (in_dim, d, config.layers, config.module, config.heads, act)
        self.encoder = NodeEncoder(*enc)
        self.value_encoder = None if config.share_encoder else NodeEncoder(*enc)
        self.scorer = nn.Sequential(
            _mlp([3 * d + g, config.score_hidden], act, last_act=True), nn.Linear(config.score_hidden, 1)
        )
        self.critic = nn.Sequential(
            _mlp([2 * d + g, config.value_hidden], act, last_act=True), nn.Linear(config.value_hidden, 1)
        )

    def init_weights(self, generator: th.Generator | None = None) -> None:
        """Orthogonal init (gain √2 hidden, 0.01 score output so the first policy is near-uniform, 1 value)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, gain=float(np.sqrt(2)), generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, DenseGraphAttention):
                nn.init.normal_(m.att_src, std=0.1, generator=generator)
                nn.init.normal_(m.att_dst, std=0.1, generator=generator)
        nn.init.orthogonal_(self.scorer[-1].weight, gain=0.01, generator=generator)
        nn.init.orthogonal_(self.critic[-1].weight, gain=1.0, generator=generator)

    def node_inputs(self, g: GraphBatch) -> th.Tensor:
        x = g.x
        idx = th.arange(x.shape[1], device=x.device).unsqueeze(0)
        cols = [x, (idx == g.focus.unsqueeze(1)).float().unsqueeze(-1), g.mask.float().unsqueeze(-1)]
        if self.config.use_dropped:
            if g.dropped is None:
                raise ValueError("use_dropped=True needs a dropped-node entry in the observation")
            cols.append((idx == g.dropped.unsqueeze(1)).float().unsqueeze(-1))
        return th.cat(cols, dim=-1)

    def _globals(self, g: GraphBatch) -> list[th.Tensor]:
        k = self.config.global_features
        if k == 0:
            return []
        if g.globals is None or g.globals.shape[-1] != k:
            got = None if g.globals is None else g.globals.shape[-1]
            raise ValueError(f"global_features={k} needs that many global inputs in the observation, got {got}")
        return [g.globals]

    def _pool(self, h: th.Tensor) -> th.Tensor:
        return h.sum(1) if self.config.pool == "sum" else h.mean(1)

    @staticmethod
    def _gather(h: th.Tensor, focus: th.Tensor) -> th.Tensor:
        return h[th.arange(h.shape[0], device=h.device), focus]

    def scores(self, g: GraphBatch) -> th.Tensor:
        """Unmasked logits ``[B, N]``."""
        h = self.encoder(self.node_inputs(g), g.adjacency)
        n = h.shape[1]
        parts = [self._pool(h), self._gather(h, g.focus), *self._globals(g)]
        ctx = th.cat(parts, dim=-1).unsqueeze(1).expand(-1, n, -1)
        return self.scorer(th.cat([ctx, h], dim=-1)).squeeze(-1)

    def value(self, g: GraphBatch) -> th.Tensor:
        """State value ``[B, 1]``."""
        enc = self.encoder if self.value_encoder is None else self.value_encoder
        h = enc(self.node_inputs(g), g.adjacency)
        return self.critic(th.cat([self._pool(h), self._gather(h, g.focus), *self._globals(g)], dim=-1))

    def forward(self, g: GraphBatch) -> tuple[th.Tensor, th.Tensor]:
        return self.scores(g), self.value(g)


def masked_logits(logits: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """Logits with invalid entries at −inf (a row with no valid entry is left unmasked)."""
    mask = mask | ~mask.any(dim=-1, keepdim=True)
    return logits.masked_fill(~mask, float("-inf"))


# -- SB3 policy ----------------------------------------------------------------------------------------------
class GraphPassthroughExtractor(BaseFeaturesExtractor):
    """Hands the preprocessed observation dict on unchanged (the graph network does its own extraction)."""

    def __init__(self, observation_space: spaces.Space):
        super().__init__(observation_space, features_dim=1)

    def forward(self, observations):  # type: ignore[override]
        return observations


class GNNRankingPolicy(MaskableActorCriticPolicy):
    """MaskablePPO policy over ``Discrete(N)`` whose logits are the per-node scores of :class:`RankingNet`.

    Keyword arguments (``policy_kwargs``) are the fields of :class:`RankingConfig` plus ``keys`` (explicit
    observation key names, see :func:`resolve_graph_keys`), ``use_obs_mask`` (apply the observation's action
    mask as well as MaskablePPO's; default True), ``allow_decline`` (default False: the focused node f itself
    stays selectable and means "no new link"; CooperationRewiring with ``invalid_action="skip"`` declines the
    rewire for that masked choice, as the heuristics do when they have no candidate) and ``init_seed`` (seed of
    the ``torch.Generator`` used for the initial weights; default: drawn from torch's global generator, which SB3
    seeds from the model's ``seed``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule,
        keys: dict[str, str] | None = None,
        use_obs_mask: bool = True,
        allow_decline: bool = False,
        init_seed: int | None = None,
        normalize_images: bool = False,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        **ranking_kwargs: Any,
    ):
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"action_space must be Discrete(N), got {action_space}")
        graph_keys = resolve_graph_keys(observation_space, keys)
        n = int(action_space.n)
        node_shape = observation_space[graph_keys.nodes].shape
        if node_shape[0] != n:
            raise ValueError(f"observation_space[{graph_keys.nodes!r}] must have N={n} rows, got shape {node_shape}")
        unknown = set(ranking_kwargs) - set(RankingConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"policy_kwargs has unknown entries {sorted(unknown)}")
        ranking_kwargs.setdefault("node_features", int(node_shape[1]))
        ranking_kwargs.setdefault("use_dropped", graph_keys.dropped is not None)
        if graph_keys.time is not None:
            ranking_kwargs.setdefault("global_features", int(observation_space[graph_keys.time].shape[0]))
        if ranking_kwargs.get("module", "gat") == "gat" and graph_keys.adjacency is None and graph_keys.edges is None:
            raise ValueError("module='gat' needs an adjacency or edge-list entry in the observation; use module='mlp'")
        self.ranking_config = RankingConfig(**ranking_kwargs)
        self.graph_keys = graph_keys
        self.keys_arg = keys
        self.use_obs_mask = bool(use_obs_mask)
        if not isinstance(allow_decline, bool):
            raise ValueError(f"allow_decline must be True or False, got {allow_decline!r}")
        self.allow_decline = allow_decline
        self.init_seed = init_seed
        self._focus_onehot = isinstance(observation_space[graph_keys.focus], (spaces.Discrete, spaces.MultiBinary))
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=[],
            features_extractor_class=GraphPassthroughExtractor,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            normalize_images=normalize_images,
        )

    def _build(self, lr_schedule) -> None:  # noqa: D401 - SB3 hook
        self.net = RankingNet(self.ranking_config)
        seed = self.init_seed
        if seed is None:
            seed = int(th.randint(0, 2**31 - 1, (1,)).item())  # global generator, seeded by SB3 from `seed`
        self.net.init_weights(th.Generator().manual_seed(int(seed)))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for k in (
            "net_arch",
            "activation_fn",
            "ortho_init",
            "features_extractor_class",
            "features_extractor_kwargs",
            "normalize_images",
        ):
            data.pop(k, None)
        data.update(asdict(self.ranking_config))
        data.update(
            keys=self.keys_arg,
            use_obs_mask=self.use_obs_mask,
            allow_decline=self.allow_decline,
            init_seed=self.init_seed,
        )
        return data

    # graph inputs from an SB3 observation batch
    def graph_inputs(self, obs) -> GraphBatch:
        pre = preprocess_obs(obs, self.observation_space, normalize_images=False)
        return graph_tensors(pre, self.graph_keys, focus_is_onehot=self._focus_onehot)

    def _distribution(self, logits: th.Tensor, g: GraphBatch, action_masks):
        mask = g.mask if self.use_obs_mask else th.ones_like(g.mask)
        if action_masks is not None:
            mask = mask & th.as_tensor(action_masks, dtype=th.bool, device=logits.device).reshape(logits.shape)
        if self.allow_decline:
            mask = mask | (th.arange(mask.shape[1], device=mask.device).unsqueeze(0) == g.focus.unsqueeze(1))
        mask = mask | ~mask.any(dim=-1, keepdim=True)  # a row with no valid action stays a proper distribution
        dist = self.action_dist.proba_distribution(action_logits=logits)
        dist.apply_masking(mask)
        return dist

    def forward(self, obs, deterministic: bool = False, action_masks: np.ndarray | None = None):
        g = self.graph_inputs(obs)
        logits, values = self.net(g)
        dist = self._distribution(logits, g, action_masks)
        actions = dist.get_actions(deterministic=deterministic)
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(self, obs, actions: th.Tensor, action_masks: th.Tensor | None = None):
        g = self.graph_inputs(obs)
        logits, values = self.net(g)
        dist = self._distribution(logits, g, action_masks)
        return values, dist.log_prob(actions), dist.entropy()

    def get_distribution(self, obs, action_masks: np.ndarray | None = None):
        g = self.graph_inputs(obs)
        return self._distribution(self.net.scores(g), g, action_masks)

    def predict_values(self, obs) -> th.Tensor:
        return self.net.value(self.graph_inputs(obs))

    def node_scores(self, obs) -> th.Tensor:
        """Unmasked per-node logits ``[B, N]`` of an SB3 observation batch."""
        return self.net.scores(self.graph_inputs(obs))


def transfer_policy_weights(source: GNNRankingPolicy, target: GNNRankingPolicy) -> None:
    """Copy a trained policy's weights into a policy built for another graph size (same :class:`RankingConfig`
    apart from nothing: every parameter is N-independent). ``ValueError`` if the configurations differ."""
    a, b = asdict(source.ranking_config), asdict(target.ranking_config)
    if a != b:
        diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
        raise ValueError(f"target.ranking_config must equal the source's; differing fields (source, target): {diff}")
    target.net.load_state_dict(source.net.state_dict())


__all__ = [
    "DenseGraphAttention",
    "GraphBatch",
    "GNNRankingPolicy",
    "GraphKeys",
    "NodeEncoder",
    "RankingConfig",
    "RankingNet",
    "graph_tensors",
    "masked_logits",
    "resolve_graph_keys",
    "transfer_policy_weights",
]
