"""One way to run a sweep's tasks: in this process, in a local process pool, or on a Ray cluster.

Every sweep script (``benchmarks.leaderboard``, ``benchmarks.reproduce_*``, ``benchmarks.harm_agents``) splits its
work into *tasks*: small picklable specs (plain tuples / dataclasses of ids, names, seeds and settings — never a
lambda or a live environment) and one module-level function ``fn(spec) -> dict`` that computes a result row from a
spec. :func:`run_tasks` runs ``fn`` on every spec with the chosen backend and yields a :class:`TaskResult` per task
*in the driver*, as tasks complete. The driver alone writes the row store (``benchmarks.store.SettingsStore``), so
kill-and-resume behaves the same on every backend: a row is on disk once its task finished, never twice.

Backends (``--executor``):

- ``serial``: a plain loop in the driver (no extra process; what the tests patch and debug).
- ``process``: a ``concurrent.futures.ProcessPoolExecutor`` with ``workers`` spawned processes on this machine.
- ``ray``: one Ray task per spec (``num_cpus=1`` each, spread over the nodes). ``ray_address=None`` starts (or
  joins) a local Ray instance; ``"auto"`` joins the cluster this machine belongs to (``ray start --head`` / ``ray start
  --address``); any other value is passed to ``ray.init(address=...)``. Every node must be able to import the
  project (install it on each node, or run from a shared checkout with ``PYTHONPATH`` set).

Ray is optional (``pip install -e ".[ray]"``); it is imported only when the ``ray`` backend is chosen.

Failures: a task whose ``fn`` raises is retried once (``retries=1``); if it fails again a :class:`TaskResult`
with ``error`` set (exception type and message) is yielded, and the sweep goes on. A ``KeyboardInterrupt`` (or a
killed driver) stops the sweep: rows already yielded and stored stay, the rest are recomputed on restart.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.store import RowStore, settings_hash

EXECUTORS = ("serial", "process", "ray")


@dataclass
class TaskResult:
    """The outcome of one task: ``value`` (what ``fn`` returned) or ``error`` (after ``attempts`` tries)."""

    spec: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1
    seconds: float = 0.0  # wall time of the last attempt, measured where it ran

    @property
    def ok(self) -> bool:
        return self.error is None


def add_executor_args(
    parser: argparse.ArgumentParser,
    default: str = "serial",
    workers: int | None = 2,
    worker_aliases: tuple[str, ...] = (),
) -> None:
    """The shared CLI flags: ``--executor``, ``--ray-address`` and ``--workers`` (unless ``workers`` is None;
    ``worker_aliases`` are other spellings of ``--workers`` a script kept, e.g. ``--jobs``). Read them back with
    :func:`executor_options`."""
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=default,
        help=f"where tasks run: serial (this process), process (local pool), ray (Ray cluster); default {default}",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="with --executor ray: cluster address; 'auto' joins the running cluster, unset starts a local Ray",
    )
    if workers is not None:
        parser.add_argument(
            "--workers", *worker_aliases, dest="workers", type=int, default=workers,
            help="processes for --executor process (an integer ≥ 1)",
        )  # fmt: skip


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`run_tasks` / :func:`run_into_store` chosen by :func:`add_executor_args`'s
    flags (``workers`` defaults to 2 where a script has no ``--workers``)."""
    workers = getattr(args, "workers", 2)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer in [1, inf), got {workers!r}")
    return {"executor": args.executor, "workers": workers, "ray_address": args.ray_address}


def _importable(fn: Callable) -> Callable:
    """``fn`` as another process can import it: a function of a script run as ``python -m pkg.mod`` lives in
    ``__main__``, which a worker cannot import; look it up in ``pkg.mod`` instead."""
    if getattr(fn, "__module__", None) == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is not None and spec.name not in ("__main__", None):
            return getattr(importlib.import_module(spec.name), fn.__qualname__)
    return fn


def _timed_call(fn: Callable[[Any], Any], spec: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(spec)
    return value, time.perf_counter() - start


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 2000 else text[:2000] + " …"


def _ray_init(address: str | None):
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
        if address is not None:
            kwargs["address"] = address
        ray.init(**kwargs)
    return ray


def _serial(fn, specs, retries) -> Iterator[TaskResult]:
    for spec in specs:
        error = None
        for attempt in range(1, retries + 2):
            try:
                value, seconds = _timed_call(fn, spec)
            except Exception as exc:  # noqa: BLE001  (a task's failure is recorded, the sweep goes on)
                error = _describe(exc)
                traceback.print_exc(file=sys.stderr)
                continue
            yield TaskResult(spec, value, None, attempt, seconds)
            break
        else:
            yield TaskResult(spec, None, error, retries + 1)


def _process(fn, specs, retries, workers) -> Iterator[TaskResult]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if workers < 1:
        raise ValueError(f"workers must be an integer in [1, inf), got {workers!r}")
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    pending = {pool.submit(_timed_call, fn, spec): (spec, 1) for spec in specs}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                spec, attempt = pending.pop(fut)
                try:
                    value, seconds = fut.result()
                except Exception as exc:  # noqa: BLE001
                    if attempt <= retries:
                        pending[pool.submit(_timed_call, fn, spec)] = (spec, attempt + 1)
                    else:
                        yield TaskResult(spec, None, _describe(exc), attempt)
                    continue
                yield TaskResult(spec, value, None, attempt, seconds)
    finally:  # normal end, or the driver stops (Ctrl-C): drop the queued tasks rather than wait for them
        pool.shutdown(wait=not pending, cancel_futures=True)


def _ray(fn, specs, retries, address) -> Iterator[TaskResult]:
    ray = _ray_init(address)
    # max_retries covers a dead worker process; application errors are retried here, once, like the other backends.
    # SPREAD: a sweep's tasks are independent and CPU-bound, so use every node rather than filling the head first.
    remote = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=False, scheduling_strategy="SPREAD")(_timed_call)
    fn_ref = ray.put(fn)
    pending = {remote.remote(fn_ref, spec): (spec, 1) for spec in specs}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                spec, attempt = pending.pop(ref)
                try:
                    value, seconds = ray.get(ref)
                except Exception as exc:  # noqa: BLE001  (RayTaskError wraps the task's exception)
                    if attempt <= retries:
                        pending[remote.remote(fn_ref, spec)] = (spec, attempt + 1)
                    else:
                        cause = getattr(exc, "cause", None)
                        yield TaskResult(spec, None, _describe(cause if cause is not None else exc), attempt)
                    continue
                yield TaskResult(spec, value, None, attempt, seconds)
    finally:
        for ref in pending:  # the driver stops (kill, Ctrl-C): do not leave tasks running on the cluster
            ray.cancel(ref, force=True)


def run_tasks(
    fn: Callable[[Any], Any],
    specs: Iterable[Any],
    *,
    executor: str = "serial",
    workers: int = 2,
    ray_address: str | None = None,
    retries: int = 1,
    desc: str = "tasks",
    progress: bool = True,
    describe: Callable[[Any], str] = repr,
) -> Iterator[TaskResult]:
    """Run ``fn(spec)`` for every spec on ``executor``; yield each :class:`TaskResult` as its task completes.

    ``fn`` must be a module-level function and every spec picklable (they travel to other processes / nodes).
    One progress bar counts completed tasks (failures in its postfix); each failure is also printed to stderr
    with ``describe(spec)`` and its error.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer in [0, inf), got {retries!r}")
    specs = list(specs)
    if executor == "serial":
        results = _serial(fn, specs, retries)
    elif executor == "process":
        results = _process(_importable(fn), specs, retries, workers)
    else:
        results = _ray(_importable(fn), specs, retries, ray_address)
    bar = None
    if progress and specs:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(specs), desc=desc, file=sys.stderr)
        except ImportError:
            bar = None
    failed = 0
    try:
        for res in results:
            if not res.ok:
                failed += 1
                print(f"task {describe(res.spec)} failed after {res.attempts} attempts: {res.error}", file=sys.stderr)
            if bar is not None:
                bar.update(1)
                if failed:
                    bar.set_postfix_str(f"{failed} failed")
            yield res
    finally:
        if bar is not None:
            bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()


def run_into_store(
    fn: Callable[[Any], dict],
    specs: Iterable[Any],
    store: RowStore,
    *,
    failures_path: str | Path | None = None,
    on_row: Callable[[dict], None] | None = None,
    **kwargs: Any,
) -> list[TaskResult]:
    """:func:`run_tasks`, adding each returned row to ``store`` (a ``benchmarks.store.SettingsStore``) in the driver.

    A task that failed twice is recorded in ``failures_path`` (JSON lines: the spec, its error, when), not in
    ``store``, so a restarted sweep tries it again. Returns the failed results.
    """
    failed = []
    failures = RowStore(failures_path, ("task", "failed_at")) if failures_path is not None else None
    for res in run_tasks(fn, specs, **kwargs):
        if res.ok:
            store.add(res.value)
            if on_row is not None:
                on_row(res.value)
            continue
        failed.append(res)
        if failures is not None:
            failures.add(
                {"task": repr(res.spec), "error": res.error, "attempts": res.attempts, "failed_at": time.time()}
            )
    if failed:
        where = f" (recorded in {failures_path})" if failures_path is not None else ""
        print(f"{len(failed)} tasks failed{where}; rerun the same command to retry them", file=sys.stderr)
    return failed


def run_missing(
    fn: Callable[[Any], dict],
    specs: Iterable[Any],
    settings_of: Callable[[Any], dict[str, Any]],
    store: RowStore,
    **kwargs: Any,
) -> list[Any]:
    """The resumable sweep: :func:`run_into_store` on the specs whose settings (``settings_of(spec)``) have no row
    in ``store`` (a ``benchmarks.store.SettingsStore``); returns the specs that were run."""
    todo = [spec for spec in specs if not store.has(settings_hash=settings_hash(settings_of(spec)))]
    run_into_store(fn, todo, store, **kwargs)
    return todo


__all__ = [
    "EXECUTORS",
    "TaskResult",
    "add_executor_args",
    "executor_options",
    "run_into_store",
    "run_missing",
    "run_tasks",
]
