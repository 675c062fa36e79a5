"""The shared Typer application that every command module registers on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import typer

app = typer.Typer(
    name="caitlab",
    help="Simulate, read, fit and show CAIT (charge attachment induced transport) experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from caitlab._version import __version__

        typer.echo(f"caitlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the caitlab version and exit."),
) -> None:
    """Simulate, read, fit and show CAIT (charge attachment induced transport) experiments."""


def fail(message: object, code: int = 2) -> NoReturn:
    """Print one clear message to stderr and exit with ``code`` (no traceback)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def run_reporting_errors(action: Callable[[], Any]) -> Any:
    """Run a command body: bad input (ValueError, OSError, KeyError) becomes one message on
    stderr and exit code 2. caitlab's own input errors (ConfigError, SimsError, ...) are
    ValueErrors that name the field, file, line or column and what to do.
    """
    try:
        return action()
    except KeyError as exc:
        fail(exc.args[0] if exc.args else exc)
    except (ValueError, OSError) as exc:
        fail(exc)
