"""Registered ids of the cooperation/rewiring family (plain-JSON kwargs)."""

from __future__ import annotations

from recsim_envs.coop.presets import TABLE4_PRESETS

_ENV = "recsim_envs.coop.env:CooperationRewiringEnv"
_VEC = "recsim_envs.coop.vector_env:CooperationRewiringVectorEnv"
_COMP = "recsim_envs.coop.competition:RecommenderCompetitionEnv"
_COMP_VEC = "recsim_envs.coop.vector_env:RecommenderCompetitionVectorEnv"

SPECS: list[dict] = [
    dict(id="CooperationRewiring-v0", entry_point=_ENV, vector_entry_point=_VEC, kwargs={}),
    *[
        dict(
            id=f"CooperationRewiringN{n}-v0",
            entry_point=_ENV,
            vector_entry_point=_VEC,
            kwargs={**preset, "W": 2.09, "invalid_action": "skip"},
        )
        for n, preset in TABLE4_PRESETS.items()
    ],
    dict(
        id="CooperationRewiringMO-v0",
        entry_point="recsim_envs.coop.env:CooperationRewiringMOEnv",
        vector_entry_point=_VEC,
        kwargs={"multi_objective": True},
    ),
    dict(id="RecommenderCompetition-v0", entry_point=_COMP, vector_entry_point=_COMP_VEC, kwargs={}),
    dict(
        id="RecommenderCompetitionMO-v0",
        entry_point="recsim_envs.coop.competition:RecommenderCompetitionMOEnv",
        vector_entry_point=_COMP_VEC,
        kwargs={"multi_objective": True},
    ),
]
