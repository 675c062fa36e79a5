"""D(n) curves (the paper's Figs 4, 6, 7) and the energy landscape of the sites (Fig. 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import (
    STAGE_STYLES,
    fractions,
    get_ax,
    saved_stages,
    species_colour,
    stage_end_index,
    time_indices,
)
from caitlab.plot.style import SPECIES_HATCHES, legend_outside

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result


def visited_range(
    result: Result, stage: str, species: str, floor: float = 1e-4
) -> tuple[float, float] | None:
    """Smallest and largest fraction n/n0 (above ``floor``) of ``species`` during ``stage``.

    Uses the saved states of the stage and the state it started from (the end of the stage
    before). ``None`` if the species never exceeded ``floor``.
    """
    names = result.stage_names
    rows = [i for i, s in enumerate(saved_stages(result)) if s == stage]
    k = names.index(stage)
    if k > 0:
        rows.append(stage_end_index(result, names[k - 1]))
    values = fractions(result)[rows, result.species.index(species)]
    values = values[values > floor]
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


def diffusivities(
    result: Result,
    *,
    species: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    visited: bool = True,
    n_min: float = 1e-3,
    ax: Axes | None = None,
) -> Axes:
    """D(n) of every species in every stage on log axes, as used in the run.

    Colours are species, line styles stages. A fall-off (trapping) threshold is marked
    with a triangle; with ``visited`` the densities the run actually passed through (its
    saved states) are highlighted by a broad translucent band on the curve.

    Parameters
    ----------
    result : caitlab.Result
        A run; its D(n) tables (as used in each stage) are drawn.
    species, stages : sequence of str, optional
        Restrict to these species / stages (e.g. ``stages=["Rb-CAIT"]`` for Fig. 4,
        ``species=["Li", "Cs"]`` for Fig. 6). Default: all with a model.
    visited : bool
        Highlight the visited density range.
    n_min : float
        Left end of the density axis, fraction of n0.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = get_ax(ax)
    names = list(result.species)
    for k, (record, stage) in enumerate(zip(result.stages, result.experiment.stages)):
        if stages is not None and record.name not in stages:
            continue
        style = STAGE_STYLES[k % len(STAGE_STYLES)]
        for name, model in stage.diffusivity.items():
            if species is not None and name not in species:
                continue
            colour = species_colour(name, names.index(name))
            table = record.d_of_n(name).sel(density_fraction=slice(n_min, 1.2))
            grid, d = table["density_fraction"].values, table.values
            ax.plot(grid, d, color=colour, ls=style, label=f"{name}, {record.name}")
            if model.falloff is not None:
                threshold = model.falloff.threshold
                d_at = float(np.exp(np.interp(np.log(threshold), np.log(grid), np.log(d))))
                ax.plot([threshold], [d_at], marker="v", ms=7, color=colour, ls="none")
            span = visited_range(result, record.name, name, floor=n_min) if visited else None
            if span is not None:
                inside = (grid >= span[0]) & (grid <= span[1])
                ax.plot(
                    grid[inside], d[inside], color=colour, lw=7, alpha=0.2, solid_capstyle="butt"
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(n_min, 1.2)
    ax.set_xlabel("density $n_i/n_0$")
    ax.set_ylabel("diffusion coefficient $D_i$ (m$^2$/s)")
    handles, labels = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles += [
        Line2D([], [], marker="v", color="0.3", ls="none"),
        Line2D([], [], color="0.3", lw=7, alpha=0.2),
    ]
    labels += ["fall-off threshold", "visited in the run"]
    legend_outside(ax, handles, labels)
    return ax


def default_depth_nm(result: Result) -> float:
    """Half the depth (nm) over which the native ion fell below half of n0 after stage 1."""
    initial = [s.initial_fraction for s in result.experiment.sample.species]
    native = int(np.argmax(initial))
    frac = result.stages[0].density[-1, native] / result.stages[0].n0
    x = np.asarray(result.mesh.centres)
    depleted = x[frac < 0.5 * initial[native]]
    return float(depleted.max() * 1e9 / 2) if depleted.size else 5.0


def _state(result: Result, time: float | str, depth_nm: float) -> tuple[Any, np.ndarray, str]:
    """(stage whose models apply, fractions per species at ``depth_nm``, title)."""
    exp = result.experiment
    if time == "initial":
        return (
            exp.stages[0],
            np.array([s.initial_fraction for s in exp.sample.species]),
            ("before the first stage"),
        )
    index = time_indices(result, [time])[0]
    stage_name = saved_stages(result)[index]
    x = np.asarray(result.mesh.centres)
    frac = fractions(result)[index]
    at_depth = np.array([np.interp(depth_nm * 1e-9, x, f) for f in frac])
    stage = next(s for s in exp.stages if s.name == stage_name)
    when = (
        f"after {stage_name}"
        if index == stage_end_index(result, stage_name)
        else (f"{stage_name}, t = {float(result.data['time'].values[index]) / 3600:.3g} h")
    )
    return stage, at_depth, f"{when}, {depth_nm:.3g} nm deep"


def energy_landscape(
    result: Result,
    time: float | str | None = None,
    depth_nm: float | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Site-energy distributions, their filled parts (PSED) and ionic Fermi levels.

    Energy runs upwards, relative to each species' Fermi level at its reference density
    (a common axis for illustration, as in the paper's Fig. 2). For every species with a
    site-energy (SED) model in the stage that applies, the distribution S(E) is outlined,
    the part filled at the local density is shaded and its Fermi level E_F is a dashed line;
    the transport threshold E_DC (the activation energy above E_F(n_ref)) is dotted. Species
    with a constant D are drawn as the paper does: as a replacement population filling the
    sites the native ion vacated, from the native Fermi level upwards.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    time : float or str, optional
        ``"initial"`` (the pristine sample, models of the first stage), a stage name (its
        end) or a time in s (nearest saved state). Default: the end of the last stage.
    depth_nm : float, optional
        Depth (nm) at which the densities are taken; default half the replacement zone
        after the first stage.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from caitlab.diffusivity import SiteEnergyD

    ax = get_ax(ax, figsize=(4.2, 5.0))
    exp = result.experiment
    n0 = exp.sample.mobile_ion_density
    depth_nm = default_depth_nm(result) if depth_nm is None else depth_nm
    time = result.stage_names[-1] if time is None else time
    stage, frac, title = _state(result, time, depth_nm)
    names = list(exp.sample.species_names)
    initial = [s.initial_fraction for s in exp.sample.species]
    sed = {n: m for n, m in stage.diffusivity.items() if isinstance(m, SiteEnergyD)}
    host = max(sed, key=lambda n: initial[names.index(n)], default=None)
    energy = _energy_grid(sed.values(), n0)
    for name, model in sed.items():
        colour = species_colour(name, names.index(name))
        s = model.site_distribution(energy, n0) / n0
        e_f = float(model.fermi_shift(frac[names.index(name)], n0))
        ax.plot(s, energy, color=colour, lw=1.2, label=f"{name} sites S(E)")
        filled = energy <= e_f
        ax.fill_betweenx(
            energy[filled],
            0,
            s[filled],
            color=colour,
            alpha=0.45,
            lw=0,
            label=f"{name} filled, {frac[names.index(name)]:.2f} $n_0$",
        )
        ax.axhline(e_f, color=colour, ls="--", lw=1)
        ax.text(
            1.0,
            e_f,
            f" $E_F$({name})",
            transform=ax.get_yaxis_transform(),
            color=colour,
            va="center",
            fontsize="small",
        )
        e_dc = model.activation_energy
        if e_dc is not None and e_dc <= energy[-1]:
            ax.axhline(e_dc, color=colour, ls=":", lw=1)
            ax.text(
                1.0,
                e_dc,
                f" $E_{{DC}}$({name})",
                va="center",
                transform=ax.get_yaxis_transform(),
                color=colour,
                fontsize="small",
            )
        elif e_dc is not None:  # above the populated range: named at the top, not drawn
            ax.text(
                1.0,
                1.0,
                f" $E_{{DC}}$({name}) = {e_dc:.2f} eV ↑",
                va="top",
                transform=ax.transAxes,
                color=colour,
                fontsize="small",
            )
    if host is not None:
        _replacement(ax, names, sed[host], host, frac, energy, n0, set(sed))
    ax.set_xlim(left=0)
    ax.set_ylim(energy[0], energy[-1])
    ax.set_xlabel("site density $S(E)/n_0$ (eV$^{-1}$)")
    ax.set_ylabel("site energy $E - E_F(n_{ref})$ (eV)")
    ax.set_title(title, fontsize="medium")
    if sed:
        legend_outside(ax, loc="upper left", bbox_to_anchor=(0.0, -0.14), fontsize="x-small")
    else:
        ax.text(
            0.5,
            0.5,
            "no site-energy model\nin this stage",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
    return ax


def has_site_energy(result: Result) -> bool:
    """Whether any stage of the run has a site-energy (SED) model."""
    from caitlab.diffusivity import SiteEnergyD

    return any(
        isinstance(m, SiteEnergyD)
        for stage in result.experiment.stages
        for m in stage.diffusivity.values()
    )


def _energy_grid(models: Any, n0: float) -> np.ndarray:
    """Energies spanning the populated part of every distribution (S(E) above 0.5 % of its
    peak) and the Fermi levels, with a margin; a far transport threshold is left out."""
    models = list(models)
    low, high = -0.1, 0.1
    for model in models:
        low = min(low, float(model.fermi_shift(0.0, n0)) - 0.05)
        high = max(high, float(model.fermi_shift(1.0 / model.occupancy, n0)) + 0.05)
    wide = np.linspace(low - 1.0, high + 1.0, 4000)
    for model in models:
        s = model.site_distribution(wide, n0)
        populated = wide[s > 5e-3 * s.max()] if s.max() > 0 else wide[:0]
        if populated.size:
            low, high = min(low, populated[0]), max(high, populated[-1])
        e_dc = model.activation_energy
        if e_dc is not None and e_dc <= high + 0.15:  # near: keep it in view
            high = max(high, e_dc)
    margin = 0.05 * (high - low)
    return np.linspace(low - margin, high + margin, 1200)


def _replacement(
    ax: Axes,
    names: list[str],
    model: Any,
    host: str,
    frac: np.ndarray,
    energy: np.ndarray,
    n0: float,
    skip: set[str],
) -> None:
    """Stack the constant-D species on the host's vacated sites above its Fermi level."""
    s = model.site_distribution(energy, n0) / n0
    e_f = float(model.fermi_shift(frac[names.index(host)], n0))
    above = np.where(energy > e_f, s, 0.0)
    cumulative = np.concatenate(
        [[0.0], np.cumsum(0.5 * (above[1:] + above[:-1]) * np.diff(energy))]
    )
    start = 0.0
    for k, name in enumerate(names):
        if name in skip or frac[k] <= 1e-4:
            continue
        band = (energy > e_f) & (cumulative >= start) & (cumulative <= start + frac[k])
        # hatch only, no face: a filled distribution underneath stays readable
        colour = species_colour(name, k)
        ax.fill_betweenx(
            energy[band],
            0,
            s[band],
            facecolor="none",
            edgecolor=colour,
            lw=0.0,
            hatch=SPECIES_HATCHES.get(name) or "////",
            zorder=3,
            label=f"{name} on {host} sites, {frac[k]:.2f} $n_0$ (constant D)",
        )
        ax.plot(s[band], energy[band], color=colour, lw=0.8, zorder=3)
        start += frac[k]


def energy_landscapes(
    result: Result,
    times: Sequence[float | str] | None = None,
    depth_nm: float | None = None,
    *,
    axes: Sequence[Axes] | None = None,
) -> np.ndarray:
    """The paper's Fig. 2: :func:`energy_landscape` before, and after every stage.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    times : sequence, optional
        States (see :func:`energy_landscape`); default ``"initial"`` then every stage end.
    depth_nm : float, optional
        Depth in nm inside the replacement zone; default half the zone after stage 1.
    axes : sequence of Axes, optional
        One per state; default a new figure with a row of panels sharing the energy axis.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
    """
    times = ["initial", *result.stage_names] if times is None else list(times)
    if axes is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(4.2 * len(times), 5.0), layout="constrained")
        axes = fig.subplots(1, len(times), sharey=True, squeeze=False)[0]
    chosen = depth_nm is None
    depth_nm = default_depth_nm(result) if depth_nm is None else depth_nm
    for ax, time in zip(axes, times):
        energy_landscape(result, time, depth_nm, ax=ax)
        ax.set_title(ax.get_title().removesuffix(f", {depth_nm:.3g} nm deep"), fontsize="medium")
    right = max(ax.get_xlim()[1] for ax in axes)  # one density scale for every panel
    from matplotlib.ticker import MaxNLocator

    ticks = np.asarray(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]).tick_values(0, right))
    for k, ax in enumerate(axes):  # the same density ticks on every panel
        ax.set_xticks(ticks[(ticks >= 0) & (ticks <= right)])
        ax.set_xlim(0, right)
        if k:
            ax.set_ylabel("")
    axes[0].figure.suptitle(_depth_note(result, depth_nm, chosen), fontsize="medium")
    return np.asarray(axes)


def _depth_note(result: Result, depth_nm: float, chosen: bool) -> str:
    """Where the distributions are drawn, and why there (the default depth)."""
    if not chosen:
        return f"site-energy distributions at {depth_nm:.3g} nm depth"
    native = max(result.experiment.sample.species, key=lambda s: s.initial_fraction).name
    return (
        f"site-energy distributions at {depth_nm:.3g} nm depth: half the depth where "
        f"{native} fell below n₀/2 after {result.stage_names[0]} (inside the replacement zone)"
    )


__all__ = [
    "default_depth_nm",
    "diffusivities",
    "energy_landscape",
    "energy_landscapes",
    "has_site_energy",
    "visited_range",
]
