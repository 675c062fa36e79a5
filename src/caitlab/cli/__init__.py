"""Command-line interface: a thin layer over the Python API.

Each area registers its commands on the shared Typer ``app`` in its own module:
``run`` (simulation: run, check, example, plot), ``sims`` (profiles: sims, compare),
``fitting`` (fit, sweep), ``pictures`` (video, report, figures) and ``export`` (CSV).
"""

from __future__ import annotations

import gc
import importlib

from caitlab.cli._app import app

_COMMAND_MODULES = ("run", "sims", "fitting", "pictures", "export", "landscape")


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"caitlab.cli.{name}")


def main() -> None:
    """Entry point of the ``caitlab`` console script.

    The process ends after the command: its objects are left to the operating system
    (:func:`gc.freeze`), since the interpreter's final garbage collections walk numba's and
    LLVM's object graphs for ~0.2 s after a run. Files are closed and synced by then.
    """
    _register_commands()
    try:
        app()
    finally:
        gc.freeze()


__all__ = ["app", "main"]
