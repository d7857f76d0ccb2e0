# ruff: noqa: E402  (BLAS threads are pinned before numpy is imported)
"""Reproduce Chee et al. (KDD 2024): the IFT-gradient policy against uniform, top-k(u0) and alternating.

Protocol (paper §6 / docs/models/harm.md): λ = 100, α_H = 0.5, α_NH = 0.25, β = 0.2, the 100 most-rated items of one
genre (Sci-Fi), the 100 most active users on them, biased MF (d = 10 + 2 folded biases);
(a) bounded cardinality, k = 1, c = 6; (b) independent sampling, k = 5, c = 20. Every method is evaluated at its
own stationary profile; the table gives mean ± std over users of f = pCLK − λ·pH, pCLK and pH, and the IFT
policy's relative improvement (f_IFT − f_base) / |f_base| over each baseline. The calibration routine's c (largest c
with pCLK ≥ 0.5 under uniform and alternating) is printed next to the paper's c. A λ sweep (k = 1) shows
alternating optimisation falling further behind as harm weighs more.

Datasets: ml-latest-small (``--movielens DIR``, default ``$RECSIM_MOVIELENS_DIR``; harm labels from the documented
tag/genre proxy, since the Kaggle parental-guide CSV is not available here) and the synthetic default catalogue.

Usage::

    python -m benchmarks.reproduce_harm --movielens "$RECSIM_MOVIELENS_DIR"
    python -m benchmarks.reproduce_harm --quick          # 30 users, fewer λ values

Every (dataset, setting, method) result is a row of ``<out>/rows.jsonl`` written atomically as soon as it is
computed, keyed by a hash of every setting that changes it (users, items, data file contents, λ, c, k, ...); a
killed run resumes where it stopped, and a run with other settings never reuses these rows (``--fresh`` starts
over). ``--executor process|ray`` runs the rows in parallel (``benchmarks.executor``).
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
import functools
import hashlib
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.harm import (
    HarmProblem,
    alternating,
    best_vertex,
    calibrate_c,
    ift,
    summary,
    top_k_u0,
    uniform,
)
from benchmarks.executor import add_executor_args, executor_options, run_into_store
from benchmarks.store import SettingsStore, settings_hash, settings_row
from recsim_envs.harm.data import load_movielens, synthetic_catalogue
from recsim_envs.harm.model import HarmParams

# every alternating row names its start (the first profile of the alternation) and its anchor
METHODS = {
    "uniform": uniform,
    "top-k(u0)": top_k_u0,
    "alternating (uniform start)": lambda p: alternating(p, start="uniform"),
    "alternating (random start, seed 0)": lambda p: alternating(p, start="random", seed=0),
    "alternating (u0 start)": lambda p: alternating(p, start="u0"),
    "alternating (u0 start, prev. anchor)": lambda p: alternating(p, start="u0", anchor="previous"),
    "best vertex": best_vertex,
    "ift (2 starts: uniform, top-k(u0))": lambda p: ift(p, starts=("uniform", "top-k(u0)")),
    "ift": ift,
}
# the λ sweep (k = 1): the strongest baselines against the multi-start optimiser
SWEEP_METHODS = ("alternating (uniform start)", "alternating (u0 start)", "best vertex", "ift")
SETTINGS = {"k=1 cardinality": (1, "cardinality", 6.0), "k=5 sampling": (5, "sampling", 20.0)}


def _catalogue_args(args) -> dict[str, tuple]:
    """name -> the (picklable) arguments of :func:`_catalogue` for every dataset of this run."""
    out = {}
    if args.movielens:
        out["ml-latest-small Sci-Fi"] = ("movielens", str(Path(args.movielens).resolve()), args.items, args.users)
    else:
        print("no MovieLens directory given (--movielens or $RECSIM_MOVIELENS_DIR): synthetic only")
    out["synthetic"] = ("synthetic", "", args.items, args.users)
    return out


@functools.cache
def _catalogue(kind: str, directory: str, items: int, users: int):
    if kind == "movielens":
        return load_movielens(directory, "Sci-Fi", items, users)
    return synthetic_catalogue(items, users, seed=0)


def _fingerprint(cat) -> str:
    """Hash of the problem's data (embeddings, labels, profiles): rows of another data file never match."""
    h = hashlib.sha256()
    for a in (cat.V, cat.harmful, cat.U0):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class HarmTask:
    """One computed row (picklable: ``benchmarks.executor`` may run it in another process or on a Ray node)."""

    dataset: str
    catalogue: tuple  # arguments of _catalogue
    setting: str
    method: str  # a METHODS key, or "calibrated_c"
    lam: float
    k: int
    pc: str
    c: float
    params: tuple  # HarmParams fields (lam, alpha_harmful, alpha_benign, beta)

    def settings(self, data_hash: str) -> dict:
        """Every setting that changes this row, the data's fingerprint included."""
        return {"dataset": self.dataset, "catalogue": list(self.catalogue), "data_sha256": data_hash,
                **{f: getattr(self, f) for f in ("setting", "method", "lam", "k", "pc", "c")},
                "params": dict(zip(("lam", "alpha_harmful", "alpha_benign", "beta"), self.params))}  # fmt: skip


def run_harm_task(task: HarmTask) -> dict:
    cat = _catalogue(*task.catalogue)
    prob = HarmProblem(cat.V, cat.harmful, cat.U0, HarmParams(*task.params), task.c, task.k, task.pc)
    settings = task.settings(_fingerprint(cat))
    if task.method == "calibrated_c":
        c_cal, table = calibrate_c(prob, target_pclk=0.5, iters=20)
        row = dict(c=c_cal, at_c={k_: list(v) for k_, v in table.items()})
    else:
        sol = METHODS[task.method](prob)
        row = _row(task.dataset, task.setting, task.method, task.lam, sol, task.c)
        print(f"  {task.dataset} {task.setting:16s} {task.method:18s} f={sol.f.mean():9.4f}  ({sol.seconds:.1f}s)",
              flush=True)  # fmt: skip
    row.update(dataset=task.dataset, setting=task.setting, method=task.method, lam=task.lam)
    return settings_row(settings, row)


def _row(dataset, setting, method, lam, sol, c):
    extra = {}
    if "start" in sol.extra and np.ndim(sol.extra["start"]) == 1:  # multi-start IFT: which start won, per user
        names, counts = np.unique(sol.extra["start"], return_counts=True)
        extra["winning_start"] = {str(a): int(b) for a, b in zip(names, counts)}
    if "kkt_ok" in sol.extra:
        extra["kkt_ok_users"] = int(np.sum(sol.extra["kkt_ok"]))
        extra["best_single_item_f_mean"] = float(np.mean(sol.extra["best_single_item_f"]))
    return dict(
        f_per_user=[float(x) for x in sol.f],
        **extra,
        dataset=dataset,
        setting=setting,
        method=method,
        lam=lam,
        c=c,
        **summary(sol),
        converged=bool(sol.profile.ok),
        max_spectral_radius=float(np.nanmax(sol.profile.spectral_radius)),
        max_residual=float(sol.profile.residual.max()),
    )


def tasks_for(args) -> list[HarmTask]:
    tasks = []
    paper = (100.0, 0.5, 0.25, 0.2)
    for name, cat_args in _catalogue_args(args).items():
        for setting, (k, pc, c) in SETTINGS.items():
            tasks += [HarmTask(name, cat_args, setting, m, 100.0, k, pc, c, paper) for m in ("calibrated_c", *METHODS)]
        for lam in args.lams:
            tasks += [
                HarmTask(name, cat_args, "sweep k=1", m, lam, 1, "cardinality", 6.0, (lam, 0.5, 0.25, 0.2))
                for m in SWEEP_METHODS
            ]
    return tasks


def run(args) -> tuple[SettingsStore, list[dict]]:
    """Compute the rows this run's settings still lack; return the store and this run's rows (in task order)."""
    out = Path(args.out)
    if args.fresh and (out / "rows.jsonl").exists():
        (out / "rows.jsonl").unlink()
    store = SettingsStore(out / "rows.jsonl")
    tasks = tasks_for(args)
    for name, cat_args in _catalogue_args(args).items():
        cat = _catalogue(*cat_args)
        print(
            f"\n## {name}: {cat.n_items} items ({cat.harmful.mean():.0%} harmful, labels: {cat.harm_source}), "
            f"{cat.n_users} users"
        )
    hashes = [settings_hash(t.settings(_fingerprint(_catalogue(*t.catalogue)))) for t in tasks]
    todo = [t for t, h in zip(tasks, hashes) if not store.has(settings_hash=h)]
    print(f"{len(tasks)} rows, {len(tasks) - len(todo)} already in {out / 'rows.jsonl'}")
    run_into_store(
        run_harm_task, todo, store, failures_path=out / "failures.jsonl", desc="reproduce_harm",
        **executor_options(args), describe=lambda t: f"{t.dataset} {t.setting} {t.method} λ={t.lam:g}",
    )  # fmt: skip
    by_hash = {r["settings_hash"]: r for r in store.rows}
    return store, [by_hash[h] for h in hashes if h in by_hash]


def long_run_check(
    solver: Any,
    scale: float,
    n_envs: int,
    burn: int,
    steps: int,
    policy_seed: int = 0,
    env_id: str = "recsim_envs/HarmMitigation-v0",
    horizon: int = 10**9,
    **env_kwargs: Any,
) -> tuple[HarmProblem, Any, dict[str, np.ndarray], np.ndarray]:
    """Long-run click/harm rates of ``solver``'s stationary policy in ``n_envs`` users of ``env_id`` whose step
    sizes (α, β) are the paper's times ``scale`` (scaled together they keep the stationary profile ū): per-user
    time averages over ``steps`` steps after ``burn`` (:func:`agents.evaluation.long_run_averages`, env seed 0).
    Returns (the problem, its solution, the rates ``{"click", "harm"}``, each env's user at the end)."""
    import gymnasium as gym

    import recsim_envs  # noqa: F401
    from agents.evaluation import long_run_averages
    from baselines.harm import StationaryPolicy

    venv = gym.make_vec(
        env_id,
        num_envs=n_envs,
        vectorization_mode="vector_entry_point",
        alpha_harmful=0.5 * scale,
        alpha_benign=0.25 * scale,
        beta=0.2 * scale,
        horizon=horizon,
        **env_kwargs,
    )
    prob = HarmProblem.from_env(venv)
    sol = solver(prob)
    policy = StationaryPolicy(sol, venv, seed=policy_seed)
    rates, info = long_run_averages(policy, venv, burn, steps, ("click", "harm"), seed=0)
    venv.close()
    return prob, sol, rates, np.asarray(info["user"])


def env_long_run(store: SettingsStore, scales=(1.0, 0.02), n_envs: int = 400, steps: int = 3000) -> list[dict]:
    """Long-run click/harm rates of fixed policies in the vector env vs the analytic pCLK/pH at ū (synthetic,
    k = 1). Scale 1 = the paper's step sizes; smaller scales shrink (α, β) together, which keeps ū but removes the
    fluctuation bias of the stochastic profile (:func:`long_run_check`)."""
    rows = []
    for scale in scales:
        for method in ("top-k(u0)", "ift"):
            settings = {"check": "env long-run", "scale": scale, "method": method, "lam": 100.0, "users": n_envs,
                        "steps": steps, "env_id": "recsim_envs/HarmMitigation-v0", "seed": 0}  # fmt: skip
            if store.has_settings(settings):
                rows.append(next(r for r in store.rows if r["settings_hash"] == settings_hash(settings)))
                continue
            burn = int(np.ceil(10 / (0.45 * scale)))
            _, sol, rates, users = long_run_check(METHODS[method], scale, n_envs, burn, steps)
            dc, dh = rates["click"] - sol.pclk[users], rates["harm"] - sol.ph[users]
            row = settings_row(
                settings,
                dict(
                    dataset="synthetic",
                    setting=f"env long-run x{scale:g}",
                    method=method,
                    lam=100.0,
                    scale=scale,
                    users=n_envs,
                    steps=steps,
                    burn_in=burn,
                    click_env=float(rates["click"].mean()),
                    click_analytic=float(sol.pclk[users].mean()),
                    click_gap=float(dc.mean()),
                    click_se=float(dc.std(ddof=1) / np.sqrt(n_envs)),
                    harm_env=float(rates["harm"].mean()),
                    harm_analytic=float(sol.ph[users].mean()),
                    harm_gap=float(dh.mean()),
                    harm_se=float(dh.std(ddof=1) / np.sqrt(n_envs)),
                ),
            )
            store.add(row)
            rows.append(row)
            print(
                f"  env long-run x{scale:g} {method}: click gap {dc.mean():+.4f}, harm gap {dh.mean():+.4f}", flush=True
            )
    return rows


def report(rows: list[dict]) -> str:
    lines = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        for setting in SETTINGS:
            sel = {r["method"]: r for r in rows if r["dataset"] == ds and r["setting"] == setting}
            if "ift" not in sel:
                continue
            cal = sel.get("calibrated_c", {})
            c_used = sel["ift"]["c"]
            lines.append(
                f"\n### {ds}, {setting} (c = {c_used:g}; calibration routine: c = {cal.get('c', float('nan')):.2f})"
            )
            lines.append(
                "| method | f (mean ± std) | pCLK | pH | IFT rel. improvement | users IFT better by > 1e-6 "
                "| users method better by > 1e-6 | time (s) |"
            )
            lines.append("|---|---|---|---|---|---|---|---|")
            f_ift = sel["ift"]["f_mean"]
            fu_ift = np.asarray(sel["ift"].get("f_per_user", []))
            for m in METHODS:
                if m not in sel:
                    continue
                r = sel[m]
                rel = "—" if m == "ift" else f"{100 * (f_ift - r['f_mean']) / abs(r['f_mean']):+.1f} %"
                fu = np.asarray(r.get("f_per_user", []))
                if m == "ift" or fu.shape != fu_ift.shape:
                    wins = losses = "—"
                else:
                    wins, losses = int(np.sum(fu_ift > fu + 1e-6)), int(np.sum(fu > fu_ift + 1e-6))
                lines.append(
                    f"| {m} | {r['f_mean']:.3f} ± {r['f_std']:.3f} | {r['pclk_mean']:.3f} ± {r['pclk_std']:.3f} | "
                    f"{r['ph_mean']:.4f} ± {r['ph_std']:.4f} | {rel} | {wins} | {losses} | {r['seconds']:.2f} |"
                )
            if "winning_start" in sel["ift"]:
                won = ", ".join(f"{k_} {v}" for k_, v in sel["ift"]["winning_start"].items())
                cert = ""
                if "kkt_ok_users" in sel["ift"]:
                    cert = (
                        f"; KKT certificate met on {sel['ift']['kkt_ok_users']} of {fu_ift.size} users; mean best "
                        f"single-item f {sel['ift']['best_single_item_f_mean']:.4f}"
                    )
                lines.append(f"\nIFT start that won (users): {won}{cert}.")
        sweep = [r for r in rows if r["dataset"] == ds and r["setting"] == "sweep k=1"]
        if sweep:
            lines.append(f"\n### {ds}, λ sweep (k = 1, c = 6): baselines vs multi-start IFT")
            base = [m for m in SWEEP_METHODS if m != "ift"]
            lines.append(
                "| λ | " + " | ".join(f"f {m}" for m in base) + " | f IFT | IFT rel. improvement over the best "
                "baseline | users IFT better by > 1e-6 than every baseline |"
            )
            lines.append("|---" * (len(base) + 4) + "|")
            for lam in sorted({r["lam"] for r in sweep}):
                got = {r["method"]: r for r in sweep if r["lam"] == lam}
                if not all(m in got for m in SWEEP_METHODS):
                    continue
                i = got["ift"]
                best = max(got[m]["f_mean"] for m in base)
                rel = (i["f_mean"] - best) / abs(best)
                fu = np.asarray(i["f_per_user"])
                top = np.max([np.asarray(got[m]["f_per_user"]) for m in base], axis=0)
                cells = " | ".join(f"{got[m]['f_mean']:.4f}" for m in base)
                lines.append(
                    f"| {lam:g} | {cells} | {i['f_mean']:.4f} | {100 * rel:+.2f} % | {int(np.sum(fu > top + 1e-6))} |"
                )
    env_rows = [r for r in rows if r["setting"].startswith("env long-run")]
    if env_rows:
        lines.append("\n### Env long-run rates vs analytic pCLK / pH at ū (synthetic, k = 1, 400 users)")
        lines.append(
            "| step scale | method | click env | pCLK analytic | gap ± s.e. | harm env | pH analytic | gap ± s.e. |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in env_rows:
            lines.append(
                f"| ×{r['scale']:g} | {r['method']} | {r['click_env']:.4f} | {r['click_analytic']:.4f} | "
                f"{r['click_gap']:+.4f} ± {r['click_se']:.4f} | {r['harm_env']:.4f} | {r['harm_analytic']:.4f} | "
                f"{r['harm_gap']:+.4f} ± {r['harm_se']:.4f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--movielens", default=os.environ.get("RECSIM_MOVIELENS_DIR", ""), help="MovieLens directory")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--lams", type=float, nargs="+", default=[0.0, 1.0, 10.0, 30.0, 100.0, 300.0, 1000.0])
    ap.add_argument("--out", default="results/reproduce_harm")
    ap.add_argument("--quick", action="store_true", help="30 users, λ ∈ {1, 100}")
    ap.add_argument("--fresh", action="store_true", help="discard stored rows")
    ap.add_argument("--no-env-check", action="store_true", help="skip the env long-run vs analytic check")
    add_executor_args(ap, default="serial")
    args = ap.parse_args(argv)
    if args.quick:
        args.users, args.lams = 30, [1.0, 100.0]
        args.out = args.out + "_quick"
    t0 = time.perf_counter()
    store, rows = run(args)
    if not args.no_env_check:
        rows += env_long_run(store)
    print(report(rows))
    print(
        f"\nmachine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}; date {datetime.date.today()}; "
        f"wall {time.perf_counter() - t0:.0f}s (this run; stored rows are not recomputed)"
    )


if __name__ == "__main__":
    main()
