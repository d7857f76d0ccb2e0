# ruff: noqa: E402  (BLAS threads are pinned before numpy is imported)
"""Speed of the harm-exposure model and envs.

1. Time to optimise the IFT-gradient policy for 100 users × 100 items (k = 1) to convergence (goal < 0.5 s on
   2 cores), on the synthetic default and, with ``--movielens``, on ml-latest-small Sci-Fi; median of ``--repeats``.
   "certified" is today's ``baselines.harm.ift`` (every start scored exactly, the best one certified by the KKT
   conditions, ascent only where that fails); "previous" is ``ift`` as of git revision ``--previous-rev``
   (default bc6ac01: the same certified-first optimiser before the compiled exp and the warm-started single-item
   fixed points; pass a8850e0 for the multi-start that ascended from every start on every user); "legacy" is
   ``ift`` as of ``--legacy-rev`` (two starts). The earlier revisions are loaded from git in the same process, so
   all figures come from one run.
2. Users/s on a 10,000-user × 1,000-item problem (synthetic, k = 1): (a) the full optimisation, each of the three,
   in chunks of ``--chunk`` users over the first ``--max-users`` users, spread over ``--workers`` processes
   (goal ≥ 1,000 users/s on 2 cores), wall clock and per CPU-second (less sensitive to other jobs), and the
   per-user f difference between today's and the earlier optimisers on the same users; (b) one stationary-profile
   solve + adjoint IFT gradient per user, NumPy vs the torch twin (CPU, and GPU when ``torch.cuda.is_available()``).
3. Env throughput (user-steps/s) of the native vector env, items and sampling variants.

Usage: ``python -m benchmarks.speed_harm [--movielens DIR] [--max-users 1000] [--workers 2]``

The load average is printed before and after: on a shared machine the absolute figures move with it, the
multi-start / legacy ratio much less.
"""

from __future__ import annotations

import os

# The model's matmuls are small ([users, items] @ [items, d²]); a multi-threaded BLAS on a shared 2-core machine
# spends more time spinning threads than computing (7 s vs 0.5 s for the 100 × 100 optimisation under load 10).
# Parallelism comes from batching users, so pin BLAS to one thread unless the caller chose otherwise (this must
# happen before numpy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime
import os
import platform
import time

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from baselines.harm import HarmProblem, ift, uniform
from recsim_envs.harm.data import load_movielens, synthetic_catalogue
from recsim_envs.harm.model import ItemPolicy, objective_gradient, stationary_profile

LEGACY_REV = "27f385d"  # last revision with the two-start IFT optimiser
PREVIOUS_REV = "bc6ac01"  # certified-first optimiser before the speed work (a8850e0: ascent on every user)


def legacy_harm(rev: str):
    """``baselines.harm`` and ``recsim_envs.harm.model`` as of git revision ``rev``, as modules (None when git or the
    revision is unavailable, e.g. outside a checkout)."""
    import subprocess
    import sys
    import types

    def show(path):
        out = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
        return out.stdout if out.returncode == 0 else None

    src_model, src_harm = show("recsim_envs/harm/model.py"), show("baselines/harm.py")
    if src_model is None or src_harm is None:
        return None
    mods = {}
    for name, src in (("_legacy_harm_model", src_model), ("_legacy_harm", src_harm)):
        mod = types.ModuleType(name)
        sys.modules[name] = mod  # dataclasses look their module up while the source executes
        exec(
            compile(src.replace("recsim_envs.harm.model import", "_legacy_harm_model import"), name, "exec"),
            mod.__dict__,
        )
        mods[name] = mod
    return mods["_legacy_harm"]


def _params():
    from recsim_envs.harm.model import HarmParams

    return HarmParams(lam=100.0, alpha_harmful=0.5, alpha_benign=0.25, beta=0.2)


#: the optimisers timed side by side: this code, and earlier revisions loaded from git
WHICH = {"certified": None, "previous": PREVIOUS_REV, "legacy": LEGACY_REV}


def _optimise(which: str, V, harmful, U0) -> tuple[float, float, np.ndarray]:
    """One chunk of users: (wall seconds, CPU seconds of this process, f per user) for ``which`` ∈ :data:`WHICH`:
    ``"certified"`` today's ``ift``; ``"previous"`` ``ift`` at revision ``PREVIOUS_REV`` (``--previous-rev``);
    ``"legacy"`` ``ift`` at ``LEGACY_REV`` (two starts)."""
    if WHICH[which] is not None:
        mod = legacy_harm(WHICH[which])
        prob = mod.HarmProblem(V, harmful, U0, mod.HarmParams(), 6.0, 1)
        opt = mod.ift
    else:
        prob = HarmProblem(V, harmful, U0, _params(), 6.0, 1)
        opt = ift
    t, c = time.perf_counter(), time.process_time()
    sol = opt(prob)
    return time.perf_counter() - t, time.process_time() - c, np.asarray(sol.f)


def time_small(cat, repeats: int, which: str) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and mean f over ``repeats`` runs."""
    times, cpus, f = [], [], np.zeros(1)
    for _ in range(repeats):
        sec, cpu, f = _optimise(which, cat.V, cat.harmful, cat.U0)
        times.append(sec)
        cpus.append(cpu)
    return float(np.median(times)), float(np.median(cpus)), float(f.mean())


def large_optimisation(cat, max_users: int, chunk: int, which: str, workers: int):
    """Users/s (wall clock, ``workers`` processes over chunks), users done, f per user, total CPU seconds."""
    from concurrent.futures import ProcessPoolExecutor

    n = min(max_users, cat.n_users)
    chunks = [np.arange(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    t0 = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            outs = list(
                ex.map(
                    _optimise,
                    [which] * len(chunks),
                    [cat.V] * len(chunks),
                    [cat.harmful] * len(chunks),
                    [cat.U0[c] for c in chunks],
                )
            )
    else:
        outs = [_optimise(which, cat.V, cat.harmful, cat.U0[c]) for c in chunks]
    wall = time.perf_counter() - t0
    return n / wall, n, np.concatenate([o[2] for o in outs]), sum(o[1] for o in outs)


def large_gradient_numpy(cat, n_users: int, chunk: int) -> float:
    prob = HarmProblem(cat.V, cat.harmful, cat.U0[:n_users], _params(), 6.0, 1)
    pi = uniform(prob).theta  # a dense policy: the expensive case
    t0 = time.perf_counter()
    for s in range(0, n_users, chunk):
        sl = slice(s, min(s + chunk, n_users))
        sp = stationary_profile(
            ItemPolicy(6.0), pi[sl], prob.U0[sl], prob.V, prob.harmful, prob.params, diagnostics=False
        )
        objective_gradient(ItemPolicy(6.0), pi[sl], sp, prob.U0[sl], prob.V, prob.harmful, prob.params)
    return n_users / (time.perf_counter() - t0)


def large_gradient_torch(cat, n_users: int, chunk: int, device: str) -> float:
    import torch

    from recsim_envs.harm.torch_model import TorchHarmModel

    allowed = ~cat.harmful
    pi = np.zeros((n_users, cat.n_items))
    pi[:, allowed] = 1.0 / allowed.sum()
    t0 = time.perf_counter()
    for s in range(0, n_users, chunk):
        sl = slice(s, min(s + chunk, n_users))
        tm = TorchHarmModel(cat.V, cat.harmful, cat.U0[sl], 6.0, 100.0, 0.5, 0.25, 0.2, "item", device=device)
        th = torch.as_tensor(pi[sl], device=tm.device)
        U, _, _ = tm.stationary_profile(th)
        tm.ift_gradient(th, U)
        if tm.device.type == "cuda":
            torch.cuda.synchronize()
    return n_users / (time.perf_counter() - t0)


def env_throughput(env_id: str, n: int, seconds: float, **kw) -> float:
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", horizon=10**9, **kw)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    cfg = venv.unwrapped.config if hasattr(venv, "unwrapped") else venv.config
    if cfg.action_type == "items":
        act = rng.integers(cfg.n_candidates, size=(n, cfg.k))
    else:
        act = np.full((n, cfg.n_candidates), cfg.k / cfg.n_candidates)
    venv.step(act)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        venv.step(act)
        steps += 1
    return steps * n / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--movielens", default=os.environ.get("RECSIM_MOVIELENS_DIR", ""))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-users", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--grad-users", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2, help="processes for the 10,000-user optimisation")
    ap.add_argument("--legacy-rev", default=LEGACY_REV, help="git revision of the legacy (two-start) optimiser")
    ap.add_argument("--previous-rev", default=PREVIOUS_REV, help="git revision of the previous optimiser")
    ap.add_argument("--skip-legacy", action="store_true", help="time only today's optimiser")
    args = ap.parse_args(argv)
    WHICH["legacy"] = args.legacy_rev
    WHICH["previous"] = args.previous_rev
    ok = not args.skip_legacy and all(legacy_harm(r) is not None for r in (args.legacy_rev, args.previous_rev))
    methods = tuple(WHICH) if ok else ("certified",)
    print(f"load average before: {os.getloadavg()}")

    print("\n## 1. optimise 100 users × 100 items, k = 1 (to convergence; goal < 0.5 s)")
    cats = {"synthetic": synthetic_catalogue(100, 100, seed=0)}
    if args.movielens:
        cats["ml-latest-small Sci-Fi"] = load_movielens(args.movielens, "Sci-Fi", 100, 100)
    warm = synthetic_catalogue(20, 5, seed=1)
    for which in methods:  # imports, compiled kernels' caches and first-touch allocations, outside the timings
        _optimise(which, warm.V, warm.harmful, warm.U0)
    for name, cat in cats.items():
        for which in methods:
            sec, cpu, f = time_small(cat, args.repeats, which)
            print(
                f"| {name} | {which} | {sec:.2f} s wall, {cpu:.2f} CPU-s (medians of {args.repeats}) | "
                f"mean f {f:.4f} |",
                flush=True,
            )

    print(f"\n## 2. 10,000 users × 1,000 items, k = 1 (synthetic), {args.workers} worker process(es)")
    big = synthetic_catalogue(1000, 10_000, seed=0)
    f_by = {}
    for which in methods:
        ups, n, f, cpu = large_optimisation(big, args.max_users, args.chunk, which, args.workers)
        f_by[which] = f
        print(
            f"| full optimisation, {which} | {ups:.1f} users/s (wall) | {n / cpu:.1f} users per CPU-second | "
            f"{n} of 10,000 users | mean f {f.mean():.4f} |",
            flush=True,
        )
    for other in methods[1:]:
        d = f_by["certified"] - f_by[other]
        print(
            f"| certified − {other}, per user | min {d.min():.2e}, max {d.max():.2e} | worse by > 1e-9 on "
            f"{int((d < -1e-9).sum())} users, better by > 1e-9 on {int((d > 1e-9).sum())} |"
        )
    g_np = large_gradient_numpy(big, args.grad_users, args.chunk)
    print(f"| fixed point + IFT gradient (NumPy, CPU) | {g_np:.0f} users/s | {args.grad_users} users |")
    try:
        import torch

        g_t = large_gradient_torch(big, args.grad_users, args.chunk, "cpu")
        print(
            f"| fixed point + IFT gradient (torch twin, CPU, float64) | {g_t:.0f} users/s | {args.grad_users} users |"
        )
        if torch.cuda.is_available():
            g_g = large_gradient_torch(big, args.grad_users, args.chunk * 8, "cuda")
            print(f"| fixed point + IFT gradient (torch twin, GPU) | {g_g:.0f} users/s | {args.grad_users} users |")
        else:
            print("| torch twin on GPU | not measured: no CUDA device on this machine | |")
    except ImportError:
        print("| torch twin | not measured: torch not installed | |")

    print("\n## 3. native vector env throughput (user-steps/s)")
    for env_id, kw in (
        ("recsim_envs/HarmMitigation-v0", {}),
        ("recsim_envs/HarmMitigationSampling-v0", {}),
        ("recsim_envs/HarmMitigationSampling-v0", {"analytic_info": False}),
    ):
        for n in (1, 1024):
            r = env_throughput(env_id, n, args.seconds, **kw)
            print(f"| {env_id} {kw or ''} | {n} users | {r:,.0f} user-steps/s |")

    print(f"\nload average after: {os.getloadavg()}")
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"numpy {np.__version__}; date {datetime.date.today()}"
    )


if __name__ == "__main__":
    main()
