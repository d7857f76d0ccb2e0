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

# Learned user model (issue 7): users simulated from the transformer of recsim_envs.preference.learned.
_LEARNED_ENV = "recsim_envs.preference.learned.env:PreferenceShiftLearnedEnv"
_LEARNED_VEC = "recsim_envs.preference.learned.vector_env:PreferenceShiftLearnedVectorEnv"
SPECS += [
    dict(id="PreferenceShiftLearned-v0", entry_point=_LEARNED_ENV, vector_entry_point=_LEARNED_VEC, kwargs={}),
    dict(
        id="PreferenceShiftLearnedPenalized-v0",
        entry_point=_LEARNED_ENV,
        vector_entry_point=_LEARNED_VEC,
        kwargs={"nu_initial": 1.0, "nu_natural": 1.0},
    ),
    dict(
        id="PreferenceShiftLearnedMO-v0",
        entry_point="recsim_envs.preference.learned.env:PreferenceShiftLearnedMOEnv",
        vector_entry_point=_LEARNED_VEC,
        kwargs={"multi_objective": True},
    ),
]
