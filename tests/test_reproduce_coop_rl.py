"""benchmarks.reproduce_coop_rl: evaluation and competition rows are keyed by every setting that changes them."""

from __future__ import annotations

import json

import numpy as np

from benchmarks import reproduce_coop_rl as rcr
from benchmarks.store import SettingsStore


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _main(tmp_path, *extra: str) -> None:
    base = ["--out", str(tmp_path), "--sizes", "10", "--seeds", "0", "--executor", "serial"]
    assert rcr.main([*base, *extra]) == 0


def test_eval_rows_of_other_replicas_are_not_reused(tmp_path):
    _main(tmp_path, "--stages", "eval", "--replicas10", "2")
    first = _rows(tmp_path / "eval.jsonl")
    assert len(first) == 12 and all(len(r["cooperator_fraction"]) == 2 for r in first)
    _main(tmp_path, "--stages", "eval", "--replicas10", "3")  # setting B: nothing of setting A may be reused
    rows = _rows(tmp_path / "eval.jsonl")
    new = rows[len(first) :]
    assert len(rows) == 24 and {r["policy"] for r in new} == {r["policy"] for r in first}
    assert all(len(r["cooperator_fraction"]) == 3 and r["settings"]["replicas"] == 3 for r in new)
    # replica i has seed EVAL_SEED + i under both settings: the first two replicas of B repeat A's
    a = {r["policy"]: r["cooperator_fraction"] for r in first}
    assert all(np.allclose(r["cooperator_fraction"][:2], a[r["policy"]]) for r in new)
    # the same settings again: everything reused; the report's rows are those of the settings asked for
    _main(tmp_path, "--stages", "eval", "--replicas10", "3")
    assert len(_rows(tmp_path / "eval.jsonl")) == 24
    plan = rcr.eval_settings(tmp_path, [10], [], {10: 3})
    report_rows = SettingsStore(tmp_path / "eval.jsonl").rows_for(plan)
    assert len(report_rows) == 12 and all(len(r["cooperator_fraction"]) == 3 for r in report_rows)


def test_competition_rows_of_other_replicas_are_not_reused(tmp_path):
    # --seeds 0: no trained contender, the four heuristic contenders only
    common = ("--seeds", "0", "--stages", "competition")
    assert rcr.main(["--out", str(tmp_path), "--executor", "serial", *common, "--comp-replicas", "2"]) == 0
    first = _rows(tmp_path / "competition.jsonl")
    assert len(first) == 4 and all(len(r["agent_share"]) == 2 for r in first)
    assert rcr.main(["--out", str(tmp_path), "--executor", "serial", *common, "--comp-replicas", "3"]) == 0
    rows = _rows(tmp_path / "competition.jsonl")
    assert len(rows) == 8 and all(len(r["agent_share"]) == 3 for r in rows[4:])
