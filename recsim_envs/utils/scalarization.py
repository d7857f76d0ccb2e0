"""Linear scalarisation of the multi-objective (``...MO-v0``) ids: scalar reward ``weights · vector_reward``.

The scalarisation is part of the env shell (:mod:`recsim_envs.utils.shell`): ``gymnasium.make(mo_id, weights=w)``
and ``gymnasium.make_vec(mo_id, ..., weights=w)`` apply it; the vector reward stays in ``info["vector_reward"]``
(MO-Gymnasium's ``LinearReward`` convention). The two functions below apply it to an env already made (SB3's
``check_env``/``Monitor`` and rl-zoo3 need a float reward).
"""

from __future__ import annotations

from typing import Any, TypeVar

from recsim_envs.utils.shell import _Shell

E = TypeVar("E")


def LinearScalarization(env: E, weights: Any) -> E:  # noqa: N802  (kept the wrapper's name)
    """Make ``env`` (a multi-objective env of this package, possibly wrapped) return ``weights @ vector_reward``;
    returns ``env``."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, _Shell) or not base.multi_objective:
        raise ValueError(f"weights apply only to an env with a vector reward (reward_dim attribute), got {env!r}")
    base.scalarize(weights)
    return env


#: the same for a native vector env (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``)
LinearVectorScalarization = LinearScalarization

__all__ = ["LinearScalarization", "LinearVectorScalarization"]
