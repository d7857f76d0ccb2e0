"""Registered ids of the preference-shift family (plain-JSON kwargs)."""

from __future__ import annotations

from recsim_envs.utils.shell import id_specs

_PENALIZED = {"nu_initial": 1.0, "nu_natural": 1.0}

SPECS: list[dict] = id_specs(
    "recsim_envs.preference.env:PreferenceShiftEnv",
    "recsim_envs.preference.vector_env:PreferenceShiftVectorEnv",
    {
        "PreferenceShift-v0": {},
        "PreferenceShiftOracle-v0": {"obs_mode": "oracle_beliefs"},
        "PreferenceShiftPenalized-v0": {"obs_mode": "oracle_beliefs", **_PENALIZED},
        "PreferenceShiftMO-v0": {"multi_objective": True},
    },
    mo={"PreferenceShiftMO-v0": "recsim_envs.preference.env:PreferenceShiftMOEnv"},
)

# Learned user model: users simulated from the transformer of recsim_envs.preference.learned.
SPECS += id_specs(
    "recsim_envs.preference.learned.env:PreferenceShiftLearnedEnv",
    "recsim_envs.preference.learned.vector_env:PreferenceShiftLearnedVectorEnv",
    {
        "PreferenceShiftLearned-v0": {},
        "PreferenceShiftLearnedPenalized-v0": dict(_PENALIZED),
        "PreferenceShiftLearnedMO-v0": {"multi_objective": True},
    },
    mo={"PreferenceShiftLearnedMO-v0": "recsim_envs.preference.learned.env:PreferenceShiftLearnedMOEnv"},
)
