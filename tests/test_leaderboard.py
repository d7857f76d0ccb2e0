"""benchmarks.leaderboard and benchmarks.store: protocols, policy loading, outputs, kill-and-resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import benchmarks.leaderboard as lb
import recsim_envs
from benchmarks.store import RowStore, atomic_write_text, rows_to_csv

ORACLE = "recsim_envs/PreferenceShiftOracle-v0"


# -- store --------------------------------------------------------------------------------------------------
def test_row_store_dedupes_and_survives_reopen(tmp_path):
    path = tmp_path / "rows.jsonl"
    s = RowStore(path, ("env", "seed"))
    assert s.add({"env": "a", "seed": 0, "x": 1.0})
    assert not s.add({"env": "a", "seed": 0, "x": 2.0})  # same key: not added
    assert s.add({"env": "a", "seed": 1, "x": np.float64(3.0)})
    again = RowStore(path, ("env", "seed"))
    assert len(again) == 2 and again.has(env="a", seed=1) and not again.has(env="b", seed=0)
    assert [r["x"] for r in again.rows] == [1.0, 3.0]
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_row_store_bad_rows(tmp_path):
    with pytest.raises(ValueError, match="key_fields"):
        RowStore(tmp_path / "r.jsonl", ())
    with pytest.raises(ValueError, match="missing key fields"):
        RowStore(tmp_path / "r.jsonl", ("seed",)).add({"x": 1})


def test_csv_and_atomic_write(tmp_path):
    text = rows_to_csv([{"a": 1, "b": 2}, {"a": 3, "c": 4}])
    assert list(csv.DictReader(text.splitlines())) == [{"a": "1", "b": "2", "c": ""}, {"a": "3", "b": "", "c": "4"}]
    atomic_write_text(tmp_path / "sub" / "f.txt", "hello")
    assert (tmp_path / "sub" / "f.txt").read_text() == "hello"


# -- protocols ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", recsim_envs.env_ids())
def test_every_registered_id_has_a_protocol_with_five_seeds(env_id):
    proto = lb.protocol_for(env_id)
    assert len(set(proto.seeds)) >= 5 and proto.episodes >= proto.quick_episodes >= 1 and proto.version
    seeds = [proto.user_seed(s) for s in proto.seeds]
    assert len(set(seeds)) == len(seeds)
    assert min(np.diff(sorted(seeds))) >= proto.episodes  # seeds never share users


@pytest.mark.parametrize("env_id", [e for e in recsim_envs.env_ids() if "PreferenceShift" in e and "Learned" not in e])
def test_preference_ids_get_every_preference_baseline(env_id):
    names = set(lb.family_baselines(env_id))
    assert {"random", "belief_myopic", "true_myopic", "optimal_known_u"} <= names


def test_load_factory_errors():
    with pytest.raises(ValueError, match="package.module:Factory"):
        lb.load_factory("no_colon")
    with pytest.raises(ValueError, match="cannot be imported"):
        lb.load_factory("benchmarks.leaderboard:Nope")


# -- end to end ---------------------------------------------------------------------------------------------
def _run(tmp_path, *extra):
    return lb.main(["--quick", "--envs", ORACLE, "--out", str(tmp_path), "--no-progress-bar", *extra])


def test_leaderboard_ranks_baselines_and_writes_outputs(tmp_path, capsys):
    assert _run(tmp_path) == 0
    data = json.loads((tmp_path / "leaderboard.json").read_text())
    entries = {e["policy"]: e for e in data["entries"]}
    assert {"random", "belief_myopic", "true_myopic", "optimal_known_u"} <= set(entries)
    # the DP optimum with the true preference is the best possible policy; random is far behind
    assert data["entries"][0]["policy"] == "optimal_known_u"
    assert entries["optimal_known_u"]["iqm_low"] > entries["random"]["iqm_high"]
    assert entries["optimal_known_u"]["poi_vs_reference"] == 1.0
    for e in data["entries"]:
        assert e["seeds"] == 5 and e["episodes"] == lb.protocol_for(ORACLE).quick_episodes
        assert e["iqm_low"] <= e["iqm"] <= e["iqm_high"]
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 5 * len(entries)
    md = (tmp_path / "leaderboard.md").read_text()
    assert "optimal_known_u" in md and "IQM" in md
    assert "How to read these tables" in md and "higher is better" in md and "Trained inline for this table: none" in md
    # long-format CSV: one row per id x policy x metric/statistic, no empty value cells
    long = list(csv.DictReader((tmp_path / "leaderboard.csv").read_text().splitlines()))
    assert set(long[0]) >= {"env_id", "policy", "metric", "statistic", "value", "ci_low", "ci_high"}
    assert all(r["value"] != "" for r in long)
    iqm = {r["policy"]: float(r["value"]) for r in long if r["statistic"] == "iqm"}
    assert iqm == pytest.approx({p: e["iqm"] for p, e in entries.items()})
    assert {r["metric"] for r in long} >= {"return", "length"}


def test_markdown_marks_ties_identical_policies_and_repeated_presets():
    def entry(env, policy, iqm, lo, hi, per_seed):
        return {"env_id": env, "policy": policy, "score": "return", "seeds": 5, "episodes": 1, "iqm": iqm,
                "iqm_low": lo, "iqm_high": hi, "mean": iqm, "_per_seed": per_seed}  # fmt: skip

    a = [
        entry(ORACLE, "best", 5.0, 4.8, 5.2, (5.0,)),
        entry(ORACLE, "close", 4.9, 4.7, 5.1, (4.9,)),  # overlaps "best": tied
        entry(ORACLE, "twin", 4.9, 4.7, 5.1, (4.9,)),  # identical per-seed scores to "close"
        entry(ORACLE, "far", 1.0, 0.9, 1.1, (1.0,)),
    ]
    b = [dict(e, env_id="recsim_envs/PreferenceShift-v0") for e in a]
    md = lb.render_markdown(a + b, None)
    ranks = {line.split("|")[2].strip(): line.split("|")[1].strip() for line in md.splitlines() if "| " in line}
    assert ranks["best"] == "1" and ranks["close"] == "=1" and ranks["far"] == "4"
    assert "close ≡ twin" in md
    assert f"Identical scores to {ORACLE}" in md
    assert "1 episode per seed" in md


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path, monkeypatch):
    real = lb.run_task
    calls = {"n": 0}

    def dies_after_seven(task, quick):
        if calls["n"] == 7:
            raise KeyboardInterrupt  # the process is killed mid-run
        calls["n"] += 1
        return real(task, quick)

    monkeypatch.setattr(lb, "run_task", dies_after_seven)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    first = (tmp_path / "rows.jsonl").read_text().splitlines()
    assert len(first) == 7

    done_again = []
    monkeypatch.setattr(lb, "run_task", lambda task, quick: done_again.append(task) or real(task, quick))
    assert _run(tmp_path) == 0
    rows = (tmp_path / "rows.jsonl").read_text().splitlines()
    keys = [(r["env_id"], r["policy"], r["seed"]) for r in map(json.loads, rows)]
    assert len(keys) == len(set(keys)) == 7 + len(done_again)
    assert rows[:7] == first  # recorded rows kept verbatim, not recomputed
    assert all((t.env_id, t.policy, t.seed) not in keys[:7] for t in done_again)


def test_custom_policy_by_import_path(tmp_path):
    spec = "mine=examples.custom_agent_leaderboard:make_policy"
    assert _run(tmp_path, "--no-baselines", "--policy", spec, "--reference", "mine") == 0
    entries = json.loads((tmp_path / "leaderboard.json").read_text())["entries"]
    assert [e["policy"] for e in entries] == ["mine"] and entries[0]["seeds"] == 5
    # the example policy steers with the belief, so it earns far more than a random recommender (≈ 5.9)
    assert entries[0]["iqm"] > 6.5


def test_saved_agent_is_scored(tmp_path):
    from agents.train import build_config, train

    for seed in range(2):
        train(build_config("ppo", ORACLE, seed=seed, overrides={"n_timesteps": 640, "n_envs": 16}), tmp_path / "runs")
    pattern = str(tmp_path / "runs" / "ppo" / "*")
    assert _run(tmp_path / "lb", "--no-baselines", "--agent", f"ppo_tiny={pattern}") == 0
    rows = [json.loads(x) for x in (tmp_path / "lb" / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in rows) == [0, 1]  # two runs -> protocol seeds 0 and 1
    with pytest.raises(ValueError, match="matches no run"):
        _run(tmp_path / "lb2", "--agent", f"x={tmp_path / 'nothing'}")


@pytest.mark.parametrize("twin", sorted(lb.QUICK_SAME_AS))
def test_ids_that_quick_scores_once_score_exactly_alike(twin):
    """An id --quick lists under another id's table is the same simulator with the same ranking score: two
    policies give the same per-episode scores on the same users, episode by episode (up to the float32 precision
    of the multi-objective ids' vector reward)."""
    from agents.evaluation import evaluate

    ref = lb.QUICK_SAME_AS[twin]
    for name in ("GOOD", "random"):
        a = evaluate(lb.family_baselines(ref)[name](), ref, 2, seed=123)[lb.protocol_for(ref).score]
        b = evaluate(lb.family_baselines(twin)[name](), twin, 2, seed=123)[lb.protocol_for(twin).score]
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        assert len(a) == 2


def test_quick_run_lists_same_simulator_ids_without_scoring_them(tmp_path, monkeypatch):
    twin, ref = "recsim_envs/PreferenceShiftOracle-v0", "recsim_envs/PreferenceShift-v0"  # cheap ids for the mechanism
    monkeypatch.setattr(lb, "QUICK_SAME_AS", {twin: ref})
    args = ["--quick", "--envs", ref, twin, "--policies", "belief_myopic", "--out", str(tmp_path), "--no-progress-bar"]
    assert lb.main(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert {r["env_id"] for r in rows} == {ref} and len(rows) == 5
    md = (tmp_path / "leaderboard.md").read_text()
    assert f"the full protocol scores each):\n\n- {twin}: see {ref}" in md


def test_family_baselines_come_from_the_one_registry(monkeypatch):
    import baselines

    assert baselines.family_of("recsim_envs/CooperationRewiring-v0") == "coop"
    assert baselines.family_of("recsim_envs/HarmMitigationMO-v0") == "harm" and baselines.family_of("nope") == ""
    monkeypatch.setitem(baselines.FAMILY_BASELINES, "harm", lambda env_id: {"mine": lambda: env_id})
    lb.family_baselines.cache_clear()
    try:
        found = lb.family_baselines("recsim_envs/HarmMitigation-v0")
        assert set(found) == {"random", "mine"} and found["mine"]() == "recsim_envs/HarmMitigation-v0"
    finally:
        lb.family_baselines.cache_clear()
    with pytest.raises(ValueError, match="family"):
        baselines.register_family_baselines("", lambda env_id: {})
    with pytest.raises(TypeError, match="fn must be callable"):
        baselines.register_family_baselines("x", 3)
