"""Registered ids of the harm-exposure family (plain-JSON kwargs; the paper's reference parameters)."""

from __future__ import annotations

from recsim_envs.utils.shell import id_specs

SPECS: list[dict] = id_specs(
    "recsim_envs.harm.env:HarmMitigationEnv",
    "recsim_envs.harm.vector_env:HarmMitigationVectorEnv",
    {
        "HarmMitigation-v0": {},
        "HarmMitigationSampling-v0": {"action_type": "logits", "k": 5, "c": 20.0},
        "HarmMitigationMO-v0": {"multi_objective": True},
    },
    mo={"HarmMitigationMO-v0": "recsim_envs.harm.env:HarmMitigationMOEnv"},
)
