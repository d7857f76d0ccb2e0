"""Rewiring heuristics (Carvalho 2021) as Policy objects for the coop envs, and fast R-replica evaluation.

Two ways to use the heuristics, both the compiled kernel's rules (:mod:`recsim_envs.coop.kernel`, written once):

- :class:`RulePolicy` follows the Policy protocol (``act(obs, info)``, ``reset(seed)``; batched) and picks z for
  the pending rewire of every replica of a bound ``CooperationRewiring*`` / ``RecommenderCompetition`` env, single,
  vector or multi-agent: plug it into the leaderboard and the training/evaluation code next to learned agents.
- :func:`evaluate_rules` runs rules inside the compiled simulator on R replicas at once (the same model as the
  env with the rule in place of the agent), for evaluation tables: seconds for 30 replicas of the N = 500
  preset, instead of stepping an env decision by decision.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np

from recsim_envs.coop import kernel as K
from recsim_envs.coop.rules import EXCLUSIVE, EXTERNAL, rule_code, rule_name
from recsim_envs.coop.simulator import simulate
from recsim_envs.coop.task import build_rewiring

#: model kwargs of a registered coop id that :func:`recsim_envs.coop.simulate` also takes
_MODEL_KEYS = ("n_nodes", "degree", "beta", "W", "T", "S", "fermi_mode", "max_steps")


def _kernel_state(env: Any) -> tuple[Any, bool]:
    """(the :class:`~recsim_envs.coop.simulator.CoopBatch`, whether the agent's rule is exclusive) behind a coop
    single env, native vector env or multi-agent env; ``TypeError`` for anything else."""
    inner = getattr(env, "unwrapped", env)
    task = getattr(inner, "task", None)
    if task is not None and hasattr(task, "batch"):
        batch = task.batch
        exclusive = bool(task.options.competition and batch.config.rules[task.AGENT] & EXCLUSIVE)
        return batch, exclusive
    if hasattr(inner, "batch") and hasattr(inner, "exclusive"):  # RecommenderCompetitionAEC
        return inner.batch, bool(inner.exclusive)
    raise TypeError(f"env must be a coop env (single, vector or multi-agent), got {type(env).__name__}")


class RulePolicy:
    """The kernel's rewiring rules (:mod:`recsim_envs.coop.kernel`) as one batched policy for the coop envs.

    ``rule`` is any heuristic of :mod:`recsim_envs.coop.rules` (``NULL``, ``NO_MED``, ``GOOD``, ``BAD``,
    ``RANDOM``, ``FAIR``, the grid ``{C,D,ANY}_{LOW,HIGH}``; a ``_X`` suffix is accepted: exclusivity follows
    the env's agent). ``bind(env)`` attaches the env (single, native vector or multi-agent; the rollout engine
    :func:`agents.rollout.rollout` binds it), and each ``act`` asks the compiled kernel for the partner of every
    pending rewire, drawn from the replica's own stream exactly as the simulator draws it for a rule compiled
    into the kernel (``kernel.choose_pending_all``). A rule that finds no partner answers the focused node
    itself, a masked action that the env (``invalid_action="skip"``) treats as a declined rewire — the
    simulator's skip. So on ``CooperationRewiring*`` ids the env driven by this policy follows
    :func:`recsim_envs.coop.simulate` with the same seeds step for step (tested); with exclusive competition
    rules the simulator also draws for rewires that never reach an agent, so only the law is the same.
    The policy holds no generator of its own (``reset`` does nothing): the env's seed fixes every draw.
    """

    batched = True

    def __init__(self, rule: str = "GOOD", env: Any = None) -> None:
        code = rule_code(str(rule).upper(), "rule") & (EXCLUSIVE - 1)
        if code == EXTERNAL:
            raise ValueError(f"rule must be a rewiring heuristic (not EXTERNAL), got {rule!r}")
        self.code = code
        self.rule = rule_name(code)
        self._env: Any = None
        if env is not None:
            self.bind(env)

    def bind(self, env: Any) -> RulePolicy:
        """Act for ``env`` from now on (returns ``self``); ``TypeError`` if it is not a coop env."""
        _kernel_state(env)
        self._env = env
        return self

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset: every draw comes from the env's replica streams."""

    def act(self, obs: dict[str, Any], info: dict[str, Any] | None = None) -> Any:
        """The partner of each pending rewire (the focused node, i.e. decline, where the rule finds none)."""
        if self._env is None:
            raise RuntimeError("RulePolicy.act needs the env: call bind(env) first (agents.rollout does)")
        b, exclusive = _kernel_state(self._env)
        code = self.code | (EXCLUSIVE if exclusive else 0)
        out = np.empty(b.R, dtype=np.int64)
        K.choose_pending_all(code, b.state, b.n, out)
        action = np.where(out >= 0, out, np.maximum(b.cnt[:, K.C_PA], 0))
        single = np.asarray(obs["node_features"]).ndim == 2
        return int(action[0]) if single else action


#: the former name of :class:`RulePolicy` (an observation-based copy of the rules, now the kernel's own)
HeuristicPolicy = RulePolicy


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
