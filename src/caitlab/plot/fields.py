"""Electric potential and space charge versus depth near the front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from caitlab.plot._common import (
    STAGE_STYLES,
    fractions,
    time_indices,
    time_label,
    zone_depth,
)
from caitlab.plot.style import legend_outside

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
    axes: Sequence[Axes] | None = None,
) -> Axes:
    """Potential (V, top panel) and space charge (‰ of e n0, bottom panel) versus depth.

    Two panels sharing the depth axis, each scaled to its own data: a twin axis aligned at
    zero would stretch the potential to negative values it never takes. The depth axis
    starts a little above the surface, so the surface layer's space charge is not hidden
    by the frame.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    times : sequence of (float or str), optional
        Stage names (their ends) or times in s; default the end of each stage.
    depth_max_nm : float, optional
        Right end of the depth axis, nm; default the replacement zone with a margin.
    axes : sequence of two matplotlib.axes.Axes, optional
        Where to draw (potential, space charge); default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The potential panel (the space-charge panel is ``ax.figure.axes[1]``).
    """
    if axes is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(6.4, 5.2), layout="constrained")
        axes = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    ax, below = axes[0], axes[1]
    x_nm = np.asarray(result.mesh.centres) * 1e9
    depth_max_nm = depth_max_nm if depth_max_nm is not None else zone_depth(result) * 1e9
    near = x_nm <= depth_max_nm * 1.05
    potential = np.asarray(result.data["potential"].transpose("time", "x").values)
    rho = space_charge_fraction(result) * 1e3
    for k, index in enumerate(time_indices(result, times)):
        style = STAGE_STYLES[k % len(STAGE_STYLES)]
        label = time_label(result, index)
        ax.plot(x_nm[near], potential[index, near], color="k", ls=style, label=label)
        below.plot(
            x_nm[near], rho[index, near], color=SPACE_CHARGE_COLOUR, ls=style, lw=1, label=label
        )
    below.axhline(0, color="0.5", lw=0.5)
    ax.set_xlim(-0.015 * depth_max_nm, depth_max_nm)
    low, high = ax.get_ylim()
    ax.set_ylim(min(0.0, low), high)
    below.set_xlabel("depth (nm)")
    ax.set_ylabel("potential $\\varphi$ (V)")
    below.set_ylabel("space charge\n$\\rho/(e n_0)$ (‰)")
    ax.tick_params(labelbottom=False)
    legend_outside(ax, *ax.get_legend_handles_labels())
    return ax


__all__ = ["potential_profile", "space_charge_fraction"]
