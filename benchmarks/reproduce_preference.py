"""Reproduce Carroll et al. (ICML 2022) Table 1 and the Fig. 1-style heatmaps on the ground-truth users.

Four RecurrentPPO recommenders (64-cell LSTM, ``agents/hyperparams/ppo_lstm[_myopic].yml``), trained with
oracle NHMM beliefs as observations (``obs_mode="oracle_beliefs"``, as the paper fed its PPO):

====================  ==============================================  =====
config                env id                                          γ
====================  ==============================================  =====
myopic                recsim_envs/PreferenceShiftOracle-v0            0
rl                    recsim_envs/PreferenceShiftOracle-v0            0.99
myopic_penalised      recsim_envs/PreferenceShiftPenalized-v0 (ν=1)   0
rl_penalised          recsim_envs/PreferenceShiftPenalized-v0 (ν=1)   0.99
====================  ==============================================  =====

Each (config, seed) is trained, then evaluated on the same 1000 users (vector env seeded 10⁹); per run the score
of a metric is its 10-step cumulative value averaged over the users, using the env's choice-marginalised
(``expected_*``) metrics — the same quantity as the sampled one with less noise (both are stored). The table
reports the IQM over seeds with a 95 % stratified-bootstrap interval, next to the paper's numbers, and checks
the orderings of docs/models/preference.md. Analytic references (NHMM-belief greedy, greedy and DP optimum with the true
preference known) are evaluated on the same users.

Usage::

    python -m benchmarks.reproduce_preference --quick        # 3 seeds × 2e5 steps (timings: benchmarks/RESULTS.md)
    python -m benchmarks.reproduce_preference                # 10 seeds × 3e5 steps, see benchmarks/RESULTS.md

Rows go to ``<out>/rows.jsonl`` as each run finishes (atomic rewrite); a killed run restarts where it stopped
(finished trainings are reloaded from ``<out>/runs``, finished evaluations are not repeated). ``<out>/table.md``,
``table.csv``, ``table.json`` and ``heatmaps.png`` are rewritten at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.executor import add_executor_args, executor_options, run_missing
from benchmarks.stats import probability_of_improvement, stratified_bootstrap_ci
from benchmarks.store import SettingsStore, atomic_write_text, rows_to_csv, settings_hash, settings_row, train_settings

ORACLE = "recsim_envs/PreferenceShiftOracle-v0"
PENALIZED = "recsim_envs/PreferenceShiftPenalized-v0"
#: config name -> (env id, hyperparameter variant)
CONFIGS: dict[str, tuple[str, str]] = {
    "myopic": (ORACLE, "myopic"),
    "rl": (ORACLE, "ltv"),
    "myopic_penalised": (PENALIZED, "myopic"),
    "rl_penalised": (PENALIZED, "ltv"),
}
METRICS = ("engagement", "engagement_initial", "engagement_natural", "sum")
METRIC_LABELS = {
    "engagement": "r(u_t^π) engagement",
    "engagement_initial": "r(u_0, π)",
    "engagement_natural": "r(u_t^rnd, π)",
    "sum": "Sum",
}
#: Carroll et al. 2022, Table 1 (oracle training and evaluation, 10 steps, 1000 trajectories)
PAPER = {
    "myopic": {"engagement": 5.71, "engagement_initial": 1.99, "engagement_natural": 2.01, "sum": 9.69},
    "rl": {"engagement": 7.49, "engagement_initial": -0.08, "engagement_natural": -1.09, "sum": 6.33},
    "myopic_penalised": {"engagement": 6.20, "engagement_initial": 3.61, "engagement_natural": 3.10, "sum": 12.90},
    "rl_penalised": {"engagement": 5.28, "engagement_initial": 6.21, "engagement_natural": 4.57, "sum": 16.05},
}
EVAL_SEED = 10**9
PROTOCOL_VERSION = "table1-v1"
QUICK = {"seeds": 3, "timesteps": 200_000}
FULL = {"seeds": 10, "timesteps": 300_000}


_METRICS = ("engagement", "engagement_initial", "engagement_natural")


class _PreferenceTotals:
    """Rollout hook: per-user sums of the expected and sampled metrics and the preference histogram's rows."""

    def __init__(self, n_users: int) -> None:
        self.totals = {k: np.zeros(n_users) for k in _METRICS}
        self.sampled = {k: np.zeros(n_users) for k in _METRICS}
        self.prefs: list[np.ndarray] = []

    def __call__(self, step: Any) -> None:
        if step.t == 0:
            self.prefs.append(np.asarray(step.info["preference_bin"]))
        for k in _METRICS:
            self.totals[k] += step.step_info[f"expected_{k}"]
            self.sampled[k] += step.step_info[k]
        self.prefs.append(np.asarray(step.step_info["next_preference_bin"]))


def rollout(policy: Any, env_id: str, n_users: int, seed: int, env_kwargs: dict | None = None) -> dict[str, Any]:
    """Run ``n_users`` one-episode users (:func:`agents.rollout.rollout`, one vector env); return per-user metric
    totals and the preference histogram [H+1, 36]."""
    import gymnasium as gym

    from agents.rollout import rollout as run

    env = gym.make(env_id, **(env_kwargs or {}))
    horizon = env.unwrapped.config.horizon
    env.close()
    hook = _PreferenceTotals(n_users)
    run(policy, env_id, n_users, seed, env_kwargs=env_kwargs, hook=hook, chunk=None, max_steps=horizon)
    totals, sampled = hook.totals, hook.sampled
    hist = np.stack([np.bincount(p, minlength=36) for p in hook.prefs]) / n_users
    return {
        **{k: float(v.mean()) for k, v in totals.items()},
        "sum": float(sum(v.mean() for v in totals.values())),
        **{f"sampled_{k}": float(v.mean()) for k, v in sampled.items()},
        "histogram": hist.round(6).tolist(),
    }


def _train_config(name: str, seed: int, timesteps: int, env_kwargs: dict | None) -> Any:
    from agents.train import build_config

    env_id, variant = CONFIGS[name]
    return build_config(
        "ppo_lstm", env_id, seed=seed, variant=variant, env_kwargs=env_kwargs, overrides={"n_timesteps": timesteps}
    )


def job_settings(name: str, seed: int, timesteps: int, episodes: int, env_kwargs: dict | None = None) -> dict[str, Any]:
    """Every setting that changes a (config, seed) row: the resolved training config (its env kwargs included)
    and the evaluation users."""
    cfg = _train_config(name, seed, timesteps, env_kwargs)
    return {"protocol": PROTOCOL_VERSION, "config": name, "episodes": episodes, "eval_seed": EVAL_SEED,
            "train": train_settings(cfg)}  # fmt: skip


def _job(args: tuple) -> dict[str, Any]:
    """Train (or reload) one (config, seed) and evaluate it; runs where ``benchmarks.executor`` puts it."""
    import torch

    import recsim_envs  # noqa: F401
    from agents.train import train_or_reuse

    name, seed, timesteps, episodes, out, env_kwargs = args
    torch.set_num_threads(1)
    env_id = CONFIGS[name][0]
    settings = job_settings(name, seed, timesteps, episodes, env_kwargs)
    cfg = _train_config(name, seed, timesteps, env_kwargs)
    # one folder per training setting: a model trained with other settings is never picked up
    policy, train_seconds = train_or_reuse(cfg, Path(out) / "runs" / name / settings_hash(settings["train"]))
    start = time.perf_counter()
    res = rollout(policy, env_id, episodes, EVAL_SEED, env_kwargs)
    row = {
        "protocol": PROTOCOL_VERSION,
        "config": name,
        "seed": seed,
        "timesteps": timesteps,
        "episodes": episodes,
        "train_seconds": None if train_seconds is None else round(train_seconds, 2),
        "eval_seconds": round(time.perf_counter() - start, 2),
        **res,
    }
    return settings_row(settings, row)


def references(episodes: int, env_kwargs: dict | None = None) -> dict[str, dict[str, Any]]:
    """Analytic recommenders on the same users (no training): belief-greedy, true-u greedy, DP optimum."""
    import gymnasium as gym

    import recsim_envs  # noqa: F401
    from baselines.preference import BeliefMyopicPolicy, OptimalPolicy, TrueMyopicPolicy

    out = {}
    for env_id, suffix in ((ORACLE, ""), (PENALIZED, "_penalised")):
        cfg = gym.make(env_id, **(env_kwargs or {})).unwrapped.config
        for label, policy in (
            ("belief_greedy", BeliefMyopicPolicy(cfg)),
            ("true_u_greedy", TrueMyopicPolicy(cfg)),
            ("dp_optimum_true_u", OptimalPolicy(cfg)),
        ):
            if suffix and label != "dp_optimum_true_u":
                continue  # greedy on engagement does not depend on ν; the penalised DP optimum does
            out[label + suffix] = rollout(policy, env_id, episodes, EVAL_SEED, env_kwargs)
    return out


def natural_shift_histogram(env_kwargs: dict | None = None) -> np.ndarray:
    """Exact cohort distribution of u_t^rnd (flat slate every step), t = 0..H: the paper's 'natural shifts'."""
    import gymnasium as gym

    import recsim_envs  # noqa: F401

    cfg = gym.make(ORACLE, **(env_kwargs or {})).unwrapped.config
    return cfg.tables["prior"] @ cfg.tables["natural_powers"]  # [H+1, 36]


def summarise(rows: list[dict], reps: int = 5000) -> dict[str, dict[str, dict[str, float]]]:
    """IQM and 95 % stratified-bootstrap interval per (config, metric) over seeds."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in CONFIGS:
        runs = [r for r in rows if r["config"] == name]
        if not runs:
            continue
        table[name] = {}
        for m in METRICS:
            x = np.array([r[m] for r in runs])
            point, lo, hi = stratified_bootstrap_ci(x, "iqm", reps=reps, seed=0)
            table[name][m] = {"iqm": point, "low": lo, "high": hi, "mean": float(x.mean()), "runs": len(x)}
    return table


def orderings(rows: list[dict], table: dict) -> list[dict[str, Any]]:
    """docs/models/preference.md orderings, each with the probability of improvement (over seeds) behind it."""

    def scores(name, m):
        return np.array([r[m] for r in rows if r["config"] == name])

    checks = []

    def add(text, better, worse, metric):
        if better not in table or worse not in table:
            return
        poi, lo, hi = probability_of_improvement(scores(better, metric), scores(worse, metric), reps=2000)
        holds = table[better][metric]["iqm"] > table[worse][metric]["iqm"]
        checks.append({"check": text, "holds": bool(holds), "poi": poi, "poi_low": lo, "poi_high": hi})

    add("RL > myopic on engagement (unpenalised)", "rl", "myopic", "engagement")
    for other in ("myopic", "myopic_penalised", "rl_penalised"):
        add(f"RL lowest r(u_0, π): {other} > RL", other, "rl", "engagement_initial")
        add(f"RL lowest r(u_t^rnd, π): {other} > RL", other, "rl", "engagement_natural")
    for other in ("myopic", "rl", "myopic_penalised"):
        add(f"penalised RL highest Sum: > {other}", "rl_penalised", other, "sum")
    return checks


def render_table(table: dict, refs: dict, checks: list[dict], episodes: int) -> str:
    names = [n for n in CONFIGS if n in table]
    runs = {n: table[n]["sum"]["runs"] for n in names}
    head = "| metric | " + " | ".join(f"{n} (ours, {runs[n]} seeds) | {n} (paper)" for n in names) + " |"
    lines = [head, "|---" * (1 + 2 * len(names)) + "|"]
    for m in METRICS:
        cells = []
        for n in names:
            c = table[n][m]
            cells.append(f"{c['iqm']:.2f} [{c['low']:.2f}, {c['high']:.2f}] | {PAPER[n][m]:.2f}")
        lines.append(f"| {METRIC_LABELS[m]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "IQM over seeds [95 % stratified-bootstrap interval]; each seed's score is the mean over the same",
        f"{episodes} users of the 10-step cumulative (choice-marginalised) metric. Protocol {PROTOCOL_VERSION}.",
        "",
    ]
    lines += ["| ordering (docs/models/preference.md) | holds | P(improvement) [95 % CI] |", "|---|---|---|"]
    for c in checks:
        lines.append(
            f"| {c['check']} | {'yes' if c['holds'] else '**NO**'} | "
            f"{c['poi']:.2f} [{c['poi_low']:.2f}, {c['poi_high']:.2f}] |"
        )
    if refs:
        lines += [
            "",
            "Analytic references on the same users (no learning; the last three know the true u_t):",
            "",
            "| policy | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |",
            "|---" * 5 + "|",
        ]
        for k, v in refs.items():
            lines.append(f"| {k} | " + " | ".join(f"{v[m]:.2f}" for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def write_heatmaps(path: Path, rows: list[dict], env_kwargs: dict | None = None) -> None:
    """Fig. 1-style panels: distribution of the true preference over time, averaged over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("natural shifts (flat slate, exact)", natural_shift_histogram(env_kwargs))]
    titles = {
        "myopic": "myopic",
        "rl": "RL (γ = 0.99)",
        "rl_penalised": "penalised RL",
        "myopic_penalised": "penalised myopic",
    }
    for name in ("myopic", "rl", "rl_penalised", "myopic_penalised"):
        hs = [np.asarray(r["histogram"]) for r in rows if r["config"] == name]
        if hs:
            panels.append((titles[name], np.mean(hs, axis=0)))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), sharey=True)
    vmax = max(float(h.max()) for _, h in panels)  # one colour scale for all panels
    for ax, (title, h) in zip(np.atleast_1d(axes), panels):
        extent = (-0.5, h.shape[0] - 0.5, 0, 360)
        ax.imshow(h.T, origin="lower", aspect="auto", cmap="viridis", extent=extent, vmin=0.0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("timestep t")
    np.atleast_1d(axes)[0].set_ylabel("preference angle (deg)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK['seeds']} seeds × {QUICK['timesteps']:.0e} steps")
    p.add_argument("--seeds", type=int, default=None, help="number of training seeds per config (≥ 1)")
    p.add_argument("--timesteps", type=int, default=None, help="training steps per run")
    p.add_argument("--episodes", type=int, default=1000, help="evaluation users per run")
    add_executor_args(p, default="process")
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument(
        "--env-kwargs",
        type=json.loads,
        default={},
        help="JSON env kwargs for every config (e.g. a calibration candidate: '{\"beta_d\": 20}'); part of each "
        "row's settings, so rows of other kwargs in the same --out are never mixed in",
    )
    p.add_argument("--out", default=None, help="output folder (default results/reproduce_preference[_quick])")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: summarise the seeds already recorded for every config (e.g. while a run continues)",
    )
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    n_seeds = args.seeds if args.seeds is not None else preset["seeds"]
    steps = args.timesteps if args.timesteps is not None else preset["timesteps"]
    for name, v, lo in (
        ("seeds", n_seeds, 1),
        ("timesteps", steps, 1),
        ("episodes", args.episodes, 1),
        ("workers", args.workers, 1),
    ):
        if v < lo:
            raise ValueError(f"{name} must be an integer in [{lo}, inf), got {v!r}")
    if not isinstance(args.env_kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}")
    env_kwargs = args.env_kwargs
    out = Path(args.out or ("results/reproduce_preference" + ("_quick" if args.quick else "")))
    store = SettingsStore(out / "rows.jsonl")
    all_jobs = [(name, seed, steps, args.episodes, str(out), env_kwargs) for seed in range(n_seeds)
                for name in args.configs]  # fmt: skip

    def settings_of(job: tuple) -> dict[str, Any]:
        return job_settings(*job[:4], env_kwargs=job[5])

    start = time.perf_counter()
    if not args.report_only:
        print(f"{len(all_jobs)} runs ({len(store)} rows already in {out / 'rows.jsonl'}), executor {args.executor}")

        def show(row):
            print(f"{row['config']} s{row['seed']}: eng {row['engagement']:.2f} sum {row['sum']:.2f}", flush=True)

        run_missing(
            _job, all_jobs, settings_of, store, failures_path=out / "failures.jsonl",
            on_row=show, desc="train+eval", describe=lambda job: f"{job[0]} seed {job[1]}", **executor_options(args),
        )  # fmt: skip
    rows = store.rows_for(settings_of(job) for job in all_jobs)
    # the same seeds for every config: those recorded for all of them
    complete = set.intersection(*({r["seed"] for r in rows if r["config"] == c} for c in args.configs))
    rows = [r for r in rows if r["seed"] in complete and r["config"] in args.configs]
    n_seeds = len(complete)
    if not rows:
        raise SystemExit(f"no seed is recorded for every config in {out / 'rows.jsonl'} yet")
    refs = references(args.episodes, env_kwargs)
    table = summarise(rows)
    checks = orderings(rows, table)
    text = render_table(table, refs, checks, args.episodes)
    fit = None
    if set(CONFIGS) <= set(table):
        from benchmarks.calibrate_preference import table1_fit

        fit = table1_fit({n: {m: table[n][m]["iqm"] for m in METRICS} for n in CONFIGS}, PAPER)
        text += (
            f"\nDistance to the paper (on the IQMs): mean |diff| over the 16 cells {fit['mean_abs_diff']:.2f} "
            f"(largest {fit['max_abs_diff']:.2f}), RL − myopic engagement {fit['rl_minus_myopic']:+.2f}.\n"
        )
    if env_kwargs:
        text += f"\nEnv kwargs (every config): `{json.dumps(env_kwargs, sort_keys=True)}`.\n"
    wall = time.perf_counter() - start
    meta = {
        "protocol": PROTOCOL_VERSION,
        "seeds": n_seeds,
        "timesteps": steps,
        "episodes": args.episodes,
        "wall_seconds_this_invocation": round(wall, 1),
        "machine": f"{platform.processor() or platform.machine()}, {mp.cpu_count()} cores",
        "workers": args.workers,
        "env_kwargs": env_kwargs,
        "fit_to_paper": fit,
    }
    atomic_write_text(out / "table.md", text)
    atomic_write_text(
        out / "table.json",
        json.dumps(
            {
                "meta": meta,
                "table": table,
                "paper": PAPER,
                "orderings": checks,
                "references": {k: {m: v[m] for m in METRICS} for k, v in refs.items()},
            },
            indent=2,
        ),
    )
    flat = [{"config": n, "metric": m, **table[n][m], "paper": PAPER[n][m]} for n in table for m in METRICS]
    atomic_write_text(out / "table.csv", rows_to_csv(flat))
    write_heatmaps(out / "heatmaps.png", rows, env_kwargs)
    print(text)
    print(f"wall time {wall:.0f} s; wrote {out}/table.md, table.csv, table.json, heatmaps.png")
    return 0 if all(c["holds"] for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
