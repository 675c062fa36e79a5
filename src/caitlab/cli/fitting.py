"""``caitlab fit`` and ``caitlab sweep``: thin commands over :mod:`caitlab.fit` and
:mod:`caitlab.sweep`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from caitlab.cli._app import app, run_reporting_errors, writing

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running dask scheduler, e.g. "
        "tcp://host:8786 (default: a local cluster).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=0,
        help="Worker processes of the local cluster "
        "(default: all cores; 0: serial, in this process).",
    ),
]


def _announce(where: str) -> None:
    typer.echo(f"running on a {where}", err=True)


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body; bad input becomes one message and exit code 2."""
    return run_reporting_errors(action)


@app.command("fit")
def fit_command(
    config: Annotated[Path, typer.Argument(help="Fit file (FIT.toml).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("fit-out"),
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    progress: Annotated[bool, typer.Option(help="Show evaluations, best χ², elapsed time.")] = True,
) -> None:
    """Fit experiment parameters to measured profiles (writes fit.json, report.txt, best/)."""

    def body() -> None:
        with writing(out, "caitlab fit"):
            fit_into()

    def fit_into() -> None:
        from caitlab.fit.config import load_fit_config, run_fit_config
        from caitlab.fit.report import parameter_lines, shown, uncertainty_notes

        load_fit_config(config)  # refuse a bad file before any progress display
        typer.echo(f"fitting {config} ...", err=True)
        options: dict[str, Any] = {
            "scheduler": scheduler,
            "workers": workers,
            "announce": _announce,
        }
        if progress:
            bar, update = _fit_progress()
            with bar:
                result = run_fit_config(config, out, progress=update, **options)
        else:
            result = run_fit_config(config, out, **options)
        data = result.to_dict()
        for line in parameter_lines(data):
            typer.echo(line)
        for line in uncertainty_notes(data):
            typer.echo(line, err=True)
        typer.echo(
            f"reduced chi-square {shown(data['redchi'], '.4g')}; "
            f"{data['n_simulations']} simulations ({data['n_failed']} failed) "
            f"in {data['wall_time_s']:.1f} s; wrote {out}"
        )
        if not data["success"]:
            typer.echo(f"warning: the fit did not converge: {data['message']}", err=True)

    _run(body)


def _fit_progress() -> tuple[Any, Callable[[int, float, float], None]]:
    """A rich live line: simulations evaluated, best chi-square so far, elapsed time."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("fit: {task.fields[n]} evaluations, best χ² {task.fields[best]}"),
        TimeElapsedColumn(),
    )
    task = bar.add_task("fit", total=None, n=0, best="–")

    def update(evaluations: int, best: float, elapsed_s: float) -> None:
        bar.update(task, n=evaluations, best=f"{best:.6g}")

    return bar, update


def _progress_bar() -> tuple[Any, Callable[[int, int, int], None]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("sweep"),
        BarColumn(),
        TextColumn(
            "{task.fields[done]} done, {task.fields[failed]} failed, "
            "{task.fields[remaining]} remaining"
        ),
        TimeElapsedColumn(),
    )
    task = bar.add_task("sweep", total=None, done=0, failed=0, remaining=0)

    def update(done: int, failed: int, remaining: int) -> None:
        bar.update(
            task,
            total=done + remaining,
            completed=done,
            done=done,
            failed=failed,
            remaining=remaining,
        )

    return bar, update


@app.command("sweep")
def sweep_command(
    config: Annotated[Path, typer.Argument(help="Sweep file (SWEEP.toml).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output folder (default: <file stem>-sweep beside the file); reused to resume.",
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    shared_fs: Annotated[
        bool,
        typer.Option(
            "--shared-fs",
            help="The --scheduler workers see the output folder: they store their runs themselves.",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run a grid, random or Latin-hypercube design of runs; resumable."""

    def body() -> None:
        from caitlab.sweep import default_sweep_folder

        target = out if out is not None else default_sweep_folder(config)
        with writing(target, "caitlab sweep"):
            sweep_into(target)

    def sweep_into(out: Path) -> None:
        from caitlab.sweep import load_sweep_config, run_sweep_config

        load_sweep_config(config)  # refuse a bad file before any progress bar
        options: dict[str, Any] = {
            "scheduler": scheduler,
            "workers": workers,
            "shared_filesystem": shared_fs,
            "announce": _announce,
        }
        if progress:
            bar, update = _progress_bar()
            with bar:
                outcome = run_sweep_config(config, out, progress=update, **options)
        else:
            outcome = run_sweep_config(config, out, **options)
        for path in outcome.cleaned:
            typer.echo(f"removed {path}: left by a process that is gone", err=True)
        for key, reason in outcome.recomputed.items():
            typer.echo(f"recomputed run {key}: {reason}", err=True)
        typer.echo(
            f"{outcome.n_points} points, {outcome.n_runs} runs: {outcome.n_computed} computed, "
            f"{outcome.n_reused} already stored, {outcome.n_failed} failed, "
            f"{len(outcome.recomputed)} recomputed after a failed check; "
            f"{outcome.runs_per_second:.2f} runs/s on {outcome.executor}; "
            f"wrote {outcome.directory / 'table.csv'}"
        )

    _run(body)
