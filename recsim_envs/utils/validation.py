"""Argument validation with errors that name the parameter, the value and the allowed range.

Scalar checks (``check_real``, ``check_int``, ``check_choice``, ``check_bool``), arrays (``check_array``), paths
(``check_path``), discrete actions (``check_discrete_actions``) and declarative parameter specs (``Real``,
``Int``, ``Choice``, ``Bool``, ``Array``, ``Path``, ``OneOf``, ``Maybe``, ``Device``). Each family keeps one table
``{name: spec}`` of its ``make`` kwargs; its config validates with it and ``tests/test_property_registry.py``
draws values from it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    if not any(_is_option(value, option) for option in allowed):
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def _is_option(value: Any, option: Any) -> bool:
    """``value`` equals ``option`` and has a matching kind: 1 is not True, "1" is not 1, arrays match nothing."""
    if option is None or value is None:
        return value is option
    if isinstance(option, (bool, np.bool_)):
        return isinstance(value, (bool, np.bool_)) and bool(value) == bool(option)
    if isinstance(option, str) or isinstance(value, str):
        return isinstance(value, str) and isinstance(option, str) and value == option
    if isinstance(value, (bool, np.bool_)) or not np.isscalar(value):
        return False
    try:
        return bool(value == option)
    except (TypeError, ValueError):
        return False


def check_array(
    name: str,
    value: Any,
    shape: tuple[int, ...] | None = None,
    low: float = -math.inf,
    high: float = math.inf,
) -> np.ndarray:
    """Return ``value`` as a finite float64 array of ``shape`` with entries in ``[low, high]``."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}") from exc
    if raw.dtype.kind not in "iuf":  # strings, booleans, objects (None, huge ints) are not silently converted
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}")
    arr = raw.astype(np.float64)
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


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool; only ``True``/``False`` (or numpy booleans) pass, never 0/1, strings or None."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_path(name: str, value: Any, kind: str = "file", optional: bool = False) -> str | None:
    """Return ``value`` (a ``str`` or ``os.PathLike``) as a string if it names an existing ``kind`` ("file" or
    "dir"); ``None`` passes only when ``optional``."""
    if value is None and optional:
        return None
    what = f"a path to an existing {'directory' if kind == 'dir' else 'file'}" + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    path = os.fspath(value)
    if not (os.path.isdir(path) if kind == "dir" else os.path.isfile(path)):
        raise ValueError(f"{name} must be {what}, got {value!r} (not found)")
    return path


def check_discrete_actions(
    name: str, actions: Any, n: int, shape: tuple[int, ...] = (), what: str = "index"
) -> np.ndarray:
    """Actions of a ``Discrete(n)`` space (batched: ``shape`` = (num_envs,)) as an int64 array of ``shape``.

    One rule for single and vector envs: integers, or floats with an integral value, in [0, n − 1]. Booleans,
    strings, NaN/inf, fractional values and integers beyond int64 are refused with ``ValueError``.
    """
    rng = f"an integer {what} in [0, {n - 1}]"
    try:
        a = np.asarray(actions)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be {rng}, got {actions!r}") from exc
    if a.shape != shape and not (shape == () and a.shape == (1,)):
        raise ValueError(f"{name} must have shape {shape} ({rng} each), got shape {a.shape}")
    a = a.reshape(shape)
    if isinstance(actions, (list, tuple)) and any(
        isinstance(x, (bool, np.bool_)) for x in np.asarray(actions, dtype=object).ravel()
    ):  # [0, True] would silently become [0, 1]
        raise ValueError(f"{name} must be {rng}, got {actions!r}")
    if a.dtype.kind in "iu":
        bad = (a < 0) | (a >= n)
    elif a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.floor(a)) | (a < 0) | (a >= n)
    else:
        raise ValueError(f"{name} must be {rng}, got {actions!r}")
    if np.any(bad):
        raise ValueError(f"{name} must be {rng}, got {actions!r}")
    return a.astype(np.int64)


# ---- declarative parameter specs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Real:
    """A finite real in [low, high] (bounds optionally exclusive)."""

    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True
    high_inclusive: bool = True

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> float:
        return check_real(
            name, value, self.low, self.high, low_inclusive=self.low_inclusive, high_inclusive=self.high_inclusive
        )


@dataclass(frozen=True)
class Int:
    """An integer in [low, high]; ``high_ref`` names another parameter whose value + ``high_offset`` also bounds
    it from above (``degree`` ≤ ``n_nodes`` − 1), resolved from ``context``."""

    low: int | None = None
    high: int | None = None
    high_ref: str | None = None
    high_offset: int = 0

    def upper(self, context: Mapping[str, Any] | None = None) -> int | None:
        if self.high_ref is None or context is None or self.high_ref not in context:
            return self.high
        dep = int(context[self.high_ref]) + self.high_offset
        return dep if self.high is None else min(self.high, dep)

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> int:
        return check_int(name, value, self.low, self.upper(context))


@dataclass(frozen=True)
class Choice:
    """One of ``options``."""

    options: tuple

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> Any:
        return check_choice(name, value, self.options)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (numpy booleans too)."""

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> bool:
        return check_bool(name, value)


@dataclass(frozen=True)
class Array:
    """A finite float array of ``shape`` with entries in [low, high]."""

    shape: tuple[int, ...]
    low: float = -math.inf
    high: float = math.inf

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> np.ndarray:
        return check_array(name, value, self.shape, self.low, self.high)


@dataclass(frozen=True)
class Path:
    """An existing file or directory (``kind``), or None when ``optional``."""

    kind: str = "file"
    optional: bool = False

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> str | None:
        return check_path(name, value, self.kind, self.optional)


@dataclass(frozen=True)
class OneOf:
    """A preset name (``choice``) or an explicit value (``other``), e.g. ``beta_c``: "two_bumps" or 36 floats."""

    choice: Choice
    other: Any

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> Any:
        if isinstance(value, str):
            return self.choice.check(name, value, context)
        return self.other.check(name, value, context)


@dataclass(frozen=True)
class Maybe:
    """``None`` (the documented "not set" value) or a value accepted by ``inner``."""

    inner: Any

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> Any:
        return None if value is None else self.inner.check(name, value, context)


@dataclass(frozen=True)
class Device:
    """``None`` (the NumPy path) or a torch device this machine has: 'cpu', 'cuda' or 'cuda:N' (canonical form
    returned: 'cpu', 'cuda:N'). torch is imported only for a non-``None`` value."""

    def check(self, name: str, value: Any, context: Mapping[str, Any] | None = None) -> str | None:
        if value is None:
            return None
        allowed = "None, 'cpu', 'cuda' or 'cuda:N' (a CUDA device this machine has)"
        if not isinstance(value, str):
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        import torch

        try:
            dev = torch.device(value)
        except RuntimeError as e:
            raise ValueError(f"{name} must be {allowed}, got {value!r} ({e})") from None
        if dev.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if (dev.index or 0) >= count:
                raise ValueError(f"{name}={value!r}: this machine has {count} CUDA device(s) usable by torch")
            return f"cuda:{dev.index or 0}"
        if dev.type != "cpu":
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        return "cpu"


def check_params(values: Mapping[str, Any], specs: Mapping[str, Any]) -> dict[str, Any]:
    """Check every ``values[name]`` that has a spec in ``specs`` (in table order, so an ``Int.high_ref`` sees
    the already-checked value it refers to); returns the converted values."""
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in values:
            out[name] = spec.check(name, values[name], {**values, **out})
    return out
