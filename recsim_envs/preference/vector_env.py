"""Native vector env for PreferenceShift: all users advance in one array operation."""

from __future__ import annotations

from recsim_envs.preference.core import PARAMS
from recsim_envs.preference.env import make_model
from recsim_envs.utils.shell import RecsimVectorEnv


class PreferenceShiftVectorEnv(RecsimVectorEnv):
    """``num_envs`` independent PreferenceShift users stepped together (see ``PreferenceShiftEnv`` for the model).

    User ``i`` after ``reset(seed=s)`` reproduces ``PreferenceShiftEnv`` reset with ``seed=s + i`` exactly.
    Autoreset is ``SAME_STEP``: a finished user's returned observation is the first of its next episode, and
    ``info["final_obs"]``/``info["final_info"]`` hold the last ones (``autoreset_mode=AutoresetMode.NEXT_STEP``
    for gymnasium's other mode). ``multi_objective=True`` (the MO id) returns the [num_envs, 3] objective vectors
    as the reward.
    """

    PARAMS = PARAMS
    REWARD_ALIASES = ("nu_initial", "nu_natural")
    make_model = staticmethod(make_model)
