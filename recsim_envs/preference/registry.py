"""Registered ids of the preference-shift family (plain-JSON kwargs)."""

from __future__ import annotations

_ENV = "recsim_envs.preference.env:PreferenceShiftEnv"
_VEC = "recsim_envs.preference.vector_env:PreferenceShiftVectorEnv"

SPECS: list[dict] = [
    dict(id="PreferenceShift-v0", entry_point=_ENV, vector_entry_point=_VEC, kwargs={}),
    dict(
        id="PreferenceShiftOracle-v0",
        entry_point=_ENV,
        vector_entry_point=_VEC,
        kwargs={"obs_mode": "oracle_beliefs"},
    ),
    dict(
        id="PreferenceShiftPenalized-v0",
        entry_point=_ENV,
        vector_entry_point=_VEC,
        kwargs={"obs_mode": "oracle_beliefs", "nu_initial": 1.0, "nu_natural": 1.0},
    ),
    dict(
        id="PreferenceShiftMO-v0",
        entry_point="recsim_envs.preference.env:PreferenceShiftMOEnv",
        vector_entry_point=_VEC,
        kwargs={"multi_objective": True},
    ),
]
