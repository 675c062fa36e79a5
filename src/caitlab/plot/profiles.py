"""Concentration depth profiles (the paper's Figs 3 and 5): fractions n_i/n0 versus depth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import (
    STAGE_STYLES,
    fractions,
    get_ax,
    species_colour,
    time_indices,
    time_label,
    zone_depth,
)
from caitlab.plot.style import MEASURED_MARKER, legend_outside

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result
    from caitlab.sims.measured import MeasuredProfile
    from caitlab.sims.response import Response


def present_species(result: Result) -> list[str]:
    """Species with a non-zero density somewhere at some saved time."""
    present = np.any(fractions(result) != 0, axis=(0, 2))
    return [n for n, p in zip(result.species, present) if p]


def profiles(
    result: Result,
    times: Sequence[float | str] | float | str | None = None,
    *,
    species: Sequence[str] | None = None,
    measured: Any = None,
    rms_nm: float | None = None,
    response: Response | None = None,
    show_sum: bool = True,
    log: bool = False,
    depth_max_nm: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Normalised densities n_i/n0 of every species versus depth.

    Parameters
    ----------
    result : caitlab.Result
        A run (:meth:`caitlab.Experiment.run` or :func:`caitlab.open_result`).
    times : sequence of (float or str), optional
        Saved states to show: times in s from the start of the first stage (the nearest
        saved one is used) or stage names (their ends). Default: the end of each stage.
    species : sequence of str, optional
        Species to show; default every species present.
    measured : MeasuredProfile, mapping or xarray object, optional
        A measured profile drawn as markers: a :class:`caitlab.fit.MeasuredProfile`,
        ``{"depth_m": depths (m), "Li": fractions, ...}`` or an xarray object with dims
        (species, depth) as :mod:`caitlab.sims` makes. The response treats the surface as
        the profile says (:attr:`caitlab.sims.MeasuredProfile.surface`, ``"reflect"`` for
        the other forms), as a fit of it does.
    rms_nm : float, optional
        Gaussian instrument response (rms roughness/depth resolution, nm) applied to the
        simulated profiles; the unbroadened ones are kept as faint lines.
    response : GaussianResponse or MRIResponse, optional
        Any instrument response of :mod:`caitlab.sims`.
    show_sum : bool
        Draw the sum of the fractions (black) for each time (and for the measurement).
    log : bool
        Logarithmic fraction axis (1e-4 to 2) instead of linear (0 to 1.1).
    depth_max_nm : float, optional
        Right end of the depth axis, nm; default the replacement zone with a margin.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = get_ax(ax)
    if rms_nm is not None and response is not None:
        raise ValueError("give rms_nm or response, not both")
    from caitlab.sims.measured import as_measured_profile
    from caitlab.sims.response import GaussianResponse, apply_response

    if rms_nm is not None:
        response = GaussianResponse(rms_nm * 1e-9)
    profile = None if measured is None else as_measured_profile(measured)
    surface = "reflect" if profile is None else profile.surface
    names = list(result.species)
    x = np.asarray(result.mesh.centres)
    frac = fractions(result)
    indices = time_indices(result, times)
    shown = list(species) if species is not None else _present_at(result, frac, indices)
    for k, index in enumerate(indices):
        style = STAGE_STYLES[k % len(STAGE_STYLES)]
        suffix = f", {time_label(result, index)}" if len(indices) > 1 or profile is None else ""
        total = np.zeros_like(x)
        rows = [names.index(name) for name in shown]
        raw = frac[index, rows]
        # all species broadened in one call: the response takes (..., n) arrays
        seen = raw if response is None else apply_response(x, raw, x, response, surface=surface)
        for name, unbroadened, values in zip(shown, raw, seen):
            colour = species_colour(name, names.index(name))
            if response is not None:
                ax.plot(x * 1e9, unbroadened, color=colour, ls=style, lw=0.8, alpha=0.35)
            total += values
            ax.plot(x * 1e9, values, color=colour, ls=style, label=f"{name}{suffix}")
        if show_sum:
            ax.plot(x * 1e9, total, color="k", ls=style, lw=1.0, label=f"sum{suffix}")
    if profile is not None:
        _draw_measured(ax, profile, names, show_sum)
    ax.set_xlim(0, depth_max_nm if depth_max_nm is not None else zone_depth(result) * 1e9)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 2.0)
    else:
        ax.set_ylim(0, 1.1)
    ax.set_xlabel("depth (nm)")
    ax.set_ylabel("fraction $n_i/n_0$")
    title = "broadened, " + (
        f"{response.rms_m * 1e9:g} nm rms"
        if isinstance(response, GaussianResponse)
        else "instrument response"
    )
    if surface != "reflect":  # the default goes without saying
        title += f", surface: {surface}"
    legend_outside(ax, title=title if response is not None else None, title_fontsize="small")
    return ax


def _present_at(result: Result, frac: np.ndarray, indices: list[int]) -> list[str]:
    """The species present (fraction above 1e-6 somewhere) at the shown times: a stage's
    figure does not list a species that only a later stage brings."""
    names = list(result.species)
    return [
        name
        for name in present_species(result)
        if float(np.max(frac[indices, names.index(name)])) > 1e-6
    ]


def _draw_measured(ax: Axes, profile: MeasuredProfile, names: list[str], show_sum: bool) -> None:
    depth, values = profile.depth_m, profile.fractions
    total = np.zeros_like(depth)
    for name, frac in values.items():
        index = names.index(name) if name in names else len(names)
        ax.errorbar(
            depth * 1e9,
            frac,
            yerr=profile.sigma[name],
            color=species_colour(name, index),
            label=f"{name}, measured",
            **MEASURED_MARKER,
        )
        total += frac
    if show_sum and len(values) > 1:
        ax.plot(depth * 1e9, total, "o", ms=3.5, mfc="none", color="k", label="sum, measured")


__all__ = ["present_species", "profiles"]
