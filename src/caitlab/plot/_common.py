"""Helpers shared by the figure modules: saved states, times, depth ranges, styles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result

from caitlab.plot.style import SPECIES_COLOURS, STAGE_STYLES, species_colour  # noqa: F401

SECONDS_PER_HOUR = 3600.0


def get_ax(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.2)) -> Axes:
    """``ax`` itself, or the axes of a new pyplot figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def new_figure(figsize: tuple[float, float]) -> Any:
    """A new constrained-layout Figure outside pyplot (batch output: no figure piles up)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def strings(values: Any) -> list[str]:
    """Decode an array of names (str or bytes) to a list of str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def saved_stages(result: Result) -> list[str]:
    """The stage of every saved state, in time order."""
    return strings(result.data["time_stage"].values)


def stage_end_index(result: Result, name: str) -> int:
    """Index along ``time`` of the last saved state of stage ``name``."""
    hits = [i for i, s in enumerate(saved_stages(result)) if s == name]
    if not hits:
        raise ValueError(f"no stage {name!r} in the result; stages: {result.stage_names}")
    return hits[-1]


def time_indices(result: Result, times: Sequence[float | str] | float | str | None) -> list[int]:
    """Indices along ``time`` for ``times``: stage names (their ends) or seconds (nearest).

    ``None`` means the end of every stage.
    """
    if times is None:
        return [stage_end_index(result, name) for name in result.stage_names]
    if isinstance(times, (str, float, int)):
        times = [times]
    saved = np.asarray(result.data["time"].values, dtype=float)
    indices = []
    for t in times:
        if isinstance(t, str):
            indices.append(stage_end_index(result, t))
        else:
            indices.append(int(np.argmin(np.abs(saved - float(t)))))
    return indices


def time_label(result: Result, index: int) -> str:
    """A legend label for saved state ``index``: 'after Rb-CAIT' or 'Rb-CAIT, 2.5 h'."""
    stage = saved_stages(result)[index]
    if index == stage_end_index(result, stage):
        return f"after {stage}"
    return f"{stage}, {format_duration(float(result.data['time'].values[index]))}"


def format_duration(seconds: float) -> str:
    """Seconds as a short human duration: '12 ms', '3.4 s', '25 min', '23.6 h'."""
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120.0:
        return f"{seconds:.3g} s"
    if seconds < 2 * SECONDS_PER_HOUR:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / SECONDS_PER_HOUR:.3g} h"


def fractions(result: Result) -> np.ndarray:
    """n_i/n0 of every saved state, shape (time, species, x)."""
    return np.asarray(result.data["fraction"].transpose("time", "species", "x").values)


def zone_depth(result: Result, level: float = 1e-3, minimum: float = 20e-9) -> float:
    """Depth (m) beyond which no saved state differs from its bulk value by more than ``level``.

    Used as the default depth range of profile figures: the replacement zone with a margin.
    """
    frac = fractions(result)
    changed = np.abs(frac - frac[:, :, -1:]) > level
    deep = np.asarray(result.mesh.centres)[np.any(changed, axis=(0, 1))]
    depth = float(deep.max()) if deep.size else 0.0
    return max(1.3 * depth, minimum)


def mark_stages(ax: Axes, result: Result, scale: float = 1.0, label: bool = True) -> None:
    """Dotted vertical lines at stage boundaries and stage names at the top of ``ax``, at
    the middle of each stage's visible span (the geometric middle on a log axis)."""
    log = ax.get_xscale() == "log"
    left = ax.get_xlim()[0]
    for k, (name, start, end) in enumerate(result.stage_bounds):
        if k > 0:
            ax.axvline(start / scale, color="0.5", lw=0.8, ls=":")
        if label:
            low, high = start / scale, end / scale
            middle = float(np.sqrt(max(low, left) * high)) if log else (low + high) / 2
            ax.text(
                middle,
                0.98,
                name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize="small",
                color="0.3",
            )
