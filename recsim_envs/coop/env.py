"""``recsim_envs/CooperationRewiring-v0``: a learned recommender picks who rewiring users link to next."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from recsim_envs.coop import kernel as K
from recsim_envs.coop.render import draw_network
from recsim_envs.coop.task import REWIRING_PARAMS, CoopTask, build_rewiring
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_bool, check_render_mode


def _take(tree: Any, i: int) -> Any:
    """Replica i of a dict-of-arrays (recursively); numpy scalars become Python/0-d values."""
    if isinstance(tree, dict):
        return {k: _take(v, i) for k, v in tree.items()}
    v = tree[i]
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


class _CoopEnvBase(gym.Env):
    """Shared single-env shell: a :class:`CoopTask` with one replica (the vector env uses the same task)."""

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    _builder = staticmethod(build_rewiring)
    PARAMS = REWIRING_PARAMS

    def __init__(self, render_mode: str | None = None, multi_objective: bool = False, **kwargs: Any):
        check_render_mode(render_mode, self.metadata["render_modes"])
        multi_objective = check_bool("multi_objective", multi_objective)
        self.config, self.options = self._builder(**kwargs)
        self.task = CoopTask(self.config, self.options, 1)
        self.render_mode = render_mode
        self.multi_objective = bool(multi_objective)
        self.observation_space = self.task.observation_space()
        self.action_space = self.task.action_space()
        if self.multi_objective:
            self.reward_space = self.task.reward_space()
            self.reward_dim = self.reward_space.shape[0]
        self._key: np.ndarray | None = None
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._key = crng.episode_keys(seed, 1, self.np_random, self._key)
        self.task.reset(self._key, np.ones(1, dtype=bool))
        self._started = True
        return _take(self.task.observations(), 0), _take(self.task.reset_info(), 0)

    def step(self, action):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        out = self.task.step(np.asarray(action).reshape(-1))
        if out["terminated"][0] or out["truncated"][0]:
            self._started = False
        info = {k: v for k, v in out.items() if k not in ("reward", "terminated", "truncated")}
        info = _take(info, 0)
        reward = info["objectives"].copy() if self.multi_objective else float(out["reward"][0])
        obs = _take(self.task.observations(), 0)
        return obs, reward, bool(out["terminated"][0]), bool(out["truncated"][0]), info

    def action_masks(self) -> np.ndarray:
        """bool [N]: True for every node the pending rewire may link to (MaskablePPO's hook)."""
        return self.task.action_masks()[0]

    def render(self):
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return self.task.ansi(0)
        b = self.task.batch
        pending = b.cnt[0, K.C_STATUS] == K.PENDING
        return draw_network(
            b.adjacency(0),
            b.strat[0],
            recommender=b.rec[0] if self.options.competition else None,
            focus=(int(b.cnt[0, K.C_PA]), int(b.cnt[0, K.C_PB])) if pending else None,
        )


class CooperationRewiringEnv(_CoopEnvBase):
    """Cooperation on a network whose rewiring is steered by a learned recommender (Carvalho 2021).

    ## Description
    N users on a random k-regular graph play the Prisoner's Dilemma (R = 1, P = 0, T = 2, S = −1 by default)
    with every neighbour; fitness Π_x is the sum of the payoffs (Santos, Pacheco & Lenaerts 2006). Each
    elementary step picks x uniformly and y uniformly among x's neighbours, p = Fermi(Π_y − Π_x) =
    1/(1 + exp(−β·d)) with d = max(Π_y − Π_x, 0) (``fermi_mode="clipped"``, the author's code) or d = Π_y − Π_x
    (``"symmetric"``, eq. 1). With probability 1/(1+W) x imitates y's strategy with probability p; otherwise a
    structural update: C–D, x rewires away from y with probability p; D–D, x rewires with probability p, else y
    rewires away from x. The recommender chooses the new partner z: here the agent. The episode asks the agent
    only when a rewire will actually happen (the dropped node keeps degree ≥ 1 and a candidate exists);
    everything in between runs in the compiled simulator.

    ## Observation Space
    ``Dict``:
    - ``node_features``: ``Box(0, 1, (N, 2), float32)`` = [strategy (1 = C), degree / (N − 1)];
    - ``adjacency``: ``Box(0, 1, (N, N), int8)`` symmetric 0/1 (``graph_obs="adjacency"``), or
      ``edge_index``: ``Box(0, N − 1, (2, N·k), int64)``, every undirected edge in both directions sorted by
      (source, target) — the size is fixed because rewiring preserves the edge count (``graph_obs="edge_list"``);
    - ``focused_node``: ``Discrete(N)``, the rewiring node a; ``dropped_node``: ``Discrete(N)``, the node b it
      drops;
    - ``action_mask``: ``Box(0, 1, (N,), int8)``, 1 for valid z (not a, not a current neighbour of a — b is
      still one); also returned by ``action_masks()`` (bool) for sb3-contrib's MaskablePPO;
    - ``time``: ``Box(0, 1, (1,), float32)``, elementary steps taken / ``max_steps``.
    When no rewire is pending (only the final step of an episode that ended before its first decision),
    focused/dropped are 0 and the mask is all ones: any action is accepted and ignored.

    ## Action Space
    ``Discrete(N)``: the node z that a links to. A masked choice is handled by ``invalid_action``: ``"skip"``
    (default; the rewire is declined, counted as skipped, ``info["invalid_action"] = True``) or ``"raise"``
    (``ValueError`` naming the masked node). The default is ``"skip"`` because Gymnasium's and SB3's checkers
    step with unmasked samples (``action_space.sample()`` drawn before a reset); a masked agent never sees
    the difference. Indices outside [0, N) always raise ``ValueError``.

    ## Reward
    Named components in ``info["rewards"]``: ``cooperation`` = 2·(cooperator fraction − ½) on the episode's
    last step, else 0; ``rewires`` = +(rewire requests since the last decision) / ``max_steps``, the engagement
    term (requests = structural updates whose y is a defector, the paper's #rewires).
    ``reward_mode="coops"`` rewards ``cooperation``, ``"rewires"`` rewards ``rewires``.
    ``info["objectives"]`` = float32 [cooperation, rewires]; ``CooperationRewiringMO-v0`` returns that vector as
    the reward.

    ## Dynamics
    The compiled kernel of ``recsim_envs.coop.kernel`` (payoffs maintained incrementally, exact). All draws
    come from the replica's counter-based stream: ``reset(seed=s)`` fixes everything, and replica i of the
    native vector env equals a single env seeded s + i.

    ## Starting State
    Random k-regular simple graph; strategies i.i.d. C/D with probability ½.

    ## Episode End
    Terminated at all-C or all-D (absorbing); truncated after ``max_steps`` elementary steps.

    ## Arguments
    ``n_nodes`` N (30; at most 1000: observations are N × N), ``degree`` k (8; N·k even), ``beta`` β ≥ 0 (0.05),
    ``W`` ≥ 0 (2.09; Table 4 does not fix W, 2.09 is the reproduction's most discriminating row), ``T`` (2), ``S``
    (−1), ``fermi_mode``, ``max_steps`` (3000; at most 10⁶), ``reward_mode`` ("coops" | "rewires"), ``graph_obs``
    ("adjacency" | "edge_list"),
    ``invalid_action`` ("skip" | "raise"), ``render_mode`` ("rgb_array": the graph coloured by strategy with the
    pending rewire highlighted; "ansi": one line).

    ## Registered Configurations
    ``CooperationRewiring-v0`` (defaults = the N = 30 preset); Carvalho's Table 4 presets
    ``CooperationRewiringN10-v0`` (N 10, β 0.1, k 4, 1000 steps), ``...N30-v0`` (30, 0.05, 8, 3000),
    ``...N100-v0`` (100, 0.005, 28, 10000), ``...N500-v0`` (500, 0.005, 30, 30000);
    ``CooperationRewiringMO-v0`` (vector reward).
    """


class CooperationRewiringMOEnv(CooperationRewiringEnv):
    """``CooperationRewiring`` with the vector reward [cooperation, rewires] (MO-Gymnasium convention:
    ``reward_space``, ``reward_dim``); the scalar reward of the plain env is ``reward_weights · vector``."""

    def __init__(self, render_mode: str | None = None, multi_objective: bool = True, **kwargs: Any):
        super().__init__(render_mode=render_mode, multi_objective=multi_objective, **kwargs)
