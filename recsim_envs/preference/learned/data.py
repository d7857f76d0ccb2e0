"""Historical interaction data for learning the user model (Carroll et al. 2022, §4, App. C).

Trajectories of ground-truth users (``recsim_envs.preference.model``) under a *mixture* behaviour policy: half of
the users see a uniformly random fine slate every step; the other half see the flat slate with probability
``flat_prob`` (0.8) and a uniformly random fine slate otherwise. The slates are indices into a 73-row table: the
72 fine slates of ``world.action_slates("fine")`` (μ = 10°·(a mod 36), σ = 30° for a < 36 else 60°) followed by
the flat slate (index 72).

File format (``.npz``, written atomically by :meth:`HistoricalData.save`):

============== =============== ===========================================================================
key            shape / dtype   meaning
============== =============== ===========================================================================
slates         [n, T] int16    slate index shown at step t (row of ``slate_table``)
choices        [n, T] int16    chosen item bin x_t (0..35, θ = 10°·x)
behaviour      [n] int8        0 = uniform over fine slates, 1 = flat slate 80 % / random fine 20 %
preferences    [n, T+1] int16  true preference bins u_0..u_T — **evaluation only**, never used for training
slate_table    [73, 36] f64    the slates as distributions over the 36 item bins
meta           0-d str         JSON: generator settings (seed, ground-truth parameters, split)
============== =============== ===========================================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsim_envs.preference.core import PreferenceShiftConfig, draw_rows
from recsim_envs.preference.model import choice_probabilities, preference_transition
from recsim_envs.preference.world import N_BINS, flat_slate
from recsim_envs.utils.files import atomic_save_npz
from recsim_envs.utils.validation import check_int, check_real

N_FINE = 72
FLAT_SLATE = 72  # index of the flat slate in the data slate table
BEHAVIOUR_UNIFORM, BEHAVIOUR_MOSTLY_FLAT = 0, 1
#: ground-truth kwargs recorded with the data (the PreferenceShiftConfig fields that define the users)
GROUND_TRUTH_KEYS = (
    "flexibility",
    "beta_d",
    "beta_c",
    "beta_c_width",
    "initial_mean_deg",
    "initial_std_deg",
    "slate_kernel",
)


def data_slate_table(slate_kernel: str = "clipped_normal") -> np.ndarray:
    """The 73 data-collection slates: the 72 fine slates then the flat slate, shape [73, 36]."""
    cfg = PreferenceShiftConfig(action_set="fine", slate_kernel=slate_kernel)
    return np.concatenate([cfg.tables["slates"], flat_slate()[None]], axis=0)


@dataclass
class HistoricalData:
    slates: np.ndarray
    choices: np.ndarray
    behaviour: np.ndarray
    preferences: np.ndarray
    slate_table: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.slates.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.slates.shape[1])

    def subset(self, index: slice | np.ndarray) -> HistoricalData:
        return HistoricalData(
            self.slates[index],
            self.choices[index],
            self.behaviour[index],
            self.preferences[index],
            self.slate_table,
            dict(self.meta),
        )

    def split(self, n_test: int = 2500) -> tuple[HistoricalData, HistoricalData]:
        """(train, test): the last ``n_test`` trajectories are held out (trajectories are i.i.d.)."""
        n_test = check_int("n_test", n_test, 1, self.n - 1)
        return self.subset(slice(0, self.n - n_test)), self.subset(slice(self.n - n_test, self.n))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the documented ``.npz`` atomically (temporary file in the same folder, then rename)."""
        return atomic_save_npz(
            path,
            compressed=True,
            slates=self.slates.astype(np.int16),
            choices=self.choices.astype(np.int16),
            behaviour=self.behaviour.astype(np.int8),
            preferences=self.preferences.astype(np.int16),
            slate_table=self.slate_table,
            meta=np.array(json.dumps(self.meta)),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> HistoricalData:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                z["slates"].astype(np.int64),
                z["choices"].astype(np.int64),
                z["behaviour"].astype(np.int64),
                z["preferences"].astype(np.int64),
                z["slate_table"],
                json.loads(str(z["meta"])),
            )


def ground_truth_config(**ground_truth: Any) -> PreferenceShiftConfig:
    """The ground-truth users (validated ``PreferenceShiftConfig`` kwargs; unknown keys raise ``ValueError``)."""
    unknown = set(ground_truth) - set(GROUND_TRUTH_KEYS)
    if unknown:
        raise ValueError(f"ground_truth keys must be among {list(GROUND_TRUTH_KEYS)}, got {sorted(unknown)}")
    return PreferenceShiftConfig(action_set="fine", **ground_truth)


def data_tables(cfg: PreferenceShiftConfig) -> dict[str, np.ndarray]:
    """Emission E[a, u, x] and transition T[a, u, u'] for the 73 data slates of the ground-truth users."""
    slates = data_slate_table(cfg.slate_kernel)
    bc = cfg.tables["beta_c"]
    return dict(
        slates=slates,
        emission=choice_probabilities(slates, bc),
        transition=preference_transition(slates, bc, cfg.beta_d, cfg.flexibility),
        beta_c=bc,
        prior=cfg.tables["prior"],
    )


def behaviour_slates(behaviour: np.ndarray, horizon: int, flat_prob: float, rng: np.random.Generator) -> np.ndarray:
    """Slate indices [n, T] of the mixture behaviour policy (open loop: slates never depend on choices)."""
    n = behaviour.shape[0]
    fine = rng.integers(N_FINE, size=(n, horizon))
    flat = rng.random((n, horizon)) < flat_prob
    mostly_flat = (behaviour == BEHAVIOUR_MOSTLY_FLAT)[:, None] & flat
    return np.where(mostly_flat, FLAT_SLATE, fine)


def generate_historical_data(
    n_trajectories: int = 10_000,
    horizon: int = 10,
    seed: int = 0,
    flat_prob: float = 0.8,
    **ground_truth: Any,
) -> HistoricalData:
    """Simulate ``n_trajectories`` ground-truth users for ``horizon`` steps under the mixture behaviour policy.

    Exactly half of the users (a random half) follow each behaviour policy. Every draw comes from one
    ``numpy.random.Generator`` seeded with ``seed``. ``ground_truth``: ``PreferenceShiftConfig`` kwargs of the
    users (defaults = the calibrated PreferenceShift-v0 users).
    """
    n = check_int("n_trajectories", n_trajectories, 2, 10_000_000)
    horizon = check_int("horizon", horizon, 1, 1000)
    flat_prob = check_real("flat_prob", flat_prob, 0.0, 1.0)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    cfg = ground_truth_config(**ground_truth)
    tb = data_tables(cfg)
    emission_cdf = np.cumsum(tb["emission"], axis=-1).reshape(-1, N_BINS)
    transition_cdf = np.cumsum(tb["transition"], axis=-1).reshape(-1, N_BINS)
    rng = np.random.default_rng(seed)
    behaviour = rng.permutation(np.arange(n) % 2)
    slates = behaviour_slates(behaviour, horizon, flat_prob, rng)
    prefs = np.empty((n, horizon + 1), dtype=np.int64)
    choices = np.empty((n, horizon), dtype=np.int64)
    prefs[:, 0] = rng.choice(N_BINS, size=n, p=tb["prior"])
    for t in range(horizon):
        row = slates[:, t] * N_BINS + prefs[:, t]
        choices[:, t] = draw_rows(emission_cdf, row, rng.random(n))
        prefs[:, t + 1] = draw_rows(transition_cdf, row, rng.random(n))
    meta = dict(
        seed=seed,
        n_trajectories=n,
        horizon=horizon,
        flat_prob=flat_prob,
        ground_truth={k: getattr(cfg, k) if k != "beta_c" else _json_beta_c(cfg.beta_c) for k in GROUND_TRUTH_KEYS},
    )
    return HistoricalData(slates, choices, behaviour, prefs, tb["slates"], meta)


def _json_beta_c(beta_c):
    return beta_c if isinstance(beta_c, str) else np.asarray(beta_c, dtype=float).tolist()
