"""Validation of the learned user model (Carroll et al. 2022, Fig. 5, Fig. 6, Table 2).

Usage::

    python -m recsim_envs.preference.learned.train                       # shipped checkpoint (if absent)
    python -m recsim_envs.preference.learned.train --choice-model constant \\
        --out results/preference_learned/user_model_misspecified.npz     # mis-specified choice model
    python -m benchmarks.reproduce_preference_estimation [--out results/preference_learned] [--sections ...]

Every unit of work (the Fig. 5 section, the Fig. 6 section, each Table 2 (policy, seed) row) is a task of
``benchmarks.executor`` (``--executor serial|process|ray``, ``--workers``, ``--ray-address``). Its result is a row
of ``<out>/rows.jsonl`` (``benchmarks.store.SettingsStore``) keyed by the hash of every setting that changes it —
the sha256 of the user-model checkpoints, the fresh seed, the algorithm and its hyperparameters, training steps,
seed and evaluation users — and written by the driver alone as soon as the task finishes; a rerun computes only
the rows whose settings are missing. ``<out>/estimation.json`` (the human-readable summary) is rebuilt from the
rows of this invocation's settings. Sections:

- ``fig5``: choice-prediction loss (mean −log P(x_t | history)) and top-1 accuracy on the 2,500 held-out
  trajectories for the learned model, the exact NHMM oracle, the prior-aware no-history predictor (the known
  u_0 prior propagated through the shown slates, no choices: what knowing the population but not the user
  gives), a slate-only predictor (uniform belief over preferences pushed through the choice model), a uniform
  random predictor, and the model trained under a mis-specified choice model (β_c ≡ 1); then preference
  prediction against the hidden true preferences (P̂_f vs u_t, P̂_i vs u_0, next to the oracle's
  filtering/smoothing beliefs). ``fig5["fresh"]`` repeats the learned / oracle / no-history losses on 5,000
  trajectories generated from a seed never used in training (:data:`FRESH_SEED`) and reports the fraction of the
  oracle's gain over the no-history predictor that the learned model recovers.
- ``fig6``: natural shifts of the held-out users over 10 steps — the truth (T_rnd^t from each user's true u_0),
  the oracle's estimate from the data (γ_0 T_rnd^t) and the learned estimate (P̂_i and Algorithm 2) — as
  total-variation distances and mean angles, and ``fig6_natural_shifts.png``; plus Algorithm 1 on the six
  constant slates (estimated vs exact cohort at t = 10).
- ``table2``: PPO (``--algo ppo``, MLP; or ``--algo ppo_lstm``, RecurrentPPO with the paper's 64-cell LSTM,
  stored under ``table2_ppo_lstm``) trained in the learned simulator (``PreferenceShiftLearned-v0`` unpenalised
  and ``PreferenceShiftLearnedPenalized-v0``) with ``agents.train``, evaluated on 1,000 ground-truth users
  (oracle evaluation, choice-marginalised metrics of ``PreferenceShift-v0``) and on 1,000 simulated users
  (estimated evaluation).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.executor import add_executor_args, executor_options, run_missing
from benchmarks.store import SettingsStore, atomic_write_text, settings_hash, settings_row
from recsim_envs.preference.learned.data import HistoricalData, ground_truth_config
from recsim_envs.preference.learned.network import DEFAULT_CHECKPOINT, LearnedUserModel
from recsim_envs.preference.oracle import NHMMOracle
from recsim_envs.preference.world import N_BINS, THETA_DEG, action_slates

SECTIONS = ("fig5", "fig6", "table2")
#: seed of the fresh evaluation data (never used to generate training data)
FRESH_SEED = 987_654
#: trajectories of the fresh evaluation data
FRESH_TRAJECTORIES = 5000
#: Algorithm 1's samples per constant slate (Fig. 6)
ALG1_SAMPLES = 500
METRIC_NAMES = ("engagement", "engagement_initial", "engagement_natural")


# -- results file --------------------------------------------------------------------------------------------
def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(path: Path, results: dict) -> None:
    atomic_write_text(path, json.dumps(results, indent=1))


def held_out_data(model: LearnedUserModel, work: Path) -> HistoricalData:
    """The checkpoint's held-out split (regenerated from the recorded seed if the data file is absent)."""
    from recsim_envs.preference.learned.train import load_or_generate_data

    meta = model.meta["data"]
    data = load_or_generate_data(
        work / f"historical_data_seed{meta['seed']}.npz", meta["seed"], meta["n_trajectories"], meta["horizon"]
    )
    return data.split(model.meta["n_test"])[1]


def exact_oracle(slates: np.ndarray) -> NHMMOracle:
    cfg = ground_truth_config()
    return NHMMOracle(slates, cfg.tables["beta_c"], cfg.beta_d, cfg.flexibility, cfg.tables["prior"])


def circ_bins(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + N_BINS // 2) % N_BINS - N_BINS // 2)


def tv(p, q):
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


def mean_angle(dist):
    v = dist @ np.stack([np.cos(np.deg2rad(THETA_DEG)), np.sin(np.deg2rad(THETA_DEG))], axis=1)
    return float(np.rad2deg(np.arctan2(v[1], v[0])) % 360.0)


# -- Fig. 5 ---------------------------------------------------------------------------------------------------
def choice_scores(pred: np.ndarray, choices: np.ndarray) -> dict:
    p = np.take_along_axis(pred, choices[..., None], -1)[..., 0]
    return dict(loss=float(-np.log(p).mean()), accuracy=float((pred.argmax(-1) == choices).mean()))


def model_choice_predictions(model: LearnedUserModel, d: HistoricalData) -> tuple[np.ndarray, np.ndarray]:
    belief = model.future_beliefs(d.slate_table[d.slates], d.choices)  # [n, T+1, 36]
    em = model.emission(d.slate_table)[d.slates]  # [n, T, u, x]
    return np.einsum("ntu,ntux->ntx", belief[:, :-1], em), belief


def preference_scores(belief: np.ndarray, truth: np.ndarray) -> dict:
    """Top-1 bin accuracy, within ±10° / ±30°, mean log-probability of the true bin, mean abs error of the mode."""
    mode = belief.argmax(-1)
    err = circ_bins(mode, truth)
    p_true = np.take_along_axis(belief, truth[..., None], -1)[..., 0]
    return dict(
        accuracy=float((err == 0).mean()),
        within_10deg=float((err <= 1).mean()),
        within_30deg=float((err <= 3).mean()),
        log_prob_true=float(np.log(np.maximum(p_true, 1e-300)).mean()),
        mean_abs_error_deg=float(10.0 * err.mean()),
    )


def no_history_predictions(oracle: NHMMOracle, d: HistoricalData) -> np.ndarray:
    """P(x_t | prior, s_0..s_t) without any choice: the u_0 prior pushed through the shown slates' transitions."""
    marginal = oracle.predict_under_policy(np.broadcast_to(oracle.prior, (d.n, N_BINS)), d.slates)[:, :-1]
    return np.einsum("ntu,ntux->ntx", marginal, oracle.emission[d.slates])


def gain_over_no_history(model: LearnedUserModel, d: HistoricalData) -> dict:
    """Losses of the learned model, the oracle and the no-history predictor on ``d``; the fraction of the
    oracle's gain over the no-history predictor that the learned model recovers, and its gap to the oracle."""
    oracle = exact_oracle(d.slate_table)
    loss = dict(
        learned=choice_scores(model_choice_predictions(model, d)[0], d.choices)["loss"],
        oracle=choice_scores(oracle.filter(d.slates, d.choices).choice_predictions, d.choices)["loss"],
        no_history=choice_scores(no_history_predictions(oracle, d), d.choices)["loss"],
    )
    return dict(
        loss=loss,
        fraction_of_oracle_gain=(loss["no_history"] - loss["learned"]) / (loss["no_history"] - loss["oracle"]),
        gap_to_oracle=loss["learned"] - loss["oracle"],
        n_trajectories=d.n,
    )


def fresh_data(model: LearnedUserModel, n: int = FRESH_TRAJECTORIES) -> HistoricalData:
    """``n`` trajectories from :data:`FRESH_SEED` (refused if the checkpoint's training data used that seed)."""
    from recsim_envs.preference.learned.data import generate_historical_data

    if model.meta.get("data", {}).get("seed") == FRESH_SEED:
        raise ValueError(f"the checkpoint was trained on data of seed {FRESH_SEED}; pick another fresh seed")
    return generate_historical_data(n_trajectories=n, horizon=model.horizon, seed=FRESH_SEED)


def run_fig5(model: LearnedUserModel, misspecified: LearnedUserModel | None, d: HistoricalData) -> dict:
    oracle = exact_oracle(d.slate_table)
    f = oracle.filter(d.slates, d.choices)
    gamma = oracle.smooth(d.slates, d.choices)
    out: dict = {"n_trajectories": d.n, "horizon": d.horizon, "choice": {}, "preference_t": {}, "preference_u0": {}}
    pred, belief = model_choice_predictions(model, d)
    out["choice"]["learned"] = choice_scores(pred, d.choices)
    out["choice"]["oracle"] = choice_scores(f.choice_predictions, d.choices)
    out["choice"]["prior_no_history"] = choice_scores(no_history_predictions(oracle, d), d.choices)
    slate_only = oracle.emission[d.slates].mean(axis=2)  # uniform belief over u
    out["choice"]["slate_only"] = choice_scores(slate_only, d.choices)
    out["choice"]["random"] = choice_scores(np.full(d.choices.shape + (N_BINS,), 1.0 / N_BINS), d.choices)
    for b in (0, 1):
        idx = d.behaviour == b
        key = "uniform_fine" if b == 0 else "mostly_flat"
        out["choice"][f"learned[{key}]"] = choice_scores(pred[idx], d.choices[idx])
        out["choice"][f"oracle[{key}]"] = choice_scores(f.choice_predictions[idx], d.choices[idx])
    out["preference_t"]["learned P̂_f"] = preference_scores(belief, d.preferences)
    out["preference_t"]["oracle filter"] = preference_scores(f.alpha, d.preferences)
    out["preference_t"]["prior"] = preference_scores(np.broadcast_to(oracle.prior, belief.shape), d.preferences)
    sv, full = d.slate_table[d.slates], np.full(d.n, d.horizon)
    out["preference_u0"]["learned P̂_i (E.2 corrected)"] = preference_scores(
        model.initial_belief(sv, d.choices, full), d.preferences[:, 0]
    )
    out["preference_u0"]["learned P̂_i (uncorrected)"] = preference_scores(
        model.initial_belief(sv, d.choices, full, corrected=False), d.preferences[:, 0]
    )
    out["preference_u0"]["oracle smoothing"] = preference_scores(gamma[:, 0], d.preferences[:, 0])
    if misspecified is not None:
        pred_m, belief_m = model_choice_predictions(misspecified, d)
        out["choice"]["learned, mis-specified β_c ≡ 1"] = choice_scores(pred_m, d.choices)
        # the same beliefs scored through the true choice model
        em_true = oracle.emission[d.slates]
        out["choice"]["learned, mis-specified (beliefs through true choice model)"] = choice_scores(
            np.einsum("ntu,ntux->ntx", belief_m[:, :-1], em_true), d.choices
        )
        out["preference_t"]["learned P̂_f, mis-specified"] = preference_scores(belief_m, d.preferences)
        out["preference_u0"]["learned P̂_i, mis-specified"] = preference_scores(
            misspecified.initial_belief(sv, d.choices, full), d.preferences[:, 0]
        )
    return out


# -- Fig. 6 ---------------------------------------------------------------------------------------------------
def run_fig6(model: LearnedUserModel, d: HistoricalData, png: Path | None) -> dict:
    """Fig. 6 numbers, with the three natural-shift distributions [T+1, 36] (``"distributions"``); the figure is
    written to ``png`` unless it is None (see :func:`plot_fig6`)."""
    from recsim_envs.preference.learned.algorithms import predict_future_preferences

    oracle = exact_oracle(d.slate_table)
    T = d.horizon
    true_u0 = np.eye(N_BINS)[d.preferences[:, 0]]
    true_nat = oracle.natural_shift(true_u0, T).mean(axis=0)  # [T+1, 36]
    gamma0 = oracle.initial_preference_belief(d.slates, d.choices)
    oracle_nat = oracle.natural_shift(gamma0, T).mean(axis=0)
    b0 = model.initial_belief(d.slate_table[d.slates], d.choices, np.full(d.n, T))
    learned_nat = np.stack([model.natural_shift(b0, t).mean(axis=0) for t in range(T + 1)])
    out = dict(
        tv_learned_vs_true=[float(x) for x in tv(learned_nat, true_nat)],
        tv_oracle_vs_true=[float(x) for x in tv(oracle_nat, true_nat)],
        mean_angle_true=[mean_angle(x) for x in true_nat],
        mean_angle_oracle=[mean_angle(x) for x in oracle_nat],
        mean_angle_learned=[mean_angle(x) for x in learned_nat],
    )
    # Algorithm 1: cohort under each constant "six" slate from the population prior, estimated vs exact
    slates, means, _ = action_slates("six")
    six = exact_oracle(slates)
    alg1 = {}
    for a in range(len(slates) - 1):  # the six peaked slates (the last action is the flat slate, π_rnd)
        rng = np.random.default_rng(a)
        est = predict_future_preferences(model, slates, np.full(T, a), T, n_samples=ALG1_SAMPLES, rng=rng)[0]
        exact = six.predict_under_policy(six.prior, np.full(T, a))[0]
        alg1[f"constant {means[a]:.0f}°"] = dict(
            tv_t10=float(tv(est[T], exact[T])), mean_angle_est=mean_angle(est[T]), mean_angle_exact=mean_angle(exact[T])
        )
    out["algorithm1_constant_slates"] = alg1
    out["distributions"] = {"true": true_nat.tolist(), "oracle": oracle_nat.tolist(), "learned": learned_nat.tolist()}
    if png is not None:
        plot_fig6(out, png)
    return out


def plot_fig6(fig6: dict, png: Path) -> None:
    """``fig6_natural_shifts.png`` from :func:`run_fig6`'s distributions; records the path in ``fig6["png"]``."""
    dist = {k: np.asarray(v) for k, v in fig6["distributions"].items()}
    _plot_fig6(dist["true"], dist["oracle"], dist["learned"], png)
    fig6["png"] = str(png)


def _plot_fig6(true_nat, oracle_nat, learned_nat, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("true natural shifts (hidden u_0)", true_nat),
        ("oracle estimate from data", oracle_nat),
        ("learned estimate (P̂_i + Algorithm 2)", learned_nat),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    vmax = max(p.max() for _, p in panels)
    for ax, (title, dist) in zip(axes, panels):
        im = ax.imshow(dist.T, origin="lower", aspect="auto", vmin=0, vmax=vmax, extent=(-0.5, len(dist) - 0.5, 0, 360))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("timestep t")
    axes[0].set_ylabel("preference angle (°)")
    fig.colorbar(im, ax=axes, fraction=0.02)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)


# -- Table 2 --------------------------------------------------------------------------------------------------
#: PPO settings for the learned-simulator ids (zoo-shaped; written to a conf file for agents.train)
PPO_LEARNED = dict(
    n_envs=32,
    n_timesteps=100_000,
    policy="MlpPolicy",
    n_steps=40,
    batch_size=320,
    n_epochs=4,
    gamma=0.99,
    gae_lambda=0.95,
    learning_rate=3e-4,
    clip_range=0.2,
    ent_coef=0.01,
    policy_kwargs="dict(net_arch=[64, 64])",
)
#: RecurrentPPO (the paper's 64-cell LSTM recommender) for the same ids, as agents/hyperparams/ppo_lstm.yml uses
#: for PreferenceShift-v0
PPO_LSTM_LEARNED = {
    **PPO_LEARNED,
    "policy": "MlpLstmPolicy",
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "policy_kwargs": "dict(lstm_hidden_size=64, net_arch=[64], enable_critic_lstm=True)",
}
ALGO_SETTINGS = {"ppo": PPO_LEARNED, "ppo_lstm": PPO_LSTM_LEARNED}
TABLE2_POLICIES = {
    "RL": "recsim_envs/PreferenceShiftLearned-v0",
    "RL penalised": "recsim_envs/PreferenceShiftLearnedPenalized-v0",
}


def table2_key(algo: str) -> str:
    return "table2" if algo == "ppo" else f"table2_{algo}"


def file_digest(path: Path) -> str:
    """sha256 (16 hex digits) of a file's bytes: a changed checkpoint is a new setting."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:16]


#: evaluation users' seeds of Table 2 (ground truth, learned simulator)
TABLE2_EVAL_SEEDS = {"oracle": 10_000_000, "estimated": 20_000_000}


def table2_settings(seeds: list[int], timesteps: int, n_eval: int, algo: str = "ppo") -> list[dict[str, Any]]:
    """One settings dict per (policy, seed) row: everything that changes it, including the learned simulator's
    checkpoint (the learned ids load the shipped one)."""
    if algo not in ALGO_SETTINGS:
        raise ValueError(f"algo must be one of {sorted(ALGO_SETTINGS)}, got {algo!r}")
    common = {"section": table2_key(algo), "algo": algo, "timesteps": timesteps, "n_eval": n_eval,
              "hyperparams": ALGO_SETTINGS[algo], "eval_seeds": TABLE2_EVAL_SEEDS,
              "simulator": file_digest(DEFAULT_CHECKPOINT)}  # fmt: skip
    return [{**common, "policy": name, "env_id": env_id, "seed": seed}
            for name, env_id in TABLE2_POLICIES.items() for seed in seeds]  # fmt: skip


def _table2_job(spec: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """Train and evaluate one Table 2 row (``benchmarks.executor`` task); its run folder is keyed by its settings."""
    import torch
    import yaml

    import recsim_envs  # noqa: F401
    from agents.evaluation import SB3Policy, evaluate_batched
    from agents.train import build_config, train

    s, work = spec
    torch.set_num_threads(1)
    run_root = Path(work) / "agents" / settings_hash(s)
    run_root.mkdir(parents=True, exist_ok=True)
    conf = run_root / f"{s['algo']}_learned.yml"
    atomic_write_text(conf, yaml.safe_dump({s["env_id"]: {**s["hyperparams"], "n_timesteps": s["timesteps"]}}))
    t0 = time.perf_counter()
    cfg = build_config(s["algo"], s["env_id"], seed=s["seed"], conf_file=str(conf))
    model, run_dir = train(cfg, log_folder=run_root, tensorboard=False)
    train_s = time.perf_counter() - t0
    policy = SB3Policy(model, deterministic=True)
    n_eval, seeds = s["n_eval"], s["eval_seeds"]
    truth = evaluate_batched(policy, "recsim_envs/PreferenceShift-v0", n_eval, seed=seeds["oracle"])
    est = evaluate_batched(policy, "recsim_envs/PreferenceShiftLearned-v0", n_eval, seed=seeds["estimated"])
    row: dict[str, Any] = dict(
        train_seconds=train_s,
        model=str(run_dir / "model.zip"),
        slate_usage=slate_usage(policy, n_eval),
        oracle={m: float(truth[f"expected_{m}"].mean()) for m in METRIC_NAMES},
        estimated={m: float(est[m].mean()) for m in METRIC_NAMES},
    )
    for k in ("oracle", "estimated"):
        row[k]["sum"] = sum(row[k][m] for m in METRIC_NAMES)
    return settings_row(s, row)


def run_table2(
    results: dict,
    results_path: Path,
    work: Path,
    seeds: list[int],
    timesteps: int,
    n_eval: int,
    algo: str = "ppo",
    executor: dict[str, Any] | None = None,
) -> dict:
    """Train and evaluate every (policy, seed) row whose settings are not yet in ``<work>/rows.jsonl`` (through
    ``benchmarks.executor``; rows are stored by the driver as they finish); put this invocation's rows in
    ``results`` and save it to ``results_path``."""
    store = SettingsStore(work / "rows.jsonl")
    plan = table2_settings(seeds, timesteps, n_eval, algo)

    def show(row: dict[str, Any]) -> None:
        key = f"{row['settings']['policy']}|{row['settings']['seed']}"
        sums = f"oracle sum {row['oracle']['sum']:.2f}, estimated sum {row['estimated']['sum']:.2f}"
        print(f"{table2_key(algo)} {key}: {sums}", flush=True)

    run_missing(
        _table2_job, [(s, str(work)) for s in plan], lambda j: j[0], store, failures_path=work / "failures.jsonl",
        on_row=show, desc="table2", describe=lambda j: f"{j[0]['policy']} seed {j[0]['seed']}", **(executor or {}),
    )  # fmt: skip
    table = {
        "settings": dict(algo=algo, timesteps=timesteps, seeds=seeds, n_eval=n_eval, hyperparams=ALGO_SETTINGS[algo]),
        "rows": {
            f"{r['settings']['policy']}|{r['settings']['seed']}": {k: v for k, v in r.items() if k != "settings"}
            for r in store.rows_for(plan)
        },
    }
    results[table2_key(algo)] = table
    save_results(results_path, results)
    return table


def slate_usage(policy, n_users: int) -> dict:
    """Share of each "six" slate (by mean angle) the policy shows ground-truth users, per step t."""
    import gymnasium as gym

    from baselines.protocol import reset_policy

    venv = gym.make_vec("recsim_envs/PreferenceShift-v0", num_envs=n_users, vectorization_mode="vector_entry_point")
    obs, info = venv.reset(seed=10_000_000)
    reset_policy(policy, 10_000_000)
    n_actions = venv.unwrapped.config.n_actions  # six peaked slates, then the flat slate (π_rnd)
    counts = np.zeros((venv.unwrapped.config.horizon, n_actions))
    for t in range(counts.shape[0]):
        a = np.asarray(policy.act(obs, info))
        counts[t] = np.bincount(a, minlength=n_actions) / n_users
        obs, _, _, _, info = venv.step(a)
    venv.close()
    label = [f"{60 * a}°" for a in range(n_actions - 1)] + ["flat"]
    return {label[a]: [round(float(x), 3) for x in counts[:, a]] for a in range(n_actions) if counts[:, a].any()}


def summarise_table2(table: dict) -> dict:
    out = {}
    for name in TABLE2_POLICIES:
        rows = [r for k, r in table["rows"].items() if k.split("|")[0] == name]
        if not rows:
            continue
        out[name] = {
            ev: {
                m: (float(np.mean([r[ev][m] for r in rows])), float(np.std([r[ev][m] for r in rows])))
                for m in (*METRIC_NAMES, "sum")
            }
            for ev in ("oracle", "estimated")
        }
        out[name]["n_seeds"] = len(rows)
    return out


def section_settings(section: str, checkpoint: Path, misspecified: Path) -> dict[str, Any]:
    """Everything that changes the ``fig5`` / ``fig6`` section: the checkpoints' bytes (their held-out data are
    recorded in them), the fresh data's seed and size, Algorithm 1's samples."""
    s: dict[str, Any] = {"section": section, "checkpoint": file_digest(checkpoint)}
    if section == "fig5":
        s["misspecified"] = file_digest(misspecified) if misspecified.is_file() else None
        s.update(fresh_seed=FRESH_SEED, fresh_trajectories=FRESH_TRAJECTORIES)
    else:
        s["algorithm1_samples"] = ALG1_SAMPLES
    return s


def _section_job(spec: tuple[dict[str, Any], str, str, str]) -> dict[str, Any]:
    """One section (``benchmarks.executor`` task): ``run_fig5`` (+ the fresh data) or ``run_fig6`` (no figure:
    the driver draws it)."""
    s, checkpoint, misspecified, out = spec
    model = LearnedUserModel.load(Path(checkpoint))
    d = held_out_data(model, Path(out))
    t0 = time.perf_counter()
    if s["section"] == "fig5":
        mis = LearnedUserModel.load(Path(misspecified)) if s["misspecified"] is not None else None
        result = run_fig5(model, mis, d)
        result["fresh"] = gain_over_no_history(model, fresh_data(model, FRESH_TRAJECTORIES))
    else:
        result = run_fig6(model, d, None)
    result["seconds"] = time.perf_counter() - t0
    return settings_row(s, {"result": result})


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--misspecified", type=Path, default=Path("results/preference_learned/user_model_misspecified.npz"))
    p.add_argument("--out", type=Path, default=Path("results/preference_learned"))
    p.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=SECTIONS)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--timesteps", type=int, default=100_000)
    p.add_argument("--algo", choices=sorted(ALGO_SETTINGS), default="ppo", help="ppo (MLP) or ppo_lstm (RecurrentPPO)")
    p.add_argument("--eval-users", type=int, default=1000)
    p.add_argument("--redo", action="store_true", help="discard every stored row and recompute")
    add_executor_args(p, default="serial")
    args = p.parse_args(argv)
    executor = executor_options(args)

    import recsim_envs  # noqa: F401

    results_path = args.out / "estimation.json"
    if args.redo and (args.out / "rows.jsonl").exists():
        (args.out / "rows.jsonl").unlink()
    results: dict = {}
    store = SettingsStore(args.out / "rows.jsonl")
    sections = [s for s in ("fig5", "fig6") if s in args.sections]
    plan = {s: section_settings(s, args.checkpoint, args.misspecified) for s in sections}
    if not all(store.has_settings(st) for st in plan.values()):  # the held-out data file, made here once if
        held_out_data(LearnedUserModel.load(args.checkpoint), args.out)  # absent (the tasks only read it)
    specs = [(st, str(args.checkpoint), str(args.misspecified), str(args.out)) for st in plan.values()]
    run_missing(_section_job, specs, lambda j: j[0], store, failures_path=args.out / "failures.jsonl",
                desc="sections", describe=lambda j: j[0]["section"], **executor)  # fmt: skip
    for section, st in plan.items():
        row = store.row(st)
        if row is not None:
            results[section] = row["result"]
    if "fig6" in results:
        plot_fig6(results["fig6"], args.out / "fig6_natural_shifts.png")
    save_results(results_path, results)
    key = table2_key(args.algo)
    if "table2" in args.sections:
        run_table2(results, results_path, args.out, args.seeds, args.timesteps, args.eval_users, args.algo, executor)
        results[key]["summary"] = summarise_table2(results[key])
        save_results(results_path, results)
    print(json.dumps({k: v for k, v in results.items() if not k.startswith("table2")}, indent=1))
    for k in results:
        if k.startswith("table2"):
            print(k, json.dumps(results[k].get("summary"), indent=1))
    return results


if __name__ == "__main__":
    main()
