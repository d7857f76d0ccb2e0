"""Running a compiled per-user kernel on one thread or split over numba's threads.

The batched cores update each user independently, so a kernel written for users ``lo..hi`` can run serially
over all of them or in chunks on numba's thread pool with identical results. :func:`run_chunked` picks:
parallel from ``parallel_from`` users on when numba has more than one thread (``NUMBA_NUM_THREADS`` /
``numba.set_num_threads``; set it to 1 when many env processes share the cores) and the pool is free, serial
otherwise. numba's default thread pool (workqueue) must not be entered by two Python threads at once, so a
second caller that finds it busy runs serially instead of waiting or crashing.

Threading layer: unless ``NUMBA_THREADING_LAYER`` is set, importing this module selects numba's built-in
``workqueue`` layer (numba would otherwise prefer GNU OpenMP where present, which terminates any process that
forks after using it — e.g. gymnasium's ``AsyncVectorEnv`` or a ``fork`` multiprocessing pool created after an
oracle env has stepped). The choice applies to the whole process and only before its first parallel kernel.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numba
import numpy as np
from numba import get_num_threads

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

#: users per work unit of the parallel kernels (``prange`` over chunks of this many users)
CHUNK = 32
_POOL = threading.Lock()


def run_chunked(
    serial: Callable[..., object],
    parallel: Callable[..., object],
    n: int,
    *args: np.ndarray,
    parallel_from: int = 128,
) -> None:
    """``parallel(*args)`` (which splits ``range(n)`` into chunks of :data:`CHUNK` itself) when ``n`` ≥
    ``parallel_from`` and threads are available, else ``serial(0, n, *args)``."""
    if n >= parallel_from and get_num_threads() > 1 and _POOL.acquire(blocking=False):
        try:
            parallel(*args)
        finally:
            _POOL.release()
    else:
        serial(0, n, *args)
