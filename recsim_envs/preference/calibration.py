"""Calibration of the unpublished β_d (and β_c bump width) by exact propagation of the cohort distribution.

Three checks (docs/models/preference.md): (1) natural shifts — the flat slate every step — move the u_0 ~ N(130°, 20°)
cohort toward the 80° mode; (2) a constant slate at 240–270° earns more expected 10-step engagement than the greedy
myopic policy (which shows, each step, the slate maximising the cohort's expected immediate engagement), i.e.
there is a manipulation incentive; (3) with β_d far too small that incentive disappears. All numbers are exact
expectations (no sampling): the cohort distribution p_t over the 36 bins is propagated through the transition
tables. The report also gives the greedy policy and the exact dynamic-programming optimum when u_t is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsim_envs.preference.model import beta_c_profile, choice_probabilities, preference_transition
from recsim_envs.preference.world import (
    COS,
    THETA,
    action_slates,
    flat_slate,
    initial_preference_distribution,
    slate_distribution,
)


def circular_mean_deg(p: np.ndarray) -> float:
    """Circular mean (degrees, [0, 360)) of a distribution over the 36 bins."""
    z = (p * np.exp(1j * THETA)).sum()
    return float(np.rad2deg(np.angle(z)) % 360.0)


@dataclass
class CalibrationReport:
    beta_d: float
    beta_c_width: float
    natural_mean_deg: float  # circular mean of u_H under π_rnd
    natural_mass_near_80: float  # P(|u_H − 80°| ≤ 30°) under π_rnd
    myopic_engagement: float  # greedy myopic on the cohort distribution (does not observe u_t)
    myopic_known_u_engagement: float  # greedy myopic that knows u_t exactly
    optimal_known_u_engagement: float  # exact long-horizon optimum with u_t known (dynamic programming)
    best_constant_engagement: float  # best constant slate among μ ∈ {240°, 250°, 260°, 270°}
    best_constant_mean_deg: float
    constant_mass_near_270: float  # P(|u_H − 270°| ≤ 30°) under that constant slate

    @property
    def manipulation_gain(self) -> float:
        return self.best_constant_engagement - self.myopic_engagement


def calibration_report(
    beta_d: float,
    beta_c_width: float = 2.0,
    flexibility: float = 0.9,
    horizon: int = 10,
    slate_std_deg: float = 60.0,
    kernel: str = "clipped_normal",
) -> CalibrationReport:
    bc = beta_c_profile("two_bumps", beta_c_width)
    p0 = initial_preference_distribution()
    near = lambda p, c: float(p[np.abs(((np.rad2deg(THETA) - c + 180) % 360) - 180) <= 30].sum())  # noqa: E731

    t_rnd = preference_transition(flat_slate(), bc, beta_d, flexibility)
    p = p0.copy()
    for _ in range(horizon):
        p = p @ t_rnd
    natural_mean, natural_near = circular_mean_deg(p), near(p, 80.0)

    # greedy myopic on the six-slate action set: on the cohort distribution, and knowing u_t
    slates, _, _ = action_slates("six", slate_std_deg, kernel)
    em = choice_probabilities(slates, bc)  # [a, u, x]
    tr = preference_transition(slates, bc, beta_d, flexibility)
    eng = np.einsum("aux,ux->au", em, COS)  # expected engagement of slate a at u
    p, myopic = p0.copy(), 0.0
    for _ in range(horizon):
        a = int(np.argmax(eng @ p))
        myopic += float(eng[a] @ p)
        p = p @ tr[a]
    best_a = eng.argmax(axis=0)
    p, myopic_known = p0.copy(), 0.0
    for _ in range(horizon):
        myopic_known += float(p @ eng[best_a, np.arange(36)])
        p = np.einsum("u,uv->v", p, tr[best_a, np.arange(36)])
    value = np.zeros(36)
    for _ in range(horizon):
        value = (eng + np.einsum("auv,v->au", tr, value)).max(axis=0)
    optimal_known = float(p0 @ value)

    best = (-np.inf, 0.0, 0.0)
    for mu in (240.0, 250.0, 260.0, 270.0):
        s = slate_distribution(mu, slate_std_deg, kernel)
        e1 = choice_probabilities(s, bc) @ COS
        eng_c = np.diag(e1)
        t_c = preference_transition(s, bc, beta_d, flexibility)
        p, total = p0.copy(), 0.0
        for _ in range(horizon):
            total += float(p @ eng_c)
            p = p @ t_c
        if total > best[0]:
            best = (total, mu, near(p, 270.0))
    return CalibrationReport(
        beta_d, beta_c_width, natural_mean, natural_near, myopic, myopic_known, optimal_known, best[0], best[1], best[2]
    )
