"""Helpers shared by the figure modules: stages, times, depth ranges, broadening, styles."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes

    from caitlab.experiment import Experiment

#: colours of the species in every figure (the paper: Li blue, Rb green, Cs purple)
SPECIES_COLOURS = {"Li": "tab:blue", "Rb": "tab:green", "Cs": "tab:purple", "K": "tab:orange",
                   "Na": "tab:olive"}
_FALLBACK_COLOURS = ("tab:red", "tab:brown", "tab:pink", "tab:cyan", "tab:gray")
STAGE_STYLES = ("-", "--", ":", "-.")
SECONDS_PER_HOUR = 3600.0

#: broadening of fractions: ``response(x_m, fractions) -> fractions`` on the same depths
Response = Callable[[np.ndarray, np.ndarray], np.ndarray]


def species_colour(name: str, index: int = 0) -> str:
    """The colour of species ``name`` (fixed for the alkali ions, else by ``index``)."""
    return SPECIES_COLOURS.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])


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


def stage_names(ds: xr.Dataset) -> list[str]:
    """Stage names in run order."""
    if "stage_names" in ds.attrs:
        return list(json.loads(ds.attrs["stage_names"]))
    return list(dict.fromkeys(strings(ds["stage"].values)))


def stage_bounds(ds: xr.Dataset) -> list[tuple[str, float, float]]:
    """(name, start s, end s) of each stage, times from the start of the first stage."""
    names = stage_names(ds)
    if "stage_starts" in ds.attrs and "stage_durations" in ds.attrs:
        starts = json.loads(ds.attrs["stage_starts"])
        durations = json.loads(ds.attrs["stage_durations"])
        return [(n, float(s), float(s + d)) for n, s, d in zip(names, starts, durations)]
    time, stage = np.asarray(ds["time"].values), strings(ds["stage"].values)
    bounds, start = [], 0.0
    for name in names:
        end = float(max(t for t, s in zip(time, stage) if s == name))
        bounds.append((name, start, end))
        start = end
    return bounds


def stage_end_index(ds: xr.Dataset, name: str) -> int:
    """Index along ``time`` of the last saved state of stage ``name``."""
    hits = [i for i, s in enumerate(strings(ds["stage"].values)) if s == name]
    if not hits:
        raise ValueError(f"no stage {name!r} in the result; stages: {stage_names(ds)}")
    return hits[-1]


def time_indices(ds: xr.Dataset, times: Sequence[float | str] | float | str | None) -> list[int]:
    """Indices along ``time`` for ``times``: stage names (their ends) or seconds (nearest).

    ``None`` means the end of every stage.
    """
    if times is None:
        return [stage_end_index(ds, name) for name in stage_names(ds)]
    if isinstance(times, (str, float, int)):
        times = [times]
    saved = np.asarray(ds["time"].values, dtype=float)
    indices = []
    for t in times:
        if isinstance(t, str):
            indices.append(stage_end_index(ds, t))
        else:
            indices.append(int(np.argmin(np.abs(saved - float(t)))))
    return indices


def time_label(ds: xr.Dataset, index: int) -> str:
    """A legend label for saved state ``index``: 'after Rb-CAIT' or 'Rb-CAIT, 2.5 h'."""
    stage = strings(ds["stage"].values)[index]
    if index == stage_end_index(ds, stage):
        return f"after {stage}"
    return f"{stage}, {format_duration(float(ds['time'].values[index]))}"


def format_duration(seconds: float) -> str:
    """Seconds as a short human duration: '12 ms', '3.4 s', '25 min', '23.6 h'."""
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120.0:
        return f"{seconds:.3g} s"
    if seconds < 2 * SECONDS_PER_HOUR:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / SECONDS_PER_HOUR:.3g} h"


def fractions(ds: xr.Dataset) -> np.ndarray:
    """density / n0, shape (time, species, x)."""
    return np.asarray(ds["density"].transpose("time", "species", "x").values) / float(
        ds.attrs["n0"]
    )


def zone_depth(ds: xr.Dataset, level: float = 1e-3, minimum: float = 20e-9) -> float:
    """Depth (m) beyond which no saved state differs from its bulk value by more than ``level``.

    Used as the default depth range of profile figures: the replacement zone with a margin.
    """
    frac = fractions(ds)
    changed = np.abs(frac - frac[:, :, -1:]) > level
    deep = np.asarray(ds["x"].values)[np.any(changed, axis=(0, 1))]
    depth = float(deep.max()) if deep.size else 0.0
    return max(1.3 * depth, minimum)


@lru_cache(maxsize=8)
def _experiment_from_toml(text: str) -> Experiment:
    from caitlab.config import experiment_from_text

    return experiment_from_text(text, source="result.nc config_toml")


def experiment(ds: xr.Dataset) -> Experiment:
    """The :class:`~caitlab.experiment.Experiment` that produced ``ds`` (from its TOML)."""
    if "config_toml" not in ds.attrs:
        raise ValueError("the result carries no config_toml attribute: cannot rebuild its models")
    return _experiment_from_toml(ds.attrs["config_toml"])


def gaussian_response(rms_nm: float) -> Response:
    """A :data:`Response`: Gaussian broadening of ``rms_nm`` nm, as the SIMS comparison uses.

    Delegates to :func:`caitlab.sims.apply_response` (mirrored at the surface, inventory kept).
    """
    from caitlab.sims import GaussianResponse, apply_response

    def respond(x: np.ndarray, values: np.ndarray) -> np.ndarray:
        return apply_response(x, values, x, GaussianResponse(rms_nm * 1e-9))

    return respond


def measured_fractions(measured: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Depth (m) and fractions per species from a measured profile in any accepted form.

    Accepted: a mapping ``{"depth_m": array, "Li": array, ...}``; an xarray Dataset with a
    ``fraction`` variable of dims (species, depth) (from :mod:`caitlab.sims`); a DataArray
    with dims (species, depth); a Dataset with one variable per species on ``depth``.
    """
    if isinstance(measured, Mapping) and "depth_m" in measured:
        depth = np.asarray(measured["depth_m"], dtype=float)
        return depth, {str(k): np.asarray(v, dtype=float) for k, v in measured.items()
                       if k != "depth_m"}
    data = measured
    if hasattr(data, "data_vars") and "fraction" in data.data_vars:
        data = data["fraction"]
    if hasattr(data, "dims") and "species" in data.dims:
        depth_name = next(d for d in data.dims if d != "species")
        depth = np.asarray(data[depth_name].values, dtype=float)
        return depth, {s: np.asarray(data.sel(species=s).values, dtype=float)
                       for s in strings(data["species"].values)}
    if hasattr(data, "data_vars"):
        depth_name = "depth" if "depth" in data.coords else next(iter(data.dims))
        depth = np.asarray(data[depth_name].values, dtype=float)
        return depth, {str(k): np.asarray(v.values, dtype=float) for k, v in data.data_vars.items()
                       if v.dims == (depth_name,)}
    raise TypeError(
        "measured profile: give a mapping with 'depth_m' and one array per species, or an "
        f"xarray object with dims (species, depth); got {type(measured).__name__}"
    )


def mark_stages(ax: Axes, ds: xr.Dataset, scale: float = 1.0, label: bool = True) -> None:
    """Dotted vertical lines at stage boundaries and stage names at the top of ``ax``."""
    for k, (name, start, end) in enumerate(stage_bounds(ds)):
        if k > 0:
            ax.axvline(start / scale, color="0.5", lw=0.8, ls=":")
        if label:
            ax.text((start + end) / 2 / scale, 0.98, name, transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize="small", color="0.3")
