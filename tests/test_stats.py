"""benchmarks.stats against independent computations (scipy, brute force, normal theory)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from benchmarks.stats import (
    difference_ci,
    iqm,
    probability_of_improvement,
    stratified_bootstrap_ci,
    summarize,
)


@pytest.mark.parametrize("n", [4, 5, 7, 10, 33])
def test_iqm_matches_scipy_trim_mean(n):
    x = np.random.default_rng(n).normal(size=(n, 3))
    assert iqm(x) == pytest.approx(sps.trim_mean(x.ravel(), 0.25), rel=1e-12)


def test_iqm_ignores_outliers():
    x = np.array([1.0, 2.0, 3.0, 4.0, 1e9, -1e9, 2.5, 3.5])
    assert iqm(x) == pytest.approx(np.mean([2.0, 2.5, 3.0, 3.5]))


def test_bootstrap_is_seeded_and_brackets_point():
    x = np.random.default_rng(0).normal(size=(10, 2))
    a = stratified_bootstrap_ci(x, "iqm", reps=500, seed=3)
    b = stratified_bootstrap_ci(x, "iqm", reps=500, seed=3)
    c = stratified_bootstrap_ci(x, "iqm", reps=500, seed=4)
    assert a == b and a != c
    point, lo, hi = a
    assert lo <= point <= hi and lo < hi


def test_bootstrap_mean_interval_matches_normal_theory():
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 1.5, size=400)
    _, lo, hi = stratified_bootstrap_ci(x, "mean", reps=4000, seed=0)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert (lo + hi) / 2 == pytest.approx(x.mean(), abs=0.2 * se)


def test_bootstrap_is_stratified_by_task():
    # task 0 always scores 0, task 1 always 1: resampling runs within a task never changes the mean, whereas a
    # bootstrap over the pooled entries would (it could draw more task-1 entries than task-0 ones)
    x = np.column_stack([np.zeros(6), np.ones(6)])
    point, lo, hi = stratified_bootstrap_ci(x, "mean", reps=300, seed=0)
    assert point == lo == hi == 0.5


def test_probability_of_improvement_brute_force():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, size=(5, 3)).astype(float)  # ties on purpose
    y = rng.integers(0, 4, size=(6, 3)).astype(float)
    expected = np.mean(
        [
            np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(x[:, m], y[:, m])])
            for m in range(3)
        ]
    )
    point, lo, hi = probability_of_improvement(x, y, reps=200, seed=0)
    assert point == pytest.approx(expected)
    assert lo <= point <= hi


def test_probability_of_improvement_extremes():
    x = np.arange(5.0)[:, None] + 10
    y = np.arange(5.0)[:, None]
    assert probability_of_improvement(x, y, reps=50)[0] == 1.0
    assert probability_of_improvement(y, x, reps=50)[0] == 0.0
    assert probability_of_improvement(x, x, reps=50)[0] == pytest.approx(0.5)


def test_summarize_fields():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0], reps=100)
    assert s["runs"] == 5 and s["mean"] == 3.0 and s["iqm_low"] <= s["iqm"] <= s["iqm_high"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: iqm([]), "scores"),
        (lambda: iqm([1.0, np.nan]), "finite"),
        (lambda: stratified_bootstrap_ci([1.0, 2.0], "mode"), "aggregate"),
        (lambda: stratified_bootstrap_ci([1.0, 2.0], reps=3), "reps"),
        (lambda: stratified_bootstrap_ci([1.0, 2.0], confidence=1.5), "confidence"),
        (lambda: probability_of_improvement(np.ones((3, 2)), np.ones((3, 1))), "tasks"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_difference_ci_point_coverage_and_strata():
    """Point = difference of the overall means; the interval matches normal theory for a difference of
    independent means (each resampled within its strata), and covers the true difference."""
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 1.0, size=(400, 3))
    b = rng.normal(0.0, 2.0, size=(300, 2))
    point, low, high = difference_ci(a, b, reps=4000, seed=1)
    assert point == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    # stratified resampling: the variance of each mean is Σ_task var_task / runs / tasks²
    se = np.sqrt(a.var(axis=0).sum() / 400 / 9 + b.var(axis=0).sum() / 300 / 4)
    assert (point - low) == pytest.approx(1.96 * se, rel=0.1) and (high - point) == pytest.approx(1.96 * se, rel=0.1)
    assert low < 1.0 < high
    assert difference_ci(a, b, reps=4000, seed=1) == (point, low, high)  # same seed, same interval
    with pytest.raises(ValueError, match="b must be finite"):
        difference_ci(a, np.array([1.0, np.nan]))
