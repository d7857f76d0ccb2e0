"""Wall time of the same sweeps on each executor backend (serial, process, Ray), and Ray's per-task overhead.

Each sweep runs once per backend into a fresh folder, as a user would run it (a subprocess per run, so every
backend pays its own start-up: process pool spawn, Ray start). The Ray runs start a local Ray instance (one CPU
per core of the machine). The per-task overhead is measured in-process on an already started Ray: ``n`` no-op tasks
through ``benchmarks.executor.run_tasks``, minus the same on the serial backend, divided by ``n``.

Usage::

    python -m benchmarks.speed_executor                       # leaderboard --quick on two ids + reproduce_preference
    python -m benchmarks.speed_executor --lb-envs recsim_envs/PreferenceShift-v0 --pref-args --quick
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

from benchmarks.executor import run_tasks

BACKENDS = ("serial", "process", "ray")


def noop(x):
    return x


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode not in (0, 1):  # reproduce_preference returns 1 when an ordering fails at a tiny budget
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - start


def ray_overhead(n: int, cpus: int) -> tuple[float, float]:
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        list(run_tasks(noop, range(2 * cpus), executor="ray", progress=False))  # warm the workers
        start = time.perf_counter()
        list(run_tasks(noop, range(n), executor="serial", progress=False))
        serial = time.perf_counter() - start
        start = time.perf_counter()
        list(run_tasks(noop, range(n), executor="ray", progress=False))
        return (time.perf_counter() - start - serial) / n, serial / n
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lb-envs", nargs="*", default=["recsim_envs/PreferenceShift-v0", "recsim_envs/HarmMitigation-v0"])
    p.add_argument("--pref-args", default="--seeds 1 --timesteps 2048 --episodes 100", help="reproduce_preference")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the Ray instance for the overhead measurement")
    p.add_argument("--overhead-tasks", type=int, default=500)
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
    print(f"| sweep | {' | '.join(args.backends)} (wall s) |")
    print("|---|" + "---|" * len(args.backends))
    for name, cmd in sweeps.items():
        cells = []
        for backend in args.backends:
            with tempfile.TemporaryDirectory() as out:
                extra = ["--executor", backend, "--workers", str(args.workers)]
                cells.append(f"{timed([sys.executable, *cmd(out), *extra], env):.1f}")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)
    over, base = ray_overhead(args.overhead_tasks, args.ray_cpus)
    print(f"\nRay per-task overhead ({args.overhead_tasks} no-op tasks, warm local Ray, {args.ray_cpus} CPUs): "
          f"{1e3 * over:.2f} ms per task (serial loop: {1e6 * base:.1f} µs per task)")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
