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

import numpy as np
from numba import njit, prange

from recsim_envs.preference.model import choice_probabilities
from recsim_envs.preference.world import N_BINS, VECTORS
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
    probability space (no logsumexp) is stable.
    """
    heads = np.asarray(heads, dtype=np.float64)
    if heads.shape[-1] != 3 * n_components:
        raise ValueError(f"heads must have 3 * n_components = {3 * n_components} entries last, got {heads.shape}")
    flat = np.ascontiguousarray(heads.reshape(-1, heads.shape[-1]))
    out = np.empty((flat.shape[0], N_BINS))
    _mixture_rows(flat, n_components, _COS_SIN, out)  # compiled: one pass per row, no [..., K, 36] temporaries
    return out.reshape(*heads.shape[:-1], N_BINS)


_COS_SIN = np.ascontiguousarray(VECTORS.T)  # [2, 36]


@njit(cache=True, fastmath=True)
def _mixture_rows(heads, k, cos_sin, out):
    """:func:`mixture_bin_probs` for rows of ``heads`` [m, 3K] into ``out`` [m, 36]."""
    nb = out.shape[1]
    dens = np.empty(nb)
    for j in range(heads.shape[0]):
        top = heads[j, 0]
        for c in range(1, k):
            top = max(top, heads[j, c])
        wsum = 0.0
        for c in range(k):
            wsum += np.exp(heads[j, c] - top)
        for b in range(nb):
            out[j, b] = 0.0
        for c in range(k):
            w = np.exp(heads[j, c] - top) / wsum
            e0, e1 = heads[j, k + 2 * c], heads[j, k + 2 * c + 1]
            kappa = np.sqrt(e0 * e0 + e1 * e1)
            scale = min(1.0, KAPPA_MAX / max(kappa, 1e-12))
            e0, e1, shift = e0 * scale, e1 * scale, kappa * scale
            total = 0.0
            for b in range(nb):
                dens[b] = np.exp(e0 * cos_sin[0, b] + e1 * cos_sin[1, b] - shift)
                total += dens[b]
            w /= total
            for b in range(nb):
                out[j, b] += w * dens[b]


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
    post = raw * lik_x0
    return post / post.sum(axis=1, keepdims=True)


@njit(cache=True, fastmath=True)
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


@njit(cache=True, fastmath=True)
def _attend_users(lo, hi, qkv, index, pos, keys, values, out):
    """Causal attention of the new tokens ``lo..hi``: token j (sequence ``index[j]``, position ``pos[j]``) stores
    its key and value from ``qkv[j]`` = (q | k | v, heads side by side) in the cache ``keys``/``values``
    [n, heads, T+1, d_head] and attends to that sequence's positions 0..pos[j]; ``out[j]`` [d] gets the heads'
    outputs side by side."""
    _, n_heads, size, dh = keys.shape
    d = n_heads * dh
    att = np.empty(size)
    acc = np.empty(dh)
    q = np.empty(dh)
    scale = 1.0 / np.sqrt(dh)
    for j in range(lo, hi):
        i, p = index[j], pos[j]
        for h in range(n_heads):
            kc, vc = keys[i, h], values[i, h]
            q0 = h * dh
            for e in range(dh):
                kc[p, e] = qkv[j, d + q0 + e]
                vc[p, e] = qkv[j, 2 * d + q0 + e]
                q[e] = qkv[j, q0 + e] * scale
            top = 0.0
            for s in range(p + 1):
                z = 0.0
                for e in range(dh):
                    z += q[e] * kc[s, e]
                att[s] = z
                if s == 0 or z > top:  # (no -inf start: fastmath assumes finite values)
                    top = z
            total = 0.0
            for s in range(p + 1):
                att[s] = np.exp(att[s] - top)
                total += att[s]
            acc[:] = 0.0  # (local accumulator: stays in cache lines the stores to ``out`` cannot alias)
            for s in range(p + 1):
                w = att[s]
                for e in range(dh):
                    acc[e] += w * vc[s, e]
            r = 1.0 / total
            for e in range(dh):
                out[j, q0 + e] = acc[e] * r


@njit(cache=True, fastmath=True, parallel=True)
def _attend_parallel(qkv, index, pos, keys, values, out):
    m = index.shape[0]
    for c in prange((m + CHUNK - 1) // CHUNK):
        _attend_users(c * CHUNK, min(m, (c + 1) * CHUNK), qkv, index, pos, keys, values, out)


class IncrementalEncoder:
    """One estimator run token by token for ``n`` sequences, each at its own position.

    Under the causal mask token j's keys and values never change once computed, so they are cached per layer
    ([layers, n, heads, T+1, d_head]); :meth:`append` runs only the new tokens through the encoder, attending to
    the cached prefix, and returns their output heads — the same numbers as :func:`forward` on the whole
    sequence read at those positions (up to float rounding: float64 throughout, sums taken in another order).
    Memory is fixed: O(layers · n · (T+1) · d_model). The dense layers are one BLAS matrix product over the new
    tokens each; layer norms and the attention over each sequence's cache are compiled kernels (the attention
    split over numba's threads for large batches, ``recsim_envs.utils.kernels.run_chunked``).
    """

    #: batches below this many tokens attend on one thread
    PARALLEL_FROM = 256

    def __init__(self, params: dict[str, np.ndarray], cfg: NetworkConfig, n: int):
        self.params = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in params.items()}
        self.cfg = cfg
        size, h = cfg.horizon + 1, cfg.n_heads
        self.keys = np.zeros((cfg.n_layers, n, h, size, cfg.d_model // h))
        self.values = np.zeros_like(self.keys)
        self.pos = np.zeros(n, dtype=np.int64)  # next position to fill, per sequence
        self._scratch: dict[tuple[str, int], np.ndarray] = {}

    #: batches up to this many tokens reuse kept output buffers for the dense layers (fresh arrays of this size
    #: cost page faults on every step, ≈ 20 % of :meth:`append` at 1,024 users); larger ones allocate per call
    SCRATCH_UP_TO = 1 << 16

    def _buffer(self, name: str, m: int, width: int) -> np.ndarray:
        """An [m, width] float64 output buffer for ``name`` (kept for small batches, fresh otherwise)."""
        if m > self.SCRATCH_UP_TO:
            return np.empty((m, width))
        key = (name, m)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty((m, width))
        return buf

    def restart(self, rows: np.ndarray) -> None:
        """Empty the sequences ``rows`` (index or boolean mask): their next token goes to position 0."""
        self.pos[rows] = 0

    def append(self, tokens: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Add one token [m, F] to each sequence in ``rows`` (``None``: all n); returns their heads [m, 3K]."""
        p, cfg = self.params, self.cfg
        index = np.arange(self.pos.shape[0]) if rows is None else np.asarray(rows)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        index = index.astype(np.int64, copy=False)
        pos = self.pos[index]
        if np.any(pos > cfg.horizon):
            raise ValueError(f"a sequence already holds the maximum of {cfg.horizon + 1} tokens")
        m, d = index.shape[0], cfg.d_model
        x = np.asarray(tokens, dtype=np.float64) @ p["embed_w"]
        x += p["embed_b"]
        x += p["pos"][pos]
        y = np.empty((m, d))
        o = np.empty((m, d))
        tmp = self._buffer("tmp", m, d)
        for layer in range(cfg.n_layers):
            q_ = f"l{layer}_"
            _layer_norm_rows(x, p[q_ + "ln1_w"], p[q_ + "ln1_b"], y)
            qkv = np.matmul(y, p[q_ + "qkv_w"], out=self._buffer("qkv", m, 3 * d))
            qkv += p[q_ + "qkv_b"]
            run_chunked(_attend_users, _attend_parallel, m, qkv, index, pos, self.keys[layer], self.values[layer], o,
                        parallel_from=self.PARALLEL_FROM)  # fmt: skip
            x += np.matmul(o, p[q_ + "out_w"], out=tmp)
            x += p[q_ + "out_b"]
            _layer_norm_rows(x, p[q_ + "ln2_w"], p[q_ + "ln2_b"], y)
            hidden = np.matmul(y, p[q_ + "ff1_w"], out=self._buffer("ff", m, cfg.d_ff))
            hidden += p[q_ + "ff1_b"]
            np.maximum(hidden, 0.0, out=hidden)
            x += np.matmul(hidden, p[q_ + "ff2_w"], out=tmp)
            x += p[q_ + "ff2_b"]
        self.pos[index] = pos + 1
        _layer_norm_rows(x, p["lnf_w"], p["lnf_b"], y)
        heads = y @ p["head_w"]
        heads += p["head_b"]
        return heads


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
    def encoder(self, name: str, n: int) -> IncrementalEncoder:
        """An incremental runner of estimator ``name`` for ``n`` sequences (see :class:`IncrementalEncoder`)."""
        return IncrementalEncoder(self.params[name], self.config, n)

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
