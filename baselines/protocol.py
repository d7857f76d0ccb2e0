"""The Policy protocol shared by baselines, plugged-in agents and the leaderboard (CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Policy(Protocol):
    """Anything with ``act(obs, info) -> action``; ``reset(seed)`` is called at each episode start if present.

    ``obs``/``info`` are what a single env returns. Batched (vector-env) policies may also accept stacked
    observations; the leaderboard only relies on the single-env form.
    """

    def act(self, obs: Any, info: dict[str, Any]) -> Any: ...


def reset_policy(policy: Any, seed: int | None = None) -> None:
    """Call ``policy.reset(seed)`` when the policy defines it (it is optional in the protocol)."""
    reset = getattr(policy, "reset", None)
    if callable(reset):
        reset(seed)
