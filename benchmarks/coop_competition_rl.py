"""Learning recommenders under competition (Carvalho 2021, §8): two learners and the local heuristic.

Game: ``recsim_envs.coop.multi_agent`` at Carvalho's N = 30 sizes (k = 8, β = 0.05, 3000 steps), W1 = 1,
W2 = 0.08, 20 % of users seeded (3 per learner), the rest on the local heuristic NO_MED; recommenders exclusive.
Agents "A" and "B" are both rewarded by adoption (change of their share of users).

Learning scheme: **independent learners** (no parameter sharing), each its own GNN ranking policy trained with
MaskablePPO (``agents.gnn.GNNRankingPolicy``, hyperparameters of the ``RecommenderCompetition-v0`` GNN entry with
a smaller rollout), trained in alternation: in round r, A trains ``--steps`` decisions against B frozen at round
r − 1, then B against A frozen at round r (``recsim_envs.coop.multi_agent.AgentView``). Round 0 = untrained.

Evaluation after every round on ``--episodes`` fixed episodes (seeds 900000 + e), both learners sampling from
their policies: final shares (A, B, NO_MED), cooperator fraction and #rewires, and within-episode time courses on a
grid of elementary steps; intervals are over training seeds (mean ± t·s.e. with 3 seeds) and over episodes.

Bait-and-switch criterion (stated before looking): for a learner, the *excess aligned fraction* of a decision is
1[z is a cooperator] − (fraction of cooperators among its valid candidates) — how much more often than a uniform
recommender it links the rewiring user to a cooperator. Bait-and-switch = the excess aligned fraction after the
learner first reaches ``threshold`` share of users is lower than before, by more than 2 standard errors (decisions
pooled over episodes) in every training seed. Thresholds: 0.5 (the issue's "passes 50 % adoption") and, because a
learner at N = 30 rarely gets there, 2× its initial share (0.2).

Usage::

    python -m benchmarks.coop_competition_rl --seeds 0 1 2 --rounds 2 --steps 6144   # this study's budget
    python -m benchmarks.coop_competition_rl --quick                                  # smoke test (< 1 min)

Resumable: each (seed, round, learner) model is saved atomically under ``<out>/runs/<settings-hash>/``; evaluation
rows go to ``<out>/eval.jsonl`` keyed by all settings. Writes ``table.md``, ``learning.png``, ``time_courses.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.executor import add_executor_args, executor_options, run_tasks
from benchmarks.store import RowStore, atomic_write_text

GAME = dict(n_nodes=30, degree=8, beta=0.05, W=1.0, W2=0.08, max_steps=3000, seed_fraction=0.2)
AGENTS = ("A", "B")
EVAL_SEED = 900_000
GRID = np.arange(0, 3001, 100)


def settings_hash(d: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]


class UniformPolicy:
    """A uniform valid choice (the untrained reference), seeded."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs):
        return int(self.rng.choice(np.flatnonzero(obs["action_mask"])))


def _ranker_policy(path: Path, seed: int):
    from agents.coop_rl import load_ranker

    ranker = load_ranker(path, deterministic=False, seed=seed)
    return lambda obs: ranker.act(obs)


def opponent(run_dir: Path, agent: str, rnd: int, seed: int):
    """Agent's policy after round ``rnd`` (round 0: uniform)."""
    if rnd == 0:
        return UniformPolicy(seed)
    return _ranker_policy(run_dir / f"{agent}_r{rnd}.zip", seed)


def train_learner(run_dir: Path, me: str, rnd: int, seed: int, steps: int, frozen: dict[str, Any], game: dict):
    """Train ``me`` for round ``rnd`` (continuing its round rnd − 1 model) against ``frozen`` others."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from agents.coop_rl import _atomic_save, gnn_hyperparams, run_part_seeds
    from agents.hyperparams import resolve
    from agents.train import resolve_policy
    from recsim_envs.coop.multi_agent import AgentView

    path = run_dir / f"{me}_r{rnd}.zip"
    if path.exists():
        return
    n_envs = 8
    venv = VecMonitor(DummyVecEnv([lambda: AgentView(me, frozen, recommenders=AGENTS, **game) for _ in range(n_envs)]))
    env_seed, model_seed = run_part_seeds(seed * 10 + AGENTS.index(me), rnd)
    venv.seed(env_seed)
    prev = run_dir / f"{me}_r{rnd - 1}.zip"
    if prev.exists():
        model = MaskablePPO.load(prev, env=venv, device="cpu")
        model.set_random_seed(model_seed)
    else:
        raw = gnn_hyperparams("recsim_envs/RecommenderCompetition-v0")
        raw.update(n_steps=64, batch_size=256)
        _, kwargs = resolve(raw)
        model = MaskablePPO(resolve_policy("GNNRankingPolicy"), venv, seed=model_seed, device="cpu", **kwargs)
    from agents.train import in_memory_logger

    model.set_logger(in_memory_logger())
    model.learn(steps, reset_num_timesteps=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_save(model, path)
    venv.close()


def evaluate(policies: dict[str, Any], episodes: int, game: dict) -> dict[str, Any]:
    """Play ``episodes`` fixed episodes; per-episode finals, time courses on GRID, and per-decision records."""
    from recsim_envs.coop import kernel as K
    from recsim_envs.coop.multi_agent import raw_env

    finals, courses, decisions = [], [], []
    for ep in range(episodes):
        e = raw_env(recommenders=AGENTS, **game)
        e.reset(seed=EVAL_SEED + ep)
        b = e.batch
        reached = {a: {0.5: False, 0.2: False} for a in AGENTS}
        trace = [(0, *(b.reccount[0] / e.n), b.msize[0, 1] / e.n, 0)]
        for agent in e.agent_iter():
            obs, _, term, trunc, _ = e.last()
            if term or trunc:
                e.step(None)
                continue
            j = e._index[agent]
            share = b.reccount[0, j] / e.n
            for th_ in (0.5, 0.2):
                reached[agent][th_] |= share >= th_
            z = int(policies[agent](obs))
            mask = obs["action_mask"].astype(bool)
            strat = b.strat[0]
            decisions.append(
                dict(
                    episode=ep, agent=agent, share=float(share), after50=reached[agent][0.5],
                    after20=reached[agent][0.2], coop_choice=int(strat[z]) if mask[z] else -1,
                    cand_coop=float(strat[mask].mean()) if mask.any() else float("nan"),
                )
            )  # fmt: skip
            e.step(z)
            trace.append((int(b.cnt[0, K.C_T]), *(b.reccount[0] / e.n), b.msize[0, 1] / e.n, int(b.cnt[0, K.C_REQ])))
        tr = np.array(trace, dtype=float)
        idx = np.searchsorted(tr[:, 0], GRID, side="right") - 1
        courses.append(tr[idx, 1:])  # [grid, (NO_MED, A, B shares, coop, rewires)]
        finals.append(tr[-1, 1:])
    return {"finals": np.array(finals), "courses": np.array(courses), "decisions": decisions}


def bait_and_switch(decisions: list[dict], agent: str, key: str) -> dict[str, float]:
    """Excess aligned fraction before / after the threshold, difference and its s.e. (decisions pooled)."""
    rows = [d for d in decisions if d["agent"] == agent and d["coop_choice"] >= 0 and not math.isnan(d["cand_coop"])]
    before = np.array([d["coop_choice"] - d["cand_coop"] for d in rows if not d[key]])
    after = np.array([d["coop_choice"] - d["cand_coop"] for d in rows if d[key]])
    out = {"n_before": len(before), "n_after": len(after)}
    out["before"] = float(before.mean()) if len(before) else float("nan")
    out["after"] = float(after.mean()) if len(after) else float("nan")
    if len(before) > 1 and len(after) > 1:
        out["diff"] = out["after"] - out["before"]
        out["se"] = float(math.sqrt(before.var(ddof=1) / len(before) + after.var(ddof=1) / len(after)))
    else:
        out["diff"] = out["se"] = float("nan")
    return out


@dataclass(frozen=True)
class SeedTask:
    """One seed's whole alternating training and its per-round evaluations (picklable for the executor)."""

    seed: int
    rounds: int
    steps: int
    episodes: int
    out: str
    digest: str  # hash of the training settings (names the run folder, so models are reused across --episodes)
    eval_digest: str  # hash of every setting that changes an evaluation row (training settings + episodes)
    settings: dict
    done_rounds: tuple[int, ...]  # rounds whose evaluation row the driver already has


def run_seed(task: SeedTask) -> list[dict]:
    """Train both learners round by round (models are saved per round and reused on a rerun) and evaluate every
    round the driver lacks; returns the new evaluation rows (the driver alone writes the store)."""
    import torch as th

    th.set_num_threads(1)
    game = task.settings["game"]
    run_dir = Path(task.out) / "runs" / task.digest / f"s{task.seed}"
    rows = []
    for rnd in range(0, task.rounds + 1):
        if rnd > 0:
            for me in AGENTS:
                other = AGENTS[1 - AGENTS.index(me)]
                # A trains against B of the previous round; B against A of this round
                other_round = rnd - 1 if me == "A" else rnd
                t1 = time.perf_counter()
                frozen = {other: opponent(run_dir, other, other_round, 10_000 * task.seed + rnd)}
                train_learner(run_dir, me, rnd, task.seed, task.steps, frozen, game)
                print(f"seed {task.seed} round {rnd} {me}: {time.perf_counter() - t1:.0f} s", flush=True)
        if rnd in task.done_rounds:
            continue
        pols = {a: opponent(run_dir, a, rnd, 20_000 * task.seed + i) for i, a in enumerate(AGENTS)}
        ev = evaluate(pols, task.episodes, game)
        settings = dict(task.settings, episodes=task.episodes)
        row = dict(hash=task.eval_digest, seed=task.seed, round=rnd, settings=settings, episodes=task.episodes)
        row["finals"] = ev["finals"].tolist()
        row["courses"] = ev["courses"].mean(0).tolist()
        row["bait"] = {a: {k: bait_and_switch(ev["decisions"], a, k) for k in ("after50", "after20")}
                       for a in AGENTS}  # fmt: skip
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6144, help="decisions per learner per round")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="1 seed, 1 round of 512 steps, 4 episodes")
    ap.add_argument("--out", type=Path, default=Path("results/coop_competition_rl"))
    add_executor_args(ap, default="serial")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.rounds, args.steps, args.episodes = [0], 1, 512, 4
    game = dict(GAME)
    settings = dict(game=game, agents=AGENTS, steps=args.steps, scheme="independent-alternating")
    digest = settings_hash(settings)
    eval_digest = settings_hash(dict(settings, episodes=args.episodes))
    out = args.out / ("quick" if args.quick else "full")
    store = RowStore(out / "eval.jsonl", ["hash", "seed", "round"])
    t0 = time.perf_counter()
    tasks = []
    for seed in args.seeds:
        done = tuple(r for r in range(args.rounds + 1) if store.has(hash=eval_digest, seed=seed, round=r))
        if len(done) < args.rounds + 1:
            tasks.append(SeedTask(seed, args.rounds, args.steps, args.episodes, str(out), digest, eval_digest,
                                  settings, done))  # fmt: skip
    failed = 0
    for res in run_tasks(run_seed, tasks, **executor_options(args),
                         desc="seeds", describe=lambda t: f"seed {t.seed}"):  # fmt: skip
        if not res.ok:
            failed += 1
            continue
        for row in res.value:
            store.add(row)
    if failed:
        raise SystemExit(f"{failed} seeds failed (errors above); rerun the same command to retry them")
    report(out, eval_digest, args, time.perf_counter() - t0)


def _ci(x: np.ndarray) -> str:
    """mean [95 % t-interval over seeds]."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return f"{x.mean():.3f}"
    h = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return f"{x.mean():.3f} [{x.mean() - h:.3f}, {x.mean() + h:.3f}]"


def report(out: Path, digest: str, args, seconds: float) -> None:
    rows = [
        r for r in (json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()) if r["hash"] == digest
    ]
    rows = [r for r in rows if r["seed"] in args.seeds]
    lines = [
        "| round | share A | share B | share NO_MED | cooperator fraction | #rewires |",
        "|---|---|---|---|---|---|",
    ]
    for rnd in range(args.rounds + 1):
        rr = [r for r in rows if r["round"] == rnd]
        if not rr:
            continue
        f = np.array([np.mean(r["finals"], axis=0) for r in rr])  # [seeds, (NO_MED, A, B, coop, rewires)]
        lines.append(f"| {rnd} | {_ci(f[:, 1])} | {_ci(f[:, 2])} | {_ci(f[:, 0])} | {_ci(f[:, 3])} | {_ci(f[:, 4])} |")
    lines += ["", "| learner | round | threshold | excess aligned before | after | diff ± 2 s.e. | n before / after |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    last = [r for r in rows if r["round"] == args.rounds]
    for a in AGENTS:
        for key, label in (("after50", "50 %"), ("after20", "2× initial (0.2)")):
            for r in last:
                b = r["bait"][a][key]
                diff = "—" if math.isnan(b["diff"]) else f"{b['diff']:+.3f} ± {2 * b['se']:.3f}"
                lines.append(
                    f"| {a} (seed {r['seed']}) | {args.rounds} | {label} | {b['before']:.3f} | {b['after']:.3f} | "
                    f"{diff} | {b['n_before']} / {b['n_after']} |"
                )
    lines.append("")
    lines.append(f"{seconds:.0f} s this invocation; settings hash {digest}.")
    plot(out, rows, args)
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "table.md", text)
    print(text)


def plot(out: Path, rows: list[dict], args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    names = ("NO_MED", "A", "B", "cooperators")
    for j, name in enumerate(names):
        ms, hs = [], []
        rounds = sorted({r["round"] for r in rows})
        for rnd in rounds:
            x = np.array([np.mean(r["finals"], axis=0)[j] for r in rows if r["round"] == rnd])
            ms.append(x.mean())
            hs.append(2 * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else 0.0)
        ax.errorbar(rounds, ms, yerr=hs, fmt="o-", label=name, capsize=3)
    ax.set_xlabel("training round (0 = untrained)")
    ax.set_ylabel("final share / cooperator fraction")
    ax.set_title("adoption learners A, B vs local NO_MED (N = 30); ± 2 s.e. over seeds", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "learning.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    last = [r for r in rows if r["round"] == args.rounds]
    first = [r for r in rows if r["round"] == 0]
    for k, (group, label) in enumerate(((first, "round 0"), (last, f"round {args.rounds}"))):
        if group:
            c = np.array([r["courses"] for r in group])[:, :, 4]  # #rewires so far
            mu = c.mean(0)
            h = 2 * c.std(0, ddof=1) / math.sqrt(len(c)) if len(c) > 1 else 0 * mu
            axes[2].plot(GRID, mu, label=label, color=f"C{k}")
            axes[2].fill_between(GRID, mu - h, mu + h, alpha=0.2, color=f"C{k}")
    axes[2].set_title("#rewires (requests) so far", fontsize=8)
    axes[2].set_xlabel("elementary steps")
    axes[2].legend(fontsize=7)
    for ax, group, title in ((axes[0], first, "untrained (round 0)"), (axes[1], last, f"round {args.rounds}")):
        if not group:
            continue
        c = np.array([r["courses"] for r in group])  # [seeds, grid, 5]
        for j, name in enumerate(names):
            mu = c[:, :, j].mean(0)
            h = 2 * c[:, :, j].std(0, ddof=1) / math.sqrt(len(c)) if len(c) > 1 else 0 * mu
            ax.plot(GRID, mu, label=name)
            ax.fill_between(GRID, mu - h, mu + h, alpha=0.2)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("elementary steps")
    axes[0].set_ylabel("share / cooperator fraction")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "time_courses.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
