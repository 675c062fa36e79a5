"""Where simulations run: in this process, or on a dask.distributed cluster.

Both executors offer the same two calls, used by the fit (Jacobian columns in parallel)
and by sweeps (runs streamed to disk as they finish):

* ``map(fn, items, shared)`` -> ``[fn(item, shared) for item in items]``, in order;
* ``as_completed(fn, items, shared)`` -> yields ``(index, fn(items[index], shared))`` as
  each finishes.

``shared`` is one object every call needs (the fit problem); a cluster receives it once.
:func:`open_executor` picks one: serial, a local cluster of processes (all cores by
default), or a running scheduler by address (e.g. one started by dask-jobqueue).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any


class SerialExecutor:
    """Run every call here, one after the other."""

    n_workers = 1
    shared_filesystem = True

    def map(self, fn: Callable, items: Sequence[Any], shared: Any) -> list[Any]:
        return [fn(item, shared) for item in items]

    def as_completed(
        self, fn: Callable, items: Sequence[Any], shared: Any
    ) -> Iterator[tuple[int, Any]]:
        for index, item in enumerate(items):
            yield index, fn(item, shared)

    def describe(self) -> str:
        return "serial (this process)"


class DaskExecutor:
    """Run calls as futures on a :class:`distributed.Client`.

    Parameters
    ----------
    client : distributed.Client
        Connected client.
    shared_filesystem : bool
        True if the workers see this machine's files (a local cluster, most HPC clusters):
        sweeps then let each worker store its own runs.
    """

    def __init__(self, client: Any, shared_filesystem: bool = False) -> None:
        self.client = client
        self.shared_filesystem = shared_filesystem
        self._shared: dict[int, tuple[Any, Any]] = {}

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def _share(self, shared: Any) -> Any:
        if shared is None:
            return None
        key = id(shared)
        if key not in self._shared:
            self._shared[key] = (shared, self.client.scatter(shared, broadcast=True))
        return self._shared[key][1]

    def _submit(self, fn: Callable, items: Sequence[Any], shared: Any) -> list[Any]:
        handle = self._share(shared)
        return [self.client.submit(fn, item, handle, pure=False) for item in items]

    def map(self, fn: Callable, items: Sequence[Any], shared: Any) -> list[Any]:
        return self.client.gather(self._submit(fn, items, shared))

    def as_completed(
        self, fn: Callable, items: Sequence[Any], shared: Any
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        futures = self._submit(fn, items, shared)
        index = {f.key: k for k, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield index[future.key], future.result()
                future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def describe(self) -> str:
        dashboard = getattr(self.client, "dashboard_link", None)
        shown = f"; dashboard {dashboard}" if dashboard else ""
        return f"dask cluster at {self.client.scheduler.address} ({self.n_workers} workers{shown})"


def default_workers() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_executor(
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    shared_filesystem: bool = False,
    announce: Callable[[str], Any] | None = None,
) -> Iterator[SerialExecutor | DaskExecutor]:
    """An executor for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); its workers are used.
    workers : int, optional
        Worker processes of a local cluster; default all cores. ``0`` or ``serial``: no
        cluster, everything in this process.
    serial : bool
        Run in this process.
    shared_filesystem : bool
        The workers of ``scheduler`` see this machine's files (always so for a local
        cluster).
    announce : callable, optional
        Told where a cluster is (``announce(executor.describe())``), e.g. to print it.

    A local cluster serves its dashboard on a free port (never a warning that 8787 is
    taken); :meth:`DaskExecutor.describe` says where.
    """
    if serial or (workers == 0 and scheduler is None):
        yield SerialExecutor()
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield _announced(DaskExecutor(client, shared_filesystem), announce)
        return
    n = workers or default_workers()
    _refuse_in_a_starting_worker()
    try:
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    except RuntimeError as exc:
        raise ClusterStartError(_start_failure(exc)) from None
    with cluster, Client(cluster) as client:
        yield _announced(DaskExecutor(client, shared_filesystem=True), announce)


class ClusterStartError(RuntimeError):
    """A local dask cluster whose worker processes could not start; the message names the
    usual cause (a script without ``if __name__ == "__main__":``) and the fix."""


#: the fix for a script that starts a local cluster at its top level
MAIN_GUARD_FIX = (
    'put the code that fits or sweeps under `if __name__ == "__main__":` (each dask worker '
    "process imports the script again; see docs/fitting.md), or pass workers=0 to run "
    "serially"
)


def _starting_worker() -> bool:
    """Whether this process is a worker being started by multiprocessing's spawn, still
    importing the parent's main script (where multiprocessing refuses to start more)."""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _refuse_in_a_starting_worker() -> None:
    """In a worker process that re-runs a script without a main guard: leave quietly (the
    parent explains), instead of multiprocessing's screenful of traceback per worker."""
    if _starting_worker():
        raise SystemExit(1)


def _start_failure(exc: RuntimeError) -> str:
    """One line for a local cluster that did not start."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    where = f" ({script})" if script else ""
    return (
        f"the local dask cluster's worker processes did not start ({exc}); if this runs "
        f"from a script{where}, {MAIN_GUARD_FIX}"
    )


def _announced(executor: DaskExecutor, announce: Callable[[str], Any] | None) -> DaskExecutor:
    if announce is not None:
        announce(executor.describe())
    return executor


__all__ = [
    "ClusterStartError",
    "DaskExecutor",
    "SerialExecutor",
    "default_workers",
    "open_executor",
]
