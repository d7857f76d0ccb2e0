"""benchmarks/reproduce_preference_estimation.py end to end at tiny budgets: outputs, orderings, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import reproduce_preference_estimation as bench
from recsim_envs.preference.learned.data import generate_historical_data
from recsim_envs.preference.learned.network import LearnedUserModel


@pytest.fixture(scope="module")
def small_held_out():
    meta = LearnedUserModel.load().meta
    data = generate_historical_data(n_trajectories=meta["data"]["n_trajectories"], seed=meta["data"]["seed"])
    return data.split(meta["n_test"])[1].subset(slice(0, 300))


def test_fig5_scores_and_orderings(small_held_out):
    model = LearnedUserModel.load()
    out = bench.run_fig5(model, model, small_held_out)
    c = out["choice"]
    # the Bayes-optimal oracle beats the learned model, which beats knowing only the population (prior + slates)
    # or nothing about the user
    assert c["oracle"]["loss"] < c["learned"]["loss"] < c["prior_no_history"]["loss"]
    assert c["prior_no_history"]["loss"] < c["slate_only"]["loss"] < c["random"]["loss"]
    assert c["random"]["loss"] == pytest.approx(np.log(36))
    for block in ("preference_t", "preference_u0"):
        for scores in out[block].values():
            assert 0.0 <= scores["accuracy"] <= scores["within_10deg"] <= scores["within_30deg"] <= 1.0
            assert np.isfinite(scores["log_prob_true"])
    assert out["preference_t"]["oracle filter"]["log_prob_true"] > out["preference_t"]["prior"]["log_prob_true"]


def test_fig6_writes_png_and_tracks_the_drift(small_held_out, tmp_path):
    pytest.importorskip("matplotlib")
    out = bench.run_fig6(LearnedUserModel.load(), small_held_out, tmp_path / "fig6.png")
    assert (tmp_path / "fig6.png").stat().st_size > 1000
    assert len(out["tv_learned_vs_true"]) == 11
    assert max(out["tv_oracle_vs_true"]) < max(out["tv_learned_vs_true"])
    # natural shifts leave 130° for the 80° mode, in the truth and in the estimate
    assert out["mean_angle_true"][-1] < 100 and out["mean_angle_learned"][-1] < 100
    assert len(out["algorithm1_constant_slates"]) == 6


def test_table2_tiny_run_resumes_without_retraining(tmp_path):
    pytest.importorskip("stable_baselines3")
    path = tmp_path / "estimation.json"
    results: dict = {}
    bench.run_table2(results, path, tmp_path, seeds=[0], timesteps=640, n_eval=40)
    saved = json.loads(path.read_text())
    rows = saved["table2"]["rows"]
    assert set(rows) == {"RL|0", "RL penalised|0"}
    for row in rows.values():
        for ev in ("oracle", "estimated"):
            assert row[ev]["sum"] == pytest.approx(sum(row[ev][m] for m in bench.METRIC_NAMES))
        assert abs(sum(v[0] for v in row["slate_usage"].values()) - 1.0) < 1e-9
    before = {k: v["train_seconds"] for k, v in rows.items()}
    again = json.loads(path.read_text())
    bench.run_table2(again, path, tmp_path, seeds=[0], timesteps=640, n_eval=40)  # nothing left to do
    after = json.loads(path.read_text())["table2"]
    assert {k: v["train_seconds"] for k, v in after["rows"].items()} == before
    summary = bench.summarise_table2(after)
    assert summary["RL"]["n_seeds"] == 1


def test_no_history_predictor_and_gain_fraction(small_held_out):
    """The no-history predictor equals the oracle's filter when every choice is uninformative (β_c ≡ 0 rows give
    the same likelihood for every u), and the gain fraction is the ratio of the loss differences."""
    d = small_held_out
    oracle = bench.exact_oracle(d.slate_table)
    pred = bench.no_history_predictions(oracle, d)
    np.testing.assert_allclose(pred.sum(-1), 1.0)
    # independent computation: a filter whose emission ignores u (choices carry no information about u)
    flat = bench.exact_oracle(d.slate_table)
    flat.emission = np.broadcast_to(oracle.emission.mean(axis=1, keepdims=True), oracle.emission.shape)
    marginal = flat.filter(d.slates, d.choices).alpha[:, :-1]  # beliefs never updated by the choices
    np.testing.assert_allclose(pred, np.einsum("ntu,ntux->ntx", marginal, oracle.emission[d.slates]), rtol=1e-10)
    g = bench.gain_over_no_history(LearnedUserModel.load(), d)
    loss = g["loss"]
    assert loss["oracle"] < loss["learned"] < loss["no_history"]
    assert g["fraction_of_oracle_gain"] == pytest.approx(
        (loss["no_history"] - loss["learned"]) / (loss["no_history"] - loss["oracle"])
    )
    assert 0.0 < g["fraction_of_oracle_gain"] < 1.0


def test_fresh_data_refuses_the_training_seed():
    model = LearnedUserModel.load()
    model.meta = {**model.meta, "data": {**model.meta["data"], "seed": bench.FRESH_SEED}}
    with pytest.raises(ValueError, match="fresh seed"):
        bench.fresh_data(model, n=10)


def test_table2_rows_of_other_settings_are_not_reused(tmp_path, monkeypatch):
    """Setting B (other evaluation users) trains and evaluates anew; setting A's row stays and is reused."""
    pytest.importorskip("stable_baselines3")
    monkeypatch.setattr(bench, "TABLE2_POLICIES", {"RL": "recsim_envs/PreferenceShiftLearned-v0"})
    path = tmp_path / "estimation.json"
    bench.run_table2({}, path, tmp_path, seeds=[0], timesteps=640, n_eval=40)
    a = json.loads(path.read_text())["table2"]["rows"]["RL|0"]
    bench.run_table2(json.loads(path.read_text()), path, tmp_path, seeds=[0], timesteps=640, n_eval=41)
    b = json.loads(path.read_text())["table2"]["rows"]["RL|0"]
    assert b["train_seconds"] != a["train_seconds"] and b["model"] != a["model"]  # trained again, in its own folder
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 2
    bench.run_table2({}, path, tmp_path, seeds=[0], timesteps=640, n_eval=40)  # A again: nothing recomputed
    assert json.loads(path.read_text())["table2"]["rows"]["RL|0"]["train_seconds"] == a["train_seconds"]


def test_sections_are_recomputed_when_a_checkpoint_changes(tmp_path, monkeypatch, small_held_out):
    """fig5 is keyed by the checkpoints' bytes: the same settings twice compute it once; another mis-specified
    checkpoint (setting B) computes it again, through the executor flags."""
    import shutil

    from recsim_envs.preference.learned.network import DEFAULT_CHECKPOINT

    calls: list[bool] = []
    real = bench.run_fig5
    monkeypatch.setattr(bench, "held_out_data", lambda model, work: small_held_out)  # a small held-out split
    monkeypatch.setattr(bench, "fresh_data", lambda model, n=0: small_held_out)
    monkeypatch.setattr(bench, "run_fig5", lambda m, mis, d: calls.append(mis is not None) or real(m, mis, d))
    base = ["--out", str(tmp_path), "--sections", "fig5", "--executor", "serial"]
    for _ in range(2):
        bench.main([*base, "--misspecified", str(tmp_path / "absent.npz")])
    assert calls == [False]
    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "mis.npz")
    out = bench.main([*base, "--misspecified", str(tmp_path / "mis.npz")])
    assert calls == [False, True]
    assert "learned, mis-specified β_c ≡ 1" in out["fig5"]["choice"]
    assert json.loads((tmp_path / "estimation.json").read_text())["fig5"] == out["fig5"]
