"""rl-baselines3-zoo-shaped hyperparameter files: one YAML per algorithm, keyed by env id.

Files live in ``agents/hyperparams/``: ``ppo.yml`` (PPO), ``ppo_lstm.yml`` (RecurrentPPO, LSTM with 64 cells),
``ppo_mask.yml`` (MaskablePPO). ``ppo.yml`` and ``ppo_lstm.yml`` have an entry for every registered id and use
the zoo's algorithm names, so ``python -m rl_zoo3.train --algo ppo --env <id> --gym-packages recsim_envs
--conf-file agents/hyperparams/ppo.yml`` trains the same configuration as ``recsim-train --algo ppo --env <id>``.
``ppo_mask`` is not an rl-zoo3 algorithm: ``ppo_mask.yml`` is read by ``recsim-train`` / ``agents.coop_rl`` only.
``*_myopic.yml`` hold the γ = 0 (myopic) twin of each entry: the paper's myopic and long-horizon recommenders
are two configs of the same code.

Supported zoo keys: ``n_envs``, ``n_timesteps``, ``policy``, ``env_kwargs`` (``gymnasium.make`` kwargs; the
multi-objective ids' entries set ``weights`` there), ``policy_kwargs`` (a ``"dict(...)"`` string as in
the zoo, parsed without ``eval``), schedules ``"lin_<x>"`` for ``learning_rate``/``clip_range``; every other key
is passed to the algorithm's constructor. Zoo keys that change the env (``normalize``, ``env_wrapper``,
``frame_stack``, ``vec_env_wrapper``, ``callback``) are rejected rather than silently ignored.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"

#: zoo algorithm name -> (import path of the class, human name)
ALGOS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3:PPO", "PPO"),
    "ppo_lstm": ("sb3_contrib:RecurrentPPO", "RecurrentPPO"),
    "ppo_mask": ("sb3_contrib:MaskablePPO", "MaskablePPO"),
}
#: accepted spellings of each algorithm
ALGO_ALIASES = {
    "ppo": "ppo",
    "ppo_lstm": "ppo_lstm",
    "recurrentppo": "ppo_lstm",
    "recurrent_ppo": "ppo_lstm",
    "ppo_mask": "ppo_mask",
    "maskableppo": "ppo_mask",
    "maskable_ppo": "ppo_mask",
}
VARIANTS = ("ltv", "myopic")
_UNSUPPORTED = ("normalize", "env_wrapper", "frame_stack", "vec_env_wrapper", "callback", "normalize_kwargs")
_META_KEYS = ("n_envs", "n_timesteps", "policy", "env_kwargs")


def canonical_algo(algo: str) -> str:
    """Zoo name of ``algo`` (``"RecurrentPPO"`` -> ``"ppo_lstm"``); ``ValueError`` if unknown."""
    key = str(algo).lower()
    if key not in ALGO_ALIASES:
        raise ValueError(f"algo must be one of {sorted(set(ALGO_ALIASES))}, got {algo!r}")
    return ALGO_ALIASES[key]


def algo_class(algo: str):
    """The SB3 / sb3-contrib class for ``algo``."""
    import importlib

    module, name = ALGOS[canonical_algo(algo)][0].split(":")
    return getattr(importlib.import_module(module), name)


def hyperparams_file(algo: str, variant: str = "ltv") -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    name = canonical_algo(algo) + ("_myopic" if variant == "myopic" else "")
    return HYPERPARAMS_DIR / f"{name}.yml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"conf_file has a duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_hyperparams(algo: str, env_id: str, variant: str = "ltv", conf_file: str | Path | None = None) -> dict:
    """The raw (zoo-shaped) entry for ``env_id``; ``ValueError`` naming the file if the id has none."""
    path = Path(conf_file) if conf_file is not None else hyperparams_file(algo, variant)
    if not path.exists():
        raise ValueError(f"conf_file {str(path)!r} does not exist")
    with open(path) as fh:
        table = yaml.load(fh, Loader=_UniqueKeyLoader) or {}
    if env_id not in table:
        raise ValueError(
            f"env_id {env_id!r} has no entry in {path} (algo/variant not set up for this id); "
            f"ids with an entry: {', '.join(sorted(table))}"
        )
    return dict(table[env_id])


def parse_policy_kwargs(text: str | dict | None) -> dict:
    """Parse the zoo's ``policy_kwargs: "dict(net_arch=[64], lstm_hidden_size=64)"`` without ``eval``.

    Values must be Python literals, or ``nn.<Activation>`` names (resolved from ``torch.nn``).
    """
    if text is None:
        return {}
    if isinstance(text, dict):
        return dict(text)
    try:
        node = ast.parse(str(text), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"policy_kwargs must be a 'dict(key=value, ...)' string, got {text!r}") from exc
    if isinstance(node, ast.Dict):
        return ast.literal_eval(node)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict") or node.args:
        raise ValueError(f"policy_kwargs must be a 'dict(key=value, ...)' string, got {text!r}")
    out = {}
    for kw in node.keywords:
        v = kw.value
        if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "nn":
            import torch.nn as nn

            out[kw.arg] = getattr(nn, v.attr)
        else:
            try:
                out[kw.arg] = ast.literal_eval(v)
            except ValueError as exc:
                raise ValueError(f"policy_kwargs[{kw.arg!r}] must be a literal, got {ast.unparse(v)!r}") from exc
    return out


def _schedule(name: str, value: Any):
    """Zoo schedules: ``"lin_3e-4"`` is a linear decay from 3e-4 to 0 over training."""
    if isinstance(value, str):
        if not value.startswith("lin_"):
            raise ValueError(f"{name} must be a number or 'lin_<number>', got {value!r}")
        start = float(value[4:])

        def linear(progress_remaining: float) -> float:
            return progress_remaining * start

        return linear
    return float(value)


def parse_key_values(items: list[str] | None, name: str) -> dict:
    """``["gamma:0.0", "obs_mode:oracle_beliefs"]`` -> ``{"gamma": 0.0, "obs_mode": "oracle_beliefs"}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        if ":" not in item:
            raise ValueError(f"{name} entries must look like key:value, got {item!r}")
        key, raw = item.split(":", 1)
        if not key:
            raise ValueError(f"{name} entries must look like key:value, got {item!r}")
        out[key] = yaml.safe_load(raw) if raw != "" else None
    return out


def resolve(raw: dict, overrides: dict | None = None) -> tuple[dict, dict]:
    """Split a zoo entry (plus ``overrides``) into ``(meta, algo_kwargs)``.

    ``meta`` holds ``n_envs``, ``n_timesteps``, ``policy``, ``env_kwargs`` (``{}`` if absent); ``algo_kwargs`` is
    ready for the algorithm class (``policy_kwargs`` parsed, schedules built). Both stay JSON/YAML-describable
    via :func:`describe`.
    """
    merged = {**raw, **(overrides or {})}
    bad = [k for k in _UNSUPPORTED if k in merged and merged[k] not in (None, False)]
    if bad:
        raise ValueError(f"hyperparameters {bad} change the env and are not supported by agents.train; drop them")
    meta = {k: merged.pop(k) for k in _META_KEYS if k in merged}
    if "policy" not in meta:
        raise ValueError("hyperparameters need a 'policy' entry (e.g. MlpPolicy, MlpLstmPolicy)")
    meta["n_envs"] = int(meta.get("n_envs", 1))
    if meta["n_envs"] < 1:
        raise ValueError(f"n_envs must be an integer in [1, inf), got {meta['n_envs']!r}")
    meta["n_timesteps"] = int(float(meta.get("n_timesteps", 0)))
    if meta["n_timesteps"] < 1:
        raise ValueError(f"n_timesteps must be an integer in [1, inf), got {meta['n_timesteps']!r}")
    meta["env_kwargs"] = dict(meta.get("env_kwargs") or {})
    kwargs = dict(merged)
    kwargs["policy_kwargs"] = parse_policy_kwargs(kwargs.get("policy_kwargs"))
    for name in ("learning_rate", "clip_range"):
        if name in kwargs:
            kwargs[name] = _schedule(name, kwargs[name])
    return meta, kwargs


__all__ = [
    "ALGOS",
    "HYPERPARAMS_DIR",
    "VARIANTS",
    "algo_class",
    "canonical_algo",
    "hyperparams_file",
    "load_hyperparams",
    "parse_key_values",
    "parse_policy_kwargs",
    "resolve",
]
