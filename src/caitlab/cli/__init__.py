"""Command-line interface: a thin layer over the Python API.

Each area registers its commands on the shared Typer ``app`` in its own module:
``run`` (simulation: run, check, example, plot), ``sims`` (profiles: sims, compare),
``fitting`` (fit, sweep), ``pictures`` (video, report, figures) and ``export`` (CSV).
"""

from __future__ import annotations

import importlib

from caitlab.cli._app import app

_COMMAND_MODULES = ("run", "sims", "fitting", "pictures", "export")


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"caitlab.cli.{name}")


def main() -> None:
    """Entry point of the ``caitlab`` console script."""
    _register_commands()
    app()


__all__ = ["app", "main"]
