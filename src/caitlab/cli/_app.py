"""The shared Typer application that every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="caitlab",
    help="Simulate, read, fit and show CAIT (charge attachment induced transport) experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
