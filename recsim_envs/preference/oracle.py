"""Exact NHMM oracle for the ground-truth preference-shift users (Carroll et al. 2022, §3 and App. H).

Hidden state: the preference bin u_t ∈ {0..35}. Each step the recommender shows slate a_t (open loop given the
history), the user emits a choice x_t ~ E[a_t][u_t, ·] and moves to u_{t+1} ~ T[a_t][u_t, ·]. All inference is
exact on the 36-state chain, batched over users with a leading axis and normalised per step (the per-step
normalisers give the log-likelihood).

Conventions: ``slates`` [n, T] are action indices into the oracle's tables, ``choices`` [n, T] item bins.
``alpha[:, t]`` is the predictive belief over u_t given x_0..x_{t−1} (so ``alpha[:, 0]`` is the prior);
``gamma[:, t]`` the smoothed belief over u_t given all T observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, prange

from recsim_envs.preference.model import choice_probabilities, feed_equivalent_slates, preference_transition
from recsim_envs.preference.world import COS, N_BINS, VECTORS, flat_slate
from recsim_envs.utils.kernels import CHUNK, run_chunked


@dataclass
class FilterResult:
    alpha: np.ndarray  # [n, T+1, 36] predictive beliefs over u_t
    choice_predictions: np.ndarray  # [n, T, 36] P(x_t | x_<t, slates)
    log_likelihood: np.ndarray  # [n] log P(x_0..x_{T-1} | slates)


class NHMMOracle:
    """Exact inference for users following the tabulated ground-truth model.

    Parameters: ``slates`` [A, 36] (the action set), ``beta_c`` [36], ``beta_d``, ``flexibility`` (λ), the
    ``prior`` over u_0 [36], the feed-belief exponent k (b ∝ s^k, default 3), and optionally the precomputed
    ``tables`` (emission [A, u, x], transition [A, u, u']) for those slates.
    """

    def __init__(
        self,
        slates: np.ndarray,
        beta_c: np.ndarray,
        beta_d: float,
        flexibility: float,
        prior: np.ndarray,
        feed_exponent: float = 3.0,
        tables: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.slates = np.asarray(slates, dtype=float)
        self.prior = np.asarray(prior, dtype=float)
        if tables is None:  # the env passes the (emission, transition) tables it built from log-slates
            tables = (
                choice_probabilities(self.slates, beta_c),  # [A, u, x]
                preference_transition(
                    feed_equivalent_slates(self.slates, feed_exponent), beta_c, beta_d, flexibility
                ),  # [A, u, u']  # fmt: skip
            )
        self.emission, self.transition = tables
        self.transition_natural = preference_transition(flat_slate(), beta_c, beta_d, flexibility)  # [u, u']

    # -- forward ---------------------------------------------------------------------------------------
    def filter(self, slates: np.ndarray, choices: np.ndarray, prior: np.ndarray | None = None) -> FilterResult:
        """Forward filtering: predictive beliefs, one-step choice predictions and the log-likelihood."""
        slates, choices = np.atleast_2d(slates), np.atleast_2d(choices)
        n, horizon = slates.shape
        belief = np.broadcast_to(self.prior if prior is None else prior, (n, N_BINS)).astype(float)
        alpha = np.empty((n, horizon + 1, N_BINS))
        preds = np.empty((n, horizon, N_BINS))
        loglik = np.zeros(n)
        alpha[:, 0] = belief
        rows = np.arange(n)
        for t in range(horizon):
            em = self.emission[slates[:, t]]  # [n, u, x]
            preds[:, t] = np.einsum("nu,nux->nx", belief, em)
            lik = em[rows, :, choices[:, t]]  # [n, u] P(x_t | u)
            post = belief * lik
            z = post.sum(axis=1)
            loglik += np.log(z)
            post /= z[:, None]
            belief = np.einsum("nu,nuv->nv", post, self.transition[slates[:, t]])
            alpha[:, t + 1] = belief
        return FilterResult(alpha, preds, loglik)

    # -- backward --------------------------------------------------------------------------------------
    def smooth(self, slates: np.ndarray, choices: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
        """Smoothed beliefs over u_t for t = 0..T given all T choices; ``[:, 0]`` is the belief over u_0."""
        slates, choices = np.atleast_2d(slates), np.atleast_2d(choices)
        n, horizon = slates.shape
        fwd = self.filter(slates, choices, prior).alpha
        rows = np.arange(n)
        beta = np.ones((n, N_BINS))  # ∝ P(x_t..x_{T-1} | u_t), here t = T
        gamma = np.empty((n, horizon + 1, N_BINS))
        g = fwd[:, horizon] * beta
        gamma[:, horizon] = g / g.sum(axis=1, keepdims=True)
        for t in range(horizon - 1, -1, -1):
            nxt = np.einsum("nuv,nv->nu", self.transition[slates[:, t]], beta)
            beta = self.emission[slates[:, t]][rows, :, choices[:, t]] * nxt
            beta /= beta.sum(axis=1, keepdims=True)
            g = fwd[:, t] * beta
            gamma[:, t] = g / g.sum(axis=1, keepdims=True)
        return gamma

    def initial_preference_belief(
        self, slates: np.ndarray, choices: np.ndarray, prior: np.ndarray | None = None
    ) -> np.ndarray:
        """P(u_0 | x_0..x_{T-1}, slates) — the smoothed belief used by the r(u_0, π) penalty."""
        slates = np.atleast_2d(slates)
        if slates.shape[1] == 0:
            n = slates.shape[0]
            return np.broadcast_to(self.prior if prior is None else prior, (n, N_BINS)).copy()
        return self.smooth(slates, choices, prior)[:, 0]

    # -- prediction ------------------------------------------------------------------------------------
    def predict_under_policy(self, belief: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """Distributions of u_t, t = 0..H, under an open-loop slate sequence ``slates`` [n, H] or [H]."""
        belief = np.atleast_2d(belief)
        n = belief.shape[0]
        slates = np.broadcast_to(np.atleast_2d(slates), (n, np.atleast_2d(slates).shape[1]))
        out = np.empty((n, slates.shape[1] + 1, N_BINS))
        out[:, 0] = belief
        for t in range(slates.shape[1]):
            belief = np.einsum("nu,nuv->nv", belief, self.transition[slates[:, t]])
            out[:, t + 1] = belief
        return out

    def natural_shift(self, initial_belief: np.ndarray, horizon: int) -> np.ndarray:
        """P(u_t^rnd | data) = γ_0ᵀ T_rnd^t for t = 0..horizon: the preferences π_rnd would have induced."""
        b = np.atleast_2d(initial_belief).astype(float)
        out = np.empty((b.shape[0], horizon + 1, N_BINS))
        out[:, 0] = b
        for t in range(horizon):
            b = b @ self.transition_natural
            out[:, t + 1] = b
        return out


def natural_shift_powers(transition_natural: np.ndarray, horizon: int) -> np.ndarray:
    """T_rnd^t for t = 0..horizon, shape [horizon+1, 36, 36]."""
    out = np.empty((horizon + 1, N_BINS, N_BINS))
    out[0] = np.eye(N_BINS)
    for t in range(horizon):
        out[t + 1] = out[t] @ transition_natural
    return out


# ---- per-step oracle beliefs for the environments (compiled) --------------------------------------------------
#
# The observation of the oracle ids needs, after every step and for every user: the predictive belief over u_t
# given x_0..x_{t−1}, the smoothed belief over u_0 given the same choices, and that belief pushed through t steps
# of the flat slate's transition. The predictive belief is one O(36²) filtering update per step. For the belief
# over u_0 there are two exact ways, both kept here:
#
# - "backward": a backward pass over the t stored (slate, choice) pairs, O(t·36²) per step and O(t) memory;
# - "joint": the normalised joint P(u_0, u_t | x_<t) [36, 36], updated in O(36³) per step with O(36²) memory.
#
# ``ORACLE_JOINT_FROM_HORIZON`` picks between them: below it (the paper's horizon 10) the stored history is
# shorter than 36 pairs, so the backward pass does less work than one joint update and holds less than the
# 36 × 36 joint; from it on the joint's constant cost wins. Either way memory per user is O(36²) at most and
# never grows with t beyond that. Both are the same arithmetic as ``NHMMOracle.filter``/``smooth`` with the
# sums taken in another order and, in the backward rule, each normalisation applied one product later (they
# agree to rounding; tests pin 1e-9).

ORACLE_JOINT_FROM_HORIZON = 36
if N_BINS % 4:  # pragma: no cover - _matvec's four-row blocking
    raise ImportError("the oracle kernels need N_BINS divisible by 4")

#: batches below this many users run on one thread (launching the thread pool costs more than it saves there;
#: see ``recsim_envs.utils.kernels.run_chunked`` for when the kernels use numba's threads)
ORACLE_PARALLEL_FROM = 128
#: the same threshold where numba has only two or three threads: waking the pool costs about what halving the
#: work saves below it (1,024 users, user-steps/s, one thread vs two: 836k vs 562k on a 2-vCPU machine, 785k vs
#: 772k on a 16-core one limited to two; from four threads on the threads win at 1,024: benchmarks/RESULTS.md)
ORACLE_PARALLEL_FROM_FEW_THREADS = 2048


def _parallel_from() -> int:
    """The batch size from which the oracle kernels use numba's threads, given how many there are."""
    return ORACLE_PARALLEL_FROM if get_num_threads() >= 4 else ORACLE_PARALLEL_FROM_FEW_THREADS


#: batches from this many users on take the grouped products (:func:`_backward_block`: users sorted by matrix,
#: two per pass over it); smaller ones the per-user products (:func:`_rowwise_users`). One thread, 10 steps:
#: 47 vs 49 µs per step at 32 users, 76 vs 113 at 64, 691 vs 1,095 at 512
ORACLE_GROUPED_FROM = 32


@njit(cache=True, fastmath=True, inline="always")
def _matvec(m, b, out):
    """out = m @ b for one [N_BINS, N_BINS] matrix (four rows per pass over b, which is what lets LLVM keep the
    four sums in vector registers; the trip counts are compile-time constants, so the loops are fully laid out)."""
    for u in range(0, N_BINS, 4):
        s0 = s1 = s2 = s3 = 0.0
        for v in range(N_BINS):
            bv = b[v]
            s0 += m[u, v] * bv
            s1 += m[u + 1, v] * bv
            s2 += m[u + 2, v] * bv
            s3 += m[u + 3, v] * bv
        out[u], out[u + 1], out[u + 2], out[u + 3] = s0, s1, s2, s3


@njit(cache=True, fastmath=True, inline="always")
def _normalise(x):
    z = 0.0
    for u in range(N_BINS):
        z += x[u]
    r = 1.0 / z
    for u in range(N_BINS):
        x[u] *= r


@njit(cache=True, fastmath=True)
def _rowwise_users(lo, hi, idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t,
                   first_back, out):  # fmt: skip
    """The backward update (see :func:`oracle_beliefs_backward`) for users ``idx[lo:hi]``, one user at a time
    with ``_matvec`` (small batches: few users share each matrix there)."""
    beta = np.empty(N_BINS)
    nxt = np.empty(N_BINS)
    has_first = first_back.shape[0] > 0
    for j in range(lo, hi):
        i = idx[j]
        ti = t[i]
        a, x = slate_hist[i, ti - 1], choice_hist[i, ti - 1]
        # filtering: b ← normalise(b ∘ e)ᵀ T
        ec = emission_t[a, x]
        oi = out[i]
        fi = oi[0]
        for u in range(N_BINS):
            nxt[u] = fi[u] * ec[u]
        _normalise(nxt)
        _matvec(transition_t[a], nxt, fi)
        # backward messages β_k(u) ∝ P(x_k..x_{t−1} | u_k), normalised each step as NHMMOracle.smooth does;
        # the last one is the likelihood column itself (transition rows sum to one)
        beta[:] = ec
        _normalise(beta)
        k_top = ti - 2
        if has_first and k_top >= 0:  # the next one's product from the table (see backward_first_table)
            ak, xk = slate_hist[i, k_top], choice_hist[i, k_top]
            ek, fk = emission_t[ak, xk], first_back[ak, a, x]
            for u in range(N_BINS):
                beta[u] = ek[u] * fk[u]
            _normalise(beta)
            k_top -= 1
        for k in range(k_top, -1, -1):
            ak, xk = slate_hist[i, k], choice_hist[i, k]
            _matvec(transition[ak], beta, nxt)
            ek = emission_t[ak, xk]
            for u in range(N_BINS):
                beta[u] = ek[u] * nxt[u]
            _normalise(beta)
        g = oi[1]
        for u in range(N_BINS):
            g[u] = prior[u] * beta[u]
        _normalise(g)
        _matvec(powers_t[ti], g, oi[2])


@njit(cache=True, fastmath=True, parallel=True)
def _rowwise_parallel(idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t,
                      first_back, out):  # fmt: skip
    m = idx.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _rowwise_users(c * CHUNK, min(m, (c + 1) * CHUNK), idx, t, slate_hist, choice_hist, emission_t, transition,
                       transition_t, prior, powers_t, first_back, out)  # fmt: skip


@njit(cache=True, fastmath=True, inline="always")
def _matvec2_scaled(m, src, i1, i2, w, w1, w2, post, r1, r2, dst, o1, o2):
    """dst[o1] = (m @ src[i1]) ∘ w[w1] ∘ post · r1 and the same for (i2, w2, r2, o2), for one [N_BINS, N_BINS]
    matrix; returns the two rows' sums. Two users per pass over the matrix, four rows at a time: eight sums in
    vector registers, every load of ``m`` feeding two multiply-adds. Rows by index, not as views (a view costs
    reference counting per call)."""
    z1 = z2 = 0.0
    for v in range(0, N_BINS, 4):
        s0 = s1 = s2 = s3 = r0 = r1_ = r2_ = r3 = 0.0
        for u in range(N_BINS):
            xu, yu = src[i1, u], src[i2, u]
            m0, m1, m2, m3 = m[v, u], m[v + 1, u], m[v + 2, u], m[v + 3, u]
            s0 += m0 * xu
            s1 += m1 * xu
            s2 += m2 * xu
            s3 += m3 * xu
            r0 += m0 * yu
            r1_ += m1 * yu
            r2_ += m2 * yu
            r3 += m3 * yu
        p0, p1, p2, p3 = post[v], post[v + 1], post[v + 2], post[v + 3]
        s0 *= w[w1, v] * p0 * r1
        s1 *= w[w1, v + 1] * p1 * r1
        s2 *= w[w1, v + 2] * p2 * r1
        s3 *= w[w1, v + 3] * p3 * r1
        r0 *= w[w2, v] * p0 * r2
        r1_ *= w[w2, v + 1] * p1 * r2
        r2_ *= w[w2, v + 2] * p2 * r2
        r3 *= w[w2, v + 3] * p3 * r2
        dst[o1, v], dst[o1, v + 1], dst[o1, v + 2], dst[o1, v + 3] = s0, s1, s2, s3
        dst[o2, v], dst[o2, v + 1], dst[o2, v + 2], dst[o2, v + 3] = r0, r1_, r2_, r3
        z1 += (s0 + s1) + (s2 + s3)
        z2 += (r0 + r1_) + (r2_ + r3)
    return z1, z2


@njit(cache=True, fastmath=True)
def _grouped_products(src, sel, keys, mats, w, wrows, post, scale, dst, drows, order, new_scale):
    """For p < len(sel), with j = sel[p]: ``dst[drows[p]] = (mats[keys[p]] @ src[j]) ∘ w[wrows[p]] ∘ post ·
    scale[j]``, and ``new_scale[j]`` = 1 / that row's sum when ``new_scale`` is not empty. Users that share a
    matrix go two at a time (:func:`_matvec2_scaled`; a counting sort by key pairs them, ``order`` is its
    scratch of at least len(sel) entries). Sorted, a group's matrix stays in L1 while its users stream past it
    (the tables of all slates do not fit)."""
    m = sel.shape[0]
    n_keys = mats.shape[0]
    renormalise = new_scale.shape[0] > 0
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for p in range(m):
        starts[keys[p] + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    fill = starts[:-1].copy()
    for p in range(m):
        k = keys[p]
        order[fill[k]] = p
        fill[k] += 1
    for k in range(n_keys):
        s, e = starts[k], starts[k + 1]
        if e == s:
            continue
        mk = mats[k]
        for q in range(s, e, 2):
            p1 = order[q]
            p2 = order[q + 1] if q + 1 < e else p1  # an odd group's last user is paired with itself
            j1, j2 = sel[p1], sel[p2]
            z1, z2 = _matvec2_scaled(mk, src, j1, j2, w, wrows[p1], wrows[p2], post, scale[j1], scale[j2], dst,
                                     drows[p1], drows[p2])  # fmt: skip
            if renormalise:
                new_scale[j1] = 1.0 / z1
                new_scale[j2] = 1.0 / z2


@njit(cache=True, fastmath=True)
def _backward_block(lo, hi, idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t,
                    first_back, out):  # fmt: skip
    """The backward update (see :func:`oracle_beliefs_backward`) for users ``idx[lo:hi]`` as one block: each
    product of the step is taken for all of the block's users at once, grouped by matrix
    (:func:`_grouped_products`), with the elementwise work that follows it (the emission weights, the
    normalisation, the prior) done as each result is written. Each vector is normalised one product late: its
    sum's reciprocal is kept in ``scale`` and applied to the next product's result."""
    m = hi - lo
    nb = out.shape[2]  # = N_BINS, read at run time: LLVM vectorises these loops only when it does not unroll them
    users = idx[lo:hi]
    emission = emission_t.reshape(-1, nb)  # row a·36 + x: P(x | s_a, ·)
    ones = np.ones((1, nb))  # the weights of a product with nothing elementwise after it
    fvec = np.empty((m, nb))  # normalise(b ∘ e) · (its sum) for the filtering products
    fscale = np.empty(m)
    vec = np.empty((2, m, nb))  # backward messages, step k's in vec[k % 2] (the products read one, write the other)
    scale = np.empty(m)
    order = np.empty(m, dtype=np.int64)
    sel = np.empty(m, dtype=np.int64)
    keys = np.empty(m, dtype=np.int64)
    wrows = np.empty(m, dtype=np.int64)
    drows = np.empty(m, dtype=np.int64)
    none = np.empty(0)
    has_first = first_back.shape[0] > 0
    last = 3 if has_first else 2  # the first backward step k = t − 2 is a table look-up when there is a table
    tmax = 0
    for j in range(m):
        i = users[j]
        ti = t[i]
        tmax = max(tmax, ti)
        a, x = slate_hist[i, ti - 1], choice_hist[i, ti - 1]
        z = 0.0
        for u in range(nb):
            f = out[i, 0, u] * emission_t[a, x, u]
            fvec[j, u] = f
            z += f
        fscale[j] = 1.0 / z
        sel[j] = j
        keys[j] = a
        wrows[j] = 0
        drows[j] = i
        # backward messages β_k(u) ∝ P(x_k..x_{t−1} | u_k), normalised each step as NHMMOracle.smooth does; the
        # last one is the likelihood column itself (transition rows sum to one), the one before it from the table
        # (backward_first_table) when there is one. The first product step k0 = t − last reads vec[(k0 + 1) % 2];
        # a user with none left holds prior ∘ β_0 (the unnormalised smoothed u_0) in vec[0].
        k0 = ti - last
        b = (k0 + 1) % 2 if k0 >= 0 else 0
        z = 0.0
        if has_first and ti >= 2:
            ak, xk = slate_hist[i, ti - 2], choice_hist[i, ti - 2]
            for u in range(nb):
                v = emission_t[ak, xk, u] * first_back[ak, a, x, u]
                if k0 < 0:
                    v *= prior[u]
                vec[b, j, u] = v
                z += v
        else:
            for u in range(nb):
                v = emission_t[a, x, u]
                if k0 < 0:
                    v *= prior[u]
                vec[b, j, u] = v
                z += v
        scale[j] = 1.0 / z
    # filtering: b ← normalise(b ∘ e)ᵀ T, written in place of the predictive belief out[i, 0]
    _grouped_products(fvec, sel, keys, transition_t, ones, wrows, ones[0], fscale, out[:, 0], drows, order,
                      none)  # fmt: skip
    # the backward steps k of every user still that far from its start: β_k = e_k ∘ (T_k β_{k+1}), and at k = 0
    # prior ∘ β_0
    for k in range(tmax - last, -1, -1):
        na = 0
        for j in range(m):
            i = users[j]
            if t[i] - last >= k:
                sel[na] = j
                keys[na] = slate_hist[i, k]
                wrows[na] = slate_hist[i, k] * nb + choice_hist[i, k]
                drows[na] = j
                na += 1
        _grouped_products(vec[(k + 1) % 2], sel[:na], keys[:na], transition, emission, wrows[:na],
                          prior if k == 0 else ones[0], scale, vec[k % 2], drows[:na], order, scale)  # fmt: skip
    # smoothed u_0 = normalise(prior ∘ β_0) and its natural shift γ_0ᵀ T_rnd^t
    for j in range(m):
        i = users[j]
        r = scale[j]
        for u in range(nb):
            out[i, 1, u] = vec[0, j, u] * r
        sel[j] = j
        keys[j] = t[i]
        wrows[j] = 0
        drows[j] = i
    _grouped_products(vec[0], sel, keys, powers_t, ones, wrows, ones[0], scale, out[:, 2], drows, order,
                      none)  # fmt: skip


#: users per block of the backward update: bounds a block's scratch (3 [block, 36] float64 arrays, 221 KB at 256,
#: within L2 beside the tables). Env steps at 1,024 users, block sizes 64–2,048 interleaved in one process: no
#: difference beyond the noise
ORACLE_BLOCK = 256


@njit(cache=True)
def _backward_users(lo, hi, idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t,
                    first_back, out, plan):  # fmt: skip
    """The backward update for users ``idx[lo:hi]``, in blocks of at most ``plan[1]`` users (``plan[0]``, the
    parallel kernel's share count, is unused here)."""
    block = plan[1]
    for b in range(lo, hi, block):
        _backward_block(b, min(hi, b + block), idx, t, slate_hist, choice_hist, emission_t, transition,
                        transition_t, prior, powers_t, first_back, out)  # fmt: skip


def _plan() -> np.ndarray:
    """(shares, block) of the parallel backward update: one share of the users per numba thread, each done in
    blocks of at most ``ORACLE_BLOCK`` users."""
    return np.array([get_num_threads(), ORACLE_BLOCK])


@njit(cache=True, parallel=True)
def _backward_parallel(idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t,
                       first_back, out, plan):  # fmt: skip
    """The backward update split into ``plan[0]`` equal shares run on numba's threads, each share in blocks of at
    most ``plan[1]`` users."""
    m = idx.shape[0]
    shares = plan[0]
    size = (m + shares - 1) // shares
    for c in prange(shares):
        lo = min(m, c * size)
        _backward_users(lo, min(m, lo + size), idx, t, slate_hist, choice_hist, emission_t, transition,
                        transition_t, prior, powers_t, first_back, out, plan)  # fmt: skip


@njit(cache=True, fastmath=True)
def _joint_users(lo, hi, idx, t, joint, slates, choices, emission_t, transition_t, powers_t, out):
    """The joint update (see :func:`oracle_beliefs_joint`) for users ``idx[lo:hi]``."""
    row = np.empty(N_BINS)
    for j in range(lo, hi):
        i = idx[j]
        a, x = slates[i], choices[i]
        ec, trt, jm = emission_t[a, x], transition_t[a], joint[i]
        z = 0.0
        for u0 in range(N_BINS):
            for u in range(N_BINS):
                row[u] = jm[u0, u] * ec[u]
            _matvec(trt, row, jm[u0])
            for v in range(N_BINS):
                z += jm[u0, v]
        out[i, 0] = 0.0
        r = 1.0 / z
        for u0 in range(N_BINS):
            s = 0.0
            for v in range(N_BINS):
                jm[u0, v] *= r
                s += jm[u0, v]
                out[i, 0, v] += jm[u0, v]
            out[i, 1, u0] = s
        _matvec(powers_t[t[i]], out[i, 1], out[i, 2])


@njit(cache=True, fastmath=True, parallel=True)
def _joint_parallel(idx, t, joint, slates, choices, emission_t, transition_t, powers_t, out):
    m = idx.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _joint_users(c * CHUNK, min(m, (c + 1) * CHUNK), idx, t, joint, slates, choices, emission_t,
                     transition_t, powers_t, out)  # fmt: skip


#: largest table of first backward products (:func:`backward_first_table`) built, in bytes (the six slates'
#: ≈ 0.5 MB; the 72 fine slates' would be 54 MB, so they take the product instead)
ORACLE_FIRST_TABLE_MAX_BYTES = 4 << 20


def backward_first_table(emission_t: np.ndarray, transition: np.ndarray) -> np.ndarray:
    """``W[a, b, x] = T_a · normalise(e_{b, x})`` [A, A, 36 (x), 36 (u)]: the product of the first backward step
    after the last observation (slate b, choice x) for every slate a before it, so the backward pass starts one
    product later; an empty [0, 0, 0, 36] array when it would exceed ``ORACLE_FIRST_TABLE_MAX_BYTES``."""
    n_a = transition.shape[0]
    if n_a * n_a * N_BINS * N_BINS * 8 > ORACLE_FIRST_TABLE_MAX_BYTES:
        return np.zeros((0, 0, 0, N_BINS))
    z = emission_t.sum(axis=-1, keepdims=True)
    # a choice no preference makes (its probabilities all underflowed; never drawn) keeps a zero row
    e_hat = np.divide(emission_t, z, out=np.zeros_like(emission_t), where=z > 0)  # [b, x, v]
    return np.ascontiguousarray(np.einsum("auv,bxv->abxu", transition, e_hat))


def oracle_beliefs_backward(
    idx: np.ndarray,
    t: np.ndarray,
    slate_hist: np.ndarray,
    choice_hist: np.ndarray,
    emission_t: np.ndarray,
    transition: np.ndarray,
    transition_t: np.ndarray,
    prior: np.ndarray,
    powers_t: np.ndarray,
    out: np.ndarray,
    first_back: np.ndarray | None = None,
) -> None:
    """After a step, for each user ``i`` in ``idx`` at time ``t[i]`` (steps taken): advance the predictive belief
    ``out[i, 0]`` with the last (slate, choice), smooth u_0 by a backward pass over the history, and write
    ``out[i] = (predictive over u_t, smoothed over u_0, natural shift over u_t^rnd)``.

    Tables: ``emission_t[a, x, u] = P(x | s_a, u)``, ``transition[a, u, u']``, ``transition_t[a, u', u]`` (its
    transpose), ``powers_t[t, u, u0] = (T_rnd^t)[u0, u]``, and optionally ``first_back`` from
    :func:`backward_first_table` for these tables (the first backward product looked up instead of computed).
    Compiled. From ``ORACLE_GROUPED_FROM`` users on, the users of a block take each product of the step together,
    grouped by matrix (by slate for the filtering and backward steps, by t for the natural shift) and two users
    per pass over a matrix, in one share of the users per numba thread, each in blocks of at most ``ORACLE_BLOCK``
    users; smaller batches take one user at a time. Threads from ``ORACLE_PARALLEL_FROM`` users on
    (``ORACLE_PARALLEL_FROM_FEW_THREADS`` where numba has fewer than four threads).
    """
    m = idx.shape[0]
    if first_back is None:
        first_back = np.zeros((0, 0, 0, N_BINS))
    args = (idx, t, slate_hist, choice_hist, emission_t, transition, transition_t, prior, powers_t, first_back, out)
    if m < ORACLE_GROUPED_FROM:
        run_chunked(_rowwise_users, _rowwise_parallel, m, *args, parallel_from=_parallel_from())
    else:
        run_chunked(_backward_users, _backward_parallel, m, *args, _plan(), parallel_from=_parallel_from())


def oracle_beliefs_joint(
    idx: np.ndarray,
    t: np.ndarray,
    joint: np.ndarray,
    slates: np.ndarray,
    choices: np.ndarray,
    emission_t: np.ndarray,
    transition_t: np.ndarray,
    powers_t: np.ndarray,
    out: np.ndarray,
) -> None:
    """Joint variant: ``joint[i]`` is P(u_0, u_t | x_<t) [36, 36]; one step with (``slates[i]``, ``choices[i]``)
    maps it to P(u_0, u_{t+1} | x_≤t) = normalise(J diag(e)) T. Row sums give the smoothed belief over u_0,
    column sums the predictive belief over u_{t+1}. ``t[i]`` is the time after the step."""
    run_chunked(_joint_users, _joint_parallel, idx.shape[0], idx, t, joint, slates, choices, emission_t, transition_t,
                powers_t, out, parallel_from=_parallel_from())  # fmt: skip


def expected_vector(dist: np.ndarray) -> np.ndarray:
    """E[u] as a 2-vector for distributions over the bins (last axis 36)."""
    return dist @ VECTORS


__all__ = [
    "NHMMOracle",
    "FilterResult",
    "natural_shift_powers",
    "expected_vector",
    "oracle_beliefs_backward",
    "oracle_beliefs_joint",
    "backward_first_table",
    "ORACLE_JOINT_FROM_HORIZON",
    "COS",
]
