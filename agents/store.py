"""Atomic, resumable result files: the primitives shared by training (``agents``) and the sweeps (``benchmarks``).

- :func:`atomic_write_text` (from :mod:`recsim_envs.utils.files`): write a file via a temporary sibling and an
  atomic rename (``os.replace``), so a run killed at any moment leaves either the old or the new file.
- :class:`RowStore`: JSON rows in a JSON-lines file, identified by ``key_fields``; every :meth:`RowStore.add`
  rewrites the file atomically, and a restarted run asks :meth:`RowStore.has` for each unit of work and skips
  the ones already recorded: nothing is lost and nothing is duplicated (the coop learning curves use it).
- :func:`settings_hash` / :func:`settings_row` / :func:`train_settings`: resumable work is keyed by a hash of
  *every* setting that changes a result, and each row keeps those settings.

The settings-keyed store of the sweeps and their CSV output live next to their users, in ``benchmarks.store``.
Rows in a file that lack the store's key fields (written by an older version) are kept in the file but never
matched, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsim_envs.utils.files import atomic_write_text

#: the key field of settings-keyed stores
SETTINGS_HASH = "settings_hash"


def _plain(x: Any) -> Any:
    """JSON-able form of a settings value (paths as strings, numpy scalars/arrays as Python values)."""
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def settings_hash(settings: dict[str, Any]) -> str:
    """Short stable hash of a settings dict (key order irrelevant; tuples and lists hash alike)."""
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict, got {type(settings).__name__}")
    text = json.dumps(_plain(settings), sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def settings_row(settings: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the settings that produced it (``settings``) and their hash (the store key)."""
    return {**result, "settings": _plain(settings), SETTINGS_HASH: settings_hash(settings)}


def train_settings(config: Any) -> dict[str, Any]:
    """The result-changing part of an ``agents.train.TrainConfig`` (everything but the thread count)."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(config).items() if k != "n_threads"}


class RowStore:
    """Rows keyed by ``key_fields``, persisted atomically after every addition."""

    def __init__(self, path: str | Path, key_fields: Sequence[str]):
        if not key_fields:
            raise ValueError("key_fields must name at least one field")
        self.path = Path(path)
        self.key_fields = tuple(key_fields)
        self.rows: list[dict[str, Any]] = []
        self._keys: set[tuple] = set()
        self.unmatched: list[dict[str, Any]] = []  # rows without the key fields: kept on disk, never matched
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    if any(k not in row for k in self.key_fields):
                        self.unmatched.append(row)
                        continue
                    key = self.key(row)
                    if key not in self._keys:
                        self._keys.add(key)
                        self.rows.append(row)
        if self.unmatched:
            print(
                f"{self.path}: {len(self.unmatched)} rows lack the key fields {list(self.key_fields)} (written by an "
                "older version): kept in the file, not reused",
                file=sys.stderr,
            )

    def key(self, row: dict[str, Any]) -> tuple:
        missing = [k for k in self.key_fields if k not in row]
        if missing:
            raise ValueError(f"row is missing key fields {missing}: {row!r}")
        return tuple(json.dumps(row[k], sort_keys=True) for k in self.key_fields)

    def has(self, **key: Any) -> bool:
        return self.key(key) in self._keys

    def add(self, row: dict[str, Any]) -> bool:
        """Record ``row`` (JSON-able) unless its key is already present; return whether it was added."""
        row = json.loads(json.dumps(row))  # JSON-able now, not at the next read
        key = self.key(row)
        if key in self._keys:
            return False
        self._keys.add(key)
        self.rows.append(row)
        lines = (json.dumps(r, sort_keys=True) + "\n" for r in [*self.unmatched, *self.rows])
        atomic_write_text(self.path, "".join(lines))
        return True

    def __len__(self) -> int:
        return len(self.rows)


__all__ = [
    "SETTINGS_HASH",
    "RowStore",
    "atomic_write_text",
    "settings_hash",
    "settings_row",
    "train_settings",
]
