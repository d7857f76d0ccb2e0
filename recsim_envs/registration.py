"""One place that registers every environment id, grouped by model family.

Each family module exposes ``SPECS``: a list of dicts with the keyword arguments of ``gymnasium.register``
(``id`` without namespace, ``entry_point``, ``vector_entry_point``, plain-JSON ``kwargs``, ...). Registration is
idempotent: importing ``recsim_envs`` twice, or calling :func:`register_all` again, changes nothing.

Two keyword arguments are added to every family's own ones by the registered entry points:

- ``autoreset_mode`` (``gymnasium.make_vec`` only): ``AutoresetMode.SAME_STEP`` (default; the native vector
  envs' own mode) or ``AutoresetMode.NEXT_STEP`` (:class:`recsim_envs.utils.vector.NextStepAutoreset`), so
  wrappers written for gymnasium's default vector envs (MO-Gymnasium's ``MORecordEpisodeStatistics``) count
  episodes right.
- ``weights`` (multi-objective ``...MO-v0`` ids, ``make`` and ``make_vec``): a scalar reward
  ``weights · vector_reward`` (the vector stays in ``info["vector_reward"]``), so SB3 / rl-zoo3 (whose
  ``Monitor`` needs a float reward) train the MO ids unchanged, e.g. ``env_kwargs: {weights: [1, 100]}`` in a
  zoo YAML entry. ``weights=None`` (default) keeps the vector reward.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

NAMESPACE = "recsim_envs"

#: family modules, each with a ``SPECS`` list
FAMILIES: tuple[str, ...] = (
    "recsim_envs.preference.registry",
    "recsim_envs.coop.registry",
    "recsim_envs.harm.registry",
)


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _autoreset_mode(value: Any):
    from gymnasium.vector import AutoresetMode

    if isinstance(value, AutoresetMode):
        return value
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        if isinstance(value, str) and value.lower().replace("_", "") == mode.value.lower():
            return mode
    raise ValueError(
        f"autoreset_mode must be AutoresetMode.SAME_STEP or AutoresetMode.NEXT_STEP ('SameStep'/'NextStep'), "
        f"got {value!r}"
    )


class EnvEntryPoint:
    """Entry point of a multi-objective id: the family's env class, plus the ``weights=`` kwarg (see above)."""

    def __init__(self, target: str):
        self.target = target

    @property
    def target_class(self) -> type:
        """The family's env (or native vector env) class this entry point builds."""
        return _load(self.target)

    @property
    def metadata(self) -> dict:
        return _load(self.target).metadata

    def __call__(self, weights: Any = None, **kwargs: Any) -> gym.Env:
        env = _load(self.target)(**kwargs)
        if weights is None:
            return env
        from recsim_envs.utils.scalarization import LinearScalarization

        return LinearScalarization(env, weights)

    def __repr__(self) -> str:
        return f"EnvEntryPoint({self.target!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.target == self.target  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.target))


class VectorEntryPoint(EnvEntryPoint):
    """Vector entry point of every id: the family's native vector env, plus ``autoreset_mode`` and (MO ids)
    ``weights`` (see above)."""

    def __call__(self, autoreset_mode: Any = None, weights: Any = None, **kwargs: Any):  # type: ignore[override]
        from gymnasium.vector import AutoresetMode

        from recsim_envs.utils.scalarization import LinearVectorScalarization
        from recsim_envs.utils.vector import NextStepAutoreset

        mode = AutoresetMode.SAME_STEP if autoreset_mode is None else _autoreset_mode(autoreset_mode)
        venv = _load(self.target)(**kwargs)
        if mode is AutoresetMode.NEXT_STEP:
            venv = NextStepAutoreset(venv)
        if weights is not None:
            venv = LinearVectorScalarization(venv, weights)
        return venv

    def __repr__(self) -> str:
        return f"VectorEntryPoint({self.target!r})"


def _entry_point(kind: type, target: str) -> str:
    """Expose ``kind(target)`` as this module's attribute named like the target class; return its path (spec
    entry points stay strings, so ``EnvSpec.to_json`` round-trips)."""
    name = target.rpartition(":")[2]
    globals()[name] = kind(target)
    return f"{__name__}:{name}"


def __getattr__(name: str) -> Any:
    # a spec loaded from JSON in a fresh process names an entry point before the ids were registered
    register_all()
    if name in globals():
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: full id -> model family ("preference", "coop", "harm"), filled by :func:`register_all`
FAMILY_OF: dict[str, str] = {}


def register_all() -> list[str]:
    """Register every family's ids under the ``recsim_envs`` namespace; return the full ids."""
    ids = []
    for module_name in FAMILIES:
        module = importlib.import_module(module_name)
        for spec in module.SPECS:
            spec = dict(spec)
            full_id = f"{NAMESPACE}/{spec.pop('id')}"
            ids.append(full_id)
            FAMILY_OF[full_id] = module_name.split(".")[1]
            if full_id in gym.registry:
                continue
            if spec.get("kwargs", {}).get("multi_objective"):
                spec["entry_point"] = _entry_point(EnvEntryPoint, spec["entry_point"])
            spec["vector_entry_point"] = _entry_point(VectorEntryPoint, spec["vector_entry_point"])
            gym.register(id=full_id, **spec)
    return ids


def env_ids() -> list[str]:
    """All registered ``recsim_envs`` ids, in registration order."""
    return [k for k, s in gym.registry.items() if s.namespace == NAMESPACE]
