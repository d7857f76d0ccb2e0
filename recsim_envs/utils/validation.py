"""Argument validation with errors that name the parameter, the value and the allowed range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def check_real(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the interval, or raise ``ValueError`` naming it."""
    lo_b = "[" if low_inclusive else "("
    hi_b = "]" if high_inclusive else ")"
    rng = f"{lo_b}{low}, {high}{hi_b}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number in {rng}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number in {rng}, got {value!r}")
    if v < low or v > high or (v == low and not low_inclusive) or (v == high and not high_inclusive):
        raise ValueError(f"{name} must be in {rng}, got {value!r}")
    return v


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int inside ``[low, high]``, or raise ``ValueError`` naming it."""
    rng = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
    return v


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_array(
    name: str,
    value: Any,
    shape: tuple[int, ...] | None = None,
    low: float = -math.inf,
    high: float = math.inf,
) -> np.ndarray:
    """Return ``value`` as a finite float64 array of ``shape`` with entries in ``[low, high]``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}") from exc
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers, got {value!r}")
    if np.any(arr < low) or np.any(arr > high):
        raise ValueError(f"{name} entries must be in [{low}, {high}], got min {arr.min()}, max {arr.max()}")
    return arr


def check_num_envs(num_envs: Any) -> int:
    """``num_envs`` of a native vector env: an integer ≥ 1."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer in [1, inf), got {num_envs!r}")
    return int(num_envs)


def check_render_mode(render_mode: Any, modes: Iterable[str]) -> str | None:
    """``render_mode``: one of the env's ``metadata["render_modes"]`` or None."""
    modes = list(modes)
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be one of {modes} or None, got {render_mode!r}")
    return render_mode
