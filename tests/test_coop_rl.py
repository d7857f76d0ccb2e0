"""agents/coop_rl.py (and agents.coop_train, agents.ranker, baselines.coop.RulePolicy) on the real cooperation
envs: the kernel-rule policy through the env vs the simulator, the engagement reward, the learned ranker as a
policy (masking, seeding, any N, competition observations), a tiny training run that resumes after a kill, the
settings-keyed run folder, and the competition rollout. Budgets are tiny (the whole file takes ~40 s)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import recsim_envs  # noqa: F401
from agents.coop_rl import (
    HEURISTICS,
    LearnedRanker,
    engagement_scale,
    gnn_hyperparams,
    load_ranker,
    make_training_env,
    rollout_competition,
    rollout_learned,
    run_heuristics,
    train_ranker,
)
from agents.gnn import GNNRankingPolicy
from baselines.coop import RulePolicy

N10 = "recsim_envs/CooperationRewiringN10-v0"
N30 = "recsim_envs/CooperationRewiringN30-v0"
COMP = "recsim_envs/RecommenderCompetition-v0"
SMALL_COMP = {"n_nodes": 30, "degree": 8, "beta": 0.05, "max_steps": 3000, "opponents": ["BAD_X"]}
TINY = {"n_envs": 8, "n_steps": 32, "batch_size": 128, "n_epochs": 2}


def model_kwargs(env_id: str) -> dict:
    kw = gym.spec(env_id).kwargs
    return {k: kw[k] for k in ("n_nodes", "degree", "beta", "W", "max_steps")}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    th.set_num_threads(1)
    d = tmp_path_factory.mktemp("run")
    summary = train_ranker(N10, "coops", 0, d, n_timesteps=512, overrides=TINY, log_every=128, checkpoint_every=256)
    return d, summary


@pytest.mark.parametrize("rule", [r for r in HEURISTICS if r != "NO_MED"])
def test_rule_policy_through_env_reproduces_the_simulator(rule):
    """The kernel's rule as a policy through the env (the agent's pause, the policy, apply) and the same rule
    compiled into the simulator, same seeds: every replica ends with the same metrics and the same number of
    steps — the same trajectory."""
    r = 24
    env = rollout_learned(RulePolicy(rule), N10, r, seed=5000)
    sim = run_heuristics([rule], r, 5000, model_kwargs(N10))[rule]
    for key in ("cooperator_fraction", "rewires", "rewires_done", "heterogeneity", "max_degree", "steps"):
        np.testing.assert_array_equal(env[key], np.asarray(sim[key], dtype=float), err_msg=f"{rule} {key}")
    assert np.all(env["decisions"] >= 1)


def test_no_med_policy_through_env_matches_simulator_in_distribution():
    """NO_MED draws for a rewire whose node has no valid partner at all inside the simulator, while the env only
    pauses when one exists, so trajectories part; the law is the same (compared within 4 standard errors)."""
    r = 400
    env = rollout_learned(RulePolicy("NO_MED"), N10, r, seed=5000)
    sim = run_heuristics(["NO_MED"], r, 5000, model_kwargs(N10))["NO_MED"]
    for key in ("cooperator_fraction", "rewires"):
        a, b = env[key], np.asarray(sim[key], dtype=float)
        se = np.sqrt(a.var() / r + b.var() / r)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9, (key, a.mean(), b.mean(), se)


def test_rule_policy_picks_from_its_candidate_set():
    venv = gym.make_vec(N30, num_envs=64, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=3)
    feats, mask, adj = obs["node_features"], obs["action_mask"].astype(bool), obs["adjacency"].astype(bool)
    strat, deg = feats[..., 0] > 0.5, np.rint(feats[..., 1] * 29)
    rows, focus, dropped = np.arange(64), obs["focused_node"], obs["dropped_node"]
    for rule, cand in (
        ("GOOD", mask & strat),
        ("BAD", mask & ~strat),
        ("RANDOM", mask),
        ("NO_MED", mask & adj[rows, dropped]),
        ("FAIR", mask & (strat == strat[rows, focus][:, None])),
        ("C_HIGH", mask & strat),
        ("D_LOW", mask & ~strat),
    ):
        a = RulePolicy(rule, venv).act(obs, {})
        has = cand.any(1)
        assert np.all(cand[rows[has], a[has]]), rule
        assert np.all(a[~has] == focus[~has]), rule  # no candidate: decline (a masked action)
        if rule == "C_HIGH":
            best = np.where(cand, deg, -1).max(1)
            assert np.all(deg[rows[has], a[has]] == best[has])
        if rule == "D_LOW":
            best = np.where(cand, deg, 1e9).min(1)
            assert np.all(deg[rows[has], a[has]] == best[has])
    assert np.all(RulePolicy("NULL", venv).act(obs, {}) == focus)
    with pytest.raises(ValueError, match="rule"):
        RulePolicy("BEST")
    with pytest.raises(RuntimeError, match="bind"):
        RulePolicy("GOOD").act(obs, {})


def test_engagement_reward_counts_rewire_requests():
    """Training reward for "rewires" = +1/E per rewire request (E = N·k/2 edges): an episode's return times E
    equals the env's final #rewires (requests counted from the episode's start)."""
    venv = make_training_env(N10, "rewires", n_envs=4, seed=11)
    venv.reset()
    e = 1.0 / engagement_scale(N10)
    assert e == 20.0  # 10·4/2 edges
    rng = np.random.default_rng(0)
    ret, checked = np.zeros(4), 0
    for _ in range(2000):
        masks = np.stack(venv.env_method("action_masks"))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        _, reward, done, infos = venv.step(actions)
        assert np.all(reward >= 0)
        ret += reward
        for i in np.flatnonzero(done):
            assert ret[i] * e == pytest.approx(infos[i]["rewires"], abs=1e-4)
            assert infos[i]["episode"]["r"] == pytest.approx(ret[i], abs=1e-4)  # what the learning curve records
            ret[i] = 0.0
            checked += 1
        if checked >= 12:
            break
    assert checked >= 12
    with pytest.raises(ValueError, match="reward must be one of"):
        make_training_env(N10, "engagement", 2, 0)


def test_learned_ranker_masks_seeds_and_runs_at_any_size(tiny_run):
    d, _ = tiny_run
    greedy, sampler = load_ranker(d), load_ranker(d, deterministic=False, seed=7)
    for env_id in (N10, N30):  # trained at N = 10; the same weights act at N = 30
        venv = gym.make_vec(env_id, num_envs=32, vectorization_mode="vector_entry_point")
        obs, _ = venv.reset(seed=1)
        mask = obs["action_mask"].astype(bool)
        p = greedy.probabilities(obs)
        assert np.all(p[~mask] == 0.0)
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
        a = greedy.act(obs, {})
        assert np.all(mask[np.arange(32), a]) and np.all(a == p.argmax(1))
        sampler.reset(3)
        s1 = [sampler.act(obs, {}) for _ in range(5)]
        sampler.reset(3)
        s2 = [sampler.act(obs, {}) for _ in range(5)]
        assert all(np.array_equal(x, y) for x, y in zip(s1, s2))
        assert all(np.all(mask[np.arange(32), x]) for x in s1)
        single = {k: v[0] for k, v in obs.items()}
        assert greedy.act(single, {}) == a[0]
    # competition observations carry extra one-hot recommender columns: the trained columns are used
    venv = gym.make_vec(COMP, num_envs=4, vectorization_mode="vector_entry_point", **SMALL_COMP)
    obs, _ = venv.reset(seed=2)
    assert obs["node_features"].shape[-1] > 2
    a = greedy.act(obs, {})
    assert a.shape == (4,)
    with pytest.raises(ValueError, match="policy must be a GNNRankingPolicy"):
        LearnedRanker(object())


def test_train_ranker_writes_curve_and_resumes_after_kill(tiny_run, tmp_path):
    d, summary = tiny_run
    assert summary["n_timesteps"] >= 512 and summary["resumed_from"] == 0
    rows = [json.loads(x) for x in (d / "curve.jsonl").read_text().splitlines()]
    assert [r["timesteps"] for r in rows] == sorted({r["timesteps"] for r in rows}) and len(rows) >= 2
    assert all(0.0 <= r["cooperator_fraction"] <= 1.0 for r in rows)
    assert (d / "checkpoint.zip").exists() and (d / "model.zip").exists()
    assert train_ranker(N10, "coops", 0, d, n_timesteps=512, overrides=TINY) == summary  # finished: returned as is
    # a run killed after its checkpoint: only checkpoint.zip and curve.jsonl are left
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "checkpoint.zip").write_bytes((d / "checkpoint.zip").read_bytes())
    (killed / "curve.jsonl").write_text((d / "curve.jsonl").read_text())
    resumed = train_ranker(N10, "coops", 0, killed, n_timesteps=1024, overrides=TINY, log_every=128)
    assert resumed["resumed_from"] >= 256 and resumed["n_timesteps"] >= 1024
    rows2 = [json.loads(x) for x in (killed / "curve.jsonl").read_text().splitlines()]
    assert rows2[: len(rows)] == rows and rows2[-1]["timesteps"] > rows[-1]["timesteps"]
    assert isinstance(load_ranker(killed).net, th.nn.Module)
    # a finished run asked for a larger budget continues from its final model
    longer = train_ranker(N10, "coops", 0, killed, n_timesteps=1536, overrides=TINY, log_every=128)
    assert longer["resumed_from"] == resumed["n_timesteps"] and longer["n_timesteps"] >= 1536
    assert longer["train_seconds"] >= resumed["train_seconds"]
    with pytest.raises(ValueError, match="reward must be one of"):
        train_ranker(N10, "likes", 0, tmp_path / "x")
    with pytest.raises(ValueError, match="seed must be an integer"):
        train_ranker(N10, "coops", -1, tmp_path / "x")


def test_gnn_hyperparams_reads_the_strict_yaml(tmp_path):
    """One YAML loader: duplicate keys are an error (a plain load would keep the last silently); an entry whose
    policy is not the GNN is refused."""
    conf = tmp_path / "ppo_mask.yml"
    conf.write_text(
        "recsim_envs/CooperationRewiringN10-v0:\n  policy: 'GNNRankingPolicy'  # a\n  n_envs: 8  # b\n"
        "recsim_envs/CooperationRewiringN10-v0:\n  policy: 'MultiInputPolicy'  # c\n  n_envs: 16  # d\n"
    )
    with pytest.raises(ValueError, match="duplicate key"):
        gnn_hyperparams(N10, conf)
    conf.write_text(
        "recsim_envs/CooperationRewiringN10-v0:\n  policy: 'GNNRankingPolicy'\n  n_envs: 8\n"
        "recsim_envs/CooperationRewiringN30-v0:\n  policy: 'MultiInputPolicy'\n  n_envs: 16\n"
    )
    assert gnn_hyperparams(N10, conf) == {"policy": "GNNRankingPolicy", "n_envs": 8}
    with pytest.raises(ValueError, match="no GNNRankingPolicy entry"):
        gnn_hyperparams(N30, conf)
    with pytest.raises(ValueError, match="has no entry"):
        gnn_hyperparams(COMP, conf)
    assert gnn_hyperparams(N10)["policy"] == "GNNRankingPolicy"  # the shipped file


def test_train_ranker_keys_the_run_folder_by_its_settings(tiny_run, tmp_path):
    """Each curve row carries the run's settings and their hash; a folder holding another setting's run (other
    seed, other hyperparameters) is refused instead of resumed; folders named by the hash differ."""
    from agents.coop_rl import ranker_run_dir
    from agents.store import settings_hash

    d, summary = tiny_run
    rows = [json.loads(x) for x in (d / "curve.jsonl").read_text().splitlines()]
    for r in rows:
        assert r["settings"]["seed"] == 0 and r["settings"]["reward"] == "coops"
        assert r["settings"]["hyperparams"]["n_steps"] == 32 and r["settings"]["env_id"] == N10
        assert r["settings_hash"] == settings_hash(r["settings"]) == summary["settings_hash"]
    for seed, overrides in ((1, TINY), (0, {**TINY, "n_steps": 64})):
        with pytest.raises(ValueError, match="holds a run with other settings"):
            train_ranker(N10, "coops", seed, d, n_timesteps=512, overrides=overrides)
    other = {**rows[0]["settings"], "seed": 1}
    assert ranker_run_dir(tmp_path, other) != ranker_run_dir(tmp_path, rows[0]["settings"])


def test_policy_hyperparams_entry_builds_gnn_policy(tiny_run):
    from sb3_contrib import MaskablePPO

    d, summary = tiny_run
    model = MaskablePPO.load(d / "model.zip", device="cpu")
    assert isinstance(model.policy, GNNRankingPolicy)
    assert summary["policy_config"]["module"] == "gat" and summary["policy_config"]["use_dropped"] is True


def test_rollout_competition_reports_shares_and_time_courses():
    m = rollout_competition(RulePolicy("GOOD"), COMP, 12, seed=9, env_kwargs=SMALL_COMP, bins=5)
    for key in ("agent_share", "cooperator_fraction", "initial_share"):
        v = np.asarray(m[key])
        assert v.shape == (12,) and np.all((v >= 0) & (v <= 1)), key
    share_t = np.asarray(m["share_t"])
    assert share_t.shape == (12, 5) and not np.isnan(share_t).any()
    np.testing.assert_allclose(share_t[:, -1], m["agent_share"])
    rec = np.asarray(m["recommended_c_t"], dtype=float)
    made = np.asarray(m["decisions_t"]) > 0
    assert np.all(np.isnan(rec[~made])) and np.all((rec[made] >= 0) & (rec[made] <= 1))
    assert np.asarray(m["decisions_t"]).sum() == pytest.approx(np.sum(m["decisions"]))
    with pytest.raises(ValueError, match="n_replicas must be"):
        rollout_competition(RulePolicy("GOOD"), COMP, 0, seed=0, env_kwargs=SMALL_COMP)


def test_ranker_training_leaves_no_sb3_temp_folder(tmp_path, monkeypatch):
    """Without TensorBoard, SB3's default logger would create an empty SB3-<date> folder in the temp directory."""
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    summary = train_ranker(N10, "coops", 0, tmp_path / "run", n_timesteps=128, overrides=TINY, log_every=64)
    assert summary["n_timesteps"] >= 128
    assert not list(temp.glob("SB3-*"))
