"""Torch twin of ``recsim_envs.harm.model`` for GPU batches (torch imported lazily by the caller's import of this
module; ``recsim_envs`` itself never imports it).

Same equations, with autograd doing the partial derivatives. The choice given a set (``model.slate_choice``) and
the attraction map (``model.attraction_map``) are the NumPy module's own functions, which are plain array
operations and run unchanged on torch tensors; the rest is written in torch: scores, click models for the item
(k = 1) and independent-sampling classes, the map F, the stationary profile (Newton with per-user d×d Jacobians
from ``torch.func``), the IFT gradient in adjoint form — J = ∂F/∂u per user (d×d, ``vmap(jacrev)``), one batched
solve (I − J)ᵀ w = ∂f/∂u, then a single vector–Jacobian product through F for the θ-part — and, for tests, the
objective through an *unrolled* fixed-point iteration (plain autograd, the independent check of the IFT).
Tensors stay on the device of their inputs (``device="cuda"`` when available).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.func import jacrev, vmap

from recsim_envs.harm.model import attraction_map, slate_choice


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchHarmModel:
    """Catalogue + constants on one device. ``policy_class``: "item" (π over items) or "sampling" (q)."""

    def __init__(
        self,
        V: np.ndarray,
        harmful: np.ndarray,
        U0: np.ndarray,
        c: float,
        lam: float,
        alpha_harmful: float,
        alpha_benign: float,
        beta: float,
        policy_class: str = "item",
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
        s_bound: float | None = None,
        step: float = 0.4,
    ) -> None:
        if policy_class not in ("item", "sampling"):
            raise ValueError(f"policy_class must be one of ['item', 'sampling'], got {policy_class!r}")
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype
        as_t = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=self.device)  # noqa: E731
        self.V = as_t(V)
        self.U0 = as_t(U0)
        self.hmask = as_t(np.asarray(harmful, dtype=float))
        self.alpha = torch.where(self.hmask > 0, alpha_harmful, alpha_benign).to(dtype)
        self.c, self.lam, self.beta = float(c), float(lam), float(beta)
        self.policy_class = policy_class
        if policy_class == "sampling":
            bound = s_bound
            if bound is None:
                pts = torch.cat([self.U0, self.V])
                bound = float(torch.exp(pts @ self.V.T).sum(-1).max())
            t_lo, t_hi = 1e-9 / (self.c + bound), 60.0 / self.c
            z = torch.arange(math.log(t_lo), math.log(t_hi) + step, step, dtype=dtype, device=self.device)
            t = torch.exp(z)
            w = step * t
            self.t = torch.cat([torch.tensor([0.5 * t_lo], dtype=dtype, device=self.device), t])
            w = torch.cat([torch.tensor([t_lo], dtype=dtype, device=self.device), w]) * torch.exp(-self.t * self.c)
            self.w = w / (self.c * w.sum())  # exact on e^{-tc}, as the NumPy rule

    # -- choice model ---------------------------------------------------------------------------------------------
    def clicks(self, theta: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r [.., n], o [..]) — click probabilities per item and the organic probability (the click models
        ``model.ItemClickModel`` / ``model.SamplingClickModel`` in torch)."""
        if self.policy_class == "item":
            click, organic = slate_choice(s[..., None], self.c)
            return theta * click[..., 0], (theta * organic).sum(-1)
        q = theta
        ts = s[..., None] * self.t
        logphi = torch.logaddexp(torch.log1p(-q.clamp(max=1.0))[..., None], torch.log(q)[..., None] - ts)
        L = logphi.sum(-2)
        Phi_w = torch.exp(L) * self.w
        rho = torch.exp(-ts - logphi)
        o = self.c * Phi_w.sum(-1)
        r = q * s * (rho * Phi_w[..., None, :]).sum(-1)
        return r, o

    def consumption(
        self, theta: torch.Tensor, U: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(p, r, o, σ) at profiles U: consumption p = r + o σ, clicks r, organic probability o, organic choice σ."""
        s = torch.exp(U @ self.V.T)
        sig = s / s.sum(-1, keepdim=True)
        r, o = self.clicks(theta, s)
        return r + o[..., None] * sig, r, o, sig

    def objective(self, theta: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """f = pCLK − λ pH at profiles U (pH = P(consume a harmful item))."""
        p, r, o, sig = self.consumption(theta, U)
        return (1.0 - o) - self.lam * (p * self.hmask).sum(-1)

    def F(self, theta: torch.Tensor, U: torch.Tensor, U0: torch.Tensor | None = None) -> torch.Tensor:
        """F(u) = G(p(u)), the stationary map (``model.attraction_map`` at the consumption p of this model)."""
        U0 = self.U0 if U0 is None else U0
        return attraction_map(self.consumption(theta, U)[0], U0, self.V, self.alpha, self.beta)

    # -- fixed point and gradients --------------------------------------------------------------------------------
    def _jac(self, theta: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """Per-user ∂F/∂u [m, d, d] (vmap of a per-user jacrev)."""

        def F1(th: torch.Tensor, u: torch.Tensor, u0: torch.Tensor) -> torch.Tensor:
            return self.F(th[None], u[None], u0[None])[0]

        return vmap(jacrev(F1, argnums=1))(theta, U, self.U0)

    @torch.no_grad()
    def stationary_profile(
        self, theta: torch.Tensor, tol: float = 1e-10, max_iter: int = 100, U_init: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, int, torch.Tensor]:
        """Newton on u − F(u) with a plain step where Newton does not reduce the residual. Returns (U, iterations,
        residual per user)."""
        U = (self.U0 if U_init is None else U_init).clone()
        eye = torch.eye(U.shape[-1], dtype=self.dtype, device=self.device)
        res = torch.full((U.shape[0],), float("inf"), dtype=self.dtype, device=self.device)
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007
            G = self.F(theta, U) - U
            res = G.abs().amax(-1)
            if bool((res <= tol).all()):
                break
            with torch.enable_grad():
                J = self._jac(theta, U)
            step = torch.linalg.solve(eye - J, G.unsqueeze(-1)).squeeze(-1)
            cand = U + step
            rc = (self.F(theta, cand) - cand).abs().amax(-1)
            better = (rc < res) & torch.isfinite(rc)
            U = torch.where(better[:, None], cand, U + G)
        return U, it, res

    def ift_gradient(self, theta: torch.Tensor, U_bar: torch.Tensor) -> torch.Tensor:
        """∇_θ f(θ, ū(θ)) in adjoint form: J per user (d×d), batched solve, one VJP through F."""
        theta = theta.detach().requires_grad_(True)
        U = U_bar.detach().requires_grad_(True)
        f = self.objective(theta, U)
        df_du, df_dth = torch.autograd.grad(f.sum(), (U, theta))
        J = self._jac(theta.detach(), U.detach())
        eye = torch.eye(U.shape[-1], dtype=self.dtype, device=self.device)
        w = torch.linalg.solve((eye - J).transpose(-1, -2), df_du.unsqueeze(-1)).squeeze(-1)
        Fv = self.F(theta, U.detach())
        (vjp,) = torch.autograd.grad((Fv * w).sum(), theta)
        return df_dth + vjp

    def unrolled_objective(self, theta: torch.Tensor, n_steps: int = 200) -> torch.Tensor:
        """f(θ, F^N(u0)) with autograd through every step (the independent check of the IFT gradient)."""
        U = self.U0
        for _ in range(n_steps):
            U = self.F(theta, U)
        return self.objective(theta, U)
