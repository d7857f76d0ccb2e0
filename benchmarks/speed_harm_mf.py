"""Time and peak memory of the harm catalogue builder (MovieLens loader + sparse ALS biased MF).

Each configuration (``--sizes``, users × items of one genre) runs in a fresh subprocess, so its peak RSS
(``ru_maxrss``) is its own: reading ``ratings.csv`` (streamed, genre-filtered), selecting the top items/users,
and the MF fit (no cache: a fresh cache directory per run). Reported: ratings kept, wall seconds to read and to
fit, total wall and CPU seconds (user + system; less sensitive to other jobs on a shared machine), training RMSE,
peak RSS. Meant for the ML-25M-sized file of ``benchmarks.make_synthetic_movielens``.

``--previous-rev REV`` also times the builder as of git revision REV (its ``recsim_envs`` extracted with
``git archive`` into a temporary directory and put first on the child's ``PYTHONPATH``), each size right after
today's, so before/after come from one run.

Usage::

    python -m benchmarks.make_synthetic_movielens --out /tmp/synthetic-ml25m
    python -m benchmarks.speed_harm_mf --data /tmp/synthetic-ml25m --sizes 10000x1000 162000x1000 \
        --previous-rev bc6ac01
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, resource, sys, tempfile, time
from recsim_envs.harm import data
directory, genre, n_users, n_items = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
timing = {}
fit = data.train_biased_mf
def timed_fit(*a, **k):
    t = time.perf_counter()
    out = fit(*a, **k)
    timing["fit_s"] = time.perf_counter() - t
    return out
data.train_biased_mf = timed_fit
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as cache:
    cat = data.load_movielens(directory, genre, n_items=n_items, n_users=n_users, cache_dir=cache)
total = time.perf_counter() - t0
print(json.dumps({
    "module": data.__file__,
    "users": n_users, "items": n_items, "ratings": cat.info["n_ratings"], "rmse": cat.info["mf_rmse"],
    "read_s": total - timing["fit_s"], "fit_s": timing["fit_s"], "total_s": total,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
}))
"""


def run(directory: str, genre: str, users: int, items: int, src: str | None = None) -> dict:
    """One size in a fresh process; ``src``: a directory holding an earlier revision's ``recsim_envs``, made the
    child's working directory (``python -c`` puts it first on sys.path) and put first on its PYTHONPATH."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, os.path.abspath(directory), genre, str(users), str(items)],
        capture_output=True, text=True, env=env, check=False, cwd=src,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{users}x{items} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="MovieLens-format directory")
    ap.add_argument("--genre", default="Sci-Fi")
    ap.add_argument("--sizes", nargs="+", default=["10000x1000", "162000x1000"], help="USERSxITEMS")
    ap.add_argument("--previous-rev", default=None, help="also time the builder at this git revision")
    args = ap.parse_args(argv)
    codes: dict[str, str | None] = {"this tree": None}
    with tempfile.TemporaryDirectory() as tmp:
        if args.previous_rev:
            archive = subprocess.run(
                ["git", "archive", args.previous_rev, "recsim_envs"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            codes[args.previous_rev] = tmp
        print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs); data {args.data}")
        head = ("users × items", "code", "ratings kept", "read s", "ALS fit s", "total wall s", "total CPU s", "RMSE",
                "peak RSS MB")  # fmt: skip
        print("| " + " | ".join(head) + " |")
        print("|---|---|---|---|---|---|---|---|---|")
        for size in args.sizes:
            users, items = (int(x) for x in size.lower().split("x"))
            for name, src in codes.items():
                r = run(args.data, args.genre, users, items, src)
                if src is not None and not r["module"].startswith(src):
                    raise RuntimeError(f"the {name} run imported {r['module']}, not the revision's code")
                cells = (f"{users:,} × {items:,}", name, f"{r['ratings']:,}", f"{r['read_s']:.1f}",
                         f"{r['fit_s']:.1f}", f"{r['total_s']:.1f}", f"{r['cpu_s']:.1f}", f"{r['rmse']:.4f}",
                         f"{r['peak_rss_mb']:.0f}")  # fmt: skip
                print("| " + " | ".join(cells) + " |", flush=True)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
