"""Model tests of the cooperation/rewiring simulator against independent computations.

- one elementary step vs an exact enumeration of docs/models/coop.md written with Python sets (Monte-Carlo over many
  replicas started in the same state);
- graph/payoff invariants recomputed from scratch after every step, for every rule;
- every heuristic's choice lies in its candidate set (diffing the graph around each rewire);
- absorbing states, replica batching, time series, validation.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from recsim_envs.coop import kernel as K
from recsim_envs.coop.rules import RULE_NAMES, rule_code
from recsim_envs.coop.simulator import CoopBatch, CoopConfig, simulate
from recsim_envs.utils import rng as crng

# a small irregular graph with a degree-1 node (5) so the "deg(b) ≤ 1" skip is exercised
EDGES = [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3), (3, 4), (4, 5), (1, 4)]
STRAT = [1, 0, 1, 0, 0, 1]


def _adj(n, edges):
    a = np.zeros((n, n), dtype=np.int8)
    for u, v in edges:
        a[u, v] = a[v, u] = 1
    return a


# ---- independent reference: exact one-step distribution from the spec, with sets --------------------------
def _fitness(x, nbrs, s, T, S):
    return sum((1.0 if s[y] else S) if s[x] else (T if s[y] else 0.0) for y in nbrs[x])


def _fermi(d, beta, clipped):
    if clipped:
        d = max(d, 0.0)
    return 1.0 / (1.0 + math.exp(-beta * d))


def _candidates(rule, a, b, nbrs, s, rec):
    base, excl = rule.removesuffix("_X"), rule.endswith("_X")
    n = len(s)
    pool = [z for z in range(n) if z != a and z not in nbrs[a] and (not excl or rec[z] == rec[a])]
    if base == "NULL":
        return []
    if base == "NO_MED":
        return [z for z in pool if z in nbrs[b]]
    group = {"GOOD": 1, "BAD": 0, "RANDOM": None, "FAIR": s[a]}.get(base)
    if base.startswith(("C_", "D_", "ANY_")):
        group = {"C": 1, "D": 0, "ANY": None}[base.split("_")[0]]
    pool = [z for z in pool if group is None or s[z] == group]
    if base.endswith(("_LOW", "_HIGH")) and pool:
        degs = [len(nbrs[z]) for z in pool]
        best = min(degs) if base.endswith("_LOW") else max(degs)
        pool = [z for z, d in zip(pool, degs) if d == best]
    return pool


def _state_key(nbrs, s, rec):
    edges = frozenset((u, v) for u in range(len(s)) for v in nbrs[u] if u < v)
    return edges, tuple(s), tuple(rec)


def exact_one_step(edges, strat, rec, rules, *, beta, W, T, S, clipped, W2=0.0, beta_med=0.0, rec_clipped=None):
    """{state: probability} after one elementary step (docs/models/coop.md), by enumeration."""
    n = len(strat)
    nbrs0 = [set() for _ in range(n)]
    for u, v in edges:
        nbrs0[u].add(v)
        nbrs0[v].add(u)
    out: Counter = Counter()
    p_rec = W2 / (1 + W2) if len(rules) > 1 else 0.0
    q = 1.0 / (1.0 + W)

    def emit(prob, nbrs=nbrs0, s=strat, r=rec):
        out[_state_key(nbrs, list(s), list(r))] += prob

    def rewire(prob, a, b):
        if len(nbrs0[b]) <= 1:
            return emit(prob)
        cand = _candidates(rules[rec[a]], a, b, nbrs0, strat, rec)
        if not cand:
            return emit(prob)
        for z in cand:
            nb = [set(x) for x in nbrs0]
            nb[a].discard(b)
            nb[b].discard(a)
            nb[a].add(z)
            nb[z].add(a)
            emit(prob / len(cand), nb)

    for x in range(n):
        for y in nbrs0[x]:
            w = 1.0 / n / len(nbrs0[x])
            d = _fitness(y, nbrs0, strat, T, S) - _fitness(x, nbrs0, strat, T, S)
            p = _fermi(d, beta, clipped)
            if p_rec:
                rc = clipped if rec_clipped is None else rec_clipped
                pm = _fermi(d, beta_med, rc) if rec[x] != rec[y] else 0.0
                r2 = list(rec)
                r2[x] = rec[y]
                emit(w * p_rec * pm, r=r2)
                emit(w * p_rec * (1 - pm))
            w *= 1 - p_rec
            ps = p if strat[x] != strat[y] else 0.0
            s2 = list(strat)
            s2[x] = strat[y]
            emit(w * q * ps, s=s2)
            emit(w * q * (1 - ps))
            w *= 1 - q
            if strat[y] == 1:
                emit(w)
            elif strat[x] == 1:
                rewire(w * p, x, y)
                emit(w * (1 - p))
            else:
                rewire(w * p, x, y)
                rewire(w * (1 - p), y, x)
    return out


def _batch_keys(batch: CoopBatch):
    keys = []
    for r in range(batch.R):
        nbrs = [set(batch.nbr[r, v, : batch.deg[r, v]].tolist()) for v in range(batch.n)]
        keys.append(_state_key(nbrs, batch.strat[r].tolist(), batch.rec[r].tolist()))
    return Counter(keys)


@pytest.mark.parametrize(
    "rule,fermi_mode,extra",
    [
        ("NO_MED", "clipped", {}),
        ("GOOD", "symmetric", {}),
        ("FAIR", "clipped", {}),
        ("ANY_HIGH", "symmetric", {}),
        ("C_LOW", "clipped", {}),
        ("NO_MED", "symmetric", {"contenders": ("GOOD_X", "BAD"), "W2": 0.5, "beta_med_factor": 3.0}),
        (
            "BAD",
            "clipped",
            {"contenders": ("NO_MED_X",), "W2": 1.0, "beta_med_factor": 2.0, "recommender_fermi_mode": "symmetric"},
        ),
    ],
)
def test_one_step_matches_exact_enumeration(rule, fermi_mode, extra):
    n, R = 6, 40_000
    rec = [[0, 1, 1, 2, 0, 1], [0, 1, 1, 0, 0, 1]][len(extra.get("contenders", ())) == 1] if extra else [0] * n
    cfg = CoopConfig(
        n_nodes=n, degree=2, beta=0.4, W=1.5, T=1.6, S=-0.4, fermi_mode=fermi_mode, rule=rule, max_steps=10, **extra
    )
    batch = CoopBatch(cfg, R)
    batch.set_state(_adj(n, EDGES), np.array(STRAT), crng.seed_to_key(np.arange(R)), recommender=np.array(rec))
    batch.advance(until=1)
    assert np.all(batch.cnt[:, K.C_T] == 1)
    rules = [rule, *extra.get("contenders", ())]
    exact = exact_one_step(
        EDGES, STRAT, rec, rules, beta=0.4, W=1.5, T=1.6, S=-0.4, clipped=fermi_mode == "clipped",
        W2=extra.get("W2", 0.0), beta_med=0.4 * extra.get("beta_med_factor", 0.0),
        rec_clipped=None if "recommender_fermi_mode" not in extra else extra["recommender_fermi_mode"] == "clipped",
    )  # fmt: skip
    assert math.isclose(sum(exact.values()), 1.0, rel_tol=1e-12)
    seen = _batch_keys(batch)
    assert set(seen) <= {k for k, p in exact.items() if p > 0}, "an outcome the spec gives probability 0"
    for key, p in exact.items():
        freq = seen.get(key, 0) / R
        assert abs(freq - p) <= 5 * math.sqrt(p * (1 - p) / R) + 1e-12, (key, freq, p)


# ---- invariants after every step -------------------------------------------------------------------------
def check_invariants(batch: CoopBatch, n_edges: int) -> None:
    c = batch.config
    n = batch.n
    adj = batch.pos >= 0
    assert np.array_equal(adj, adj.transpose(0, 2, 1)), "adjacency not symmetric"
    assert not adj[:, np.arange(n), np.arange(n)].any(), "self-loop"
    deg = adj.sum(axis=2)
    assert np.array_equal(deg, batch.deg)
    assert np.all(deg.sum(axis=1) == 2 * n_edges), "edge count changed"
    assert deg.min() >= 1, "isolated node"
    for r in range(batch.R):  # neighbour lists agree with the position index
        for v in range(n):
            lst = batch.nbr[r, v, : deg[r, v]]
            assert np.array_equal(batch.pos[r, v, lst], np.arange(deg[r, v]))
    s = batch.strat.astype(np.int64)
    ncn = np.einsum("rij,rj->ri", adj.astype(np.int64), s)
    assert np.array_equal(ncn, batch.ncn)
    pay = np.where(s[:, :, None] == 1, np.where(s[:, None, :] == 1, 1.0, c.S), np.where(s[:, None, :] == 1, c.T, 0.0))
    fitness = (adj * pay).sum(axis=2)
    np.testing.assert_allclose(batch.fitness(), fitness, rtol=0, atol=1e-9)
    for g in (0, 1):
        for r in range(batch.R):
            m = batch.members[r, g, : batch.msize[r, g]]
            assert sorted(m.tolist()) == np.flatnonzero(s[r] == g).tolist()
            assert np.array_equal(batch.mpos[r, m], np.arange(len(m)))
    assert np.array_equal(batch.cnt[:, K.C_MAXDEG], deg.max(axis=1))
    assert np.array_equal(batch.cnt[:, K.C_SUMDEG2], (deg.astype(np.int64) ** 2).sum(axis=1))
    hist = np.stack([np.bincount(d, minlength=n + 1) for d in deg])
    assert np.array_equal(hist, batch.degcount)
    recs = np.stack([np.bincount(x, minlength=c.n_recommenders) for x in batch.rec])
    assert np.array_equal(recs, batch.reccount)


ALL_RULES = ["NULL", "NO_MED", "GOOD", "BAD", "RANDOM", "FAIR", "D_LOW", "D_HIGH", "ANY_LOW", "ANY_HIGH", "C_LOW"]


@pytest.mark.parametrize("rule", ALL_RULES + ["C_HIGH", "competition"])
def test_invariants_and_choices_step_by_step(rule):
    """After every elementary step the incremental state equals a recomputation, and every rewire's new
    partner lies in the rule's candidate set computed from the state before the step."""
    n, k, R = 16, 4, 3
    extra = (
        {"contenders": ("GOOD_X", "NO_MED_X", "C_HIGH_X"), "W2": 0.3, "seed_fraction": 0.5}
        if rule == "competition"
        else {}
    )
    cfg = CoopConfig(n_nodes=n, degree=k, beta=0.3, W=4.0, rule="NO_MED" if extra else rule, max_steps=400,
                     stop_on_absorption=False, **extra)  # fmt: skip
    rules = [cfg.rule, *cfg.contenders]
    batch = CoopBatch(cfg, R)
    batch.reset(crng.seed_to_key(np.arange(R) + 100))
    check_invariants(batch, n * k // 2)
    n_checked = 0
    for t in range(1, cfg.max_steps + 1):
        adj0 = batch.pos >= 0
        s0 = batch.strat.copy()
        rec0 = batch.rec.copy()
        done0 = batch.cnt[:, K.C_DONE].copy()
        batch.advance(until=t)
        check_invariants(batch, n * k // 2)
        adj1 = batch.pos >= 0
        for r in np.flatnonzero(batch.cnt[:, K.C_DONE] > done0):
            removed = np.argwhere(adj0[r] & ~adj1[r])
            added = np.argwhere(adj1[r] & ~adj0[r])
            assert len(removed) == 2 and len(added) == 2  # one undirected edge each
            (u, v), (p, q) = removed[0], added[0]
            a = ({u, v} & {p, q}).pop()
            b = ({u, v} - {a}).pop()
            z = ({p, q} - {a}).pop()
            nbrs = [set(np.flatnonzero(adj0[r, i]).tolist()) for i in range(n)]
            cand = _candidates(rules[rec0[r, a]], a, b, nbrs, s0[r].tolist(), rec0[r].tolist())
            assert z in cand, (rules[rec0[r, a]], a, b, z, cand)
            n_checked += 1
    if rule != "NULL":
        assert n_checked > 10
    else:  # NULL never rewires: every rewire that would happen is skipped
        assert n_checked == 0 and np.all(batch.cnt[:, K.C_DONE] == 0) and np.all(batch.cnt[:, K.C_SKIP] > 0)


def test_every_rule_name_parses_and_bad_names_raise():
    for name in RULE_NAMES:
        assert rule_code(name) >= 0
    with pytest.raises(ValueError, match="rule must be one of"):
        CoopConfig(rule="BEST")
    with pytest.raises(ValueError, match="contenders"):
        CoopConfig(contenders=("GOOD_X", "NOPE"))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_nodes": 2}, "n_nodes"),
        ({"n_nodes": 11, "degree": 3}, "even"),
        ({"degree": 0}, "degree"),
        ({"beta": -0.1}, "beta"),
        ({"W": float("nan")}, "W"),
        ({"fermi_mode": "tanh"}, "fermi_mode"),
        ({"max_steps": 0}, "max_steps"),
        ({"initial_cooperators": 1.5}, "initial_cooperators"),
        ({"stop_on_absorption": 1}, "stop_on_absorption"),
        ({"W2": -1}, "W2"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoopConfig(**kwargs)


@pytest.mark.parametrize("n,k", [(10, 4), (12, 11), (7, 2), (500, 30)])
def test_initial_graph_is_simple_k_regular(n, k):
    cfg = CoopConfig(n_nodes=n, degree=k, max_steps=1)
    batch = CoopBatch(cfg, 3)
    batch.reset(crng.seed_to_key(np.arange(3)))
    check_invariants(batch, n * k // 2)
    assert np.all(batch.deg == k)
    # different seeds give different graphs (unless the graph is complete)
    if k < n - 1:
        assert not np.array_equal(batch.pos[0] >= 0, batch.pos[1] >= 0)


def test_absorbing_states_stay_absorbed():
    for p0, status in ((1.0, K.ALL_C), (0.0, K.ALL_D)):
        m = simulate("RANDOM", 2, 0, n_nodes=40, degree=6, W=3.0, max_steps=20_000, initial_cooperators=p0)
        assert np.all(m["status"] == status) and np.all(m["steps"] == 0)
        # without stopping, the strategy profile never leaves the absorbing state
        cfg = CoopConfig(
            n_nodes=40,
            degree=6,
            W=3.0,
            rule="RANDOM",
            max_steps=20_000,
            initial_cooperators=p0,
            stop_on_absorption=False,
        )
        batch = CoopBatch(cfg, 2)
        batch.reset(crng.seed_to_key(np.arange(2)))
        batch.advance()
        assert np.all(batch.msize[:, 1] == (40 if p0 else 0))
        assert np.all(batch.cnt[:, K.C_FLIPS] == 0) and np.all(batch.cnt[:, K.C_T] == 20_000)
        if p0 == 1.0:  # all-C: no defector partner, hence no rewire request at all
            assert np.all(batch.cnt[:, K.C_REQ] == 0)


def test_replica_batching_does_not_change_results():
    kw = dict(n_nodes=60, degree=6, beta=0.05, W=2.0, max_steps=5000)
    joint = simulate("FAIR", 4, 10, **kw)
    chunked = simulate("FAIR", 4, 10, chunk=1, **kw)
    for i in range(4):
        single = simulate("FAIR", 1, 10 + i, **kw)
        for key, v in single.items():
            np.testing.assert_array_equal(joint[key][i], v[0], err_msg=key)
            np.testing.assert_array_equal(chunked[key][i], v[0], err_msg=key)
    assert len(set(joint["rewires"].tolist())) > 1  # replicas differ from each other


def test_time_series_rows_and_absorbed_fill():
    kw = dict(n_nodes=50, degree=6, beta=0.1, W=2.0, max_steps=20_000, record_every=500)
    out = simulate("GOOD", 3, 0, return_time_series=True, **kw)
    ts = out["time_series"]
    assert ts.shape == (3, 41, 5)
    assert not np.isnan(ts).any()
    np.testing.assert_array_equal(ts[:, :, 0], np.broadcast_to(np.arange(41) * 500, (3, 41)))
    np.testing.assert_allclose(ts[:, -1, 1], out["cooperator_fraction"])
    np.testing.assert_array_equal(ts[:, -1, 2], out["rewires"])
    np.testing.assert_allclose(ts[:, -1, 3], out["heterogeneity"])
    assert np.all(np.diff(ts[:, :, 2], axis=1) >= 0)  # #rewires never decreases
    assert np.all(ts[:, 0, 3] == 0) and np.all(ts[:, 0, 4] == 6)  # regular at t = 0


def test_competition_seeds_split_evenly():
    cfg = CoopConfig(n_nodes=100, degree=6, contenders=("GOOD_X", "BAD_X", "RANDOM_X"), W2=0.1, max_steps=1)
    batch = CoopBatch(cfg, 4)
    batch.reset(crng.seed_to_key(np.arange(4)))
    np.testing.assert_array_equal(batch.reccount, np.tile([90, 4, 3, 3], (4, 1)))
    assert not np.array_equal(batch.rec[0], batch.rec[1])


def test_long_runs_agree_with_an_independent_plain_python_implementation():
    """Whole runs (NO_MED) vs the plain set-based reference of benchmarks/speed_coop.py: same law, different code
    and random numbers, so compare means of the end-of-run metrics with a two-sample z-test."""
    from benchmarks.speed_coop import python_reference

    kw = dict(n_nodes=40, degree=6, beta=0.2, W=1.5, T=2.0, S=-1.0, max_steps=1500)
    R = 160
    ours = simulate("NO_MED", R, 0, **kw)
    ref = np.array([python_reference(1000 + i, **kw) for i in range(R)])
    for name, a, b in (
        ("cooperator_fraction", ours["cooperator_fraction"], ref[:, 0]),
        ("rewires", ours["rewires"].astype(float), ref[:, 1]),
        ("steps", ours["steps"].astype(float), ref[:, 2]),
    ):
        z = (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R + 1e-12)
        assert abs(z) < 4.0, (name, a.mean(), b.mean(), z)
