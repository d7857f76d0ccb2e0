"""Train PPO / RecurrentPPO / MaskablePPO on any registered recsim_envs id.

Usage (console script ``recsim-train`` is the same)::

    python -m agents.train --algo ppo_lstm --env recsim_envs/PreferenceShiftOracle-v0 --seed 0
    python -m agents.train --algo ppo_lstm --variant myopic --env recsim_envs/PreferenceShiftOracle-v0
    python -m agents.train --algo ppo --env recsim_envs/PreferenceShiftOracle-v0 \
        --env-kwargs nu_initial:1.0 nu_natural:1.0 --hyperparams gamma:0.0 n_timesteps:20000

Hyperparameters come from ``agents/hyperparams/<algo>[_myopic].yml`` (rl-baselines3-zoo shape, keyed by env id);
``--hyperparams key:value`` overrides entries and ``--env-kwargs key:value`` are passed to ``gymnasium.make``
(penalty weights ν_initial, ν_natural for PreferenceShift, λ for HarmMitigation, ...).

Each run writes to ``<log-folder>/<algo>/<env-name>_<variant>_s<seed>/``: ``model.zip`` (the final agent),
``config.yml`` (the exact resolved configuration, seed, package versions and command line — everything needed to
re-create the run), ``checkpoints/`` (``--checkpoint-freq``) and TensorBoard logs under ``tb/``.
:func:`load_agent` reloads a run and returns an evaluation-ready policy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.hyperparams import (
    VARIANTS,
    algo_class,
    canonical_algo,
    load_hyperparams,
    parse_key_values,
    resolve,
)

#: env seeds of a fresh training run ``seed`` start at ``seed * ENV_SEED_STRIDE`` (see :func:`run_part_seeds`)
ENV_SEED_STRIDE = 100_000
#: run seeds are in [0, MAX_RUN_SEED) and a part index below MAX_PART: the bit layout of resumed parts' seeds
MAX_RUN_SEED = 2**19
MAX_PART = 2**25
_PART_BASE = 2**40  # above every fresh run's env seeds (seed * ENV_SEED_STRIDE < 2**19 * 100000 < 2**36)
_ENV_BITS = 17  # 2**17 > ENV_SEED_STRIDE >= n_envs


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def run_part_seeds(seed: int, part: int = 0, n_envs: int = 1) -> tuple[int, int]:
    """(first env seed, model seed) of part ``part`` of training run ``seed``; env ``i`` of the part gets the
    first env seed ``+ i``.

    Part 0 (a fresh run) keeps the historical seeds ``seed · ENV_SEED_STRIDE`` and model seed ``seed``. A later
    part (a resumed run; ``agents.coop_train`` numbers it ``ceil(done_steps / n_envs)``, distinct for every
    resume point of a run) starts at ``2**40 + ((seed · 2**25 + part) · 2**17)``: an injective bit layout, so the
    env seed sets of two different (seed, part) pairs with ``n_envs ≤ ENV_SEED_STRIDE`` are disjoint by
    construction, and all lie below ``2**62``. The model seed of a later part comes from
    ``numpy.random.SeedSequence([seed, part])``. ``ValueError`` outside ``seed ∈ [0, 2**19)``,
    ``part ∈ [0, 2**25)``, ``n_envs ∈ [1, ENV_SEED_STRIDE]``. (The former rule ``seed · 100000 + done_steps``
    started run 0 resumed at 100,000 steps exactly on run 1's seeds.)
    """
    seed = _check_int("seed", seed, 0, MAX_RUN_SEED - 1)
    part = _check_int("part", part, 0, MAX_PART - 1)
    _check_int("n_envs", n_envs, 1, ENV_SEED_STRIDE)
    if part == 0:
        return seed * ENV_SEED_STRIDE, seed
    model_seed = int(np.random.SeedSequence([seed, part]).generate_state(1, np.uint32)[0])
    return _PART_BASE + (((seed << 25) | part) << _ENV_BITS), model_seed


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.yml`` beside the model)."""

    algo: str  # zoo name: ppo, ppo_lstm, ppo_mask
    env_id: str  # registered id, e.g. recsim_envs/PreferenceShiftOracle-v0
    seed: int = 0  # seeds torch/numpy in SB3 and the env users (env i of run s gets s * 100000 + i; run_part_seeds)
    variant: str = "ltv"  # which hyperparameter file: ltv (<algo>.yml) or myopic (<algo>_myopic.yml)
    env_kwargs: dict = field(default_factory=dict)  # passed to gymnasium.make / make_vec
    hyperparams: dict = field(default_factory=dict)  # the zoo entry after overrides (JSON-able)
    vectorization: str = "native"  # native (our gymnasium VectorEnv through the adapter) or dummy (make_vec_env)
    n_threads: int = 1  # torch intra-op threads (1 is fastest for these small networks)


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def build_config(
    algo: str,
    env_id: str,
    seed: int = 0,
    variant: str = "ltv",
    env_kwargs: dict | None = None,
    overrides: dict | None = None,
    conf_file: str | None = None,
    vectorization: str = "native",
    n_threads: int = 1,
) -> TrainConfig:
    """Resolve the hyperparameter entry for ``env_id`` (with ``overrides``) into a :class:`TrainConfig`."""
    algo = canonical_algo(algo)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    _check_int("seed", seed, 0, MAX_RUN_SEED - 1)
    if vectorization not in ("native", "dummy"):
        raise ValueError(f"vectorization must be one of ['native', 'dummy'], got {vectorization!r}")
    raw = load_hyperparams(algo, env_id, variant, conf_file)
    raw.update(overrides or {})
    meta, _ = resolve(raw)  # validate now, not after the env is built
    # the entry's env_kwargs (zoo key; e.g. weights of a multi-objective id), then the caller's on top
    raw.pop("env_kwargs", None)
    return TrainConfig(
        algo=algo,
        env_id=env_id,
        seed=seed,
        variant=variant,
        env_kwargs=_jsonable({**meta["env_kwargs"], **dict(env_kwargs or {})}),
        hyperparams=_jsonable(raw),
        vectorization=vectorization,
        n_threads=int(n_threads),
    )


def resolve_policy(policy: Any) -> Any:
    """A YAML ``policy`` value: an SB3 alias ('MlpPolicy', ...), 'GNNRankingPolicy' (agents.gnn), or an import path
    'package.module:Class' for any custom policy class."""
    if not isinstance(policy, str):
        return policy
    if policy == "GNNRankingPolicy":
        from agents.gnn import GNNRankingPolicy

        return GNNRankingPolicy
    if ":" in policy:
        import importlib

        module, _, name = policy.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"policy must be an SB3 alias or 'package.module:Class', got {policy!r}") from exc
    return policy


def make_model(config: TrainConfig, tensorboard_log: str | None = None, verbose: int = 0) -> tuple[Any, dict]:
    """The SB3 model and its training ``VecEnv`` for ``config`` (nothing trained yet)."""
    import torch

    from agents.sb3_vec import make_sb3_vec_env

    torch.set_num_threads(config.n_threads)
    meta, kwargs = resolve(config.hyperparams)
    env = make_sb3_vec_env(
        config.env_id,
        meta["n_envs"],
        seed=run_part_seeds(config.seed, 0, meta["n_envs"])[0],
        env_kwargs=config.env_kwargs,
        vectorization=config.vectorization,
    )
    cls = algo_class(config.algo)
    model = cls(
        resolve_policy(meta["policy"]),
        env,
        seed=config.seed,
        tensorboard_log=tensorboard_log,
        verbose=verbose,
        **kwargs,
    )
    return model, meta


def run_name(config: TrainConfig) -> str:
    return f"{config.env_id.split('/')[-1]}_{config.variant}_s{config.seed}"


def in_memory_logger(verbose: int = 0) -> Any:
    """An SB3 logger that writes nowhere but stdout (when ``verbose``): SB3's default logger would create an empty
    ``SB3-<date>`` folder in the temp directory on every ``learn`` without a TensorBoard folder."""
    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose else [])


def train(
    config: TrainConfig,
    log_folder: str | Path | None = "logs",
    progress_bar: bool = False,
    checkpoint_freq: int = 0,
    tensorboard: bool = True,
    verbose: int = 0,
) -> tuple[Any, Path | None]:
    """Train per ``config``; return ``(model, run_dir)``. ``log_folder=None`` trains in memory only."""
    from stable_baselines3.common.callbacks import CheckpointCallback

    run_dir = None if log_folder is None else Path(log_folder) / config.algo / run_name(config)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(run_dir, config, status="training")
    tb = str(run_dir / "tb") if (run_dir is not None and tensorboard) else None
    model, meta = make_model(config, tensorboard_log=tb, verbose=verbose)
    if tb is None:
        model.set_logger(in_memory_logger(verbose))
    callback = None
    if checkpoint_freq and run_dir is not None:
        # CheckpointCallback counts vector steps; save every checkpoint_freq env steps
        freq = max(1, int(checkpoint_freq) // meta["n_envs"])
        callback = CheckpointCallback(freq, str(run_dir / "checkpoints"), name_prefix="model")
    start = time.perf_counter()
    model.learn(meta["n_timesteps"], callback=callback, progress_bar=progress_bar, tb_log_name="run")
    seconds = time.perf_counter() - start
    if run_dir is not None:
        model.save(run_dir / "model.zip")
        _write_config(run_dir, config, status="done", train_seconds=seconds)
    model.env.close()
    return model, run_dir


def train_or_reuse(config: TrainConfig, log_folder: str | Path) -> tuple[Any, float | None]:
    """Load the finished run of ``config`` in ``log_folder`` (``config.yml`` says ``done``), or train it there
    first (no TensorBoard). Returns ``(SB3Policy, training seconds)``; seconds are ``None`` for a reused run.
    Callers key ``log_folder`` by the training settings, so a run with other settings is never picked up."""
    run_dir = Path(log_folder) / config.algo / run_name(config)
    conf = run_dir / "config.yml"
    reused = (run_dir / "model.zip").exists() and conf.exists() and "done" in conf.read_text()
    seconds = None
    if not reused:
        start = time.perf_counter()
        train(config, log_folder=log_folder, tensorboard=False)
        seconds = time.perf_counter() - start
    policy, _ = load_agent(run_dir)
    return policy, seconds


def _versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import sb3_contrib
    import stable_baselines3
    import torch

    return {
        "python": platform.python_version(),
        "numpy": str(numpy.__version__),
        "torch": str(torch.__version__),
        "gymnasium": str(gymnasium.__version__),
        "stable_baselines3": str(stable_baselines3.__version__),
        "sb3_contrib": str(sb3_contrib.__version__),
    }


def _write_config(run_dir: Path, config: TrainConfig, **extra: Any) -> None:
    payload = {**asdict(config), **extra, "versions": _versions(), "command": " ".join(sys.argv)}
    from recsim_envs.utils.files import atomic_write_text  # (importing recsim_envs registers the ids: only here)

    atomic_write_text(run_dir / "config.yml", yaml.safe_dump(payload, sort_keys=False))


def load_config(run_dir: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` saved beside a model."""
    data = yaml.safe_load((Path(run_dir) / "config.yml").read_text())
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(**{k: v for k, v in data.items() if k in fields})


def load_agent(path: str | Path, deterministic: bool = True) -> tuple[Any, TrainConfig]:
    """Reload a run (its directory or its ``model.zip``/checkpoint); return ``(SB3Policy, TrainConfig)``."""
    from agents.evaluation import SB3Policy

    path = Path(path)
    run_dir = path if path.is_dir() else path.parent
    if run_dir.name == "checkpoints":
        run_dir = run_dir.parent
    model_path = path / "model.zip" if path.is_dir() else path
    if not model_path.exists():
        raise ValueError(f"path {str(path)!r} holds no model.zip")
    config = load_config(run_dir)
    model = algo_class(config.algo).load(model_path, device="cpu")
    return SB3Policy(model, deterministic=deterministic), config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="recsim-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", default="ppo_lstm", help="ppo | ppo_lstm (RecurrentPPO) | ppo_mask (MaskablePPO)")
    p.add_argument("--env", required=True, help="registered id, e.g. recsim_envs/PreferenceShiftOracle-v0")
    p.add_argument("--variant", default="ltv", choices=VARIANTS, help="ltv (gamma 0.99) or myopic (gamma 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--conf-file", default=None, help="zoo-shaped YAML instead of agents/hyperparams/<algo>.yml")
    p.add_argument("--hyperparams", nargs="*", default=[], help="overrides, key:value (YAML values)")
    p.add_argument("--env-kwargs", nargs="*", default=[], help="gymnasium.make kwargs, key:value (YAML values)")
    p.add_argument("-n", "--n-timesteps", type=int, default=None, help="override n_timesteps")
    p.add_argument("--vectorization", default="native", choices=("native", "dummy"))
    p.add_argument("--log-folder", default="logs")
    p.add_argument("--checkpoint-freq", type=int, default=0, help="save a checkpoint every N env steps (0: off)")
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--eval-episodes", type=int, default=1000, help="evaluate the final agent on N users (0: skip)")
    p.add_argument("-v", "--verbose", type=int, default=0)
    return p


def cwd_importable() -> None:
    """Let ``module:Name`` specs import modules from the working directory, as ``python -m`` does (a console
    script's ``sys.path`` starts with the script's folder, not the working directory)."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: a bad id/algo/argument ends with one ``recsim-train: error: ...`` line (exit 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    cwd_importable()
    import gymnasium as gym

    import recsim_envs  # noqa: F401

    try:
        gym.spec(args.env)
        return _run(args)
    except (ValueError, gym.error.Error) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


def _run(args: argparse.Namespace) -> int:
    overrides = parse_key_values(args.hyperparams, "hyperparams")
    if args.n_timesteps is not None:
        overrides["n_timesteps"] = args.n_timesteps
    config = build_config(
        args.algo,
        args.env,
        seed=args.seed,
        variant=args.variant,
        env_kwargs=parse_key_values(args.env_kwargs, "env_kwargs"),
        overrides=overrides,
        conf_file=args.conf_file,
        vectorization=args.vectorization,
        n_threads=args.threads,
    )
    model, run_dir = train(
        config,
        log_folder=args.log_folder,
        progress_bar=not args.no_progress_bar,
        checkpoint_freq=args.checkpoint_freq,
        tensorboard=not args.no_tensorboard,
        verbose=args.verbose,
    )
    print(f"saved {run_dir / 'model.zip'}")
    if args.eval_episodes:
        from agents.evaluation import SB3Policy, evaluate_batched

        res = evaluate_batched(
            SB3Policy(model), config.env_id, args.eval_episodes, seed=10**9, env_kwargs=config.env_kwargs
        )
        summary = {k: round(float(v.mean()), 4) for k, v in res.items()}
        print(f"evaluation over {args.eval_episodes} users (seed 1e9): {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
