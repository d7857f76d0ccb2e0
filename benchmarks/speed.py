"""PreferenceShift throughput in user-steps/s: single env, SyncVectorEnv, native vector env, bare NumPy ceiling.

Usage: ``python -m benchmarks.speed [--users 1 64 4096] [--seconds 2]``

Every preference id, this tree against an older commit in the same run (issue 18):
``python -m benchmarks.speed --ids [ID ...] [--users 32 1024] [--baseline-rev REV] [--memory-users 1000000]
[--new-kwargs '{"device": "cuda"}']`` (no ID: all of them; ``--memory-users`` with no value and
``--old-memory-users`` with none skip the memory table; ``--new-kwargs``: make kwargs for this tree only, e.g.
the learned ids' network on a GPU). The old code is ``git archive``d into a temporary folder (or read from
``--baseline-tree``); each cell runs in a fresh subprocess (old and new interleaved) through
``gym.make_vec(..., vectorization_mode="vector_entry_point")`` only, so both trees are
measured through the same public API. Each cell reports user-steps per wall second and, for the new tree, per
CPU second of the subprocess (all its threads; the figure that survives a busy machine). The subprocesses
inherit the environment, so thread settings (``NUMBA_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``) apply to both
trees alike. Peak memory is the subprocess's ``ru_maxrss`` after reset and horizon + 1 steps (one autoreset
included).

The bare-NumPy loop is the same model step (choice draw, preference draw, the three engagement metrics, the
same counter-based random streams) written as straight array code with no env, spaces, observations or info
around it: the ceiling the native vector env is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from recsim_envs.preference.core import PreferenceShiftConfig, draw_rows
from recsim_envs.preference.world import COS
from recsim_envs.utils import rng as crng

ENV_ID = "recsim_envs/PreferenceShift-v0"


def _timed(step_fn, n_users: int, seconds: float) -> float:
    """Run ``step_fn`` repeatedly for about ``seconds``; return user-steps per second."""
    step_fn()  # warm-up
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            step_fn()
        steps += 10
        el = time.perf_counter() - start
        if el >= seconds:
            return steps * n_users / el


def bench_single(seconds: float) -> float:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 6, 10_000)
    state = {"i": 0}

    def step():
        _, _, term, trunc, _ = env.step(int(actions[state["i"] % 10_000]))
        state["i"] += 1
        if term or trunc:
            env.reset()

    return _timed(step, 1, seconds)


def bench_sync(n: int, seconds: float) -> float:
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="sync")
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def step():
        env.step(rng.integers(0, 6, n))

    return _timed(step, n, seconds)


def bench_native(n: int, seconds: float) -> float:
    env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 6, (64, n))
    state = {"i": 0}

    def step():
        env.step(actions[state["i"] % 64])
        state["i"] += 1

    return _timed(step, n, seconds)


def bench_bare(n: int, seconds: float) -> float:
    """The model step as bare array code (same tables, draws and metrics; no spaces, obs or info): the ceiling."""
    cfg = PreferenceShiftConfig()
    tb = cfg.tables
    em_cdf, tr_cdf, exp_cos, nat, exp_nat = (
        tb["emission_cdf"],
        tb["transition_cdf"],
        tb["expected_cos"],
        tb["natural_cos"],
        tb["expected_natural_cos"],
    )
    weights = cfg.reward_weights()
    keys = crng.seed_to_key(np.arange(n))
    u0 = np.full(n, 13)
    actions = np.random.default_rng(0).integers(0, 6, (64, n))
    state = {"i": 0, "u": u0.copy()}

    def step():
        i, u = state["i"], state["u"]
        t = i % 10
        a = actions[i % 64]
        row = a * 36 + u
        x = draw_rows(em_cdf, row, crng.uniforms(keys, i, 0))
        nxt = draw_rows(tr_cdf, row, crng.uniforms(keys, i, 1))
        realised = np.stack([COS[u, x], COS[u0, x], nat[t, u0, x]], axis=1)
        _expected = (exp_cos[a, u, u], exp_cos[a, u, u0], exp_nat[t, a, u, u0])
        _reward = realised @ weights
        state["u"], state["i"] = nxt, i + 1

    return _timed(step, n, seconds)


PREFERENCE_IDS = (
    "PreferenceShift-v0",
    "PreferenceShiftOracle-v0",
    "PreferenceShiftPenalized-v0",
    "PreferenceShiftMO-v0",
    "PreferenceShiftLearned-v0",
    "PreferenceShiftLearnedPenalized-v0",
    "PreferenceShiftLearnedMO-v0",
)
#: issue 18 goals at 1,024 users (user-steps/s)
ID_GOALS = {"PreferenceShiftOracle-v0": 1e6, "PreferenceShiftPenalized-v0": 1e6, "PreferenceShiftLearned-v0": 2e5}

# Runs inside a subprocess whose working directory holds the ``recsim_envs`` to measure (first on sys.path).
_WORKER = """
import json, resource, sys, time
import gymnasium as gym, numpy as np
import recsim_envs
mode, env_id, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
kwargs = json.loads(sys.argv[5])
env = gym.make_vec("recsim_envs/" + env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
n_act = env.single_action_space.n
env.reset(seed=0)
acts = np.random.default_rng(0).integers(0, n_act, (64, n))
if mode == "mem":
    for k in range(env.unwrapped.config.horizon + 1):
        env.step(acts[k % 64])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
else:
    for k in range(env.unwrapped.config.horizon + 1):  # warm-up: every history length and one autoreset
        env.step(acts[k % 64])
    k, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            env.step(acts[k % 64])
            k += 1
    print(k * n / (time.perf_counter() - start), k * n / (time.process_time() - cpu))
"""


def _worker(
    tree: Path, mode: str, env_id: str, n: int, seconds: float, kwargs: dict | None = None, timeout: float = 900
) -> tuple[float, float]:
    """(user-steps per wall second, per CPU second) for ``mode="speed"``; (peak bytes, nan) for ``"mem"``;
    ``kwargs`` go to ``make``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("MPLBACKEND", "Agg")
    try:
        res = subprocess.run(
            [sys.executable, "-c", _WORKER, mode, env_id, str(n), str(seconds), json.dumps(kwargs or {})],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return float("nan"), float("nan")
    if res.returncode != 0:
        print(f"<!-- {env_id} n={n} in {tree}: exit {res.returncode}: {res.stderr.strip()[-300:]} -->")
        return float("nan"), float("nan")
    values = [float(v) for v in res.stdout.strip().splitlines()[-1].split()]
    return values[0], (values[1] if len(values) > 1 else float("nan"))


def _export_tree(rev: str, dest: Path) -> Path:
    """``git archive`` of ``recsim_envs/`` at ``rev`` into ``dest`` (the old code, importable from there)."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "archive", rev, "recsim_envs"], cwd=repo, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def _kwargs_for(env_id: str, kwargs: dict | None) -> dict:
    """The ``--new-kwargs`` an id accepts (``device`` only exists on the learned ids)."""
    if not kwargs:
        return {}
    return {k: v for k, v in kwargs.items() if k != "device" or "Learned" in env_id}


def bench_ids(
    baseline_rev: str,
    users: list[int],
    seconds: float,
    memory_users: list[int],
    old_memory_users: list[int],
    ids: tuple[str, ...] = PREFERENCE_IDS,
    new_kwargs: dict | None = None,
    baseline_tree: Path | None = None,
) -> None:
    repo = Path(__file__).resolve().parents[1]
    load = os.getloadavg()
    print(f"# Preference ids, native vector env, user-steps/s: this tree vs {baseline_rev} (same run)")
    if new_kwargs:
        print(f"this tree made with {json.dumps(new_kwargs)} (ids that take them; the old tree with its defaults)")
    print(
        f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min), {os.cpu_count()} CPUs; "
        f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(default)')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = baseline_tree.resolve() if baseline_tree else _export_tree(baseline_rev, Path(tmp))
        print("| id | users | old | new | new / old | new per CPU-second | goal (1,024 users, wall) |")
        print("|---|---|---|---|---|---|---|")
        for env_id in ids:
            for n in users:
                old, _ = _worker(old_tree, "speed", env_id, n, seconds)
                new, new_cpu = _worker(repo, "speed", env_id, n, seconds, _kwargs_for(env_id, new_kwargs))
                goal = ID_GOALS.get(env_id)
                verdict = "" if goal is None or n != 1024 else f"≥ {goal:,.0f}: {'met' if new >= goal else 'NOT met'}"
                print(f"| {env_id} | {n:,} | {old:,.0f} | {new:,.0f} | {new / old:.1f}× | {new_cpu:,.0f} | {verdict} |")
        if memory_users or old_memory_users:
            print()
            print("| PreferenceShiftOracle-v0 peak memory (ru_maxrss) | users | GB | bytes / user above 1 user |")
            print("|---|---|---|---|")
            for label, tree, sizes in (("old", old_tree, old_memory_users), ("new", repo, memory_users)):
                if not sizes:
                    continue
                base, _ = _worker(tree, "mem", "PreferenceShiftOracle-v0", 1, 0.0)
                print(f"| {label} | 1 | {base / 1e9:.2f} | — |")
                for n in (m for m in sizes if m > 1):  # (1 user is the baseline row above)
                    peak, _ = _worker(tree, "mem", "PreferenceShiftOracle-v0", n, 0.0)
                    print(f"| {label} | {n:,} | {peak / 1e9:.2f} | {(peak - base) / (n - 1):,.0f} |")
    load = os.getloadavg()
    print(f"load average at end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--users", type=int, nargs="+", default=None, help="batch sizes (default 1 64 4096; --ids: 32 1024)"
    )
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument(
        "--ids",
        nargs="*",
        choices=PREFERENCE_IDS,
        default=None,
        metavar="ID",
        help="time these preference ids (none named: all), this tree vs --baseline-rev",
    )
    ap.add_argument("--baseline-rev", default="a8850e0", help="commit to compare with (default: a8850e0)")
    ap.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="a folder holding that commit's recsim_envs/ already (where the tree has no git history)",
    )
    ap.add_argument("--id-users", type=int, nargs="*", default=None, help=argparse.SUPPRESS)  # older spelling
    ap.add_argument("--memory-users", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--old-memory-users", type=int, nargs="*", default=[10_000])
    ap.add_argument(
        "--new-kwargs",
        type=json.loads,
        default=None,
        help='JSON make kwargs for this tree only, e.g. \'{"device": "cuda"}\' (device: learned ids only)',
    )
    args = ap.parse_args(argv)
    if args.ids is not None:
        bench_ids(
            args.baseline_rev,
            next(u for u in (args.users, args.id_users, [32, 1024]) if u is not None),
            args.seconds,
            args.memory_users,
            args.old_memory_users,
            tuple(args.ids) or PREFERENCE_IDS,
            args.new_kwargs,
            args.baseline_tree,
        )
        return
    users = args.users or [1, 64, 4096]
    print(f"# PreferenceShift-v0 user-steps/s — {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print("| users | single env | SyncVectorEnv | native vector env | bare NumPy (ceiling) | native / bare |")
    print("|---|---|---|---|---|---|")
    single = bench_single(args.seconds)
    for n in users:
        sync = bench_sync(n, args.seconds) if n <= 64 else float("nan")
        native = bench_native(n, args.seconds)
        bare = bench_bare(n, args.seconds)
        single_s = f"{single:,.0f}" if n == 1 else "—"
        sync_s = f"{sync:,.0f}" if n <= 64 else "— (not run: one Python env object per user)"
        print(f"| {n} | {single_s} | {sync_s} | {native:,.0f} | {bare:,.0f} | {native / bare:.2f} |")


if __name__ == "__main__":
    main()
