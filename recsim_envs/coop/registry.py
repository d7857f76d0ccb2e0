"""Registered ids of the cooperation/rewiring family (plain-JSON kwargs)."""

from __future__ import annotations

from recsim_envs.coop.presets import TABLE4_PRESETS
from recsim_envs.utils.shell import id_specs

SPECS: list[dict] = id_specs(
    "recsim_envs.coop.env:CooperationRewiringEnv",
    "recsim_envs.coop.vector_env:CooperationRewiringVectorEnv",
    {
        "CooperationRewiring-v0": {},
        **{
            f"CooperationRewiringN{n}-v0": {**p, "W": 2.09, "invalid_action": "skip"} for n, p in TABLE4_PRESETS.items()
        },
        "CooperationRewiringMO-v0": {"multi_objective": True},
    },
    mo={"CooperationRewiringMO-v0": "recsim_envs.coop.env:CooperationRewiringMOEnv"},
)
SPECS += id_specs(
    "recsim_envs.coop.competition:RecommenderCompetitionEnv",
    "recsim_envs.coop.vector_env:RecommenderCompetitionVectorEnv",
    {"RecommenderCompetition-v0": {}, "RecommenderCompetitionMO-v0": {"multi_objective": True}},
    mo={"RecommenderCompetitionMO-v0": "recsim_envs.coop.competition:RecommenderCompetitionMOEnv"},
)
