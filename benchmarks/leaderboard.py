"""Leaderboard: rank any policy on fixed, versioned protocols for every registered recsim_envs id.

Usage (console script ``recsim-leaderboard`` is the same)::

    python -m benchmarks.leaderboard --quick                      # every id, every baseline, quick PPO agents
    python -m benchmarks.leaderboard --envs recsim_envs/PreferenceShiftOracle-v0 \
        --policy mine=examples.custom_agent_leaderboard:make_policy
    python -m benchmarks.leaderboard --agent rppo='results/reproduce_preference/runs/rl/ppo_lstm/*'

A *protocol* fixes, per env id, the evaluation seeds (≥ 5), the users per seed, the score that ranks policies
and the metrics reported; it has a version string that is stored in every row, so rows from another protocol
are never mixed in. Policies come from three sources:

- every baseline of the env's family (the registry ``baselines.FAMILY_BASELINES``) plus a seeded uniform-random
  policy for every id;
- ``--policy NAME=package.module:Factory``: ``Factory(env)`` gets a single env (``gymnasium.make(id)``) and
  returns an object with ``act(obs, info)`` (and optionally ``reset(seed)``, ``batched = True``);
- ``--agent NAME=PATH``: saved SB3 agents (run folders written by ``agents.train``; a glob of several runs
  counts one run per seed), evaluated on the id they were trained on;
- ``--train-quick``: PPO trained inline for ``QUICK_AGENT_STEPS`` steps per seed (cheap ids only).

Per (id, policy, seed) a row is written to ``<out>/rows.jsonl`` as soon as it is computed (atomic rewrite); a
killed run restarts, skips recorded rows and adds no duplicates. Aggregates over seeds (mean, IQM with a 95 %
stratified-bootstrap interval, probability of improvement over ``--reference``) go to ``leaderboard.md``,
``leaderboard.csv`` and ``leaderboard.json``.
"""

from __future__ import annotations

import argparse
import functools
import glob
import importlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate
from benchmarks.executor import add_executor_args, executor_options, run_missing
from benchmarks.stats import probability_of_improvement, stratified_bootstrap_ci
from benchmarks.store import SettingsStore, atomic_write_text, rows_to_csv, settings_row

#: PPO steps per seed for the inline quick-trained agents (≈ 2 s each on one core)
QUICK_AGENT_STEPS = 20_000
#: --train-quick skips ids whose flattened observation is larger than this (see :func:`quick_agents`)
QUICK_AGENT_MAX_OBS = 4096
#: --train-quick trains only on these families: on the cooperation ids a 20k-step PPO scored below the uniformly
#: random policy on every id (P(> random) = 0.00 on CooperationRewiring-v0, -N10-v0 and -N30-v0, 5 seeds each:
#: benchmarks/RESULTS.md) while its training took most of the quick job's CPU; they need MaskablePPO with the GNN
#: ranking policy (``benchmarks.reproduce_coop_rl``)
QUICK_AGENT_FAMILIES = ("preference", "harm")
BOOTSTRAP_REPS = 2000


@dataclass(frozen=True)
class Protocol:
    """How an env id is scored. Change anything here -> bump ``version``."""

    version: str
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # evaluation seeds; seed s runs users base_seed + s·stride + i
    episodes: int = 1000  # users (episodes) per seed, full run
    quick_episodes: int = 200  # users per seed with --quick
    score: str = "return"  # metric that ranks policies (episode total)
    higher_is_better: bool = True
    base_seed: int = 2_000_000_000  # user seeds disjoint from training (agents.train) and reproduction seeds
    stride: int = 100_000
    env_kwargs: dict = field(default_factory=dict)  # always empty: ids are scored as registered

    def user_seed(self, seed: int) -> int:
        return self.base_seed + seed * self.stride


_PREF_NOTE = "return = Σ_t r_t of the registered reward"
#: explicit protocols; any other registered id gets DEFAULT_PROTOCOL
PROTOCOLS: dict[str, Protocol] = {
    "recsim_envs/PreferenceShift-v0": Protocol("pref-v1"),
    "recsim_envs/PreferenceShiftOracle-v0": Protocol("pref-v1"),
    "recsim_envs/PreferenceShiftPenalized-v0": Protocol("pref-v1"),
    # vector reward: rank by the engagement objective, report all three
    "recsim_envs/PreferenceShiftMO-v0": Protocol("pref-v1", score="engagement"),
}
# long episodes (thousands of agent decisions): fewer users per seed
_LONG = {"episodes": 30, "quick_episodes": 3}
PROTOCOLS.update(
    {
        "recsim_envs/CooperationRewiringN100-v0": Protocol("coop-v1", **_LONG),
        "recsim_envs/CooperationRewiringN500-v0": Protocol("coop-v1", episodes=30, quick_episodes=1),
    }
)
# competition: short, noisy episodes (adoption share); more users so real differences separate from noise
PROTOCOLS.update(
    {
        "recsim_envs/RecommenderCompetition-v0": Protocol("competition-v1", episodes=400, quick_episodes=30),
        "recsim_envs/RecommenderCompetitionMO-v0": Protocol(
            "competition-v1", episodes=400, quick_episodes=30, score="return_0"
        ),
    }
)
# HarmMitigation: 100-step episodes, one user each; score = Σ_t (click − λ·harm)
PROTOCOLS.update(
    {
        "recsim_envs/HarmMitigation-v0": Protocol("harm-v1", episodes=500, quick_episodes=100),
        "recsim_envs/HarmMitigationSampling-v0": Protocol("harm-v1", episodes=500, quick_episodes=100),
        # vector reward (click, −harm): ranked by clicks, harm reported beside
        "recsim_envs/HarmMitigationMO-v0": Protocol("harm-v1", episodes=500, quick_episodes=100, score="click"),
    }
)
#: ``--quick`` scores each simulator once: each id here is the same simulator with the same ranking score as the id
#: it names (tests/test_leaderboard.py checks equal scores episode by episode), so the quick run lists it under that
#: id's table instead of scoring it again; the full protocol scores every id
QUICK_SAME_AS: dict[str, str] = {
    "recsim_envs/CooperationRewiringN30-v0": "recsim_envs/CooperationRewiring-v0",
    "recsim_envs/CooperationRewiringMO-v0": "recsim_envs/CooperationRewiring-v0",
    "recsim_envs/RecommenderCompetitionMO-v0": "recsim_envs/RecommenderCompetition-v0",
}
#: any id without an explicit protocol; vector-reward ids are ranked by their first objective
DEFAULT_PROTOCOL = Protocol("default-v1", episodes=100, quick_episodes=10)
DEFAULT_PROTOCOL_MO = Protocol("default-v1", episodes=100, quick_episodes=10, score="return_0")


@functools.cache
def protocol_for(env_id: str) -> Protocol:
    if env_id in PROTOCOLS:
        return PROTOCOLS[env_id]
    # declared in the id's registry entry (every multi-objective id registers multi_objective=True)
    vector_reward = gym.spec(env_id).kwargs.get("multi_objective", False) is True
    return DEFAULT_PROTOCOL_MO if vector_reward else DEFAULT_PROTOCOL


# -- policies -----------------------------------------------------------------------------------------------
class RandomPolicy:
    """Uniformly random valid action; seeded by ``reset``.

    Valid = allowed by ``obs["action_mask"]`` (or ``info["action_mask"]``) when the env provides one and it is not
    empty; otherwise any action of the space.
    """

    def __init__(self, env, seed: int = 0):
        self.env = env
        self.space = env.action_space
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs, info):
        mask = obs.get("action_mask") if isinstance(obs, dict) else None
        if mask is None:
            mask = info.get("action_mask")
        if mask is not None and np.asarray(mask).any():
            return int(self.rng.choice(np.flatnonzero(np.asarray(mask, dtype=bool))))
        self.space.seed(int(self.rng.integers(2**31)))
        return self.space.sample()


@functools.cache
def family_baselines(env_id: str) -> dict[str, Callable[[], Any]]:
    """Factories of the baselines that apply to ``env_id``: a seeded uniform-random policy for every id, plus the
    baselines of the id's family from the one registry ``baselines.FAMILY_BASELINES`` (a family ``random``
    replaces the generic one). Each call of a factory returns a fresh policy; ``batched = True`` policies are run
    on the native vector env."""
    from baselines import family_baselines as registered

    out: dict[str, Callable[[], Any]] = {"random": lambda: RandomPolicy(gym.make(env_id, disable_env_checker=True))}
    out.update(registered(env_id))
    return out


def load_factory(spec: str) -> Callable:
    """``package.module:Factory`` -> the callable; ``ValueError`` naming the spec on failure."""
    if ":" not in spec:
        raise ValueError(f"policy must look like package.module:Factory, got {spec!r}")
    module, attr = spec.split(":", 1)
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"policy {spec!r} cannot be imported: {exc}") from exc


def _named(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise ValueError(f"{what} entries must look like NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out.append((name, value))
    return out


# -- tasks ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One (id, policy, seed) evaluation, as a small picklable spec (``benchmarks.executor`` ships it to workers).

    ``source`` says how the worker builds the policy: ``("baseline", name)`` (``family_baselines``),
    ``("factory", "package.module:Factory")``, ``("quick_ppo", out_folder)`` (trained inline, see
    ``quick_agents``) or ``("agent", run_folder)`` (a saved ``agents.train`` run).
    """

    env_id: str
    policy: str
    seed: int
    source: tuple[str, str]


def make_policy(task: Task):
    """A fresh policy for ``task`` (runs in the worker)."""
    kind, arg = task.source
    if kind == "baseline":
        return family_baselines(task.env_id)[arg]()
    if kind == "factory":
        return load_factory(arg)(gym.make(task.env_id))
    if kind == "agent":
        from agents.train import load_agent

        return load_agent(arg)[0]
    if kind == "quick_ppo":
        from agents.train import build_config, load_agent, train

        out = Path(arg)
        cfg = build_config("ppo", task.env_id, seed=task.seed, overrides={"n_timesteps": QUICK_AGENT_STEPS})
        run = out / "agents" / "ppo" / f"{task.env_id.split('/')[-1]}_ltv_s{task.seed}"
        if not ((run / "model.zip").exists() and "done" in (run / "config.yml").read_text()):
            train(cfg, log_folder=out / "agents", tensorboard=False)
        return load_agent(run)[0]
    raise ValueError(f"task source kind must be baseline, factory, agent or quick_ppo, got {kind!r}")


def quick_agents(env_id: str, out: Path, seeds: tuple[int, ...]) -> list[Task]:
    """PPO trained inline (``QUICK_AGENT_STEPS`` per seed) on cheap scalar-reward ids with a PPO config, in the
    families ``QUICK_AGENT_FAMILIES``: ids whose flattened observation has more than ``QUICK_AGENT_MAX_OBS`` entries
    and the cooperation family are skipped — a quick budget does not teach PPO anything there (it scored below
    random) and would take most of the main job's time; train those with ``agents.train`` or
    ``reproduce_coop_rl``."""
    from agents.hyperparams import load_hyperparams
    from baselines import family_of

    if family_of(env_id) not in QUICK_AGENT_FAMILIES:
        return []
    try:
        load_hyperparams("ppo", env_id)
    except ValueError:
        return []
    env = gym.make(env_id)
    if getattr(env.unwrapped, "reward_dim", 1) != 1:
        return []
    if gym.spaces.flatdim(env.observation_space) > QUICK_AGENT_MAX_OBS:
        return []
    name = f"ppo_quick_{QUICK_AGENT_STEPS // 1000}k"
    return [Task(env_id, name, s, ("quick_ppo", str(out))) for s in seeds]


def agent_tasks(name: str, pattern: str, env_ids: list[str]) -> list[Task]:
    from agents.train import load_config

    runs = sorted(p for p in glob.glob(pattern) if (Path(p) / "model.zip").exists())
    if not runs:
        raise ValueError(f"agent {name}={pattern!r} matches no run folder with a model.zip")
    tasks = []
    for j, run in enumerate(runs):
        env_id = load_config(run).env_id
        if env_id not in env_ids:
            continue
        seeds = protocol_for(env_id).seeds
        # several runs: run j is scored on protocol seed j; one run: on every protocol seed
        for s in seeds if len(runs) == 1 else seeds[j : j + 1]:
            tasks.append(Task(env_id, name, s, ("agent", str(run))))
    return tasks


def task_settings(task: Task, quick: bool) -> dict[str, Any]:
    """Everything that changes ``task``'s row: the whole protocol, the users, the policy and where it comes from."""
    proto = protocol_for(task.env_id)
    return {
        "protocol": asdict(proto),
        "env_id": task.env_id,
        "policy": task.policy,
        "source": list(task.source),
        "seed": task.seed,
        "episodes": _episodes(task.env_id, quick),
    }


def _episodes(env_id: str, quick: bool) -> int:
    """Users (episodes) per seed of ``env_id``'s protocol, full or ``--quick``."""
    proto = protocol_for(env_id)
    return proto.quick_episodes if quick else proto.episodes


def run_task(task: Task, quick: bool) -> dict[str, Any]:
    proto = protocol_for(task.env_id)
    episodes = _episodes(task.env_id, quick)
    policy = make_policy(task)
    start = time.perf_counter()
    res = evaluate(policy, task.env_id, episodes, seed=proto.user_seed(task.seed))
    row = {
        "protocol": proto.version,
        "env_id": task.env_id,
        "policy": task.policy,
        "seed": task.seed,
        "episodes": episodes,
        "seconds": round(time.perf_counter() - start, 3),
    }
    row.update({k: float(np.mean(v)) for k, v in res.items()})
    return settings_row(task_settings(task, quick), row)


def _run_spec(spec: tuple[Task, bool]) -> dict[str, Any]:
    """Executor entry point (module level, so it pickles by name): ``run_task(task, quick)``."""
    return run_task(*spec)


# -- aggregation --------------------------------------------------------------------------------------------
def aggregate(rows: list[dict], reference: str | None) -> list[dict]:
    """One entry per (env id, policy): seeds, mean, IQM [95 % CI] of the score, P(improvement) over reference."""
    out = []
    for env_id in dict.fromkeys(r["env_id"] for r in rows):
        proto = protocol_for(env_id)
        env_rows = [r for r in rows if r["env_id"] == env_id and r["protocol"] == proto.version]
        by_policy: dict[str, list[dict]] = {}
        for r in env_rows:
            by_policy.setdefault(r["policy"], []).append(r)
        sign = 1.0 if proto.higher_is_better else -1.0
        ref = by_policy.get(reference) if reference else None
        for name, rs in by_policy.items():
            x = np.array([r[proto.score] for r in rs])
            point, lo, hi = stratified_bootstrap_ci(x, "iqm", reps=BOOTSTRAP_REPS, seed=0)
            entry = {
                "env_id": env_id,
                "protocol": proto.version,
                "policy": name,
                "score": proto.score,
                "seeds": len(rs),
                "episodes": rs[0]["episodes"],
                "mean": float(x.mean()),
                "iqm": point,
                "iqm_low": lo,
                "iqm_high": hi,
                "_per_seed": tuple(round(float(v), 9) for v in x[np.argsort([r["seed"] for r in rs])]),
            }
            for m in sorted(k for k in rs[0] if k not in entry and k not in ("seed", "seconds", "policy", "env_id")):
                if isinstance(rs[0][m], float):
                    entry[f"mean_{m}"] = float(np.mean([r[m] for r in rs]))
            if ref is not None and name != reference:
                y = np.array([r[proto.score] for r in ref])
                poi, plo, phi = probability_of_improvement(sign * x, sign * y, reps=BOOTSTRAP_REPS, seed=0)
                entry.update({"poi_vs_reference": poi, "poi_low": plo, "poi_high": phi, "reference": reference})
            out.append(entry)
    out.sort(key=lambda e: (e["env_id"], -e["iqm"] if protocol_for(e["env_id"]).higher_is_better else e["iqm"]))
    return out


#: what each score means (unit, per episode); "return_j" is objective j of a vector reward
SCORE_MEANING = {
    "return": "episode total of the id's registered scalar reward",
    "return_0": "episode total of the first objective of the vector reward",
    "engagement": "episode total of engagement uᵀx (cosine of user preference and chosen item, each step in [−1, 1])",
    "click": "clicks per episode (one recommendation per step)",
}
#: what each family's return is made of (unit and sign), by id prefix
FAMILY_UNITS = {
    "recsim_envs/PreferenceShift": "return = Σ_t [engagement + ν_initial·(engagement under the initial preference u₀) "
    "+ ν_natural·(engagement under the naturally shifted preference)], 10 steps; each term a cosine in [−1, 1]",
    "recsim_envs/HarmMitigation": "return = Σ_t (click − λ·harmful click), λ = 100, over the episode's steps",
    "recsim_envs/CooperationRewiring": "return = 2·(cooperator fraction − ½) at the episode's end, in [−1, 1]",
    "recsim_envs/RecommenderCompetition": "return = the agent recommender's adoption share gained over the episode "
    "(fraction of the nodes)",
}


def _units(env_id: str) -> str:
    return next((v + "." for k, v in FAMILY_UNITS.items() if env_id.startswith(k)), "")


LEGEND = """## How to read these tables

- **Score**: per-episode total named in each heading (unit below the heading); **higher is better** everywhere.
- **IQM [95 % CI]**: interquartile mean over the evaluation seeds of each seed's mean score (robust to one
  outlying seed), with a 95 % stratified-bootstrap confidence interval; **mean**: plain mean over seeds.
- **rank**: by IQM. `=k` marks a tie: its interval overlaps that of the policy ranked just above, so the two
  are not separated at this sample size.
- **P(> ref) [95 % CI]**: probability that a random seed of this policy scores higher than a random seed of
  the reference policy (0.5 = no difference; intervals covering 0.5 = not separated).
- **random**: uniformly random valid action, seeded (on the cooperation ids this is Carvalho's RANDOM rule).
  Analytic baselines come from `baselines/<family>.py`; `ppo_quick_*` agents are trained inline (see each table).
- Ids whose scores equal those of an earlier table (the same preset registered twice) are listed, not repeated.
- Machine-readable: `leaderboard.csv` (long format: one row per id × policy × metric) and `leaderboard.json`.
"""


def _table_signature(es: list[dict]) -> tuple:
    return tuple(sorted((e["policy"], round(e["iqm"], 9), round(e["mean"], 9)) for e in es))


def render_markdown(entries: list[dict], reference: str | None) -> str:
    lines = [LEGEND]
    seen: dict[tuple, str] = {}
    for env_id in dict.fromkeys(e["env_id"] for e in entries):
        es = [e for e in entries if e["env_id"] == env_id]
        proto = protocol_for(env_id)
        sig = _table_signature(es)
        if sig in seen:
            note = f"Identical scores to {seen[sig]} (same simulator and score): see that table."
            lines += [f"### {env_id}", "", note, ""]
            continue
        seen[sig] = env_id
        n_ep = es[0]["episodes"]
        lines += [
            f"### {env_id} (protocol {proto.version}: {es[0]['seeds']} seeds × {n_ep} "
            f"episode{'s' if n_ep != 1 else ''} per seed)",
            "",
            f"Score = `{proto.score}`: {SCORE_MEANING.get(proto.score, proto.score)}; "
            f"{'higher' if proto.higher_is_better else 'lower'} is better. " + _units(env_id),
            "",
            f"| rank | policy | IQM [95 % CI] | mean | P(> {reference or '—'}) [95 % CI] |",
            "|---|---|---|---|---|",
        ]
        rank, prev = 0, None
        for i, e in enumerate(es, 1):
            tied = prev is not None and e["iqm_high"] >= prev["iqm_low"] and e["iqm_low"] <= prev["iqm_high"]
            rank = rank if tied else i
            poi = (
                f"{e['poi_vs_reference']:.2f} [{e['poi_low']:.2f}, {e['poi_high']:.2f}]"
                if "poi_vs_reference" in e
                else "—"
            )
            lines.append(
                f"| {'=' if tied else ''}{rank} | {e['policy']} | {e['iqm']:.3f} [{e['iqm_low']:.3f}, "
                f"{e['iqm_high']:.3f}] | {e['mean']:.3f} | {poi} |"
            )
            prev = e
        same = _identical_policies(es)
        if same:
            lines += ["", "Identical scores on every seed (the policies act alike on this id): " + "; ".join(same)]
        trained = [e["policy"] for e in es if e["policy"].startswith("ppo_quick_")]
        lines += [
            "",
            "Trained inline for this table: "
            + (
                ", ".join(
                    f"{p} (PPO, {QUICK_AGENT_STEPS:,} steps per seed, agents/hyperparams/ppo.yml)" for p in trained
                )
                if trained
                else "none (fixed baselines and the policies/agents passed on the command line only)"
            )
            + ".",
            "",
        ]
    return "\n".join(lines)


def _identical_policies(es: list[dict]) -> list[str]:
    groups: dict[tuple, list[str]] = {}
    for e in es:
        groups.setdefault(tuple(e.get("_per_seed", ())), []).append(e["policy"])
    return [" ≡ ".join(g) for k, g in groups.items() if k and len(g) > 1]


def long_rows(entries: list[dict]) -> list[dict]:
    """The long-format CSV: one row per (id, policy, metric, statistic)."""
    out = []
    for e in entries:
        base = {
            "env_id": e["env_id"],
            "protocol": e["protocol"],
            "policy": e["policy"],
            "seeds": e["seeds"],
            "episodes_per_seed": e["episodes"],
        }
        score = {"metric": e["score"], "higher_is_better": protocol_for(e["env_id"]).higher_is_better}
        out.append(
            {**base, **score, "statistic": "iqm", "value": e["iqm"], "ci_low": e["iqm_low"], "ci_high": e["iqm_high"]}
        )
        out.append({**base, **score, "statistic": "mean", "value": e["mean"], "ci_low": "", "ci_high": ""})
        if "poi_vs_reference" in e:
            out.append(
                {**base, **score, "statistic": f"P(> {e['reference']})", "value": e["poi_vs_reference"],
                 "ci_low": e["poi_low"], "ci_high": e["poi_high"]}
            )  # fmt: skip
        for k, v in e.items():
            if k.startswith("mean_") and k[5:] != e["score"]:
                out.append({**base, "metric": k[5:], "higher_is_better": "", "statistic": "mean", "value": v,
                            "ci_low": "", "ci_high": ""})  # fmt: skip
    return out


def write_outputs(out: Path, rows: list[dict], reference: str | None, meta: dict) -> list[dict]:
    entries = aggregate(rows, reference)
    text = render_markdown(entries, reference)
    if meta.get("same_as"):
        text += (
            "\nScored once in this quick run (the same simulator and score as the id named; the full protocol "
            "scores each):\n\n"
        )
        text += "".join(f"- {k}: see {v}\n" for k, v in meta["same_as"].items())
    if meta.get("skipped_ids"):
        text += "\nNot scored (cannot be built on embedded defaults):\n\n"
        text += "".join(f"- {k}: {v}\n" for k, v in meta["skipped_ids"].items())
    atomic_write_text(out / "leaderboard.md", text)
    atomic_write_text(out / "leaderboard.csv", rows_to_csv(long_rows(entries)))
    entries = [{k: v for k, v in e.items() if k != "_per_seed"} for e in entries]
    payload = {"meta": meta, "protocols": {k: asdict(protocol_for(k)) for k in {e["env_id"] for e in entries}}}
    payload["entries"] = entries
    atomic_write_text(out / "leaderboard.json", json.dumps(payload, indent=2))
    return entries


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="recsim-leaderboard", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the protocol's quick_episodes per seed")
    p.add_argument("--envs", nargs="*", default=None, help="ids to score (default: every registered id)")
    p.add_argument("--policy", nargs="*", default=[], help="NAME=package.module:Factory (Factory(env) -> policy)")
    p.add_argument("--agent", nargs="*", default=[], help="NAME=PATH or glob of agents.train run folders")
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--policies", nargs="*", default=None, help="score only the policies with these names")
    p.add_argument("--train-quick", action="store_true", help=f"add PPO trained {QUICK_AGENT_STEPS} steps per seed")
    p.add_argument("--reference", default="random", help="policy for the probability of improvement")
    p.add_argument("--out", default=None, help="output folder (default results/leaderboard[_quick])")
    p.add_argument("--no-progress-bar", action="store_true")
    add_executor_args(p, default="serial")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from agents.train import cwd_importable

    cwd_importable()  # --policy mymodule:make finds ./mymodule.py, as with python -m benchmarks.leaderboard
    import torch

    torch.set_num_threads(1)
    # gymnasium's passive checker notes the vector reward of the MO ids on every single-env step
    warnings.filterwarnings("ignore", message=".*reward returned by `step\\(\\)` must be a float")
    all_ids = recsim_envs.env_ids()
    env_ids = args.envs if args.envs else all_ids
    unknown = [e for e in env_ids if e not in all_ids]
    if unknown:
        raise ValueError(f"envs {unknown} are not registered; registered: {all_ids}")
    out = Path(args.out or ("results/leaderboard" + ("_quick" if args.quick else "")))
    tasks: list[Task] = []
    skipped: dict[str, str] = {}
    same_as = {e: QUICK_SAME_AS[e] for e in env_ids if args.quick and QUICK_SAME_AS.get(e) in env_ids}
    for env_id in env_ids:
        if env_id in same_as:
            continue
        try:  # an id that cannot be built on embedded defaults (e.g. needs a data file) is reported, not scored
            gym.make(env_id, disable_env_checker=True).close()
        except (ValueError, OSError) as exc:
            skipped[env_id] = f"{type(exc).__name__}: {exc}"
            print(f"skipping {env_id}: {skipped[env_id]}", file=sys.stderr)
            continue
        seeds = protocol_for(env_id).seeds
        if not args.no_baselines:
            for name in family_baselines(env_id):
                tasks += [Task(env_id, name, s, ("baseline", name)) for s in seeds]
        for name, spec in _named(args.policy, "policy"):
            load_factory(spec)  # fail here, before any task runs, on a bad import path
            tasks += [Task(env_id, name, s, ("factory", spec)) for s in seeds]
        if args.train_quick:
            tasks += quick_agents(env_id, out, seeds)
    for name, pattern in _named(args.agent, "agent"):
        tasks += agent_tasks(name, pattern, env_ids)
    if args.policies is not None:
        tasks = [t for t in tasks if t.policy in args.policies]

    # rows are keyed by the hash of every setting that changes them (task_settings); the driver alone writes them
    store = SettingsStore(out / "rows.jsonl")
    print(f"{len(tasks)} (env, policy, seed) tasks ({len(store)} rows already in {out / 'rows.jsonl'})")
    start = time.perf_counter()
    run_missing(
        _run_spec,
        [(t, args.quick) for t in tasks],
        lambda spec: task_settings(*spec),
        store,
        failures_path=out / "failures.jsonl",
        **executor_options(args),
        desc="leaderboard",
        progress=not args.no_progress_bar,
        describe=lambda spec: f"{spec[0].env_id} {spec[0].policy} seed {spec[0].seed}",
    )
    rows = store.rows_for(task_settings(t, args.quick) for t in tasks)
    meta = {
        "quick": args.quick,
        "wall_seconds_this_invocation": round(time.perf_counter() - start, 1),
        "skipped_ids": skipped,
        "same_as": same_as,
    }
    write_outputs(out, rows, args.reference, meta)
    print((out / "leaderboard.md").read_text())
    for env_id, reason in skipped.items():
        print(f"not scored: {env_id} ({reason})")
    print(f"wrote {out}/leaderboard.md, leaderboard.csv, leaderboard.json ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
