"""Evaluating rewiring recommenders (issue 6) on replicas of the coop envs: learned rankers and the heuristics.

- :func:`rollout_learned` runs a policy on R replicas of an env id and returns per-replica end-of-episode metrics;
  :func:`rollout_competition` does the same in ``RecommenderCompetition`` with time courses; both are the one
  rollout engine (:func:`agents.rollout.rollout`) with a per-step hook.
- :func:`run_heuristics` runs the rewiring rules on the same replica seeds with the compiled simulator.

The jobs around them live in their own modules, re-exported here for existing callers: the trained network as a
policy (:mod:`agents.ranker`), training (:mod:`agents.coop_train`), the heuristics as one batched policy on the
kernel's rules (:class:`baselines.coop.RulePolicy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401  (registers the ids)
from agents.coop_train import (
    REWARDS,
    TRAIN_REWARDS,
    _atomic_save,
    engagement_scale,
    gnn_hyperparams,
    make_training_env,
    ranker_run_dir,
    ranker_settings,
    train_ranker,
)
from agents.ranker import LearnedRanker, load_ranker
from agents.rollout import Step, check_pos_int, rollout
from agents.train import run_part_seeds
from baselines.coop import RulePolicy

#: every heuristic of the paper: the named rules and the degree-ranked cells of the 3×3 grid (the grid's
#: random-degree column is GOOD / RANDOM / BAD themselves)
HEURISTICS = (
    "NULL",
    "NO_MED",
    "GOOD",
    "BAD",
    "RANDOM",
    "FAIR",
    "D_LOW",
    "D_HIGH",
    "ANY_LOW",
    "ANY_HIGH",
    "C_LOW",
    "C_HIGH",
)
#: end-of-episode metrics read from the env's final info (names of the simulator's ``metrics()``)
END_METRICS = ("cooperator_fraction", "rewires", "rewires_done", "heterogeneity", "max_degree", "steps")


class _LearnedMetrics:
    """Hook of :func:`rollout_learned`: declined decisions, end-of-episode metrics and, for a
    :class:`LearnedRanker`, the strategy and degree of the nodes it recommended."""

    def __init__(self, policy: Any, n: int) -> None:
        self.policy = policy
        self.track = isinstance(policy, LearnedRanker)
        self.declined = np.zeros(n)
        self.strat_sum, self.deg_sum = np.zeros(n), np.zeros(n)
        self.final: dict[str, np.ndarray] = {}

    def __call__(self, step: Step) -> None:
        n, active = len(step.rows), step.active
        n_nodes = step.obs["action_mask"].shape[1]
        said_no = active & (step.obs["action_mask"][np.arange(n), step.action] == 0)
        self.declined += said_no
        if self.track:
            linked = active & ~said_no
            self.strat_sum += np.where(linked, self.policy.chosen_strategy[-1], 0.0)
            self.deg_sum += np.where(linked, self.policy.chosen_degree[-1] * (n_nodes - 1), 0.0)
            self.policy.clear_stats()
        done = step.done & active
        if done.any():
            for key in END_METRICS:
                if key in step.step_info:
                    self.final.setdefault(key, np.full(n, np.nan))
                    self.final[key][done] = np.asarray(step.step_info[key], dtype=float)[done]


def rollout_learned(
    policy: Any,
    env_id: str,
    n_replicas: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    max_decisions: int = 1_000_000,
) -> dict[str, np.ndarray]:
    """Run ``policy`` on replicas ``seed .. seed + n_replicas - 1`` of ``env_id`` (native vector env); return
    per-replica arrays: the episode return, the number of decisions, every :data:`END_METRICS` entry the env
    reports at the end, ``declined`` (decisions answered with a masked node: the env skips that rewire), and, for
    a :class:`LearnedRanker`, the mean strategy and mean degree (×(N−1), i.e. in links) of the nodes it
    recommended (declined decisions excluded)."""
    n = check_pos_int("n_replicas", n_replicas)
    hook = _LearnedMetrics(policy, n)
    if hook.track:
        policy.clear_stats()
    res = rollout(policy, env_id, n, int(seed), env_kwargs=env_kwargs, hook=hook, chunk=None, max_steps=max_decisions)
    out = {"return": res.returns, "decisions": res.lengths.astype(float), "declined": hook.declined, **hook.final}
    if hook.track:
        steps = np.maximum(out["decisions"] - hook.declined, 1)
        out["action_strategy"] = hook.strat_sum / steps
        out["action_degree"] = hook.deg_sum / steps
    return out


class _CompetitionCourses:
    """Hook of :func:`rollout_competition`: time courses over ``bins`` slices of ``max_steps`` and finals."""

    SERIES = (("share_t", "agent_share"), ("coop_t", "cooperator_fraction"), ("rewires_t", "rewires"))

    def __init__(self, n: int, bins: int, max_steps: int) -> None:
        self.n, self.bins, self.max_steps = n, bins, max_steps
        self.series = {k: np.full((n, bins), np.nan) for k, _ in self.SERIES}
        self.rec_c, self.rec_n = np.zeros((n, bins)), np.zeros((n, bins))
        self.first = np.zeros(n)
        self.final: dict[str, np.ndarray] = {}

    def slot_of(self, src: dict[str, Any]) -> np.ndarray:
        return np.minimum((np.asarray(src["steps"]) * self.bins) // self.max_steps, self.bins - 1).astype(int)

    def record(self, src: dict[str, Any], which: np.ndarray) -> None:
        slot = self.slot_of(src)
        for key, name in self.SERIES:
            self.series[key][which, slot[which]] = np.asarray(src[name], dtype=float)[which]

    def __call__(self, step: Step) -> None:
        active, rows = step.active, np.arange(self.n)
        if step.t == 0:  # the reset info: initial share and the first slice
            self.first = np.asarray(step.info["agent_share"], dtype=float).copy()
            self.record(step.info, active)
        valid = step.obs["action_mask"][rows, step.action] > 0
        chose_c = step.obs["node_features"][rows, step.action, 0] > 0.5
        slot = self.slot_of(step.info)
        np.add.at(self.rec_n, (np.flatnonzero(active), slot[active]), 1.0)
        np.add.at(self.rec_c, (np.flatnonzero(active), slot[active]), (chose_c & valid)[active].astype(float))
        self.record(step.step_info, active)
        done = step.done & active
        if done.any():
            for key in ("agent_share", "cooperator_fraction", "rewires", "steps"):
                self.final.setdefault(key, np.full(self.n, np.nan))
                self.final[key][done] = np.asarray(step.step_info[key], dtype=float)[done]

    def courses(self) -> dict[str, np.ndarray]:
        """Carry values forward through slices without a decision and past the episode end; slices before the
        first report take the first value seen."""
        out = {}
        for key, arr in self.series.items():
            arr = arr.copy()
            for j in range(1, self.bins):
                arr[:, j] = np.where(np.isnan(arr[:, j]), arr[:, j - 1], arr[:, j])
            for j in range(self.bins - 2, -1, -1):
                arr[:, j] = np.where(np.isnan(arr[:, j]), arr[:, j + 1], arr[:, j])
            out[key] = arr
        out["recommended_c_t"] = np.divide(
            self.rec_c, self.rec_n, out=np.full((self.n, self.bins), np.nan), where=self.rec_n > 0
        )
        out["decisions_t"] = self.rec_n
        return out


def rollout_competition(
    policy: Any,
    env_id: str,
    n_replicas: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    bins: int = 10,
    max_decisions: int = 1_000_000,
) -> dict[str, Any]:
    """Run a contender ``policy`` in ``RecommenderCompetition`` on replicas ``seed ..``; return per-replica
    final ``agent_share``, ``cooperator_fraction``, ``rewires``, ``steps``, the initial share, the number of
    decisions, and time courses over ``bins`` equal slices of ``max_steps``: ``share_t``, ``coop_t``,
    ``rewires_t`` ([R, bins] lists; the env reports only at decisions, so each slice holds the last value seen
    at or before it — the final value after the episode's end, the first value seen before any decision) and
    ``recommended_c_t`` / ``decisions_t`` (per slice: fraction of the contender's recommendations that were
    cooperators, and the number of decisions; NaN fraction where it made none)."""
    n = check_pos_int("n_replicas", n_replicas)
    bins = check_pos_int("bins", bins)
    env = gym.make(env_id, **(env_kwargs or {}))
    config = getattr(env.unwrapped, "config", None)
    env.close()
    max_steps = int(config.max_steps) if config is not None else None
    if max_steps is None:
        max_steps = int({**gym.spec(env_id).kwargs, **(env_kwargs or {})}.get("max_steps", 10_000))
    hook = _CompetitionCourses(n, bins, max_steps)
    res = rollout(policy, env_id, n, int(seed), env_kwargs=env_kwargs, hook=hook, chunk=None, max_steps=max_decisions)
    out: dict[str, Any] = {k: [float(x) for x in v] for k, v in hook.final.items()}
    out["initial_share"] = [float(x) for x in hook.first]
    out["decisions"] = [float(x) for x in res.lengths]
    out.update({k: v.tolist() for k, v in hook.courses().items()})
    return out


def run_heuristics(
    rules: Sequence[str], n_replicas: int, seed: int, model: dict[str, Any]
) -> dict[str, dict[str, np.ndarray]]:
    """Each rule on replicas ``seed .. seed + n_replicas - 1`` with the simulator (same streams as the env's
    replicas with the same seeds): rule -> :meth:`CoopBatch.metrics` arrays."""
    from recsim_envs.coop import simulate

    return {rule: simulate(rule, n_replicas, seed, **model) for rule in rules}


__all__ = [
    "END_METRICS",
    "HEURISTICS",
    "REWARDS",
    "TRAIN_REWARDS",
    "LearnedRanker",
    "RulePolicy",
    "_atomic_save",
    "engagement_scale",
    "gnn_hyperparams",
    "load_ranker",
    "make_training_env",
    "ranker_run_dir",
    "ranker_settings",
    "rollout_competition",
    "rollout_learned",
    "run_heuristics",
    "run_part_seeds",
    "train_ranker",
]
