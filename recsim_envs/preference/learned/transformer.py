"""The learned user model in torch and its training by the likelihood of observed choices (Carroll et al. §4, App. D).

Preferences are never observed: each estimator outputs a belief p̂(u) over the 36 preference bins and is scored
by the probability it gives the observed choice through the *known* choice model,
P̂(x_t | …) = Σ_u p̂(u) P(x_t | s_t, u), i.e. the loss is −Σ log Σ_u p̂(u) E[s_t][u, x_t] (App. D). The network,
token layout and masks are those of ``network.py``; the torch forward pass mirrors the NumPy one exactly
(tested), so a trained model is saved as plain arrays and run without torch.

Every random draw (initialisation, batch order, history lengths, u_0 samples) comes from a per-estimator
``torch.Generator`` seeded from the caller's seed; ``torch.use_deterministic_algorithms(True)`` is set while
training. Requires the ``train`` extra (torch).

Choices made where the paper leaves room (documented, not silent):

- P̂_i is a causal encoder like P̂_f with x_0 hidden from token 1; its belief over u_0 given the first L steps is
  read at token L (the last observed step), so one causal pass scores every prefix length 1..T at once (the loss
  averages x_0's likelihood over the T read-outs) and the simulator can run it incrementally (``network``).
- P̂_c is trained with u_0 drawn from P̂_i(u_0 | the whole trajectory), i.e. a u_0 sample that has seen the
  choices being predicted. Algorithm 2 conditions on exactly such samples (from the user's real data), so
  training and use match; the price is a mild look-ahead that makes P̂_c(u_t | u_0) somewhat sharper than a
  model conditioned on the true, unobserved u_0 would be.
- Overfitting is controlled by early stopping: each estimator trains for at most ``max_epochs`` passes and stops
  once the validation loss (a ``validation_fraction`` split of the training trajectories) has not improved for
  ``patience`` epochs; the best epoch's weights are kept. AdamW weight decay and residual dropout are available
  (``weight_decay``, ``dropout``). The held-out test trajectories are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from recsim_envs.preference.learned.data import HistoricalData
from recsim_envs.preference.learned.network import (
    ESTIMATORS,
    F_CONTEXT,
    KAPPA_MAX,
    LN_EPS,
    LearnedUserModel,
    NetworkConfig,
    attention_allowed,
    build_tokens,
    parameter_shapes,
)
from recsim_envs.preference.model import choice_probabilities
from recsim_envs.preference.world import N_BINS, THETA, VECTORS
from recsim_envs.utils.validation import check_int, check_real


@dataclass
class TrainConfig:
    """Optimisation settings (one set for all three estimators; App. H.2: batch 500, up to 100 epochs)."""

    max_epochs: int = 100  # upper bound on passes over the training trajectories per estimator
    patience: int = 5  # stop after this many epochs without a better validation loss (0: never stop early)
    batch_size: int = 500  # trajectories per gradient step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.0  # residual dropout rate while training (inference never drops)
    validation_fraction: float = 0.05  # share of the training trajectories used for early stopping

    def __post_init__(self):
        self.max_epochs = check_int("max_epochs", self.max_epochs, 1, 10_000)
        self.patience = check_int("patience", self.patience, 0, 10_000)
        self.batch_size = check_int("batch_size", self.batch_size, 1, 1_000_000)
        self.lr = check_real("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        self.weight_decay = check_real("weight_decay", self.weight_decay, 0.0, 1.0)
        self.dropout = check_real("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        self.validation_fraction = check_real("validation_fraction", self.validation_fraction, 0.0, 0.5)


# -- network ------------------------------------------------------------------------------------------------
def init_parameters(cfg: NetworkConfig, gen: torch.Generator) -> dict[str, torch.nn.Parameter]:
    """Weights ~ N(0, 0.02²) (embedding, attention, feed-forward, head, positions); biases 0; LayerNorm gains 1."""
    out = {}
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith("ln1_w") or name.endswith("ln2_w") or name == "lnf_w":
            t = torch.ones(shape, dtype=torch.float64)
        elif name.endswith("_b"):
            t = torch.zeros(shape, dtype=torch.float64)
        else:
            t = 0.02 * torch.randn(shape, generator=gen, dtype=torch.float64)
        out[name] = torch.nn.Parameter(t.to(DTYPE))
    return out


def _drop(x: torch.Tensor, rate: float, gen: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with a seeded generator (identity when ``rate`` is 0 or no generator is given)."""
    if rate == 0.0 or gen is None:
        return x
    keep = torch.rand(x.shape, generator=gen, dtype=x.dtype) >= rate
    return x * keep / (1.0 - rate)


def torch_forward(
    params: Mapping[str, torch.Tensor],
    cfg: NetworkConfig,
    tokens: torch.Tensor,
    allowed: torch.Tensor,
    dropout: float = 0.0,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """Torch twin of ``network.forward``: heads [n, L, 3K]; ``dropout`` > 0 with ``gen`` drops residual-branch
    outputs (training only)."""
    length = tokens.shape[1]
    x = tokens @ params["embed_w"] + params["embed_b"] + params["pos"][:length]
    return torch_encode(params, cfg, x, allowed, dropout, gen)


def torch_encode(
    params: Mapping[str, torch.Tensor],
    cfg: NetworkConfig,
    x: torch.Tensor,
    allowed: torch.Tensor,
    dropout: float = 0.0,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """The encoder layers and read-out of :func:`torch_forward` on embedded inputs ``x`` [n, L, d] (token
    embedding and positions already added): heads [n, L, 3K]."""
    n, length, _ = x.shape
    d, h = cfg.d_model, cfg.n_heads
    dh = d // h
    neg = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill(~allowed, float("-inf"))
    if neg.ndim == 3:
        neg = neg[:, None]
    ln = torch.nn.functional.layer_norm
    for layer in range(cfg.n_layers):
        p = f"l{layer}_"
        y = ln(x, (d,), params[p + "ln1_w"], params[p + "ln1_b"], LN_EPS)
        qkv = (y @ params[p + "qkv_w"] + params[p + "qkv_b"]).reshape(n, length, 3, h, dh)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        att = torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(dh) + neg, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(n, length, d)
        x = x + _drop(o @ params[p + "out_w"] + params[p + "out_b"], dropout, gen)
        y = ln(x, (d,), params[p + "ln2_w"], params[p + "ln2_b"], LN_EPS)
        ff = torch.relu(y @ params[p + "ff1_w"] + params[p + "ff1_b"]) @ params[p + "ff2_w"] + params[p + "ff2_b"]
        x = x + _drop(ff, dropout, gen)
    x = ln(x, (d,), params["lnf_w"], params["lnf_b"], LN_EPS)
    return x @ params["head_w"] + params["head_b"]


_VEC = torch.tensor(VECTORS)
#: training precision (float32 for speed on CPU; inference runs the saved weights in float64)
DTYPE = torch.float32


def torch_mixture_bin_log_probs(heads: torch.Tensor, k: int) -> torch.Tensor:
    """Torch twin of ``network.mixture_bin_log_probs``: [..., 36] log-probabilities over preference bins."""
    logw = torch.log_softmax(heads[..., :k], dim=-1)
    eta = heads[..., k:].reshape(*heads.shape[:-1], k, 2)
    kappa = torch.linalg.vector_norm(eta, dim=-1, keepdim=True)
    eta = eta * torch.clamp(KAPPA_MAX / torch.clamp(kappa, min=1e-12), max=1.0)
    dens = torch.einsum("...kc,bc->...bk", eta, _VEC.to(heads.device, heads.dtype))
    dens = dens - torch.logsumexp(dens, dim=-2, keepdim=True) + logw[..., None, :]
    return torch.logsumexp(dens, dim=-1)


# -- losses -------------------------------------------------------------------------------------------------
def observed_choice_log_lik(data: HistoricalData, beta_c: np.ndarray) -> np.ndarray:
    """log P(x_t | s_t, u) for every step and bin u under the assumed choice model: [n, T, 36]."""
    log_em = np.log(choice_probabilities(data.slate_table, beta_c))  # [S, u, x]
    return log_em[data.slates, :, data.choices]


def choice_nll(log_belief: torch.Tensor, log_lik: torch.Tensor) -> torch.Tensor:
    """Per-step −log Σ_u p̂(u) P(x | s, u); ``log_belief`` and ``log_lik`` [..., 36]."""
    return -torch.logsumexp(log_belief + log_lik, dim=-1)


class _Stage:
    """One estimator's training loop: mini-batches, AdamW, early stopping on a validation split."""

    def __init__(self, name, cfg: NetworkConfig, tcfg: TrainConfig, gen: torch.Generator, log: Callable):
        self.name, self.cfg, self.tcfg, self.gen, self.log = name, cfg, tcfg, gen, log
        self.params = init_parameters(cfg, gen)

    def fit(self, n: int, batch_loss: Callable[..., torch.Tensor], on_epoch: Callable | None = None) -> dict:
        """``batch_loss(params, index, gen)`` returns the mean loss of trajectories ``index``; ``gen`` is the
        stage's generator while training (dropout draws) and ``None`` for the validation pass.
        ``on_epoch(gen)`` draws per-epoch random inputs (e.g. u_0 samples) before each epoch."""
        tc = self.tcfg
        n_val = int(round(tc.validation_fraction * n))
        perm = torch.randperm(n, generator=self.gen).numpy()
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        opt = torch.optim.AdamW(self.params.values(), lr=tc.lr, weight_decay=tc.weight_decay)
        steps_per_epoch = -(-len(train_idx) // tc.batch_size)
        # cosine decay of the learning rate to 0 over max_epochs (early stopping may end the run before)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(tc.max_epochs * steps_per_epoch, 1))
        best = (np.inf, -1, {k: v.detach().clone() for k, v in self.params.items()})
        history = []
        t0 = time.perf_counter()
        for epoch in range(tc.max_epochs):
            if on_epoch is not None:
                on_epoch(self.gen)
            order = train_idx[torch.randperm(len(train_idx), generator=self.gen).numpy()]
            total = 0.0
            for start in range(0, len(order), tc.batch_size):
                idx = order[start : start + tc.batch_size]
                loss = batch_loss(self.params, idx, self.gen)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / max(len(order), 1)
            if n_val:
                with torch.no_grad():
                    val_loss = float(batch_loss(self.params, val_idx, None))
            else:
                val_loss = train_loss
            history.append((train_loss, val_loss))
            if val_loss < best[0]:
                best = (val_loss, epoch, {k: v.detach().clone() for k, v in self.params.items()})
            self.log(f"[{self.name}] epoch {epoch + 1}/{tc.max_epochs} train {train_loss:.4f} val {val_loss:.4f}")
            if tc.patience and epoch - best[1] >= tc.patience:
                self.log(f"[{self.name}] early stop: no better validation loss for {tc.patience} epochs")
                break
        with torch.no_grad():
            for k, v in best[2].items():
                self.params[k].copy_(v)
        return dict(
            best_val_loss=best[0],
            best_epoch=best[1] + 1,
            epochs=len(history),
            seconds=time.perf_counter() - t0,
            history=history,
        )

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.params.items()}


def train_user_model(
    data: HistoricalData,
    beta_c: np.ndarray,
    seed: int = 0,
    net: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    log: Callable[[str], None] = print,
    done: dict[str, dict[str, np.ndarray]] | None = None,
    on_stage: Callable[[str, dict[str, np.ndarray], dict], None] | None = None,
    only: tuple[str, ...] | None = None,
) -> tuple[LearnedUserModel | None, dict]:
    """Train P̂_f, P̂_i and P̂_c on ``data`` (slates and choices only) under the assumed choice model ``beta_c``.

    Each estimator has its own generator (seeded from ``seed`` and its index), so a run resumed from finished
    stages (``done``: estimator name → NumPy parameters) gives the same result as an uninterrupted one;
    ``on_stage(name, params, report)`` is called after each trained estimator (e.g. to checkpoint it).
    ``only``: train just these estimators (the others are skipped unless in ``done``; P̂_c needs P̂_i), so
    independent stages can run in separate processes and be assembled with ``done``; the model is then
    ``None`` unless all three are available. Returns the model (without the natural-shift table; see
    ``algorithms.natural_shift_table``) and a report of losses and wall-clock seconds per estimator.
    """
    net = net or NetworkConfig(horizon=data.horizon)
    train = train or TrainConfig()
    if net.horizon != data.horizon:
        raise ValueError(f"net.horizon must equal the data horizon {data.horizon}, got {net.horizon}")
    beta_c = np.asarray(beta_c, dtype=float)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(data, beta_c, net, train, log, int(seed), dict(done or {}), on_stage, only)
    finally:
        torch.use_deterministic_algorithms(previous)


def _stage_generator(seed: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7919 + index)


def _train(
    data: HistoricalData,
    beta_c: np.ndarray,
    net: NetworkConfig,
    train: TrainConfig,
    log: Callable[[str], None],
    seed: int,
    done: dict[str, dict[str, np.ndarray]],
    on_stage: Callable[[str, dict[str, np.ndarray], dict], None] | None,
    only: tuple[str, ...] | None,
) -> tuple[LearnedUserModel | None, dict]:
    T, n = data.horizon, data.n
    slate_vecs = data.slate_table[data.slates]  # [n, T, 36]
    log_lik = torch.tensor(observed_choice_log_lik(data, beta_c), dtype=DTYPE)  # [n, T, 36]
    full = np.full(n, T)
    causal = torch.tensor(attention_allowed(T))
    report: dict = {}
    params: dict[str, dict[str, np.ndarray]] = {}

    def run(
        name: str,
        index: int,
        loss_fn: Callable[[Mapping[str, torch.Tensor], np.ndarray, torch.Generator | None], torch.Tensor],
        on_epoch: Callable[[torch.Generator], None] | None = None,
    ) -> None:
        if name in done:
            params[name] = done[name]
            report[name] = {"resumed": True}
            log(f"[{name}] resumed from a finished stage")
            return
        if only is not None and name not in only:
            return
        stage = _Stage(name, net, train, _stage_generator(seed, index), log)
        report[name] = stage.fit(n, loss_fn, on_epoch)
        params[name] = stage.numpy_params()
        if on_stage is not None:
            on_stage(name, params[name], report[name])

    def log_beliefs(
        params: Mapping[str, torch.Tensor], tokens: torch.Tensor, gen: torch.Generator | None
    ) -> torch.Tensor:
        heads = torch_forward(params, net, tokens, causal, train.dropout, gen)
        return torch_mixture_bin_log_probs(heads, net.n_components)

    # -- P̂_f: causal, every step's choice scores the belief at that step --------------------------------
    tokens_f = torch.tensor(build_tokens(slate_vecs, data.choices, full, T), dtype=DTYPE)

    def loss_future(params: Mapping[str, torch.Tensor], idx: np.ndarray, gen: torch.Generator | None) -> torch.Tensor:
        return choice_nll(log_beliefs(params, tokens_f[idx], gen)[:, :T], log_lik[idx]).mean()

    run("future", 0, loss_future)

    # -- P̂_i: causal with x_0 hidden; the read-out at token L (L = 1..T) scores x_0 given steps 0..L−1 -------
    tokens_i = torch.tensor(build_tokens(slate_vecs, data.choices, full, T, hide_first_choice=True), dtype=DTYPE)

    def loss_initial(params: Mapping[str, torch.Tensor], idx: np.ndarray, gen: torch.Generator | None) -> torch.Tensor:
        lp = log_beliefs(params, tokens_i[idx], gen)[:, 1:]  # [b, T, 36]
        return choice_nll(lp, log_lik[idx, :1]).mean()

    run("initial", 1, loss_initial)

    # -- P̂_c: token 0 carries u_0 ~ P̂_i(u_0 | whole trajectory), redrawn every epoch ----------------------
    if only is not None and "counterfactual" not in only and "counterfactual" not in done:
        return None, report
    if "initial" not in params:
        raise ValueError("training the counterfactual estimator needs the initial estimator (train or resume it)")
    partial = LearnedUserModel(
        net, {"future": params["initial"], **params, "counterfactual": params["initial"]}, beta_c
    )
    b0 = torch.tensor(partial.initial_belief(slate_vecs, data.choices, full))
    u0 = torch.zeros(n, dtype=torch.int64)

    def draw_u0(gen: torch.Generator) -> None:  # a fresh u_0 for every trajectory at the start of each epoch
        u0[:] = torch.multinomial(b0, 1, generator=gen)[:, 0]

    def loss_counterfactual(
        params: Mapping[str, torch.Tensor], idx: np.ndarray, gen: torch.Generator | None
    ) -> torch.Tensor:
        angle = torch.tensor(THETA[u0[idx].numpy()], dtype=DTYPE)
        tokens = tokens_f[idx].clone()
        tokens[:, 0, F_CONTEXT] = torch.cos(angle)
        tokens[:, 0, F_CONTEXT + 1] = torch.sin(angle)
        return choice_nll(log_beliefs(params, tokens, gen)[:, :T], log_lik[idx]).mean()

    run("counterfactual", 2, loss_counterfactual, draw_u0)
    if any(name not in params for name in ESTIMATORS):
        return None, report
    meta = dict(seed=seed, train=dict(train.__dict__), n_train=int(n), bins=N_BINS)
    return LearnedUserModel(net, params, beta_c, None, meta), report
