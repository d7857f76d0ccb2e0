"""``recsim_envs/CooperationRewiring-v0``: a learned recommender picks who rewiring users link to next."""

from __future__ import annotations

from typing import Any

from recsim_envs.coop.task import REWIRING_PARAMS, CoopTask, build_competition, build_rewiring
from recsim_envs.utils.shell import RecsimEnv


def rewiring_model(n: int, **kwargs: Any) -> CoopTask:
    """``n`` replicas of the CooperationRewiring ids (the single env: ``n = 1``)."""
    return CoopTask(*build_rewiring(**kwargs), n)


def competition_model(n: int, **kwargs: Any) -> CoopTask:
    """``n`` replicas of the RecommenderCompetition ids (the single env: ``n = 1``)."""
    return CoopTask(*build_competition(**kwargs), n)


class CooperationRewiringEnv(RecsimEnv):
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
    pending rewire highlighted; "ansi": one line), and the shell's ``reward_weights`` (``reward_mode`` is its
    alias: "coops" = (1, 0), "rewires" = (0, 1)), ``multi_objective``, ``weights`` (``recsim_envs.utils.shell``).

    ## Registered Configurations
    ``CooperationRewiring-v0`` (defaults = the N = 30 preset); Carvalho's Table 4 presets
    ``CooperationRewiringN10-v0`` (N 10, β 0.1, k 4, 1000 steps), ``...N30-v0`` (30, 0.05, 8, 3000),
    ``...N100-v0`` (100, 0.005, 28, 10000), ``...N500-v0`` (500, 0.005, 30, 30000);
    ``CooperationRewiringMO-v0`` (vector reward).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    PARAMS = REWIRING_PARAMS
    REWARD_ALIASES = ("reward_mode",)
    _builder = staticmethod(build_rewiring)  # the make kwargs (read by the registry-wide property test)
    make_model = staticmethod(rewiring_model)


class CooperationRewiringMOEnv(CooperationRewiringEnv):
    """``CooperationRewiring`` with the vector reward [cooperation, rewires] (MO-Gymnasium convention:
    ``reward_space``, ``reward_dim``); the scalar reward of the plain env is ``reward_weights · vector``."""

    MULTI_OBJECTIVE_ONLY = True
