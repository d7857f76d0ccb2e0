"""Rebuild a learned user-model checkpoint from its seed: ``python -m recsim_envs.preference.learned.train``.

Steps (each written atomically; ``--resume`` skips the finished ones): generate the historical data
(``--trajectories`` × 10 under the mixture behaviour policy, seed ``--seed``) and hold out the last ``--test``
trajectories; train P̂_f, P̂_i and P̂_c on the rest by the choice likelihood (AdamW, cosine learning-rate decay,
early stopping on a validation split); tabulate Algorithm 2's natural shifts; save the checkpoint and a JSON
training report next to it. ``--stages`` trains only some estimators, so P̂_f and P̂_i → P̂_c can run in two
processes (each stage keeps its own settings in its report); ``--resume`` then assembles the checkpoint.
``--choice-model constant`` trains the mis-specified variant (the model assumes β_c ≡ 1 instead of the users'
two-bump profile) used by the validation benchmark.

The shipped ``recsim_envs/preference/learned/assets/user_model.npz`` (recorded in its ``.json`` report)::

    python -m recsim_envs.preference.learned.train --stages future                       # P̂_f, ≤ 30 epochs
    python -m recsim_envs.preference.learned.train --max-epochs 10 --stages initial counterfactual
    python -m recsim_envs.preference.learned.train --resume                              # assemble + table

(the two training commands can run at the same time; each stage is bit-reproducible from the seed).

Needs torch (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recsim_envs.preference.learned.data import HistoricalData, generate_historical_data, ground_truth_config
from recsim_envs.preference.learned.network import (
    CHECKPOINT_FORMAT,
    DEFAULT_CHECKPOINT,
    LearnedUserModel,
    NetworkConfig,
)
from recsim_envs.preference.model import beta_c_profile
from recsim_envs.utils.files import atomic_save_npz, atomic_write_json

CHOICE_MODELS = ("true", "constant")


def load_or_generate_data(
    path: Path, seed: int, n: int, horizon: int, log: Callable[[str], None] = print
) -> HistoricalData:
    """The historical data at ``path`` if it was generated with these settings, else generate and save it."""
    if path.is_file():
        data = HistoricalData.load(path)
        if (data.meta.get("seed"), data.n, data.horizon) == (seed, n, horizon):
            log(f"data: reusing {path}")
            return data
    t0 = time.perf_counter()
    data = generate_historical_data(n_trajectories=n, horizon=horizon, seed=seed)
    data.save(path)
    log(f"data: generated {n} trajectories in {time.perf_counter() - t0:.1f} s -> {path}")
    return data


def assumed_beta_c(choice_model: str) -> np.ndarray:
    """β_c profile the model assumes: the users' own (``true``) or the mis-specified constant 1."""
    if choice_model == "true":
        return ground_truth_config().tables["beta_c"]
    if choice_model == "constant":
        return beta_c_profile("constant")
    raise ValueError(f"choice_model must be one of {list(CHOICE_MODELS)}, got {choice_model!r}")


def main(argv: list[str] | None = None) -> dict:
    from recsim_envs.preference.learned.transformer import TrainConfig, train_user_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="seed of the data, the training and the natural-shift table")
    p.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint path (.npz)")
    p.add_argument("--work", type=Path, default=Path("results/preference_learned"), help="data and stage files")
    p.add_argument("--choice-model", choices=CHOICE_MODELS, default="true", help="choice model the model assumes")
    p.add_argument("--trajectories", type=int, default=50_000, help="generated trajectories (train + test)")
    p.add_argument("--test", type=int, default=2_500, help="held-out trajectories (never trained on)")
    p.add_argument("--horizon", type=int, default=10)
    defaults = TrainConfig()
    p.add_argument(
        "--max-epochs", type=int, default=30, help="epochs per estimator at most (the paper's 100 is the class default)"
    )
    p.add_argument("--patience", type=int, default=defaults.patience, help="early-stopping patience (epochs)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--dropout", type=float, default=defaults.dropout)
    p.add_argument("--validation-fraction", type=float, default=defaults.validation_fraction)
    p.add_argument("--table-samples", type=int, default=256, help="Algorithm-2 particles per initial bin")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: tiny matrices, no contention)")
    p.add_argument("--resume", action="store_true", help="reuse finished stages in --work")
    p.add_argument(
        "--stages",
        nargs="*",
        choices=("future", "initial", "counterfactual"),
        default=None,
        help="train only these estimators and stop (run P̂_f and P̂_i → P̂_c in two processes, then assemble "
        "with --resume); default: all",
    )
    args = p.parse_args(argv)

    import torch

    from recsim_envs.preference.learned.algorithms import natural_shift_table

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    data = load_or_generate_data(
        args.work / f"historical_data_seed{args.seed}.npz", args.seed, args.trajectories, args.horizon
    )
    train_data, _ = data.split(args.test)
    tcfg = TrainConfig(
        max_epochs=args.max_epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        validation_fraction=args.validation_fraction,
    )
    beta_c = assumed_beta_c(args.choice_model)
    stage_dir = args.work / f"stages_{args.out.stem}_seed{args.seed}_{args.choice_model}"
    # the data a stage was trained on; each stage's optimisation settings are in its own report ("train"), so
    # stages trained with different budgets (e.g. in parallel processes) can be assembled with --resume
    settings = dict(
        seed=args.seed,
        choice_model=args.choice_model,
        n=args.trajectories,
        n_test=args.test,
        format=CHECKPOINT_FORMAT,
    )
    done = {}
    if args.resume and (stage_dir / "settings.json").is_file():
        if json.loads((stage_dir / "settings.json").read_text()) == settings:
            for name in ("future", "initial", "counterfactual"):
                f = stage_dir / f"{name}.npz"
                if f.is_file():
                    with np.load(f) as z:
                        done[name] = {k: z[k] for k in z.files}
    atomic_write_json(stage_dir / "settings.json", settings)

    def on_stage(name: str, params: dict[str, np.ndarray], report: dict[str, Any]) -> None:
        atomic_save_npz(stage_dir / f"{name}.npz", **params)  # type: ignore[arg-type]  # no key is "compressed"
        atomic_write_json(stage_dir / f"{name}.json", {**report, "train": dict(tcfg.__dict__)})

    model, report = train_user_model(
        train_data,
        beta_c,
        seed=args.seed,
        net=NetworkConfig(horizon=data.horizon),
        train=tcfg,
        done=done,
        on_stage=on_stage,
        only=None if args.stages is None else tuple(args.stages),
    )
    if model is None:
        print(f"trained {args.stages}; assemble the checkpoint with --resume once every stage is in {stage_dir}")
        return {"stages": {k: {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in report.items()}}
    for name in report:
        if name in done:  # a resumed stage keeps the report of the run that trained it
            report[name] = {**json.loads((stage_dir / f"{name}.json").read_text()), "resumed": True}
        else:
            report[name]["train"] = dict(tcfg.__dict__)
    model.meta["train"] = {name: report[name].get("train") for name in report}
    t_table = time.perf_counter()
    model.natural_table = natural_shift_table(model, n_samples=args.table_samples, seed=args.seed)
    table_seconds = time.perf_counter() - t_table
    model.meta.update(
        choice_model=args.choice_model, data=data.meta, n_test=args.test, table_samples=args.table_samples
    )
    model.save(args.out)
    # round-trip through the saved float32 weights: the checkpoint is what ships
    LearnedUserModel.load(args.out)
    total = time.perf_counter() - t_start
    summary = dict(
        checkpoint=args.out.name,
        bytes=args.out.stat().st_size,
        seconds_total=total,
        seconds_table=table_seconds,
        torch_threads=args.threads,
        stages={k: {kk: vv for kk, vv in v.items() if kk != "history"} for k, v in report.items()},
        histories={k: v.get("history") for k, v in report.items()},
        settings=settings,
    )
    atomic_write_json(args.out.with_suffix(".json"), summary)
    print(f"saved {args.out} ({summary['bytes'] / 1024:.0f} KiB) in {total:.0f} s")
    return summary


if __name__ == "__main__":
    main()
