"""Reward wrappers for training on the multi-objective (``...MO-v0``) ids with SB3, which needs a scalar reward.

The scalar ids already expose their penalty weights as ``make`` kwargs (ν_initial, ν_natural for PreferenceShift;
λ for HarmMitigation). For the MO ids, ``gymnasium.make(mo_id, weights=w)`` (or wrapping an MO env in
:class:`LinearScalarization` yourself) turns the vector reward r ∈ R^k into wᵀr and keeps the vector in
``info["vector_reward"]`` (MO-Gymnasium's ``LinearReward`` convention). The classes live in
:mod:`recsim_envs.utils.scalarization`; they are re-exported here.
"""

from recsim_envs.utils.scalarization import LinearScalarization, LinearVectorScalarization

__all__ = ["LinearScalarization", "LinearVectorScalarization"]
