"""The shared Typer application that every command module registers on."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

#: failures of arithmetic or of a damaged file, wherever they escape: exit code 3
NUMERIC_ERRORS = (ArithmeticError, MemoryError, zipfile.BadZipFile, EOFError)


def _numeric_message(exc: BaseException) -> str:
    detail = str(exc) or "no details"
    if isinstance(exc, MemoryError):
        detail = "out of memory (a mesh, frame count or duration too large?)"
    return (
        f"{type(exc).__name__}: {detail}; a value of the input is probably out of "
        "range or a stored file is damaged"
    )


class _ReportingGroup(TyperGroup):
    """Every command runs through :func:`run_reporting_errors`: one line, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        return run_reporting_errors(lambda: super(_ReportingGroup, self).invoke(ctx))


app = typer.Typer(
    name="caitlab",
    help="Simulate, read, fit and show CAIT (charge attachment induced transport) experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_ReportingGroup,
)


def _print_version(value: bool) -> None:
    if value:
        from caitlab._version import __version__

        typer.echo(f"caitlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the caitlab version and exit.",
    ),
) -> None:
    """Simulate, read, fit and show CAIT (charge attachment induced transport) experiments."""


def fail(message: object, code: int = 2) -> NoReturn:
    """Print one clear message to stderr and exit with ``code`` (no traceback)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def run_reporting_errors(action: Callable[[], Any]) -> Any:
    """Run a command body: bad input (ValueError, OSError, KeyError) becomes one message on
    stderr and exit code 2; a numeric failure (ZeroDivisionError, OverflowError,
    FloatingPointError, MemoryError) or a damaged file (BadZipFile) one message and exit
    code 3. caitlab's own input errors (ConfigError, SimsError, ...) are ValueErrors that
    name the field, file, line or column and what to do.
    """
    try:
        return action()
    except KeyError as exc:
        fail(exc.args[0] if exc.args else exc)
    except NUMERIC_ERRORS as exc:
        fail(_numeric_message(exc), code=3)
    except UnicodeError as exc:
        fail(f"{exc}: a file is not UTF-8 text; save it as UTF-8")
    except (ValueError, OSError) as exc:
        fail(exc)
