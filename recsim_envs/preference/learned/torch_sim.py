"""The learned simulator's network step on a torch device (``device="cuda"`` or ``"cpu"`` in ``make``).

:class:`TorchEncoderStack` has the interface of ``network.IncrementalEncoder`` (a stack of estimators stepped
together; token embedding and positions from ``network.EncoderStack``) but runs the encoder in torch, float64,
on any device: each sequence's embedded inputs are kept on the device ([E, n, T+1, d]) and a step re-runs the
causal encoder over the appended sequences' whole (at most T + 1 = 11 token) histories, reading each at its
newest position, then the von Mises read-out. On a GPU this costs the same kernel launches as a one-token pass,
so no key/value cache is kept. The layers are ``transformer.torch_encode``, the training network's own code, so
the numbers equal the NumPy runner's to float rounding (tested). Needs torch (a core dependency).
"""

from __future__ import annotations

import numpy as np
import torch

from recsim_envs.preference.learned.network import EncoderStack, NetworkConfig, attention_allowed
from recsim_envs.preference.learned.transformer import torch_encode, torch_mixture_bin_log_probs
from recsim_envs.preference.world import N_BINS


class TorchEncoderStack(EncoderStack):
    """E estimators stepped together on ``device`` (see the module docstring)."""

    def __init__(self, params: dict[str, np.ndarray] | list[dict[str, np.ndarray]], cfg: NetworkConfig, n: int,
                 device: str) -> None:  # fmt: skip
        super().__init__(params, cfg, n)
        self.device = torch.device(device)
        self.tparams = [
            {k: torch.as_tensor(v, dtype=torch.float64, device=self.device) for k, v in p.items()} for p in self.params
        ]
        self.inputs = torch.zeros(
            (len(self.params), n, cfg.horizon + 1, cfg.d_model), dtype=torch.float64, device=self.device
        )
        self.allowed = torch.as_tensor(attention_allowed(cfg.horizon), device=self.device)

    @torch.no_grad()
    def _run(self, x: np.ndarray, index: np.ndarray, pos: np.ndarray, beliefs: bool) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        n_est, m = len(self.params), index.shape[0]
        length = int(pos.max()) + 1 if m else 1
        rows_t = torch.as_tensor(index, device=self.device)
        pos_t = torch.as_tensor(pos, device=self.device)
        self.inputs[:, rows_t, pos_t] = torch.as_tensor(x, device=self.device)
        heads = torch.empty((n_est, m, 3 * cfg.n_components), dtype=torch.float64, device=self.device)
        at = torch.arange(m, device=self.device)
        for e in range(n_est):
            seq = self.inputs[e, rows_t, :length]  # [m, L, d]; later positions are masked by causality
            heads[e] = torch_encode(self.tparams[e], cfg, seq, self.allowed[:length, :length])[at, pos_t]
        if not beliefs:
            return heads.cpu().numpy(), np.empty((n_est, 0, N_BINS))
        probs = torch.exp(torch_mixture_bin_log_probs(heads, cfg.n_components))
        both = torch.cat([heads, probs], dim=-1).cpu().numpy()  # one transfer
        return both[..., : heads.shape[-1]], both[..., heads.shape[-1] :]
