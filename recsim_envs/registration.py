"""One place that registers every environment id, grouped by model family.

Each family module exposes ``SPECS``: a list of dicts with the keyword arguments of ``gymnasium.register``
(``id`` without namespace, ``entry_point``, ``vector_entry_point``, plain-JSON ``kwargs``, ...). Registration is
idempotent: importing ``recsim_envs`` twice, or calling :func:`register_all` again, changes nothing.
"""

from __future__ import annotations

import importlib

import gymnasium as gym

NAMESPACE = "recsim_envs"

#: family modules, each with a ``SPECS`` list
FAMILIES: tuple[str, ...] = (
    "recsim_envs.preference.registry",
    "recsim_envs.coop.registry",
    "recsim_envs.harm.registry",
)


def register_all() -> list[str]:
    """Register every family's ids under the ``recsim_envs`` namespace; return the full ids."""
    ids = []
    for module_name in FAMILIES:
        module = importlib.import_module(module_name)
        for spec in module.SPECS:
            spec = dict(spec)
            full_id = f"{NAMESPACE}/{spec.pop('id')}"
            ids.append(full_id)
            if full_id in gym.registry:
                continue
            gym.register(id=full_id, **spec)
    return ids


def env_ids() -> list[str]:
    """All registered ``recsim_envs`` ids, in registration order."""
    return [k for k, s in gym.registry.items() if s.namespace == NAMESPACE]
