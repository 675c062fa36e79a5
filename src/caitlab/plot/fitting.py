"""Pictures of fits: a sweep's misfit map over two parameters and an MCMC corner plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import QuadMesh
    from matplotlib.tri import TriContourSet


#: columns of a sweep table (:mod:`caitlab.sweep`) that are not parameters
_NOT_PARAMETERS = (
    "point",
    "key",
    "status",
    "reason",
    "wall_time_s",
    "charge_C.",
    "chisqr",
    "misfit",
)


def _grid_from_table(
    table: Any, x: str | None, y: str | None, misfit: str | None
) -> tuple[str, str, str, np.ndarray, np.ndarray, np.ndarray]:
    """Columns of a table (pandas-like or mapping of columns) as x, y, misfit arrays.

    Rows whose misfit is missing (failed runs) are dropped.
    """
    columns = [str(c) for c in (table.columns if hasattr(table, "columns") else table.keys())]
    if misfit is None:
        misfit = next(
            (c for c in ("misfit", "chisqr_per_point", "chisqr") if c in columns), "misfit"
        )
    if misfit not in columns:
        raise ValueError(f"no misfit column {misfit!r}; columns: {columns}")

    def numeric(name: str) -> np.ndarray | None:
        try:
            return np.asarray(table[name], dtype=float)
        except (TypeError, ValueError):
            return None

    params = [
        c
        for c in columns
        if not c.startswith(_NOT_PARAMETERS) and c != misfit and numeric(c) is not None
    ]
    x = x or params[0]
    y = y or next(c for c in params if c != x)
    values = []
    for name in (x, y, misfit):
        column = numeric(name)
        if column is None:
            raise TypeError(f"column {name!r} is not numeric")
        values.append(column)
    keep = np.all([np.isfinite(v) for v in values], axis=0)
    px, py, pm = (v[keep] for v in values)
    return x, y, misfit, px, py, pm


def misfit_map(
    data: Any,
    x: str | None = None,
    y: str | None = None,
    *,
    misfit: str | None = None,
    log_misfit: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Misfit of a parameter sweep over two parameters, its minimum starred.

    Parameters
    ----------
    data : xarray.DataArray or table
        A 2-D DataArray (its two dims are the parameters) or a table (pandas DataFrame or
        mapping of equal-length columns) with parameter columns and a misfit column, such
        as a sweep's ``table.csv`` read with :func:`pandas.read_csv` (failed rows dropped).
        A regular table grid is drawn as cells, scattered points as filled contours.
    x, y : str, optional
        Parameter names for the axes; default the first two dims / parameter columns.
    misfit : str, optional
        Name of the misfit column in a table; default the first of ``misfit``,
        ``chisqr_per_point``, ``chisqr`` (the columns of a :mod:`caitlab.sweep` table).
    log_misfit : bool
        Colour by log10 of the misfit.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = get_ax(ax, figsize=(5.6, 4.4))
    if hasattr(data, "dims") and len(data.dims) == 2:
        x = x or data.dims[1]
        y = y or next(d for d in data.dims if d != x)
        grid = np.asarray(data.transpose(y, x).values, dtype=float)
        xv, yv = np.asarray(data[x].values, float), np.asarray(data[y].values, float)
        xs, ys = np.meshgrid(xv, yv)
        label = data.name or misfit or "misfit"
        px, py, pm = xs.ravel(), ys.ravel(), grid.ravel()
    else:
        x, y, label, px, py, pm = _grid_from_table(data, x, y, misfit)
    shown = np.log10(np.maximum(pm, np.finfo(float).tiny)) if log_misfit else pm
    ux, uy = np.unique(px), np.unique(py)
    mesh: QuadMesh | TriContourSet
    if ux.size * uy.size == px.size and px.size > 1:
        grid = np.full((uy.size, ux.size), np.nan)
        grid[np.searchsorted(uy, py), np.searchsorted(ux, px)] = shown
        mesh = ax.pcolormesh(ux, uy, grid, shading="nearest", cmap="viridis_r")
    else:
        mesh = ax.tricontourf(px, py, shown, levels=20, cmap="viridis_r")
        ax.plot(px, py, ".", ms=2, color="0.3")
    best = int(np.nanargmin(pm))
    ax.plot(
        px[best],
        py[best],
        "*",
        ms=14,
        mfc="w",
        mec="k",
        label=f"minimum {pm[best]:.3g} at ({px[best]:.3g}, {py[best]:.3g})",
    )
    for axis, values in (("x", ux), ("y", uy)):
        if values.min() > 0 and values.max() / values.min() > 20:
            getattr(ax, f"set_{axis}scale")("log")
    colourbar = ax.figure.colorbar(mesh, ax=ax)
    colourbar.set_label(f"log$_{{10}}$ {label}" if log_misfit else label)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(fontsize="small", loc="best")
    return ax


def corner(
    samples: np.ndarray,
    names: Sequence[str],
    *,
    truths: Sequence[float] | None = None,
    bins: int = 30,
    fig: Any = None,
) -> np.ndarray:
    """A corner plot of MCMC samples: histograms on the diagonal, 2-D histograms below.

    Parameters
    ----------
    samples : ndarray, shape (n, k)
        Posterior samples of k parameters (flattened chains).
    names : sequence of str
        The k parameter names (with units).
    truths : sequence of float, optional
        Values to mark (e.g. the best fit).
    bins : int
        Histogram bins per parameter.
    fig : matplotlib.figure.Figure, optional
        Figure to draw in (emptied); default a new one.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (k, k)
        Axes above the diagonal are switched off.
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    _n, k = samples.shape
    if len(names) != k:
        raise ValueError(f"{k} parameters in samples but {len(names)} names")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2.2 * k + 0.8, 2.2 * k + 0.8), layout="constrained")
    fig.clear()
    axes = fig.subplots(k, k, squeeze=False)
    ranges = [_range(samples[:, i]) for i in range(k)]
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(samples[:, i], bins=bins, range=ranges[i], histtype="step", color="k")
                q = np.percentile(samples[:, i], [16, 50, 84])
                for value in q:
                    ax.axvline(value, color="k", ls="--", lw=0.8)
                ax.set_title(
                    f"{names[i]} = {q[1]:.3g} +{q[2] - q[1]:.2g} -{q[1] - q[0]:.2g}",
                    fontsize="small",
                )
                ax.set_yticks([])
            else:
                ax.hist2d(
                    samples[:, j],
                    samples[:, i],
                    bins=bins,
                    range=[ranges[j], ranges[i]],
                    cmap="Greys",
                )
                ax.set_ylim(ranges[i])
            ax.set_xlim(ranges[j])
            if truths is not None:
                ax.axvline(truths[j], color="tab:blue", lw=1)
                if i != j:
                    ax.axhline(truths[i], color="tab:blue", lw=1)
                    ax.plot(truths[j], truths[i], "s", color="tab:blue", ms=3)
            if i == k - 1:
                ax.set_xlabel(names[j])
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
            elif i != j:
                ax.set_yticklabels([])
    return axes


def _range(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    if high <= low:
        pad = abs(low) * 1e-3 or 1e-3
        return low - pad, high + pad
    return low, high


__all__ = ["corner", "misfit_map"]
