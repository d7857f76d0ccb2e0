"""Native vector env for HarmMitigation: a batch of users advanced in one array operation."""

from __future__ import annotations

from recsim_envs.harm.core import PARAMS
from recsim_envs.harm.env import make_model
from recsim_envs.utils.shell import RecsimVectorEnv


class HarmMitigationVectorEnv(RecsimVectorEnv):
    """``num_envs`` independent HarmMitigation users stepped together (model: ``HarmMitigationEnv``).

    User ``i`` after ``reset(seed=s)`` reproduces ``HarmMitigationEnv`` reset with ``seed=s + i`` exactly.
    Autoreset is ``SAME_STEP``. Actions: ``[num_envs]`` item indices (k = 1; ``[num_envs, 1]`` is accepted too),
    ``[num_envs, k]`` item indices (k > 1), or ``[num_envs, n_rec]`` logits / inclusion weights for
    ``action_type="logits"`` / ``"probabilities"``. ``multi_objective=True`` returns [num_envs, 2] (click, −harm).
    """

    PARAMS = PARAMS
    REWARD_ALIASES = ("lam",)
    make_model = staticmethod(make_model)
