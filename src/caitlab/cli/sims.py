"""``caitlab sims`` and ``caitlab compare``: measured depth profiles from the command line."""

from __future__ import annotations

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
TolOpt = Annotated[float, typer.Option("--mass-tolerance", help="Mass tolerance in u.")]
FormatOpt = Annotated[
    str, typer.Option("--format", help="auto, surfacelab, table or ita.")
]


def _process(file: Path, element: list[str] | None, crater_depth: str | None,
             sputter_rate: str | None, mass_tolerance: float, fmt: str,
             poisson: str = "auto") -> tuple[Any, Any]:
    from caitlab.sims.processing import calibrate_depth, process_profile
    from caitlab.sims.readers import read_profile

    crater = _quantity(crater_depth, "length", "--crater-depth")
    rate = _quantity(sputter_rate, "rate", "--sputter-rate")
    profile = read_profile(file, format=fmt)
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


@app.command("sims")
def sims_command(
    file: Annotated[Path, typer.Argument(help="Depth-profile export (SurfaceLab .txt, CSV).")],
    element: ElementOpt = None,
    crater_depth: CraterOpt = None,
    sputter_rate: RateOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="CSV of fractions (depth_nm, one column "
                                  "per element).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG of raw and normalised profiles.")
    ] = None,
    mass_tolerance: TolOpt = 0.05,
    fmt: FormatOpt = "auto",
    poisson: Annotated[
        str, typer.Option("--poisson", help="Poisson correction of raw counts: auto, "
                          "correct or off.")
    ] = "auto",
) -> None:
    """Normalise a ToF-SIMS depth profile: fractions per element (eq. 1) versus depth."""

    def body() -> None:
        dataset, calibrated = _process(file, element, crater_depth, sputter_rate,
                                       mass_tolerance, fmt, poisson)
        depth_nm = dataset["depth"].values * 1e9
        typer.echo(f"{file}: {dataset.sizes['depth']} points, depth "
                   f"{depth_nm[0]:.1f}-{depth_nm[-1]:.1f} nm")
        typer.echo(f"channels: {dataset.attrs['channels']}")
        for note in dataset.attrs["notes"].splitlines():
            typer.echo(f"note: {note}")
        if out is not None:
            from caitlab.sims.writers import write_fractions_csv

            typer.echo(f"wrote {write_fractions_csv(out, dataset)}")
        if plot is not None:
            from caitlab.sims.plotting import plot_profile

            typer.echo(f"wrote {plot_profile(plot, dataset, calibrated)}")

    _run(body)


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
    crater_depth: CraterOpt = None,
    sputter_rate: RateOpt = None,
    element: ElementOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG overlaying both profiles.")
    ] = None,
    mass_tolerance: TolOpt = 0.05,
    fmt: FormatOpt = "auto",
) -> None:
    """Overlay simulated (broadened) and measured fractions; report the residual RMS."""

    def body() -> None:
        from caitlab.results import open_result
        from caitlab.sims.compare import compare_profiles
        from caitlab.sims.response import GaussianResponse

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
        measured, _ = _process(profile, element, crater_depth, sputter_rate, mass_tolerance,
                               fmt)
        response = None if rms is None else GaussianResponse(rms)
        comparison = compare_profiles(result, measured, response, stage)
        simulated = result.stage(comparison.stage).fractions
        broadening = "none" if rms is None else f"Gaussian {rms * 1e9:g} nm rms"
        typer.echo(f"stage {comparison.stage} (t = {simulated.attrs['time']:g} s), "
                   f"broadening: {broadening}")
        for name, value in comparison.species_rms.items():
            typer.echo(f"  {name}: RMS {value:.4f}")
        typer.echo(f"residual RMS of fractions: {comparison.residual_rms:.4f}")
        if out is not None:
            from caitlab.sims.plotting import plot_comparison

            typer.echo(f"wrote {plot_comparison(out, comparison, simulated)}")

    _run(body)
