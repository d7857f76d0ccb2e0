"""The learned user model's network in NumPy (inference) and its checkpoint.

Architecture (Carroll et al. 2022, App. D; sizes are ours): a pre-LayerNorm transformer encoder, 2 layers,
2 heads, width ``d_model``, over a sequence of T + 1 tokens. Token 0 is a start/context token; token j + 1 holds
step j: the slate s_j (36 probabilities) and the choice x_j (one-hot, or a "hidden" flag when the choice is
masked out). Attention is causal (token j sees tokens 0..j). The same encoder serves three estimators, which
differ only in hidden choices, token 0 and where the belief is read:

- future  P̂_f(u_t | s_<t, x_<t): the output at position t is the belief over u_t;
- initial P̂_i(u_0 | s_0..s_L−1, x_1..x_L−1): x_0 hidden, output at position L (the last observed step); the
  E.2 smoothing correction then multiplies in the known choice likelihood of x_0,
  P̂_i(u_0 | x_0..x_L−1) ∝ P(x_0 | s_0, u_0) P̂(u_0 | x_1..x_L−1) (exact here because x_0 is independent of the
  later steps given u_0);
- counterfactual P̂_c(u_t | u_0, s_<t, x_<t): like the future model, but token 0 carries a sampled initial
  preference u_0 as (cos u_0, sin u_0).

Each output position emits a mixture of K = 4 von Mises over the preference angle, parametrised by mixture
logits and natural parameters η_k = κ_k (cos μ_k, sin μ_k); each component is evaluated at the 36 bin angles
and normalised there, which is exact for this world (preferences live on the bin grid) and makes the known
choice model's marginalisation a 36-term sum.

The checkpoint (``.npz``) stores the three parameter sets under ``future/…``, ``initial/…``,
``counterfactual/…``, the choice-model profile β_c the model was trained with, the natural-shift table of
Algorithm 2 and a JSON ``meta`` record (``format`` = :data:`CHECKPOINT_FORMAT`). Loading validates everything
(shapes, finiteness, format) and refuses a bad file with a ``ValueError`` naming it.

Because attention is causal, a simulator can run every estimator incrementally: :class:`IncrementalEncoder`
caches each layer's keys and values, so adding step t costs one token's pass instead of the whole history,
with outputs equal to the full pass (tested). This module needs only NumPy and numba; training lives in
``transformer.py`` (torch).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import get_num_threads, njit, prange

from recsim_envs.preference.model import choice_probabilities
from recsim_envs.preference.world import N_BINS, VECTORS
from recsim_envs.utils.fastexp import POW2, exp_into
from recsim_envs.utils.files import atomic_save_npz
from recsim_envs.utils.kernels import CHUNK, run_chunked

#: token features: slate (36) | choice one-hot (36) | choice hidden | start token | cos u_0, sin u_0
N_FEATURES = 2 * N_BINS + 4
F_HIDDEN, F_START, F_CONTEXT = 2 * N_BINS, 2 * N_BINS + 1, 2 * N_BINS + 2
ESTIMATORS = ("future", "initial", "counterfactual")
KAPPA_MAX = 500.0
#: checkpoint format: 2 = causal initial-preference estimator read at the last observed step
CHECKPOINT_FORMAT = 2
LN_EPS = 1e-5
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "assets" / "user_model.npz"


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the encoder (documented defaults: 2 layers, 2 heads, 4 von Mises components)."""

    horizon: int = 10  # T: longest history; the sequence has T + 1 tokens
    d_model: int = 32  # token width
    n_heads: int = 2  # attention heads per layer
    n_layers: int = 2  # encoder layers
    d_ff: int = 64  # feed-forward hidden width
    n_components: int = 4  # K, von Mises mixture components

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def parameter_shapes(cfg: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of one estimator's parameters (``x @ W`` convention: W is [in, out])."""
    d, f = cfg.d_model, cfg.d_ff
    shapes: dict[str, tuple[int, ...]] = {"embed_w": (N_FEATURES, d), "embed_b": (d,), "pos": (cfg.horizon + 1, d)}
    for layer in range(cfg.n_layers):
        p = f"l{layer}_"
        shapes.update(
            {
                p + "ln1_w": (d,),
                p + "ln1_b": (d,),
                p + "qkv_w": (d, 3 * d),
                p + "qkv_b": (3 * d,),
                p + "out_w": (d, d),
                p + "out_b": (d,),
                p + "ln2_w": (d,),
                p + "ln2_b": (d,),
                p + "ff1_w": (d, f),
                p + "ff1_b": (f,),
                p + "ff2_w": (f, d),
                p + "ff2_b": (d,),
            }
        )
    k3 = 3 * cfg.n_components
    shapes.update({"lnf_w": (d,), "lnf_b": (d,), "head_w": (d, k3), "head_b": (k3,)})
    return shapes


# -- tokens and masks --------------------------------------------------------------------------------------
def build_tokens(
    slate_vecs: np.ndarray,
    choices: np.ndarray,
    lengths: np.ndarray,
    horizon: int,
    hide_first_choice: bool = False,
    context_angle: np.ndarray | None = None,
) -> np.ndarray:
    """Token features [n, T+1, F] for histories of ``lengths`` observed steps (later steps stay zero).

    ``slate_vecs`` [n, ≥L, 36] slate distributions, ``choices`` [n, ≥L] item bins; ``context_angle`` [n] radians
    (counterfactual model) fills token 0's context features.
    """
    slate_vecs = np.asarray(slate_vecs, dtype=float)
    choices = np.asarray(choices, dtype=np.int64)
    n = slate_vecs.shape[0]
    steps = min(slate_vecs.shape[1], horizon)
    x = np.zeros((n, horizon + 1, N_FEATURES))
    x[:, 0] = start_tokens(n, context_angle)
    if steps == 0:
        return x
    valid = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]  # [n, steps]
    hidden = np.zeros((n, steps), dtype=bool)
    if hide_first_choice:
        hidden[:, 0] = True
    x[:, 1 : steps + 1] = step_tokens(slate_vecs[:, :steps], choices[:, :steps], hidden) * valid[..., None]
    return x


def start_tokens(n: int, context_angle: np.ndarray | None = None) -> np.ndarray:
    """Token 0 [n, F]: the start flag, plus (cos, sin) of ``context_angle`` [n] radians for P̂_c."""
    x = np.zeros((n, N_FEATURES))
    x[:, F_START] = 1.0
    if context_angle is not None:
        x[:, F_CONTEXT] = np.cos(context_angle)
        x[:, F_CONTEXT + 1] = np.sin(context_angle)
    return x


def step_tokens(slate_vecs: np.ndarray, choices: np.ndarray, hidden: np.ndarray | bool = False) -> np.ndarray:
    """Tokens [..., F] of observed steps: slate [..., 36], choice bin [...] one-hot, or the hidden flag where
    ``hidden`` (then the choice is not encoded)."""
    choices = np.asarray(choices, dtype=np.int64)
    hidden = np.broadcast_to(np.asarray(hidden, dtype=bool), choices.shape)
    x = np.zeros((*choices.shape, N_FEATURES))
    x[..., :N_BINS] = slate_vecs
    onehot = np.eye(N_BINS)[np.clip(choices, 0, N_BINS - 1)]
    x[..., N_BINS : 2 * N_BINS] = onehot * ~hidden[..., None]
    x[..., F_HIDDEN] = hidden
    return x


def attention_allowed(horizon: int) -> np.ndarray:
    """Boolean causal mask [T+1, T+1] of allowed query→key pairs (token j sees tokens 0..j)."""
    size = horizon + 1
    return np.tril(np.ones((size, size), dtype=bool))


# -- forward pass ------------------------------------------------------------------------------------------
def _layer_norm(x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def forward(params: dict[str, np.ndarray], cfg: NetworkConfig, tokens: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Encoder output heads [n, L, 3K] for ``tokens`` [n, L, F] and the ``allowed`` attention mask."""
    n, length, _ = tokens.shape
    d, h = cfg.d_model, cfg.n_heads
    dh = d // h
    x = tokens @ params["embed_w"] + params["embed_b"] + params["pos"][:length]
    neg = np.where(allowed, 0.0, -np.inf)
    if neg.ndim == 3:
        neg = neg[:, None]
    for layer in range(cfg.n_layers):
        p = f"l{layer}_"
        y = _layer_norm(x, params[p + "ln1_w"], params[p + "ln1_b"])
        qkv = (y @ params[p + "qkv_w"] + params[p + "qkv_b"]).reshape(n, length, 3, h, dh)
        q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # [n, h, L, dh]
        att = _softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + neg)
        o = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, d)
        x = x + o @ params[p + "out_w"] + params[p + "out_b"]
        y = _layer_norm(x, params[p + "ln2_w"], params[p + "ln2_b"])
        hidden = np.maximum(y @ params[p + "ff1_w"] + params[p + "ff1_b"], 0.0)
        x = x + hidden @ params[p + "ff2_w"] + params[p + "ff2_b"]
    x = _layer_norm(x, params["lnf_w"], params["lnf_b"])
    return x @ params["head_w"] + params["head_b"]


def mixture_bin_probs(heads: np.ndarray, n_components: int) -> np.ndarray:
    """Probabilities over the 36 preference bins of the K-component von Mises mixture in ``heads`` [..., 3K].

    Component k has density ∝ exp(η_k · (cos θ, sin θ)) on the bin grid, normalised over the 36 bins (the von
    Mises restricted to the grid, so no Bessel function is needed and the result sums to one exactly);
    p(θ_b) = Σ_k w_k exp(η_k · x_b − κ_k) / Σ_b' exp(η_k · x_b' − κ_k) with w = softmax(logits), κ_k = |η_k|.
    Shifting by κ_k (the supremum of η_k · x) keeps every exponent in [−2κ_k, 0], and the bin nearest μ_k (within
    5°) keeps the grid sum ≥ e^{−κ_k(1 − cos 5°)} ≥ e^{−1.91} for κ ≤ ``KAPPA_MAX`` = 500, so evaluating in
    probability space (no logsumexp) is stable. Compiled, with a polynomial exp (``recsim_envs.utils.fastexp``,
    within 1e-15 relative of ``numpy.exp``); large batches are split over numba's threads.
    """
    heads = np.asarray(heads, dtype=np.float64)
    if heads.shape[-1] != 3 * n_components:
        raise ValueError(f"heads must have 3 * n_components = {3 * n_components} entries last, got {heads.shape}")
    flat = np.ascontiguousarray(heads.reshape(-1, heads.shape[-1]))
    out = np.empty((flat.shape[0], N_BINS))
    # compiled: one pass per row, no [..., K, 36] temporaries; rows split over numba's threads for large batches
    args: tuple[Any, ...] = (flat, n_components, _COS_SIN, POW2, out)  # run_chunked passes them on as they are
    run_chunked(_mixture_rows, _mixture_parallel, flat.shape[0], *args, parallel_from=IncrementalEncoder.PARALLEL_FROM)
    return out.reshape(*heads.shape[:-1], N_BINS)


_COS_SIN = np.ascontiguousarray(VECTORS.T)  # [2, 36]


@njit(cache=True, fastmath={"contract"}, nogil=True)  # sums in a fixed order
def _mixture_rows(lo, hi, heads, k, cos_sin, pow2, out):
    """:func:`mixture_bin_probs` for rows ``lo..hi`` of ``heads`` [m, 3K] into ``out`` [m, 36]: the K · 36
    exponents of a row go through one vectorised exp (``exp_into``)."""
    nb = out.shape[1]
    z = np.empty(k * nb)
    dens = np.empty(k * nb)
    kk = np.empty(k * nb, dtype=np.int64)
    w = np.empty(k)
    for j in range(lo, hi):
        top = heads[j, 0]
        for c in range(1, k):
            top = max(top, heads[j, c])
        wsum = 0.0
        for c in range(k):
            w[c] = np.exp(heads[j, c] - top)
            wsum += w[c]
        for c in range(k):
            e0, e1 = heads[j, k + 2 * c], heads[j, k + 2 * c + 1]
            kappa = np.sqrt(e0 * e0 + e1 * e1)
            scale = min(1.0, KAPPA_MAX / max(kappa, 1e-12))
            e0, e1, shift = e0 * scale, e1 * scale, kappa * scale
            for b in range(nb):  # (floored at −600: no subnormal densities, which cost ~100× per operation;
                # a bin's mass changes by at most e^−600 relative to the grid sum, which is ≥ e^−1.91)
                z[c * nb + b] = max(e0 * cos_sin[0, b] + e1 * cos_sin[1, b] - shift, -600.0)
        exp_into(z, dens, kk, pow2)
        for b in range(nb):
            out[j, b] = 0.0
        for c in range(k):
            t0 = t1 = t2 = t3 = 0.0  # four partial sums (N_BINS is a multiple of 4): no serial add chain
            for b in range(c * nb, (c + 1) * nb, 4):
                t0 += dens[b]
                t1 += dens[b + 1]
                t2 += dens[b + 2]
                t3 += dens[b + 3]
            wc = w[c] / wsum / ((t0 + t1) + (t2 + t3))
            for b in range(nb):
                out[j, b] += wc * dens[c * nb + b]


@njit(cache=True, nogil=True, parallel=True)
def _mixture_parallel(heads, k, cos_sin, pow2, out):
    m = heads.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _mixture_rows(c * CHUNK, min(m, (c + 1) * CHUNK), heads, k, cos_sin, pow2, out)


def mixture_bin_log_probs(heads: np.ndarray, n_components: int) -> np.ndarray:
    """log of :func:`mixture_bin_probs` (−inf where a bin's probability underflows)."""
    with np.errstate(divide="ignore"):
        return np.log(mixture_bin_probs(heads, n_components))


def rows_times_tables(rows: np.ndarray, tables: np.ndarray, which: np.ndarray) -> np.ndarray:
    """out[i] = rows[i] @ tables[which[i]] for rows [n, u] and tables [K, u, v], one matmul per distinct
    ``which`` value (no [n, u, v] gather)."""
    out = np.empty((rows.shape[0], tables.shape[-1]))
    values = np.unique(which)
    if values.size == 1:
        return np.matmul(rows, tables[values[0]], out=out)
    for k in values:
        sel = which == k
        out[sel] = rows[sel] @ tables[k]
    return out


def correct_initial(raw: np.ndarray, lik_x0: np.ndarray) -> np.ndarray:
    """App. E.2 correction: P̂_i(u_0 | x_0..) ∝ P̂(u_0 | x_1..) P(x_0 | s_0, u_0); ``raw``, ``lik_x0`` [n, 36]."""
    raw = np.ascontiguousarray(raw, dtype=np.float64)
    lik_x0 = np.ascontiguousarray(lik_x0, dtype=np.float64)
    out = np.empty_like(raw)
    _correct_rows(raw, lik_x0, out)
    return out


@njit(cache=True, fastmath=True, nogil=True)
def correct_row(raw, lik_x0, out):
    """One row of :func:`correct_initial` into ``out`` (the formula's one place; compiled callers use it too)."""
    z = 0.0
    for u in range(raw.shape[0]):
        out[u] = raw[u] * lik_x0[u]
        z += out[u]
    r = 1.0 / z
    for u in range(raw.shape[0]):
        out[u] *= r


@njit(cache=True, nogil=True)
def _correct_rows(raw, lik_x0, out):
    for i in range(raw.shape[0]):
        correct_row(raw[i], lik_x0[i], out[i])


@njit(cache=True, fastmath=True, nogil=True)
def _layer_norm_rows(x, w, b, out):
    """``out[j] = _layer_norm(x[j], w, b)`` for every row of ``x`` [m, d] (compiled; one pass per row)."""
    m, d = x.shape
    for j in range(m):
        mu = 0.0
        for c in range(d):
            mu += x[j, c]
        mu /= d
        var = 0.0
        for c in range(d):
            var += (x[j, c] - mu) ** 2
        r = 1.0 / np.sqrt(var / d + LN_EPS)
        for c in range(d):
            out[j, c] = (x[j, c] - mu) * r * w[c] + b[c]


@njit(cache=True, fastmath=True, nogil=True)
def _add_rows(a, b, relu):
    """``a[j] += b`` for every row (then max(·, 0) if ``relu``), in place."""
    m, d = a.shape
    for j in range(m):
        for c in range(d):
            v = a[j, c] + b[c]
            a[j, c] = max(v, 0.0) if relu else v


@njit(cache=True, fastmath=True, nogil=True)
def _add_residual(x, branch, b):
    """``x[j] += branch[j] + b`` for every row, in place (the residual connection)."""
    m, d = x.shape
    for j in range(m):
        for c in range(d):
            x[j, c] += branch[j, c] + b[c]


@njit(cache=True, fastmath=True, nogil=True, inline="always")
def _attend_body(qkv, index, pos, n_heads, dh, keys, values, out):
    """Causal attention of new tokens: token j (sequence ``index[j]``, position ``pos[j]``) stores its key and
    value from ``qkv[j]`` = (q | k | v, heads side by side) in the cache ``keys``/``values`` [T+1, n, d] and
    attends to that sequence's positions 0..pos[j]; ``out[j]`` [d] gets the heads' outputs side by side.

    The cache is position-major: consecutive tokens read consecutive rows of each position (a few sequential
    streams the prefetcher follows) rather than one [T+1, d] block per sequence. Heads are ``dh`` wide; inlined
    with a constant ``dh`` (:func:`_attend`), the loops over a head are laid out in vector registers (≈ 4×
    faster at width 16 than with the width read at run time)."""
    m, d = out.shape
    scale = 1.0 / np.sqrt(dh)
    w = np.empty(keys.shape[0])
    q = np.empty(d)
    acc = np.empty(d)  # (local accumulator: the stores to ``out`` cannot alias the cache reads)
    for j in range(m):
        i, p = index[j], pos[j]
        for e in range(d):
            q[e] = qkv[j, e] * scale
            keys[p, i, e] = qkv[j, d + e]
            values[p, i, e] = qkv[j, 2 * d + e]
            acc[e] = 0.0
        for h in range(n_heads):
            q0 = h * dh
            top = 0.0
            for s in range(p + 1):
                z = 0.0
                for e in range(dh):
                    z += q[q0 + e] * keys[s, i, q0 + e]
                w[s] = z
                if s == 0 or z > top:  # (no -inf start: fastmath assumes finite values)
                    top = z
            total = 0.0
            for s in range(p + 1):
                w[s] = np.exp(max(w[s] - top, -600.0))  # (no subnormal weights: they cost ~100× per product)
                total += w[s]
            r = 1.0 / total
            for s in range(p + 1):
                ws = w[s] * r
                for e in range(dh):
                    acc[q0 + e] += ws * values[s, i, q0 + e]
        for e in range(d):
            out[j, e] = acc[e]


@njit(cache=True, fastmath=True, nogil=True)
def _attend(qkv, index, pos, n_heads, keys, values, out):
    """:func:`_attend_body` with the head width as a compile-time constant for the common widths."""
    dh = out.shape[1] // n_heads
    if dh == 16:  # the shipped network (d_model 32, 2 heads)
        _attend_body(qkv, index, pos, n_heads, 16, keys, values, out)
    elif dh == 8:
        _attend_body(qkv, index, pos, n_heads, 8, keys, values, out)
    elif dh == 32:
        _attend_body(qkv, index, pos, n_heads, 32, keys, values, out)
    else:
        _attend_body(qkv, index, pos, n_heads, dh, keys, values, out)


@njit(cache=True, fastmath=True, nogil=True)
def _encode_one(lo, hi, est, x, index, pos, ln_w, ln_b, qkv_w, qkv_b, out_w, out_b, ff1_w, ff1_b, ff2_w, ff2_b,
               head_w, head_b, n_heads, keys, values, heads, n_components, beliefs):  # fmt: skip
    """Estimator ``est``'s pass of the new tokens ``lo..hi`` (embedded inputs ``x[est]`` [m, d], updated in
    place) through every layer into ``heads[est]`` [m, 3K], and into ``beliefs[est]`` [m, 36] unless that is
    empty: layer norms, attention and the von Mises read-out as loops, the dense layers as BLAS products over
    the block's tokens. Layer l's norms are ``ln_w[est, 2l]``, ``ln_w[est, 2l + 1]``, the final one
    ``ln_w[est, -1]``."""
    m = hi - lo
    d = x.shape[2]
    xs = x[est, lo:hi]
    y = np.empty((m, d))
    o = np.empty((m, d))
    tmp = np.empty((m, d))
    qkv = np.empty((m, 3 * d))
    hid = np.empty((m, ff1_w.shape[3]))
    for layer in range(qkv_w.shape[1]):
        _layer_norm_rows(xs, ln_w[est, 2 * layer], ln_b[est, 2 * layer], y)
        np.dot(y, qkv_w[est, layer], qkv)
        _add_rows(qkv, qkv_b[est, layer], False)
        _attend(qkv, index[lo:hi], pos[lo:hi], n_heads, keys[est, layer], values[est, layer], o)
        np.dot(o, out_w[est, layer], tmp)
        _add_residual(xs, tmp, out_b[est, layer])
        _layer_norm_rows(xs, ln_w[est, 2 * layer + 1], ln_b[est, 2 * layer + 1], y)
        np.dot(y, ff1_w[est, layer], hid)
        _add_rows(hid, ff1_b[est, layer], True)
        np.dot(hid, ff2_w[est, layer], tmp)
        _add_residual(xs, tmp, ff2_b[est, layer])
    _layer_norm_rows(xs, ln_w[est, -1], ln_b[est, -1], y)
    hs = heads[est, lo:hi]
    np.dot(y, head_w[est], hs)
    _add_rows(hs, head_b[est], False)
    if beliefs.shape[1] > 0:
        _mixture_rows(0, m, hs, n_components, _COS_SIN, POW2, beliefs[est, lo:hi])


@njit(cache=True, nogil=True)
def _encode_rows(lo, hi, x, index, pos, ln_w, ln_b, qkv_w, qkv_b, out_w, out_b, ff1_w, ff1_b, ff2_w, ff2_b, head_w,
           head_b, n_heads, keys, values, heads, n_components, beliefs, n_blocks):  # fmt: skip
    """Every estimator's pass of tokens ``lo..hi`` on this thread (``n_blocks``: the parallel kernel's)."""
    for est in range(x.shape[0]):
        _encode_one(lo, hi, est, x, index, pos, ln_w, ln_b, qkv_w, qkv_b, out_w, out_b, ff1_w, ff1_b, ff2_w,
                   ff2_b, head_w, head_b, n_heads, keys, values, heads, n_components, beliefs)  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def _encode_parallel(x, index, pos, ln_w, ln_b, qkv_w, qkv_b, out_w, out_b, ff1_w, ff1_b, ff2_w, ff2_b, head_w,
                    head_b, n_heads, keys, values, heads, n_components, beliefs, n_blocks):  # fmt: skip
    """Work items (estimator, one of its ``n_blocks`` blocks of tokens) run on numba's threads."""
    n_est, m = x.shape[0], x.shape[1]
    size = (m + n_blocks - 1) // n_blocks
    for c in prange(n_est * n_blocks):
        est, blk = c // n_blocks, c % n_blocks
        lo = min(m, blk * size)
        hi = min(m, lo + size)
        _encode_one(lo, hi, est, x, index, pos, ln_w, ln_b, qkv_w, qkv_b, out_w, out_b, ff1_w, ff1_b, ff2_w,
                   ff2_b, head_w, head_b, n_heads, keys, values, heads, n_components, beliefs)  # fmt: skip


class EncoderStack:
    """The input side shared by the incremental runners of a stack of E estimators (same network shape, own
    weights) over ``n`` sequences, each sequence at its own position (the same in every estimator): token
    embedding, positions, restarts and the checks of :meth:`append_embedded`, which the runners implement
    (:class:`IncrementalEncoder` here; ``torch_sim.TorchEncoderStack`` on a torch device)."""

    def __init__(self, params: dict[str, np.ndarray] | list[dict[str, np.ndarray]], cfg: NetworkConfig, n: int):
        self.single = isinstance(params, dict)
        self.params = [
            {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in ps.items()}
            for ps in ([params] if isinstance(params, dict) else params)
        ]
        self.cfg = cfg
        self._embed_w = np.stack([p["embed_w"] for p in self.params])  # [E, F, d]
        self._embed_b = np.stack([p["embed_b"] for p in self.params])  # [E, d]
        self._pos = np.stack([p["pos"] for p in self.params])  # [E, T+1, d]
        self.pos = np.zeros(n, dtype=np.int64)  # next position to fill, per sequence

    def restart(self, rows: np.ndarray) -> None:
        """Empty the sequences ``rows`` (index or boolean mask): their next token goes to position 0."""
        self.pos[rows] = 0

    def embed(self, tokens: np.ndarray) -> np.ndarray:
        """Token features [m, F] (the same tokens for every estimator) → the encoders' inputs [E, m, d] (before
        the position embedding)."""
        x = np.asarray(tokens, dtype=np.float64) @ self._embed_w
        x += self._embed_b[:, None]
        return x

    def slate_embedding(self, slates: np.ndarray) -> np.ndarray:
        """[E, A, d]: the slate part of a step token's embedding (plus the bias) for each slate [A, 36], so that
        :meth:`embed_steps` needs no token array."""
        return np.asarray(slates, dtype=np.float64) @ self._embed_w[:, :N_BINS] + self._embed_b[:, None]

    def embed_steps(self, slate_rows: np.ndarray, choices: np.ndarray, hidden: np.ndarray | None = None) -> np.ndarray:
        """The inputs [E, m, d] of step tokens, ``embed(step_tokens(slates, choices, hidden))``, from ``slate_rows``
        [E, m, d] (rows of :meth:`slate_embedding`): the one-hot choice adds one row of each embedding matrix, or
        the hidden flag's row where ``hidden`` [E, m] is set."""
        choices = np.asarray(choices, dtype=np.int64)
        x = slate_rows + self._embed_w[:, N_BINS + choices]
        if hidden is not None and np.any(hidden):
            est, row = np.nonzero(hidden)
            x[est, row] += self._embed_w[est, F_HIDDEN] - self._embed_w[est, N_BINS + choices[row]]
        return x

    def append(self, tokens: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Add one token [m, F] to each sequence in ``rows`` (``None``: all n); returns their heads, [m, 3K] for a
        single estimator, [E, m, 3K] for a stack."""
        heads, _ = self.append_embedded(self.embed(tokens), rows)
        return heads[0] if self.single else heads

    def append_embedded(
        self, x: np.ndarray, rows: np.ndarray | None = None, beliefs: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`append` for tokens already embedded, ``x`` [E, m, d] (:meth:`embed`, :meth:`embed_steps`; may be
        used as scratch). Returns heads [E, m, 3K] and, if ``beliefs``, the beliefs over the bins [E, m, 36]
        (else an empty [E, 0, 36] array)."""
        index = np.arange(self.pos.shape[0]) if rows is None else np.asarray(rows)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        index = index.astype(np.int64, copy=False)
        pos = self.pos[index]
        if np.any(pos > self.cfg.horizon):
            raise ValueError(f"a sequence already holds the maximum of {self.cfg.horizon + 1} tokens")
        x = np.ascontiguousarray(x, dtype=np.float64)
        x += self._pos[:, pos]
        out = self._run(x, index, pos, beliefs)
        self.pos[index] = pos + 1
        return out

    def _run(self, x: np.ndarray, index: np.ndarray, pos: np.ndarray, beliefs: bool) -> tuple[np.ndarray, np.ndarray]:
        """The runner's pass of the inputs ``x`` [E, m, d] (positions added) of sequences ``index`` at ``pos``."""
        raise NotImplementedError


class IncrementalEncoder(EncoderStack):
    """A stack of E estimators run token by token with NumPy and compiled kernels (a single estimator when
    ``params`` is one parameter dict).

    Under the causal mask token j's keys and values never change once computed, so they are cached per estimator
    and layer ([E, layers, T+1, n, d_model], heads side by side); :meth:`append` runs only the new tokens through
    the encoders, attending to the cached prefix, and returns their output heads — the same numbers as
    :func:`forward` on the whole sequence read at those positions (up to float rounding: float64 throughout,
    sums taken in another order). Memory is fixed: O(E · layers · n · (T+1) · d_model). One step of every
    estimator is one compiled kernel (dense layers as BLAS products over the new tokens; layer norms, the
    attention over each sequence's cache and the von Mises read-out as loops); from :attr:`PARALLEL_FROM`
    tokens on, the work items (estimator, block of tokens) are spread over numba's threads, so a simulator's
    estimators run side by side.
    """

    #: batches below this many tokens run on one thread
    PARALLEL_FROM = 256

    def __init__(self, params: dict[str, np.ndarray] | list[dict[str, np.ndarray]], cfg: NetworkConfig, n: int):
        super().__init__(params, cfg, n)
        layers = range(cfg.n_layers)

        def stack(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.stack([[p[f"l{i}_{name}"] for i in layers] for p in self.params]))

        norms = [f"l{i}_{which}" for i in layers for which in ("ln1", "ln2")] + ["lnf"]
        self._weights = (
            np.stack([[p[k + "_w"] for k in norms] for p in self.params]),
            np.stack([[p[k + "_b"] for k in norms] for p in self.params]),
            stack("qkv_w"), stack("qkv_b"), stack("out_w"), stack("out_b"),
            stack("ff1_w"), stack("ff1_b"), stack("ff2_w"), stack("ff2_b"),
            np.stack([p["head_w"] for p in self.params]), np.stack([p["head_b"] for p in self.params]), cfg.n_heads,
        )  # fmt: skip
        self.keys = np.zeros((len(self.params), cfg.n_layers, cfg.horizon + 1, n, cfg.d_model))
        self.values = np.zeros_like(self.keys)

    def _run(self, x: np.ndarray, index: np.ndarray, pos: np.ndarray, beliefs: bool) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        n_est, m = len(self.params), index.shape[0]
        heads = np.empty((n_est, m, 3 * cfg.n_components))
        out = np.empty((n_est, m if beliefs else 0, N_BINS))
        n_blocks = max(1, -(-get_num_threads() // n_est))
        args: tuple[Any, ...] = (x, index, pos, *self._weights, self.keys, self.values, heads, cfg.n_components, out,
                                 n_blocks)  # fmt: skip
        run_chunked(_encode_rows, _encode_parallel, m, *args, parallel_from=self.PARALLEL_FROM)
        return heads, out


# -- the checkpoint ----------------------------------------------------------------------------------------
@dataclass
class LearnedUserModel:
    """The three estimators, the choice model they assume, and the natural-shift table (NumPy inference)."""

    config: NetworkConfig
    params: dict[str, dict[str, np.ndarray]]
    beta_c: np.ndarray
    natural_table: np.ndarray | None = None  # [T+1, u0, u]: P̂(u_t^rnd = u | u_0 = u0), Algorithm 2
    meta: dict = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return self.config.horizon

    # -- estimators -------------------------------------------------------------------------------------
    def encoder(self, name: str | tuple[str, ...], n: int, device: str | None = None) -> EncoderStack:
        """An incremental runner of estimator ``name`` (or a stack of the estimators named, run together) for ``n``
        sequences: :class:`IncrementalEncoder` (NumPy and compiled kernels), or with ``device`` (a torch device
        string) ``torch_sim.TorchEncoderStack`` on that device."""
        params = self.params[name] if isinstance(name, str) else [self.params[k] for k in name]
        if device is None:
            return IncrementalEncoder(params, self.config, n)
        from recsim_envs.preference.learned.torch_sim import TorchEncoderStack  # torch only when asked for

        return TorchEncoderStack(params, self.config, n, device)

    def beliefs(self, heads: np.ndarray) -> np.ndarray:
        """Beliefs over the 36 bins [..., 36] from output heads [..., 3K]."""
        return mixture_bin_probs(heads, self.config.n_components)

    def _run(self, name, tokens, allowed, position: np.ndarray | int | None = None):
        """Beliefs over bins at every position, or at ``position`` (per user [n] or one int) only."""
        heads = forward(self.params[name], self.config, tokens, allowed)
        if position is not None:
            heads = heads[np.arange(heads.shape[0]), position]
        return mixture_bin_probs(heads, self.config.n_components)

    def future_beliefs(self, slate_vecs: np.ndarray, choices: np.ndarray) -> np.ndarray:
        """P̂_f(u_t | s_<t, x_<t) for t = 0..T from full histories [n, T] (one causal pass), shape [n, T+1, 36]."""
        n = np.asarray(slate_vecs).shape[0]
        lengths = np.full(n, np.asarray(slate_vecs).shape[1])
        tokens = build_tokens(slate_vecs, choices, lengths, self.horizon)
        return self._run("future", tokens, attention_allowed(self.horizon))

    def future_belief_at(self, slate_vecs: np.ndarray, choices: np.ndarray, t: np.ndarray) -> np.ndarray:
        """P̂_f(u_t | history) for each user at its own step ``t`` [n] (steps ≥ t are ignored), shape [n, 36]."""
        t = np.asarray(t, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, t, self.horizon)
        return self._run("future", tokens, attention_allowed(self.horizon), t)

    def counterfactual_belief_at(
        self, u0_angle: np.ndarray, slate_vecs: np.ndarray, choices: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """P̂_c(u_t | u_0, history) for each user at its step ``t`` [n]; ``u0_angle`` [n] in radians."""
        t = np.asarray(t, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, t, self.horizon, context_angle=np.asarray(u0_angle, dtype=float))
        return self._run("counterfactual", tokens, attention_allowed(self.horizon), t)

    def initial_belief(
        self, slate_vecs: np.ndarray, choices: np.ndarray, lengths: np.ndarray, corrected: bool = True
    ) -> np.ndarray:
        """P̂_i(u_0 | the first ``lengths`` [n] steps), shape [n, 36]; length 0 gives the learned prior P̂_f(u_0).

        ``corrected=True`` applies the App. E.2 correction (multiply by P(x_0 | s_0, u_0) and renormalise);
        ``False`` returns the network's belief given x_1.. only.
        """
        slate_vecs = np.asarray(slate_vecs, dtype=float)
        choices = np.asarray(choices, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, lengths, self.horizon, hide_first_choice=True)
        belief = self._run("initial", tokens, attention_allowed(self.horizon), lengths)
        empty = lengths == 0
        if empty.any():
            prior = self.future_belief_at(slate_vecs[:1, :0], choices[:1, :0], np.zeros(1, dtype=np.int64))[0]
            belief[empty] = prior
        if corrected:
            obs = ~empty
            if obs.any():
                em = choice_probabilities(slate_vecs[obs, 0], self.beta_c)  # [m, u, x]
                belief[obs] = correct_initial(belief[obs], em[np.arange(obs.sum()), :, choices[obs, 0]])
        return belief

    def natural_shift(self, initial_belief: np.ndarray, t: np.ndarray | int) -> np.ndarray:
        """P̂(u_t^rnd) = Σ_{u0} b_0(u0) P̂(u_t^rnd | u0) from the Algorithm-2 table, shape [n, 36]."""
        if self.natural_table is None:
            raise ValueError("natural_table is missing: compute it with algorithms.natural_shift_table")
        b = np.atleast_2d(initial_belief)
        t = np.broadcast_to(np.asarray(t, dtype=np.int64), (b.shape[0],))
        return rows_times_tables(b, self.natural_table, t)

    def emission(self, slates: np.ndarray) -> np.ndarray:
        """The assumed (known) choice model P(x | s, u) for slates [..., 36]: [..., u, x]."""
        return choice_probabilities(slates, self.beta_c)

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Atomic ``.npz`` write (float32 weights; inference upcasts to float64)."""
        arrays = {f"{name}/{k}": v.astype(np.float32) for name, ps in self.params.items() for k, v in ps.items()}
        arrays["beta_c"] = np.asarray(self.beta_c, dtype=np.float64)
        if self.natural_table is not None:
            arrays["natural_table"] = np.asarray(self.natural_table, dtype=np.float32)
        meta = {**self.meta, "network": self.config.to_dict(), "format": CHECKPOINT_FORMAT}
        arrays["meta"] = np.array(json.dumps(meta))
        return atomic_save_npz(path, compressed=True, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> LearnedUserModel:
        """Load a checkpoint; ``None`` loads the shipped default (``assets/user_model.npz``).

        Raises ``ValueError`` naming the file and the problem for anything but a complete, finite checkpoint
        of the current format (not an .npz archive, truncated, missing or malformed entries, NaN/inf weights).
        """
        path = DEFAULT_CHECKPOINT if path is None else Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint must be an existing .npz file, got {str(path)!r}")
        try:
            arrays, meta_text = _read_npz(path)
        except _CheckpointError:
            raise
        except Exception as e:  # BadZipFile, zlib.error, EOFError, OSError, numpy's pickle refusal (text files)
            raise ValueError(
                f"checkpoint {str(path)!r} is not a readable .npz archive ({type(e).__name__}: {e})"
            ) from e
        return _checked_model(path, arrays, meta_text)


class _CheckpointError(ValueError):
    """A checkpoint problem already described with the file name."""


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], str]:
    z = np.load(path, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise _CheckpointError(f"checkpoint {str(path)!r} is a single .npy array, not an .npz archive")
    with z:
        if "meta" not in z.files:
            raise _CheckpointError(f"checkpoint {str(path)!r} lacks the 'meta' record (not a learned user-model file)")
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = z["meta"]
    if meta.shape != () or meta.dtype.kind != "U":
        raise _CheckpointError(f"checkpoint {str(path)!r}: 'meta' must be a JSON string, got {meta.dtype} {meta.shape}")
    return arrays, str(meta)


def _checked_model(path: Path, arrays: dict[str, np.ndarray], meta_text: str) -> LearnedUserModel:
    where = f"checkpoint {str(path)!r}"
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: 'meta' is not valid JSON ({e})") from e
    if not isinstance(meta, dict) or not isinstance(meta.get("network"), dict):
        raise ValueError(f"{where}: 'meta' must be a JSON object with a 'network' entry")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{where} has format {meta.get('format', 1)!r}, this version reads format {CHECKPOINT_FORMAT} "
            "(its initial-preference estimator is causal); retrain it with "
            "python -m recsim_envs.preference.learned.train"
        )
    try:
        cfg = NetworkConfig(**meta.pop("network"))
    except TypeError as e:
        raise ValueError(f"{where}: 'meta.network' has unknown or missing fields ({e})") from e
    for name, value in cfg.to_dict().items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}: 'meta.network.{name}' must be a positive integer, got {value!r}")
    if cfg.d_model % cfg.n_heads:
        raise ValueError(f"{where}: d_model {cfg.d_model} is not divisible by n_heads {cfg.n_heads}")
    meta.pop("format")
    shapes = parameter_shapes(cfg)
    params: dict[str, dict[str, np.ndarray]] = {}
    for name in ESTIMATORS:
        params[name] = {}
        for key, shape in shapes.items():
            full = f"{name}/{key}"
            if full not in arrays:
                raise ValueError(f"{where} lacks the weight {full!r}")
            params[name][key] = _finite_array(where, full, arrays.pop(full), shape)
    extra = [k for k in arrays if "/" in k]
    if extra:
        raise ValueError(f"{where} has unexpected weights {sorted(extra)[:5]} for network {cfg.to_dict()}")
    if "beta_c" not in arrays:
        raise ValueError(f"{where} lacks 'beta_c' (the choice model it was trained with)")
    beta_c = _finite_array(where, "beta_c", arrays["beta_c"], (N_BINS,))
    table = None
    if "natural_table" in arrays:
        table = _finite_array(where, "natural_table", arrays["natural_table"], (cfg.horizon + 1, N_BINS, N_BINS))
        sums = table.sum(axis=-1)
        if np.any(table < 0) or np.any(np.abs(sums - 1.0) > 1e-3):
            raise ValueError(f"{where}: 'natural_table' rows must be probability distributions (≥ 0, summing to 1)")
        table = table / sums[..., None]
    return LearnedUserModel(cfg, params, beta_c, table, meta)


def _finite_array(where: str, key: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if value.dtype.kind not in "fiu":
        raise ValueError(f"{where}: {key!r} must be numeric, got dtype {value.dtype}")
    if value.shape != tuple(shape):
        raise ValueError(f"{where}: {key!r} has shape {value.shape}, expected {tuple(shape)}")
    value = value.astype(np.float64)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{where}: {key!r} contains {int((~np.isfinite(value)).sum())} NaN/inf values")
    return value
