"""Time to draw the initial random k-regular graph of the coop envs, before and after the dense-graph fix.

``python -m benchmarks.coop_graph_build [--timeout 60]`` prints a table: seconds for one graph with the builder
now used (``kernel._random_regular``: the sparse complement when 2k > N − 1; edge switches instead of restarts
when N·k > ``REPAIR_MIN_STUBS``) and with the previous one (stub pairing for every k, which is what
``kernel._pair_stubs`` still is for N·k ≤ ``REPAIR_MIN_STUBS``), each in a subprocess with a time limit since a
compiled kernel cannot be interrupted. The previous builder is only timed where it is reproduced exactly.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CASES = [(30, 8), (60, 29), (60, 55), (60, 58), (100, 97), (100, 98), (1000, 500), (2000, 1000), (5000, 2500),
         (5000, 4990)]  # fmt: skip

_SNIPPET = """
import time, numpy as np
from recsim_envs.coop import kernel as K
from recsim_envs.utils import rng as crng
n, k, fn = {n}, {k}, K.{fn}
nbr = np.zeros((1, n, n), np.int32); pos = np.full((1, n, n), -1, np.int32); deg = np.zeros((1, n), np.int32)
warm = (np.zeros((1, 4, 4), np.int32), np.full((1, 4, 4), -1, np.int32), np.zeros((1, 4), np.int32))
fn(*warm, crng.seed_to_key(np.arange(1)), np.zeros(1, np.uint64), 0, 4, 2)  # compile / load from cache
keys = crng.seed_to_key(np.arange(1)); ctrs = np.zeros(1, np.uint64)
t = time.perf_counter(); fn(nbr, pos, deg, keys, ctrs, 0, n, k); print(time.perf_counter() - t)
"""


def _time(n: int, k: int, fn: str, timeout: float) -> str:
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SNIPPET.format(n=n, k=k, fn=fn)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f}"
    return f"{float(out.stdout.strip()):.3f}"


def main(argv: list[str] | None = None) -> None:
    from recsim_envs.coop.kernel import REPAIR_MIN_STUBS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per build before giving up")
    args = ap.parse_args(argv)
    print("| N | k | builder now (s) | previous builder (s) |")
    print("|---|---|---|---|")
    for n, k in CASES:
        now = _time(n, k, "_random_regular", args.timeout)
        old = _time(n, k, "_pair_stubs", args.timeout) if n * k <= REPAIR_MIN_STUBS else "not reproduced"
        print(f"| {n} | {k} | {now} | {old} |", flush=True)


if __name__ == "__main__":
    main()
