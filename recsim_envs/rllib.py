"""Use the recsim_envs ids with RLlib (Ray's RL library).

RLlib builds environments through ``ray.tune``'s registry on every env runner (possibly on other nodes), so each
id has to be registered there under a name RLlib can pass around. :func:`register_rllib_envs` registers every
recsim_envs id (or the ones given) under its own id string; the env config RLlib hands to the creator
(``config.environment(env_id, env_config={...})``) becomes the ``make`` keyword arguments::

    from ray.rllib.algorithms.ppo import PPOConfig
    from recsim_envs.rllib import register_rllib_envs

    register_rllib_envs()
    config = (
        PPOConfig()
        .environment("recsim_envs/PreferenceShiftOracle-v0", env_config={"horizon": 10})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=10)
        .training(gamma=0.99)
    )
    algo = config.build_algo()
    algo.train()

Requirements: ``pip install -e ".[rllib]"`` (ray[rllib] 2.60, which pins gymnasium 1.2.2 — the package works on
that version; keep it in its own virtualenv if the rest of your stack needs a newer gymnasium). Ids with a dict
observation (the cooperation ids: graph, mask, features) need RLlib's ``FlattenObservations`` connector and an
action-masking module; the preference and harm ids have flat ``Box`` observations and work as they are. Vector
reward ids (``...MO-v0``) are not usable with RLlib's scalar-reward algorithms.

Speed: RLlib spends more per env step (connectors, one module forward) than these envs do, so step several envs per
env runner (``num_envs_per_env_runner``), and on a small machine keep torch to one thread in each process that
samples or learns (``torch.set_num_threads(1)``; with ``num_env_runners=0`` that is the driver):
``benchmarks/speed_rllib.py`` measures both.

See ``examples/rllib_ppo.py`` for PPO with a recurrent (LSTM) policy on ``PreferenceShiftOracle-v0`` (myopic
γ = 0 and long-term-value γ = 0.99, the paper's two agents) and on ``HarmMitigation-v0``.

This module imports Ray only inside :func:`register_rllib_envs`; importing ``recsim_envs`` never imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import gymnasium as gym


def _make(env_id: str, env_config=None) -> gym.Env:
    """Env creator for ``ray.tune.register_env``: ``gym.make(env_id, **env_config)``."""
    import recsim_envs  # noqa: F401  (registers the ids in the env runner's process)

    kwargs = dict(env_config or {})
    return gym.make(env_id, disable_env_checker=True, **kwargs)


def register_rllib_envs(env_ids: Iterable[str] | None = None) -> list[str]:
    """Register recsim_envs ids with RLlib (``ray.tune.register_env``); return the registered names.

    Each id is registered under itself (e.g. ``"recsim_envs/HarmMitigation-v0"``). ``env_ids`` defaults to every
    registered recsim_envs id; an unknown id raises ``ValueError`` naming it and the known ids.
    """
    from ray.tune.registry import register_env

    from recsim_envs.registration import env_ids as registered

    known = registered()
    ids = list(known if env_ids is None else env_ids)
    unknown = [e for e in ids if e not in known]
    if unknown:
        raise ValueError(f"env_ids {unknown} are not recsim_envs ids; known: {known}")
    for env_id in ids:
        register_env(env_id, functools.partial(_make, env_id))
    return ids


__all__ = ["register_rllib_envs"]
