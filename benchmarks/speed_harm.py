# ruff: noqa: E402  (BLAS threads are pinned before numpy is imported)
"""Speed of the harm-exposure model and envs.

1. Time to optimise the IFT-gradient policy for 100 users × 100 items (k = 1) to convergence (goal < 2 s on
   2 cores), on the synthetic default and, with ``--movielens``, on ml-latest-small Sci-Fi; median of ``--repeats``.
2. Users/s on a 10,000-user × 1,000-item problem (synthetic, k = 1): (a) the full IFT optimisation, in chunks of
   ``--chunk`` users, over the first ``--max-users`` users (the rate is per user; pass ``--max-users 10000`` for
   all); (b) one stationary-profile solve + adjoint IFT gradient per user, NumPy vs the torch twin (CPU, and GPU
   when ``torch.cuda.is_available()``).
3. Env throughput (user-steps/s) of the native vector env, items and sampling variants.

Usage: ``python -m benchmarks.speed_harm [--movielens DIR] [--max-users 1000]``
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


def time_small(cat, repeats: int) -> tuple[float, int, float]:
    prob = HarmProblem(cat.V, cat.harmful, cat.U0, _params(), 6.0, 1)
    times, sol = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        sol = ift(prob)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), sol.iterations, float(sol.f.mean())


def _params():
    from recsim_envs.harm.model import HarmParams

    return HarmParams(lam=100.0, alpha_harmful=0.5, alpha_benign=0.25, beta=0.2)


def large_optimisation(cat, max_users: int, chunk: int) -> tuple[float, int]:
    n_done, t0 = 0, time.perf_counter()
    for start in range(0, min(max_users, cat.n_users), chunk):
        idx = np.arange(start, min(start + chunk, max_users, cat.n_users))
        prob = HarmProblem(cat.V, cat.harmful, cat.U0[idx], _params(), 6.0, 1)
        ift(prob)
        n_done += idx.size
    return n_done / (time.perf_counter() - t0), n_done


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
    args = ap.parse_args(argv)

    print("## 1. optimise 100 users × 100 items, k = 1 (IFT policy to convergence; goal < 2 s)")
    cats = {"synthetic": synthetic_catalogue(100, 100, seed=0)}
    if args.movielens:
        cats["ml-latest-small Sci-Fi"] = load_movielens(args.movielens, "Sci-Fi", 100, 100)
    for name, cat in cats.items():
        sec, it, f = time_small(cat, args.repeats)
        print(f"| {name} | {sec:.2f} s (median of {args.repeats}) | {it} ascent iterations | mean f {f:.3f} |")

    print("\n## 2. 10,000 users × 1,000 items, k = 1 (synthetic)")
    big = synthetic_catalogue(1000, 10_000, seed=0)
    ups, n = large_optimisation(big, args.max_users, args.chunk)
    print(f"| full IFT optimisation (NumPy, CPU) | {ups:.1f} users/s | measured on {n} of 10,000 users |")
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

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"numpy {np.__version__}; date {datetime.date.today()}"
    )


if __name__ == "__main__":
    main()
