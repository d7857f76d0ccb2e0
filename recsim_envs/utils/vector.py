"""The SAME_STEP autoreset step shared by every native vector env (CONTRIBUTING.md, "Vector envs")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recsim_envs.utils import rng as crng


def _copy_tree(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy_tree(v) for k, v in tree.items()}
    return np.asarray(tree).copy()


def same_step_autoreset(
    info: dict[str, Any],
    obs: Any,
    done: np.ndarray,
    keys: np.ndarray,
    reset: Callable[[np.ndarray, np.ndarray], None],
    observe: Callable[[], Any],
) -> tuple[Any, np.ndarray]:
    """Finish the users in ``done`` and start their next episodes in place.

    Writes ``info["final_obs"]`` (array observations: zero rows for users still running; Dict observations:
    the whole batch) and ``info["final_info"]`` (a copy of this step's info) with their ``_`` masks, advances
    the finished users' stream keys (``next_key``), calls ``reset(done, new_keys_of_done)`` and returns the
    fresh observations and the updated keys.
    """
    if isinstance(obs, dict):
        info["final_obs"] = obs
    else:
        info["final_obs"] = np.where(done[:, None], obs, 0).astype(obs.dtype)
    info["_final_obs"] = done.copy()
    info["final_info"] = _copy_tree({k: v for k, v in info.items() if k not in ("final_obs", "_final_obs")})
    info["_final_info"] = done.copy()
    keys = np.where(done, crng.next_key(keys), keys)
    reset(done, keys[done])
    return observe(), keys
