"""Native vector env for PreferenceShiftLearned: all simulated users advance with one network pass per step."""

from __future__ import annotations

from recsim_envs.preference.learned.core import PARAMS
from recsim_envs.preference.learned.env import make_model
from recsim_envs.utils.shell import RecsimVectorEnv


class PreferenceShiftLearnedVectorEnv(RecsimVectorEnv):
    """``num_envs`` users simulated from the learned model (see ``PreferenceShiftLearnedEnv``).

    User ``i`` after ``reset(seed=s)`` reproduces ``PreferenceShiftLearnedEnv`` reset with ``seed=s + i``.
    Autoreset is ``SAME_STEP`` (``info["final_obs"]`` / ``info["final_info"]`` hold a finished user's last
    step; ``autoreset_mode=AutoresetMode.NEXT_STEP`` for gymnasium's other mode). ``multi_objective=True``
    returns the [num_envs, 3] objective vectors as the reward.
    """

    PARAMS = PARAMS
    REWARD_ALIASES = ("nu_initial", "nu_natural")
    make_model = staticmethod(make_model)
