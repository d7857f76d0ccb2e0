"""Adapter that lets Stable-Baselines3 train on a native gymnasium ``VectorEnv``.

SB3 has its own ``VecEnv`` API (``reset()`` returns only observations, ``step`` returns a list of per-env info
dicts, a finished env's last observation sits in ``info["terminal_observation"]``). Our native vector envs follow
gymnasium's ``VectorEnv`` with ``AutoresetMode.SAME_STEP``: the returned observation is already the first of the
next episode and ``info["final_obs"]`` holds the last one — the same convention as SB3, so the adapter only
re-packages arrays. It never steps sub-envs one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

#: keys of a vector-env info dict that the adapter translates rather than copies
_CONTROL_KEYS = ("final_obs", "_final_obs", "final_info", "_final_info")


def _index_tree(x: Any, i: int) -> Any:
    """Entry ``i`` of an info value: arrays and dicts of arrays are indexed on their leading (env) axis."""
    if isinstance(x, dict):
        return {k: _index_tree(v, i) for k, v in x.items() if not k.startswith("_")}
    if isinstance(x, np.ndarray) and x.ndim >= 1:
        v = x[i]
        return v.item() if isinstance(v, np.generic) else v
    return x


def split_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Turn a gymnasium vector info (dict of arrays with masks ``_key``) into ``num_envs`` per-env dicts."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_") or key in _CONTROL_KEYS:
            continue
        mask = info.get(f"_{key}")
        for i in range(num_envs):
            if mask is None or bool(mask[i]):
                out[i][key] = _index_tree(value, i)
    return out


class GymnasiumVecEnvAdapter(VecEnv):
    """Expose a gymnasium ``VectorEnv`` (``SAME_STEP`` autoreset) as an SB3 ``VecEnv``.

    Parameters
    ----------
    venv:
        A vector env from ``gymnasium.make_vec(id, num_envs=n, vectorization_mode="vector_entry_point")``.

    Seeding follows SB3: ``adapter.seed(s)`` makes the next ``reset()`` seed env ``i`` with ``s + i``, which for
    our native envs reproduces ``n`` single envs seeded ``s + i``.
    """

    def __init__(self, venv: gym.vector.VectorEnv):
        mode = venv.metadata.get("autoreset_mode")
        if mode is not None and mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"venv.metadata['autoreset_mode'] must be AutoresetMode.SAME_STEP for this adapter, got {mode!r}"
            )
        self.venv = venv
        self.render_mode = getattr(venv, "render_mode", None)
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._last_obs: Any = None

    # -- core API ----------------------------------------------------------------------------------------
    def reset(self):
        seeds = self._seeds
        if any(s is not None for s in seeds):
            base = [int(s) if s is not None else None for s in seeds]
            if any(s is None for s in base):
                raise ValueError(f"seed: either every env or none gets a seed, got {base!r}")
            # SB3 seeds env i with s + i, which is exactly gymnasium's int-seed convention for vector envs
            consecutive = base == list(range(base[0], base[0] + self.num_envs))
            seed_arg: Any = base[0] if consecutive else base
            obs, info = self.venv.reset(seed=seed_arg, options=self._options[0] or None)
        else:
            obs, info = self.venv.reset(options=self._options[0] or None)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = split_info(info, self.num_envs)
        self._last_obs = obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        actions = self._actions
        if isinstance(self.action_space, gym.spaces.Discrete):
            actions = actions.reshape(self.num_envs).astype(np.int64)
        obs, reward, terminated, truncated, info = self.venv.step(actions)
        dones = np.logical_or(terminated, truncated)
        infos = split_info(info, self.num_envs)
        if dones.any():
            final_obs = info.get("final_obs")
            final_info = info.get("final_info", {})
            for i in np.flatnonzero(dones):
                if final_obs is not None:
                    infos[i]["terminal_observation"] = _index_tree(final_obs, int(i))
                # metrics of the finished step (the top-level entries may describe the reset episode)
                infos[i].update(_index_tree(final_info, int(i)))
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        self._last_obs = obs
        return obs, np.asarray(reward, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def render(self, mode: str | None = None):
        return self.venv.render()

    # -- attribute access (the native env is one object; answers are broadcast per env) -----------------
    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def _observed_masks(self) -> np.ndarray:
        """Masks for MaskablePPO when the vector env has no ``action_masks()``: the observation's
        ``action_mask`` entry (Dict observations, e.g. the coop envs), else every action valid."""
        obs = self._last_obs
        if isinstance(obs, dict) and "action_mask" in obs:
            return np.asarray(obs["action_mask"], dtype=bool)
        return np.ones((self.num_envs, int(self.venv.single_action_space.n)), dtype=bool)

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        if attr_name == "action_masks" and not hasattr(self.venv, "action_masks"):
            value: Any = self._observed_masks
        else:
            value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        """Call a method of the vector env once; batched results ([num_envs, ...]) are split per env.

        ``action_masks`` (MaskablePPO) on a vector env without that method reads the observation's
        ``action_mask`` (Dict observations), else answers "every action valid".
        """
        method = self.get_attr(method_name)[0]
        result = method(*method_args, **method_kwargs)
        idx = self._indices(indices)
        if isinstance(result, np.ndarray) and result.ndim >= 1 and result.shape[0] == self.num_envs:
            return [result[i] for i in idx]
        return [result for _ in idx]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        frame = self.venv.render()
        return [frame for _ in range(self.num_envs)]


def make_sb3_vec_env(
    env_id: str,
    n_envs: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    vectorization: str = "native",
    monitor: bool = True,
) -> VecEnv:
    """An SB3 ``VecEnv`` over ``n_envs`` copies of ``env_id``.

    ``vectorization="native"`` wraps the id's native gymnasium vector env with :class:`GymnasiumVecEnvAdapter`
    (one array operation per step); ``"dummy"`` is SB3's ``make_vec_env`` over single envs (the reference path).
    Both are seeded so env ``i`` starts from seed ``seed + i``; with ``monitor=True`` episode returns and lengths
    are recorded (``VecMonitor``) for SB3's logger.
    """
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecMonitor

    import recsim_envs  # noqa: F401  (registers the ids)

    if vectorization not in ("native", "dummy"):
        raise ValueError(f"vectorization must be one of ['native', 'dummy'], got {vectorization!r}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
        raise ValueError(f"n_envs must be an integer in [1, inf), got {n_envs!r}")
    kwargs = dict(env_kwargs or {})
    if vectorization == "native":
        venv = gym.make_vec(env_id, num_envs=int(n_envs), vectorization_mode="vector_entry_point", **kwargs)
        vec: VecEnv = GymnasiumVecEnvAdapter(venv)
        if monitor:
            vec = VecMonitor(vec)
    else:
        vec = make_vec_env(env_id, n_envs=int(n_envs), seed=seed, env_kwargs=kwargs)
        if not monitor:
            raise ValueError("monitor must be True with vectorization='dummy' (make_vec_env always adds Monitor)")
    vec.seed(seed)
    return vec
