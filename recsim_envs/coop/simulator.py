"""Replica-vectorised simulator of the cooperation dilemma with recommender rewiring (Carvalho 2021,
docs/models/coop.md).

``CoopConfig`` validates the model parameters; ``CoopBatch`` holds R independent replicas as flat arrays and
drives the compiled kernels of ``kernel.py``; :func:`simulate` runs a rule (or a competition) on R replicas and
returns the paper's end-of-run metrics (and optional time series). Replica i of a run seeded ``s`` uses the
counter-based key ``seed_to_key(s + i)``, so results do not depend on how replicas are batched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsim_envs.coop import kernel as K
from recsim_envs.coop.rules import EXCLUSIVE, EXTERNAL, rule_code
from recsim_envs.utils import rng as crng
from recsim_envs.utils.validation import Bool, Choice, Int, Real, check_int, check_params

FERMI_MODES = ("clipped", "symmetric")
STATUS_NAMES = ("running", "all_cooperate", "all_defect", "time_limit", "pending")


#: model parameters and their documented ranges: ``CoopConfig`` validates with this table, the env builders of
#: ``task.py`` and the registry-wide property test read it. ``degree`` is also bounded by ``n_nodes`` − 1 (and
#: n_nodes·degree must be even); the O(1) edge index pos[r, v, w] is dense (N² int32 per replica), which bounds N.
MODEL_PARAMS: dict = {
    "n_nodes": Int(3, 5_000),
    "degree": Int(1, None, high_ref="n_nodes", high_offset=-1),
    "beta": Real(0.0, 1e6),
    "W": Real(0.0, 1e12),
    "T": Real(-1e6, 1e6),
    "S": Real(-1e6, 1e6),
    "fermi_mode": Choice(FERMI_MODES),
    "max_steps": Int(1, 10**12),
    "stop_on_absorption": Bool(),
    "initial_cooperators": Real(0.0, 1.0),
    "W2": Real(0.0, 1e12),
    "beta_med_factor": Real(0.0, 1e6),
    "seed_fraction": Real(0.0, 1.0),
    "recommender_fermi_mode": Choice((None, *FERMI_MODES)),
    "record_every": Int(0, 10**12),
}


@dataclass
class CoopConfig:
    """Model parameters (symbols of Carvalho 2021 / Santos et al. 2006).

    ``n_nodes`` N ≥ 3; ``degree`` k ∈ [1, N − 1] with N·k even (initial random k-regular graph); ``beta`` β ≥ 0
    (selection intensity); ``W`` ≥ 0 (time-scale ratio: structural updates happen with probability W/(1+W));
    ``T``, ``S`` (temptation, sucker's payoff; R = 1 and P = 0 fixed; PD default T = 2, S = −1);
    ``fermi_mode`` "clipped" (d := max(d, 0), the author's code and published numbers) or "symmetric" (eq. 1);
    ``rule`` the recommender of everyone (a name from ``rules.RULE_NAMES``; "EXTERNAL" = an agent decides);
    ``max_steps`` ≥ 1 elementary steps; ``stop_on_absorption`` stop at all-C / all-D; ``initial_cooperators``
    probability in [0, 1] that a node starts as C (½).
    Competition: ``contenders`` rules of the competing recommenders (empty = no competition), ``W2`` ≥ 0
    (recommender updates with probability W2/(1+W2)), ``beta_med_factor`` (β_med = factor·β, 10),
    ``seed_fraction`` ∈ [0, 1] (initial users split evenly among contenders, 0.1); everyone else uses ``rule``;
    ``recommender_fermi_mode`` (None = ``fermi_mode``) for the recommender-adoption probability, which the
    paper does not pin down separately.
    ``record_every`` ≥ 0: time-series period in steps (0 = off).
    """

    n_nodes: int = 500
    degree: int = 30
    beta: float = 0.005
    W: float = 2.09
    T: float = 2.0
    S: float = -1.0
    fermi_mode: str = "clipped"
    rule: str = "NO_MED"
    max_steps: int = 500_000
    stop_on_absorption: bool = True
    initial_cooperators: float = 0.5
    contenders: tuple[str, ...] = ()
    W2: float = 0.0
    beta_med_factor: float = 10.0
    seed_fraction: float = 0.1
    recommender_fermi_mode: str | None = None
    record_every: int = 0
    rules: np.ndarray = field(default=None, repr=False)  # type: ignore[arg-type]  # set in __post_init__

    def __post_init__(self):
        for name, value in check_params(vars(self), MODEL_PARAMS).items():
            setattr(self, name, value)
        if (self.n_nodes * self.degree) % 2:
            raise ValueError(f"n_nodes·degree must be even for a k-regular graph, got {self.n_nodes}·{self.degree}")
        if isinstance(self.contenders, str) or not isinstance(self.contenders, (list, tuple)):
            raise ValueError(f"contenders must be a list of rule names, got {self.contenders!r}")
        self.contenders = tuple(self.contenders)
        codes = [rule_code(self.rule, "rule")] + [rule_code(c, "contenders") for c in self.contenders]
        if len(codes) > 127:
            raise ValueError(f"contenders must have at most 126 entries, got {len(self.contenders)}")
        if self.recommender_fermi_mode is None:
            self.recommender_fermi_mode = self.fermi_mode
        self.rules = np.asarray(codes, dtype=np.int64)

    @property
    def n_recommenders(self) -> int:
        return len(self.rules)

    @property
    def n_seeds(self) -> int:
        return int(round(self.seed_fraction * self.n_nodes)) if self.contenders else 0

    @property
    def has_external(self) -> bool:
        return bool(np.any((self.rules & (EXCLUSIVE - 1)) == EXTERNAL))

    def float_params(self) -> np.ndarray:
        fp = np.zeros(K.N_FP)
        fp[K.F_BETA] = self.beta
        fp[K.F_P_STRATEGY] = 1.0 / (1.0 + self.W)
        fp[K.F_P_REC] = self.W2 / (1.0 + self.W2) if self.contenders else 0.0
        fp[K.F_BETA_MED] = self.beta_med_factor * self.beta
        fp[K.F_T], fp[K.F_S], fp[K.F_R], fp[K.F_P] = self.T, self.S, K.REWARD_R, K.PUNISHMENT_P
        return fp

    def int_params(self) -> np.ndarray:
        ip = np.zeros(K.N_IP, dtype=np.int64)
        ip[K.I_CLIPPED] = self.fermi_mode == "clipped"
        ip[K.I_STOP_ABSORB] = self.stop_on_absorption
        ip[K.I_MAX_STEPS] = self.max_steps
        ip[K.I_RECORD] = self.record_every
        ip[K.I_REC_CLIPPED] = self.recommender_fermi_mode == "clipped"
        return ip


class CoopBatch:
    """R replicas of the model as flat arrays (leading replica axis).

    Arrays: ``nbr``/``pos``/``deg`` (adjacency lists, edge positions, degrees), ``strat`` (1 = C, 0 = D), ``ncn``
    (cooperating-neighbour counts; fitness derives from them exactly), ``rec`` (recommender index; 0 = the
    default ``rule``, 1.. = ``contenders``), ``members``/``mpos``/``msize`` (defector and cooperator lists),
    ``degcount`` (degree histogram), ``reccount`` (users per recommender), ``keys``/``ctrs`` (random streams),
    ``cnt`` (counters and status, slots ``kernel.C_*``), ``ts`` (time series, [R, rows, 5]).
    """

    def __init__(self, config: CoopConfig, n_replicas: int):
        self.config = config
        self.n = n = config.n_nodes
        self.R = R = check_int("n_replicas", n_replicas, 1, 10**6)
        rows = config.max_steps // config.record_every + 1 if config.record_every else 0
        #: every state array, passed to the compiled kernels as one tuple; the attributes below are the same arrays
        self.state = K.CoopState(
            nbr=np.zeros((R, n, n), dtype=np.int32),
            pos=np.full((R, n, n), -1, dtype=np.int32),
            deg=np.zeros((R, n), dtype=np.int32),
            strat=np.zeros((R, n), dtype=np.int8),
            ncn=np.zeros((R, n), dtype=np.int32),
            rec=np.zeros((R, n), dtype=np.int32),
            members=np.zeros((R, 2, n), dtype=np.int32),
            mpos=np.zeros((R, n), dtype=np.int32),
            msize=np.zeros((R, 2), dtype=np.int64),
            degcount=np.zeros((R, n + 1), dtype=np.int32),
            reccount=np.zeros((R, config.n_recommenders), dtype=np.int64),
            keys=np.zeros(R, dtype=np.uint64),
            ctrs=np.zeros(R, dtype=np.uint64),
            cnt=np.zeros((R, K.N_CNT), dtype=np.int64),
            ts=np.zeros((R, rows, K.N_TS)),
        )
        (
            self.nbr, self.pos, self.deg, self.strat, self.ncn, self.rec, self.members, self.mpos, self.msize,
            self.degcount, self.reccount, self.keys, self.ctrs, self.cnt, self.ts,
        ) = self.state  # fmt: skip
        self._fp = config.float_params()
        self._ip = config.int_params()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def reset(self, keys: np.ndarray, which: np.ndarray | None = None) -> None:
        """Start fresh episodes for the replicas in ``which`` (all by default) with stream keys ``keys``."""
        which = np.ones(self.R, dtype=bool) if which is None else np.asarray(which, dtype=bool)
        self.keys[which] = np.asarray(keys, dtype=np.uint64).reshape(-1)[: int(which.sum())]
        c = self.config
        K.init_replicas(
            which, self.state, c.degree, len(c.contenders), c.n_seeds, c.initial_cooperators, c.stop_on_absorption
        )

    def set_state(
        self, adjacency: np.ndarray, strategy: np.ndarray, keys: np.ndarray, recommender: np.ndarray | None = None
    ) -> None:
        """Put every replica in the given state (symmetric 0/1 ``adjacency`` [N, N], ``strategy`` [N] 1 = C,
        optional ``recommender`` [N]) with stream keys ``keys`` [R]; for tests and what-if studies."""
        n = self.n
        adj = np.asarray(adjacency) != 0
        s = np.asarray(strategy, dtype=np.int8)
        if adj.shape != (n, n) or np.any(adj != adj.T) or np.any(np.diag(adj)):
            raise ValueError(f"adjacency must be a symmetric 0/1 [{n}, {n}] matrix with a zero diagonal")
        if s.shape != (n,) or np.any((s != 0) & (s != 1)):
            raise ValueError(f"strategy must be {n} values in {{0, 1}}, got {strategy!r}")
        rec = np.zeros(n, dtype=np.int32) if recommender is None else np.asarray(recommender, dtype=np.int32)
        if rec.shape != (n,) or rec.min() < 0 or rec.max() >= self.config.n_recommenders:
            raise ValueError(f"recommender must be {n} ints in [0, {self.config.n_recommenders - 1}]")
        deg = adj.sum(axis=1).astype(np.int32)
        if deg.min() < 1:
            raise ValueError("adjacency must not have isolated nodes")
        order = np.argsort(~adj, axis=1, kind="stable").astype(np.int32)  # neighbours first, by index
        pos = np.full((n, n), -1, dtype=np.int32)
        rows, cols = np.nonzero(adj)
        rank = np.concatenate([np.arange(d) for d in deg])
        pos[rows, cols] = rank
        self.nbr[:] = order
        self.pos[:] = pos
        self.deg[:] = deg
        self.strat[:] = s
        self.ncn[:] = adj.astype(np.int32) @ s.astype(np.int32)
        self.rec[:] = rec
        for g in (0, 1):
            idx = np.flatnonzero(s == g)
            self.members[:, g, : len(idx)] = idx
            self.mpos[:, idx] = np.arange(len(idx))
            self.msize[:, g] = len(idx)
        self.degcount[:] = np.bincount(deg, minlength=n + 1)
        self.reccount[:] = np.bincount(rec, minlength=self.config.n_recommenders)
        self.keys[:] = np.asarray(keys, dtype=np.uint64)
        self.ctrs[:] = 0
        self.cnt[:] = 0
        self.cnt[:, [K.C_PA, K.C_PB]] = -1
        self.cnt[:, K.C_MAXDEG] = deg.max()
        self.cnt[:, K.C_SUMDEG2] = int((deg.astype(np.int64) ** 2).sum())
        if self.config.stop_on_absorption and s.sum() in (0, n):
            self.cnt[:, K.C_STATUS] = K.ALL_C if s.sum() == n else K.ALL_D

    def advance(self, until: int | None = None) -> None:
        """Run every running replica until it ends or an agent decision (EXTERNAL rule) is pending; with
        ``until``, also pause replicas at that step count (they stay RUNNING and can be advanced again)."""
        if until is not None:
            ip = self._ip.copy()
            ip[K.I_MAX_STEPS] = min(int(until), self.config.max_steps)
            K.advance(self.state, self.config.rules, self._fp, ip)
            paused = (self.cnt[:, K.C_STATUS] == K.TIME_LIMIT) & (self.cnt[:, K.C_T] < self.config.max_steps)
            self.cnt[paused, K.C_STATUS] = K.RUNNING
            return
        K.advance(self.state, self.config.rules, self._fp, self._ip)

    def apply(self, r: int, z: int) -> bool:
        """Carry out replica r's pending rewire to z (z < 0 declines it); False if z is not a candidate."""
        return bool(K.apply_external(self.state, self.config.rules, r, int(z), self.n))

    def apply_all(self, z: np.ndarray) -> None:
        """Carry out every replica's pending rewire: ``z[r]`` is replica r's new partner (< 0 declines)."""
        K.apply_external_all(self.state, self.config.rules, np.asarray(z, dtype=np.int64), self.n)

    def candidate_masks(self, which: np.ndarray, out: np.ndarray) -> None:
        """``out[r]`` (int8 [R, N]) for replicas in ``which``: the valid partners of a pending rewire, all ones
        where nothing is pending."""
        K.candidate_masks(self.state, self.config.rules, np.asarray(which, dtype=np.bool_), self.n, out)

    def candidate_mask(self, r: int, out: np.ndarray | None = None) -> np.ndarray:
        """int8 [N]: 1 where z is a valid choice for replica r's pending rewire (zeros if none pending)."""
        out = np.zeros(self.n, dtype=np.int8) if out is None else out
        K.candidate_mask(self.state, self.config.rules, r, self.n, out)
        return out

    # -- state views -----------------------------------------------------------------------------------------
    @property
    def status(self) -> np.ndarray:
        return self.cnt[:, K.C_STATUS].copy()

    @property
    def pending(self) -> np.ndarray:
        """[R, 2] pending (a, b) — a rewires away from b — or (−1, −1)."""
        return self.cnt[:, [K.C_PA, K.C_PB]].copy()

    def adjacency(self, r: int) -> np.ndarray:
        return (self.pos[r] >= 0).astype(np.int8)

    def fitness(self) -> np.ndarray:
        """Π [R, N] from the maintained counts (exact; ``kernel.fitness``, the kernel's own function)."""
        out = np.empty(self.strat.shape)
        K.fitness_all(self.strat, self.ncn, self.deg, self._fp, out)
        return out

    def metrics(self) -> dict[str, np.ndarray]:
        """End-of-run (or current) quantities per replica, all [R] arrays."""
        n = self.n
        cnt = self.cnt
        struct = cnt[:, K.C_STRUCT]
        mean_deg = self.deg.sum(axis=1) / n
        out = {
            "cooperator_fraction": self.msize[:, 1] / n,
            "rewires": cnt[:, K.C_REQ].copy(),
            "structural_updates": struct.copy(),
            "rewires_per_opportunity": np.divide(cnt[:, K.C_REQ], struct, out=np.zeros(self.R), where=struct > 0),
            "rewires_done": cnt[:, K.C_DONE].copy(),
            "rewires_skipped": cnt[:, K.C_SKIP].copy(),
            "strategy_changes": cnt[:, K.C_FLIPS].copy(),
            "recommender_changes": cnt[:, K.C_RECS].copy(),
            "heterogeneity": cnt[:, K.C_SUMDEG2] / n - mean_deg**2,
            "max_degree": cnt[:, K.C_MAXDEG].copy(),
            "steps": cnt[:, K.C_T].copy(),
            "status": cnt[:, K.C_STATUS].copy(),
            "shares": self.reccount / n,
        }
        return out

    def time_series(self) -> np.ndarray:
        """[R, rows, 5] (t, cooperator fraction, #rewires, heterogeneity, max degree) every ``record_every``
        steps; rows after a replica ended (absorption) repeat its final state (it never changes again). Rows a
        replica has not reached yet (only mid-run, e.g. between env decisions) are NaN."""
        ts = self.ts.copy()
        every = self.config.record_every
        if ts.shape[1] == 0:
            return ts
        for r in range(self.R):  # one fill per replica, not per step
            last = int(self.cnt[r, K.C_PREV])
            ended = self.cnt[r, K.C_STATUS] in (K.ALL_C, K.ALL_D, K.TIME_LIMIT)
            if ended and 0 < last < ts.shape[1]:
                ts[r, last:, 1:] = [
                    self.msize[r, 1] / self.n,
                    self.cnt[r, K.C_REQ],
                    self.cnt[r, K.C_SUMDEG2] / self.n - (self.deg[r].sum() / self.n) ** 2,
                    self.cnt[r, K.C_MAXDEG],
                ]
                ts[r, last:, 0] = np.arange(last, ts.shape[1]) * every
        return ts


def simulate(
    rule: str = "NO_MED",
    n_replicas: int = 15,
    seed: int = 0,
    *,
    chunk: int | None = None,
    return_time_series: bool = False,
    **model: Any,
) -> dict[str, np.ndarray]:
    """Run ``rule`` (or a competition via ``contenders=[...]``) on ``n_replicas`` independent replicas.

    ``model`` takes the :class:`CoopConfig` fields (``n_nodes``, ``degree``, ``beta``, ``W``, ``max_steps`` ...).
    Replica i uses stream key ``seed_to_key(seed + i)``; replicas run in chunks of ``chunk`` (default: as many
    as fit in ~256 MB), which changes nothing in the results. Returns :meth:`CoopBatch.metrics` arrays
    (leading axis = replica) plus ``"time_series"`` [R, rows, 5] when ``return_time_series``.
    """
    config = CoopConfig(rule=rule, **model)
    if config.has_external:
        raise ValueError("rule must not be EXTERNAL in simulate (an agent decides those rewires; use the env)")
    n_replicas = check_int("n_replicas", n_replicas, 1, 10**6)
    seed = check_int("seed", seed, 0, 2**62)
    if chunk is None:
        chunk = max(1, min(n_replicas, (256 << 20) // (8 * config.n_nodes**2)))
    chunk = check_int("chunk", chunk, 1, 10**6)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n_replicas, chunk):
        size = min(chunk, n_replicas - start)
        batch = CoopBatch(config, size)
        batch.reset(crng.seed_to_key(np.arange(seed + start, seed + start + size)))
        batch.advance()
        part = batch.metrics()
        if return_time_series:
            part["time_series"] = batch.time_series()
        parts.append(part)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
