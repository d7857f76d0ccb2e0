"""Registration contract: namespace, idempotence, make without prior import, no heavy imports."""

from __future__ import annotations

import warnings

import gymnasium as gym

import recsim_envs
from recsim_envs.registration import NAMESPACE, register_all


def test_every_id_is_namespaced_and_has_a_vector_entry_point():
    ids = recsim_envs.env_ids()
    assert "recsim_envs/PreferenceShift-v0" in ids
    for env_id in ids:
        spec = gym.spec(env_id)
        assert spec.namespace == NAMESPACE
        assert spec.vector_entry_point is not None, env_id


def test_registration_is_idempotent():
    before = dict(gym.registry)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a re-registration would warn "Overriding environment"
        ids = register_all()
    assert dict(gym.registry) == before
    assert sorted(ids) == sorted(recsim_envs.env_ids())


def test_make_without_prior_import_and_without_torch(run_python):
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('recsim_envs:recsim_envs/PreferenceShift-v0')\n"
        "env.reset(seed=0); env.step(0)\n"
        "assert 'torch' not in sys.modules, 'import recsim_envs must not import torch'\n"
        "print('ok')\n"
    )
    assert run_python(code) == "ok"
