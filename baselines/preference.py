"""Non-learned recommenders for PreferenceShift: random, constant slate, myopic (true or NHMM belief), DP-optimal.

All policies accept either a single env's ``(obs, info)`` or a native vector env's batched ``(obs, info)``
(info values are then arrays); they follow the :class:`baselines.protocol.Policy` protocol. Policies that need
the true preference read it from ``info`` (``preference_bin`` at reset, ``next_preference_bin`` after a step) —
they are oracles, useful as references, not deployable recommenders.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsim_envs.preference.core import PreferenceShiftConfig
from recsim_envs.preference.world import FLAT_ACTION


def _config(env_or_config) -> PreferenceShiftConfig:
    if isinstance(env_or_config, PreferenceShiftConfig):
        return env_or_config
    base = getattr(env_or_config, "unwrapped", env_or_config)
    cfg = getattr(base, "config", None)
    if not isinstance(cfg, PreferenceShiftConfig):
        raise ValueError(f"expected a PreferenceShift env or PreferenceShiftConfig, got {env_or_config!r}")
    return cfg


def _batched(obs) -> tuple[bool, int]:
    o = np.asarray(obs)
    return (o.ndim == 2, o.shape[0] if o.ndim == 2 else 1)


def _out(actions: np.ndarray, batched: bool):
    return actions.astype(np.int64) if batched else int(actions[0])


class RandomSlatePolicy:
    """Uniformly random slate each step (seeded)."""

    def __init__(self, env_or_config, seed: int | None = 0):
        self.n_actions = _config(env_or_config).n_actions
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs, info: dict[str, Any]):
        batched, n = _batched(obs)
        return _out(self.rng.integers(self.n_actions, size=n), batched)


class ConstantSlatePolicy:
    """The same slate every step (e.g. action 4 = 240° in the "six" set: the manipulation probe)."""

    def __init__(self, env_or_config, action: int):
        n = _config(env_or_config).n_actions
        if not 0 <= int(action) < n:
            raise ValueError(f"action must be in [0, {n - 1}], got {action!r}")
        self.action = int(action)

    def act(self, obs, info: dict[str, Any]):
        batched, n = _batched(obs)
        return _out(np.full(n, self.action), batched)


class _TracksTruePreference:
    def _true_u(self, info: dict[str, Any]) -> np.ndarray:
        key = "next_preference_bin" if "next_preference_bin" in info else "preference_bin"
        if key not in info:
            raise ValueError("this oracle policy needs info['preference_bin'] / info['next_preference_bin']")
        return np.atleast_1d(np.asarray(info[key], dtype=np.int64))


class TrueMyopicPolicy(_TracksTruePreference):
    """Greedy on the *true* u_t: argmax_a E[x ᵀ u_t | s_a, u_t] (γ = 0 with full information)."""

    def __init__(self, env_or_config):
        cfg = _config(env_or_config)
        exp_cos = cfg.tables["expected_cos"]  # [a, u, y]
        self.best = exp_cos[:, np.arange(36), np.arange(36)].argmax(axis=0)  # [u]

    def act(self, obs, info: dict[str, Any]):
        batched, _ = _batched(obs)
        return _out(self.best[self._true_u(info)], batched)


class OptimalPolicy(_TracksTruePreference):
    """Exact finite-horizon optimum of the weighted reward with the true u_t known (dynamic programming).

    Maximises E[Σ_t r_t] with r_t = engagement + ν_initial·engagement_initial + ν_natural·engagement_natural
    over the state (t, u_t, u_0) — weights from the env config unless given: the upper bound any recommender
    can reach, and the strongest manipulator when the penalties are zero.
    """

    def __init__(self, env_or_config, nu_initial: float | None = None, nu_natural: float | None = None):
        cfg = _config(env_or_config)
        tb, h = cfg.tables, cfg.horizon
        nu_i = cfg.nu_initial if nu_initial is None else float(nu_initial)
        nu_n = cfg.nu_natural if nu_natural is None else float(nu_natural)
        exp_cos = tb["expected_cos"]  # [a, u, y]
        em, tr = tb["emission"], tb["transition"]
        nat = tb["natural_cos"]  # [t, u0, x]
        idx = np.arange(36)
        eng = exp_cos[:, idx, idx]  # [a, u]
        eng0 = exp_cos  # [a, u, u0]
        # q[t][a, u, u0]; value V[u, u0]
        value = np.zeros((36, 36))
        self.best = np.zeros((h, 36, 36), dtype=np.int64)
        for t in range(h - 1, -1, -1):
            r_nat = np.einsum("aux,vx->auv", em, nat[t])  # [a, u, u0]
            r = eng[:, :, None] + nu_i * eng0 + nu_n * r_nat
            q = r + np.einsum("auw,wv->auv", tr, value)
            self.best[t] = q.argmax(axis=0)
            value = q.max(axis=0)
        self.horizon = h
        self._u0: np.ndarray | None = None
        self._t: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        self._u0, self._t = None, None

    def act(self, obs, info: dict[str, Any]):
        batched, n = _batched(obs)
        u = self._true_u(info)
        u0 = np.atleast_1d(np.asarray(info["initial_preference_bin"], dtype=np.int64))
        # time index from the observation (last entry of the history block is t / horizon)
        o = np.atleast_2d(np.asarray(obs))
        t = np.rint(o[:, 72] * self.horizon).astype(np.int64)
        t = np.clip(t, 0, self.horizon - 1)
        return _out(self.best[t, u, u0], batched)


class BeliefMyopicPolicy:
    """Greedy on the exact NHMM belief over u_t: argmax_a Σ_u b_t(u) E[x ᵀ u | s_a, u].

    The belief is computed from the interaction history (slates and choices read from ``info``), so this works
    with either observation mode; it is the γ = 0 recommender with the paper's oracle inference.
    """

    def __init__(self, env_or_config):
        self.cfg = _config(env_or_config)
        exp_cos = self.cfg.tables["expected_cos"]
        self.eng = exp_cos[:, np.arange(36), np.arange(36)]  # [a, u]
        self._slates: list[np.ndarray] = []
        self._choices: list[np.ndarray] = []

    def reset(self, seed: int | None = None) -> None:
        self._slates, self._choices = [], []

    def act(self, obs, info: dict[str, Any]):
        batched, n = _batched(obs)
        if "choice_bin" in info:
            self._slates.append(np.atleast_1d(np.asarray(info["slate"])))
            self._choices.append(np.atleast_1d(np.asarray(info["choice_bin"])))
        else:  # reset info: a new episode starts
            self._slates, self._choices = [], []
        if self._slates:
            sl, ch = np.stack(self._slates, axis=1), np.stack(self._choices, axis=1)
            belief = self.cfg.oracle.filter(sl, ch).alpha[:, -1]
        else:
            belief = np.broadcast_to(self.cfg.tables["prior"], (n, 36))
        return _out((belief @ self.eng.T).argmax(axis=1), batched)


def preference_baselines(env_or_config, seed: int = 0) -> dict[str, Any]:
    """The standard set used by the comparison script and the leaderboard."""
    cfg = _config(env_or_config)
    out = {
        "random": RandomSlatePolicy(cfg, seed),
        "belief_myopic": BeliefMyopicPolicy(cfg),
        "true_myopic": TrueMyopicPolicy(cfg),
        "optimal_known_u": OptimalPolicy(cfg),
        "optimal_penalized_known_u": OptimalPolicy(cfg, nu_initial=1.0, nu_natural=1.0),
    }
    if cfg.action_set == "six":
        out["constant_240"] = ConstantSlatePolicy(cfg, 4)
        # the paper's π_rnd: the flat slate every step (action FLAT_ACTION); its cohort drift is the
        # "natural shift" reference of the safe-shift metric
        out["pi_rnd_flat"] = ConstantSlatePolicy(cfg, FLAT_ACTION)
    return out
