"""Wall time of the same sweeps on each executor backend (serial, process, Ray), and Ray's per-task overhead.

Each sweep runs once per backend into a fresh folder, as a user would run it (a subprocess per run, so every
backend pays its own start-up: process pool spawn, Ray start). The Ray runs start a local Ray instance (one CPU
per core of the machine).

Per-task overhead (:func:`task_overhead`, also alone with ``--overhead-only``): no-op tasks through
``benchmarks.executor.run_tasks`` on each backend, ``n`` and then ``5n`` of them (median wall of ``repeats`` calls
each); the overhead per task is (wall(5n) − wall(n)) / 4n, which cancels each backend's fixed start-up (a process
pool is spawned per call; Ray is started once, before all, and its start-up is reported apart), and the fixed cost
per call is wall(n) − n × that.

Usage::

    python -m benchmarks.speed_executor                       # leaderboard --quick on two ids + reproduce_preference
    python -m benchmarks.speed_executor --lb-envs recsim_envs/PreferenceShift-v0 --pref-args --quick
    python -m benchmarks.speed_executor --overhead-only --overhead-tasks 500   # per-task overhead of each backend
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.executor import run_tasks

BACKENDS = ("serial", "process", "ray")


def noop(x: object) -> object:
    return x


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode not in (0, 1):  # reproduce_preference returns 1 when an ordering fails at a tiny budget
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - start


def _wall(backend: str, n: int, workers: int) -> float:
    start = time.perf_counter()
    list(run_tasks(noop, range(n), executor=backend, workers=workers, progress=False))
    return time.perf_counter() - start


def task_overhead(
    n: int, workers: int, backends: tuple[str, ...] = BACKENDS, repeats: int = 3
) -> dict[str, dict[str, float]]:
    """Per backend: ``per_task`` seconds ((wall(5n) − wall(n)) / 4n of no-op tasks, each wall the median of
    ``repeats`` calls), ``fixed`` seconds per ``run_tasks`` call (wall(n) − n·per_task), and for Ray ``start``
    (``ray.init`` of a local instance with ``workers`` CPUs, and one warm-up batch)."""
    out: dict[str, dict[str, float]] = {}
    for backend in backends:
        row: dict[str, float] = {}
        if backend == "ray":
            import ray

            start = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            _wall("ray", 2 * workers, workers)  # start the worker processes
            row["start"] = time.perf_counter() - start
        try:
            once = float(np.median([_wall(backend, n, workers) for _ in range(repeats)]))
            five = float(np.median([_wall(backend, 5 * n, workers) for _ in range(repeats)]))
        finally:
            if backend == "ray":
                ray.shutdown()
        row["per_task"] = (five - once) / (4 * n)
        row["fixed"] = once - n * row["per_task"]
        out[backend] = row
    return out


def print_overhead(n: int, workers: int, backends: tuple[str, ...]) -> None:
    res = task_overhead(n, workers, backends)
    print(
        f"\nPer-task overhead ({n} then {5 * n} no-op tasks, median of 3 calls each, {workers} workers / Ray CPUs):\n"
    )
    print("| backend | per task (ms) | fixed per call (s) | Ray start (s) |")
    print("|---|---|---|---|")
    for backend, r in res.items():
        start = f"{r['start']:.1f}" if "start" in r else "—"
        print(f"| {backend} | {1e3 * r['per_task']:.3f} | {r['fixed']:.2f} | {start} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lb-envs", nargs="*", default=["recsim_envs/PreferenceShift-v0", "recsim_envs/HarmMitigation-v0"])
    p.add_argument("--pref-args", default="--seeds 1 --timesteps 2048 --episodes 100", help="reproduce_preference")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--overhead-tasks", type=int, default=500, help="n of the per-task overhead (n, then 2n tasks)")
    p.add_argument("--overhead-only", action="store_true", help="measure only the per-task overhead")
    p.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    args = p.parse_args(argv)
    env = dict(os.environ)
    sweeps = {
        "leaderboard --quick " + " ".join(e.split("/")[-1] for e in args.lb_envs): lambda out: [
            "-m", "benchmarks.leaderboard", "--quick", "--envs", *args.lb_envs, "--no-progress-bar", "--out", out,
        ],
        f"reproduce_preference {args.pref_args}": lambda out: [
            "-m", "benchmarks.reproduce_preference", *shlex.split(args.pref_args), "--out", out,
        ],
    }  # fmt: skip
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.overhead_only:
        print_overhead(args.overhead_tasks, args.workers, tuple(args.backends))
        print(f"load average after: {os.getloadavg()}")
        return 0
    print(f"| sweep | {' | '.join(args.backends)} (wall s) |")
    print("|---|" + "---|" * len(args.backends))
    for name, cmd in sweeps.items():
        cells = []
        for backend in args.backends:
            with tempfile.TemporaryDirectory() as out:
                extra = ["--executor", backend, "--workers", str(args.workers)]
                cells.append(f"{timed([sys.executable, *cmd(out), *extra], env):.1f}")
                # each cell as soon as it is measured (a long sweep's table survives an interrupted run)
                print(f"  {name} · {backend}: {cells[-1]} s, load {os.getloadavg()}", file=sys.stderr, flush=True)
        print(f"| {name} | {' | '.join(cells)} |", flush=True)
    print_overhead(args.overhead_tasks, args.workers, tuple(args.backends))
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
