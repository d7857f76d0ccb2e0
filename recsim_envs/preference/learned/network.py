"""The learned user model's network in NumPy (inference) and its checkpoint.

Architecture (Carroll et al. 2022, App. D; sizes are ours): a pre-LayerNorm transformer encoder, 2 layers,
2 heads, width ``d_model``, over a sequence of T + 1 tokens. Token 0 is a start/context token; token j + 1 holds
step j: the slate s_j (36 probabilities) and the choice x_j (one-hot, or a "hidden" flag when the choice is
masked out). The same encoder serves three estimators, which differ only in attention mask, hidden choices and
token 0:

- future  P̂_f(u_t | s_<t, x_<t): causal mask; the output at position t is the belief over u_t;
- initial P̂_i(u_0 | s_0..s_L−1, x_1..x_L−1): full attention over the L observed steps with x_0 hidden, output
  at position 1; the E.2 smoothing correction then multiplies in the known choice likelihood of x_0,
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
Algorithm 2 and a JSON ``meta`` record. This module needs only NumPy; training lives in
``transformer.py`` (torch).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsim_envs.preference.model import choice_probabilities
from recsim_envs.preference.world import N_BINS, VECTORS

#: token features: slate (36) | choice one-hot (36) | choice hidden | start token | cos u_0, sin u_0
N_FEATURES = 2 * N_BINS + 4
F_HIDDEN, F_START, F_CONTEXT = 2 * N_BINS, 2 * N_BINS + 1, 2 * N_BINS + 2
ESTIMATORS = ("future", "initial", "counterfactual")
KAPPA_MAX = 500.0
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
    x[:, 0, F_START] = 1.0
    if context_angle is not None:
        x[:, 0, F_CONTEXT] = np.cos(context_angle)
        x[:, 0, F_CONTEXT + 1] = np.sin(context_angle)
    if steps == 0:
        return x
    valid = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]  # [n, steps]
    x[:, 1 : steps + 1, :N_BINS] = slate_vecs[:, :steps] * valid[..., None]
    ch = np.where(valid, np.clip(choices[:, :steps], 0, N_BINS - 1), 0)
    onehot = np.eye(N_BINS)[ch] * valid[..., None]
    if hide_first_choice:
        onehot[:, 0] = 0.0
        x[:, 1, F_HIDDEN] = valid[:, 0]
    x[:, 1 : steps + 1, N_BINS : 2 * N_BINS] = onehot
    return x


def attention_allowed(kind: str, horizon: int, lengths: np.ndarray | None = None) -> np.ndarray:
    """Boolean [L, L] (causal) or [n, L, L] (padded: keys 0..length) mask of allowed query→key pairs."""
    size = horizon + 1
    if kind == "causal":
        return np.tril(np.ones((size, size), dtype=bool))
    if kind == "padded":
        keys = np.arange(size)[None, :] <= np.asarray(lengths)[:, None]  # [n, L]
        return np.broadcast_to(keys[:, None, :], (keys.shape[0], size, size))
    raise ValueError(f"kind must be one of ['causal', 'padded'], got {kind!r}")


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


def mixture_bin_log_probs(heads: np.ndarray, n_components: int) -> np.ndarray:
    """Log-probabilities over the 36 preference bins of the K-component von Mises mixture in ``heads``.

    Component k has density ∝ exp(η_k · (cos θ, sin θ)) on the bin grid, normalised over the 36 bins (the von
    Mises restricted to the grid, so no Bessel function is needed and the result sums to one exactly);
    log p(θ_b) = logsumexp_k [log w_k + η_k · x_b − logsumexp_b' η_k · x_b'].
    """
    k = n_components
    logw = heads[..., :k] - _logsumexp(heads[..., :k], axis=-1)[..., None]
    eta = heads[..., k:].reshape(*heads.shape[:-1], k, 2)
    kappa = np.linalg.norm(eta, axis=-1, keepdims=True)
    eta = eta * np.minimum(1.0, KAPPA_MAX / np.maximum(kappa, 1e-12))
    dens = np.einsum("...kc,bc->...bk", eta, VECTORS)  # [..., 36, K]
    dens = dens - _logsumexp(dens, axis=-2)[..., None, :] + logw[..., None, :]
    return _logsumexp(dens, axis=-1)


def _logsumexp(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))).squeeze(axis)


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
    def _run(self, name, tokens, allowed, position: np.ndarray | int | None = None):
        """Log-beliefs over bins at every position, or at ``position`` (per user [n] or one int) only."""
        heads = forward(self.params[name], self.config, tokens, allowed)
        if position is not None:
            heads = heads[np.arange(heads.shape[0]), position]
        return mixture_bin_log_probs(heads, self.config.n_components)

    def future_beliefs(self, slate_vecs: np.ndarray, choices: np.ndarray) -> np.ndarray:
        """P̂_f(u_t | s_<t, x_<t) for t = 0..T from full histories [n, T] (one causal pass), shape [n, T+1, 36]."""
        n = np.asarray(slate_vecs).shape[0]
        lengths = np.full(n, np.asarray(slate_vecs).shape[1])
        tokens = build_tokens(slate_vecs, choices, lengths, self.horizon)
        return np.exp(self._run("future", tokens, attention_allowed("causal", self.horizon)))

    def future_belief_at(self, slate_vecs: np.ndarray, choices: np.ndarray, t: np.ndarray) -> np.ndarray:
        """P̂_f(u_t | history) for each user at its own step ``t`` [n] (steps ≥ t are ignored), shape [n, 36]."""
        t = np.asarray(t, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, t, self.horizon)
        return np.exp(self._run("future", tokens, attention_allowed("causal", self.horizon), t))

    def counterfactual_belief_at(self, u0_angle, slate_vecs, choices, t) -> np.ndarray:
        """P̂_c(u_t | u_0, history) for each user at its step ``t`` [n]; ``u0_angle`` [n] in radians."""
        t = np.asarray(t, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, t, self.horizon, context_angle=np.asarray(u0_angle, dtype=float))
        return np.exp(self._run("counterfactual", tokens, attention_allowed("causal", self.horizon), t))

    def initial_belief(self, slate_vecs, choices, lengths, corrected: bool = True) -> np.ndarray:
        """P̂_i(u_0 | the first ``lengths`` [n] steps), shape [n, 36]; length 0 gives the learned prior P̂_f(u_0).

        ``corrected=True`` applies the App. E.2 correction (multiply by P(x_0 | s_0, u_0) and renormalise);
        ``False`` returns the network's belief given x_1.. only.
        """
        slate_vecs = np.asarray(slate_vecs, dtype=float)
        choices = np.asarray(choices, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        tokens = build_tokens(slate_vecs, choices, lengths, self.horizon, hide_first_choice=True)
        belief = np.exp(self._run("initial", tokens, attention_allowed("padded", self.horizon, lengths), 1))
        empty = lengths == 0
        if empty.any():
            prior = self.future_belief_at(slate_vecs[:1, :0], choices[:1, :0], np.zeros(1, dtype=np.int64))[0]
            belief[empty] = prior
        if corrected:
            obs = ~empty
            if obs.any():
                em = choice_probabilities(slate_vecs[obs, 0], self.beta_c)  # [m, u, x]
                lik = em[np.arange(obs.sum()), :, choices[obs, 0]]
                post = belief[obs] * lik
                belief[obs] = post / post.sum(axis=1, keepdims=True)
        return belief

    def natural_shift(self, initial_belief: np.ndarray, t: np.ndarray | int) -> np.ndarray:
        """P̂(u_t^rnd) = Σ_{u0} b_0(u0) P̂(u_t^rnd | u0) from the Algorithm-2 table, shape [n, 36]."""
        if self.natural_table is None:
            raise ValueError("natural_table is missing: compute it with algorithms.natural_shift_table")
        b = np.atleast_2d(initial_belief)
        t = np.broadcast_to(np.asarray(t, dtype=np.int64), (b.shape[0],))
        return np.einsum("nu,nuv->nv", b, self.natural_table[t])

    def emission(self, slates: np.ndarray) -> np.ndarray:
        """The assumed (known) choice model P(x | s, u) for slates [..., 36]: [..., u, x]."""
        return choice_probabilities(slates, self.beta_c)

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Atomic ``.npz`` write (float32 weights; inference upcasts to float64)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"{name}/{k}": v.astype(np.float32) for name, ps in self.params.items() for k, v in ps.items()}
        arrays["beta_c"] = np.asarray(self.beta_c, dtype=np.float64)
        if self.natural_table is not None:
            arrays["natural_table"] = np.asarray(self.natural_table, dtype=np.float32)
        arrays["meta"] = np.array(json.dumps({"network": self.config.to_dict(), **self.meta}))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> LearnedUserModel:
        """Load a checkpoint; ``None`` loads the shipped default (``assets/user_model.npz``)."""
        path = DEFAULT_CHECKPOINT if path is None else Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint must be an existing .npz file, got {str(path)!r}")
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            cfg = NetworkConfig(**meta.pop("network"))
            params: dict[str, dict[str, np.ndarray]] = {}
            for key in z.files:
                if "/" in key:
                    name, p = key.split("/", 1)
                    params.setdefault(name, {})[p] = z[key].astype(np.float64)
            table = z["natural_table"].astype(np.float64) if "natural_table" in z.files else None
            beta_c = z["beta_c"].astype(np.float64)
        missing = [e for e in ESTIMATORS if e not in params]
        if missing:
            raise ValueError(f"checkpoint {str(path)!r} lacks estimators {missing}")
        if table is not None:
            table = table / table.sum(axis=-1, keepdims=True)
        return cls(cfg, params, beta_c, table, meta)
