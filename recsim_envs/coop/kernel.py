"""Compiled kernels of the networked cooperation dilemma with rewiring (Carvalho 2021; Santos et al. 2006).

State of R independent replicas lives in flat arrays with a leading replica axis (see ``CoopBatch`` in
``simulator.py`` for the list). One loop over replicas, and inside it one loop over elementary steps; every
update is O(degree) or better:

- adjacency: neighbour lists ``nbr[r, v, :deg[r, v]]`` plus ``pos[r, v, w]`` (index of w in v's list, −1 if no
  edge), so edge tests, removals and uniform-neighbour draws are O(1);
- payoffs: each node's count of cooperating neighbours ``ncn`` is maintained incrementally (±1 per neighbour on a
  strategy change, per endpoint on a rewire); the fitness (:func:`fitness`) is then exact (integer counts, no
  float drift) and O(1);
- strategy groups: ``members[r, s, :msize[r, s]]`` lists defectors (s = 0) and cooperators (s = 1) for O(1)
  uniform draws by the group-based rules;
- degree statistics: a degree histogram, the maximum degree and Σ deg² are updated per rewire, so the
  heterogeneity ⟨k²⟩ − ⟨k⟩² and the maximum degree are O(1) at any step.

Random numbers: each replica owns a counter-based SplitMix64 stream (key and mixing function from
``recsim_envs.utils.rng``), so a replica's trajectory does not depend on how many replicas are simulated with it.

The arrays of R replicas travel together as one :class:`CoopState` (a NamedTuple, which numba passes to compiled
functions as a tuple of arrays at no cost).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from recsim_envs.coop import rules as R_
from recsim_envs.utils.rng import _GOLDEN, _INV53, _S11, splitmix64_scalar


class CoopState(NamedTuple):
    """State arrays of R replicas (leading replica axis); see ``CoopBatch`` in ``simulator.py`` for their meaning."""

    nbr: np.ndarray  # [R, N, N] int32 neighbour lists
    pos: np.ndarray  # [R, N, N] int32 index of w in v's list, −1 if no edge
    deg: np.ndarray  # [R, N] int32 degrees
    strat: np.ndarray  # [R, N] int8 strategy, 1 = C
    ncn: np.ndarray  # [R, N] int32 cooperating-neighbour counts
    rec: np.ndarray  # [R, N] int32 recommender index
    members: np.ndarray  # [R, 2, N] int32 defector / cooperator lists
    mpos: np.ndarray  # [R, N] int32 index of v in its group list
    msize: np.ndarray  # [R, 2] int64 group sizes
    degcount: np.ndarray  # [R, N + 1] int32 degree histogram
    reccount: np.ndarray  # [R, M] int64 users per recommender
    keys: np.ndarray  # [R] uint64 stream keys
    ctrs: np.ndarray  # [R] uint64 stream counters
    cnt: np.ndarray  # [R, N_CNT] int64 counters and status (slots C_*)
    ts: np.ndarray  # [R, rows, N_TS] float64 time series


# ---- counter slots of ``cnt[r, :]`` -------------------------------------------------------------------------
C_T = 0  # elementary steps taken
C_REQ = 1  # rewire requests: structural updates whose partner y is a defector (the paper's #rewires)
C_STRUCT = 2  # structural updates (opportunities)
C_DONE = 3  # rewires carried out
C_SKIP = 4  # rewires skipped (deg(b) <= 1, or no candidate, or NULL rule, or declined by the agent)
C_FLIPS = 5  # strategy changes
C_RECS = 6  # recommender changes (competition)
C_STATUS = 7
C_PA = 8  # pending rewire: node a (rewires) ...
C_PB = 9  # ... dropping node b
C_MAXDEG = 10
C_SUMDEG2 = 11
C_PREV = 12  # step of the last recorded time-series point
N_CNT = 13

# status codes
RUNNING, ALL_C, ALL_D, TIME_LIMIT, PENDING = 0, 1, 2, 3, 4

# float parameter slots of ``fp``
F_BETA, F_P_STRATEGY, F_P_REC, F_BETA_MED, F_T, F_S, F_R, F_P = range(8)
#: payoffs of mutual cooperation (reward R) and mutual defection (punishment P), fixed by the model (the game is
#: set by the temptation T and sucker's payoff S alone, Santos, Pacheco & Lenaerts 2006)
REWARD_R = 1.0
PUNISHMENT_P = 0.0
N_FP = 8
# int parameter slots of ``ip``
I_CLIPPED, I_STOP_ABSORB, I_MAX_STEPS, I_RECORD, I_REC_CLIPPED = range(5)
N_IP = 5
# time-series columns
TS_T, TS_COOP, TS_REQ, TS_HET, TS_MAXDEG = range(5)
N_TS = 5

_ONE = np.uint64(1)
#: stub count n·k above which a stuck random-regular draw is finished by edge switches instead of a restart
REPAIR_MIN_STUBS = 1 << 16
_TRIES = 32  # rejection-sampling attempts before an exact enumeration of the candidate set

_NULL, _NO_MED, _GOOD, _BAD, _RANDOM, _FAIR = R_.NULL, R_.NO_MED, R_.GOOD, R_.BAD, R_.RANDOM, R_.FAIR
_D_LOW, _D_HIGH, _C_LOW, _C_HIGH = R_.D_LOW, R_.D_HIGH, R_.C_LOW, R_.C_HIGH
_ANY_LOW, _ANY_HIGH = R_.ANY_LOW, R_.ANY_HIGH
_EXTERNAL, _EXCL = R_.EXTERNAL, R_.EXCLUSIVE


@njit(cache=True)
def _u01(keys, ctrs, r):
    """Next uniform in [0, 1) of replica r's stream (SplitMix64 of key + golden·counter)."""
    c = ctrs[r] + _ONE
    ctrs[r] = c
    return float(splitmix64_scalar(keys[r] + _GOLDEN * c) >> _S11) * _INV53


@njit(cache=True)
def _randint(keys, ctrs, r, n):
    i = int(_u01(keys, ctrs, r) * n)
    return i if i < n else n - 1


@njit(cache=True)
def fitness(s: int, nc: int, d: int, fp: np.ndarray) -> float:
    """Fitness Π_x of node x with strategy ``s`` (1 = C), ``nc`` cooperating neighbours out of ``d``: the sum of
    its pairwise payoffs against every neighbour (Santos, Pacheco & Lenaerts 2006; Carvalho 2021),

        Π_x = nc·R + (d − nc)·S  for a cooperator,   Π_x = nc·T + (d − nc)·P  for a defector,

    with R, S, T, P read from ``fp`` (slots F_R, F_S, F_T, F_P; R = ``REWARD_R``, P = ``PUNISHMENT_P``)."""
    if s == 1:
        return nc * fp[F_R] + (d - nc) * fp[F_S]
    return nc * fp[F_T] + (d - nc) * fp[F_P]


@njit(cache=True)
def fitness_all(strat: np.ndarray, ncn: np.ndarray, deg: np.ndarray, fp: np.ndarray, out: np.ndarray) -> None:
    """out[r, v] = :func:`fitness` of every node of every replica."""
    for r in range(strat.shape[0]):
        for v in range(strat.shape[1]):
            out[r, v] = fitness(strat[r, v], ncn[r, v], deg[r, v], fp)


@njit(cache=True)
def _fermi(diff, beta, clipped):
    """Fermi imitation probability 1/(1 + exp(−β·d)); ``clipped`` uses d := max(d, 0) (author's code)."""
    if clipped and diff < 0.0:
        diff = 0.0
    return 1.0 / (1.0 + np.exp(-beta * diff))


# ---- graph edits ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _link(nbr, pos, deg, r, a, b):
    da = deg[r, a]
    nbr[r, a, da] = b
    pos[r, a, b] = da
    deg[r, a] = da + 1
    db = deg[r, b]
    nbr[r, b, db] = a
    pos[r, b, a] = db
    deg[r, b] = db + 1


@njit(cache=True)
def _unlink_half(nbr, pos, deg, r, a, b):
    i = pos[r, a, b]
    last = deg[r, a] - 1
    w = nbr[r, a, last]
    nbr[r, a, i] = w
    pos[r, a, w] = i
    pos[r, a, b] = -1
    deg[r, a] = last


@njit(cache=True)
def _degree_moved(degcount, cnt, r, old, new):
    degcount[r, old] -= 1
    degcount[r, new] += 1
    cnt[r, C_SUMDEG2] += new * new - old * old
    if new > cnt[r, C_MAXDEG]:
        cnt[r, C_MAXDEG] = new
    elif old == cnt[r, C_MAXDEG] and degcount[r, old] == 0:
        cnt[r, C_MAXDEG] = old - 1


@njit(cache=True)
def _rewire(nbr, pos, deg, strat, ncn, degcount, cnt, r, a, b, z):
    """a drops b and links z (a's degree unchanged, b loses one, z gains one); O(1) bookkeeping."""
    _unlink_half(nbr, pos, deg, r, a, b)
    _unlink_half(nbr, pos, deg, r, b, a)
    ncn[r, a] -= strat[r, b]
    ncn[r, b] -= strat[r, a]
    _degree_moved(degcount, cnt, r, deg[r, b] + 1, deg[r, b])
    _link(nbr, pos, deg, r, a, z)
    ncn[r, a] += strat[r, z]
    ncn[r, z] += strat[r, a]
    _degree_moved(degcount, cnt, r, deg[r, z] - 1, deg[r, z])
    cnt[r, C_DONE] += 1


@njit(cache=True)
def _set_strategy(nbr, deg, strat, ncn, members, mpos, msize, r, x, s_new):
    """x switches to s_new: neighbours' cooperator counts ±1 (O(deg x)), group lists by swap-remove."""
    s_old = strat[r, x]
    delta = 1 if s_new == 1 else -1
    for j in range(deg[r, x]):
        v = nbr[r, x, j]
        ncn[r, v] += delta
    i = mpos[r, x]
    last = msize[r, s_old] - 1
    w = members[r, s_old, last]
    members[r, s_old, i] = w
    mpos[r, w] = i
    msize[r, s_old] = last
    j = msize[r, s_new]
    members[r, s_new, j] = x
    mpos[r, x] = j
    msize[r, s_new] = j + 1
    strat[r, x] = s_new


# ---- candidate selection -------------------------------------------------------------------------------------
@njit(cache=True)
def _valid(pos, rec, r, a, c, excl):
    """c may receive a's new link: not a, not a current neighbour, same recommender for exclusive rules."""
    if c == a or pos[r, a, c] >= 0:
        return False
    if excl and rec[r, c] != rec[r, a]:
        return False
    return True


@njit(cache=True)
def _pool_get(members, r, group, i):
    if group == 2:
        return i
    return members[r, group, i]


@njit(cache=True)
def _choose_target(rule, nbr, pos, deg, strat, ncn, rec, members, msize, keys, ctrs, r, a, b, n):
    """The node a links to under ``rule`` (uniform over its candidate set, ties at random), or −1 if none."""
    base = rule & (_EXCL - 1)
    excl = (rule & _EXCL) != 0
    if base == _NULL:
        return -1
    if base == _NO_MED:
        db = deg[r, b]
        for _ in range(_TRIES):
            c = nbr[r, b, _randint(keys, ctrs, r, db)]
            if _valid(pos, rec, r, a, c, excl):
                return c
        count = 0
        for j in range(deg[r, b]):
            if _valid(pos, rec, r, a, nbr[r, b, j], excl):
                count += 1
        if count == 0:
            return -1
        m = _randint(keys, ctrs, r, count)
        for j in range(deg[r, b]):
            c = nbr[r, b, j]
            if _valid(pos, rec, r, a, c, excl):
                if m == 0:
                    return c
                m -= 1
        return -1
    # group-based rules: 0 defectors, 1 cooperators, 2 anyone; degree mode 0 random, 1 lowest, 2 highest
    group = 2
    mode = 0
    if base == _GOOD:
        group = 1
    elif base == _BAD:
        group = 0
    elif base == _FAIR:
        group = strat[r, a]
    elif base == _D_LOW or base == _D_HIGH:
        group = 0
        mode = 1 if base == _D_LOW else 2
    elif base == _C_LOW or base == _C_HIGH:
        group = 1
        mode = 1 if base == _C_LOW else 2
    elif base == _ANY_LOW or base == _ANY_HIGH:
        mode = 1 if base == _ANY_LOW else 2
    size = n if group == 2 else msize[r, group]
    if size == 0:
        return -1
    if not excl:
        # exact size of the candidate set in O(1): the group minus a itself minus a's neighbours in the group
        if group == 2:
            n_valid = n - 1 - deg[r, a]
        elif group == 1:
            n_valid = size - strat[r, a] - ncn[r, a]
        else:
            n_valid = size - (1 - strat[r, a]) - (deg[r, a] - ncn[r, a])
        if n_valid <= 0:
            return -1
    if mode == 0:
        # rejection sampling is exactly uniform over the valid set; if it keeps failing, enumerate instead
        for _ in range(_TRIES):
            c = _pool_get(members, r, group, _randint(keys, ctrs, r, size))
            if _valid(pos, rec, r, a, c, excl):
                return c
        count = 0
        for i in range(size):
            if _valid(pos, rec, r, a, _pool_get(members, r, group, i), excl):
                count += 1
        if count == 0:
            return -1
        return _nth_candidate(pos, deg, rec, members, r, a, group, size, excl, -1, _randint(keys, ctrs, r, count))
    # lowest / highest degree among candidates, uniform tie-break: one pass for the extreme and its count
    best = -1
    count = 0
    for i in range(size):
        c = _pool_get(members, r, group, i)
        if _valid(pos, rec, r, a, c, excl):
            d = deg[r, c]
            better = best < 0 or (d < best if mode == 1 else d > best)
            if better:
                best = d
                count = 1
            elif d == best:
                count += 1
    if count == 0:
        return -1
    return _nth_candidate(pos, deg, rec, members, r, a, group, size, excl, best, _randint(keys, ctrs, r, count))


@njit(cache=True)
def _nth_candidate(pos, deg, rec, members, r, a, group, size, excl, degree, m):
    """The m-th (from 0) valid candidate of a's new link in ``group`` (pool order), among those of degree
    ``degree`` when ``degree`` ≥ 0; −1 if there are fewer."""
    for i in range(size):
        c = _pool_get(members, r, group, i)
        if _valid(pos, rec, r, a, c, excl) and (degree < 0 or deg[r, c] == degree):
            if m == 0:
                return c
            m -= 1
    return -1


@njit(cache=True)
def has_candidate(pos: np.ndarray, deg: np.ndarray, rec: np.ndarray, r: int, a: int, excl: bool, n: int) -> bool:
    """Whether a has any valid new partner (used before asking an agent)."""
    if not excl:
        return n - 1 - deg[r, a] > 0
    for c in range(n):
        if _valid(pos, rec, r, a, c, excl):
            return True
    return False


@njit(cache=True)
def _record(ts, cnt, msize, r, n, mean_deg):
    """Append the current state as the next row of the replica's time series (rows every ``record_every``)."""
    row = cnt[r, C_PREV]
    if row >= ts.shape[1]:
        return
    ts[r, row, TS_T] = cnt[r, C_T]
    ts[r, row, TS_COOP] = msize[r, 1] / n
    ts[r, row, TS_REQ] = cnt[r, C_REQ]
    ts[r, row, TS_HET] = cnt[r, C_SUMDEG2] / n - mean_deg * mean_deg
    ts[r, row, TS_MAXDEG] = cnt[r, C_MAXDEG]
    cnt[r, C_PREV] = row + 1


@njit(cache=True)
def _check_absorbed(cnt, msize, r, n):
    if msize[r, 1] == n:
        cnt[r, C_STATUS] = ALL_C
        return True
    if msize[r, 1] == 0:
        cnt[r, C_STATUS] = ALL_D
        return True
    return False


@njit(cache=True)
def advance(state: CoopState, rules: np.ndarray, fp: np.ndarray, ip: np.ndarray) -> None:
    """Run every replica whose status is RUNNING until absorption, the time limit, or an EXTERNAL rewire.

    One elementary step (docs/models/coop.md): x uniform, y a uniform neighbour of x, p = Fermi(Π_y − Π_x).
    - With probability ``fp[F_P_REC]`` (competition only; W2/(1+W2)) x copies y's recommender with probability
      Fermi(β_med(Π_y − Π_x)).
    - Otherwise with probability 1/(1+W) a strategy update (x copies y's strategy with probability p), else a
      structural update: C–D: with probability p x rewires away from y; D–D: with probability p x rewires away
      from y, else y rewires away from x; C–C and D–C: nothing. The rewiring node's recommender picks the new
      partner. A rewire is skipped when the dropped node has degree ≤ 1 or there is no candidate.
    """
    nbr, pos, deg, strat, ncn, rec, members, mpos, msize, degcount, reccount, keys, ctrs, cnt, ts = state
    n_rep = nbr.shape[0]
    n = nbr.shape[1]
    beta = fp[F_BETA]
    p_strategy = fp[F_P_STRATEGY]
    p_rec = fp[F_P_REC]
    beta_med = fp[F_BETA_MED]
    clipped = ip[I_CLIPPED] != 0
    rec_clipped = ip[I_REC_CLIPPED] != 0
    stop_absorb = ip[I_STOP_ABSORB] != 0
    max_steps = ip[I_MAX_STEPS]
    every = ip[I_RECORD]
    mean_deg = 0.0
    for r in range(n_rep):
        if cnt[r, C_STATUS] != RUNNING:
            continue
        total = 0
        for v in range(n):
            total += deg[r, v]
        mean_deg = total / n
        while True:
            if cnt[r, C_T] >= max_steps:
                cnt[r, C_STATUS] = TIME_LIMIT
                break
            cnt[r, C_T] += 1
            x = _randint(keys, ctrs, r, n)
            y = nbr[r, x, _randint(keys, ctrs, r, deg[r, x])]
            px = fitness(strat[r, x], ncn[r, x], deg[r, x], fp)
            py = fitness(strat[r, y], ncn[r, y], deg[r, y], fp)
            pending = False
            if p_rec > 0.0 and _u01(keys, ctrs, r) < p_rec:
                # recommender (adoption) update
                if rec[r, x] != rec[r, y] and _u01(keys, ctrs, r) < _fermi(py - px, beta_med, rec_clipped):
                    reccount[r, rec[r, x]] -= 1
                    reccount[r, rec[r, y]] += 1
                    rec[r, x] = rec[r, y]
                    cnt[r, C_RECS] += 1
            elif _u01(keys, ctrs, r) < p_strategy:
                sx = strat[r, x]
                sy = strat[r, y]
                if sx != sy and _u01(keys, ctrs, r) < _fermi(py - px, beta, clipped):
                    _set_strategy(nbr, deg, strat, ncn, members, mpos, msize, r, x, sy)
                    cnt[r, C_FLIPS] += 1
                    if stop_absorb and _check_absorbed(cnt, msize, r, n):
                        if every > 0 and cnt[r, C_T] % every == 0:
                            _record(ts, cnt, msize, r, n, mean_deg)
                        break
            else:
                cnt[r, C_STRUCT] += 1
                if strat[r, y] == 0:
                    cnt[r, C_REQ] += 1
                    p = _fermi(py - px, beta, clipped)
                    a = -1
                    b = -1
                    if strat[r, x] == 1:
                        if _u01(keys, ctrs, r) < p:
                            a = x
                            b = y
                    elif _u01(keys, ctrs, r) < p:
                        a = x
                        b = y
                    else:
                        a = y
                        b = x
                    if a >= 0:
                        rule = rules[rec[r, a]]
                        if deg[r, b] <= 1:
                            cnt[r, C_SKIP] += 1
                        elif (rule & (_EXCL - 1)) == _EXTERNAL:
                            if has_candidate(pos, deg, rec, r, a, (rule & _EXCL) != 0, n):
                                cnt[r, C_PA] = a
                                cnt[r, C_PB] = b
                                cnt[r, C_STATUS] = PENDING
                                pending = True
                            else:
                                cnt[r, C_SKIP] += 1
                        else:
                            z = _choose_target(
                                rule, nbr, pos, deg, strat, ncn, rec, members, msize, keys, ctrs, r, a, b, n
                            )
                            if z < 0:
                                cnt[r, C_SKIP] += 1
                            else:
                                _rewire(nbr, pos, deg, strat, ncn, degcount, cnt, r, a, b, z)
            if every > 0 and cnt[r, C_T] % every == 0:
                _record(ts, cnt, msize, r, n, mean_deg)
            if pending:
                break


@njit(cache=True)
def apply_external(state: CoopState, rules: np.ndarray, r: int, z: int, n: int) -> bool:
    """Carry out (z ≥ 0) or decline (z < 0) replica r's pending rewire; return False if z is not a candidate."""
    nbr, pos, deg, strat, ncn, rec, degcount, cnt = (
        state.nbr, state.pos, state.deg, state.strat, state.ncn, state.rec, state.degcount, state.cnt,
    )  # fmt: skip
    a = cnt[r, C_PA]
    b = cnt[r, C_PB]
    if z >= 0:
        excl = (rules[rec[r, a]] & _EXCL) != 0
        if z >= n or not _valid(pos, rec, r, a, z, excl):
            return False
        _rewire(nbr, pos, deg, strat, ncn, degcount, cnt, r, a, b, z)
    else:
        cnt[r, C_SKIP] += 1
    cnt[r, C_STATUS] = RUNNING
    cnt[r, C_PA] = -1
    cnt[r, C_PB] = -1
    return True


@njit(cache=True)
def candidate_mask(state: CoopState, rules: np.ndarray, r: int, n: int, out: np.ndarray) -> None:
    """out[c] = 1 for every valid new partner of the pending rewiring node (all zero if nothing is pending)."""
    pos, rec, cnt = state.pos, state.rec, state.cnt
    for c in range(n):
        out[c] = 0
    if cnt[r, C_STATUS] != PENDING:
        return
    a = cnt[r, C_PA]
    excl = (rules[rec[r, a]] & _EXCL) != 0
    for c in range(n):
        if _valid(pos, rec, r, a, c, excl):
            out[c] = 1


@njit(cache=True)
def apply_external_all(state: CoopState, rules: np.ndarray, z: np.ndarray, n: int) -> None:
    """:func:`apply_external` for every replica with a pending rewire: ``z[r]`` is replica r's new partner (< 0
    declines). One compiled call for all replicas (no per-replica call from Python)."""
    for r in range(state.cnt.shape[0]):
        if state.cnt[r, C_STATUS] == PENDING:
            apply_external(state, rules, r, z[r], n)


@njit(cache=True)
def candidate_masks(state: CoopState, rules: np.ndarray, which: np.ndarray, n: int, out: np.ndarray) -> None:
    """Rows ``out[r]`` for the replicas in ``which``: :func:`candidate_mask` where a rewire is pending, all ones
    where nothing is (the final no-op step accepts and ignores any action)."""
    for r in range(state.cnt.shape[0]):
        if which[r]:
            if state.cnt[r, C_STATUS] == PENDING:
                candidate_mask(state, rules, r, n, out[r])
            else:
                out[r, :] = 1


# ---- initial state -------------------------------------------------------------------------------------------
@njit(cache=True)
def _clear_graph(nbr, pos, deg, r, n):
    for v in range(n):
        for j in range(deg[r, v]):
            pos[r, v, nbr[r, v, j]] = -1
        deg[r, v] = 0


@njit(cache=True)
def _random_regular(nbr, pos, deg, keys, ctrs, r, n, k):
    """Random k-regular simple graph on n nodes.

    Sparse case (2k ≤ n − 1): stub pairing (:func:`_pair_stubs`). Dense case (2k > n − 1): stub pairing gets
    stuck ever more often as k approaches n − 1 (minutes at n = 100, k = 97), so draw the sparse complement, an
    (n − 1 − k)-regular graph, and take its complement. Complementing is a bijection between k-regular and
    (n − 1 − k)-regular simple graphs on the same nodes, so the dense graph has exactly the distribution the
    complement sampler gives its sparse twin (uniform if that one is). Neighbour lists of a dense graph come out
    sorted by node index.
    """
    if 2 * k <= n - 1:
        _pair_stubs(nbr, pos, deg, keys, ctrs, r, n, k)
        return
    _pair_stubs(nbr, pos, deg, keys, ctrs, r, n, n - 1 - k)
    absent = np.empty((n, n), dtype=np.bool_)
    for v in range(n):
        for w in range(n):
            absent[v, w] = v != w and pos[r, v, w] < 0
    _clear_graph(nbr, pos, deg, r, n)
    for v in range(n):
        for w in range(v + 1, n):
            if absent[v, w]:
                _link(nbr, pos, deg, r, v, w)


@njit(cache=True)
def _pair_stubs(nbr, pos, deg, keys, ctrs, r, n, k):
    """Random k-regular simple graph: pair shuffled stubs, return clashing pairs to the pool and reshuffle it
    (local retries). When the leftover stubs admit no valid pair: restart for small graphs (n·k ≤
    ``REPAIR_MIN_STUBS``, the algorithm every published run used, kept bit for bit); for larger graphs, where a
    restart costs seconds and happens on most attempts once k is a sizeable fraction of n, place the leftovers by
    edge switches instead (:func:`_switch_in`). Meant for 2k ≤ n − 1 (see :func:`_random_regular`)."""
    stubs = np.empty(n * k, dtype=np.int64)
    while True:
        _clear_graph(nbr, pos, deg, r, n)
        m = 0
        for v in range(n):
            for _ in range(k):
                stubs[m] = v
                m += 1
        ok = True
        while m > 0:
            for i in range(m - 1, 0, -1):
                j = _randint(keys, ctrs, r, i + 1)
                t = stubs[i]
                stubs[i] = stubs[j]
                stubs[j] = t
            left = 0
            for i in range(0, m, 2):
                u = stubs[i]
                v = stubs[i + 1]
                if u != v and pos[r, u, v] < 0:
                    _link(nbr, pos, deg, r, u, v)
                else:
                    stubs[left] = u
                    stubs[left + 1] = v
                    left += 2
            if left == m:
                # no progress this round: is any valid pair left among the remaining stubs?
                possible = False
                for i in range(m):
                    for j in range(i + 1, m):
                        if stubs[i] != stubs[j] and pos[r, stubs[i], stubs[j]] < 0:
                            possible = True
                            break
                    if possible:
                        break
                if not possible:
                    if n * k > REPAIR_MIN_STUBS:
                        for i in range(0, m, 2):
                            _switch_in(nbr, pos, deg, keys, ctrs, r, n, stubs[i], stubs[i + 1])
                        return
                    ok = False
                    break
            m = left
        if ok:
            return


@njit(cache=True)
def _switch_in(nbr, pos, deg, keys, ctrs, r, n, u, v):
    """Give stubs u and v (equal, or already adjacent nodes: an unplaceable pair) one edge each by a switch: pick
    a uniform edge (x, y) with x, y ∉ {u, v}, x not adjacent to u and y not adjacent to v, and replace it by
    (u, x) and (v, y). Degrees of x and y are unchanged; the graph stays simple. With 2k ≤ n − 1 at least half of
    the nodes are non-neighbours of u (and of v), so a valid edge is found after a few draws."""
    while True:
        x = _randint(keys, ctrs, r, n)
        if deg[r, x] == 0:
            continue
        y = nbr[r, x, _randint(keys, ctrs, r, deg[r, x])]
        if x == u or x == v or y == u or y == v or pos[r, u, x] >= 0 or pos[r, v, y] >= 0:
            continue
        _unlink_half(nbr, pos, deg, r, x, y)
        _unlink_half(nbr, pos, deg, r, y, x)
        _link(nbr, pos, deg, r, u, x)
        _link(nbr, pos, deg, r, v, y)
        return


@njit(cache=True)
def init_replicas(
    which: np.ndarray,
    state: CoopState,
    k: int,
    n_contenders: int,
    n_seeds: int,
    p_coop: float,
    stop_absorb: bool,
) -> None:
    """Fresh episode for replicas with ``which[r]`` of ``state`` (a :class:`CoopState`): random k-regular graph,
    i.i.d. strategies (C with probability ``p_coop``), recommender 0 (NO_MED default) for all but ``n_seeds``
    uniformly chosen seed users, split evenly (round robin) among contenders 1..n_contenders."""
    nbr, pos, deg, strat, ncn, rec, members, mpos, msize, degcount, reccount, keys, ctrs, cnt, ts = state
    n_rep = nbr.shape[0]
    n = nbr.shape[1]
    perm = np.empty(n, dtype=np.int64)
    for r in range(n_rep):
        if not which[r]:
            continue
        ctrs[r] = np.uint64(0)
        _random_regular(nbr, pos, deg, keys, ctrs, r, n, k)
        msize[r, 0] = 0
        msize[r, 1] = 0
        for v in range(n):
            s = 1 if _u01(keys, ctrs, r) < p_coop else 0
            strat[r, v] = s
            j = msize[r, s]
            members[r, s, j] = v
            mpos[r, v] = j
            msize[r, s] = j + 1
        for v in range(n):
            c = 0
            for j in range(deg[r, v]):
                c += strat[r, nbr[r, v, j]]
            ncn[r, v] = c
        for v in range(n):
            rec[r, v] = 0
            perm[v] = v
        for i in range(reccount.shape[1]):
            reccount[r, i] = 0
        if n_contenders > 0:
            for i in range(n_seeds):
                j = i + _randint(keys, ctrs, r, n - i)
                t = perm[i]
                perm[i] = perm[j]
                perm[j] = t
                rec[r, perm[i]] = 1 + (i % n_contenders)
        for v in range(n):
            reccount[r, rec[r, v]] += 1
        for d in range(degcount.shape[1]):
            degcount[r, d] = 0
        s2 = 0
        mx = 0
        for v in range(n):
            d = deg[r, v]
            degcount[r, d] += 1
            s2 += d * d
            if d > mx:
                mx = d
        for i in range(N_CNT):
            cnt[r, i] = 0
        cnt[r, C_PA] = -1
        cnt[r, C_PB] = -1
        cnt[r, C_MAXDEG] = mx
        cnt[r, C_SUMDEG2] = s2
        if ts.shape[1] > 0:
            for i in range(ts.shape[1]):
                for j in range(N_TS):
                    ts[r, i, j] = np.nan
            _record(ts, cnt, msize, r, n, float(k))
        if stop_absorb:
            _check_absorbed(cnt, msize, r, n)


@njit(cache=True)
def choose_pending(rule: int, state: CoopState, r: int, n: int) -> int:
    """The partner that heuristic ``rule`` picks for replica r's pending rewire (−1: none), drawn from the
    replica's own stream exactly as :func:`advance` draws it for a non-EXTERNAL rule at the same point. Used by
    the multi-agent env so that a heuristic agent acting through the agent interface follows the simulator."""
    nbr, pos, deg, strat, ncn, rec, members, mpos, msize, degcount, reccount, keys, ctrs, cnt, ts = state
    if cnt[r, C_STATUS] != PENDING:
        return -1
    return _choose_target(
        rule, nbr, pos, deg, strat, ncn, rec, members, msize, keys, ctrs, r, cnt[r, C_PA], cnt[r, C_PB], n
    )


@njit(cache=True)
def choose_pending_all(rule: int, state: CoopState, n: int, out: np.ndarray) -> None:
    """:func:`choose_pending` for every replica at once: ``out[r]`` = the partner, or −1 (none, or not pending)."""
    for r in range(state.cnt.shape[0]):
        out[r] = choose_pending(rule, state, r, n)
