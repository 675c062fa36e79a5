"""``caitlab landscape``: a thin command over :func:`caitlab.landscape.study.run_landscape`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from caitlab.cli._app import app, run_reporting_errors, writing


@app.command("landscape")
def landscape_command(
    config: Annotated[Path, typer.Argument(help="Fit file (FIT.toml) with a landscape section.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "landscape-out"
    ),
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=0, help="Worker processes (0: serial, in this process)."
        ),
    ] = 0,
    figures: Annotated[bool, typer.Option(help="Write dn.png, psed.png, weight.png.")] = True,
    progress: Annotated[
        bool, typer.Option(help="Show the model being fitted, simulations, elapsed time.")
    ] = True,
) -> None:
    """Free-form D(n), the populated site-energy distribution and model selection."""

    def body() -> None:
        from caitlab.landscape.study import run_landscape, table_text

        with writing(out, "caitlab landscape"):
            typer.echo(f"reading the landscape off {config} ...", err=True)
            bar, update = _landscape_progress(disable=not progress)
            with bar:
                data = run_landscape(config, out, workers=workers, figures=figures, progress=update)
        for target in data["targets"]:
            typer.echo(table_text(target))
        typer.echo(f"{data['wall_time_s']:.1f} s; wrote {out}")

    run_reporting_errors(body)


def _landscape_progress(disable: bool = False) -> tuple[Any, Callable[[int, int, str], None]]:
    """A rich bar on stderr: models fitted of all, the one being fitted with its simulations
    so far, elapsed time."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("landscape"),
        BarColumn(),
        TextColumn("{task.fields[what]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=disable,
    )
    task = bar.add_task("landscape", total=None, what="reading the data")

    def update(step: int, steps: int, what: str) -> None:
        bar.update(task, total=steps, completed=step, what=f"{step}/{steps} models; {what}")

    return bar, update
