"""The shared Typer application that every command module registers on."""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, NoReturn

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
    stderr and exit code 2; an output that could not be written (a full disk:
    :class:`caitlab.storage.OutputWriteError`) one message and exit code 1; a numeric
    failure (ZeroDivisionError, OverflowError, FloatingPointError, MemoryError) or a
    damaged file (BadZipFile) one message and exit code 3. caitlab's own input errors
    (ConfigError, SimsError, ...) are ValueErrors that name the field, file, line or
    column and what to do.
    """
    from caitlab.storage import OutputWriteError

    try:
        return action()
    except OutputWriteError as exc:
        fail(exc, code=1)
    except KeyError as exc:
        fail(exc.args[0] if exc.args else exc)
    except NUMERIC_ERRORS as exc:
        fail(_numeric_message(exc), code=3)
    except UnicodeError as exc:
        fail(f"{exc}: a file is not UTF-8 text; save it as UTF-8")
    except (ValueError, OSError) as exc:
        fail(exc)


@contextlib.contextmanager
def writing(
    path: Path,
    command: str,
    *,
    kind: Literal["folder", "file"] = "folder",
    option: str = "--out",
    result_dir: Path | None = None,
) -> Iterator[Path]:
    """Check an output path, then hold its folder: the one writer there.

    Every command that writes calls this before it reads or computes anything: the path is
    checked (:func:`caitlab.storage.check_output`: a file where a folder is asked, a folder
    that cannot be written) and the lock of the output folder (a file's own folder) taken
    (:func:`caitlab.storage.folder_lock`); a second writer fails at once, naming the owner.
    Where the output lies inside ``result_dir`` (pictures drawn into a result's folder),
    that folder is held too: its list of derived files is written by this command.
    """
    from caitlab.storage import check_output, folder_lock

    check_output(path, kind=kind, option=option)
    folder = path if kind == "folder" else (path.parent if str(path.parent) else Path("."))
    with contextlib.ExitStack() as stack:
        stack.enter_context(folder_lock(folder, command))
        if result_dir is not None and result_dir.is_dir() and _inside(folder, result_dir):
            stack.enter_context(folder_lock(result_dir, command))
        yield path


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents
