"""Command-line interface: a thin layer over the Python API.

Each area registers its commands on the shared Typer ``app`` in its own module:
``run`` (simulation: run, check, example, plot), ``sims`` (profiles: sims, compare),
``fitting`` (fit, sweep), ``pictures`` (video, report, figures) and ``export`` (CSV).
"""

from __future__ import annotations

import gc
import importlib
import sys

from caitlab.cli._app import app

_COMMAND_MODULES = ("run", "sims", "fitting", "pictures", "export", "landscape")

#: commands that may run for hours (many simulations in one process): they keep the cyclic
#: garbage collector
_LONG_RUNNING = frozenset({"fit", "sweep", "landscape"})


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"caitlab.cli.{name}")


def main() -> None:
    """Entry point of the ``caitlab`` console script.

    The process ends after the command: its objects are left to the operating system
    (:func:`gc.freeze`), since the interpreter's final garbage collections walk numba's and
    LLVM's object graphs for ~0.2 s after a run. Files are closed and synced by then.
    A bounded command (one run, a check, a figure) also runs without the cyclic collector:
    its arrays are freed by reference counting, and the collections it would trigger only
    walk the start-up objects of numba, LLVM and pydantic (~0.1 s of a 1 s ``caitlab run``).
    """
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")
    if command not in _LONG_RUNNING:
        gc.disable()
    _register_commands()
    try:
        app()
    finally:
        gc.freeze()


__all__ = ["app", "main"]
