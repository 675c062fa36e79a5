"""The solver's one-time numba compilation: a note while it happens, its time measured.

numba compiles the solver's kernels the first time a process needs them and caches them
on disk (``cache=True``); with a cold cache that takes ~15 s, with a warm one loading takes
well under a second. :func:`compile_watch` listens to numba's events during a run: the
first compilation of the process prints one line on stderr, and the time spent in numba's
compiler (compiling or loading from the cache) is counted, so that a run's
``wall_time_s`` leaves it out and ``compile_time_s`` reports it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from numba.core import event

#: the line printed when numba starts compiling for the first time in a process
NOTE = "compiling the solver (first run only, ~15 s; cached on disk for later runs)…"

#: whether :data:`NOTE` was printed in this process
_announced = False


class CompileClock(event.Listener):
    """Seconds spent in numba's compiler (outermost ``numba:compiler_lock`` events) since
    it was made; a numba event listener."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0
        self._start = 0.0

    def on_start(self, ev: Any) -> None:
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def on_end(self, ev: Any) -> None:
        if self._depth > 0:
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - self._start


class _Announcer(event.Listener):
    """Prints :data:`NOTE` on stderr when numba starts its first compilation here."""

    def on_start(self, ev: Any) -> None:
        global _announced
        if not _announced:
            _announced = True
            print(NOTE, file=sys.stderr, flush=True)

    def on_end(self, ev: Any) -> None:
        pass


@contextmanager
def compile_watch() -> Iterator[CompileClock]:
    """While in the block: a note on stderr at the process's first numba compilation, and
    a :class:`CompileClock` of the time spent in numba's compiler."""
    clock = CompileClock()
    with ExitStack() as stack:
        stack.enter_context(event.install_listener("numba:compiler_lock", clock))
        stack.enter_context(event.install_listener("numba:compile", _Announcer()))
        yield clock


__all__ = ["NOTE", "CompileClock", "compile_watch"]
