"""Registered ids of the harm-exposure family (plain-JSON kwargs; the paper's reference parameters)."""

from __future__ import annotations

_ENV = "recsim_envs.harm.env:HarmMitigationEnv"
_VEC = "recsim_envs.harm.vector_env:HarmMitigationVectorEnv"

SPECS: list[dict] = [
    dict(id="HarmMitigation-v0", entry_point=_ENV, vector_entry_point=_VEC, kwargs={}),
    dict(
        id="HarmMitigationSampling-v0",
        entry_point=_ENV,
        vector_entry_point=_VEC,
        kwargs={"action_type": "logits", "k": 5, "c": 20.0},
    ),
    dict(
        id="HarmMitigationMO-v0",
        entry_point="recsim_envs.harm.env:HarmMitigationMOEnv",
        vector_entry_point=_VEC,
        kwargs={"multi_objective": True},
    ),
]
