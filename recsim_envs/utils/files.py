"""Atomic file writes: every file the package, the agents and the benchmarks write (caches, checkpoints, data,
row stores, reports) goes through :func:`atomic_write`, so a killed run leaves either the old file or the new one,
never a truncated one."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` (same folder, so the rename stays on one file
    system), then rename it onto ``path`` with ``os.replace``; the temporary file is removed if ``write`` fails.
    Creates the parent folder. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically, flushed to disk before the rename."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent))


def atomic_save_npz(path: str | os.PathLike, compressed: bool = False, **arrays: Any) -> Path:
    """Write an ``.npz`` of ``arrays`` atomically (``np.savez_compressed`` when ``compressed``)."""
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda tmp: save(tmp, **arrays), suffix=".npz")


__all__ = ["atomic_save_npz", "atomic_write", "atomic_write_json", "atomic_write_text"]
