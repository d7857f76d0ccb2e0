"""Speed of the compiled cooperation/rewiring kernel vs a plain one-replica Python loop of the same spec.

Cell (docs/models/coop.md): NO_MED, W = 2.09, N = 500, k = 30, β = 0.005, PD, clipped Fermi, 5·10⁵ steps, 15 replicas.
Both run in the same process, one after the other. The Python reference (sets for adjacency, payoffs summed over
neighbours on demand, ``random`` module) is run on ``--ref-replicas`` full replicas (default 3) and its cost is
extrapolated per elementary step to the steps the kernel actually took for all 15 replicas (runs stop at
absorption, so "steps" differ from 15 × 5·10⁵). Both figures, measured and extrapolated, are printed.

Usage::

    python -m benchmarks.speed_coop                  # ≈ 1–2 min on one core
    python -m benchmarks.speed_coop --ref-replicas 15 # the whole cell in Python too (≈ 1–3 min more)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time

import numpy as np
from networkx import random_regular_graph

from recsim_envs.coop import simulate

CELL = dict(n_nodes=500, degree=30, beta=0.005, W=2.09, T=2.0, S=-1.0, fermi_mode="clipped", max_steps=500_000)


def python_reference(seed: int, n_nodes=500, degree=30, beta=0.005, W=2.09, T=2.0, S=-1.0, max_steps=500_000):
    """One replica of docs/models/coop.md with NO_MED rewiring, written plainly (the speed bar's "straightforward"
    code).

    Returns (final cooperator fraction, #rewires, steps taken).
    """
    rnd = random.Random(seed)
    graph = random_regular_graph(degree, n_nodes, seed=seed)
    adj = [set(graph.neighbors(v)) for v in range(n_nodes)]
    strat = [1 if rnd.random() < 0.5 else 0 for _ in range(n_nodes)]
    payoff = ((0.0, T), (S, 1.0))  # payoff[s_x][s_y]: R = 1, P = 0
    n_coop = sum(strat)
    rewires = 0
    q = 1.0 / (1.0 + W)
    t = 0
    while t < max_steps and 0 < n_coop < n_nodes:
        t += 1
        x = rnd.randrange(n_nodes)
        y = rnd.choice(tuple(adj[x]))
        px = sum(payoff[strat[x]][strat[v]] for v in adj[x])
        py = sum(payoff[strat[y]][strat[v]] for v in adj[y])
        p = 1.0 / (1.0 + math.exp(-beta * max(py - px, 0.0)))
        if rnd.random() < q:
            if strat[x] != strat[y] and rnd.random() < p:
                strat[x] = strat[y]
                n_coop += 1 if strat[x] else -1
        elif strat[y] == 0:
            rewires += 1
            if strat[x] == 1:
                a, b = (x, y) if rnd.random() < p else (None, None)
            else:
                a, b = (x, y) if rnd.random() < p else (y, x)
            if a is not None and len(adj[b]) > 1:
                cand = adj[b] - adj[a] - {a}
                if cand:
                    z = rnd.choice(tuple(cand))
                    adj[a].discard(b)
                    adj[b].discard(a)
                    adj[a].add(z)
                    adj[z].add(a)
    return n_coop / n_nodes, rewires, t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=15)
    ap.add_argument("--ref-replicas", type=int, default=3, help="full Python replicas to time (extrapolated)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    simulate("NO_MED", 1, 0, n_nodes=20, degree=4, max_steps=10)  # compile or load the numba cache
    warm = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = simulate("NO_MED", args.replicas, args.seed, **CELL)
    t_ours = time.perf_counter() - t0
    steps = int(ours["steps"].sum())

    t0 = time.perf_counter()
    ref = [python_reference(args.seed + i, **{k: v for k, v in CELL.items() if k != "fermi_mode"}) for i in
           range(args.ref_replicas)]  # fmt: skip
    t_ref = time.perf_counter() - t0
    ref_steps = sum(r[2] for r in ref)
    per_step_ref = t_ref / ref_steps
    per_step_ours = t_ours / steps
    ref_cell = per_step_ref * steps

    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
        f"numba warm-up {warm:.1f} s"
    )
    print("cell: NO_MED, W=2.09, N=500, k=30, beta=0.005, PD, clipped, 5e5 steps")
    print("| implementation | replicas | steps taken | wall time | µs / step |")
    print("|---|---|---|---|---|")
    print(f"| compiled kernel (ours) | {args.replicas} | {steps:,} | {t_ours:.2f} s | {per_step_ours * 1e6:.3f} |")
    print(
        f"| plain Python (measured) | {args.ref_replicas} | {ref_steps:,} | {t_ref:.1f} s | {per_step_ref * 1e6:.2f} |"
    )
    print(f"| plain Python (extrapolated to our {steps:,} steps) | {args.replicas} | {steps:,} | {ref_cell:.1f} s | "
          f"{per_step_ref * 1e6:.2f} |")  # fmt: skip
    print(f"speed-up per step: {per_step_ref / per_step_ours:.1f}×")
    print(
        f"cooperator fraction: ours {ours['cooperator_fraction'].mean():.2f} over {args.replicas}; "
        f"Python reference {np.mean([r[0] for r in ref]):.2f} over {args.ref_replicas}"
    )


if __name__ == "__main__":
    main()
