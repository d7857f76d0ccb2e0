"""The one Gymnasium shell of every id: a family model interface, a generic single env and a generic vector env.

Every family writes its simulation once, as a *batched model* of ``n`` users (or replicas) that satisfies
:class:`FamilyModel`; :class:`RecsimEnv` (``n = 1``) and :class:`RecsimVectorEnv` (``n = num_envs``) turn it into a
``gymnasium.Env`` and a native ``gymnasium.vector.VectorEnv``. A registered id's class keeps only its docstring
(the spec the docs pages are generated from), ``metadata``, ``PARAMS`` and its model factory ``make_model``;
see CONTRIBUTING.md, "Env classes".

What the shell does once, for every family:

- action checks (``model.batch_actions``), the "call reset() before step()" rule, render-mode checks;
- stream keys: ``reset(seed=s)`` gives user ``i`` the key ``seed_to_key(s + i)``, ``reset()`` the next episode
  of each user (:func:`recsim_envs.utils.rng.episode_keys`);
- the info dict: every array of the model's step output except ``reward``/``terminated``/``truncated``, plus
  ``info["rewards"]`` (the named components, by ``model.objective_names``) where the model does not name them;
- multi-objective ids: ``multi_objective=True`` returns ``info["objectives"]`` (float32) as the reward, with
  MO-Gymnasium's ``reward_space`` / ``reward_dim``; ``weights=w`` scalarises it back to ``w · objectives`` and
  keeps the vector in ``info["vector_reward"]`` (MO-Gymnasium's ``LinearReward`` convention) so SB3 / rl-zoo3
  train the MO ids unchanged;
- reward weights: ``reward_weights=w`` sets the scalar reward ``w · objectives`` of any id; the paper names of
  the families (``nu_initial``/``nu_natural``, ``lam``, ``reward_mode``) are aliases that define the same
  weights (passing both is refused);
- vector envs: ``SAME_STEP`` autoreset with ``info["final_obs"]``/``info["final_info"]`` (default) or gymnasium's
  ``NEXT_STEP`` (``autoreset_mode=AutoresetMode.NEXT_STEP``) for wrappers written for ``SyncVectorEnv``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import check_array, check_bool, check_num_envs, check_render_mode

#: step-output entries that are not info
_NOT_INFO = ("reward", "terminated", "truncated")


class _ClassDefault:
    def __repr__(self) -> str:
        return "<the class's default>"


#: ``multi_objective`` of a single env when not given: True for the MO ids' classes, else False
CLASS_DEFAULT: Any = _ClassDefault()


@runtime_checkable
class FamilyModel(Protocol):
    """A batched family model: ``n`` independent users (or replicas) advanced together; arrays lead with ``n``.

    ``step`` returns a dict of arrays with at least ``reward`` [n] (``objectives @ reward_weights``, float64),
    ``objectives`` [n, k] (float32, the named components in ``objective_names`` order) and ``terminated`` [n]
    (optionally ``truncated`` [n] and ``rewards``, a dict of the named components); every other entry is info.
    """

    @property
    def objective_names(self) -> tuple[str, ...]:
        """Names of the reward components, in the order of ``objectives``."""
        ...

    @property
    def action_masks(self) -> Callable[[], np.ndarray] | None:
        """bool [n, n_actions] of valid actions (MaskablePPO's hook), or ``None`` where every action is valid."""
        ...

    def observation_space(self) -> spaces.Space:
        """One user's observation space."""
        ...

    def action_space(self) -> spaces.Space:
        """One user's action space."""
        ...

    def reward_space(self) -> spaces.Box:
        """Bounds of one user's objective vector (the multi-objective reward)."""
        ...

    def set_reward_weights(self, weights: np.ndarray) -> None:
        """Make the scalar reward ``objectives @ weights`` (``len(objective_names)`` finite floats)."""
        ...

    def batch_actions(self, actions: Any, single: bool) -> Any:
        """Validate actions (one action when ``single``, else a batch of ``n``) and return them batched."""
        ...

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        """Start new episodes for the users in ``mask`` (bool [n]) with the stream keys ``keys`` [mask.sum()]."""
        ...

    def step(self, actions: Any) -> dict[str, Any]:
        """Advance every user by one step (see the class docstring for the output)."""
        ...

    def observations(self) -> Any:
        """Batched observations (an array [n, ...] or a dict of them), fresh arrays on every call: the shells hand
        them on (as ``obs`` or ``info["final_obs"]``) without copying."""
        ...

    def reset_info(self) -> dict[str, Any]:
        """Batched info returned by ``reset``."""
        ...

    def next_info(self) -> dict[str, Any]:
        """Batched info about the state the next action meets (written after a vector env's autoreset)."""
        ...

    def render_reset(self) -> None:
        """Clear the render history (called by ``reset`` when a render mode is set)."""
        ...

    def render_record(self, out: dict[str, Any], single: bool) -> None:
        """Keep what ``render`` needs of a step output (called only when a render mode is set)."""
        ...

    def render(self, mode: str, single: bool) -> Any:
        """A frame (``"rgb_array"``: uint8 [H, W, 3]) or one line of text (``"ansi"``)."""
        ...


class ModelBase:
    """Defaults of the optional parts of :class:`FamilyModel`: no action masks, no extra info after a step, no
    render history."""

    action_masks: Callable[[], np.ndarray] | None = None

    def next_info(self) -> dict[str, Any]:
        return {}

    def render_reset(self) -> None:
        pass

    def render_record(self, out: dict[str, Any], single: bool) -> None:
        pass


# -- helpers shared by both shells ------------------------------------------------------------------------------
def take(tree: Any, i: int) -> Any:
    """Row ``i`` of a dict-of-arrays (recursively); numpy scalars become Python values, arrays are copied."""
    if isinstance(tree, dict):
        return {k: take(v, i) for k, v in tree.items()}
    if isinstance(tree, np.ndarray):  # the common case, fast: a row, or a numpy scalar's Python value
        return tree[i].item() if tree.ndim == 1 else tree[i].copy()
    v = tree[i]
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _copy_tree(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy_tree(v) for k, v in tree.items()}
    return np.asarray(tree).copy()


def _rows(tree: Any, rows: np.ndarray) -> Any:
    if isinstance(tree, dict):
        return {k: _rows(v, rows) for k, v in tree.items()}
    return np.asarray(tree)[rows]


def _set_rows(tree: Any, rows: np.ndarray, values: Any) -> Any:
    """Copy of ``tree`` (array or dict of arrays, leading env axis) with ``rows`` replaced by ``values``."""
    if isinstance(tree, dict):
        return {k: _set_rows(tree[k], rows, values[k]) for k in tree}
    out = np.array(tree, copy=True)
    out[rows] = values
    return out


def step_info(model: FamilyModel, out: dict[str, Any]) -> dict[str, Any]:
    """The info dict of a step output: every entry but reward and done flags, plus the named rewards."""
    info = {k: v for k, v in out.items() if k not in _NOT_INFO}
    if "rewards" not in info:
        info["rewards"] = {name: out[name] for name in model.objective_names}
    return info


def check_autoreset_mode(value: Any) -> AutoresetMode:
    """``AutoresetMode.SAME_STEP`` (also ``None``) or ``NEXT_STEP``, or their names ('SameStep', 'next_step')."""
    if value is None:
        return AutoresetMode.SAME_STEP
    if isinstance(value, AutoresetMode):
        return value
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        if isinstance(value, str) and value.lower().replace("_", "") == mode.value.lower():
            return mode
    raise ValueError(
        f"autoreset_mode must be AutoresetMode.SAME_STEP or AutoresetMode.NEXT_STEP ('SameStep'/'NextStep'), "
        f"got {value!r}"
    )


class _Shell:
    """What the single and the vector shell share: building the model, reward weights, the MO reward."""

    #: documented ``make`` kwargs and ranges of the family (read by the registry-wide property test)
    PARAMS: ClassVar[dict[str, Any]] = {}
    #: the family's paper names for the reward weights (aliases of ``reward_weights``)
    REWARD_ALIASES: ClassVar[tuple[str, ...]] = ()
    #: multi-objective ids: ``multi_objective`` defaults to (and must be) True
    MULTI_OBJECTIVE_ONLY: ClassVar[bool] = False

    model: FamilyModel
    multi_objective: bool
    render_mode: str | None

    @staticmethod
    def make_model(n: int, **kwargs: Any) -> FamilyModel:
        """The family's batched model of ``n`` users built from the ``make`` kwargs (set by each id's class)."""
        raise NotImplementedError

    def _build(self, n: int, multi_objective: Any, weights: Any, reward_weights: Any, kwargs: dict[str, Any]) -> None:
        self.multi_objective = check_bool("multi_objective", multi_objective)
        if self.MULTI_OBJECTIVE_ONLY and not self.multi_objective:
            raise ValueError(f"multi_objective must be True for {type(self).__name__}, got {multi_objective!r}")
        aliases = [k for k in self.REWARD_ALIASES if k in kwargs]
        if reward_weights is not None and aliases:
            raise ValueError(
                f"reward_weights and {'/'.join(aliases)} both set the reward weights: pass one of them, got "
                f"reward_weights={reward_weights!r} and {', '.join(f'{k}={kwargs[k]!r}' for k in aliases)}"
            )
        self.model = self.make_model(n, **kwargs)
        k = len(self.model.objective_names)
        if reward_weights is not None:
            self.model.set_reward_weights(check_array("reward_weights", reward_weights, shape=(k,)))
        if self.multi_objective:
            self.reward_space = self.model.reward_space()
            self.reward_dim = int(self.reward_space.shape[0])
        self.weights: np.ndarray | None = None
        if weights is not None:
            self.scalarize(weights)

    def scalarize(self, weights: Any) -> None:
        """Return the scalar ``weights · objectives`` from now on (the vector in ``info["vector_reward"]``)."""
        if not self.multi_objective:
            raise ValueError(
                f"weights apply only to an env with a vector reward (reward_dim attribute; a multi-objective id), "
                f"got {self!r}"
            )
        self.weights = check_array("weights", weights, shape=(self.reward_dim,))

    def _reward(self, out: dict[str, Any]) -> np.ndarray:
        return out["objectives"].copy() if self.multi_objective else out["reward"]

    # -- compatibility names of the model ---------------------------------------------------------------------
    @property
    def config(self) -> Any:
        """The family's validated configuration."""
        return self.model.config  # type: ignore[attr-defined]

    @property
    def task(self) -> FamilyModel:
        """The batched model (the name the cooperation envs used)."""
        return self.model

    @property
    def _batch(self) -> FamilyModel:
        return self.model


class RecsimEnv(_Shell, gym.Env):
    """The single env of every id: the family model with ``n = 1`` (user ``0``)."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        multi_objective: Any = CLASS_DEFAULT,
        weights: Any = None,
        reward_weights: Any = None,
        **kwargs: Any,
    ):
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        if multi_objective is CLASS_DEFAULT:  # the class's own kind: vector reward for the MO ids
            multi_objective = self.MULTI_OBJECTIVE_ONLY
        self._build(1, multi_objective, weights, reward_weights, kwargs)
        self.observation_space = self.model.observation_space()
        self.action_space = self.model.action_space()
        self._key: np.ndarray | None = None
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode (``seed``: stream key ``seed_to_key(seed)``; none: the next episode); (obs, info)."""
        super().reset(seed=seed)
        m = self.model
        self._key = crng.episode_keys(seed, 1, self.np_random, self._key)
        m.reset(np.ones(1, dtype=bool), self._key)
        self._started = True
        if self.render_mode is not None:
            m.render_reset()
        return take(m.observations(), 0), take(m.reset_info(), 0)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """One step of user 0: (obs, reward, terminated, truncated, info)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        m = self.model
        out = m.step(m.batch_actions(action, True))
        if self.render_mode is not None:
            m.render_record(out, True)
        info = step_info(m, out)
        info.update(m.next_info())
        info = take(info, 0)
        terminated = bool(out["terminated"][0])
        truncated = bool(out["truncated"][0]) if "truncated" in out else False
        if terminated or truncated:
            self._started = False
        reward: Any = self._reward(out)[0]
        if self.weights is not None:
            vector = np.asarray(reward, dtype=np.float64)
            info["vector_reward"] = vector
            reward = vector @ self.weights
        if not self.multi_objective or self.weights is not None:
            reward = float(reward)
        return take(m.observations(), 0), reward, terminated, truncated, info

    @property
    def action_masks(self) -> Callable[[], np.ndarray]:
        """bool [n_actions]: the valid actions (MaskablePPO's hook); only for families that mask actions."""
        masks = self.model.action_masks
        if masks is None:
            raise AttributeError(f"{type(self).__name__} has no action masks")
        return lambda: masks()[0]

    def render(self) -> Any:
        """The frame or text line of ``render_mode`` (None, with a warning, when no mode was set)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        return self.model.render(self.render_mode, True)

    def close(self) -> None:
        """Nothing to release."""


class RecsimVectorEnv(_Shell, VectorEnv):
    """The native vector env of every id: ``num_envs`` users of the family model stepped in one array operation.

    User ``i`` after ``reset(seed=s)`` reproduces the single env reset with ``seed=s + i`` exactly. Autoreset is
    ``SAME_STEP`` by default: a finished user's returned observation is the first of its next episode, and
    ``info["final_obs"]`` (array observations: zero rows for users still running; Dict observations: the whole
    batch) / ``info["final_info"]`` (masks ``_final_obs`` / ``_final_info``) hold the last ones.

    ``autoreset_mode=AutoresetMode.NEXT_STEP``: when user ``i`` finishes, the step returns its last observation
    and that step's info (no ``final_obs``/``final_info``); the next ``step`` ignores ``i``'s action and returns
    the first observation of ``i``'s next episode with reward 0 and ``terminated = truncated = False`` — what
    gymnasium's ``SyncVectorEnv`` does and what counting wrappers written for it (MO-Gymnasium's
    ``MORecordEpisodeStatistics``) assume. All users still step at once: a user "between episodes" is stepped
    (masked families: with a valid placeholder action) and its episode restarted from the same stream key
    afterwards, so it sees exactly the episode the ``SAME_STEP`` env would serve. Info entries of that
    placeholder step describe the discarded transition: ``info["_reset_step"]`` marks them.
    """

    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array", "ansi"],
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        multi_objective: bool = False,
        weights: Any = None,
        reward_weights: Any = None,
        autoreset_mode: Any = None,
        **kwargs: Any,
    ):
        check_num_envs(num_envs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        mode = check_autoreset_mode(autoreset_mode)
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self._build(self.num_envs, multi_objective, weights, reward_weights, kwargs)
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self._next_step = mode is AutoresetMode.NEXT_STEP
        self.single_observation_space = self.model.observation_space()
        self.single_action_space = self.model.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._keys: np.ndarray | None = None
        self._started = False
        self._pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: users between episodes
        self._start_keys: np.ndarray | None = None

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None) -> tuple[Any, dict[str, Any]]:
        """Start every user's episode (``seed`` s: user i gets ``seed_to_key(s + i)``; a list: one seed per user;
        none: each user's next episode); (obs, info) batched."""
        super().reset(seed=crng.generator_seed(seed))
        m, n = self.model, self.num_envs
        self._keys = crng.episode_keys(seed, n, self.np_random, self._keys)
        m.reset(np.ones(n, dtype=bool), self._keys)
        self._started = True
        self._pending[:] = False
        if self.render_mode is not None:
            m.render_reset()
        return m.observations(), m.reset_info()

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every user, with the autoreset of ``metadata["autoreset_mode"]`` (see the class doc)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        m = self.model
        pending = self._pending.copy() if self._next_step else None
        if pending is not None and pending.any():
            actions = np.array(actions, copy=True)
            if m.action_masks is not None:
                actions[pending] = np.argmax(np.asarray(m.action_masks())[pending], axis=1)
        out = m.step(m.batch_actions(actions, False))
        if self.render_mode is not None:
            m.render_record(out, False)
        info = step_info(m, out)
        terminated = out["terminated"]
        truncated = out["truncated"] if "truncated" in out else np.zeros(self.num_envs, dtype=bool)
        reward = self._reward(out)
        obs = m.observations()
        done = terminated | truncated
        if done.any():
            obs = self._same_step_autoreset(info, obs, done)
        info.update(m.next_info())
        if pending is not None:
            obs, reward, terminated, truncated = self._next_step_rows(pending, obs, reward, terminated, truncated, info)
        if self.weights is not None:
            vector = np.asarray(reward, dtype=np.float64)
            info["vector_reward"] = vector
            reward = vector @ self.weights
        return obs, reward, terminated, truncated, info

    def _same_step_autoreset(self, info: dict[str, Any], obs: Any, done: np.ndarray) -> Any:
        """Write ``final_obs``/``final_info`` (with their ``_`` masks), advance the finished users' stream keys and
        start their next episodes; the fresh observations."""
        if isinstance(obs, dict) or done.all():  # (obs is the model's fresh array: handing it on aliases nothing)
            info["final_obs"] = obs
        else:
            info["final_obs"] = np.where(done.reshape((-1,) + (1,) * (obs.ndim - 1)), obs, obs.dtype.type(0))
        info["_final_obs"] = done.copy()
        info["final_info"] = _copy_tree({k: v for k, v in info.items() if k not in ("final_obs", "_final_obs")})
        info["_final_info"] = done.copy()
        assert self._keys is not None
        self._keys = np.where(done, crng.next_key(self._keys), self._keys)
        self.model.reset(done, self._keys[done])
        return self.model.observations()

    def _next_step_rows(
        self,
        pending: np.ndarray,
        obs: Any,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: dict[str, Any],
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """NEXT_STEP: hand back finished users' last step; restart the episodes of users between episodes."""
        reward = np.array(reward, copy=True)
        terminated, truncated = np.array(terminated, copy=True), np.array(truncated, copy=True)
        done = terminated | truncated
        if done.any():
            final_obs, final_info = info.pop("final_obs"), info.pop("final_info")
            info.pop("_final_obs", None)
            info.pop("_final_info", None)
            rows = np.flatnonzero(done)
            obs = _set_rows(obs, rows, _rows(final_obs, rows))
            for key, value in final_info.items():
                if key in info and not key.startswith("_"):
                    info[key] = _set_rows(info[key], rows, _rows(value, rows))
        if pending.any():
            # restart the episode the SAME_STEP logic just began, from the key it was started with (if it
            # finished again this step, that is undone)
            assert self._keys is not None and self._start_keys is not None
            self._keys = np.where(pending, self._start_keys, self._keys)
            self.model.reset(pending, self._keys[pending])
            rows = np.flatnonzero(pending)
            obs = _set_rows(obs, rows, _rows(self.model.observations(), rows))
            reward[pending] = 0
            terminated[pending] = False
            truncated[pending] = False
        info["_reset_step"] = pending
        self._pending = done & ~pending
        self._start_keys = np.array(self._keys, copy=True)
        return obs, reward, terminated, truncated

    @property
    def action_masks(self) -> Callable[[], np.ndarray]:
        """bool [num_envs, n_actions] valid actions per user; only for families that mask actions."""
        masks = self.model.action_masks
        if masks is None:
            raise AttributeError(f"{type(self).__name__} has no action masks")
        return masks

    def render(self) -> Any:
        """The frame or text line of ``render_mode`` for the population (None when no mode was set)."""
        if self.render_mode is None:
            return None
        return self.model.render(self.render_mode, False)


__all__ = ["FamilyModel", "ModelBase", "RecsimEnv", "RecsimVectorEnv", "check_autoreset_mode", "step_info", "take"]


def id_specs(
    env: str, vector: str, kwargs_by_id: dict[str, dict[str, Any]], mo: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """``gymnasium.register`` keyword dicts of a family's ids (its ``registry.SPECS``): every id gets its plain-JSON
    ``kwargs``, the single-env entry point ``env`` (or, for the ids in ``mo``, their docstring-only MO class) and the
    native vector entry point ``vector``."""
    mo = mo or {}
    return [
        dict(id=i, entry_point=mo.get(i, env), vector_entry_point=vector, kwargs=kw) for i, kw in kwargs_by_id.items()
    ]
