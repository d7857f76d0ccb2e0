"""benchmarks.reproduce_coop_adoption: the time-sampled simulation is the plain simulation, and the judging."""

from __future__ import annotations

import numpy as np

from benchmarks.reproduce_coop_adoption import ordering, simulate_with_shares
from recsim_envs.coop.simulator import simulate

KW = dict(n_nodes=60, degree=6, beta=0.05, W=1.0, W2=0.1, max_steps=4000, contenders=["GOOD_X", "RANDOM_X"])


def test_pausing_to_sample_shares_changes_no_draw():
    sampled = simulate_with_shares("NO_MED", 5, 3, 8, **KW)
    plain = simulate("NO_MED", 5, 3, **KW)
    for key in ("shares", "cooperator_fraction", "rewires", "steps", "recommender_changes", "heterogeneity"):
        np.testing.assert_array_equal(sampled[key], plain[key], err_msg=key)
    ts = sampled["share_ts"]
    assert ts.shape == (5, 9, 3) and list(sampled["t"]) == list(np.linspace(0, 4000, 9).round())
    np.testing.assert_array_equal(ts[:, -1], plain["shares"])
    np.testing.assert_allclose(ts[:, 0], np.tile([54 / 60, 3 / 60, 3 / 60], (5, 1)))  # 10 % seeds, split evenly
    np.testing.assert_array_equal(sampled["coop_ts"][:, -1], plain["cooperator_fraction"])


def test_paired_ordering_verdicts():
    rng = np.random.default_rng(0)
    base = rng.random(30)
    assert ordering(base + 0.1, base) == "holds"
    assert ordering(base, base + 0.1) == "reversed"
    assert ordering(base + rng.normal(0, 0.1, 30), base) == "within noise"


def test_cells_run_as_executor_tasks_resume_and_match_across_backends(tmp_path):
    """The sweep through ``benchmarks.executor``: the process pool stores the same cells as the serial loop
    (timings aside), and a rerun finds every cell recorded (nothing recomputed, nothing duplicated)."""
    import json

    from benchmarks import reproduce_coop_adoption as rca

    tiny = ["--nodes", "60", "--steps", "400", "--replicas", "2", "--w1", "1", "--w2", "0.1", "--fig16-w2", "0.1",
            "--modes", "clipped"]  # fmt: skip

    def cells(folder):
        rows = [json.loads(line) for line in (folder / "full" / "cells.jsonl").read_text().splitlines()]
        return {r["name"]: {k: v for k, v in r.items() if k != "seconds"} for r in rows}, len(rows)

    rca.main([*tiny, "--out", str(tmp_path / "serial"), "--executor", "serial"])
    rca.main([*tiny, "--out", str(tmp_path / "process"), "--executor", "process", "--workers", "2"])
    serial, n_serial = cells(tmp_path / "serial")
    process, _ = cells(tmp_path / "process")
    assert n_serial == len(rca.TABLE6) + 1 == len(serial)  # one cell per Table 6 row (1 W2, 1 mode) + one Fig. 15
    assert serial == process
    stamp = (tmp_path / "serial" / "full" / "cells.jsonl").stat().st_mtime_ns
    rca.main([*tiny, "--out", str(tmp_path / "serial"), "--executor", "serial"])
    assert cells(tmp_path / "serial") == (serial, n_serial)
    assert (tmp_path / "serial" / "full" / "cells.jsonl").stat().st_mtime_ns == stamp
