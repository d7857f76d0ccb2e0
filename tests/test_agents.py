"""agents/: SB3 adapter for native vector envs, zoo-shaped hyperparameters, training, save/reload, evaluation.

Training budgets are tiny (a few hundred to 20k steps); the learning test checks a gap that PPO closes in
seconds. Full-size training is in benchmarks/reproduce_preference.py.
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
import yaml

import recsim_envs  # noqa: F401
from agents.evaluation import SB3Policy, evaluate_batched, evaluate_single
from agents.hyperparams import (
    ALGOS,
    HYPERPARAMS_DIR,
    canonical_algo,
    load_hyperparams,
    parse_key_values,
    parse_policy_kwargs,
    resolve,
)
from agents.sb3_vec import GymnasiumVecEnvAdapter, make_sb3_vec_env
from agents.train import build_config, load_agent, load_config, main, train
from baselines.preference import BeliefMyopicPolicy, RandomSlatePolicy

ORACLE = "recsim_envs/PreferenceShiftOracle-v0"
PENALIZED = "recsim_envs/PreferenceShiftPenalized-v0"
TINY = {"n_timesteps": 640, "n_envs": 16}


# -- adapter ------------------------------------------------------------------------------------------------
def test_adapter_matches_sb3_make_vec_env():
    """Native vector env through the adapter == SB3's DummyVecEnv over single envs, across episode ends."""
    native = make_sb3_vec_env(ORACLE, 3, seed=5, vectorization="native", monitor=False)
    dummy = make_sb3_vec_env(ORACLE, 3, seed=5, vectorization="dummy")
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(native.reset(), dummy.reset())
    ends = 0
    for _ in range(25):
        actions = rng.integers(6, size=3)
        o1, r1, d1, i1 = native.step(actions)
        o2, r2, d2, i2 = dummy.step(actions)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_allclose(r1, r2, rtol=1e-6)
        np.testing.assert_array_equal(d1, d2)
        for a, b in zip(i1, i2):
            for key in ("engagement", "engagement_initial", "preference_bin", "choice_bin", "slate"):
                assert a[key] == b[key], key
            if "terminal_observation" in b:
                ends += 1
                np.testing.assert_array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"] is False
    assert ends == 6  # two episode ends per env in 25 steps of a 10-step horizon


def test_adapter_rejects_next_step_autoreset():
    venv = gym.vector.SyncVectorEnv([lambda: gym.make(ORACLE)] * 2)
    with pytest.raises(ValueError, match="autoreset_mode"):
        GymnasiumVecEnvAdapter(venv)


def test_adapter_masks_default_to_all_valid():
    vec = make_sb3_vec_env("recsim_envs/PreferenceShift-v0", 2, monitor=False)
    masks = vec.env_method("action_masks")
    assert len(masks) == 2 and all(m.shape == (7,) and m.all() for m in masks)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_envs": 0}, "n_envs"), ({"n_envs": 2, "vectorization": "subproc"}, "vectorization")],
)
def test_make_sb3_vec_env_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sb3_vec_env(ORACLE, **kwargs)


# -- hyperparameters ----------------------------------------------------------------------------------------
def _yml_files():
    return sorted(HYPERPARAMS_DIR.glob("*.yml"))


@pytest.mark.parametrize("path", _yml_files(), ids=lambda p: p.name)
def test_hyperparam_files_are_zoo_shaped_and_commented(path):
    table = yaml.safe_load(path.read_text())
    assert table, path
    for env_id, entry in table.items():
        assert env_id in gym.registry, env_id
        meta, kwargs = resolve(entry)
        assert meta["n_envs"] >= 1 and meta["n_timesteps"] >= 1
    # every value line carries a comment (documentation where it is declared)
    for line in path.read_text().splitlines():
        if re.match(r"^\s+\w+:", line):
            assert "#" in line, f"{path.name}: uncommented value {line!r}"


def test_duplicate_keys_are_rejected(tmp_path):
    conf = tmp_path / "dup.yml"
    conf.write_text(f"{ORACLE}:\n  policy: MlpPolicy\n{ORACLE}:\n  policy: MlpPolicy\n")
    with pytest.raises(ValueError, match="duplicate key"):
        load_hyperparams("ppo", ORACLE, conf_file=conf)
    for path in _yml_files():  # the shipped files have none
        load_hyperparams("ppo", next(iter(yaml.safe_load(path.read_text()))), conf_file=path)


def test_myopic_and_ltv_differ_only_in_gamma():
    for algo in ("ppo", "ppo_lstm"):
        for env_id in (ORACLE, PENALIZED):
            ltv = load_hyperparams(algo, env_id, "ltv")
            myo = load_hyperparams(algo, env_id, "myopic")
            assert ltv.pop("gamma") == 0.99 and myo.pop("gamma") == 0.0
            assert ltv == myo


def test_recurrent_config_has_64_lstm_cells():
    _, kwargs = resolve(load_hyperparams("RecurrentPPO", ORACLE))
    assert kwargs["policy_kwargs"]["lstm_hidden_size"] == 64


def test_policy_kwargs_parser():
    import torch.nn as nn

    assert parse_policy_kwargs("dict(net_arch=[64, 64], activation_fn=nn.Tanh)") == {
        "net_arch": [64, 64],
        "activation_fn": nn.Tanh,
    }
    with pytest.raises(ValueError, match="policy_kwargs"):
        parse_policy_kwargs("__import__('os').system('true')")
    with pytest.raises(ValueError, match="policy_kwargs"):
        parse_policy_kwargs("dict(net_arch=open('x'))")


def test_schedule_and_key_values():
    _, kwargs = resolve({"policy": "MlpPolicy", "n_timesteps": 10, "learning_rate": "lin_1e-3"})
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3) and kwargs["learning_rate"](0.5) == pytest.approx(5e-4)
    assert parse_key_values(["gamma:0.0", "obs_mode:oracle_beliefs", "net:[1, 2]"], "x") == {
        "gamma": 0.0,
        "obs_mode": "oracle_beliefs",
        "net": [1, 2],
    }


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: canonical_algo("dqn"), "algo"),
        (lambda: build_config("ppo", ORACLE, variant="greedy"), "variant"),
        (lambda: build_config("ppo", ORACLE, seed=-1), "seed"),
        (lambda: build_config("ppo", "recsim_envs/Nope-v0"), "env_id"),
        (lambda: build_config("ppo", ORACLE, overrides={"n_timesteps": 0}), "n_timesteps"),
        (lambda: build_config("ppo", ORACLE, overrides={"normalize": True}), "normalize"),
        (lambda: resolve({"policy": "MlpPolicy", "n_timesteps": 5, "learning_rate": "exp_1"}), "learning_rate"),
        (lambda: parse_key_values(["gamma=0"], "hyperparams"), "hyperparams"),
    ],
)
def test_bad_config_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- training, saving, reloading ----------------------------------------------------------------------------
def test_recurrent_ppo_save_reload_evaluates_identically(tmp_path):
    cfg = build_config("ppo_lstm", ORACLE, seed=3, variant="myopic", overrides=TINY)
    model, run_dir = train(cfg, log_folder=tmp_path, checkpoint_freq=320)
    assert (run_dir / "model.zip").exists() and list((run_dir / "checkpoints").glob("*.zip"))
    assert list((run_dir / "tb").rglob("events.out.tfevents*"))
    saved = load_config(run_dir)
    assert saved == cfg and saved.hyperparams["gamma"] == 0.0 and saved.seed == 3
    before = evaluate_batched(SB3Policy(model), ORACLE, 40, seed=11)
    policy, cfg2 = load_agent(run_dir)
    after = evaluate_batched(policy, ORACLE, 40, seed=11)
    assert cfg2 == cfg
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


def test_same_seed_same_agent_and_single_equals_batched():
    overrides = {"n_timesteps": 1280, "n_envs": 32}
    runs = [train(build_config("ppo", ORACLE, seed=s, overrides=overrides), log_folder=None)[0] for s in (1, 1, 2)]
    evals = [evaluate_batched(SB3Policy(m), ORACLE, 30, seed=4) for m in runs]
    np.testing.assert_array_equal(evals[0]["return"], evals[1]["return"])
    params = [np.concatenate([p.detach().ravel().numpy() for p in m.policy.parameters()]) for m in runs]
    np.testing.assert_array_equal(params[0], params[1])
    assert not np.array_equal(params[0], params[2])
    single = evaluate_single(SB3Policy(runs[0]), ORACLE, 30, seed=4)
    for k in evals[0]:
        np.testing.assert_allclose(single[k], evals[0][k], rtol=1e-9, atol=1e-9, err_msg=k)


def test_ppo_learns_the_penalised_objective():
    """20k PPO steps beat the random recommender on the penalised reward by a wide margin."""
    model, _ = train(build_config("ppo", PENALIZED, seed=0, overrides={"n_timesteps": 20_000}), log_folder=None)
    trained = evaluate_batched(SB3Policy(model), PENALIZED, 300, seed=77)["return"].mean()
    env = gym.make(PENALIZED)
    rand = RandomSlatePolicy(env.unwrapped, seed=0)
    rand.batched = True
    random_return = evaluate_batched(rand, PENALIZED, 300, seed=77)["return"].mean()
    assert random_return < 4.0 and trained > random_return + 6.0, (trained, random_return)


def test_maskable_ppo_trains_through_adapter(tmp_path):
    cfg = build_config("MaskablePPO", "recsim_envs/PreferenceShift-v0", seed=0, overrides=TINY)
    model, run_dir = train(cfg, log_folder=tmp_path, tensorboard=False)
    assert type(model).__name__ == "MaskablePPO" and (run_dir / "model.zip").exists()


def test_every_algo_is_known():
    assert set(ALGOS) == {"ppo", "ppo_lstm", "ppo_mask"}


def test_cli_trains_saves_and_evaluates(tmp_path, capsys):
    rc = main(
        [
            "--algo", "ppo", "--env", ORACLE, "--seed", "2", "--log-folder", str(tmp_path),
            "--hyperparams", "gamma:0.0", "n_envs:16", "-n", "640",
            "--env-kwargs", "nu_initial:0.5", "--no-progress-bar", "--no-tensorboard", "--eval-episodes", "20",
        ]
    )  # fmt: skip
    assert rc == 0
    cfg = load_config(tmp_path / "ppo" / "PreferenceShiftOracle-v0_ltv_s2")
    assert cfg.hyperparams["gamma"] == 0.0 and cfg.hyperparams["n_timesteps"] == 640
    assert cfg.env_kwargs == {"nu_initial": 0.5}
    assert "evaluation over 20 users" in capsys.readouterr().out


# -- evaluation ---------------------------------------------------------------------------------------------
def test_batched_and_single_evaluation_agree_for_a_baseline():
    env = gym.make(ORACLE)
    policy = BeliefMyopicPolicy(env.unwrapped)
    batched = evaluate_batched(policy, ORACLE, 25, seed=9)
    single = evaluate_single(BeliefMyopicPolicy(env.unwrapped), ORACLE, 25, seed=9)
    assert set(batched) == set(single) >= {"return", "engagement", "expected_engagement_natural", "length"}
    for k in batched:
        np.testing.assert_allclose(batched[k], single[k], rtol=1e-12, atol=1e-12, err_msg=k)
    assert np.all(batched["length"] == 10)


def test_evaluation_bad_episodes():
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate_single(object(), ORACLE, 0)


# -- wrappers -----------------------------------------------------------------------------------------------
def test_linear_scalarization_matches_the_scalar_id():
    """MO id + weights (1, ν, ν) reproduces the penalised scalar id step by step."""
    from agents.wrappers import LinearScalarization

    mo = LinearScalarization(gym.make("recsim_envs/PreferenceShiftMO-v0", disable_env_checker=True), [1.0, 0.5, 0.5])
    scalar = gym.make("recsim_envs/PreferenceShift-v0", nu_initial=0.5, nu_natural=0.5)
    mo.reset(seed=3)
    scalar.reset(seed=3)
    for a in [0, 4, 4, 2, 1, 5, 3, 3, 0, 4]:
        _, r_mo, *_, info = mo.step(a)
        _, r_sc, *_ = scalar.step(a)
        assert r_mo == pytest.approx(r_sc, abs=1e-6)
        assert info["vector_reward"].shape == (3,)
    with pytest.raises(ValueError, match="weights"):
        LinearScalarization(gym.make("recsim_envs/PreferenceShiftMO-v0"), [1.0, 2.0])
    with pytest.raises(ValueError, match="reward_dim"):
        LinearScalarization(gym.make(ORACLE), [1.0])


def test_maskable_ppo_on_a_masked_dict_env_only_picks_valid_actions(tmp_path):
    """Coop N=10 preset: Dict observation with obs['action_mask']; training and evaluation respect the mask."""
    env_id = "recsim_envs/CooperationRewiringN10-v0"
    conf = tmp_path / "ppo_mask_flat.yml"  # a flat MultiInputPolicy (the shipped entry is the GNN of issue 6)
    conf.write_text(
        f"{env_id}:\n  n_envs: 16\n  n_timesteps: 1024\n  policy: MultiInputPolicy\n  n_steps: 64\n"
        "  batch_size: 256\n  n_epochs: 2\n"
    )
    cfg = build_config("ppo_mask", env_id, seed=0, conf_file=str(conf))
    model, run_dir = train(cfg, log_folder=tmp_path, tensorboard=False)
    vec = model.get_env()
    masks = np.stack(vec.env_method("action_masks"))
    assert masks.shape == (16, 10) and not masks.all()  # the observed masks, not "everything valid"
    policy, _ = load_agent(run_dir)
    env = gym.make(env_id)
    chosen = 0
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        policy.reset()
        done = False
        while not done:
            a = int(policy.act(obs, info))
            if obs["action_mask"].any():
                assert obs["action_mask"][a], (a, obs["action_mask"])
                chosen += 1
            obs, _, term, trunc, info = env.step(a)
            done = term or trunc
    assert chosen > 0


def test_yaml_policy_names_resolve_to_classes():
    import pytest

    from agents.gnn import GNNRankingPolicy
    from agents.train import resolve_policy

    assert resolve_policy("MlpPolicy") == "MlpPolicy"
    assert resolve_policy("GNNRankingPolicy") is GNNRankingPolicy
    assert resolve_policy("agents.gnn:GNNRankingPolicy") is GNNRankingPolicy
    with pytest.raises(ValueError, match="policy"):
        resolve_policy("agents.gnn:NoSuchPolicy")


def test_training_without_tensorboard_leaves_no_sb3_temp_folder(tmp_path, monkeypatch):
    import tempfile

    from agents.train import build_config, train

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cfg = build_config(
        "ppo", "recsim_envs/PreferenceShift-v0", overrides={"n_timesteps": 64, "n_envs": 2, "n_steps": 32,
                                                           "batch_size": 64}
    )  # fmt: skip
    model, _ = train(cfg, log_folder=None, tensorboard=False)
    assert model.num_timesteps >= 64
    assert not list(tmp_path.glob("SB3-*"))
