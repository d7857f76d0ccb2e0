"""Learned rewiring recommenders (Carvalho 2021 §4, issue 6): GNN + MaskablePPO vs every heuristic.

Stages (each resumable; results are written row by row, atomically, and skipped when already present):

1. ``train`` — MaskablePPO with the GNN ranking policy for the rewards "coops" (aligned) and "rewires"
   (engagement) at N = 10 and N = 30 (Table-4 presets, ``CooperationRewiringN{N}-v0``), seeds 0.. ``--seeds``;
   runs in ``<out>/runs/N{N}_{reward}_s{seed}/`` (learning curve + checkpoints; a killed run resumes).
2. ``eval`` — every learned policy (greedy) and every heuristic (NULL, NO_MED, GOOD, BAD, RANDOM, FAIR and the
   degree-ranked cells of the 3×3 grid) on the same replicas (seeds 10⁶ + i; ``--replicas10/30``), per size; the N = 10
   policies also run unchanged at N = 30 (weight transfer). Rows: ``<out>/eval.jsonl``.
3. ``competition`` — ``RecommenderCompetition-v0`` at the N = 30 preset's sizes, the contender (recommender 1,
   exclusive) against BAD_X (engagement heuristic) with everyone else on the NO_MED default: a GNN contender
   trained there for adoption (seeds as above), the N = 30 "coops"/"rewires" policies dropped in, and the
   heuristics GOOD_X, BAD_X, NO_MED_X, RANDOM_X in the same slot; adoption share, cooperation, rewires, and
   time courses of share and recommendations (bait-and-switch check). Rows: ``<out>/competition.jsonl``.
4. ``report`` — Markdown tables (``<out>/report.md``), ``learning_curves.png``, ``coops_vs_rewires.png``.

Usage::

    python -m benchmarks.reproduce_coop_rl --out results/coop_rl            # everything, ppo_mask.yml budgets
    python -m benchmarks.reproduce_coop_rl --out results/coop_rl --stages train --sizes 10 --rewards rewires \
        --steps10 700000                                                     # extend a finished run's budget
    python -m benchmarks.reproduce_coop_rl --out results/coop_rl --stages eval report --transfer-sizes 100
    python -m benchmarks.reproduce_coop_rl --out /tmp/x --sizes 10 --seeds 1 --steps10 4096 --replicas10 20

A run asked for more decisions than it has continues from its final model. Evaluation and competition rows are
keyed by the hash of every setting that changes them (``benchmarks.store.SettingsStore``): the preset's kwargs,
the replicas and their seeds, the contender's rule or the sha256 of its ``model.zip`` (a retrained or extended
run is evaluated again); each row keeps those settings, and the report uses only the rows of this invocation's
settings. ``--executor serial|process|ray`` (``--workers``/``--jobs``) runs training, evaluation and
competition tasks where the user wants; the driver alone writes the row files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.executor import add_executor_args, executor_options, run_missing, run_tasks
from benchmarks.stats import difference_ci, stratified_bootstrap_ci
from benchmarks.store import SettingsStore, atomic_write_text, settings_row

REWARDS = ("coops", "rewires")
#: policy labels: the reward, and "<reward>+decline" for policies that may also decline a rewire (--decline)
LABELS = (*REWARDS, *(f"{r}+decline" for r in REWARDS))
EVAL_SEED = 1_000_000
COMP_SEED = 2_000_000


def env_id(n: int) -> str:
    return f"recsim_envs/CooperationRewiringN{n}-v0"


def run_dir(out: Path, n: int, reward: str, seed: int) -> Path:
    """``reward`` is a label: "rewires" or "rewires+decline" (the latter in ``N{n}_rewires_decline_s{seed}``)."""
    return out / "runs" / f"N{n}_{reward.replace('+', '_')}_s{seed}"


def model_kwargs(n: int) -> dict[str, Any]:
    """The simulator parameters of the N preset (what the heuristics run with)."""
    import gymnasium as gym

    import recsim_envs  # noqa: F401

    kw = dict(gym.spec(env_id(n)).kwargs)
    keys = ("n_nodes", "degree", "beta", "W", "T", "S", "fermi_mode", "max_steps")
    return {k: kw[k] for k in keys if k in kw}


# -- stage 1: training ---------------------------------------------------------------------------------------
def _train_job(job: tuple) -> dict[str, Any]:
    from agents.coop_rl import gnn_hyperparams, train_ranker
    from agents.hyperparams import parse_policy_kwargs

    out, n, label, seed, steps = job
    reward, decline = label.split("+")[0], label.endswith("+decline")
    overrides = {}
    if decline:
        pk = parse_policy_kwargs(gnn_hyperparams(env_id(n)).get("policy_kwargs"))
        overrides["policy_kwargs"] = {**pk, "allow_decline": True}
    d = run_dir(Path(out), n, label, seed)
    return train_ranker(env_id(n), reward, seed, d, n_timesteps=steps, overrides=overrides)


def stage_train(
    out: Path, sizes, seeds, steps: dict[int, int | None], executor: dict, rewards=REWARDS, decline: bool = False
) -> None:
    """Train every (size, reward, seed); ``executor``: keyword arguments of ``benchmarks.executor.run_tasks``."""
    labels = [f"{r}+decline" if decline else r for r in rewards]
    todo = [(str(out), n, r, s, steps.get(n)) for n in sizes for r in labels for s in seeds]
    t0 = time.perf_counter()
    # each training run checkpoints and resumes itself (agents.coop_rl.train_ranker); a failed run is reported
    for res in run_tasks(_train_job, todo, desc="train", describe=lambda j: f"N={j[1]} {j[2]} s{j[3]}", **executor):
        if res.ok:
            r = res.value
            print(f"trained {r['env_id']} {r['reward']} s{r['seed']}: {r['n_timesteps']} steps, {r['train_seconds']} s")
    print(f"training stage: {time.perf_counter() - t0:.0f} s wall")


# -- stage 2: evaluation -------------------------------------------------------------------------------------
def _metrics_row(policy: str, kind: str, n: int, train_n: int | None, reward: str | None, seed, m) -> dict:
    row = {"policy": policy, "kind": kind, "N": n, "train_N": train_n, "reward": reward, "seed": seed}
    for key in ("cooperator_fraction", "rewires", "heterogeneity", "max_degree", "steps", "action_strategy",
                "action_degree", "decisions", "declined"):  # fmt: skip
        if key in m:
            row[key] = [float(v) for v in np.asarray(m[key], dtype=float)]
    return row


def _model_digest(run: Path) -> str:
    """sha256 (16 hex digits) of a run's ``model.zip``: a retrained or extended run is a new setting."""
    with open(run / "model.zip", "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:16]


def eval_settings(
    out: Path, sizes: list[int], seeds: list[int], replicas: dict[int, int], transfer_sizes: list[int] = ()
) -> list[dict[str, Any]]:
    """The settings of every evaluation row wanted (heuristics; learned policies whose run has a model), each with
    everything that changes the row: size, preset kwargs, replicas and their seeds, the policy and its weights."""
    from agents.coop_rl import HEURISTICS

    plan = []
    for n in [*sizes, *transfer_sizes]:
        common = {"stage": "eval", "N": n, "model_kwargs": model_kwargs(n), "replicas": replicas[n],
                  "eval_seed": EVAL_SEED}  # fmt: skip
        for rule in HEURISTICS:
            plan.append({**common, "policy": rule, "kind": "heuristic", "train_N": None, "reward": None, "seed": None})
        for train_n in sizes:
            if train_n > n:
                continue
            for reward in LABELS:
                for seed in seeds:
                    d = run_dir(out, train_n, reward, seed)
                    if (d / "model.zip").exists():
                        learned = {"policy": f"GNN[{reward}]", "kind": "learned", "train_N": train_n, "reward": reward}
                        plan.append({**common, **learned, "seed": seed, "run": d.name, "weights": _model_digest(d)})
    return plan


def _eval_job(spec: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One evaluation row (``benchmarks.executor`` task): the policy of ``settings`` on its replicas."""
    import torch as th

    from agents.coop_rl import load_ranker, rollout_learned, run_heuristics

    out, s = spec
    th.set_num_threads(1)
    t0 = time.perf_counter()
    if s["kind"] == "heuristic":
        m = run_heuristics([s["policy"]], s["replicas"], s["eval_seed"], s["model_kwargs"])[s["policy"]]
    else:
        m = rollout_learned(load_ranker(Path(out) / "runs" / s["run"]), env_id(s["N"]), s["replicas"], s["eval_seed"])
    row = _metrics_row(s["policy"], s["kind"], s["N"], s["train_N"], s["reward"], s["seed"], m)
    return settings_row(s, {**row, "seconds": round(time.perf_counter() - t0, 2)})


def stage_eval(out: Path, plan: list[dict[str, Any]], executor: dict[str, Any]) -> SettingsStore:
    """Compute the rows of ``plan`` (:func:`eval_settings`) not yet in ``<out>/eval.jsonl``; the driver writes
    them as they complete."""
    store = SettingsStore(out / "eval.jsonl")
    run_missing(
        _eval_job, [(str(out), s) for s in plan], lambda j: j[1], store, failures_path=out / "failures.jsonl",
        desc="eval", describe=lambda j: f"{j[1]['policy']} N={j[1]['N']} s{j[1]['seed']}", **executor,
    )  # fmt: skip
    return store


# -- stage 3: competition ------------------------------------------------------------------------------------
COMP_ID = "recsim_envs/RecommenderCompetition-v0"
COMP_OPPONENTS = ("BAD_X",)  # the engagement heuristic; everyone else starts on the NO_MED default
CONTENDER_RULES = ("GOOD", "BAD", "NO_MED", "RANDOM")


def competition_kwargs(n: int = 30) -> dict[str, Any]:
    """RecommenderCompetition at the N preset's sizes (k, β, steps), W = 1, W2 = 0.08, 10 % seeds."""
    mk = model_kwargs(n)
    return {**{k: mk[k] for k in ("n_nodes", "degree", "beta", "max_steps")}, "opponents": list(COMP_OPPONENTS)}


def _comp_train_job(job: tuple) -> dict[str, Any]:
    from agents.coop_rl import train_ranker

    out, seed, steps = job
    d = Path(out) / "runs" / f"comp30_adoption_s{seed}"
    return train_ranker(COMP_ID, "adoption", seed, d, n_timesteps=steps, env_kwargs=competition_kwargs())


def competition_settings(out: Path, seeds: list[int], replicas: int) -> list[dict[str, Any]]:
    """The settings of every competition row wanted: contender, its weights (or rule), the competition's kwargs,
    replicas and their seeds."""
    common = {"stage": "competition", "env_id": COMP_ID, "env_kwargs": competition_kwargs(), "replicas": replicas,
              "comp_seed": COMP_SEED}  # fmt: skip
    plan = []
    for seed in seeds:
        learned = [("GNN[adoption]", "competition N=30", out / "runs" / f"comp30_adoption_s{seed}")]
        learned += [(f"GNN[{r}]", "CooperationRewiringN30", run_dir(out, 30, r, seed)) for r in REWARDS]
        for name, trained_on, d in learned:
            if (d / "model.zip").exists():
                plan.append({**common, "policy": name, "trained_on": trained_on, "seed": seed, "run": d.name,
                             "weights": _model_digest(d)})  # fmt: skip
    for r in CONTENDER_RULES:
        plan.append({**common, "policy": f"{r}_X", "trained_on": "heuristic", "seed": None, "rule": r})
    return plan


def _competition_job(spec: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """One competition row (``benchmarks.executor`` task)."""
    import torch as th

    from agents.coop_rl import RulePolicy, load_ranker, rollout_competition

    out, s = spec
    th.set_num_threads(1)
    policy = RulePolicy(s["rule"]) if "rule" in s else load_ranker(Path(out) / "runs" / s["run"])
    t0 = time.perf_counter()
    m = rollout_competition(policy, s["env_id"], s["replicas"], s["comp_seed"], s["env_kwargs"])
    row = {"policy": s["policy"], "trained_on": s["trained_on"], "seed": s["seed"],
           "opponents": list(s["env_kwargs"]["opponents"]), **m}  # fmt: skip
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return settings_row(s, row)


def stage_competition(out: Path, seeds, replicas: int, steps: int | None, executor: dict) -> SettingsStore:
    """Train the adoption contender, then run every contender on the same competition replicas."""
    todo = [(str(out), s, steps) for s in seeds]
    trained = [res.value for res in run_tasks(_comp_train_job, todo, desc="train adoption", **executor) if res.ok]
    for r in trained:
        print(f"trained {r['env_id']} adoption s{r['seed']}: {r['n_timesteps']} decisions, {r['train_seconds']} s")
    store = SettingsStore(out / "competition.jsonl")
    plan = competition_settings(out, seeds, replicas)
    run_missing(
        _competition_job, [(str(out), s) for s in plan], lambda j: j[1], store, failures_path=out / "failures.jsonl",
        desc="competition",
        describe=lambda j: f"{j[1]['policy']} ({j[1]['trained_on']}) s{j[1]['seed']}", **executor,
    )  # fmt: skip
    return store


# -- stage 4: report -----------------------------------------------------------------------------------------
def _load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stack(groups: list[np.ndarray]) -> np.ndarray:
    """Per-seed replica arrays -> [replicas, seeds] (seeds are the bootstrap's strata)."""
    return np.stack([np.asarray(g, dtype=float) for g in groups], axis=1)


def mean_ci(groups: list[np.ndarray], reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over groups (seeds) of the group means, and its 95 % bootstrap interval resampling replicas within
    each group (benchmarks.stats.stratified_bootstrap_ci with groups as strata)."""
    return stratified_bootstrap_ci(_stack(groups), "mean", reps=reps, seed=seed)


def _fmt(t: tuple[float, float, float], digits: int = 2) -> str:
    return f"{t[0]:.{digits}f} [{t[1]:.{digits}f}, {t[2]:.{digits}f}]"


def _groups(rows: list[dict], key: str) -> list[np.ndarray]:
    return [np.asarray(r[key], dtype=float) for r in rows if key in r]


def summary_tables(rows: list[dict], sizes) -> tuple[str, dict]:
    """Markdown tables of the eval rows, and the claim checks (dict)."""
    lines: list[str] = []
    checks: dict[str, Any] = {}
    for n in sizes:
        heur = [r for r in rows if r["N"] == n and r["kind"] == "heuristic"]
        mine = [r for r in rows if r["N"] == n and r["kind"] == "learned"]
        learned = {
            (tn, rw): [r for r in mine if r["train_N"] == tn and r["reward"] == rw] for tn in sizes for rw in LABELS
        }
        if not heur:
            continue
        reps = len(heur[0]["cooperator_fraction"])
        lines += [
            f"### N = {n} ({env_id(n)}; {reps} replicas per policy and seed, replica seeds {EVAL_SEED} + i)",
            "",
            "| policy | trained at | seeds | cooperator fraction | #rewires | per-seed coop. fraction | "
            "per-seed #rewires | rec. strategy (frac. C) | rec. degree |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for (tn, rw), rs in learned.items():
            if not rs:
                continue
            c, w = mean_ci(_groups(rs, "cooperator_fraction")), mean_ci(_groups(rs, "rewires"))
            ps_c = ", ".join(f"{np.mean(r['cooperator_fraction']):.2f}" for r in rs)
            ps_w = ", ".join(f"{np.mean(r['rewires']):.0f}" for r in rs)
            st = mean_ci(_groups(rs, "action_strategy"))
            dg = mean_ci(_groups(rs, "action_degree"))
            dec = ""
            if rw.endswith("+decline") and all("declined" in r for r in rs):
                frac = np.sum([np.sum(r["declined"]) for r in rs]) / np.sum([np.sum(r["decisions"]) for r in rs])
                dec = f" (declines {100 * frac:.0f} %)"
            lines.append(
                f"| **GNN[{rw}]**{dec} | N={tn} | {len(rs)} | {_fmt(c)} | {_fmt(w, 1)} | {ps_c} | {ps_w} | "
                f"{_fmt(st)} | {_fmt(dg, 1)} |"
            )
        for r in heur:
            c, w = mean_ci(_groups([r], "cooperator_fraction")), mean_ci(_groups([r], "rewires"))
            lines.append(f"| {r['policy']} | — | — | {_fmt(c)} | {_fmt(w, 1)} | | | | |")
        lines.append("")
        # claims
        for (tn, rw), metric in [
            ((tn, rw), "cooperator_fraction" if rw.startswith("coops") else "rewires") for tn in sizes for rw in LABELS
        ]:
            rs = learned.get((tn, rw)) or []
            if not rs:
                continue
            verdicts = []
            for h in heur:
                d = difference_ci(_stack(_groups(rs, metric)), _stack(_groups([h], metric)))
                verdict = "beats" if d[1] > 0 else ("loses to" if d[2] < 0 else "ties")
                verdicts.append({"heuristic": h["policy"], "diff": d, "verdict": verdict})
            best = max(heur, key=lambda h: np.mean(h[metric]))
            checks[f"N{n}_{rw}" + ("" if tn == n else f"_trained_N{tn}")] = {
                "metric": metric,
                "beaten": [v["heuristic"] for v in verdicts if v["verdict"] == "beats"],
                "tied": [v["heuristic"] for v in verdicts if v["verdict"] == "ties"],
                "lost": [v["heuristic"] for v in verdicts if v["verdict"] == "loses to"],
                "best_heuristic": best["policy"],
                "vs_best": next(v["diff"] for v in verdicts if v["heuristic"] == best["policy"]),
            }
        for tn in sizes:
            a, b = learned.get((tn, "coops")) or [], learned.get((tn, "rewires")) or []
            if a and b:
                key = f"N{n}_coops_minus_rewires_cooperation" + ("" if tn == n else f"_trained_N{tn}")
                checks[key] = difference_ci(
                    _stack(_groups(a, "cooperator_fraction")), _stack(_groups(b, "cooperator_fraction"))
                )
    lines += ["### Claim checks (learned − heuristic, 95 % bootstrap interval over replicas; "
              "'beats' = interval above 0)", ""]  # fmt: skip
    for key, c in checks.items():
        if "cooperation" in key:
            lines.append(f"- {key}: aligned − engagement cooperator fraction = {_fmt(c)}")
        else:
            total = sum(len(c[k]) for k in ("beaten", "tied", "lost"))
            lines.append(
                f"- {key} ({c['metric']}): beats {len(c['beaten'])}/{total}"
                f" heuristics; ties {c['tied']}; loses to {c['lost']}; vs best heuristic {c['best_heuristic']}: "
                f"{_fmt(c['vs_best'], 3 if c['metric'] == 'cooperator_fraction' else 1)}"
            )
    return "\n".join(lines) + "\n", checks


def competition_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    lines = [
        "### Competition (RecommenderCompetition-v0, N = 30 sizes; contender = recommender 1 (exclusive) vs BAD_X, "
        "default NO_MED)",
        "",
        "| contender | trained on | seeds | initial share | final share | cooperator fraction | #rewires | "
        "share by time tenth | recommended C by time tenth |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        group = [x for x in rows if x["policy"] == r["policy"] and x["trained_on"] == r["trained_on"]]
        if group[0] is not r:
            continue
        share = mean_ci([np.asarray(x["agent_share"]) for x in group])
        coop = mean_ci([np.asarray(x["cooperator_fraction"]) for x in group])
        rew = mean_ci([np.asarray(x["rewires"]) for x in group])
        init = np.mean([np.mean(x["initial_share"]) for x in group])
        st = np.nanmean(np.concatenate([np.asarray(x["share_t"]) for x in group]), axis=0)
        rc = np.nanmean(np.concatenate([np.asarray(x["recommended_c_t"], dtype=float) for x in group]), axis=0)
        lines.append(
            f"| {r['policy']} | {r['trained_on']} | {len(group)} | {init:.3f} | "
            f"{_fmt(share, 3)} | {_fmt(coop)} | {_fmt(rew, 0)} | {' '.join(f'{v:.2f}' for v in st)} | "
            f"{' '.join('—' if np.isnan(v) else f'{v:.2f}' for v in rc)} |"
        )
    return "\n".join(lines) + "\n"


def plot_learning_curves(out: Path, sizes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [n for n in sizes if any((out / "runs").glob(f"N{n}_*"))]  # trained sizes only
    if not sizes:
        return
    fig, axes = plt.subplots(2, len(sizes), figsize=(5 * len(sizes), 7), squeeze=False)
    for j, n in enumerate(sizes):
        for rw, color in zip(LABELS, ("tab:blue", "tab:red", "tab:cyan", "tab:purple")):
            for d in sorted((out / "runs").glob(f"N{n}_{rw.replace('+', '_')}_s*")):
                rows = _load(d / "curve.jsonl")
                if not rows:
                    continue
                t = [r["timesteps"] for r in rows]
                for i, key in enumerate(("cooperator_fraction", "rewires")):
                    axes[i, j].plot(t, [r.get(key, np.nan) for r in rows], color=color, alpha=0.7,
                                    label=f"GNN[{rw}]" if d.name.endswith("_s0") else None)  # fmt: skip
        axes[0, j].set_title(f"N = {n}: training episodes (sampled actions)")
        axes[0, j].set_ylabel("final cooperator fraction")
        axes[1, j].set_ylabel("#rewires per episode")
        axes[1, j].set_xlabel("decisions (env steps)")
        axes[0, j].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (x, y), both maximised, sorted by x."""
    keep = [i for i, p in enumerate(points) if not np.any(np.all(points >= p, axis=1) & np.any(points > p, axis=1))]
    return np.asarray(sorted(keep, key=lambda i: points[i, 0]), dtype=int)


def plot_scatter(rows: list[dict], sizes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 5), squeeze=False)
    for j, n in enumerate(sizes):
        ax = axes[0, j]
        heur = [r for r in rows if r["N"] == n and r["kind"] == "heuristic"]
        if not heur:
            continue
        pts = np.array([[np.mean(r["rewires"]), np.mean(r["cooperator_fraction"])] for r in heur])
        ax.scatter(pts[:, 0], pts[:, 1], color="gray", zorder=3)
        for r, (x, y) in zip(heur, pts):
            ax.annotate(r["policy"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(pts)
        ax.plot(pts[front, 0], pts[front, 1], "k--", lw=1, label="heuristics' front")
        for rw, color in zip(LABELS, ("tab:blue", "tab:red", "tab:cyan", "tab:purple")):
            for tn, marker in zip(sizes, ("o", "^", "s")):
                rs = [r for r in rows if r["N"] == n and r["kind"] == "learned" and r["reward"] == rw
                      and r["train_N"] == tn]  # fmt: skip
                if not rs:
                    continue
                xy = np.array([[np.mean(r["rewires"]), np.mean(r["cooperator_fraction"])] for r in rs])
                ax.scatter(xy[:, 0], xy[:, 1], color=color, marker=marker, alpha=0.5 if tn != n else 0.9,
                           label=f"GNN[{rw}] trained N={tn} (per seed)", zorder=4)  # fmt: skip
        ax.set_xlabel("#rewires (mean over replicas)")
        ax.set_ylabel("final cooperator fraction (#coops / N)")
        ax.set_title(f"N = {n}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_competition(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    seen: list[tuple[str, str]] = []
    for r in rows:
        if (r["policy"], r["trained_on"]) not in seen:
            seen.append((r["policy"], r["trained_on"]))
    for name, trained_on in seen:
        group = [r for r in rows if r["policy"] == name and r["trained_on"] == trained_on]
        label = name if trained_on in ("heuristic", "competition N=30") else f"{name} (from {trained_on})"
        style = "--" if trained_on == "heuristic" else "-"
        for ax, key in zip(axes, ("share_t", "coop_t", "recommended_c_t")):
            v = np.nanmean(np.concatenate([np.asarray(x[key], dtype=float) for x in group]), axis=0)
            ax.plot((np.arange(len(v)) + 1) / len(v), v, style, marker="o", ms=3, label=label)
    for ax, title in zip(axes, ("contender's share of users", "cooperator fraction", "recommended nodes that are C")):
        ax.set_title(title)
        ax.set_xlabel("time / max_steps (value at the last decision seen)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path, sizes, eval_rows: list[dict], comp_rows: list[dict]) -> None:
    """``report.md``, ``checks.json`` and the plots from this invocation's rows (those whose settings match)."""
    import warnings

    warnings.filterwarnings("ignore", message="Mean of empty slice")  # time slices with no decision anywhere
    warnings.filterwarnings("ignore", message="No artists with labels")

    tables, checks = summary_tables(eval_rows, sizes)
    comp = competition_table(comp_rows)
    runs = [
        json.loads((d / "config.json").read_text())
        for d in sorted((out / "runs").glob("*"))
        if (d / "config.json").exists()
    ]
    train = "\n".join(
        f"- {r['env_id']} {r['reward']} seed {r['seed']}: {r['n_timesteps']} decisions, {r['train_seconds']} s"
        + (f" (resumed from {r['resumed_from']})" if r.get("resumed_from") else "")
        for r in runs
    )
    text = f"## Training runs\n\n{train}\n\n{tables}\n{comp}"
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "checks.json", json.dumps(checks, indent=1))
    plot_learning_curves(out, sizes, out / "learning_curves.png")
    plot_scatter(eval_rows, sizes, out / "coops_vs_rewires.png")
    plot_competition(comp_rows, out / "competition.png")
    print(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="results/coop_rl")
    p.add_argument("--stages", nargs="*", default=["train", "eval", "competition", "report"])
    p.add_argument("--sizes", nargs="*", type=int, default=[10, 30])
    p.add_argument("--seeds", type=int, default=3, help="training seeds 0..seeds-1")
    p.add_argument("--steps10", type=int, default=None, help="training decisions at N=10 (default: ppo_mask.yml)")
    p.add_argument("--steps30", type=int, default=None, help="training decisions at N=30 (default: ppo_mask.yml)")
    p.add_argument("--replicas10", type=int, default=1000, help="evaluation replicas per policy at N=10")
    p.add_argument("--replicas30", type=int, default=300, help="evaluation replicas per policy at N=30")
    p.add_argument("--transfer-sizes", nargs="*", type=int, default=[], help="evaluation-only sizes, e.g. 100")
    p.add_argument("--replicas100", type=int, default=30, help="evaluation replicas per policy at N=100")
    p.add_argument("--comp-replicas", type=int, default=300, help="competition replicas per contender")
    p.add_argument("--comp-steps", type=int, default=None, help="adoption-contender decisions (default: yml)")
    add_executor_args(p, default="process", worker_aliases=("--jobs",))
    p.add_argument("--rewards", nargs="*", default=list(REWARDS), choices=REWARDS, help="rewards to train")
    p.add_argument("--decline", action="store_true", help="train policies that may also decline a rewire")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    executor = executor_options(args)
    if "train" in args.stages:
        steps = {10: args.steps10, 30: args.steps30}
        stage_train(out, args.sizes, seeds, steps, executor, args.rewards, args.decline)
    replicas = {10: args.replicas10, 30: args.replicas30, 100: args.replicas100, 500: args.replicas100}
    if "eval" in args.stages:
        stage_eval(out, eval_settings(out, args.sizes, seeds, replicas, args.transfer_sizes), executor)
    if "competition" in args.stages:
        stage_competition(out, seeds, args.comp_replicas, args.comp_steps, executor)
    if "report" in args.stages:
        # only rows whose settings match this invocation's (rows of other settings stay in the files)
        eval_rows = SettingsStore(out / "eval.jsonl").rows_for(
            eval_settings(out, args.sizes, seeds, replicas, args.transfer_sizes)
        )
        comp_rows = SettingsStore(out / "competition.jsonl").rows_for(
            competition_settings(out, seeds, args.comp_replicas)
        )
        write_report(out, [*args.sizes, *args.transfer_sizes], eval_rows, comp_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
