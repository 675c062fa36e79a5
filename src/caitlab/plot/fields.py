"""Electric potential and space charge versus depth near the front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from caitlab.plot._common import (
    STAGE_STYLES,
    fractions,
    get_ax,
    time_indices,
    time_label,
    zone_depth,
)
from caitlab.plot.style import align_zero, legend_outside

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result

SPACE_CHARGE_COLOUR = "tab:red"


def space_charge_fraction(result: Result) -> np.ndarray:
    """Space charge ρ/(e n0) = Σ z_i n_i/n0 - 1, shape (time, x), dimensionless.

    The fixed background of the glass, n0 Σ z_i f_i (f_i the initial fractions), makes the
    pristine sample neutral.
    """
    species = result.experiment.sample.species
    z = np.array([float(s.charge) for s in species])
    background = sum(float(s.charge) * s.initial_fraction for s in species)
    return np.einsum("s,tsx->tx", z, fractions(result)) - background


def potential_profile(
    result: Result,
    times: Sequence[float | str] | float | str | None = None,
    *,
    depth_max_nm: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Potential (V, left axis) and space charge (‰ of e n0, right axis) versus depth.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    times : sequence of (float or str), optional
        Stage names (their ends) or times in s; default the end of each stage.
    depth_max_nm : float, optional
        Right end of the depth axis, nm; default the replacement zone with a margin.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure. The space charge goes on ``ax.twinx()``.

    Returns
    -------
    matplotlib.axes.Axes
        The potential axes.
    """
    ax = get_ax(ax)
    x_nm = np.asarray(result.mesh.centres) * 1e9
    depth_max_nm = depth_max_nm if depth_max_nm is not None else zone_depth(result) * 1e9
    near = x_nm <= depth_max_nm * 1.05
    potential = np.asarray(result.data["potential"].transpose("time", "x").values)
    rho = space_charge_fraction(result) * 1e3
    twin = ax.twinx()
    for k, index in enumerate(time_indices(result, times)):
        style = STAGE_STYLES[k % len(STAGE_STYLES)]
        label = time_label(result, index)
        ax.plot(
            x_nm[near], potential[index, near], color="k", ls=style, label=f"potential, {label}"
        )
        twin.plot(
            x_nm[near],
            rho[index, near],
            color=SPACE_CHARGE_COLOUR,
            ls=style,
            lw=1,
            label=f"space charge, {label}",
        )
    twin.axhline(0, color=SPACE_CHARGE_COLOUR, lw=0.5, alpha=0.5)
    ax.set_xlim(0, depth_max_nm)
    ax.set_xlabel("depth (nm)")
    ax.set_ylabel("potential $\\varphi$ (V)")
    twin.set_ylabel("space charge $\\rho/(e n_0)$ (‰)", color=SPACE_CHARGE_COLOUR)
    twin.tick_params(axis="y", colors=SPACE_CHARGE_COLOUR)
    align_zero(ax, twin)
    lines, more = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    legend_outside(twin, lines[0] + more[0], lines[1] + more[1], bbox_to_anchor=(1.15, 1.0))
    return ax


__all__ = ["potential_profile", "space_charge_fraction"]
