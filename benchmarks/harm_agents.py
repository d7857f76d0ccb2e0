"""PPO on HarmMitigation vs the analytic baselines (uniform, top-k at u0, IFT gradient, ...) on the same users.

Chee et al. (KDD 2024) judge a recommender by its long-run average reward f = pCLK − λ·pH at the stationary
profile it induces. In the env, a policy's long-run rates are measured as the per-step averages over the second
half of each episode (steps t ≥ ``horizon // 2``: the profile has had ``horizon / 2`` attraction steps to settle),
on the same users for every method (users are drawn by the env from the evaluation seed, not by the policy).
Reported per method: the long-run average reward (click − λ·harm per step), the click rate pCLK and the harm
rate pH — sampled, and their analytic per-step versions (``info["pclk"]``, ``info["ph"]`` at the profile each
step met: same expectation, lower variance).

Learned agents: PPO (``agents/hyperparams/ppo.yml``, γ = 0.99) and the myopic PPO (γ = 0) on the id's
``Discrete(n_rec)`` action (one recommendable item per step, k = 1), ≥ 5 seeds each,
aggregated by IQM with 95 % stratified-bootstrap intervals. Baselines come from ``baselines.harm``
(``compare``: uniform, top-k(u0), alternating, IFT gradient), solved analytically per user and then run in the env
through ``StationaryPolicy`` for as many evaluation seeds; their analytic f, pCLK, pH are printed alongside.

Usage::

    python -m benchmarks.harm_agents --quick        # 3 seeds × 1e5 steps
    python -m benchmarks.harm_agents                # 5 seeds × 3e5 steps

Rows go to ``<out>/rows.jsonl`` as each (method, seed) finishes, keyed by a hash of every setting that changes
them (training config, users, evaluation seed); a killed run resumes where it stopped, and a run with other
settings never reuses them. ``--executor serial|process|ray`` chooses where the agents train
(``benchmarks.executor``; default: a local process pool of ``--workers``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.protocol import reset_policy
from benchmarks.executor import add_executor_args, executor_options, run_missing
from benchmarks.stats import probability_of_improvement, stratified_bootstrap_ci
from benchmarks.store import SettingsStore, atomic_write_text, rows_to_csv, settings_hash, settings_row, train_settings

ENV_ID = "recsim_envs/HarmMitigation-v0"
PROTOCOL_VERSION = "harm-v1"
EVAL_SEED = 10**9
METRICS = ("avg_reward", "pclk", "ph", "pclk_analytic", "ph_analytic")
QUICK = {"seeds": 3, "timesteps": 100_000, "users": 200}
FULL = {"seeds": 5, "timesteps": 300_000, "users": 1000}
AGENTS = {"ppo": "ltv", "ppo_myopic": "myopic"}


def long_run_rollout(policy, env_id: str, n_users: int, seed: int, env_kwargs: dict | None = None) -> dict:
    """Per-user late-episode averages (t ≥ horizon // 2) of reward, click, harm and the analytic pCLK, pH."""
    venv = gym.make_vec(env_id, num_envs=n_users, vectorization_mode="vector_entry_point", **(env_kwargs or {}))
    cfg = venv.unwrapped.config
    obs, info = venv.reset(seed=seed)
    reset_policy(policy, seed)
    burn = cfg.horizon // 2
    sums = {k: np.zeros(n_users) for k in ("reward", "click", "harm", "pclk", "ph")}
    for t in range(cfg.horizon):
        action = policy.act(obs, info)
        obs, reward, terminated, _, info = venv.step(np.asarray(action))
        step = info["final_info"] if t == cfg.horizon - 1 else info
        if t >= burn:
            sums["reward"] += reward
            for k in ("click", "harm", "pclk", "ph"):
                sums[k] += np.asarray(step[k], dtype=float)
    if not np.all(terminated):
        raise RuntimeError(f"{env_id}: episodes did not end after horizon={cfg.horizon} steps")
    venv.close()
    n = cfg.horizon - burn
    return {
        "avg_reward": float(sums["reward"].mean() / n),
        "pclk": float(sums["click"].mean() / n),
        "ph": float(sums["harm"].mean() / n),
        "pclk_analytic": float(sums["pclk"].mean() / n),
        "ph_analytic": float(sums["ph"].mean() / n),
        "lam": float(cfg.lam),
    }


_SOLUTIONS: dict[str, dict] = {}


def analytic_solutions(env_id: str = ENV_ID) -> dict:
    """The baselines of ``baselines.harm`` (uniform, top-k(u0), alternating, IFT), solved once per id (cached)."""
    if env_id not in _SOLUTIONS:
        from baselines.harm import HarmProblem, compare

        _SOLUTIONS[env_id] = compare(HarmProblem.from_env(gym.make(env_id)))
    return _SOLUTIONS[env_id]


def agent_settings(name: str, seed: int, timesteps: int, users: int) -> dict[str, Any]:
    """Every setting that changes an agent's row: the resolved training config (hyperparameters included)."""
    from agents.train import build_config

    cfg = build_config("ppo", ENV_ID, seed=seed, variant=AGENTS[name], overrides={"n_timesteps": timesteps})
    cfg_dict = train_settings(cfg)
    return {"protocol": PROTOCOL_VERSION, "env_id": ENV_ID, "method": name, "seed": seed, "users": users,
            "eval_seed": EVAL_SEED + seed * 100_000, "train": cfg_dict}  # fmt: skip


def baseline_settings(name: str, seed: int, users: int) -> dict[str, Any]:
    return {"protocol": PROTOCOL_VERSION, "env_id": ENV_ID, "method": name, "seed": seed, "users": users,
            "eval_seed": EVAL_SEED + seed * 100_000, "timesteps": 0}  # fmt: skip


def _agent_job(args: tuple) -> dict:
    import torch

    import recsim_envs  # noqa: F401
    from agents.train import build_config, train_or_reuse

    name, seed, timesteps, users, out = args
    torch.set_num_threads(1)
    settings = agent_settings(name, seed, timesteps, users)
    cfg = build_config("ppo", ENV_ID, seed=seed, variant=AGENTS[name], overrides={"n_timesteps": timesteps})
    # one folder per training setting: a model trained with other settings is never picked up
    policy, seconds = train_or_reuse(cfg, Path(out) / "runs" / settings_hash(settings["train"]))
    row = {
        "protocol": PROTOCOL_VERSION, "method": name, "seed": seed, "timesteps": timesteps, "users": users,
        "train_seconds": None if seconds is None else round(seconds, 1),
        **long_run_rollout(policy, ENV_ID, users, settings["eval_seed"]),
    }  # fmt: skip
    return settings_row(settings, row)


def summarise(rows: list[dict], reference: str | None) -> list[dict]:
    out = []
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        entry: dict[str, Any] = {"method": m, "seeds": len(rs)}
        for k in METRICS:
            x = np.array([r[k] for r in rs])
            point, lo, hi = stratified_bootstrap_ci(x, "iqm", reps=2000, seed=0)
            entry.update({k: point, f"{k}_low": lo, f"{k}_high": hi})
        if reference and m != reference and any(r["method"] == reference for r in rows):
            y = np.array([r["avg_reward"] for r in rows if r["method"] == reference])
            poi, lo, hi = probability_of_improvement(np.array([r["avg_reward"] for r in rs]), y, reps=2000)
            entry.update({"poi": poi, "poi_low": lo, "poi_high": hi, "reference": reference})
        out.append(entry)
    out.sort(key=lambda e: -e["avg_reward"])
    return out


def render(entries: list[dict], meta: dict) -> str:
    ref = next((e["reference"] for e in entries if "reference" in e), None)
    lines = [
        f"HarmMitigation-v0 (λ = {meta['lam']:g}), long-run averages over steps t ≥ horizon/2, {meta['users']} "
        "users per seed; IQM over seeds [95 % stratified-bootstrap CI]",
        "",
        f"| method | seeds | avg reward (click − λ·harm) | pCLK | pH | pCLK analytic | pH analytic | P(> {ref}) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        cells = [f"{e[k]:.4f} [{e[k + '_low']:.4f}, {e[k + '_high']:.4f}]" for k in METRICS]
        poi = f"{e['poi']:.2f} [{e['poi_low']:.2f}, {e['poi_high']:.2f}]" if "poi" in e else "—"
        lines.append(f"| {e['method']} | {e['seeds']} | " + " | ".join(cells) + f" | {poi} |")
    if meta.get("analytic"):
        lines += [
            "",
            "Analytic values at each baseline's stationary profile (baselines.harm; mean over the catalogue's users):",
            "",
            "| method | f = pCLK − λ·pH | pCLK | pH |",
            "|---|---|---|---|",
        ]
        for name, a in meta["analytic"].items():
            lines.append(f"| {name} | {a['f_mean']:.4f} | {a['pclk_mean']:.4f} | {a['ph_mean']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--timesteps", type=int, default=None)
    p.add_argument("--users", type=int, default=None, help="evaluation users per seed")
    add_executor_args(p, default="process")
    p.add_argument("--reference", default="top-k(u0)", help="method for the probability of improvement")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import recsim_envs  # noqa: F401

    preset = QUICK if args.quick else FULL
    n_seeds = args.seeds if args.seeds is not None else preset["seeds"]
    steps = args.timesteps if args.timesteps is not None else preset["timesteps"]
    users = args.users if args.users is not None else preset["users"]
    executor_options(args)  # validates --workers
    for name, v in (("seeds", n_seeds), ("timesteps", steps), ("users", users)):
        if v < 1:
            raise ValueError(f"{name} must be an integer in [1, inf), got {v!r}")
    out = Path(args.out or ("results/harm_agents" + ("_quick" if args.quick else "")))
    store = SettingsStore(out / "rows.jsonl")
    start = time.perf_counter()

    from baselines.harm import StationaryPolicy, summary

    env = gym.make(ENV_ID)
    solutions = analytic_solutions(ENV_ID)
    analytic = {name: summary(sol) for name, sol in solutions.items()}
    wanted = []
    for name, sol in solutions.items():
        for seed in range(n_seeds):
            settings = baseline_settings(name, seed, users)
            wanted.append(settings)
            if store.has_settings(settings):
                continue
            policy = StationaryPolicy(sol, env, seed=seed)  # fresh generator per seed; accepts batches
            row = long_run_rollout(policy, ENV_ID, users, settings["eval_seed"])
            store.add(settings_row(settings, {"protocol": PROTOCOL_VERSION, "method": name, "seed": seed,
                                              "timesteps": 0, "users": users, **row}))  # fmt: skip
            print(f"{name} s{seed}: {row['avg_reward']:.4f}", flush=True)

    jobs = [(name, seed, steps, users, str(out)) for seed in range(n_seeds) for name in AGENTS]
    wanted += [agent_settings(*job[:4]) for job in jobs]

    def report_row(row):
        print(f"{row['method']} s{row['seed']}: {row['avg_reward']:.4f} ({row['train_seconds']} s)", flush=True)

    run_missing(
        _agent_job, jobs, lambda job: agent_settings(*job[:4]), store, failures_path=out / "failures.jsonl",
        on_row=report_row, desc="harm agents", describe=lambda job: f"{job[0]} seed {job[1]}",
        **executor_options(args),
    )  # fmt: skip
    rows = store.rows_for(wanted)
    entries = summarise(rows, args.reference)
    meta = {
        "protocol": PROTOCOL_VERSION, "seeds": n_seeds, "timesteps": steps, "users": users,
        "lam": rows[0]["lam"] if rows else float("nan"), "analytic": analytic,
        "wall_seconds_this_invocation": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    text = render(entries, meta)
    atomic_write_text(out / "table.md", text)
    atomic_write_text(out / "table.csv", rows_to_csv(entries))
    atomic_write_text(out / "table.json", json.dumps({"meta": meta, "entries": entries}, indent=2))
    print(text)
    print(f"wall time {meta['wall_seconds_this_invocation']} s; wrote {out}/table.md, table.csv, table.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
