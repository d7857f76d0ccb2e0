"""benchmarks.executor: serial / process / Ray give the same rows; kill-and-resume on Ray; failures retried once.

Ray start-up costs seconds, so every Ray test shares one module-scoped Ray instance on this machine: a simulated
two-node cluster (``ray.cluster_utils.Cluster``, one CPU per node) that this process joins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import executor as ex
from benchmarks import leaderboard as lb
from benchmarks.store import RowStore, SettingsStore, settings_hash, settings_row

ROOT = Path(__file__).resolve().parents[1]
IDS = ["recsim_envs/PreferenceShift-v0", "recsim_envs/PreferenceShiftPenalized-v0"]
POLICIES = ["random", "belief_myopic"]  # 2 ids × 2 policies × 5 seeds = 20 small tasks


def _lb_args(out: Path, *extra: str) -> list[str]:
    return ["--quick", "--envs", *IDS, "--policies", *POLICIES, "--out", str(out), "--no-progress-bar", *extra]


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _without_timing(rows: list[dict]) -> dict[str, dict]:
    return {r["settings_hash"]: {k: v for k, v in r.items() if k != "seconds"} for r in rows}


# -- tasks used by the executor tests (module level: they travel to workers) ----------------------------------
def square_or_fail(spec):
    """Squares ``spec["x"]``; raises for ``x == 3`` after noting the attempt in ``spec["log"]``."""
    if spec["x"] == 3:
        with open(spec["log"], "a") as fh:
            fh.write("attempt\n")
        raise RuntimeError("task 3 is broken")
    return {"x": spec["x"], "y": spec["x"] ** 2}


def node_of_task(seconds):
    import ray

    time.sleep(seconds)
    return ray.get_runtime_context().get_node_id()


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert lb.main(_lb_args(out, "--executor", "serial")) == 0
    return _rows(out / "rows.jsonl")


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    # Ray's workers inherit this process's environment, so they import the project as the tests do. A node that
    # does not register within Ray's fixed 30 s (a heavily loaded machine) is started once more before failing.
    for attempt in (1, 2):
        cluster = Cluster(shutdown_at_exit=False)
        try:
            cluster.add_node(num_cpus=1, include_dashboard=False)
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            break
        except Exception:
            cluster.shutdown()
            if attempt == 2:
                raise
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture
def pickled_by_value():
    """Ship this test module's functions to Ray workers by value (the workers cannot import the test module)."""
    from ray import cloudpickle  # Ray's own copy is the one that pickles tasks

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# -- store keys ---------------------------------------------------------------------------------------------
def test_settings_hash_depends_on_every_setting_and_not_on_order():
    a = {"users": 10, "items": 100, "seed": 0}
    assert settings_hash(a) == settings_hash({"seed": 0, "items": 100, "users": 10})
    assert settings_hash(a) != settings_hash({**a, "users": 40})
    assert settings_hash({"x": (1, 2)}) == settings_hash({"x": [1, 2]})
    row = settings_row(a, {"f": 1.0})
    assert row["settings"] == a and row["settings_hash"] == settings_hash(a) and row["f"] == 1.0


def test_rows_of_an_older_format_are_kept_but_not_matched(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"method": "ift", "f": 1.0}) + "\n")
    store = SettingsStore(path)
    assert len(store) == 0 and "older version" in capsys.readouterr().err
    store.add(settings_row({"m": "ift"}, {"f": 2.0}))
    lines = _rows(path)
    assert lines[0] == {"method": "ift", "f": 1.0} and lines[1]["f"] == 2.0


# -- executor mechanics -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["serial", "process"])
def test_failed_task_is_retried_once_then_recorded_and_the_sweep_goes_on(tmp_path, backend):
    log = tmp_path / "attempts.log"
    specs = [{"x": x, "log": str(log)} for x in range(6)]
    store = RowStore(tmp_path / "rows.jsonl", ("x",))
    failed = ex.run_into_store(
        square_or_fail, specs, store, failures_path=tmp_path / "failures.jsonl", executor=backend, workers=2,
        progress=False,
    )  # fmt: skip
    assert sorted((r["x"], r["y"]) for r in store.rows) == [(x, x * x) for x in (0, 1, 2, 4, 5)]
    assert log.read_text().count("attempt") == 2  # first try + one retry
    assert [f.attempts for f in failed] == [2] and "task 3 is broken" in failed[0].error
    recorded = _rows(tmp_path / "failures.jsonl")
    assert len(recorded) == 1 and "RuntimeError: task 3 is broken" in recorded[0]["error"]


def test_bad_executor_arguments():
    with pytest.raises(ValueError, match="executor must be one of"):
        list(ex.run_tasks(square_or_fail, [], executor="dask"))
    with pytest.raises(ValueError, match="retries must be an integer"):
        list(ex.run_tasks(square_or_fail, [], retries=-1))


def test_serial_path_never_imports_ray(tmp_path):
    code = (
        "import sys, recsim_envs, gymnasium as gym\n"
        "from benchmarks import executor, leaderboard\n"
        "gym.make('recsim_envs/PreferenceShift-v0').reset(seed=0)\n"
        "rows = [r.value for r in executor.run_tasks(abs, [-1, 2], progress=False)]\n"
        "assert rows == [1, 2], rows\n"
        "print('ray' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


# -- Ray ----------------------------------------------------------------------------------------------------
def test_ray_failed_task_is_retried_once_then_recorded(ray_cluster, pickled_by_value, tmp_path):
    log = tmp_path / "attempts.log"
    specs = [{"x": x, "log": str(log)} for x in range(5)]
    store = RowStore(tmp_path / "rows.jsonl", ("x",))
    failed = ex.run_into_store(
        square_or_fail, specs, store, failures_path=tmp_path / "f.jsonl", executor="ray", progress=False
    )
    assert sorted(r["x"] for r in store.rows) == [0, 1, 2, 4]
    assert log.read_text().count("attempt") == 2
    assert len(failed) == 1 and "task 3 is broken" in _rows(tmp_path / "f.jsonl")[0]["error"]


def test_leaderboard_on_ray_equals_serial(ray_cluster, serial_reference, tmp_path):
    assert lb.main(_lb_args(tmp_path, "--executor", "ray")) == 0  # joins the instance this process is connected to
    rows = _rows(tmp_path / "rows.jsonl")
    assert len(rows) == len(serial_reference) == len(IDS) * len(POLICIES) * 5
    assert _without_timing(rows) == _without_timing(serial_reference)


def test_killed_ray_sweep_resumes_without_loss_or_duplicates(ray_cluster, serial_reference, tmp_path):
    """A driver killed (SIGKILL) mid-sweep on Ray, then restarted: every row once, recorded rows kept verbatim."""
    address = ray_cluster.address
    cmd = [sys.executable, "-m", "benchmarks.leaderboard", *_lb_args(tmp_path, "--executor", "ray", "--ray-address",
                                                                       address)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = tmp_path / "rows.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= 4:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    first = path.read_text().splitlines()
    assert 4 <= len(first) < len(serial_reference)  # killed mid-run

    assert lb.main(_lb_args(tmp_path, "--executor", "ray")) == 0
    lines = path.read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert lines[: len(first)] == first  # recorded rows kept, not recomputed
    assert len({r["settings_hash"] for r in rows}) == len(rows) == len(serial_reference)
    assert _without_timing(rows) == _without_timing(serial_reference)


def test_two_node_cluster_by_address_uses_both_nodes_and_equals_serial(
    ray_cluster, serial_reference, pickled_by_value, tmp_path
):
    import ray

    ray.shutdown()  # the driver joins by --ray-address, as a user on a cluster does
    assert lb.main(_lb_args(tmp_path, "--executor", "ray", "--ray-address", ray_cluster.address)) == 0
    assert _without_timing(_rows(tmp_path / "rows.jsonl")) == _without_timing(serial_reference)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    nodes = {r.value for r in ex.run_tasks(node_of_task, [0.3] * 4, executor="ray", progress=False)}
    assert len(nodes) == 2  # tasks are spread over both nodes


# -- resumable stores are keyed by every setting ----------------------------------------------------------------
def test_reproduce_harm_with_other_users_does_not_reuse_rows(tmp_path, capsys):
    from benchmarks import reproduce_harm

    base = ["--movielens", "", "--items", "12", "--lams", "1", "--no-env-check", "--out", str(tmp_path)]
    reproduce_harm.main([*base, "--users", "10"])
    first = _rows(tmp_path / "rows.jsonl")
    capsys.readouterr()
    reproduce_harm.main([*base, "--users", "40"])
    out = capsys.readouterr().out
    rows = _rows(tmp_path / "rows.jsonl")
    assert f"{len(first)} rows, 0 already in" in out  # nothing of the 10-user run is reused
    assert rows[: len(first)] == first and len(rows) == 2 * len(first)
    second = rows[len(first) :]
    assert {r["settings"]["catalogue"][3] for r in first} == {10}
    assert {r["settings"]["catalogue"][3] for r in second} == {40}
    # the 40-user rows describe 40 users: the table's uniform f is the mean over 40 users, not the 10-user value
    uni = {len(r["settings"]["catalogue"]) and r["settings"]["catalogue"][3]: r for r in rows
           if r["method"] == "uniform" and r["setting"] == "k=1 cardinality"}  # fmt: skip
    assert uni[10]["f_mean"] != uni[40]["f_mean"]
    assert f"{uni[40]['f_mean']:.3f} ± {uni[40]['f_std']:.3f}" in out
    assert f"{uni[10]['f_mean']:.3f} ± {uni[10]['f_std']:.3f}" not in out
    # a third invocation with the first settings recomputes nothing
    reproduce_harm.main([*base, "--users", "10"])
    assert f"{len(first)} rows, {len(first)} already in" in capsys.readouterr().out
    assert len(_rows(tmp_path / "rows.jsonl")) == len(rows)
