"""Rewiring heuristics (Carvalho 2021) as Policy objects for the coop envs, and fast R-replica evaluation.

Two ways to use the heuristics:

- :class:`HeuristicPolicy` follows the Policy protocol (``act(obs, info)``, ``reset(seed)``) and picks z from an
  env observation of ``CooperationRewiring-v0`` / ``RecommenderCompetition-v0``: plug it into the leaderboard
  next to learned agents. It reads only the observation (mask, strategies, degrees, dropped node, graph).
- :func:`evaluate_rules` runs rules inside the compiled simulator on R replicas at once (the same model as the
  env with the rule in place of the agent), for evaluation tables: seconds for 30 replicas of the N = 500
  preset, instead of stepping an env decision by decision.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np

from recsim_envs.coop.rules import rule_code, rule_name
from recsim_envs.coop.simulator import simulate
from recsim_envs.coop.task import build_rewiring

#: model kwargs of a registered coop id that :func:`recsim_envs.coop.simulate` also takes
_MODEL_KEYS = ("n_nodes", "degree", "beta", "W", "T", "S", "fermi_mode", "max_steps")


class HeuristicPolicy:
    """A rewiring rule acting on the coop envs' Dict observation.

    ``rule``: ``NO_MED`` (a neighbour of the dropped node), ``GOOD``, ``BAD``, ``RANDOM``, ``FAIR`` or a grid
    rule ``{C,D,ANY}_{LOW,RAND,HIGH}``; ``_X`` names are accepted (the competition env's mask already restricts
    to the agent's users when ``agent_exclusive``). Candidates = the action mask ∩ the rule's group; ties in
    degree are broken uniformly. If the rule's candidate set is empty, ``fallback="skip"`` (default) returns a
    masked node, which the env (``invalid_action="skip"``) treats as a declined rewire — exactly what the
    simulator's rule does, so the policy through the env and :func:`evaluate_rules` follow the same law (tested);
    ``fallback="random"`` picks a uniform valid node instead (needed with ``invalid_action="raise"``).
    """

    def __init__(self, rule: str = "GOOD", seed: int | None = None, fallback: str = "skip"):
        code = rule_code(rule, "rule")
        self.rule = rule_name(code).removesuffix("_X")
        if self.rule in ("NULL", "EXTERNAL"):
            raise ValueError(f"rule must be a rewiring heuristic, got {rule!r}")
        if fallback not in ("random", "skip"):
            raise ValueError(f"fallback must be one of ['random', 'skip'], got {fallback!r}")
        self.fallback = fallback
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def _neighbours(self, obs: dict[str, Any], node: int) -> np.ndarray:
        if "adjacency" in obs:
            return np.asarray(obs["adjacency"])[node] != 0
        ei = np.asarray(obs["edge_index"])
        out = np.zeros(len(obs["action_mask"]), dtype=bool)
        out[ei[1, ei[0] == node]] = True
        return out

    def candidates(self, obs: dict[str, Any]) -> np.ndarray:
        """bool [N]: the nodes this rule may pick in the current observation."""
        mask = np.asarray(obs["action_mask"]) != 0
        strat = np.asarray(obs["node_features"])[:, 0]
        deg = np.asarray(obs["node_features"])[:, 1]
        a, b = int(obs["focused_node"]), int(obs["dropped_node"])
        rule = self.rule
        if rule == "NO_MED":
            return mask & self._neighbours(obs, b)
        group = {"GOOD": 1, "BAD": 0, "RANDOM": None, "FAIR": int(strat[a])}.get(rule)
        if rule.startswith(("C_", "D_", "ANY_")):
            group = {"C": 1, "D": 0, "ANY": None}[rule.split("_")[0]]
        cand = mask if group is None else mask & (strat == group)
        if rule.endswith(("_LOW", "_HIGH")) and cand.any():
            d = np.where(cand, deg, np.inf if rule.endswith("_LOW") else -np.inf)
            best = d.min() if rule.endswith("_LOW") else d.max()
            cand = cand & (d == best)
        return cand

    def act(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> int:
        cand = self.candidates(obs)
        if not cand.any():
            mask = np.asarray(obs["action_mask"]) != 0
            if self.fallback == "skip" and not mask.all():
                return int(self.rng.choice(np.flatnonzero(~mask)))  # a masked node: the env declines the rewire
            cand = mask
        return int(self.rng.choice(np.flatnonzero(cand)))


def model_kwargs(env_id: str = "recsim_envs/CooperationRewiring-v0", **overrides: Any) -> dict[str, Any]:
    """The simulator parameters of a registered ``CooperationRewiring*`` id (env defaults filled in)."""
    spec = gym.spec(env_id)
    defaults = {k: p.default for k, p in inspect.signature(build_rewiring).parameters.items() if k in _MODEL_KEYS}
    kw = {**defaults, **{k: v for k, v in spec.kwargs.items() if k in _MODEL_KEYS}}
    kw.update(overrides)
    return kw


def evaluate_rules(
    rules: list[str] | tuple[str, ...] = ("GOOD", "RANDOM", "FAIR", "NO_MED", "BAD"),
    env_id: str = "recsim_envs/CooperationRewiring-v0",
    n_replicas: int = 30,
    seed: int = 0,
    **overrides: Any,
) -> dict[str, dict[str, float]]:
    """Mean (and std) of the paper's end-of-episode metrics for each rule on ``env_id``'s model, R replicas.

    Returns ``{rule: {"cooperator_fraction", "cooperator_fraction_std", "rewires", "rewires_per_opportunity",
    "heterogeneity", "max_degree", "coop_reward"}}``, where ``coop_reward`` = mean 2·(fraction − ½), the env's
    ``reward_mode="coops"`` return, so learned agents and heuristics share one scale.
    """
    kw = model_kwargs(env_id, **overrides)
    table: dict[str, dict[str, float]] = {}
    for rule in rules:
        m = simulate(rule, n_replicas, seed, **kw)
        cf = m["cooperator_fraction"]
        table[rule] = {
            "cooperator_fraction": float(cf.mean()),
            "cooperator_fraction_std": float(cf.std(ddof=1)) if len(cf) > 1 else 0.0,
            "rewires": float(m["rewires"].mean()),
            "rewires_per_opportunity": float(m["rewires_per_opportunity"].mean()),
            "heterogeneity": float(m["heterogeneity"].mean()),
            "max_degree": float(m["max_degree"].mean()),
            "coop_reward": float((2 * (cf - 0.5)).mean()),
        }
    return table


_COMPETITION_KEYS = _MODEL_KEYS + (
    "W2",
    "beta_med_factor",
    "seed_fraction",
    "stop_on_absorption",
    "recommender_fermi_mode",
)


def evaluate_competition_rules(
    rules: list[str] | tuple[str, ...] = ("GOOD", "RANDOM", "FAIR", "NO_MED", "BAD"),
    env_id: str = "recsim_envs/RecommenderCompetition-v0",
    n_replicas: int = 30,
    seed: int = 0,
    **overrides: Any,
) -> dict[str, dict[str, float]]:
    """Each rule in the agent's seat of ``RecommenderCompetition`` (exclusive if the env's ``agent_exclusive``),
    against the env's opponents and default rule, on R replicas in the compiled simulator.

    Returns ``{rule: {"agent_share", "adoption_return", "cooperator_fraction", "rewires"}}``; ``adoption_return``
    (final − initial share) is the env's default return, so agents and heuristics share one scale.
    """
    from recsim_envs.coop.task import build_competition

    spec = gym.spec(env_id)
    params = inspect.signature(build_competition).parameters
    kw = {k: p.default for k, p in params.items()}
    kw.update(spec.kwargs)
    kw.update(overrides)
    model = {k: kw[k] for k in _COMPETITION_KEYS}
    opponents = list(kw["opponents"])
    table: dict[str, dict[str, float]] = {}
    for rule in rules:
        base = rule_name(rule_code(rule, "rule")).removesuffix("_X")
        agent = f"{base}_X" if kw["agent_exclusive"] else base
        m = simulate(kw["default_rule"], n_replicas, seed, contenders=[agent, *opponents], **model)
        n_contenders = 1 + len(opponents)
        n_seeds = round(kw["seed_fraction"] * kw["n_nodes"])
        initial = (n_seeds // n_contenders + (0 < n_seeds % n_contenders)) / kw["n_nodes"]  # round robin, agent first
        share = m["shares"][:, 1]
        table[rule] = {
            "agent_share": float(share.mean()),
            "adoption_return": float((share - initial).mean()),
            "cooperator_fraction": float(m["cooperator_fraction"].mean()),
            "rewires": float(m["rewires"].mean()),
        }
    return table
