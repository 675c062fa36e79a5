"""Commands for simulations: ``run``, ``check``, ``example`` and ``plot``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from caitlab.cli._app import app, fail, run_reporting_errors, writing
from caitlab.examples import example_names, example_path


def _load(config: str):
    from caitlab.config import ConfigError, load_experiment

    if not Path(config).exists() and config not in example_names():
        fail(
            f"no config file {config!r}; give a TOML file or a built-in example "
            f"({', '.join(example_names())})"
        )
    try:
        return load_experiment(config)
    except ConfigError as exc:
        fail(str(exc))


@app.command("check")
def check(
    config: Annotated[str, typer.Argument(help="Experiment TOML file.")],
    show: Annotated[
        bool,
        typer.Option(
            help="Print the full config, every default spelled out, each number with its "
            "unit (e.g. '2.325 mm', '94.46 h')."
        ),
    ] = False,
) -> None:
    """Validate CONFIG and explain every problem."""
    from caitlab.config import experiment_to_toml

    experiment = _load(config)
    if show:
        sys.stdout.write(experiment_to_toml(experiment))
        return
    stages = ", ".join(f"{s.name} ({s.duration / 3600:g} h)" for s in experiment.stages)
    typer.echo(f"{config}: OK: {len(experiment.stages)} stage(s): {stages}")


@app.command("example")
def example(
    name: Annotated[str | None, typer.Argument(help="Example name; omit to list.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print or write a built-in example config (``double-cait`` is the paper's case)."""
    if name is None:
        from caitlab.examples import example_description

        width = max(len(known) for known in example_names())
        for known in example_names():
            typer.echo(f"{known:<{width}}  {example_description(known)}")
        return
    if name not in example_names():
        fail(f"no example {name!r}; examples: {', '.join(example_names())}")
    text = example_path(name).read_text()
    if out is None:
        sys.stdout.write(text)
    else:
        from caitlab.storage import write_atomic

        with writing(out, "caitlab example", kind="file"):
            write_atomic(out, lambda tmp: tmp.write_text(text))
        typer.echo(f"wrote {out}")


@app.command("run")
def run(
    config: Annotated[str, typer.Argument(help="Experiment TOML file or example name.")],
    out: Annotated[Path, typer.Option(help="Result directory.")] = Path("runs/latest"),
    frames: Annotated[
        int | None, typer.Option(help="Save this many snapshots per stage (for videos).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Also draw the figures into OUT/figures.")] = False,
    video: Annotated[
        bool,
        typer.Option(
            help="Also write OUT/evolution.mp4 (saves 60 frames per stage unless the "
            "config or --frames asks for others)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run an experiment; write OUT/result.nc and OUT/summary.json atomically.

    OUT is checked and locked before the run (one caitlab writer per folder: a second one
    fails at once); files drawn from an earlier result in OUT (figures, overview.png, CSV,
    the video) are removed when the new result is saved.
    """
    with writing(out, "caitlab run"):
        _run_into(config, out, frames, plots, video, quiet)


def _run_into(
    config: str, out: Path, frames: int | None, plots: bool, video: bool, quiet: bool
) -> None:
    from caitlab._progress import progress_bars
    from caitlab.experiment import OutputOptions
    from caitlab.solver import ConvergenceError

    experiment = _load(config)
    if video and frames is None and experiment.output.frames == 0:
        frames = 60
    if frames is not None:
        experiment = experiment.with_(
            output=OutputOptions(times=experiment.output.times, frames=frames)
        )
    with progress_bars(disable=quiet) as observer:
        try:
            result = experiment.run(observer)
        except ConvergenceError as exc:
            fail(str(exc), code=3)
    bad = result.non_finite_fields()
    if bad:
        fail(f"the run gave non-finite numbers ({', '.join(bad)}); nothing was saved", code=3)
    run_reporting_errors(lambda: result.save(out))
    _print_summary(result.summary(), out)
    if plots:
        _derived(out, result, _draw(result, out))
        _draw_all(result, out / "figures")
    if video:
        from caitlab.video import write_video

        path = run_reporting_errors(lambda: write_video(result, out / "evolution.mp4"))
        _derived(out, result, [path])
        typer.echo(f"wrote {path}")


def _derived(folder: Path, result, paths: list[Path]) -> None:
    """List ``paths`` as drawn from ``result`` in its folder (removed by the next run)."""
    from caitlab.storage import record_derived

    record_derived(folder, result.run_id, paths)


def _draw_all(result, out_dir: Path) -> None:
    from caitlab import plot

    paths = plot.save_figures(plot.standard_figures(result), out_dir)
    _derived(out_dir.parent, result, paths)
    typer.echo(f"wrote {len(paths)} figures to {out_dir}")


def _compiled(seconds: float) -> str:
    """`` (+ 14.2 s compiling the solver, first run only)`` where the run compiled."""
    return f" (+ {seconds:.1f} s compiling the solver, first run only)" if seconds >= 0.5 else ""


def _print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{summary['name']}: {summary['n_cells']} cells, "
        f"{summary['n_steps']} steps, {summary['wall_time_s']:.2f} s"
        + _compiled(summary.get("compile_time_s", 0.0))
    )
    for column in ("stage", "charge / mC", "surface / V", "conservation", "steps"):
        table.add_column(column, justify="right")
    for stage in summary["stages"]:
        table.add_row(
            stage["name"],
            f"{stage['charge_C'] * 1e3:.4f}",
            f"{stage['surface_potential_end_V']:.3f}",
            f"{stage['conservation_rel_error']:.1e}",
            str(stage["n_steps"]),
        )
    console = Console()
    console.print(table)
    # not through rich: the line is never wrapped (scripts read the run id off it)
    typer.echo(f"wrote {out / 'result.nc'} and {out / 'summary.json'} (run {summary['run_id']})")


def _draw(result, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from caitlab import plot
    from caitlab.storage import write_atomic

    written = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    plot.profiles(result, ax=axes[0])
    plot.current_charge(result, ax=axes[1])
    path = Path(out_dir) / "overview.png"
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=150, format="png"))
    plt.close(fig)
    written.append(path)
    typer.echo(f"wrote {path}")
    return written


@app.command("plot")
def plot_command(
    result_dir: Annotated[Path, typer.Argument(help="Directory with result.nc.")],
    out: Annotated[
        Path | None, typer.Option(help="Directory for the PNG (default: RESULT_DIR).")
    ] = None,
) -> None:
    """Draw the profiles at the end of each stage and current/charge vs time to PNG."""
    from caitlab.cli.pictures import result_folder
    from caitlab.results import open_result

    target = out or result_folder(result_dir)
    with writing(target, "caitlab plot", result_dir=result_folder(result_dir)):
        result = run_reporting_errors(lambda: open_result(result_dir))
        _derived(result_folder(result_dir), result, _draw(result, target))
