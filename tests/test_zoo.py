"""rl-zoo3 trains every registered id unchanged, from agents/hyperparams/ppo.yml (tiny budgets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import recsim_envs

pytest.importorskip("rl_zoo3", reason="rl_zoo3 is in the [dev] extra")

IDS = recsim_envs.env_ids()


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory) -> dict[str, dict]:
    """One subprocess runs ``rl_zoo3.train.train()`` on every id (imports paid once)."""
    root = Path(__file__).resolve().parents[1]
    log_dir = tmp_path_factory.mktemp("zoo")
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, str(root / "tests" / "zoo_driver.py"), str(log_dir), *IDS],
        capture_output=True, text=True, timeout=900, cwd=log_dir, env=env,
    )  # fmt: skip
    rows = {}
    for line in out.stdout.splitlines():
        if line.startswith("ZOO "):
            row = json.loads(line[4:])
            rows[row["id"]] = row
    assert rows, f"zoo driver produced nothing:\n{out.stderr[-3000:]}"
    return rows


@pytest.mark.parametrize("env_id", IDS)
def test_rl_zoo3_trains_every_id_from_ppo_yml(zoo_runs, env_id):
    row = zoo_runs.get(env_id, {"error": "not run"})
    assert "error" not in row, row.get("error")
    assert row["num_timesteps"] >= 256
