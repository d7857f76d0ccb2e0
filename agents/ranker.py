"""A trained GNN ranking network (:mod:`agents.gnn`) as a batched policy on raw coop env observations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch as th

from agents.gnn import GNNRankingPolicy, graph_tensors, masked_logits


class LearnedRanker:
    """A :class:`~agents.gnn.GNNRankingPolicy`'s network as a batched policy for raw env observations.

    ``act(obs, info)`` takes one observation dict or a stacked batch (as a gymnasium vector env returns it) of
    any graph size and returns node indices: the masked argmax (``deterministic=True``) or a sample drawn with a
    ``torch.Generator`` seeded by ``reset(seed)``. Every call appends the chosen nodes' strategy and degree
    (in node-feature units, see ``degree_scale``) to ``chosen_strategy`` / ``chosen_degree``.
    """

    batched = True

    def __init__(self, policy: GNNRankingPolicy, deterministic: bool = True, seed: int = 0) -> None:
        if not isinstance(policy, GNNRankingPolicy):
            raise ValueError(f"policy must be a GNNRankingPolicy, got {type(policy).__name__}")
        self.net = policy.net.eval()
        self.keys = policy.graph_keys
        self.allow_decline = bool(getattr(policy, "allow_decline", False))
        self.deterministic = bool(deterministic)
        self.generator = th.Generator().manual_seed(int(seed))
        self.chosen_strategy: list[np.ndarray] = []
        self.chosen_degree: list[np.ndarray] = []

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.generator.manual_seed(int(seed))

    def clear_stats(self) -> None:
        self.chosen_strategy, self.chosen_degree = [], []

    @th.no_grad()
    def probabilities(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Masked action probabilities ``[B, N]`` of a raw observation batch."""
        return th.softmax(self._logits(obs)[0], dim=-1).numpy()

    def _logits(self, obs: dict[str, np.ndarray]) -> tuple[th.Tensor, th.Tensor, bool]:
        single = np.asarray(obs[self.keys.nodes]).ndim == 2
        batch = {
            k: th.as_tensor(np.asarray(v))[None] if single else th.as_tensor(np.asarray(v)) for k, v in obs.items()
        }
        g = graph_tensors(batch, self.keys)
        f = self.net.config.node_features
        if g.x.shape[-1] > f:  # e.g. competition: [strategy, degree, one-hot recommender] -> the trained columns
            g = g._replace(x=g.x[..., :f])
        mask = g.mask
        if self.allow_decline:  # the focused node itself = "no new link" (a masked action the env skips)
            mask = mask | (th.arange(mask.shape[1]).unsqueeze(0) == g.focus.unsqueeze(1))
        return masked_logits(self.net.scores(g), mask), g.x, single

    @th.no_grad()
    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> int | np.ndarray:
        logits, x, single = self._logits(obs)
        if self.deterministic:
            action = logits.argmax(dim=-1)
        else:
            action = th.multinomial(th.softmax(logits, dim=-1), 1, generator=self.generator).squeeze(-1)
        rows = th.arange(x.shape[0])
        self.chosen_strategy.append(x[rows, action, 0].numpy().copy())
        self.chosen_degree.append(x[rows, action, 1].numpy().copy())
        a = action.numpy()
        return int(a[0]) if single else a


def load_ranker(path: str | Path, deterministic: bool = True, seed: int = 0) -> LearnedRanker:
    """A :class:`LearnedRanker` from a saved MaskablePPO ``.zip`` (or a run directory holding ``model.zip``)."""
    from sb3_contrib import MaskablePPO

    path = Path(path)
    if path.is_dir():
        path = path / "model.zip"
    if not path.exists():
        raise ValueError(f"path {str(path)!r} does not exist")
    model = MaskablePPO.load(path, device="cpu")
    return LearnedRanker(model.policy, deterministic=deterministic, seed=seed)  # type: ignore[arg-type]  # checked inside


__all__ = ["LearnedRanker", "load_ranker"]
