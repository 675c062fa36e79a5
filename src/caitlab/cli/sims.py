"""``caitlab sims`` and ``caitlab compare``: measured depth profiles from the command line."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from caitlab.cli._app import app, run_reporting_errors
from caitlab.sims.errors import SimsError

_ELEMENT_HELP = (
    "NAME=CHANNEL[,CHANNEL...], repeatable; a CHANNEL is a channel name exactly as in the "
    "file or a mass in u (e.g. Li=^6Li+,Li+  Rb=84.9118,86.9092  Cs=Cs+). "
    "Default: Li, Rb, Cs by mass."
)
# a comma followed by a space belongs to a SurfaceLab summed-peak name
_CHANNEL_SPLIT = re.compile(r",(?! )")


def parse_element_option(text: str) -> tuple[str, list[str]]:
    """Parse ``NAME=CHANNEL[,CHANNEL...]`` into the element name and its channels.

    Commas followed by a space are kept, since SurfaceLab names of summed peaks contain
    ``", "``.
    """
    name, sep, channels = text.partition("=")
    name = name.strip()
    specs = [c.strip() for c in _CHANNEL_SPLIT.split(channels) if c.strip()]
    if not sep or not name or not specs:
        raise SimsError(
            f"--element {text!r}: expected NAME=CHANNEL[,CHANNEL...], e.g. Li=^6Li+,Li+"
        )
    return name, specs


def _elements(options: list[str] | None) -> dict[str, list[str]] | None:
    if not options:
        return None
    elements: dict[str, list[str]] = {}
    for option in options:
        name, specs = parse_element_option(option)
        if name in elements:
            raise SimsError(f"--element {name} given twice")
        elements[name] = specs
    return elements


def _quantity(text: str | None, kind: str, option: str) -> float | None:
    """Parse a CLI quantity with its unit, e.g. ``"310 nm"``; a bare number is refused."""
    if text is None:
        return None
    from caitlab.units import to_canonical

    try:
        float(text)
    except ValueError:
        pass
    else:
        raise SimsError(f"{option} {text!r}: give a unit, e.g. '310 nm' or '0.5 nm/s'")
    try:
        value = to_canonical(text, kind)
    except ValueError as exc:
        raise SimsError(f"{option}: {exc}") from None
    if not value > 0:
        raise SimsError(f"{option} must be positive, got {text!r}")
    return value


def _run(action: Callable[[], Any]) -> Any:
    """Run a command body; bad input becomes one message and exit code 2."""
    return run_reporting_errors(action)


ElementOpt = Annotated[list[str] | None, typer.Option("--element", "-e", help=_ELEMENT_HELP)]
CraterOpt = Annotated[
    str | None, typer.Option("--crater-depth", help="Measured crater depth, e.g. '310 nm'.")
]
RateOpt = Annotated[
    str | None, typer.Option("--sputter-rate", help="Sputter rate, e.g. '0.5 nm/s'.")
]
TolOpt = Annotated[
    float, typer.Option("--mass-tolerance", help="Mass tolerance in u (a positive number).")
]
FormatOpt = Annotated[str, typer.Option("--format", help="auto, surfacelab, table or ita.")]


def _channel_specs(elements: dict[str, list[str]] | None) -> list[str] | None:
    """The channels a SurfaceLab export needs: those named in ``elements``, or the defaults
    (Li, Rb, Cs by name or mass); only these columns are converted."""
    from caitlab.sims.processing import DEFAULT_ELEMENTS

    if elements is None:
        return [*DEFAULT_ELEMENTS, *(c for specs in DEFAULT_ELEMENTS.values() for c in specs)]
    return [c for specs in elements.values() for c in specs]


def _read(file: Path, element: list[str] | None, mass_tolerance: float, fmt: str) -> Any:
    from caitlab.sims.processing import check_mass_tolerance
    from caitlab.sims.readers import read_profile

    tolerance = check_mass_tolerance(mass_tolerance)
    return read_profile(
        file, format=fmt, channels=_channel_specs(_elements(element)), mass_tolerance=tolerance
    )


def _process(
    file: Path,
    element: list[str] | None,
    crater_depth: str | None,
    sputter_rate: str | None,
    mass_tolerance: float,
    fmt: str,
    poisson: str = "auto",
    profile: Any = None,
) -> tuple[Any, Any]:
    from caitlab.sims.processing import calibrate_depth, process_profile

    crater = _quantity(crater_depth, "length", "--crater-depth")
    rate = _quantity(sputter_rate, "rate", "--sputter-rate")
    if profile is None:
        profile = _read(file, element, mass_tolerance, fmt)
    dataset = process_profile(
        profile,
        _elements(element),
        crater_depth_m=crater,
        sputter_rate_m_per_s=rate,
        mass_tolerance=mass_tolerance,
        poisson=poisson,
    )
    calibrated = calibrate_depth(profile, crater_depth_m=crater, sputter_rate_m_per_s=rate)
    return dataset, calibrated


def _staged(final: Path) -> Path:
    """A temporary name next to ``final`` with its suffix (matplotlib reads the format)."""
    return final.with_name(f".{final.stem}.{os.getpid()}.partial{final.suffix}")


def _write_together(writers: list[tuple[Path, Callable[[Path], Any]]]) -> list[Path]:
    """Write every output to a temporary name, then rename them all: all appear or none.

    An existing file at a final name is replaced atomically (``os.replace``), so it is never
    seen half written.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in writers:
            final.parent.mkdir(parents=True, exist_ok=True)
            temporary = _staged(final)
            staged.append((temporary, final))
            write(temporary)
        for temporary, final in staged:
            os.replace(temporary, final)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    return [final for final, _ in writers]


@app.command("sims")
def sims_command(
    file: Annotated[Path, typer.Argument(help="Depth-profile export (SurfaceLab .txt, CSV).")],
    element: ElementOpt = None,
    crater_depth: CraterOpt = None,
    sputter_rate: RateOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="CSV of fractions (depth_nm, one column "
            "per element, then <element>_sigma columns).",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG of raw and normalised profiles.")
    ] = None,
    mass_tolerance: TolOpt = 0.05,
    fmt: FormatOpt = "auto",
    poisson: Annotated[
        str,
        typer.Option("--poisson", help="Poisson correction of raw counts: auto, correct or off."),
    ] = "auto",
) -> None:
    """Normalise a ToF-SIMS depth profile: fractions per element (eq. 1) versus depth."""

    def body() -> None:
        from caitlab.storage import check_output

        for path, option in ((out, "--out"), (plot, "--plot")):
            if path is not None:
                check_output(path, kind="file", option=option)
        dataset, calibrated = _process(
            file, element, crater_depth, sputter_rate, mass_tolerance, fmt, poisson
        )
        depth_nm = dataset["depth"].values * 1e9
        typer.echo(
            f"{file}: {dataset.sizes['depth']} points, depth "
            f"{depth_nm[0]:.1f}-{depth_nm[-1]:.1f} nm"
        )
        typer.echo(f"channels: {dataset.attrs['channels']}")
        for note in dataset.attrs["notes"].splitlines():
            typer.echo(f"note: {note}")
        writers: list[tuple[Path, Callable[[Path], Any]]] = []
        if out is not None:
            from caitlab.sims.writers import write_fractions_csv

            writers.append((out, lambda path: write_fractions_csv(path, dataset)))
        if plot is not None:
            from caitlab.sims.plotting import plot_profile

            writers.append((plot, lambda path: plot_profile(path, dataset, calibrated)))
        for path in _write_together(writers):
            typer.echo(f"wrote {path}")

    _run(body)


def _measured(
    file: Path,
    element: list[str] | None,
    crater_depth: str | None,
    sputter_rate: str | None,
    mass_tolerance: float,
    fmt: str,
    surface: str = "reflect",
) -> Any:
    """The measured profile: a fractions table read as ``caitlab fit`` reads one (the one
    rule of :func:`caitlab.sims.measured.fractions_table_problem`; its ``_sigma`` columns
    are the weights), anything else processed like ``caitlab sims``; compared with the
    response treating the surface as ``surface``."""
    from caitlab.sims.measured import (
        as_measured_profile,
        fractions_table_problem,
        measured_from_table,
    )

    raw = _read(file, element, mass_tolerance, fmt)
    if (
        raw.metadata.format == "table"
        and element is None
        and crater_depth is None
        and sputter_rate is None
    ):
        table = measured_from_table(raw, surface=surface)
        if table is not None:
            return table
        typer.echo(f"note: {file.name} read as counts: {fractions_table_problem(raw)}")
    dataset, _ = _process(
        file, element, crater_depth, sputter_rate, mass_tolerance, fmt, profile=raw
    )
    return as_measured_profile(dataset, surface=surface)


def _compare_electrometer(result, path: Path, sigma_text: str | None) -> None:
    """Print how the logged current (and the charge at its last time) compare with the run."""
    import numpy as np

    from caitlab.electrometer import read_electrometer
    from caitlab.fit.data import MeasuredTrace
    from caitlab.units import to_canonical

    log = read_electrometer(path)
    sigma = 1.0
    if sigma_text is not None:
        try:
            sigma = to_canonical(sigma_text, "current", units_required=True)
        except ValueError as exc:
            raise SimsError(f"--electrometer-sigma: {exc}") from None
        if not sigma > 0:
            raise SimsError(f"--electrometer-sigma must be positive, got {sigma_text!r}")
    current = MeasuredTrace(log, "current", sigma, name=path.name)
    model = current.model(result)
    inside = np.isfinite(model)
    if not inside.any():
        raise SimsError(f"{path}: no logged time lies inside the run")
    measured = current.values[inside]
    relative = np.sqrt(np.mean((model[inside] - measured) ** 2)) / np.mean(np.abs(measured))
    charge = MeasuredTrace(log, "charge", 1.0).model(result)[inside][-1]
    from caitlab.units import rounded

    typer.echo(
        f"electrometer {path.name}: {inside.sum()} logged currents inside the run, RMS "
        f"deviation {relative:.3g} of the mean current; charge at "
        f"{rounded(log.time_s[inside][-1], 'time')}: model {charge * 1e3:.5g} mC, logged "
        f"{log.charge_C[inside][-1] * 1e3:.5g} mC"
    )
    if sigma_text is not None:
        chi2 = float(np.sum(current.residual(result) ** 2))
        typer.echo(f"  chi2 of the current: {chi2:.6g} ({chi2 / inside.sum():.4g} per point)")


@app.command("compare")
def compare_command(
    result_dir: Annotated[Path, typer.Argument(help="Simulation folder with result.nc.")],
    profile: Annotated[Path, typer.Argument(help="Measured depth profile.")],
    stage: Annotated[
        str | None, typer.Option("--stage", help="Stage to compare (default: the last).")
    ] = None,
    roughness: Annotated[
        str | None, typer.Option("--roughness", help="Gaussian rms broadening, e.g. '5 nm'.")
    ] = None,
    surface: Annotated[
        str,
        typer.Option(
            "--surface",
            help="How the broadening treats the surface: reflect, extend or truncate "
            "(as a fit's 'surface').",
        ),
    ] = "reflect",
    crater_depth: CraterOpt = None,
    sputter_rate: RateOpt = None,
    element: ElementOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG overlaying both profiles.")
    ] = None,
    mass_tolerance: TolOpt = 0.05,
    fmt: FormatOpt = "auto",
    electrometer: Annotated[
        Path | None,
        typer.Option(
            "--electrometer", help="Electrometer log (CSV/TSV, units in the header) to compare."
        ),
    ] = None,
    electrometer_sigma: Annotated[
        str | None,
        typer.Option(
            "--electrometer-sigma",
            help="Uncertainty of one logged current, e.g. '0.1 nA': chi2 of the curve.",
        ),
    ] = None,
) -> None:
    """Overlay simulated (broadened) and measured fractions; report the species compared,
    the residual RMS and chi2 with its weights; --out draws a residual panel too.
    --electrometer compares the logged back-electrode current with the run's as well."""

    def body() -> None:
        from caitlab.results import open_result
        from caitlab.sims.compare import compare_profiles
        from caitlab.sims.response import SURFACES, GaussianResponse
        from caitlab.storage import check_output

        if out is not None:
            check_output(out, kind="file")
        if surface not in SURFACES:
            raise SimsError(f"--surface must be one of {', '.join(SURFACES)}, got {surface!r}")
        rms = None
        if roughness is not None:
            from caitlab.units import to_canonical

            try:
                rms = to_canonical(roughness, "length", units_required=True)
            except ValueError as exc:
                raise SimsError(f"--roughness: {exc}") from None
            if rms < 0:
                raise SimsError(f"--roughness must not be negative, got {roughness!r}")
        result = open_result(result_dir)
        measured = _measured(
            profile, element, crater_depth, sputter_rate, mass_tolerance, fmt, surface
        )
        response = None if rms is None else GaussianResponse(rms)
        comparison = compare_profiles(result, measured, response, stage)
        simulated = result.stage(comparison.stage).fractions
        broadening = (
            "none"
            if rms is None
            else f"Gaussian {rms * 1e9:g} nm rms, surface: {comparison.surface}"
        )
        from caitlab.units import rounded

        typer.echo(
            f"stage {comparison.stage} (t = {rounded(simulated.attrs['time'], 'time')}), "
            f"broadening: {broadening}"
        )
        for note in comparison.notes:
            typer.echo(f"note: {note}")
        n_depths = comparison.depth_m.size
        typer.echo(f"weights: {comparison.weights}")
        for name, value in comparison.species_rms.items():
            chi2 = comparison.species_chi2[name]
            typer.echo(
                f"  {name}: RMS {value:.4f}, chi2 {chi2:.6g} ({chi2 / n_depths:.4g} per point)"
            )
        typer.echo(f"residual RMS of fractions: {comparison.residual_rms:.4f}")
        typer.echo(
            f"chi2 total: {comparison.chi2:.6g} over {comparison.n_values} values "
            f"({n_depths} depths x {len(comparison.species)} species), "
            f"{comparison.chi2_per_point:.4g} per value"
        )
        if electrometer is not None:
            _compare_electrometer(result, electrometer, electrometer_sigma)
        if out is not None:
            from caitlab.sims.plotting import plot_comparison

            for path in _write_together(
                [(out, lambda path: plot_comparison(path, comparison, simulated))]
            ):
                typer.echo(f"wrote {path}")

    _run(body)
