"""The agent-facing task shared by the single and the native vector envs (one code path for both).

``CoopTask`` wraps a :class:`~recsim_envs.coop.simulator.CoopBatch` of R replicas in which one recommender is
``EXTERNAL``: the kernel runs each replica until a rewire by a user of that recommender is about to happen, and
the agent supplies the new partner z. The task validates actions, builds observations, named rewards and info
as arrays with a leading replica axis; ``env.py`` (R = 1) and ``vector_env.py`` only slice and auto-reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from recsim_envs.coop import kernel as K
from recsim_envs.coop.presets import TABLE4_PRESETS  # noqa: F401  (re-export)
from recsim_envs.coop.render import draw_network
from recsim_envs.coop.rules import EXCLUSIVE, EXTERNAL, rule_code
from recsim_envs.coop.simulator import MODEL_PARAMS, CoopBatch, CoopConfig
from recsim_envs.utils.shell import ModelBase
from recsim_envs.utils.validation import Array, Bool, Choice, Int, check_discrete_actions, check_params

REWARD_MODES = ("coops", "rewires")
GRAPH_OBS = ("adjacency", "edge_list")
INVALID_ACTIONS = ("skip", "raise")
REWIRING_OBJECTIVES = ("cooperation", "rewires")
COMPETITION_OBJECTIVES = ("adoption", "cooperation", "rewires")
#: the kernel's recommender codes fit 127 recommenders: the default rule, the agent and at most 125 opponents
MAX_OPPONENTS = 125


_REWIRING_MODEL = ("n_nodes", "degree", "beta", "W", "T", "S", "fermi_mode", "max_steps")
_COMPETITION_MODEL = _REWIRING_MODEL[:6] + (
    "fermi_mode", "recommender_fermi_mode", "max_steps", "W2", "beta_med_factor", "seed_fraction",
    "stop_on_absorption",
)  # fmt: skip
#: the envs bound ``max_steps`` far below ``simulate``'s 10¹²: one ``reset``/``step`` runs the kernel until the
#: next decision, and when none comes (a complete graph leaves nothing to rewire; W ≈ 10¹² all but stops
#: strategy updates, so no absorption) that is a whole episode of ``max_steps`` elementary steps (10⁶: ~0.1 s)
ENV_MAX_STEPS = 10**6
#: ... and ``n_nodes``: every observation is O(N²) (the N × N adjacency, or the edge list read off it), 1 MB at
#: N = 1000 but 25 MB per step at the simulator's 5000
ENV_MAX_NODES = 1000
#: ``make`` kwargs of the CooperationRewiring ids and their documented ranges (model ones from ``MODEL_PARAMS``)
REWIRING_PARAMS: dict = {
    **{k: MODEL_PARAMS[k] for k in _REWIRING_MODEL},
    "n_nodes": Int(3, ENV_MAX_NODES),
    "max_steps": Int(1, ENV_MAX_STEPS),
    "reward_mode": Choice(REWARD_MODES),
    "graph_obs": Choice(GRAPH_OBS),
    "invalid_action": Choice(INVALID_ACTIONS),
}
#: ``make`` kwargs of the RecommenderCompetition ids (``opponents``/``default_rule``: rule names, checked by
#: ``rules.rule_code``)
COMPETITION_PARAMS: dict = {
    **{k: MODEL_PARAMS[k] for k in _COMPETITION_MODEL},
    "n_nodes": Int(3, ENV_MAX_NODES),
    "max_steps": Int(1, ENV_MAX_STEPS),
    "agent_exclusive": Bool(),
    "reward_weights": Array((3,)),
    "graph_obs": Choice(GRAPH_OBS),
    "invalid_action": Choice(INVALID_ACTIONS),
}
_TASK_KEYS = ("n_nodes", "max_steps", "reward_mode", "graph_obs", "invalid_action", "agent_exclusive", "reward_weights")


def _check_task_params(values: dict, table: dict) -> dict:
    """Validate the agent-facing kwargs and the env's tighter ``max_steps`` (the model ones are validated by
    ``CoopConfig``)."""
    return check_params(values, {k: v for k, v in table.items() if k in _TASK_KEYS})


@dataclass
class TaskOptions:
    """Agent-facing options (model parameters are in :class:`CoopConfig`)."""

    competition: bool
    reward_weights: np.ndarray
    graph_obs: str
    invalid_action: str

    @property
    def objectives(self) -> tuple[str, ...]:
        return COMPETITION_OBJECTIVES if self.competition else REWIRING_OBJECTIVES


def build_rewiring(
    *,
    n_nodes: int = 30,
    degree: int = 8,
    beta: float = 0.05,
    W: float = 2.09,
    T: float = 2.0,
    S: float = -1.0,
    fermi_mode: str = "clipped",
    max_steps: int = 3000,
    reward_mode: str = "coops",
    graph_obs: str = "adjacency",
    invalid_action: str = "skip",
) -> tuple[CoopConfig, TaskOptions]:
    """Validated config for ``CooperationRewiring``: every rewire is decided by the agent (rule EXTERNAL)."""
    _check_task_params(locals(), REWIRING_PARAMS)
    config = CoopConfig(
        n_nodes=n_nodes, degree=degree, beta=beta, W=W, T=T, S=S, fermi_mode=fermi_mode, rule="EXTERNAL",
        max_steps=max_steps,
    )  # fmt: skip
    weights = np.array([1.0, 0.0] if reward_mode == "coops" else [0.0, 1.0])
    return config, TaskOptions(False, weights, graph_obs, invalid_action)


def build_competition(
    *,
    n_nodes: int = 100,
    degree: int = 28,
    beta: float = 0.005,
    W: float = 1.0,
    W2: float = 0.08,
    beta_med_factor: float = 10.0,
    T: float = 2.0,
    S: float = -1.0,
    fermi_mode: str = "clipped",
    recommender_fermi_mode: str | None = None,
    max_steps: int = 10000,
    opponents: list[str] | tuple[str, ...] = ("GOOD_X",),
    default_rule: str = "NO_MED",
    agent_exclusive: bool = True,
    seed_fraction: float = 0.1,
    stop_on_absorption: bool = True,
    reward_weights: list[float] | tuple[float, ...] = (1.0, 0.0, 0.0),
    graph_obs: str = "adjacency",
    invalid_action: str = "skip",
) -> tuple[CoopConfig, TaskOptions]:
    """Validated config for ``RecommenderCompetition``: recommender 1 is the agent, 2.. the ``opponents``."""
    w = _check_task_params(locals(), COMPETITION_PARAMS)["reward_weights"]
    if isinstance(opponents, str) or not isinstance(opponents, (list, tuple)):
        raise ValueError(f"opponents must be a list of rule names, got {opponents!r}")
    if not 0 <= len(opponents) <= MAX_OPPONENTS:
        raise ValueError(f"opponents must list 0 to {MAX_OPPONENTS} rules, got {len(opponents)}")
    for o in opponents:
        if rule_code(o, "opponents") & (EXCLUSIVE - 1) == EXTERNAL:
            raise ValueError(f"opponents must be heuristic rules, not EXTERNAL, got {o!r}")
    if rule_code(default_rule, "default_rule") & (EXCLUSIVE - 1) == EXTERNAL:
        raise ValueError(f"default_rule must be a heuristic rule, got {default_rule!r}")
    config = CoopConfig(
        n_nodes=n_nodes, degree=degree, beta=beta, W=W, T=T, S=S, fermi_mode=fermi_mode, rule=default_rule,
        max_steps=max_steps, contenders=("EXTERNAL_X" if agent_exclusive else "EXTERNAL", *opponents), W2=W2,
        beta_med_factor=beta_med_factor, seed_fraction=seed_fraction, stop_on_absorption=stop_on_absorption,
        recommender_fermi_mode=recommender_fermi_mode,
    )  # fmt: skip
    return config, TaskOptions(True, w, graph_obs, invalid_action)


class CoopTask(ModelBase):
    """R replicas with an agent deciding the EXTERNAL recommender's rewires; arrays have a leading R axis.

    Implements :class:`recsim_envs.utils.shell.FamilyModel` (``reset(mask, keys)``, ``step``, ``observations``,
    the spaces and the render/interface methods at the end of the class).
    """

    AGENT = 1  # recommender index of the agent in competition (0 = default rule)

    def __init__(self, config: CoopConfig, options: TaskOptions, n_replicas: int):
        self.config = config
        self.options = options
        self.n = n = config.n_nodes
        self.R = n_replicas
        self.batch = CoopBatch(config, n_replicas)
        self.n_features = 2 + (config.n_recommenders if options.competition else 0)
        self.n_edges = n * config.degree // 2
        self._prev_req = np.zeros(n_replicas, dtype=np.int64)
        self._prev_share = np.zeros(n_replicas)
        self._masks = np.zeros((n_replicas, n), dtype=np.int8)

    # -- spaces ----------------------------------------------------------------------------------------------
    def observation_space(self) -> spaces.Dict:
        n = self.n
        graph = (
            {"adjacency": spaces.Box(0, 1, (n, n), dtype=np.int8)}
            if self.options.graph_obs == "adjacency"
            else {"edge_index": spaces.Box(0, n - 1, (2, 2 * self.n_edges), dtype=np.int64)}
        )
        return spaces.Dict(
            {
                "node_features": spaces.Box(0.0, 1.0, (n, self.n_features), dtype=np.float32),
                **graph,
                "focused_node": spaces.Discrete(n),
                "dropped_node": spaces.Discrete(n),
                "action_mask": spaces.Box(0, 1, (n,), dtype=np.int8),
                "time": spaces.Box(0.0, 1.0, (1,), dtype=np.float32),
            }
        )

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n)

    def reward_space(self) -> spaces.Box:
        # adoption (Δshare) and cooperation (2·(c − ½)) lie in [−1, 1]; rewires = +Δrequests / max_steps in [0, 1]
        k = len(self.options.objectives)
        low = -np.ones(k, dtype=np.float32)
        low[-1] = 0.0
        return spaces.Box(low, np.ones(k, dtype=np.float32), dtype=np.float32)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def reset(self, which: np.ndarray, keys: np.ndarray) -> None:
        """New episodes for replicas in ``which`` (bool [R]) with stream ``keys``; run each to its first decision
        (or its end)."""
        self.batch.reset(keys, which)
        # reward components count from t = 0, including the steps run before the first decision
        self._prev_req[which] = 0
        self._prev_share[which] = self._agent_share()[which]
        self.batch.advance()
        self._refresh_masks(which)

    def _refresh_masks(self, which: np.ndarray) -> None:
        # one compiled call; replicas with nothing to decide (final no-op step) accept and ignore every action
        self.batch.candidate_masks(which, self._masks)

    def _agent_share(self) -> np.ndarray:
        if not self.options.competition:
            return np.zeros(self.R)
        return self.batch.reccount[:, self.AGENT] / self.n

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        """Validate node indices; returns [R] bool of masked (invalid) choices for pending decisions."""
        a = check_discrete_actions("action", actions, self.n, (self.R,), what="node index")
        invalid = self._masks[np.arange(self.R), a] == 0
        if invalid.any() and self.options.invalid_action == "raise":
            r = int(np.flatnonzero(invalid)[0])
            a_node, b_node = self.batch.cnt[r, K.C_PA], self.batch.cnt[r, K.C_PB]
            raise ValueError(
                f"action {int(a[r])} is masked: node {a_node} (dropping {b_node}) cannot link to itself or a current "
                f"neighbour{' or a user of another recommender' if self._exclusive_agent else ''}; "
                "choose z with action_mask[z] == 1 (see action_masks())"
            )
        return invalid

    @property
    def _exclusive_agent(self) -> bool:
        return bool(self.options.competition and self.config.rules[self.AGENT] & EXCLUSIVE)

    def step(self, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Apply each pending decision, run to the next one; returns per-replica arrays (incl. done flags)."""
        invalid = self.check_actions(actions)
        a = np.asarray(actions).reshape(self.R).astype(np.int64)
        status = self.batch.cnt[:, K.C_STATUS]
        was_pending = status == K.PENDING
        self.batch.apply_all(np.where(invalid, -1, a))  # replicas with a pending rewire only
        self.batch.advance()
        status = self.batch.cnt[:, K.C_STATUS].copy()
        terminated = (status == K.ALL_C) | (status == K.ALL_D)
        truncated = status == K.TIME_LIMIT
        done = terminated | truncated
        m = self.batch.metrics()
        coop = m["cooperator_fraction"]
        req = self.batch.cnt[:, K.C_REQ].copy()
        # engagement: every rewire request counts for the recommender (Carvalho's engagement objective)
        rewires_term = (req - self._prev_req) / self.config.max_steps
        self._prev_req = req
        coop_term = np.where(done, 2.0 * (coop - 0.5), 0.0)
        comps: dict[str, np.ndarray] = {}
        if self.options.competition:
            share = self._agent_share()
            comps["adoption"] = share - self._prev_share
            self._prev_share = share
        comps["cooperation"] = coop_term
        comps["rewires"] = rewires_term
        objectives = np.stack([comps[k] for k in self.options.objectives], axis=1)
        reward = objectives @ self.options.reward_weights
        self._refresh_masks(np.ones(self.R, dtype=bool))
        return {
            "reward": reward,
            "objectives": objectives.astype(np.float32),
            "rewards": comps,
            "terminated": terminated,
            "truncated": truncated,
            "invalid_action": invalid & was_pending,
            **{k: m[k] for k in ("cooperator_fraction", "rewires", "rewires_done", "heterogeneity", "max_degree")},
            "steps": m["steps"],
            **({"agent_share": self._agent_share(), "shares": m["shares"]} if self.options.competition else {}),
        }

    # -- observations ----------------------------------------------------------------------------------------
    def observations(self) -> dict[str, np.ndarray]:
        b = self.batch
        n = self.n
        feats = np.zeros((self.R, n, self.n_features), dtype=np.float32)
        feats[:, :, 0] = b.strat
        feats[:, :, 1] = b.deg / (n - 1)
        if self.options.competition:
            feats[:, :, 2:] = np.eye(self.config.n_recommenders, dtype=np.float32)[b.rec]
        adj = b.pos >= 0
        obs: dict[str, np.ndarray] = {"node_features": feats}
        if self.options.graph_obs == "adjacency":
            obs["adjacency"] = adj.astype(np.int8)
        else:
            # every undirected edge in both directions, sorted by (source, target): fixed size 2·E
            r_idx, src, dst = np.nonzero(adj)
            obs["edge_index"] = np.stack([src, dst]).reshape(2, self.R, -1).transpose(1, 0, 2).astype(np.int64)
        pending = b.cnt[:, K.C_STATUS] == K.PENDING
        obs["focused_node"] = np.where(pending, b.cnt[:, K.C_PA], 0).astype(np.int64)
        obs["dropped_node"] = np.where(pending, b.cnt[:, K.C_PB], 0).astype(np.int64)
        obs["action_mask"] = self._masks.copy()
        obs["time"] = (b.cnt[:, K.C_T] / self.config.max_steps).astype(np.float32)[:, None]
        return obs

    def action_masks(self) -> np.ndarray:
        return self._masks.astype(bool)

    def reset_info(self) -> dict[str, np.ndarray]:
        m = self.batch.metrics()
        info = {k: m[k] for k in ("cooperator_fraction", "rewires", "heterogeneity", "max_degree", "steps")}
        if self.options.competition:
            info["agent_share"] = self._agent_share()
            info["shares"] = m["shares"]
        return info

    def ansi(self, r: int) -> str:
        b = self.batch
        cnt = b.cnt[r]
        status = ("running", "all-C", "all-D", "time limit", "deciding")[int(cnt[K.C_STATUS])]
        het = cnt[K.C_SUMDEG2] / self.n - (b.deg[r].sum() / self.n) ** 2
        text = (
            f"t={cnt[K.C_T]}/{self.config.max_steps} coop={b.msize[r, 1] / self.n:.3f} rewires={cnt[K.C_REQ]} "
            f"het={het:.1f} maxdeg={cnt[K.C_MAXDEG]} [{status}"
        )
        if cnt[K.C_STATUS] == K.PENDING:
            text += f": node {cnt[K.C_PA]} drops {cnt[K.C_PB]}"
        text += "]"
        if self.options.competition:
            text += f" agent share={b.reccount[r, self.AGENT] / self.n:.3f}"
        return text

    # -- env interface (recsim_envs.utils.shell.FamilyModel) -------------------------------------------------
    @property
    def objective_names(self) -> tuple[str, ...]:
        return self.options.objectives

    def set_reward_weights(self, weights: np.ndarray) -> None:
        self.options.reward_weights = weights

    def batch_actions(self, actions: Any, single: bool) -> np.ndarray:
        """Node indices as an [R] batch (validated by ``step``: masked choices follow ``invalid_action``)."""
        a = np.asarray(actions)
        return a.reshape(-1) if single else a

    def render(self, mode: str, single: bool) -> str | np.ndarray:
        """Replica 0 (rgb: its graph with the pending rewire highlighted; ansi: its one-line state)."""
        if mode == "ansi":
            return self.ansi(0)
        b = self.batch
        pending = b.cnt[0, K.C_STATUS] == K.PENDING
        return draw_network(
            b.adjacency(0),
            b.strat[0],
            recommender=b.rec[0] if self.options.competition else None,
            focus=(int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])) if pending else None,
        )
