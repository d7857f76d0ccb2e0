from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--movielens",
        default=os.environ.get("RECSIM_MOVIELENS_DIR", ""),
        help="directory of a MovieLens release (ratings.csv, movies.csv, links.csv); "
        "default: $RECSIM_MOVIELENS_DIR. .ci/run sets it to the shared copy of ml-latest-small.",
    )


@pytest.fixture(scope="session")
def movielens_dir(request) -> Path:
    """Real MovieLens directory for the integration tests (never copied into the repo)."""
    path = request.config.getoption("--movielens")
    if not path:
        pytest.skip("no MovieLens directory given (--movielens or RECSIM_MOVIELENS_DIR); .ci/run always sets it")
    p = Path(path)
    if not (p / "ratings.csv").exists():
        pytest.fail(f"--movielens={p} has no ratings.csv")
    return p


@pytest.fixture
def run_python():
    """Run ``code`` in a fresh interpreter (``python -c``); assert it exits 0 (showing its stderr) and return its
    stripped stdout. Keyword arguments go to ``subprocess.run`` (``env``, ``cwd``, ``timeout``: default 120 s)."""
    import subprocess
    import sys

    def run(code: str, **kwargs) -> str:
        kwargs.setdefault("timeout", 120)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, **kwargs)
        assert res.returncode == 0, res.stderr[-3000:]
        return res.stdout.strip()

    return run
