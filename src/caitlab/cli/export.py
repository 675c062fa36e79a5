"""``caitlab export``: a saved result as CSV files (fractions per stage, traces)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caitlab.cli._app import app, fail, run_reporting_errors, writing


@app.command("export")
def export_command(
    result_dir: Annotated[Path, typer.Argument(help="Result folder (with result.nc) or a .nc.")],
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Folder for the CSV files (fractions_<stage>.csv, traces.csv)."),
    ] = None,
) -> None:
    """Write a result as CSV: fraction vs depth (nm) per stage, and I(t), Q(t), φ_s(t)."""
    if csv is None:
        fail("give --csv DIR (the folder for the CSV files)")

    def body() -> None:
        from caitlab.cli.pictures import _derived, result_folder
        from caitlab.export import export_csv
        from caitlab.results import open_result

        with writing(csv, "caitlab export", option="--csv", result_dir=result_folder(result_dir)):
            result = open_result(result_dir)
            paths = export_csv(result, csv)
            _derived(result_dir, result, paths)
        for path in paths:
            typer.echo(f"wrote {path}")

    run_reporting_errors(body)


__all__ = ["export_command"]
