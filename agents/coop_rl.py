"""Learned rewiring recommenders (issue 6): train the GNN ranking policy with MaskablePPO on the cooperation
dilemma, run it (and the heuristics) on replicas, and summarise what the recommenders do.

- :func:`train_ranker` trains one (env id, reward, seed) run through ``agents.train`` (hyperparameters from
  ``agents/hyperparams/ppo_mask.yml``), writing a learning curve and a checkpoint atomically every
  ``checkpoint_every`` steps; a killed run resumes from its last checkpoint.
- :class:`LearnedRanker` is a trained policy as a batched :class:`baselines.protocol.Policy` that runs on any N
  (the network has no size-N layer) and records the strategy and degree of every node it recommends.
- :func:`rollout_learned` runs a policy on R replicas of an env id and returns the per-replica end-of-episode
  metrics; :func:`run_heuristics` runs the rewiring rules on the same replica seeds with the simulator.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

import recsim_envs  # noqa: F401  (registers the ids)
from agents.gnn import GNNRankingPolicy, graph_tensors, masked_logits, register_policy_alias
from agents.store import RowStore, atomic_write_text

REWARDS = ("coops", "rewires")
#: training rewards: the two of CooperationRewiring and RecommenderCompetition's adoption (its default weights)
TRAIN_REWARDS = (*REWARDS, "adoption")
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


# -- a trained network as a policy ---------------------------------------------------------------------------
class LearnedRanker:
    """A :class:`~agents.gnn.GNNRankingPolicy`'s network as a batched policy for raw env observations.

    ``act(obs, info)`` takes one observation dict or a stacked batch (as a gymnasium vector env returns it) of
    any graph size and returns node indices: the masked argmax (``deterministic=True``) or a sample drawn with a
    ``torch.Generator`` seeded by ``reset(seed)``. Every call appends the chosen nodes' strategy and degree
    (in node-feature units, see ``degree_scale``) to ``chosen_strategy`` / ``chosen_degree``.
    """

    batched = True

    def __init__(self, policy: GNNRankingPolicy, deterministic: bool = True, seed: int = 0):
        if not isinstance(policy, GNNRankingPolicy):
            raise ValueError(f"policy must be a GNNRankingPolicy, got {type(policy).__name__}")
        self.net = policy.net.eval()
        self.keys = policy.graph_keys
        self.allow_decline = bool(getattr(policy, "allow_decline", False))
        self.deterministic = bool(deterministic)
        self.generator = th.Generator().manual_seed(int(seed))
        self.chosen_strategy: list[np.ndarray] = []
        self.chosen_degree: list[np.ndarray] = []

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.generator.manual_seed(int(seed))

    def clear_stats(self) -> None:
        self.chosen_strategy, self.chosen_degree = [], []

    @th.no_grad()
    def probabilities(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Masked action probabilities ``[B, N]`` of a raw observation batch."""
        return th.softmax(self._logits(obs)[0], dim=-1).numpy()

    def _logits(self, obs: dict[str, np.ndarray]):
        single = np.asarray(obs[self.keys.nodes]).ndim == 2
        batch = {
            k: th.as_tensor(np.asarray(v))[None] if single else th.as_tensor(np.asarray(v)) for k, v in obs.items()
        }
        g = graph_tensors(batch, self.keys)
        f = self.net.config.node_features
        if g.x.shape[-1] > f:  # e.g. competition: [strategy, degree, one-hot recommender] -> the trained columns
            g = g._replace(x=g.x[..., :f])
        mask = g.mask
        if self.allow_decline:  # the focused node itself = "no new link" (a masked action the env skips)
            mask = mask | (th.arange(mask.shape[1]).unsqueeze(0) == g.focus.unsqueeze(1))
        return masked_logits(self.net.scores(g), mask), g.x, single

    @th.no_grad()
    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None):
        logits, x, single = self._logits(obs)
        if self.deterministic:
            action = logits.argmax(dim=-1)
        else:
            action = th.multinomial(th.softmax(logits, dim=-1), 1, generator=self.generator).squeeze(-1)
        rows = th.arange(x.shape[0])
        self.chosen_strategy.append(x[rows, action, 0].numpy().copy())
        self.chosen_degree.append(x[rows, action, 1].numpy().copy())
        a = action.numpy()
        return int(a[0]) if single else a


class RulePolicy:
    """A rewiring heuristic as a batched policy on the env's observations (docs/models/coop.md rules).

    Candidates are the valid targets (``action_mask``; in competition with an exclusive agent these are already
    its own users), restricted by the rule: ``NO_MED`` N(b) (triadic closure through the dropped node b),
    ``GOOD`` cooperators, ``BAD`` defectors, ``RANDOM`` all, ``FAIR`` a's strategy, and the grid
    ``{D,ANY,C}_{LOW,HIGH}`` (lowest / highest degree in the group, ties at random). ``NULL`` declines every
    rewire. With no candidate it answers the focused node itself, a masked action that the env
    (``invalid_action="skip"``) treats as a declined rewire — the simulator's "skip". Draws come from a numpy
    ``Generator`` seeded by ``reset(seed)``.
    """

    batched = True
    RULES = ("NULL", "NO_MED", "GOOD", "BAD", "RANDOM", "FAIR", "D_LOW", "D_HIGH", "ANY_LOW", "ANY_HIGH", "C_LOW",
             "C_HIGH")  # fmt: skip

    def __init__(self, rule: str, seed: int = 0):
        rule = str(rule).upper().removesuffix("_X")
        if rule not in self.RULES:
            raise ValueError(f"rule must be one of {list(self.RULES)} (optionally with _X), got {rule!r}")
        self.rule = rule
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None):
        single = np.asarray(obs["node_features"]).ndim == 2
        o = {k: np.asarray(v)[None] if single else np.asarray(v) for k, v in obs.items()}
        feats = o["node_features"]
        b, n = feats.shape[:2]
        strat, deg = feats[..., 0] > 0.5, feats[..., 1] * (n - 1)
        focus = o["focused_node"].reshape(b).astype(np.int64)
        rows = np.arange(b)
        cand = o["action_mask"].astype(bool).copy()
        rule = self.rule
        if rule == "NULL":
            cand[:] = False
        elif rule == "NO_MED":
            cand &= o["adjacency"][rows, o["dropped_node"].reshape(b).astype(np.int64)].astype(bool)
        elif rule == "FAIR":
            cand &= strat == strat[rows, focus][:, None]
        elif rule == "GOOD" or rule.startswith("C_"):
            cand &= strat
        elif rule == "BAD" or rule.startswith("D_"):
            cand &= ~strat
        noise = self.rng.random((b, n))
        if rule.endswith("_LOW"):
            key = -deg + 0.5 * noise
        elif rule.endswith("_HIGH"):
            key = deg + 0.5 * noise
        else:
            key = noise
        key = np.where(cand, key, -np.inf)
        action = np.where(cand.any(1), key.argmax(1), focus)
        return int(action[0]) if single else action


def load_ranker(path: str | Path, deterministic: bool = True, seed: int = 0) -> LearnedRanker:
    """A :class:`LearnedRanker` from a saved MaskablePPO ``.zip`` (or a run directory holding ``model.zip``)."""
    from sb3_contrib import MaskablePPO

    path = Path(path)
    if path.is_dir():
        path = path / "model.zip"
    if not path.exists():
        raise ValueError(f"path {str(path)!r} does not exist")
    model = MaskablePPO.load(path, device="cpu")
    return LearnedRanker(model.policy, deterministic=deterministic, seed=seed)


# -- rollouts ------------------------------------------------------------------------------------------------
def _check_pos_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer in [1, inf), got {value!r}")
    return int(value)


def rollout_learned(
    policy,
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
    n = _check_pos_int("n_replicas", n_replicas)
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **(env_kwargs or {}))
    obs, info = venv.reset(seed=int(seed))
    if hasattr(policy, "reset"):
        policy.reset(int(seed))
    track = isinstance(policy, LearnedRanker)
    n_nodes = int(venv.single_action_space.n)
    ret = np.zeros(n)
    decisions = np.zeros(n)
    strat_sum, deg_sum, declined = np.zeros(n), np.zeros(n), np.zeros(n)
    final: dict[str, np.ndarray] = {}
    active = np.ones(n, dtype=bool)
    for _ in range(max_decisions):
        if track:
            policy.clear_stats()
        action = np.asarray(policy.act(obs, info))
        said_no = active & (obs["action_mask"][np.arange(n), action] == 0)
        declined += said_no
        if track:
            linked = active & ~said_no
            strat_sum += np.where(linked, policy.chosen_strategy[-1], 0.0)
            deg_sum += np.where(linked, policy.chosen_degree[-1] * (n_nodes - 1), 0.0)
        obs, reward, terminated, truncated, info = venv.step(action)
        ret += np.where(active, np.asarray(reward, dtype=float), 0.0)
        decisions += active
        done = np.logical_or(terminated, truncated) & active
        if done.any():
            src = info.get("final_info", info)
            for key in END_METRICS:
                if key in src:
                    final.setdefault(key, np.full(n, np.nan))
                    final[key][done] = np.asarray(src[key], dtype=float)[done]
            active &= ~done
        if not active.any():
            break
    else:
        raise RuntimeError(f"{env_id}: episodes did not end within max_decisions={max_decisions}")
    venv.close()
    out = {"return": ret, "decisions": decisions, "declined": declined, **final}
    if track:
        steps = np.maximum(decisions - declined, 1)
        out["action_strategy"] = strat_sum / steps
        out["action_degree"] = deg_sum / steps
    return out


def rollout_competition(
    policy,
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
    n = _check_pos_int("n_replicas", n_replicas)
    bins = _check_pos_int("bins", bins)
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **(env_kwargs or {}))
    max_steps = int(venv.unwrapped.config.max_steps) if hasattr(venv.unwrapped, "config") else None
    if max_steps is None:
        max_steps = int({**gym.spec(env_id).kwargs, **(env_kwargs or {})}.get("max_steps", 10_000))
    obs, info = venv.reset(seed=int(seed))
    if hasattr(policy, "reset"):
        policy.reset(int(seed))
    series = {k: np.full((n, bins), np.nan) for k in ("share_t", "coop_t", "rewires_t")}
    rec_c, rec_n = np.zeros((n, bins)), np.zeros((n, bins))
    first = np.asarray(info["agent_share"], dtype=float).copy()
    final: dict[str, np.ndarray] = {}
    decisions = np.zeros(n)
    active = np.ones(n, dtype=bool)

    def slot_of(src: dict[str, Any]) -> np.ndarray:
        return np.minimum((np.asarray(src["steps"]) * bins) // max_steps, bins - 1).astype(int)

    def record(src: dict[str, Any], which: np.ndarray) -> None:
        slot = slot_of(src)
        for key, name in (("share_t", "agent_share"), ("coop_t", "cooperator_fraction"), ("rewires_t", "rewires")):
            val = np.asarray(src[name], dtype=float)
            series[key][which, slot[which]] = val[which]

    record(info, active)
    for _ in range(max_decisions):
        action = np.asarray(policy.act(obs, info))
        valid = obs["action_mask"][np.arange(n), action] > 0
        chose_c = obs["node_features"][np.arange(n), action, 0] > 0.5
        slot = slot_of(info)
        np.add.at(rec_n, (np.flatnonzero(active), slot[active]), 1.0)
        np.add.at(rec_c, (np.flatnonzero(active), slot[active]), (chose_c & valid)[active].astype(float))
        obs, _, terminated, truncated, info = venv.step(action)
        decisions += active
        done = np.logical_or(terminated, truncated) & active
        src = info.get("final_info", info) if done.any() else info
        record(src, active)
        if done.any():
            for key in ("agent_share", "cooperator_fraction", "rewires", "steps"):
                final.setdefault(key, np.full(n, np.nan))
                final[key][done] = np.asarray(src[key], dtype=float)[done]
            active &= ~done
        if not active.any():
            break
    else:
        raise RuntimeError(f"{env_id}: episodes did not end within max_decisions={max_decisions}")
    venv.close()
    for key in series:  # carry values forward through slices without a decision, and past the episode end
        arr = series[key]
        for j in range(1, bins):
            arr[:, j] = np.where(np.isnan(arr[:, j]), arr[:, j - 1], arr[:, j])
        for j in range(bins - 2, -1, -1):  # slices before the first report: the first value seen
            arr[:, j] = np.where(np.isnan(arr[:, j]), arr[:, j + 1], arr[:, j])
    series["recommended_c_t"] = np.divide(rec_c, rec_n, out=np.full((n, bins), np.nan), where=rec_n > 0)
    series["decisions_t"] = rec_n
    out: dict[str, Any] = {k: [float(x) for x in v] for k, v in final.items()}
    out["initial_share"] = [float(x) for x in first]
    out["decisions"] = [float(x) for x in decisions]
    out.update({k: v.tolist() for k, v in series.items()})
    return out


def run_heuristics(
    rules: Sequence[str], n_replicas: int, seed: int, model: dict[str, Any]
) -> dict[str, dict[str, np.ndarray]]:
    """Each rule on replicas ``seed .. seed + n_replicas - 1`` with the simulator (same streams as the env's
    replicas with the same seeds): rule -> :meth:`CoopBatch.metrics` arrays."""
    from recsim_envs.coop import simulate

    return {rule: simulate(rule, n_replicas, seed, **model) for rule in rules}


# -- training ------------------------------------------------------------------------------------------------
def _atomic_save(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)


def _curve_callback(store: RowStore, model_path: Path, log_every: int, checkpoint_every: int, started: float):
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
            self.pending.append(row)
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


def _engagement_wrapper(venv, steps_per_unit: float, per_request: float):
    """SB3 VecEnv wrapper: reward = +(rewire requests since the last decision) · ``per_request``.

    Built from the magnitude of the env's named ``rewires`` component (requests / ``max_steps``), so it does
    not depend on that component's sign convention (the env counts it as a cost; engagement is a gain).
    """
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class EngagementReward(VecEnvWrapper):
        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, _, dones, infos = self.venv.step_wait()
            req = np.array([abs(float(i["rewards"]["rewires"])) * steps_per_unit for i in infos])
            return obs, (np.rint(req) * per_request).astype(np.float32), dones, infos

    return EngagementReward(venv)


def make_training_env(env_id: str, reward: str, n_envs: int, seed: int, env_kwargs: dict[str, Any] | None = None):
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
        max_steps = int({**gym.spec(env_id).kwargs, **kw}.get("max_steps", 3000))
        venv = _engagement_wrapper(venv, max_steps, engagement_scale(env_id, kw))
    return VecMonitor(venv)


def gnn_hyperparams(env_id: str, conf_file: str | Path | None = None) -> dict[str, Any]:
    """The zoo-shaped entry for ``env_id`` whose ``policy`` is ``GNNRankingPolicy`` in ``ppo_mask.yml`` (or
    ``conf_file``). The file may hold several entries under the same id (e.g. an MLP baseline); a plain YAML load
    keeps only the last, so the mapping is read with duplicates kept and the last GNN entry is returned.
    ``ValueError`` if there is none."""
    import yaml

    from agents.hyperparams import HYPERPARAMS_DIR

    path = Path(conf_file) if conf_file is not None else HYPERPARAMS_DIR / "ppo_mask.yml"
    if not path.exists():
        raise ValueError(f"conf_file {str(path)!r} does not exist")

    class PairsLoader(yaml.SafeLoader):
        pass

    def pairs(loader, node):
        return [(loader.construct_object(k, deep=True), loader.construct_object(v, deep=True)) for k, v in node.value]

    PairsLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, pairs)
    top = yaml.load(path.read_text(), Loader=PairsLoader) or []  # noqa: S506 (a SafeLoader subclass)
    found = [dict(v) for k, v in top if k == env_id and dict(v).get("policy") == "GNNRankingPolicy"]
    if not found:
        raise ValueError(f"env_id {env_id!r} has no GNNRankingPolicy entry in {path}")
    return found[-1]


def run_part_seeds(seed: int, done_steps: int) -> tuple[int, int]:
    """(env seed, model seed) of the part of training run ``seed`` that starts after ``done_steps`` steps.

    A fresh run (``done_steps == 0``) keeps the historical seeds (env i = ``seed·100000 + i``, model = ``seed``),
    so existing results stay reproducible. A resumed part draws both from ``numpy.random.SeedSequence`` keyed by
    (seed, done_steps) and lifted above 2^40, where no fresh run's env seeds lie (seed < 2^23 there): env seeds
    ``e .. e + n_envs − 1`` of two different parts overlap only if two 62-bit hashes land within n_envs of each
    other (probability ≈ n_envs·parts²/2^62). The old rule ``seed·100000 + done_steps`` overlapped run seed + 1's
    range as soon as a part resumed past 100,000 steps.
    """
    from agents.train import ENV_SEED_STRIDE

    seed, done_steps = int(seed), int(done_steps)
    if done_steps == 0:
        return seed * ENV_SEED_STRIDE, seed
    e, m = np.random.SeedSequence([seed, done_steps]).generate_state(2, np.uint64)
    return int(e >> np.uint64(2)) | (1 << 40), int(m >> np.uint64(33))


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
    both from :func:`run_part_seeds`, streams that no other run or part shares). Writes into
    ``run_dir``: ``curve.jsonl`` (rows ``timesteps, episodes, return, cooperator_fraction, rewires, wall_s``),
    ``checkpoint.zip`` (every ``checkpoint_every`` steps, atomic), ``model.zip`` and ``config.json`` when done.
    A finished run directory is returned as is, or continued from its ``model.zip`` when ``n_timesteps`` asks
    for more; one with only a checkpoint resumes from it. Resumed parts use fresh episodes from streams no other run
    or part uses (a valid run of the same configuration, not bit-identical to an uninterrupted one);
    ``train_seconds`` adds up the parts.
    """
    from sb3_contrib import MaskablePPO

    from agents.hyperparams import resolve

    if reward not in TRAIN_REWARDS:
        raise ValueError(f"reward must be one of {list(TRAIN_REWARDS)}, got {reward!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer in [0, inf), got {seed!r}")
    log_every = _check_pos_int("log_every", log_every)
    checkpoint_every = _check_pos_int("checkpoint_every", checkpoint_every)
    raw = gnn_hyperparams(env_id, conf_file)
    raw.update(overrides or {})
    if n_timesteps is not None:
        raw["n_timesteps"] = _check_pos_int("n_timesteps", n_timesteps)
    meta, kwargs = resolve(raw)
    total = int(meta["n_timesteps"])
    run_dir = Path(run_dir)
    done_file = run_dir / "config.json"
    ckpt = run_dir / "checkpoint.zip"
    previous: dict[str, Any] = {}
    if (run_dir / "model.zip").exists() and done_file.exists():
        previous = json.loads(done_file.read_text())
        if previous["n_timesteps"] >= total:
            return previous
        ckpt = run_dir / "model.zip"  # a larger budget than the finished run had: continue from its end
    run_dir.mkdir(parents=True, exist_ok=True)
    register_policy_alias()
    th.set_num_threads(int(n_threads))
    store = RowStore(run_dir / "curve.jsonl", ["timesteps"])
    started = time.perf_counter()
    done_steps = 0
    if ckpt.exists():
        model = MaskablePPO.load(ckpt, device="cpu")
        done_steps = int(model.num_timesteps)
    ckpt = run_dir / "checkpoint.zip"
    env_seed, model_seed = run_part_seeds(seed, done_steps)
    env = make_training_env(env_id, reward, meta["n_envs"], env_seed, env_kwargs)
    if done_steps:
        model.set_env(env)
        model.set_random_seed(model_seed)
    else:
        model = MaskablePPO(meta["policy"], env, seed=int(seed), **kwargs)
    callback = _curve_callback(store, ckpt, log_every, checkpoint_every, started)
    if model.tensorboard_log is None:
        from agents.train import in_memory_logger

        model.set_logger(in_memory_logger(int(model.verbose)))
    if total > done_steps:
        model.learn(total - done_steps, callback=callback, reset_num_timesteps=done_steps == 0)
        callback.flush()
    _atomic_save(model, run_dir / "model.zip")
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
        "policy_config": asdict(model.policy.ranking_config),
    }
    atomic_write_text(done_file, json.dumps(summary, indent=1))
    return summary


__all__ = [
    "END_METRICS",
    "engagement_scale",
    "gnn_hyperparams",
    "make_training_env",
    "HEURISTICS",
    "REWARDS",
    "TRAIN_REWARDS",
    "LearnedRanker",
    "RulePolicy",
    "rollout_competition",
    "load_ranker",
    "rollout_learned",
    "run_heuristics",
    "run_part_seeds",
    "train_ranker",
]
