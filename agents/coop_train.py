"""Training the GNN ranking policy (:mod:`agents.gnn`) with MaskablePPO on the cooperation dilemma.

:func:`train_ranker` trains one (env id, reward, seed) run through ``agents.hyperparams`` (the GNN entry of
``agents/hyperparams/ppo_mask.yml``), writing a learning curve and a checkpoint atomically every
``checkpoint_every`` steps; a killed run resumes from its last checkpoint with env seeds no other run or part
uses (:func:`agents.train.run_part_seeds`). A run folder belongs to one setting (:func:`ranker_settings`, hashed
by :func:`agents.store.settings_hash`; :func:`ranker_run_dir` names a folder by it); every curve row carries the
settings and their hash.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import recsim_envs  # noqa: F401  (registers the ids)
from agents.rollout import check_pos_int
from agents.store import RowStore, atomic_write_text, settings_hash, settings_row
from recsim_envs.utils.files import atomic_write

REWARDS = ("coops", "rewires")
#: training rewards: the two of CooperationRewiring and RecommenderCompetition's adoption (its default weights)
TRAIN_REWARDS = (*REWARDS, "adoption")


def _atomic_save(model: Any, path: Path) -> None:
    atomic_write(path, model.save, suffix=".zip")


def _curve_callback(
    store: RowStore,
    model_path: Path,
    log_every: int,
    checkpoint_every: int,
    started: float,
    settings: dict[str, Any],
) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class CurveCallback(BaseCallback):
        """Learning-curve rows every ``log_every`` steps; rows and a checkpoint every ``checkpoint_every``."""

        def _init_callback(self) -> None:
            self.episodes: list[dict[str, float]] = []
            self.pending: list[dict[str, Any]] = []
            self.next_log = (self.model.num_timesteps // log_every + 1) * log_every
            self.next_ckpt = (self.model.num_timesteps // checkpoint_every + 1) * checkpoint_every

        def _on_step(self) -> bool:
            for done, info in zip(self.locals["dones"], self.locals["infos"]):
                if done and "episode" in info:
                    ep = {"return": float(info["episode"]["r"])}
                    for key in ("cooperator_fraction", "rewires"):
                        if key in info:
                            ep[key] = float(info[key])
                    self.episodes.append(ep)
            if self.num_timesteps >= self.next_log:
                self._log_row()
                self.next_log += log_every
            if self.num_timesteps >= self.next_ckpt:
                self.flush()
                self.next_ckpt += checkpoint_every
            return True

        def _log_row(self) -> None:
            if not self.episodes:
                return
            row: dict[str, Any] = {"timesteps": int(self.num_timesteps), "episodes": len(self.episodes)}
            for key in self.episodes[0]:
                row[key] = float(np.mean([e[key] for e in self.episodes if key in e]))
            row["wall_s"] = round(time.perf_counter() - started, 2)
            self.pending.append(settings_row(settings, row))
            self.episodes = []

        def flush(self) -> None:
            for row in self.pending:
                store.add(row)
            self.pending = []
            _atomic_save(self.model, model_path)

    return CurveCallback()


def engagement_scale(env_id: str, env_kwargs: dict[str, Any] | None = None) -> float:
    """Reward per rewire request for the engagement objective: 1 / E (E = N·k/2 edges), so that an episode's
    engagement return is #rewires / E — order 1 at every Table-4 size."""

    kw = {**gym.spec(env_id).kwargs, **(env_kwargs or {})}
    n, k = int(kw.get("n_nodes", 30)), int(kw.get("degree", 8))
    return 2.0 / (n * k)


def _engagement_wrapper(venv: Any, per_request: float) -> Any:
    """SB3 VecEnv wrapper: reward = +(rewire requests since the last decision) · ``per_request``.

    The count is the change of the env's ``info["rewires"]`` (requests since the episode's start, the steps
    before the first decision included; a finished replica's info holds its final count), so it does not depend
    on the sign convention of the named ``rewires`` reward component (a cost for the env; a gain here).
    """
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class EngagementReward(VecEnvWrapper):
        def __init__(self, venv: Any) -> None:
            super().__init__(venv)
            self.seen = np.zeros(self.num_envs, dtype=np.int64)

        def reset(self) -> Any:
            self.seen[:] = 0  # requests count from each episode's t = 0
            return self.venv.reset()

        def step_wait(self) -> Any:
            obs, _, dones, infos = self.venv.step_wait()
            count = np.array([int(i["rewires"]) for i in infos], dtype=np.int64)
            reward = ((count - self.seen) * per_request).astype(np.float32)
            self.seen = np.where(dones, 0, count)
            return obs, reward, dones, infos

    return EngagementReward(venv)


def make_training_env(
    env_id: str, reward: str, n_envs: int, seed: int, env_kwargs: dict[str, Any] | None = None
) -> Any:
    """The SB3 training ``VecEnv``: the native vector env through ``agents.sb3_vec``, the engagement reward for
    ``reward="rewires"`` (see :func:`_engagement_wrapper`), and ``VecMonitor`` for episode statistics.
    ``reward="adoption"`` is for ``RecommenderCompetition`` ids (their default reward: change of the agent's
    share of users)."""
    from stable_baselines3.common.vec_env import VecMonitor

    from agents.sb3_vec import make_sb3_vec_env

    if reward not in TRAIN_REWARDS:
        raise ValueError(f"reward must be one of {list(TRAIN_REWARDS)}, got {reward!r}")
    kw = {**(env_kwargs or {})}
    if reward != "adoption":
        kw["reward_mode"] = reward
    venv = make_sb3_vec_env(env_id, n_envs, seed=seed, env_kwargs=kw, monitor=False)
    if reward == "rewires":
        venv = _engagement_wrapper(venv, engagement_scale(env_id, kw))
    return VecMonitor(venv)


def gnn_hyperparams(env_id: str, conf_file: str | Path | None = None) -> dict[str, Any]:
    """The zoo-shaped entry for ``env_id`` in ``ppo_mask.yml`` (or ``conf_file``), read by the one strict
    loader :func:`agents.hyperparams.load_hyperparams` (duplicate keys are an error); ``ValueError`` if the
    entry's ``policy`` is not ``GNNRankingPolicy``."""
    from agents.hyperparams import load_hyperparams

    entry = load_hyperparams("ppo_mask", env_id, conf_file=conf_file)
    if entry.get("policy") != "GNNRankingPolicy":
        path = conf_file if conf_file is not None else "ppo_mask.yml"
        raise ValueError(f"env_id {env_id!r} has no GNNRankingPolicy entry in {path} (policy: {entry.get('policy')!r})")
    return entry


def ranker_settings(
    env_id: str,
    reward: str,
    seed: int,
    hyperparams: dict[str, Any],
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every setting that changes a training run's results, except its length (a finished run may be continued to
    a larger ``n_timesteps``): env id, reward, seed, the resolved hyperparameter entry and the env kwargs."""
    hp = {k: v for k, v in hyperparams.items() if k != "n_timesteps"}
    settings = {"env_id": env_id, "reward": reward, "seed": int(seed), "hyperparams": hp}
    settings["env_kwargs"] = dict(env_kwargs or {})
    return json.loads(json.dumps(settings, default=str))


def ranker_run_dir(root: str | Path, settings: dict[str, Any]) -> Path:
    """The run folder of ``settings`` under ``root``: ``root / settings_hash(settings)``."""
    return Path(root) / settings_hash(settings)


def _claim_run_dir(run_dir: Path, settings: dict[str, Any]) -> None:
    """Record ``settings`` in ``run_dir/settings.json``; ``ValueError`` if the folder holds another setting's run
    (a checkpoint trained with other settings is never resumed)."""
    path = run_dir / "settings.json"
    if path.exists():
        old = json.loads(path.read_text())
        if settings_hash(old) != settings_hash(settings):
            diff = sorted(k for k in {**old, **settings} if old.get(k) != settings.get(k))
            raise ValueError(
                f"run_dir {str(run_dir)!r} holds a run with other settings (differing: {diff}); use another folder, "
                "e.g. agents.coop_train.ranker_run_dir(root, settings)"
            )
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=1, sort_keys=True))


def train_ranker(
    env_id: str,
    reward: str,
    seed: int,
    run_dir: str | Path,
    n_timesteps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    conf_file: str | Path | None = None,
    log_every: int = 4096,
    checkpoint_every: int = 20_480,
    n_threads: int = 1,
) -> dict[str, Any]:
    """Train (or resume) one MaskablePPO + GNN run for ``reward`` ("coops" = aligned, "rewires" = engagement;
    "adoption" on a ``RecommenderCompetition`` id).

    Hyperparameters: the GNN entry for ``env_id`` in ``agents/hyperparams/ppo_mask.yml`` (or ``conf_file``; see
    :func:`gnn_hyperparams`), with
    ``overrides``; the model is seeded with ``seed`` and training env i with ``seed·100000 + i`` (a resumed part:
    both from :func:`agents.train.run_part_seeds`, env seeds that no other run or part shares). Writes into
    ``run_dir``: ``settings.json`` (:func:`ranker_settings`; a folder holding another setting's run is refused with
    ``ValueError``), ``curve.jsonl`` (rows ``timesteps, episodes, return, cooperator_fraction, rewires, wall_s``
    plus ``settings`` and ``settings_hash``, keyed by (settings hash, timesteps)), ``checkpoint.zip`` (every
    ``checkpoint_every`` steps, atomic), ``model.zip`` and ``config.json`` when done.
    A finished run directory is returned as is, or continued from its ``model.zip`` when ``n_timesteps`` asks
    for more; one with only a checkpoint resumes from it. Resumed parts use fresh episodes from streams no other run
    or part uses (a valid run of the same configuration, not bit-identical to an uninterrupted one);
    ``train_seconds`` adds up the parts.
    """
    from sb3_contrib import MaskablePPO

    from agents.hyperparams import resolve
    from agents.train import in_memory_logger, resolve_policy, run_part_seeds

    if reward not in TRAIN_REWARDS:
        raise ValueError(f"reward must be one of {list(TRAIN_REWARDS)}, got {reward!r}")
    run_part_seeds(seed)  # ValueError naming seed and its range
    log_every = check_pos_int("log_every", log_every)
    checkpoint_every = check_pos_int("checkpoint_every", checkpoint_every)
    raw = gnn_hyperparams(env_id, conf_file)
    raw.update(overrides or {})
    if n_timesteps is not None:
        raw["n_timesteps"] = check_pos_int("n_timesteps", n_timesteps)
    meta, kwargs = resolve(raw)
    total = int(meta["n_timesteps"])
    settings = ranker_settings(env_id, reward, seed, raw, env_kwargs)
    run_dir = Path(run_dir)
    _claim_run_dir(run_dir, settings)
    done_file = run_dir / "config.json"
    ckpt = run_dir / "checkpoint.zip"
    previous: dict[str, Any] = {}
    if (run_dir / "model.zip").exists() and done_file.exists():
        previous = json.loads(done_file.read_text())
        if previous["n_timesteps"] >= total:
            return previous
        ckpt = run_dir / "model.zip"  # a larger budget than the finished run had: continue from its end
    run_dir.mkdir(parents=True, exist_ok=True)
    th.set_num_threads(int(n_threads))
    store = RowStore(run_dir / "curve.jsonl", ["settings_hash", "timesteps"])
    started = time.perf_counter()
    done_steps = 0
    if ckpt.exists():
        model = MaskablePPO.load(ckpt, device="cpu")
        done_steps = int(model.num_timesteps)
    ckpt = run_dir / "checkpoint.zip"
    part = -(-done_steps // int(meta["n_envs"]))  # distinct for every resume point: each part runs >= n_envs steps
    env_seed, model_seed = run_part_seeds(seed, part, meta["n_envs"])
    env = make_training_env(env_id, reward, meta["n_envs"], env_seed, env_kwargs)
    if done_steps:
        model.set_env(env)
        model.set_random_seed(model_seed)
    else:
        model = MaskablePPO(resolve_policy(meta["policy"]), env, seed=model_seed, **kwargs)
    callback = _curve_callback(store, ckpt, log_every, checkpoint_every, started, settings)
    if model.tensorboard_log is None:
        model.set_logger(in_memory_logger(int(model.verbose)))
    if total > done_steps:
        model.learn(total - done_steps, callback=callback, reset_num_timesteps=done_steps == 0)
        callback.flush()
    _atomic_save(model, run_dir / "model.zip")
    if model.env is not None:
        model.env.close()
    summary = {
        "env_id": env_id,
        "reward": reward,
        "seed": int(seed),
        "n_timesteps": int(model.num_timesteps),
        "resumed_from": done_steps,
        "train_seconds": round(time.perf_counter() - started + float(previous.get("train_seconds", 0.0)), 1),
        "hyperparams": json.loads(json.dumps(raw, default=str)),
        "env_kwargs": dict(env_kwargs or {}),
        "settings_hash": settings_hash(settings),
        "policy_config": asdict(model.policy.ranking_config),  # type: ignore[call-overload]
    }
    atomic_write_text(done_file, json.dumps(summary, indent=1))
    return summary


__all__ = [
    "REWARDS",
    "TRAIN_REWARDS",
    "engagement_scale",
    "gnn_hyperparams",
    "make_training_env",
    "ranker_run_dir",
    "ranker_settings",
    "train_ranker",
]
