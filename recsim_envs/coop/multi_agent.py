"""Competing recommenders as agents: a PettingZoo AEC env on the cooperation dilemma (Carvalho 2021, §8).

Every contender recommender is a PettingZoo agent; users without a contender follow ``default_rule`` (NO_MED:
the local heuristic, i.e. no recommender). The model is ``RecommenderCompetition-v0``'s (see
:mod:`recsim_envs.coop.competition`): each elementary step is, with probability W2/(1+W2), a recommender update
(x adopts y's recommender with probability Fermi(β_med (Π_y − Π_x))), otherwise a strategy or structural update
in which the rewiring user's recommender picks the new partner. Here that recommender is an agent: the compiled
kernel runs until a user of some agent is about to rewire, and that agent is the next ``agent_selection``
(an agent acts only when one of its users rewires, so turns are irregular and an agent may wait long).

Usage::

    from recsim_envs.coop.multi_agent import env
    e = env(recommenders=("aligned", "engagement"), reward_weights={"aligned": [0, 1, 0], "engagement": [0, 0, 1]})
    e.reset(seed=0)
    for agent in e.agent_iter():
        obs, reward, term, trunc, info = e.last()
        e.step(None if term or trunc else policy[agent](obs))

Observation (agent j, its own users' view): ``Dict`` with
- ``node_features`` ``Box(0, 1, (N, 4), float32)`` = [strategy, degree / (N − 1), own user, visible]; a node is
  visible when it is a user of j or a neighbour of one; strategy and degree are 0 for nodes j cannot see;
- ``adjacency`` ``Box(0, 1, (N, N), int8)``: the edges with at least one endpoint among j's users;
- ``focused_node`` / ``dropped_node`` ``Discrete(N)``: the rewiring user a and the neighbour b it drops when j is
  to act (else 0);
- ``action_mask`` ``Box(0, 1, (N,), int8)``: valid partners z (not a, not a neighbour of a, and with
  ``exclusive=True`` a user of j); all zero when j is not the one to act;
- ``time`` ``Box(0, 1, (1,), float32)``: elementary steps / ``max_steps``; ``shares`` ``Box(0, 1, (1 + M,))``:
  every recommender's share of users (default first), public information.
The first two features and the other keys are those of ``RecommenderCompetition-v0``, so the GNN ranking
policy (``agents.gnn``) and ``baselines.coop.RulePolicy`` (bound to this env) run on them unchanged.

Action: ``Discrete(N)``, the partner z. A masked z declines the rewire (counted as skipped, as the simulator
does when a rule finds no candidate) with ``invalid_action="skip"`` (default), or raises ``ValueError`` with
``"raise"``. In the rare last turn of an episode that ended before any decision, the mask is all ones and the
action is ignored.

Rewards, a menu per agent (``reward_weights[agent]`` · components, default (1, 0, 0); every component is given to
every live agent after every turn, and ``infos[agent]["rewards"]`` names them):
- ``adoption``: change of j's share of users (the return telescopes to final − initial share);
- ``cooperation``: change of the fraction of all users who are j's users *and* cooperate (return: final − initial;
  an aligned recommender wants cooperating users);
- ``engagement``: +1 / ``max_steps`` for each rewire request of one of j's users that reaches j (one per turn of
  j; the paper's engagement objective counts rewire requests — the global #rewires, every structural update
  whose partner defects, is ``infos[agent]["rewires"]``).
An agent whose users all leave can never regain one (users only adopt recommenders their neighbours use): it is
terminated. The episode ends for all at all-C / all-D (terminated, when ``stop_on_absorption``) or after
``max_steps`` (truncated).

Heuristic agents: any policy that maps an observation to an action plugs in; ``baselines.coop.RulePolicy("GOOD",
env)`` and :meth:`RecommenderCompetitionAEC.rule_action` both answer with the simulator's rule drawn from the
replica's own stream, so a game of heuristic agents run through this env reproduces
``simulate(..., contenders=...)`` draw for draw (exact for the non-exclusive rules; with exclusive rules the
simulator spends random draws on rewires that have no candidate, which never reach an agent here, so the match is
in distribution only).

Determinism: ``reset(seed=s)`` fixes everything (the replica key is ``seed_to_key(s)`` as in the single envs).
Only the AEC form is provided: agents act one at a time, when their users rewire, so a ``parallel_env`` would
have to invent simultaneous moves that the model does not have.

Rendering: ``"rgb_array"`` draws the graph with strategy discs and a ring coloured by recommender (grey =
default, then one colour per agent in ``possible_agents`` order) and highlights the pending rewire; ``"ansi"``
one line of shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from recsim_envs.coop import kernel as K
from recsim_envs.coop.render import draw_network
from recsim_envs.coop.rules import EXCLUSIVE, EXTERNAL, rule_code
from recsim_envs.coop.simulator import CoopBatch, CoopConfig
from recsim_envs.utils import rng as crng
from recsim_envs.utils.shell import ModelBase, RecsimEnv
from recsim_envs.utils.validation import check_choice, check_render_mode

AGENT_OBJECTIVES = ("adoption", "cooperation", "engagement")
INVALID_ACTIONS = ("skip", "raise")
MAX_AGENTS = 126  # kernel recommender codes are int8-sized: the default rule plus 126 contenders
#: the model kwargs of the AEC env and their defaults: Carvalho's N = 30 preset with W1 = 1, W2 = 0.08
AEC_MODEL_DEFAULTS: dict[str, Any] = dict(
    n_nodes=30, degree=8, beta=0.05, W=1.0, W2=0.08, beta_med_factor=10.0, T=2.0, S=-1.0, fermi_mode="clipped",
    recommender_fermi_mode=None, max_steps=3000, seed_fraction=0.2, stop_on_absorption=True,
)  # fmt: skip


def _weights(reward_weights: Any, agents: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One finite 3-vector per agent from a single 3-list (same for all) or a dict agent -> 3-list."""

    def vec(w: Any, where: str) -> np.ndarray:
        try:
            v = np.asarray(w, dtype=float)
        except (TypeError, ValueError):
            v = None
        if v is None or v.shape != (3,) or not np.all(np.isfinite(v)):
            raise ValueError(
                f"reward_weights{where} must be 3 finite floats ({', '.join(AGENT_OBJECTIVES)}), got {w!r}"
            )
        return v

    if isinstance(reward_weights, dict):
        unknown = set(reward_weights) - set(agents)
        if unknown:
            raise ValueError(f"reward_weights names unknown agents {sorted(unknown)}; agents are {list(agents)}")
        default = np.array([1.0, 0.0, 0.0])
        return {a: vec(reward_weights[a], f"[{a!r}]") if a in reward_weights else default for a in agents}
    v = vec(reward_weights, "")
    return {a: v for a in agents}


class RecommenderCompetitionAEC(AECEnv):
    """PettingZoo AEC env: M competing recommenders (agents) on the cooperation dilemma; see the module doc.

    Arguments: ``recommenders`` (agent names, ("aligned", "engagement")), ``default_rule`` ("NO_MED": everyone
    else), ``exclusive`` (True: an agent links its users only to its own users, the paper's "_X" rules),
    ``reward_weights`` (3-list or dict agent -> 3-list over (adoption, cooperation, engagement)), ``invalid_action``
    ("skip" | "raise"), ``render_mode``, and the model: ``n_nodes`` (30), ``degree`` (8), ``beta`` (0.05), ``W``
    = W1 (1.0), ``W2`` (0.08), ``beta_med_factor`` (10), ``T`` (2), ``S`` (−1), ``fermi_mode``,
    ``recommender_fermi_mode``, ``max_steps`` (3000), ``seed_fraction`` (0.2: initial users split evenly among
    the agents), ``stop_on_absorption`` (True). Defaults: Carvalho's N = 30 preset with W1 = 1, W2 = 0.08.
    """

    metadata: dict[str, Any] = {
        "name": "recommender_competition_v0",
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 4,
        "is_parallelizable": False,
    }

    def __init__(
        self,
        recommenders: list[str] | tuple[str, ...] = ("aligned", "engagement"),
        *,
        default_rule: str = "NO_MED",
        exclusive: bool = True,
        reward_weights: Any = (1.0, 0.0, 0.0),
        invalid_action: str = "skip",
        render_mode: str | None = None,
        **model: Any,
    ):
        super().__init__()
        unknown = sorted(set(model) - set(AEC_MODEL_DEFAULTS))
        if unknown:
            raise TypeError(f"unexpected keyword arguments {unknown}; the model takes {sorted(AEC_MODEL_DEFAULTS)}")
        model = {**AEC_MODEL_DEFAULTS, **model}
        check_render_mode(render_mode, self.metadata["render_modes"])
        check_choice("invalid_action", invalid_action, INVALID_ACTIONS)
        if isinstance(recommenders, str) or not isinstance(recommenders, (list, tuple)):
            raise ValueError(f"recommenders must be a list of agent names, got {recommenders!r}")
        names = tuple(recommenders)
        if not 1 <= len(names) <= MAX_AGENTS:
            raise ValueError(f"recommenders must name 1 to {MAX_AGENTS} agents, got {len(names)}")
        if not all(isinstance(a, str) and a for a in names) or len(set(names)) != len(names):
            raise ValueError(f"recommenders must be distinct non-empty strings, got {recommenders!r}")
        if not isinstance(exclusive, (bool, np.bool_)):
            raise ValueError(f"exclusive must be True or False, got {exclusive!r}")
        if rule_code(default_rule, "default_rule") & (EXCLUSIVE - 1) == EXTERNAL:
            raise ValueError(f"default_rule must be a heuristic rule, got {default_rule!r}")
        self.exclusive = bool(exclusive)
        contenders = ("EXTERNAL_X" if self.exclusive else "EXTERNAL",) * len(names)
        self.config = CoopConfig(rule=default_rule, contenders=contenders, **model)
        if self.config.n_seeds < len(names):
            raise ValueError(
                f"seed_fraction·n_nodes = {self.config.n_seeds} initial users cannot seat {len(names)} agents; "
                f"seed_fraction must be at least {len(names) / self.config.n_nodes:.4g} for n_nodes={model['n_nodes']}"
            )
        self.possible_agents = list(names)
        self._index = {a: i + 1 for i, a in enumerate(names)}  # recommender index (0 = default rule)
        self.weights = _weights(reward_weights, names)
        self.invalid_action = invalid_action
        self.render_mode = render_mode
        self.n = n = self.config.n_nodes
        self.batch = CoopBatch(self.config, 1)
        obs_space = spaces.Dict(
            {
                "node_features": spaces.Box(0.0, 1.0, (n, 4), dtype=np.float32),
                "adjacency": spaces.Box(0, 1, (n, n), dtype=np.int8),
                "focused_node": spaces.Discrete(n),
                "dropped_node": spaces.Discrete(n),
                "action_mask": spaces.Box(0, 1, (n,), dtype=np.int8),
                "time": spaces.Box(0.0, 1.0, (1,), dtype=np.float32),
                "shares": spaces.Box(0.0, 1.0, (1 + len(names),), dtype=np.float32),
            }
        )
        self.observation_spaces = {a: obs_space for a in names}
        self.action_spaces = {a: spaces.Discrete(n) for a in names}
        self._key: np.ndarray | None = None
        self._mask = np.zeros(n, dtype=np.int8)
        self._adj = np.zeros((n, n), dtype=bool)

    # -- PettingZoo API ------------------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Dict:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self._np_random, _ = _seeding(seed)
        elif not hasattr(self, "_np_random"):
            self._np_random, _ = _seeding(None)
        self.start_episode(crng.episode_keys(seed, 1, self._np_random, self._key))

    def start_episode(self, key: np.ndarray) -> None:
        """Start the episode of stream ``key`` ([1] uint64; ``reset`` derives it from the seed)."""
        self._key = key
        self.batch.reset(key)
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._turns = np.zeros(1 + len(self.possible_agents), dtype=np.int64)
        self._prev = self._components_state()
        self.batch.advance()
        self._select_next(first=True)

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        return self._observation(self._index[agent], agent == self.agent_selection)

    def step(self, action: int | np.integer | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        j = self._index[agent]
        b = self.batch
        z = self._check_action(action)
        self._cumulative_rewards[agent] = 0.0
        if b.cnt[0, K.C_STATUS] == K.PENDING:
            valid = bool(self._mask[z])
            if not valid and self.invalid_action == "raise":
                a_node, b_node = int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])
                raise ValueError(
                    f"action {z} is masked for agent {agent!r}: user {a_node} (dropping {b_node}) cannot link to "
                    f"itself, a current neighbour{' or a user of another recommender' if self.exclusive else ''}; "
                    "choose z with observation['action_mask'][z] == 1"
                )
            b.apply(0, z if valid else -1)
            self._turns[j] += 1
            b.advance()
        self._select_next(first=False)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            return None
        b = self.batch
        if self.render_mode == "ansi":
            shares = b.reccount[0] / self.n
            names = ["default", *self.possible_agents]
            return f"t={b.cnt[0, K.C_T]}/{self.config.max_steps} coop={b.msize[0, 1] / self.n:.3f} " + " ".join(
                f"{nm}={s:.3f}" for nm, s in zip(names, shares)
            )
        pending = b.cnt[0, K.C_STATUS] == K.PENDING
        return draw_network(
            b.adjacency(0),
            b.strat[0],
            recommender=b.rec[0],
            focus=(int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])) if pending else None,
        )

    def close(self) -> None:
        pass

    # -- heuristic agents through the kernel ---------------------------------------------------------------------
    def rule_action(self, rule: str) -> int:
        """The action heuristic ``rule`` (a base name such as "GOOD", "RANDOM"; exclusive when the env is) takes
        for the pending rewire, drawn from the replica's own stream as the simulator draws it; a rule that finds
        no partner answers the focused user itself, i.e. declines (needs ``invalid_action="skip"``)."""
        code = rule_code(str(rule).upper().removesuffix("_X"), "rule")
        if code & (EXCLUSIVE - 1) == EXTERNAL:
            raise ValueError(f"rule must be a heuristic rule, got {rule!r}")
        code |= EXCLUSIVE if self.exclusive else 0
        b = self.batch
        if b.cnt[0, K.C_STATUS] != K.PENDING:
            return 0
        z = K.choose_pending(code, b.state, 0, self.n)
        return int(z) if z >= 0 else int(b.cnt[0, K.C_PA])

    # -- internals -----------------------------------------------------------------------------------------------
    def _check_action(self, action) -> int:
        a = np.asarray(action)
        whole_float = np.issubdtype(a.dtype, np.floating) and a.shape == () and np.isfinite(a) and float(a).is_integer()
        if a.shape != () or not (np.issubdtype(a.dtype, np.integer) or whole_float):
            raise ValueError(f"action must be an integer node index in [0, {self.n - 1}], got {action!r}")
        if not 0 <= float(a) < self.n:
            raise ValueError(f"action must be a node index in [0, {self.n - 1}], got {action!r}")
        return int(a)

    def _components_state(self) -> np.ndarray:
        """[3, 1 + M] running totals: share, cooperating users / N, turns / max_steps, per recommender."""
        b = self.batch
        m = 1 + len(self.possible_agents)
        share = b.reccount[0] / self.n
        coop = np.bincount(b.rec[0], weights=b.strat[0].astype(np.float64), minlength=m) / self.n
        return np.stack([share, coop, self._turns / self.config.max_steps])

    def _select_next(self, first: bool) -> None:
        """After the kernel stopped: rewards, done flags and infos for every live agent, then whose turn it is."""
        b = self.batch
        status = int(b.cnt[0, K.C_STATUS])
        pending = status == K.PENDING
        now = self._components_state()
        delta = now - self._prev
        self._prev = now
        ended = status in (K.ALL_C, K.ALL_D, K.TIME_LIMIT)
        # the final no-op turn of an episode that ended before its first decision: nobody is done at reset
        if first:
            ended_at_reset = ended
            ended = False
        else:
            ended_at_reset = False
        shares = b.reccount[0] / self.n
        coop, rewires, steps = float(b.msize[0, 1] / self.n), int(b.cnt[0, K.C_REQ]), int(b.cnt[0, K.C_T])
        for agent in self.agents:
            j = self._index[agent]
            comps = delta[:, j]
            self.rewards[agent] = 0.0 if first else float(self.weights[agent] @ comps)
            if ended:
                self.terminations[agent] = status in (K.ALL_C, K.ALL_D)
                self.truncations[agent] = status == K.TIME_LIMIT
            elif not first and b.reccount[0, j] == 0:
                self.terminations[agent] = True
            self.infos[agent] = {
                "rewards": {k: float(v) for k, v in zip(AGENT_OBJECTIVES, comps)} if not first else
                {k: 0.0 for k in AGENT_OBJECTIVES},
                "share": float(shares[j]),
                "own_cooperators": float(now[1, j]),
                "cooperator_fraction": coop,
                "rewires": rewires,
                "turns": int(self._turns[j]),
                "steps": steps,
            }  # fmt: skip
        self._accumulate_rewards()
        self._adj = b.pos[0] >= 0  # the graph changes only inside the kernel: once per turn
        self._mask[:] = 0
        if pending:
            owner = self.possible_agents[int(b.rec[0, b.cnt[0, K.C_PA]]) - 1]
            self.agent_selection = owner
            b.candidate_mask(0, self._mask)
        else:
            # the episode is over: either everyone is done now, or (ended before any decision) one no-op turn
            self.agent_selection = self.agents[0] if self.agents else self.possible_agents[0]
            if ended_at_reset:
                self._mask[:] = 1
        self._deads_step_first()

    def _observation(self, j: int, selected: bool) -> dict[str, np.ndarray]:
        b = self.batch
        n = self.n
        adj = self._adj
        own = b.rec[0] == j
        visible = own | adj[own].any(axis=0)
        feats = np.zeros((n, 4), dtype=np.float32)
        feats[:, 0] = b.strat[0] * visible
        feats[:, 1] = b.deg[0] / (n - 1) * visible
        feats[:, 2] = own
        feats[:, 3] = visible
        acting = selected and b.cnt[0, K.C_STATUS] == K.PENDING and int(b.rec[0, b.cnt[0, K.C_PA]]) == j
        mask = self._mask.copy() if selected else np.zeros(n, dtype=np.int8)
        return {
            "node_features": feats,
            "adjacency": (adj & (own[:, None] | own[None, :])).astype(np.int8),
            "focused_node": np.int64(b.cnt[0, K.C_PA]) if acting else np.int64(0),
            "dropped_node": np.int64(b.cnt[0, K.C_PB]) if acting else np.int64(0),
            "action_mask": mask,
            "time": np.array([min(1.0, b.cnt[0, K.C_T] / self.config.max_steps)], dtype=np.float32),
            "shares": (b.reccount[0] / n).astype(np.float32),
        }


@runtime_checkable
class OpponentPolicy(Protocol):
    """A fixed policy for the other seats of :class:`AgentView` (a plain callable ``obs -> action`` also serves)."""

    def act(self, obs: np.ndarray) -> int: ...


@runtime_checkable
class Reseedable(Protocol):
    """An opponent policy with its own random stream, reseeded by :meth:`AgentView.reset` with a seed."""

    def reset(self, *, seed: int) -> Any: ...


class SeatModel(ModelBase):
    """One agent's seat of :class:`RecommenderCompetitionAEC` as a one-replica family model
    (:class:`recsim_envs.utils.shell.FamilyModel`), the model of :class:`AgentView`.

    ``step`` plays ``me``'s action, then the others' turns until ``me`` acts again or is done. ``reset`` skips
    episodes in which ``me`` never gets a turn, moving on to the next episode of the same stream; a later
    ``reset()`` without a seed continues after the last episode actually played.
    """

    objective_names: tuple[str, ...] = ()

    def __init__(
        self, aec: RecommenderCompetitionAEC, me: str, others: dict[str, OpponentPolicy | Callable[[Any], int]]
    ) -> None:
        if me not in aec.possible_agents:
            raise ValueError(f"me must be one of {aec.possible_agents}, got {me!r}")
        missing = set(aec.possible_agents) - {me} - set(others)
        if missing:
            raise ValueError(f"others must give a policy for every other agent, missing {sorted(missing)}")
        self.aec, self.me = aec, me
        self.config = aec.config
        self._act = {a: p.act if isinstance(p, OpponentPolicy) else p for a, p in others.items()}
        self._obs: dict[str, np.ndarray] | None = None
        self._done = True
        self._skipped = 0
        self._given: np.ndarray | None = None  # the key the shell asked for at the last reset ...
        self._played: np.ndarray | None = None  # ... and the key of the episode played (after skips)

    def observation_space(self) -> spaces.Dict:
        return self.aec.observation_space(self.me)

    def action_space(self) -> spaces.Discrete:
        return self.aec.action_space(self.me)

    def reward_space(self) -> spaces.Box:
        raise ValueError("an AgentView seat has a scalar reward (reward_weights of the AEC env), no vector reward")

    def set_reward_weights(self, weights: np.ndarray) -> None:
        raise ValueError("an AgentView seat takes reward_weights through the AEC env's own (per-agent) argument")

    def batch_actions(self, actions: Any, single: bool) -> list[Any]:
        return [actions]  # validated by the AEC env's step

    def _advance(self) -> tuple[float, bool, bool]:
        """Play the others until it is ``me``'s turn; (reward for me, terminated, truncated)."""
        e = self.aec
        while e.agents:
            agent = e.agent_selection
            obs, reward, term, trunc, _ = e.last()
            if agent == self.me:
                self._obs = obs
                return float(reward), bool(term), bool(trunc)
            e.step(None if term or trunc else self._act[agent](obs))
        raise RuntimeError("the game ended without a final turn for me")  # unreachable: me is removed last

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        key = np.asarray(keys, dtype=np.uint64).reshape(1)
        given = key
        if self._given is not None and self._played is not None and np.array_equal(key, crng.next_key(self._given)):
            key = crng.next_key(self._played)  # the next episode after the last one played
        self._skipped = 0
        while True:
            self.aec.start_episode(key)
            _, term, trunc = self._advance()
            if not (term or trunc):
                break
            self._skipped += 1
            key = crng.next_key(key)
        self._given, self._played = given, key
        self._done = False

    def step(self, actions: list[Any]) -> dict[str, Any]:
        self.aec.step(actions[0])
        reward, term, trunc = self._advance()
        self._done = term or trunc
        return {
            "reward": np.array([reward]),
            "terminated": np.array([term]),
            "truncated": np.array([trunc]),
            **_batched(self.aec.infos[self.me]),
        }

    def observations(self) -> dict[str, np.ndarray]:
        return _batched(self._obs or {})

    def reset_info(self) -> dict[str, Any]:
        return {"skipped_episodes": np.array([self._skipped]), **_batched(self.aec.infos[self.me])}

    def action_masks(self) -> np.ndarray:
        if self._done or self._obs is None:
            return np.ones((1, self.aec.n), dtype=bool)
        return self._obs["action_mask"].astype(bool)[None]

    def render(self, mode: str, single: bool) -> Any:
        raise ValueError("AgentView has no render modes (render the AEC env: view.aec)")


def _batched(tree: Any) -> Any:
    """A one-replica batch of a dict of scalars / arrays (recursively)."""
    if isinstance(tree, dict):
        return {k: _batched(v) for k, v in tree.items()}
    return np.asarray(tree)[None]


class AgentView(RecsimEnv):
    """One agent's seat of :class:`RecommenderCompetitionAEC` as a single-agent Gymnasium env (for training one
    learner while the others follow fixed policies: independent learners, one at a time).

    ``others`` maps every other agent to a policy: an object with ``act(obs)`` (``LearnedRanker``, ``RulePolicy``,
    ``baselines.coop.HeuristicPolicy``; one with ``reset(seed)`` is reseeded by ``reset(seed=s)`` with s + its
    position, so the view is deterministic) or a plain callable ``obs -> action``. ``step`` plays ``me``'s
    action, then the others' turns, until ``me`` acts again or is done; the reward is ``me``'s reward accumulated
    since its last action (the AEC env's ``last()``), so a return equals the agent's return in the multi-agent
    env. ``me``'s episode ends when ``me`` is terminated (it lost all its users, or the game ended) or truncated.
    An episode in which ``me`` never gets a turn (the game ends first) is skipped: ``reset`` moves on to the next
    episode of the same stream (``info["skipped_episodes"]`` counts them). ``action_masks()`` serves sb3-contrib's
    MaskablePPO. The env is the generic single env of :mod:`recsim_envs.utils.shell` over a :class:`SeatModel`.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, me: str, others: dict[str, Any], **env_kwargs: Any):
        self._seat = SeatModel(RecommenderCompetitionAEC(**env_kwargs), me, others)
        self.aec, self.me, self.others = self._seat.aec, me, others
        super().__init__()

    def make_model(self, n: int, **kwargs: Any) -> SeatModel:  # type: ignore[override]
        return self._seat

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            for i, a in enumerate(self.aec.possible_agents):
                other = self.others.get(a)
                if isinstance(other, Reseedable):
                    other.reset(seed=int(seed) + i)
        return super().reset(seed=seed, options=options)


def _seeding(seed: int | None):
    from gymnasium.utils import seeding

    return seeding.np_random(seed)


def raw_env(**kwargs: Any) -> RecommenderCompetitionAEC:
    """The env without PettingZoo's checking wrappers."""
    return RecommenderCompetitionAEC(**kwargs)


def env(**kwargs: Any) -> AECEnv:
    """The AEC env wrapped in PettingZoo's order-enforcing wrapper (errors on out-of-turn calls)."""
    return wrappers.OrderEnforcingWrapper(RecommenderCompetitionAEC(**kwargs))


__all__ = ["AGENT_OBJECTIVES", "AgentView", "RecommenderCompetitionAEC", "SeatModel", "env", "raw_env"]
