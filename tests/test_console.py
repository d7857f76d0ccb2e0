"""Console scripts import like ``python -m`` (working directory importable); evaluation helpers register the ids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def _script(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path is not None, f"console script {name} is not installed (pip install -e .[dev])"
    return path


def test_recsim_leaderboard_console_script_imports_a_policy_module_from_the_working_directory(tmp_path):
    (tmp_path / "mymodule.py").write_text(
        "import numpy as np\n"
        "class Fixed:\n"
        "    batched = True\n"
        "    def act(self, obs, info):\n"
        "        return np.zeros(len(obs), dtype=np.int64) if np.ndim(obs) == 2 else 0\n"
        "def make(env):\n"
        "    return Fixed()\n"
    )
    out = subprocess.run(
        [_script("recsim-leaderboard"), "--quick", "--no-baselines", "--no-progress-bar", "--reference", "mine",
         "--envs", "recsim_envs/PreferenceShiftOracle-v0", "--policy", "mine=mymodule:make", "--out", "lb"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mine" in (tmp_path / "lb" / "leaderboard.md").read_text()


def test_recsim_train_console_script_reports_an_unsupported_pair_in_one_line(tmp_path):
    out = subprocess.run(
        [_script("recsim-train"), "--algo", "ppo_mask", "--env", "recsim_envs/HarmMitigation-v0"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recsim-train: error: ") and "ppo_mask.yml" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "code",
    [
        "from agents.evaluation import evaluate\n"
        "from baselines.protocol import Policy\n"
        "class Zero:\n"
        "    def act(self, obs, info):\n"
        "        return 0\n"
        "res = evaluate(Zero(), 'recsim_envs/PreferenceShiftOracle-v0', 2, seed=0)\n"
        "assert res['length'].tolist() == [10, 10], res\n",
        "import gymnasium as gym\n"
        "from agents.train import load_agent\n"
        "assert 'recsim_envs/PreferenceShift-v0' not in gym.registry\n"
        "try:\n"
        "    load_agent('no_such_run')\n"
        "except ValueError as exc:\n"
        "    assert 'model.zip' in str(exc)\n"
        "assert 'recsim_envs/PreferenceShift-v0' in gym.registry  # load_agent registered the ids\n",
    ],
    ids=["evaluate", "load_agent"],
)
def test_evaluation_helpers_work_without_importing_recsim_envs_first(code, tmp_path):
    assert "import recsim_envs" not in code
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
