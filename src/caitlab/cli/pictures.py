"""``caitlab video``, ``caitlab report`` and ``caitlab figures``: pictures of a saved result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from caitlab.cli._app import app, run_reporting_errors
from caitlab.results import open_result


class PictureError(ValueError):
    """A problem with the command's inputs, reported as one line."""


def parse_charge(text: str) -> float:
    """A charge with its unit (``"2.52 mC"``) in C."""
    from caitlab.units import to_canonical

    try:
        return to_canonical(text, "charge", units_required=True)
    except ValueError:
        raise PictureError(f"--charge {text!r}: give a number and a unit, e.g. '2.52 mC'"
                           ) from None


def _depth_nm(text: str | None) -> float | None:
    if text is None:
        return None
    from caitlab.units import to_canonical

    try:
        value = to_canonical(text, "length", units_required=True)
    except ValueError as exc:
        raise PictureError(f"--depth-max: {exc}") from None
    if not value > 0:
        raise PictureError(f"--depth-max must be positive, got {text!r}")
    return value * 1e9


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body (figures off-screen); bad input becomes one message, exit 2."""
    import matplotlib

    matplotlib.use("Agg")
    return run_reporting_errors(action)


ResultArg = Annotated[Path, typer.Argument(help="Result folder (with result.nc) or a .nc file.")]
DepthOpt = Annotated[
    str | None, typer.Option("--depth-max", help="Right end of the depth axis, e.g. '100 nm'.")
]
ChargeOpt = Annotated[
    list[str] | None,
    typer.Option("--charge", help="Measured charge of a stage, in stage order, e.g. "
                 "--charge '2.52 mC' --charge '2.28 mC'."),
]


@app.command("video")
def video_command(
    result_dir: ResultArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="MP4 file (or .gif).")] = Path(
        "evolution.mp4"),
    fps: Annotated[float, typer.Option(help="Frames per second.", min=0.1)] = 20.0,
    frames: Annotated[
        int | None, typer.Option(help="Resample to N frames (default: the saved snapshots).",
                                 min=2)
    ] = None,
    depth_max: DepthOpt = None,
    log: Annotated[bool, typer.Option("--log", help="Logarithmic fraction axis.")] = False,
    dpi: Annotated[int, typer.Option(help="Resolution (100: 800 x 480 pixels).", min=20)] = 100,
) -> None:
    """Video of all normalised densities across all stages, with clock, stage and charge."""

    def body() -> None:
        from caitlab.video import write_video

        result = open_result(result_dir)
        n_saved = result.data.sizes["time"]
        if frames is None and n_saved < 10:
            typer.echo(f"note: only {n_saved} saved states; run with --frames 60 (caitlab run) "
                       "or resample here with --frames N", err=True)
        written = write_video(result, out, fps=fps, frames=frames,
                              depth_max_nm=_depth_nm(depth_max),
                              log=log, dpi=dpi)
        typer.echo(f"wrote {written} ({frames or n_saved} frames at {fps:g} fps)")

    _run(body)


@app.command("report")
def report_command(
    result_dir: ResultArg,
    fit: Annotated[
        Path | None, typer.Option("--fit", help="Fit folder with fit.json (and samples.npy, "
                                  "sweep.csv/.nc if any).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file.")] = Path("report.html"),
    charge: ChargeOpt = None,
    dpi: Annotated[int, typer.Option(help="Resolution of the embedded figures.", min=20)] = 110,
) -> None:
    """One self-contained HTML page: inputs, summary tables, all figures, the fit."""

    def body() -> None:
        from caitlab.report import write_report

        result = open_result(result_dir)
        charges = [parse_charge(c) for c in charge] if charge else None
        written = write_report(result, out, fit_dir=fit, measured_charges=charges, dpi=dpi)
        typer.echo(f"wrote {written}")

    _run(body)


@app.command("figures")
def figures_command(
    result_dir: ResultArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNGs.")] = Path(
        "figures"),
    charge: ChargeOpt = None,
    dpi: Annotated[int, typer.Option(help="Resolution of the PNGs.", min=20)] = 150,
) -> None:
    """Write every figure of a result as PNG into OUT."""

    def body() -> None:
        from caitlab.plot import save_figures, standard_figures

        result = open_result(result_dir)
        charges = [parse_charge(c) for c in charge] if charge else None
        for path in save_figures(standard_figures(result, measured_charges=charges), out, dpi=dpi):
            typer.echo(f"wrote {path}")

    _run(body)


__all__ = ["figures_command", "parse_charge", "report_command", "video_command"]
