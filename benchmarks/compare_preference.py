"""Quick comparison of recommenders on PreferenceShift-v0: the safe-shift metrics table and Fig. 1 heatmaps.

Usage: ``python -m benchmarks.compare_preference [--users 1000] [--seed 0] [--out results]``
(console script ``recsim-compare``). Runs every baseline of ``baselines.preference`` on the same ``--users``
ground-truth users (native vector env, one array step for all users), prints the paper's Table-1 metrics —
cumulative engagement r(u_t^π), r(u_0, π), r(u_t^rnd, π) and their Sum over the horizon, choice-marginalised,
mean with 95 % normal intervals over users — and writes ``preference_heatmaps.png``: the distribution of true
preferences over time for natural shifts (flat slate, exact) and for each policy (empirical).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np

import recsim_envs  # noqa: F401
from baselines.preference import preference_baselines
from baselines.protocol import reset_policy

METRICS = ("expected_engagement", "expected_engagement_initial", "expected_engagement_natural")
HEADERS = ("r(u_t^π) engagement", "r(u_0, π)", "r(u_t^rnd, π)", "Sum")


def rollout(policy, env_id: str, n_users: int, seed: int, **env_kwargs):
    """Run ``policy`` for one episode on ``n_users`` users; return per-user metric sums [n, 3] and u_t paths."""
    env = gym.make_vec(env_id, num_envs=n_users, vectorization_mode="vector_entry_point", **env_kwargs)
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    obs, info = env.reset(seed=seed)
    reset_policy(policy, seed)
    horizon = base.config.horizon
    sums = np.zeros((n_users, 3))
    prefs = np.empty((n_users, horizon + 1), dtype=np.int64)
    prefs[:, 0] = info["preference_bin"]
    for t in range(horizon):
        obs, _, term, trunc, info = env.step(policy.act(obs, info))
        sums += np.stack([info[m] for m in METRICS], axis=1)
        prefs[:, t + 1] = (
            info["final_info"]["next_preference_bin"] if "final_info" in info else info["next_preference_bin"]
        )
    env.close()
    return sums, prefs, base.config


def summarise(sums: np.ndarray) -> list[tuple[float, float]]:
    cols = np.concatenate([sums, sums.sum(axis=1, keepdims=True)], axis=1)
    mean = cols.mean(axis=0)
    half = 1.96 * cols.std(axis=0, ddof=1) / np.sqrt(len(cols))
    return list(zip(mean, half))


def write_heatmaps(paths: dict[str, np.ndarray], natural: np.ndarray, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"natural shifts (flat slate, exact)": natural}
    for name, pref in paths.items():
        panels[name] = np.stack([np.bincount(pref[:, t], minlength=36) / len(pref) for t in range(pref.shape[1])])
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.2), sharey=True)
    for ax, (name, dist) in zip(np.atleast_1d(axes), panels.items()):
        ax.imshow(dist.T, origin="lower", aspect="auto", cmap="viridis", extent=(-0.5, dist.shape[0] - 0.5, 0, 360))
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("t")
    np.atleast_1d(axes)[0].set_ylabel("preference (degrees)")
    fig.tight_layout()
    path = out / "preference_heatmaps.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000, help="users per policy (default 1000, as the paper)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--env-id", default="recsim_envs/PreferenceShift-v0")
    ap.add_argument("--out", type=Path, default=Path("results"), help="folder for the PNG (created)")
    args = ap.parse_args(argv)
    if args.users < 2:
        raise ValueError(f"--users must be an integer in [2, inf), got {args.users}")
    args.out.mkdir(parents=True, exist_ok=True)

    probe = gym.make(args.env_id)
    cfg = probe.unwrapped.config
    policies = preference_baselines(cfg, seed=args.seed)
    rows, paths = [], {}
    for name, policy in policies.items():
        sums, prefs, _ = rollout(policy, args.env_id, args.users, args.seed)
        rows.append((name, summarise(sums)))
        paths[name] = prefs
    natural = cfg.tables["prior"] @ cfg.tables["natural_powers"]  # [H+1, 36]

    print(f"PreferenceShift-v0: {args.users} users, horizon {cfg.horizon}, β_d = {cfg.beta_d:g}, seed {args.seed}")
    print("cumulative choice-marginalised metrics, mean ± 95 % interval over users\n")
    print("| policy | " + " | ".join(HEADERS) + " |")
    print("|---|" + "---|" * len(HEADERS))
    for name, stats in rows:
        print(f"| {name} | " + " | ".join(f"{m:.2f} ± {h:.2f}" for m, h in stats) + " |")
    png = write_heatmaps(paths, natural, args.out)
    print(f"\nheatmaps written to {png}")


if __name__ == "__main__":
    main()
