"""Electric potential and space charge versus depth near the front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from caitlab.plot._common import (
    STAGE_STYLES,
    experiment,
    fractions,
    get_ax,
    strings,
    time_indices,
    time_label,
    zone_depth,
)

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes

SPACE_CHARGE_COLOUR = "tab:red"


def space_charge_fraction(ds: xr.Dataset) -> np.ndarray:
    """Space charge ρ/(e n0) = Σ z_i n_i/n0 - 1, shape (time, x), dimensionless.

    The fixed background of the glass equals n0 (the pristine sample is neutral).
    """
    exp = experiment(ds)
    charge = {s.name: float(s.charge) for s in exp.sample.species}
    z = np.array([charge[name] for name in strings(ds["species"].values)])
    return np.einsum("s,tsx->tx", z, fractions(ds)) - 1.0


def potential_profile(
    ds: xr.Dataset,
    times: Sequence[float | str] | float | str | None = None,
    *,
    depth_max_nm: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Potential (V, left axis) and space charge (‰ of e n0, right axis) versus depth.

    Parameters
    ----------
    ds : xarray.Dataset
        A result.
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
    x_nm = np.asarray(ds["x"].values) * 1e9
    depth_max_nm = depth_max_nm if depth_max_nm is not None else zone_depth(ds) * 1e9
    near = x_nm <= depth_max_nm * 1.05
    potential = np.asarray(ds["potential"].transpose("time", "x").values)
    rho = space_charge_fraction(ds) * 1e3
    twin = ax.twinx()
    for k, index in enumerate(time_indices(ds, times)):
        style = STAGE_STYLES[k % len(STAGE_STYLES)]
        label = time_label(ds, index)
        ax.plot(x_nm[near], potential[index, near], color="k", ls=style,
                label=f"potential, {label}")
        twin.plot(x_nm[near], rho[index, near], color=SPACE_CHARGE_COLOUR, ls=style, lw=1,
                  label=f"space charge, {label}")
    twin.axhline(0, color=SPACE_CHARGE_COLOUR, lw=0.5, alpha=0.5)
    ax.set_xlim(0, depth_max_nm)
    ax.set_xlabel("depth (nm)")
    ax.set_ylabel("potential $\\varphi$ (V)")
    twin.set_ylabel("space charge $\\rho/(e n_0)$ (‰)", color=SPACE_CHARGE_COLOUR)
    twin.tick_params(axis="y", colors=SPACE_CHARGE_COLOUR)
    lines, more = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small")
    return ax


__all__ = ["potential_profile", "space_charge_fraction"]
