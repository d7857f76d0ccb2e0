"""Reproduce Carvalho (2021)'s adoption experiments: Table 6 and Fig. 15–16 (exclusive recommenders compete).

Model: N = 1000, k = 30, β = 0.005, PD (T = 2, S = −1), clipped strategy Fermi, β_med = 10β, 10 % of users
seeded (split evenly among the contenders), 10⁵ elementary steps, R runs (30 published). Proxies as in the paper:
"aligned" = GOOD, "engagement" = RANDOM, "local" = NO_MED (no recommender); contenders are the exclusive
("_X") rules (a recommender links its users only to its own users).

Table 6 rows (our reading of "X vs Y majority": 90 % of users start on Y, the 10 % seed on X; "initial majority
keeps" = Y's final share). Published (cooperator fraction, majority share):

- Engagement vs Local majority  (0.0, 0.925): default NO_MED, contender RANDOM_X
- Local vs Many                 (0.432, 0.227): default NO_MED, contenders GOOD_X, RANDOM_X, FAIR_X, BAD_X
- Aligned vs Local majority     (0.362, 0.427): default NO_MED, contender GOOD_X
- Aligned vs Engagement majority (0.469, 0.443): default RANDOM_X, contender GOOD_X; also with a
  non-exclusive RANDOM majority (row "... (RANDOM)")
- monopolies (no competition): Engagement (RANDOM) 0.064, Local (NO_MED) 0.0, Aligned (GOOD) 0.522

The paper does not state W1 / W2 for Table 6: we run W1 = 1 and every W2 of Fig. 15 and judge each. Fig. 15: final
shares of NO_MED, GOOD_X, RANDOM_X, FAIR_X, BAD_X against W2 ∈ {0.01, 0.03, 0.1, 0.5} at W1 ∈ {1, 1.2, 1.6, 2}
(published: GOOD and NO_MED dominate near W1 = 1, BAD last). Fig. 16: shares and cooperation over time for the
Table 6 competitions. Both readings of the adoption probability (``recommender_fermi_mode`` clipped / symmetric;
the paper does not say) are run.

A cell is judged by |ours − published| ≤ 2·√(p(1−p)/30 + q(1−q)/R) (p published over 30 runs, q ours over R; the
Bernoulli variance bounds any quantity in [0, 1]) — the W-sweep's rule of ``reproduce_coop``. Orderings
(Fig. 15) are judged by the paired difference of shares across runs: "holds" when it exceeds 2 standard errors,
"reversed" when it is below −2 s.e., else "within noise".

Usage::

    python -m benchmarks.reproduce_coop_adoption --quick   # N = 200, 2·10⁴ steps, 6 runs (≈ 1 min)
    python -m benchmarks.reproduce_coop_adoption           # full scale (N = 1000, 10⁵ steps, 30 runs)

Cells run as tasks of ``benchmarks.executor`` (``--executor serial|process|ray``, ``--workers``,
``--ray-address``); the driver writes each finished cell atomically to ``<out>/cells.jsonl`` with a hash of all its
settings, so a killed run resumes and recomputes only the cells without a row. Writes ``table.md``, ``table6.png``,
``fig15_<mode>.png`` and ``fig16_<mode>.png``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.executor import add_executor_args, executor_options, run_missing
from benchmarks.reproduce_coop import _jsonable, band, save_figure, write_table
from benchmarks.store import SettingsStore, settings_row
from recsim_envs.coop.simulator import CoopBatch, CoopConfig
from recsim_envs.utils import rng as crng

PUBLISHED_RUNS = 30
BASE = {"degree": 30, "beta": 0.005, "T": 2.0, "S": -1.0, "fermi_mode": "clipped", "beta_med_factor": 10.0,
        "seed_fraction": 0.1}  # fmt: skip
MANY = ("GOOD_X", "RANDOM_X", "FAIR_X", "BAD_X")
#: name -> (default rule, contenders, published cooperator fraction, published final share of the majority)
TABLE6: dict[str, tuple[str, tuple[str, ...], float, float | None]] = {
    "Engagement vs Local majority": ("NO_MED", ("RANDOM_X",), 0.0, 0.925),
    "Local vs Many": ("NO_MED", MANY, 0.432, 0.227),
    "Aligned vs Local majority": ("NO_MED", ("GOOD_X",), 0.362, 0.427),
    "Aligned vs Engagement majority": ("RANDOM_X", ("GOOD_X",), 0.469, 0.443),
    # the same row with a non-exclusive majority (the paper does not say whether the majority is exclusive)
    "Aligned vs Engagement majority (RANDOM)": ("RANDOM", ("GOOD_X",), 0.469, 0.443),
    "Engagement monopoly": ("RANDOM", (), 0.064, None),
    "Local monopoly": ("NO_MED", (), 0.0, None),
    "Aligned monopoly": ("GOOD", (), 0.522, None),
}
FIG15_W1 = (1.0, 1.2, 1.6, 2.0)
FIG15_W2 = (0.01, 0.03, 0.1, 0.5)
MODES = ("clipped", "symmetric")


def simulate_with_shares(rule: str, n_replicas: int, seed: int, points: int, **model: Any) -> dict[str, Any]:
    """``simulator.simulate`` (same streams: replica i keyed ``seed + i``) that also samples every recommender's
    share and the cooperator fraction at ``points`` equally spaced times: ``"t"`` [points + 1], ``"share_ts"``
    [R, points + 1, M], ``"coop_ts"`` [R, points + 1]. The kernel is paused and resumed, which changes no draw."""
    config = CoopConfig(rule=rule, **model)
    batch = CoopBatch(config, n_replicas)
    batch.reset(crng.seed_to_key(np.arange(seed, seed + n_replicas)))
    t = np.linspace(0, config.max_steps, points + 1).round().astype(np.int64)
    shares = np.zeros((n_replicas, points + 1, config.n_recommenders))
    coop = np.zeros((n_replicas, points + 1))
    for i, until in enumerate(t):
        if i:
            batch.advance(until=int(until))
        shares[:, i] = batch.reccount / config.n_nodes
        coop[:, i] = batch.msize[:, 1] / config.n_nodes
    out: dict[str, Any] = dict(batch.metrics())
    out.update(t=t, share_ts=shares, coop_ts=coop)
    return out


def _mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def judge(p: float, q: float, runs: int) -> tuple[bool, float]:
    b = band(p, q, runs, published_runs=PUBLISHED_RUNS)
    return abs(q - p) <= b, b


def cell_settings(spec: tuple) -> dict[str, Any]:
    """Every setting of one cell (and its name): a stored cell is reused only if all of them match."""
    name, rule, kw, replicas, seed, points = spec
    return dict(kw, rule=rule, n_replicas=replicas, seed=seed, points=points, cell=name)


def run_cell(spec: tuple) -> dict[str, Any]:
    """One cell as a row of ``<out>/cells.jsonl``; runs where ``benchmarks.executor`` puts it."""
    name, rule, kw, replicas, seed, points = spec
    t0 = time.perf_counter()
    metrics = simulate_with_shares(rule, replicas, seed, points, **kw)
    seconds = time.perf_counter() - t0
    return settings_row(cell_settings(spec), {"name": name, "seconds": seconds,
                                              "metrics": {k: _jsonable(v) for k, v in metrics.items()}})  # fmt: skip


def ordering(a, b) -> str:
    """Paired comparison of two [R] samples: 'holds' (a > b by > 2 s.e.), 'reversed', or 'within noise'."""
    m, se = _mean_se(np.asarray(a) - np.asarray(b))
    if m > 2 * se:
        return "holds"
    if m < -2 * se:
        return "reversed"
    return "within noise"


def run_cells(args) -> tuple[dict, dict]:
    """Every cell of Table 6 and Fig. 15 as an executor task (``--executor``); the driver alone writes
    ``<out>/cells.jsonl`` and a rerun computes only the cells whose settings have no row yet."""
    out = args.out / ("quick" if args.quick else "full")
    store = SettingsStore(out / "cells.jsonl")
    common = dict(BASE, n_nodes=args.nodes, max_steps=args.steps)
    specs: dict[tuple, tuple] = {}

    def cell(key: tuple, name: str, rule: str, contenders, w1: float, w2: float, mode: str | None) -> None:
        kw = dict(common, W=w1)
        if contenders:
            kw.update(contenders=list(contenders), W2=w2, recommender_fermi_mode=mode)
        specs[key] = (name, rule, kw, args.replicas, args.seed, args.points)

    for row, (rule, contenders, _, _) in TABLE6.items():
        slug = row.lower().replace(" ", "_").replace("(", "").replace(")", "")
        if not contenders:
            cell(("t6", row, None, None), f"t6_{slug}", rule, (), 1.0, 0.0, None)
            continue
        for mode in args.modes:
            for w2 in args.w2:
                cell(("t6", row, mode, w2), f"t6_{slug}_W2{w2:g}_{mode}", rule, contenders, 1.0, w2, mode)
    for mode in args.modes:
        for w1 in args.w1:
            for w2 in args.w2:
                cell(("f15", mode, w1, w2), f"f15_W1{w1:g}_W2{w2:g}_{mode}", "NO_MED", MANY, w1, w2, mode)
    run_missing(
        run_cell, list(specs.values()), cell_settings, store, failures_path=out / "failures.jsonl",
        on_row=lambda row: print(f"  {row['name']}: {row['seconds']:.1f} s", flush=True),
        desc="cells", describe=lambda spec: spec[0], **executor_options(args),
    )  # fmt: skip
    rows = {key: store.row(cell_settings(spec)) for key, spec in specs.items()}
    missing = [specs[key][0] for key, row in rows.items() if row is None]
    if missing:
        raise SystemExit(f"{len(missing)} cells failed (see {out / 'failures.jsonl'}); rerun to retry: {missing}")
    table6 = {key[1:]: row for key, row in rows.items() if key[0] == "t6"}
    fig15 = {key[1:]: row for key, row in rows.items() if key[0] == "f15"}
    return table6, fig15


def table6_markdown(table6: dict, args) -> list[str]:
    lines = [
        "| row | adoption Fermi | W2 | coop fraction (pub ± band) | majority share (pub ± band) | contender share "
        "| #rewires (requests) |",
        "|---|---|---|---|---|---|---|",
    ]
    n_ok = n_judged = 0
    for (row, mode, w2), c in table6.items():
        _, contenders, p_coop, p_major = TABLE6[row]
        m = c["metrics"]
        q, _ = _mean_se(m["cooperator_fraction"])
        ok, b = judge(p_coop, q, args.replicas)
        n_ok += ok
        n_judged += 1
        coop_cell = f"{q:.3f} ({p_coop:.3f} ± {b:.3f}) {'✓' if ok else '✗'}"
        major_cell = contender_cell = "—"
        if p_major is not None:
            shares = np.asarray(m["shares"])
            qm = float(shares[:, 0].mean())
            ok, b = judge(p_major, qm, args.replicas)
            n_ok += ok
            n_judged += 1
            major_cell = f"{qm:.3f} ({p_major:.3f} ± {b:.3f}) {'✓' if ok else '✗'}"
            contender_cell = ", ".join(f"{n} {s:.3f}" for n, s in zip(contenders, shares[:, 1:].mean(0)))
        rew, _ = _mean_se(m["rewires"])
        lines.append(
            f"| {row} | {mode or '—'} | {'—' if w2 is None else f'{w2:g}'} | {coop_cell} | {major_cell} | "
            f"{contender_cell} | {rew:.0f} |"
        )
    return lines + ["", f"Table 6 cells inside the band: {n_ok}/{n_judged}."]


def fig15_markdown(fig15: dict, args) -> list[str]:
    names = ("NO_MED", *MANY)
    lines = [
        "| adoption Fermi | W1 | W2 | " + " | ".join(names) + " | top two | BAD_X last? |",
        "|---|---|---|" + "---|" * len(names) + "---|---|",
    ]
    for (mode, w1, w2), c in fig15.items():
        sh = np.asarray(c["metrics"]["shares"])
        means = sh.mean(0)
        se = sh.std(0, ddof=1) / math.sqrt(len(sh)) if len(sh) > 1 else np.zeros(len(names))
        top = [names[i] for i in np.argsort(-means)[:2]]
        # BAD_X last: BAD_X below every other recommender, each by a paired comparison
        verdicts = [ordering(sh[:, j], sh[:, 4]) for j in range(4)]
        last = "yes" if all(v == "holds" for v in verdicts) else ("no" if "reversed" in verdicts else "within noise")
        cols = [f"{x:.3f} ± {2 * s:.3f}" for x, s in zip(means, se)]
        lines.append(f"| {mode} | {w1:g} | {w2:g} | " + " | ".join(cols) + f" | {', '.join(top)} | {last} |")
    return lines


def plots(table6: dict, fig15: dict, args, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # Table 6: ours vs published, per row, at each (mode, W2)
    rows = list(TABLE6)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, (what, idx) in enumerate((("cooperator fraction", 2), ("majority share", 3))):
        ax = axes[k]
        for i, row in enumerate(rows):
            p = TABLE6[row][idx]
            if p is None:
                continue
            ax.plot([i], [p], "kx", ms=10, zorder=5)
            cells = [(key, c) for key, c in table6.items() if key[0] == row]
            for j, ((_, mode, _w2), c) in enumerate(cells):
                m = c["metrics"]
                x = np.asarray(m["cooperator_fraction"]) if idx == 2 else np.asarray(m["shares"])[:, 0]
                mu, se = _mean_se(x)
                off = (j - (len(cells) - 1) / 2) * 0.08
                color = "C0" if mode in (None, "clipped") else "C1"
                ax.errorbar(i + off, mu, yerr=2 * se, fmt="o", color=color, ms=3)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(rows, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(what)
        ax.set_title(f"{what}: × published; blue clipped, orange symmetric adoption; W2 ∈ {list(args.w2)}", fontsize=8)
    written.append(save_figure(fig, out / "table6.png", dpi=110))

    names = ("NO_MED", *MANY)
    for mode in args.modes:
        fig, axes = plt.subplots(1, len(args.w1), figsize=(4 * len(args.w1), 3.6), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, w1 in zip(axes, args.w1):
            for j, name in enumerate(names):
                stats = [_mean_se(np.asarray(fig15[(mode, w1, w2)]["metrics"]["shares"])[:, j]) for w2 in args.w2]
                mu, se = np.array(stats).T
                ax.errorbar(args.w2, mu, yerr=2 * se, fmt="o-", label=name, ms=3)
            ax.set_xscale("log")
            ax.set_title(f"W1 = {w1:g}")
            ax.set_xlabel("W2")
        axes[0].set_ylabel("final share of users")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"Fig. 15: final shares (mean ± 2 s.e.), adoption Fermi {mode}", fontsize=9)
        written.append(save_figure(fig, out / f"fig15_{mode}.png", dpi=110))

        comp_rows = [r for r in rows if TABLE6[r][1]]
        w2 = args.fig16_w2
        fig, axes = plt.subplots(1, len(comp_rows), figsize=(4 * len(comp_rows), 3.6), sharey=True)
        for ax, row in zip(np.atleast_1d(axes), comp_rows):
            c = table6.get((row, mode, w2))
            if c is None:
                continue
            m = c["metrics"]
            t = np.asarray(m["t"])
            share_ts = np.asarray(m["share_ts"])
            labels = (TABLE6[row][0] + " (majority)", *TABLE6[row][1])
            for j, lab in enumerate(labels):
                mu = share_ts[:, :, j].mean(0)
                se = share_ts[:, :, j].std(0, ddof=1) / math.sqrt(len(share_ts))
                ax.plot(t, mu, label=lab)
                ax.fill_between(t, mu - 2 * se, mu + 2 * se, alpha=0.2)
            coop = np.asarray(m["coop_ts"])
            ax.plot(t, coop.mean(0), "k--", label="cooperators")
            ax.set_title(row, fontsize=8)
            ax.set_xlabel("elementary steps")
            ax.legend(fontsize=6)
        np.atleast_1d(axes)[0].set_ylabel("share / cooperator fraction")
        fig.suptitle(f"Fig. 16: adoption over time (W1 = 1, W2 = {w2:g}, adoption Fermi {mode}; ± 2 s.e.)", fontsize=9)
        written.append(save_figure(fig, out / f"fig16_{mode}.png", dpi=110))
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 200, 2e4 steps, 6 runs, W1 ∈ {1, 2}")
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--replicas", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, default=50, help="time-series samples per run (Fig. 16)")
    ap.add_argument("--w1", type=float, nargs="+", default=list(FIG15_W1))
    ap.add_argument("--w2", type=float, nargs="+", default=list(FIG15_W2))
    ap.add_argument("--fig16-w2", type=float, default=0.1)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--out", type=Path, default=Path("results/reproduce_coop_adoption"))
    add_executor_args(ap, default="serial")
    args = ap.parse_args(argv)
    if args.quick:
        args.nodes, args.steps, args.replicas, args.w1 = 200, 20_000, 6, [1.0, 2.0]
    if args.fig16_w2 not in args.w2:
        ap.error(f"--fig16-w2 must be one of --w2 {args.w2}, got {args.fig16_w2}")
    out = args.out / ("quick" if args.quick else "full")
    t0 = time.perf_counter()
    table6, fig15 = run_cells(args)
    pngs = plots(table6, fig15, args, out)
    lines = [
        "## Adoption under competition: Table 6 and Fig. 15–16 (Carvalho 2021)",
        "",
        f"N = {args.nodes}, k = 30, β = 0.005, PD, clipped strategy Fermi, β_med = 10β, 10 % seeds, W1 = 1 "
        f"(Table 6), {args.steps:.0e} elementary steps, R = {args.replicas} runs (seeds {args.seed}.."
        f"{args.seed + args.replicas - 1}). Cell = ours (published ± 2σ band, 30 published runs) ✓ / ✗.",
        "",
        *table6_markdown(table6, args),
        "",
        "Fig. 15: final shares (mean ± 2 s.e.), contenders GOOD_X, RANDOM_X, FAIR_X, BAD_X on a NO_MED majority.",
        "",
        *fig15_markdown(fig15, args),
    ]
    write_table(out, lines, pngs, t0)


if __name__ == "__main__":
    main()
