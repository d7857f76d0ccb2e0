"""``recsim_envs/RecommenderCompetition-v0``: a learned recommender competes with heuristics for users."""

from __future__ import annotations

from typing import Any

from recsim_envs.coop.env import competition_model
from recsim_envs.coop.task import COMPETITION_PARAMS, build_competition
from recsim_envs.utils.shell import RecsimEnv


class RecommenderCompetitionEnv(RecsimEnv):
    """Recommenders compete for adoption on the networked cooperation dilemma (Carvalho 2021, competition).

    ## Description
    The cooperation/rewiring model of ``CooperationRewiring-v0`` (see there and docs/models/coop.md) where every user
    has a recommender r_i. Each elementary step is, with probability W2/(1+W2), a recommender update: x adopts
    y's recommender with probability Fermi(β_med (Π_y − Π_x)), β_med = ``beta_med_factor``·β; otherwise the
    strategy (probability 1/(1+W)) or structural update, the rewiring node's own recommender choosing the new
    partner. Recommender 0 is ``default_rule`` (NO_MED: no recommender, local rewiring); recommender 1 is the
    agent; recommenders 2.. are the ``opponents`` (e.g. ``GOOD_X``: exclusive GOOD). Initially a fraction
    ``seed_fraction`` of users, chosen at random, is split evenly among the contenders (agent and opponents);
    the rest use the default. The agent is asked for z whenever one of its users rewires. It earns by adoption;
    cooperation and rewires are reported, so "bait and switch" strategies (promote cooperation to attract users,
    then exploit them) can be studied with the reward weights.

    ## Observation Space
    As ``CooperationRewiring-v0``, with ``node_features`` ``(N, 2 + M)``: [strategy, degree / (N − 1),
    one-hot recommender (M = 2 + len(opponents): default, agent, opponents...)].

    ## Action Space
    ``Discrete(N)``: the new partner z. Valid: not a, not a current neighbour of a, and — with
    ``agent_exclusive=True`` (default, the "_X" variant) — a user of the agent. ``invalid_action`` as in
    ``CooperationRewiring-v0`` ("skip" declines the rewire, "raise" raises ``ValueError``).

    ## Reward
    Components (``info["rewards"]``): ``adoption`` = change of the agent's share of users during the step
    (the return telescopes to final − initial share); ``cooperation`` = 2·(cooperator fraction − ½) at the
    episode end; ``rewires`` = +(rewire requests during the step) / ``max_steps`` (engagement; give it a negative
    weight to penalise rewiring). Scalar reward = ``reward_weights`` ·
    (adoption, cooperation, rewires), default (1, 0, 0). ``info["objectives"]`` is the float32 vector;
    ``RecommenderCompetitionMO-v0`` returns it as the reward. ``info["agent_share"]`` and ``info["shares"]``
    (all recommenders) are reported every step.

    ## Dynamics
    Compiled kernel (``recsim_envs.coop.kernel``); seeded counter-based streams; vector replica i equals a
    single env seeded s + i.

    ## Starting State
    Random k-regular graph, strategies i.i.d. ½, recommenders as above.

    ## Episode End
    Terminated at all-C / all-D when ``stop_on_absorption`` (default True), truncated after ``max_steps``. If
    the agent loses all its users, the rest of the episode runs without decisions and ends in the same step.

    ## Arguments
    ``n_nodes`` (100; at most 1000), ``degree`` (28), ``beta`` (0.005), ``W`` = W1 (1.0), ``W2`` (0.08),
    ``beta_med_factor``
    (10), ``T`` (2), ``S`` (−1), ``fermi_mode``, ``recommender_fermi_mode`` (None = ``fermi_mode``; the
    adoption probability's clipping, not fixed by the paper), ``max_steps`` (10000; at most 10⁶), ``opponents``
    (["GOOD_X"]; names from ``recsim_envs.coop.RULE_NAMES``), ``default_rule`` ("NO_MED"), ``agent_exclusive`` (True),
    ``seed_fraction`` (0.1), ``stop_on_absorption`` (True), ``reward_weights`` ([1, 0, 0]), ``graph_obs``,
    ``invalid_action``, ``render_mode`` (rgb: strategy discs with a recommender-coloured ring; ansi: one line),
    and the shell's ``multi_objective``, ``weights`` (``recsim_envs.utils.shell``).

    ## Registered Configurations
    ``RecommenderCompetition-v0`` (defaults), ``RecommenderCompetitionMO-v0`` (vector reward).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    PARAMS = COMPETITION_PARAMS
    _builder = staticmethod(build_competition)  # the make kwargs (read by the registry-wide property test)
    make_model = staticmethod(competition_model)


class RecommenderCompetitionMOEnv(RecommenderCompetitionEnv):
    """``RecommenderCompetition`` with the vector reward [adoption, cooperation, rewires]."""

    MULTI_OBJECTIVE_ONLY = True
