"""One place that registers every environment id, grouped by model family.

Each family module exposes ``SPECS``: a list of dicts with the keyword arguments of ``gymnasium.register``
(``id`` without namespace, ``entry_point``, ``vector_entry_point``, plain-JSON ``kwargs``, ...). Registration is
idempotent: importing ``recsim_envs`` twice, or calling :func:`register_all` again, changes nothing.

Every entry point is a family's env class: :class:`recsim_envs.utils.shell.RecsimEnv` /
:class:`~recsim_envs.utils.shell.RecsimVectorEnv` take, besides the family's own kwargs,

- ``multi_objective`` (the ``...MO-v0`` ids register it as True): the vector reward ``info["objectives"]``;
- ``weights`` (multi-objective ids, ``make`` and ``make_vec``): a scalar reward ``weights · vector_reward`` (the
  vector stays in ``info["vector_reward"]``), so SB3 / rl-zoo3 (whose ``Monitor`` needs a float reward) train the
  MO ids unchanged, e.g. ``env_kwargs: {weights: [1, 100]}`` in a zoo YAML entry; ``weights=None`` (default)
  keeps the vector reward;
- ``reward_weights``: the weights of the scalar reward over the objectives (aliases: the families' paper names);
- ``autoreset_mode`` (``gymnasium.make_vec`` only): ``AutoresetMode.SAME_STEP`` (default) or
  ``AutoresetMode.NEXT_STEP``, so wrappers written for gymnasium's default vector envs (MO-Gymnasium's
  ``MORecordEpisodeStatistics``) count episodes right.
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
            gym.register(id=full_id, **spec)
    return ids


def env_ids() -> list[str]:
    """All registered ``recsim_envs`` ids, in registration order."""
    return [k for k, s in gym.registry.items() if s.namespace == NAMESPACE]
