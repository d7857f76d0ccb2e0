"""Aggregate scores as rliable recommends (Agarwal et al., NeurIPS 2021), in plain NumPy.

Scores are arrays ``[runs, tasks]`` (runs = independent seeds; tasks = env ids or metrics that are aggregated
together). Provided:

- :func:`iqm` — interquartile mean: the mean of the middle 50 % of all run×task scores (25 % trimmed from each
  end, as ``scipy.stats.trim_mean(x, 0.25)``).
- :func:`stratified_bootstrap_ci` — percentile interval of any aggregate under the stratified bootstrap:
  runs are resampled with replacement *within each task* (the strata), tasks are kept.
- :func:`probability_of_improvement` — P(X > Y): per task the Mann–Whitney U statistic
  ``mean_ij [1(x_i > y_j) + ½·1(x_i = y_j)]``, averaged over tasks; its interval resamples the runs of X and
  Y independently within each task.
- :func:`difference_ci` — mean(A) − mean(B) with a percentile interval that resamples the runs of A and of B
  independently, within each of their own tasks (strata).

Every bootstrap takes a ``seed``; same seed, same interval.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _as_2d(scores, name: str = "scores") -> np.ndarray:
    x = np.asarray(scores, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty array [runs] or [runs, tasks], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return x


def iqm(scores) -> float:
    """Interquartile mean of all entries (⌊n/4⌋ trimmed from each end of the sorted scores)."""
    x = np.sort(_as_2d(scores).ravel())
    cut = int(0.25 * x.size)
    return float(x[cut : x.size - cut].mean())


def mean(scores) -> float:
    return float(_as_2d(scores).mean())


def median(scores) -> float:
    return float(np.median(_as_2d(scores)))


AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {"iqm": iqm, "mean": mean, "median": median}


def _check_ci(reps: int, confidence: float) -> None:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 10:
        raise ValueError(f"reps must be an integer in [10, inf), got {reps!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _resample_indices(rng: np.random.Generator, reps: int, runs: int, tasks: int) -> np.ndarray:
    """[reps, runs, tasks] run indices drawn with replacement independently per task (the strata)."""
    return rng.integers(runs, size=(reps, runs, tasks))


def _batched_aggregate(name: str, samples: np.ndarray) -> np.ndarray:
    """Aggregate each bootstrap sample [reps, runs, tasks] -> [reps] (vectorised for the built-ins)."""
    flat = samples.reshape(samples.shape[0], -1)
    if name == "mean":
        return flat.mean(axis=1)
    if name == "median":
        return np.median(flat, axis=1)
    if name == "iqm":
        s = np.sort(flat, axis=1)
        cut = int(0.25 * s.shape[1])
        return s[:, cut : s.shape[1] - cut].mean(axis=1)
    raise ValueError(f"aggregate must be one of {sorted(AGGREGATES)}, got {name!r}")


def stratified_bootstrap_ci(
    scores, aggregate: str = "iqm", reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(point, low, high)``: the aggregate of ``scores`` [runs, tasks] and its percentile bootstrap interval."""
    x = _as_2d(scores)
    _check_ci(reps, confidence)
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {sorted(AGGREGATES)}, got {aggregate!r}")
    point = AGGREGATES[aggregate](x)
    runs, tasks = x.shape
    idx = _resample_indices(np.random.default_rng(seed), reps, runs, tasks)
    samples = np.take_along_axis(np.broadcast_to(x, (reps, runs, tasks)), idx, axis=1)
    stats = _batched_aggregate(aggregate, samples)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return point, float(low), float(high)


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) per task for batches: x [..., rx, tasks], y [..., ry, tasks] -> [...] (averaged over tasks)."""
    gt = (x[..., :, None, :] > y[..., None, :, :]).mean(axis=(-3, -2))
    eq = (x[..., :, None, :] == y[..., None, :, :]).mean(axis=(-3, -2))
    return (gt + 0.5 * eq).mean(axis=-1)


def probability_of_improvement(
    x, y, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(P(X > Y), low, high)`` for scores x [runs_x, tasks] and y [runs_y, tasks] (same tasks)."""
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of tasks, got {x.shape[1]} and {y.shape[1]}")
    _check_ci(reps, confidence)
    point = float(_poi(x, y))
    rng = np.random.default_rng(seed)
    ix = _resample_indices(rng, reps, x.shape[0], x.shape[1])
    iy = _resample_indices(rng, reps, y.shape[0], y.shape[1])
    xs = np.take_along_axis(np.broadcast_to(x, (reps, *x.shape)), ix, axis=1)
    ys = np.take_along_axis(np.broadcast_to(y, (reps, *y.shape)), iy, axis=1)
    stats = _poi(xs, ys)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return point, float(low), float(high)


def difference_ci(a, b, reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(mean(a) − mean(b), low, high)`` for a [runs_a, tasks_a] and b [runs_b, tasks_b] (e.g. replicas × seeds of
    two policies): each mean is over all entries; the interval resamples the runs of ``a`` within each of its
    tasks, then those of ``b`` within each of its tasks, from one generator seeded by ``seed``."""
    x, y = _as_2d(a, "a"), _as_2d(b, "b")
    _check_ci(reps, confidence)
    rng = np.random.default_rng(seed)

    def boot(z: np.ndarray) -> np.ndarray:
        idx = _resample_indices(rng, reps, *z.shape)
        return np.take_along_axis(np.broadcast_to(z, (reps, *z.shape)), idx, axis=1).mean(axis=(1, 2))

    stats = boot(x) - boot(y)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(x.mean() - y.mean()), float(low), float(high)


def summarize(scores, reps: int = 2000, seed: int = 0) -> dict[str, float]:
    """Mean, IQM and the IQM's 95 % stratified-bootstrap interval, plus the number of runs."""
    x = _as_2d(scores)
    point, low, high = stratified_bootstrap_ci(x, "iqm", reps=reps, seed=seed)
    return {"runs": int(x.shape[0]), "mean": mean(x), "iqm": point, "iqm_low": low, "iqm_high": high}


__all__ = [
    "difference_ci",
    "iqm",
    "mean",
    "median",
    "probability_of_improvement",
    "stratified_bootstrap_ci",
    "summarize",
]
