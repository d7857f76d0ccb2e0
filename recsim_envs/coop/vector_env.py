"""Native vector envs of the cooperation family: ``num_envs`` replicas advanced by one compiled kernel call per
step (the generic shell of :mod:`recsim_envs.utils.shell` over :class:`~recsim_envs.coop.task.CoopTask`)."""

from __future__ import annotations

from recsim_envs.coop.env import competition_model, rewiring_model
from recsim_envs.coop.task import COMPETITION_PARAMS, REWIRING_PARAMS, build_competition, build_rewiring
from recsim_envs.utils.shell import RecsimVectorEnv


class CooperationRewiringVectorEnv(RecsimVectorEnv):
    """Native vector env of ``CooperationRewiring`` (see ``CooperationRewiringEnv``).

    Replica i after ``reset(seed=s)`` reproduces the single env reset with ``seed=s + i``. Autoreset is
    ``SAME_STEP``: a finished replica's observation is the first of its next episode; ``info["final_obs"]`` /
    ``info["final_info"]`` (masks ``_final_obs`` / ``_final_info``) hold the last ones. ``action_masks()``: bool
    [num_envs, N] valid choices per replica. ``render()`` draws replica 0.
    """

    PARAMS = REWIRING_PARAMS
    REWARD_ALIASES = ("reward_mode",)
    _builder = staticmethod(build_rewiring)
    make_model = staticmethod(rewiring_model)


class RecommenderCompetitionVectorEnv(RecsimVectorEnv):
    """Native vector env of ``RecommenderCompetition`` (see ``RecommenderCompetitionEnv``; replicas as in
    ``CooperationRewiringVectorEnv``)."""

    PARAMS = COMPETITION_PARAMS
    _builder = staticmethod(build_competition)
    make_model = staticmethod(competition_model)
