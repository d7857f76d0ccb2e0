"""Carvalho (2021) Table 4 presets for the RL task (kept import-light: the registry reads them)."""

from __future__ import annotations

from typing import Any

#: N → (N, β, k, elementary steps per episode)
TABLE4_PRESETS: dict[int, dict[str, Any]] = {
    10: {"n_nodes": 10, "beta": 0.1, "degree": 4, "max_steps": 1000},
    30: {"n_nodes": 30, "beta": 0.05, "degree": 8, "max_steps": 3000},
    100: {"n_nodes": 100, "beta": 0.005, "degree": 28, "max_steps": 10000},
    500: {"n_nodes": 500, "beta": 0.005, "degree": 30, "max_steps": 30000},
}
