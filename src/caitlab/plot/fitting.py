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


def _column(columns: Sequence[str], name: str) -> str:
    """The column ``name`` of a table, or the one whose header (``path [unit]``, as a
    sweep's ``table.csv`` writes it) names the parameter path ``name``."""
    from caitlab.params import column_path

    if name in columns:
        return name
    found = [c for c in columns if column_path(c) == name]
    if len(found) != 1:
        raise ValueError(f"no column {name!r}; columns: {list(columns)}")
    return found[0]


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
    x = _column(columns, x) if x else params[0]
    y = _column(columns, y) if y else next(c for c in params if c != x)
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
        as a sweep's ``table.csv`` read with :func:`caitlab.sweep.read_sweep_table` (failed
        rows dropped).
        A regular table grid is drawn as cells, scattered points as filled contours.
    x, y : str, optional
        Parameter names for the axes; default the first two dims / parameter columns. A
        table's column may be named by its parameter path without the unit of its header
        (``"stages.Cs-CAIT.diffusivity.Cs.d"`` for ``"stages.Cs-CAIT.diffusivity.Cs.d
        [m^2/s]"``); the axis is labelled with the header.
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
    names = {"x": x, "y": y}
    for axis, values in (("x", ux), ("y", uy)):
        if values.min() > 0 and values.max() / values.min() > 20:
            getattr(ax, f"set_{axis}scale")("log")
            getattr(ax, f"set_{axis}label")(names[axis])
        else:
            _linear_axis(getattr(ax, f"{axis}axis"), names[axis], _power_of_ten(values))
    colourbar = ax.figure.colorbar(mesh, ax=ax)
    colourbar.set_label(f"log$_{{10}}$ {label}" if log_misfit else label)
    ax.legend(fontsize="small", loc="best")
    return ax


def corner(
    samples: np.ndarray,
    names: Sequence[str],
    *,
    units: Sequence[str] | None = None,
    factors: Sequence[float] | None = None,
    truths: Sequence[float] | None = None,
    bins: int = 20,
    fig: Any = None,
) -> np.ndarray:
    """A corner plot of MCMC samples (the ``corner`` package): histograms on the diagonal
    with the 16/50/84 % quantiles in their titles, 2-D histograms below.

    A column whose values are tiny or huge is shown in a power of ten named in its label
    (``D_Cs ($10^{-23}$ m²/s)``), never as an offset text on the axis. The report's corner
    plot (:func:`caitlab.report.corner_figure`) is this one, in the report's display units.

    Parameters
    ----------
    samples : ndarray, shape (n, k)
        Posterior samples of k parameters (flattened chains).
    names : sequence of str
        The k parameter names.
    units : sequence of str, optional
        The unit of each parameter as shown (after ``factors``), put in its label.
    factors : sequence of float, optional
        Multiply each column (and its truth) by these before drawing, e.g. SI to display
        units (1e9 for metres shown in nm).
    truths : sequence of float, optional
        Values to mark (e.g. the best fit), in the units of ``samples``.
    bins : int
        Histogram bins per parameter.
    fig : matplotlib.figure.Figure, optional
        Figure to draw in (emptied); default a new pyplot figure.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (k, k)
        Axes above the diagonal are switched off.
    """
    import corner as corner_package

    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    _n, k = samples.shape
    units = [""] * k if units is None else list(units)
    scale = np.ones(k) if factors is None else np.asarray(factors, dtype=float)
    for given, what in ((names, "names"), (units, "units"), (scale, "factors")):
        if len(given) != k:
            raise ValueError(f"{k} parameters in samples but {len(given)} {what}")
    powers = [_power_of_ten(samples[:, i] * scale[i]) for i in range(k)]
    scale = scale * np.array([10.0**-power for power in powers])  # exact powers of ten
    shown = samples * scale
    labels = [_label(name, unit, power) for name, unit, power in zip(names, units, powers)]
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2.3 * k + 1.0, 2.3 * k + 1.0))
    fig.clear()
    corner_package.corner(
        shown,
        labels=labels,
        fig=fig,
        bins=bins,
        range=[_range(shown[:, i]) for i in range(k)],
        truths=None if truths is None else list(np.asarray(truths, dtype=float) * scale),
        quantiles=[0.16, 0.5, 0.84],
        show_titles=True,
        title_fmt=".3g",
        title_kwargs={"fontsize": 9},
        label_kwargs={"fontsize": 9},
    )
    axes = np.array(fig.axes).reshape(k, k)
    for i in range(k):
        for j in range(i + 1, k):
            axes[i, j].set_axis_off()
    return axes


def _power_of_ten(values: np.ndarray) -> int:
    """The power of ten of the median magnitude, 0 unless it is at least 3 (or at most -3)."""
    median = abs(float(np.median(values)))
    power = int(np.floor(np.log10(median))) if median > 0 and np.isfinite(median) else 0
    return power if abs(power) >= 3 else 0


def _linear_axis(axis: Any, name: str, power: int) -> None:
    """Label a linear axis ``name``; tiny or huge values are shown in ``10**power`` named in
    the label (``"… [$10^{-23}$ m^2/s]"``), never as an offset text on the axis."""
    if not power:
        axis.set_label_text(name)
        return
    from matplotlib.ticker import FuncFormatter

    from caitlab.params import column_path

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 10.0**power:g}"))
    path = column_path(name)
    if path == name:  # no unit in the name
        axis.set_label_text(_label(name, "", power))
        return
    unit = name[len(path) :].strip()[1:-1]
    axis.set_label_text(f"{path} [$10^{{{power}}}$ {unit}]")


def _label(name: str, unit: str, power: int) -> str:
    scale = f"$10^{{{power}}}$" if power else ""
    unit_text = " ".join(t for t in (scale, unit) if t)
    return f"{name} ({unit_text})" if unit_text else name


def _range(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    if high <= low:
        pad = abs(low) * 1e-3 or 1e-3
        return low - pad, high + pad
    return low, high


__all__ = ["corner", "misfit_map"]
