"""Networked cooperation dilemma with recommender rewiring (Carvalho 2021; Santos, Pacheco, Lenaerts 2006).

- :mod:`~recsim_envs.coop.simulator`: replica-vectorised model (``CoopConfig``, ``CoopBatch``, ``simulate``);
- :mod:`~recsim_envs.coop.kernel`: the compiled (numba) step, rewire and initialisation kernels;
- :mod:`~recsim_envs.coop.rules`: the rewiring rules (recommenders) and their codes;
- :mod:`~recsim_envs.coop.env` / :mod:`~recsim_envs.coop.vector_env`: ``CooperationRewiring-v0`` and
  ``RecommenderCompetition-v0`` (single and native vector envs);
- :mod:`~recsim_envs.coop.multi_agent`: competing recommenders as PettingZoo agents (``multi_agent.env()``,
  needs the ``[multiagent]`` extra).

Running a heuristic on many replicas at once (the evaluation-table path; ``baselines.coop.evaluate_rules`` does
the same for a registered preset)::

    from recsim_envs.coop import simulate
    out = simulate("GOOD", n_replicas=30, seed=0, n_nodes=500, degree=30, beta=0.005, W=2.09, max_steps=500_000)
    out["cooperator_fraction"].mean(), out["rewires_per_opportunity"].mean(), out["heterogeneity"].mean()

Replica i is seeded ``seed + i`` (the same stream as env replica i), so results do not depend on batching.
"""

from __future__ import annotations

from typing import Any

from recsim_envs.coop.presets import TABLE4_PRESETS
from recsim_envs.coop.rules import GRID_NAMES, RULE_NAMES, rule_code, rule_name

__all__ = [
    "CoopBatch",
    "CoopConfig",
    "GRID_NAMES",
    "RULE_NAMES",
    "TABLE4_PRESETS",
    "rule_code",
    "rule_name",
    "simulate",
]


def __getattr__(name: str) -> Any:
    # the simulator imports numba; load it on first use so `import recsim_envs` (registration) stays light
    if name in ("CoopBatch", "CoopConfig", "simulate"):
        from recsim_envs.coop import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module 'recsim_envs.coop' has no attribute {name!r}")
