"""``caitlab video``, ``caitlab report`` and ``caitlab figures``: pictures of a saved result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from caitlab.cli._app import app, run_reporting_errors, writing


class PictureError(ValueError):
    """A problem with the command's inputs, reported as one line."""


def parse_charge(text: str) -> float:
    """A charge with its unit (``"2.52 mC"``) in C."""
    from caitlab.units import to_canonical

    try:
        return to_canonical(text, "charge", units_required=True)
    except ValueError:
        raise PictureError(f"--charge {text!r}: give a number and a unit, e.g. '2.52 mC'") from None


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


def load_measured(
    data: list[Path] | None,
    stage: list[str] | None,
    rms: str | None,
    min_depth: str | None = None,
    surface: str | None = None,
) -> list[Any]:
    """Measured profiles from ``--data FILE --stage NAME`` pairs, read as FIT.toml's
    ``[[profiles]]`` are (:class:`caitlab.fit.config.ProfileSpec`, a fraction table; ``rms``
    and ``surface`` are their response and surface treatment); a ``--data`` that is a TOML
    file (a FIT.toml) gives all its ``[[profiles]]`` instead, each with its own response and
    ``surface``, and no ``--stage`` of its own."""
    tables = [p for p in data or [] if p.suffix.lower() != ".toml"]
    stage = list(stage or [])
    if len(tables) != len(stage):
        raise PictureError(
            f"give one --stage for each --data table ({len(tables)} --data, "
            f"{len(stage)} --stage), e.g. --data stage1.csv --stage Rb-CAIT"
        )
    specs: list[tuple[str, dict[str, Any], Path]] = []
    for k, (path, name) in enumerate(zip(tables, stage)):
        spec: dict[str, Any] = {
            "stage": name,
            "file": str(path),
            "min_depth": min_depth,
            "name": f"{name}-{k + 1}" if stage.count(name) > 1 else None,
            "surface": surface,
        }
        if rms is not None:
            spec["response"] = {"model": "gaussian", "rms": rms}
        specs.append((f"--data {path}", spec, Path.cwd()))
    for path in (p for p in data or [] if p.suffix.lower() == ".toml"):
        from caitlab.fit.config import read_toml

        raw = read_toml(path)
        entries = raw.get("profiles") or []
        if not entries:
            raise PictureError(f"--data {path}: no [[profiles]] in the file")
        specs += [
            (f"--data {path}: profiles[{k}]", entry, path.resolve().parent)
            for k, entry in enumerate(entries)
        ]
    return [_load_profile(where, spec, base) for where, spec, base in specs]


def _load_profile(where: str, spec: dict[str, Any], base: Path) -> Any:
    """One profile spec validated as FIT.toml's (units required) and loaded."""
    from caitlab.config import ConfigError
    from caitlab.fit.config import ProfileSpec, validate

    spec = {k: v for k, v in spec.items() if v is not None}
    try:
        return validate(ProfileSpec, spec, where).load(base)
    except ConfigError as exc:
        raise PictureError(f"{where}: {'; '.join(exc.problems)}") from None
    except (ValueError, OSError) as exc:
        raise PictureError(f"{where}: {exc}") from None


def load_electrometer(path: Path | None) -> Any:
    """The electrometer log of ``--electrometer FILE`` (None if not given)."""
    if path is None:
        return None
    from caitlab.electrometer import read_electrometer

    try:
        return read_electrometer(path)
    except OSError as exc:
        raise PictureError(f"--electrometer {path}: {exc.strerror or exc}") from None


def _check_stages(result: Any, profiles: list[Any]) -> None:
    for p in profiles:
        if p.stage not in result.stage_names:
            raise PictureError(
                f"--stage {p.stage!r}: no such stage in the run; use one of {result.stage_names}"
            )


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body (figures off-screen); bad input becomes one message, exit 2."""
    import matplotlib

    matplotlib.use("Agg")
    return run_reporting_errors(action)


def _run_writing(
    action: Callable[[], Any], out: Path, command: str, result_dir: Path, kind: Any = "folder"
) -> Any:
    """:func:`_run` with ``out`` checked and its folder held first (before the result is
    read or anything drawn); the result's folder too where ``out`` lies in it."""

    def held() -> Any:
        with writing(out, command, kind=kind, result_dir=result_folder(result_dir)):
            return action()

    return _run(held)


def result_folder(path: Path) -> Path:
    """The folder of a result argument (a folder, or its ``.nc`` file)."""
    return path.parent if path.suffix == ".nc" else path


def _derived(result_dir: Path, result: Any, paths: list[Path]) -> None:
    """List ``paths`` (those inside the result's folder) as drawn from ``result``: the
    next result saved there removes them."""
    from caitlab.storage import record_derived

    record_derived(result_folder(result_dir), result.run_id, paths)


ResultArg = Annotated[Path, typer.Argument(help="Result folder (with result.nc) or a .nc file.")]
DepthOpt = Annotated[
    str | None, typer.Option("--depth-max", help="Right end of the depth axis, e.g. '100 nm'.")
]
DataOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--data",
        help="Measured profile (fraction table: depth_nm, one column per "
        "species, optional <species>_sigma), as FIT.toml's [[profiles]] file; "
        "repeat, each with its --stage. A FIT.toml gives all its [[profiles]].",
    ),
]
StageOpt = Annotated[
    list[str] | None,
    typer.Option("--stage", help="Stage after which the matching --data was measured."),
]
RmsOpt = Annotated[
    str | None,
    typer.Option(
        "--rms",
        help="Gaussian response of the --data profiles, "
        "e.g. '5 nm' (the model is broadened with it).",
    ),
]
SurfaceOpt = Annotated[
    str | None,
    typer.Option(
        "--surface",
        help="How the response of the --data tables treats the surface: reflect "
        "(default), extend or truncate, as a fit's 'surface'; a FIT.toml's profiles "
        "bring their own.",
    ),
]
ElectrometerOpt = Annotated[
    Path | None,
    typer.Option(
        "--electrometer",
        help="Electrometer log: CSV/TSV with units in the header, "
        "e.g. 'time [s], current [nA]' (and/or 'charge [mC]').",
    ),
]
ChargeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--charge",
        help="Measured charge of a stage, in stage order, e.g. "
        "--charge '2.52 mC' --charge '2.28 mC'.",
    ),
]


@app.command("video")
def video_command(
    result_dir: ResultArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="MP4 file (or .gif).")] = Path(
        "evolution.mp4"
    ),
    fps: Annotated[float, typer.Option(help="Frames per second.", min=0.1)] = 20.0,
    frames: Annotated[
        int | None,
        typer.Option(
            help="Resample to N frames (default: the saved snapshots, "
            "resampled to 60 when fewer were saved).",
            min=2,
        ),
    ] = None,
    depth_max: DepthOpt = None,
    log: Annotated[bool, typer.Option("--log", help="Logarithmic fraction axis.")] = False,
    dpi: Annotated[int, typer.Option(help="Resolution (100: 800 x 480 pixels).", min=20)] = 100,
    data: DataOpt = None,
    stage: StageOpt = None,
    rms: RmsOpt = None,
    electrometer: ElectrometerOpt = None,
) -> None:
    """Video of all normalised densities across all stages, with clock, stage and charge."""

    def body() -> None:
        from caitlab.results import open_result
        from caitlab.video import default_frames, has_frames, rerun_with_frames, write_video

        stored = result = open_result(result_dir)
        measured = load_measured(data, stage, rms)
        _check_stages(result, measured)
        log_data = load_electrometer(electrometer)
        if not has_frames(result):
            result, note = rerun_with_frames(result)
            typer.echo(f"note: {note}", err=True)
        n_frames = frames or default_frames(result)
        if n_frames is not None and frames is None:
            typer.echo(
                f"note: only {result.data.sizes['time']} saved states; resampled to "
                f"{n_frames} frames",
                err=True,
            )
        written = write_video(
            result,
            out,
            fps=fps,
            frames=n_frames,
            depth_max_nm=_depth_nm(depth_max),
            log=log,
            dpi=dpi,
            measured=measured,
            electrometer=log_data,
        )
        _derived(result_dir, stored, [written])
        shown = n_frames or result.data.sizes["time"]
        typer.echo(f"wrote {written} ({shown} frames at {fps:g} fps)")

    _run_writing(body, out, "caitlab video", result_dir, kind="file")


@app.command("report")
def report_command(
    result_dir: ResultArg,
    fit: Annotated[
        Path | None,
        typer.Option(
            "--fit", help="Fit folder with fit.json (and samples.npy, sweep.csv/.nc if any)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file.")] = Path("report.html"),
    charge: ChargeOpt = None,
    dpi: Annotated[int, typer.Option(help="Resolution of the embedded figures.", min=20)] = 110,
    data: DataOpt = None,
    stage: StageOpt = None,
    rms: RmsOpt = None,
    surface: SurfaceOpt = None,
    electrometer: ElectrometerOpt = None,
) -> None:
    """One self-contained HTML page: inputs, summary tables, all figures, the fit."""

    def body() -> None:
        from caitlab.report import write_report
        from caitlab.results import open_result

        result = open_result(result_dir)
        charges = [parse_charge(c) for c in charge] if charge else None
        measured = load_measured(data, stage, rms, surface=surface)
        _check_stages(result, measured)
        extra: dict[str, Any] = {"measured": measured} if measured else {}
        if electrometer is not None:
            extra["electrometer"] = load_electrometer(electrometer)
        written = write_report(result, out, fit_dir=fit, measured_charges=charges, dpi=dpi, **extra)
        _derived(result_dir, result, [written])
        typer.echo(f"wrote {written}")

    _run_writing(body, out, "caitlab report", result_dir, kind="file")


@app.command("figures")
def figures_command(
    result_dir: ResultArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNGs.")] = Path(
        "figures"
    ),
    charge: ChargeOpt = None,
    dpi: Annotated[int, typer.Option(help="Resolution of the PNGs.", min=20)] = 150,
    data: DataOpt = None,
    stage: StageOpt = None,
    rms: RmsOpt = None,
    surface: SurfaceOpt = None,
    electrometer: ElectrometerOpt = None,
) -> None:
    """Write every figure of a result as PNG into OUT (paper style)."""

    def body() -> None:
        from caitlab.plot import save_figures, standard_figures
        from caitlab.plot.style import paper
        from caitlab.results import open_result

        result = open_result(result_dir)
        charges = [parse_charge(c) for c in charge] if charge else None
        measured = load_measured(data, stage, rms, surface=surface)
        _check_stages(result, measured)
        extra: dict[str, Any] = {"measured": measured} if measured else {}
        if electrometer is not None:
            extra["electrometer"] = load_electrometer(electrometer)
        with paper():
            figures = standard_figures(result, measured_charges=charges, **extra)
            paths = save_figures(figures, out, dpi=dpi)
        _derived(result_dir, result, paths)
        for path in paths:
            typer.echo(f"wrote {path}")

    _run_writing(body, out, "caitlab figures", result_dir)


__all__ = ["figures_command", "parse_charge", "report_command", "video_command"]
