"""Figures of depth profiles and comparisons (matplotlib imported lazily)."""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from caitlab.plot.style import SPECIES_COLOURS as _COLOURS
from caitlab.sims.compare import Comparison
from caitlab.sims.profile import SimsProfile

_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_ISOTOPE = re.compile(r"\^(\d+)")
_CHARGE = re.compile(r"([+-]+)$")
_LINE_STYLES = ("-", "--", ":", "-.")


def ion_label(name: str) -> str:
    """A channel name as an ion is printed: ``"^6Li+"`` -> ``"⁶Li⁺"``, ``"Cs+"`` -> ``"Cs⁺"``
    (SurfaceLab writes the mass number after a caret and the charge as a trailing sign)."""
    text = _ISOTOPE.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), name.strip())
    return _CHARGE.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)


def channel_elements(channels: str) -> dict[str, str]:
    """Channel name -> element, from the ``channels`` attribute of a processed profile
    (``"Li: '^6Li+' (6.0146 u), 'Li+' (7.0155 u); Rb: ..."``)."""
    out = {}
    for part in channels.split("; "):
        element, _, rest = part.partition(": ")
        for channel in re.findall(r"'([^']*)'", rest):
            out[channel] = element.strip()
    return out


def _figure(n_rows: int) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.0, 3.2 * n_rows), layout="constrained")


def plot_profile(
    path: str | PathLike[str], fractions: Any, profile: SimsProfile | None = None
) -> Path:
    """Draw raw channel intensities and normalised fractions versus depth (nm) to a file.

    Parameters
    ----------
    path : str or path-like
        Image file (format from the suffix, e.g. ``.png``).
    fractions : xarray.Dataset
        From :func:`~caitlab.sims.processing.process_profile`.
    profile : SimsProfile, optional
        The calibrated raw profile; if given, the top panel shows its channels, else the
        element intensities.

    Returns
    -------
    Path
    """
    fig = _figure(2)
    top, bottom = fig.subplots(2, 1, sharex=True)
    depth_nm = np.asarray(fractions["depth"]) * 1e9
    species = [str(s) for s in fractions["species"].values]
    if profile is not None and profile.depth_m is not None:
        element_of = channel_elements(str(fractions.attrs.get("channels", "")))
        seen: dict[str, int] = {}
        for index, name in enumerate(profile.channel_names):
            element = element_of.get(name)
            if element is None:
                continue
            values = np.asarray(profile.counts[:, index])
            k = seen[element] = seen.get(element, -1) + 1
            top.plot(
                profile.depth_m * 1e9,
                np.where(values > 0, values, np.nan),
                lw=1,
                ls=_LINE_STYLES[k % len(_LINE_STYLES)],
                color=_COLOURS.get(element),
                label=f"{ion_label(name)} ({element})",
            )
        top.set_ylabel("intensity (counts)")
    else:
        for name in species:
            values = np.asarray(fractions["intensity"].sel(species=name))
            top.plot(
                depth_nm,
                np.where(values > 0, values, np.nan),
                lw=1,
                label=name,
                color=_COLOURS.get(name),
            )
        top.set_ylabel("element intensity (counts)")
    top.set_yscale("log")
    top.legend(fontsize=8, ncol=2)
    top.set_title(Path(str(fractions.attrs.get("file", "profile"))).name, fontsize=9)
    for name in species:
        bottom.plot(
            depth_nm,
            np.asarray(fractions["fraction"].sel(species=name)),
            lw=1.2,
            label=name,
            color=_COLOURS.get(name),
        )
    bottom.set_xlabel("depth (nm)")
    bottom.set_ylabel(f"fraction of {' + '.join(species)}")
    bottom.set_ylim(-0.02, 1.02)
    bottom.legend(fontsize=8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def plot_comparison(
    path: str | PathLike[str], comparison: Comparison, simulated: Any | None = None
) -> Path:
    """Overlay measured (points with error bars) and simulated (lines) fractions versus
    depth (nm), with a residual panel below: ``(model - data) / sigma`` (the sigmas that
    weigh χ²), the convention of the fit figure.

    Parameters
    ----------
    path : str or path-like
        Image file.
    comparison : Comparison
        From :func:`~caitlab.sims.compare.compare_profiles`.
    simulated : xarray.DataArray, optional
        The unbroadened simulated fractions ``(species, depth)`` (depth in nm, as
        ``result.stage(name).fractions``), drawn dashed.

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 5.6), layout="constrained")
    ax, res = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    depth_nm = comparison.depth_m * 1e9
    sigma = comparison.sigma
    dashed = simulated is not None and comparison.response is not None
    for k, name in enumerate(comparison.species):
        colour = _COLOURS.get(name)
        err = None if sigma is None else sigma[k]
        ax.errorbar(
            depth_nm,
            comparison.measured[k],
            yerr=err,
            fmt=".",
            ms=3,
            lw=0.6,
            color=colour,
            label=f"{name} measured",
        )
        ax.plot(
            depth_nm, comparison.simulated[k], "-", lw=1.5, color=colour, label=f"{name} simulated"
        )
        if dashed and not comparison.renormalised:
            assert simulated is not None  # dashed needs it
            x_nm = np.asarray(simulated["depth"])
            keep = x_nm <= depth_nm.max()
            ax.plot(
                x_nm[keep],
                np.asarray(simulated.sel(species=name))[keep],
                "--",
                lw=0.8,
                color=colour,
            )
        if err is not None:
            res.plot(
                depth_nm,
                (comparison.simulated[k] - comparison.measured[k]) / err,
                ".",
                ms=3,
                color=colour,
                label=name,
            )
        else:
            res.plot(
                depth_nm,
                comparison.simulated[k] - comparison.measured[k],
                ".",
                ms=3,
                color=colour,
                label=name,
            )
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.02, 1.02)
    chi2 = (
        f"; χ² {comparison.chi2:.4g} ({comparison.chi2_per_point:.3g} per value)"
        if np.isfinite(comparison.chi2)
        else ""
    )
    notes = [
        "dashed: simulated before broadening" if dashed and not comparison.renormalised else "",
        "renormalised over the common species" if comparison.renormalised else "",
        f"surface: {comparison.surface}"
        if comparison.response is not None and comparison.surface != "reflect"
        else "",
    ]
    notes = [n for n in notes if n]
    ax.set_title(
        f"after {comparison.stage}: residual RMS {comparison.residual_rms:.4f}{chi2}"
        + ("\n" + "; ".join(notes) if notes else ""),
        fontsize=9,
        wrap=True,
    )
    ax.legend(fontsize=7, ncol=2)
    res.axhline(0.0, color="0.4", lw=0.8)
    res.set_xlabel("depth (nm)")
    res.set_ylabel("(model − data)/σ" if sigma is not None else "model − data")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
