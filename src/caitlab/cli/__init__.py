"""Command-line interface: a thin layer over the Python API.

Each area registers its commands on the shared Typer ``app`` in its own module:
``run`` (simulation: run, check, example, plot), ``sims`` (profiles: sims, compare),
``fitting`` (fit, sweep) and ``pictures`` (video, report, figures).
"""

from __future__ import annotations

import importlib

from caitlab.cli._app import app

_COMMAND_MODULES = ("run", "sims", "fitting", "pictures", "landscape")


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"caitlab.cli.{name}")
        except ModuleNotFoundError as exc:  # an area not built yet
            if exc.name != f"caitlab.cli.{name}":
                raise


def main() -> None:
    """Entry point of the ``caitlab`` console script."""
    _register_commands()
    app()


__all__ = ["app", "main"]
