"""The sweeps' result store: rows keyed by the hash of every setting that changes them, and CSV output.

Every resumable sweep (``benchmarks.leaderboard``, every ``benchmarks.reproduce_*``, ``benchmarks.harm_agents``)
keeps its rows in a :class:`SettingsStore`: a JSON-lines file whose rows carry the settings that produced them
and their :func:`~agents.store.settings_hash` (see :func:`~agents.store.settings_row`). A run with other settings
never mistakes another experiment's rows for its own; a killed run restarts and computes only the rows whose
settings are missing. The file is rewritten atomically after every row (``agents.store.RowStore``), and only
the driver writes it (``benchmarks.executor.run_into_store``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agents.store import SETTINGS_HASH, RowStore, atomic_write_text, settings_hash, settings_row, train_settings


class SettingsStore(RowStore):
    """A :class:`~agents.store.RowStore` keyed by ``settings_hash`` (rows made by :func:`settings_row`)."""

    def __init__(self, path: str | Path):
        super().__init__(path, (SETTINGS_HASH,))

    def has_settings(self, settings: dict[str, Any]) -> bool:
        return self.has(**{SETTINGS_HASH: settings_hash(settings)})

    def rows_for(self, settings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The stored rows of ``settings`` (in store order; settings without a row are left out)."""
        wanted = {settings_hash(s) for s in settings}
        return [r for r in self.rows if r[SETTINGS_HASH] in wanted]

    def row(self, settings: dict[str, Any]) -> dict[str, Any] | None:
        """The row of ``settings``, or None."""
        digest = settings_hash(settings)
        return next((r for r in self.rows if r[SETTINGS_HASH] == digest), None)


def rows_to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text of flat rows (``columns`` default: union of keys in first-seen order)."""
    rows = list(rows)
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k, "") for k in columns})
    return buf.getvalue()


__all__ = [
    "SETTINGS_HASH",
    "RowStore",
    "SettingsStore",
    "atomic_write_text",
    "rows_to_csv",
    "settings_hash",
    "settings_row",
    "train_settings",
]
