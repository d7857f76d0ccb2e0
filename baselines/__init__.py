"""Policies that are not learned by RL, all behind the :class:`baselines.protocol.Policy` protocol.

One registry says which baselines apply to an env id: :data:`FAMILY_BASELINES` maps each model family (the
``family`` an id was registered under, ``recsim_envs.registration.FAMILY_OF``) to a function
``(env_id) -> {name: factory}``, where ``factory()`` returns a fresh policy for a single env of that id.
:func:`family_baselines` looks the id's family up; the leaderboard and the examples go through it. A new family
adds its module ``baselines/<family>.py`` and one entry here (:func:`register_family_baselines`).

Policies that also accept a native vector env's stacked ``(obs, info)`` are returned wrapped in
:class:`BatchedPolicy` (``batched = True``), so evaluation runs them on the vector env.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

#: a family's baselines for one env id: name -> factory of a fresh policy
Baselines = dict[str, Callable[[], Any]]


class BatchedPolicy:
    """Marks a policy that accepts stacked observations (``agents.evaluation`` then uses the native vector env)."""

    batched = True

    def __init__(self, policy: Any):
        self.policy = policy

    def reset(self, seed: int | None = None) -> None:
        from baselines.protocol import reset_policy

        reset_policy(self.policy, seed)

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        return self.policy.act(obs, info)


def _make(env_id: str) -> Any:
    import gymnasium as gym

    return gym.make(env_id, disable_env_checker=True)


def preference_family(env_id: str) -> Baselines:
    """``baselines.preference.preference_baselines`` (every one accepts stacked observations); none for the
    learned-simulator ids, whose users have no ground-truth tables for the analytic policies."""
    from baselines.preference import preference_baselines
    from recsim_envs.preference.core import PreferenceShiftConfig

    cfg = _make(env_id).unwrapped.config
    if not isinstance(cfg, PreferenceShiftConfig):
        return {}
    names = preference_baselines(cfg)
    return {name: (lambda name=name: BatchedPolicy(preference_baselines(cfg)[name])) for name in names}


@functools.cache
def _harm_solutions(env_id: str) -> dict[str, Any]:
    from baselines.harm import HarmProblem, compare

    return compare(HarmProblem.from_env(_make(env_id)))


def harm_family(env_id: str) -> Baselines:
    """uniform, top-k(u0), alternating and IFT (``baselines.harm.compare``), solved once per id and played through
    ``baselines.harm.StationaryPolicy`` (batched)."""
    from baselines.harm import StationaryPolicy

    return {
        name: (lambda name=name: BatchedPolicy(StationaryPolicy(_harm_solutions(env_id)[name], _make(env_id))))
        for name in ("uniform", "top-k(u0)", "alternating", "ift")
    }


#: Carvalho's rewiring rules as recommenders (RANDOM, uniform over the valid links, is the generic random policy)
COOP_RULES = ("NO_MED", "GOOD", "BAD", "FAIR")


def coop_family(env_id: str) -> Baselines:
    """Carvalho's rewiring rules, run by the compiled kernel (``baselines.coop.RulePolicy``, drawing from each
    replica's own stream); the competition ids apply the same rules to the agent's own users."""
    from baselines.coop import RulePolicy

    return {rule: (lambda rule=rule: RulePolicy(rule)) for rule in COOP_RULES}


#: model family -> its baselines for an env id
FAMILY_BASELINES: dict[str, Callable[[str], Baselines]] = {
    "preference": preference_family,
    "harm": harm_family,
    "coop": coop_family,
}


def register_family_baselines(family: str, fn: Callable[[str], Baselines]) -> None:
    """Add (or replace) the baselines of ``family``: ``fn(env_id) -> {name: factory}``."""
    if not isinstance(family, str) or not family:
        raise ValueError(f"family must be a non-empty string, got {family!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable (env_id -> {{name: factory}}), got {fn!r}")
    FAMILY_BASELINES[family] = fn


def family_of(env_id: str) -> str:
    """The model family ``env_id`` was registered under (``""`` for an id not registered by recsim_envs)."""
    from recsim_envs.registration import FAMILY_OF, register_all

    if not FAMILY_OF:
        register_all()
    return FAMILY_OF.get(env_id, "")


def family_baselines(env_id: str) -> Baselines:
    """The baselines of ``env_id``'s family (empty for a family without an entry in :data:`FAMILY_BASELINES`)."""
    fn = FAMILY_BASELINES.get(family_of(env_id))
    return fn(env_id) if fn is not None else {}


__all__ = [
    "COOP_RULES",
    "FAMILY_BASELINES",
    "BatchedPolicy",
    "family_baselines",
    "family_of",
    "register_family_baselines",
]
