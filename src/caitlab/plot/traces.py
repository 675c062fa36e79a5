"""Boundary traces versus time: back-electrode current, transferred charge, surface potential."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import SECONDS_PER_HOUR, get_ax, mark_stages
from caitlab.plot.style import CHARGE_COLOUR, align_zero, legend_outside

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result

#: right margin of linear time axes, so that markers at the last time are not cut
_TIME_MARGIN = 1.03


def _hours(result: Result, log_time: bool) -> tuple[np.ndarray, np.ndarray]:
    """Trace times in h and a mask of the points to draw (t > 0 on a log axis)."""
    hours = np.asarray(result.traces["time"].values, dtype=float) / SECONDS_PER_HOUR
    return hours, (hours > 0) if log_time else np.ones(hours.shape, bool)


def measured_stage_charges(
    result: Result, measured: Mapping[str, float] | Sequence[float]
) -> list[tuple[str, float, float]]:
    """(stage, end time s, cumulative charge C) for measured charges per stage (C)."""
    bounds = result.stage_bounds
    if not isinstance(measured, Mapping):
        measured = {name: q for (name, _, _), q in zip(bounds, measured)}
    unknown = sorted(set(measured) - {b[0] for b in bounds})
    if unknown:
        raise ValueError(f"measured charges for unknown stages {unknown}")
    points, total = [], 0.0
    for name, _, end in bounds:
        if name not in measured:
            break
        total += float(measured[name])
        points.append((name, end, total))
    return points


def current_charge(
    result: Result,
    *,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
    electrometer: Any = None,
    log_time: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Back-electrode current (nA, left axis) and cumulative charge (mC, right axis) vs time.

    Parameters
    ----------
    result : caitlab.Result
        A run (its traces: every time step).
    measured_charges : mapping or sequence of float, optional
        Measured charge of each stage, C (by stage name, or in stage order); drawn as
        cumulative markers at the stage ends.
    electrometer : caitlab.electrometer.ElectrometerLog, optional
        The measured current and charge, drawn as thin grey (current) and dashed red
        (charge) lines over the simulated ones.
    log_time : bool
        Logarithmic time axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure. The charge goes on ``ax.twinx()``.

    Returns
    -------
    matplotlib.axes.Axes
        The current axes (the charge axes is its twin, in ``ax.figure.axes``).
    """
    ax = get_ax(ax)
    hours, keep = _hours(result, log_time)
    current = np.asarray(result.traces["current"].values) * 1e9
    charge = np.asarray(result.traces["charge"].values) * 1e3
    ax.plot(hours[keep], current[keep], color="k", label="current (simulated)")
    ax.set_ylabel("current $I$ (nA)")
    twin = ax.twinx()
    twin.plot(hours[keep], charge[keep], color=CHARGE_COLOUR, label="charge (simulated)")
    top = float(np.nanmax(current))
    if electrometer is not None:
        t_h = electrometer.time_s / SECONDS_PER_HOUR
        shown = t_h > 0 if log_time else np.ones(t_h.shape, bool)
        ax.plot(
            t_h[shown],
            electrometer.current_A[shown] * 1e9,
            color="0.45",
            lw=0.8,
            label="current (electrometer)",
        )
        twin.plot(
            t_h[shown],
            electrometer.charge_C[shown] * 1e3,
            color=CHARGE_COLOUR,
            lw=1.0,
            ls="--",
            label="charge (electrometer)",
        )
        top = max(top, float(np.nanmax(electrometer.current_A)) * 1e9)
    ax.set_ylim(min(0.0, float(np.nanmin(current))), 1.1 * max(top, 1e-12))
    if measured_charges is not None:
        points = measured_stage_charges(result, measured_charges)
        twin.plot(
            [p[1] / SECONDS_PER_HOUR for p in points],
            [p[2] * 1e3 for p in points],
            "s",
            mfc="none",
            color=CHARGE_COLOUR,
            label="charge (measured)",
            clip_on=False,
        )
    twin.set_ylabel("cumulative charge $Q$ (mC)", color=CHARGE_COLOUR)
    twin.tick_params(axis="y", colors=CHARGE_COLOUR)
    twin.set_ylim(bottom=min(0.0, twin.get_ylim()[0]))
    twin.set_ylim(top=twin.get_ylim()[1] * 1.05)
    align_zero(ax, twin)
    if log_time:
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, hours[-1] * _TIME_MARGIN)
    mark_stages(ax, result, scale=SECONDS_PER_HOUR)
    ax.set_xlabel("time (h)")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    legend_outside(
        twin, lines[0] + more[0], lines[1] + more[1], bbox_to_anchor=(1.15, 1.0)
    )  # right of the twin axis' labels
    return ax


def surface_potential(result: Result, *, log_time: bool = True, ax: Axes | None = None) -> Axes:
    """Surface potential (V) versus time (h), with the beam current landing (nA, twin axis).

    Parameters
    ----------
    result : caitlab.Result
        A run.
    log_time : bool
        Logarithmic time axis (default): shows the charging in the first seconds, which a
        linear axis of hours squeezes into its first pixel.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = get_ax(ax)
    hours, keep = _hours(result, log_time)
    ax.plot(
        hours[keep],
        np.asarray(result.traces["surface_potential"].values)[keep],
        color="k",
        label="surface potential",
    )
    ax.set_ylabel("surface potential $\\varphi_s$ (V)")
    top = float(np.nanmax(np.abs(result.traces["surface_potential"].values)))
    ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)  # a constant line clear of the frame
    if log_time:
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, hours[-1] * _TIME_MARGIN)
    if log_time:  # from 1 ms: the first microseconds of a step carry no information
        ax.set_xlim(left=max(float(hours[keep].min()), 1e-3 / SECONDS_PER_HOUR))
    mark_stages(ax, result, scale=SECONDS_PER_HOUR)
    ax.set_xlabel("time (h)")
    return ax


def traces(
    result: Result,
    *,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
    electrometer: Any = None,
    axes: Sequence[Axes] | None = None,
) -> np.ndarray:
    """Current and charge (top) and surface potential (bottom), on one linear time axis
    (hours, shared), each panel with the stage names.

    ``electrometer`` (an :class:`caitlab.electrometer.ElectrometerLog`) is overlaid on the
    current and charge.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The two panels.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(7.4, 6.0), layout="constrained")
        axes = fig.subplots(2, 1, sharex=True)
    current_charge(result, measured_charges=measured_charges, electrometer=electrometer, ax=axes[0])
    surface_potential(result, log_time=False, ax=axes[1])
    axes[0].set_xlabel("")  # the shared time axis is labelled once, below
    return np.asarray(axes)


__all__ = ["current_charge", "measured_stage_charges", "surface_potential", "traces"]
