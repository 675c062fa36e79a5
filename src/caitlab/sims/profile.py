"""The frozen depth-profile object that every reader returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError


def _frozen_array(values: Any, dtype: Any = float) -> np.ndarray:
    """A read-only copy of ``values``; a read-only array of the right type is kept as it is
    (nobody can change it, and a reader's large block is not copied)."""
    if (
        isinstance(values, np.ndarray)
        and not values.flags.writeable
        and values.dtype == np.dtype(dtype)
    ):
        return values
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class SimsMetadata:
    """What is known about where a profile came from.

    Attributes
    ----------
    file : str or None
        Path of the source file (``None`` for data built in memory).
    format : str
        ``"surfacelab"``, ``"table"``, ``"ita"`` or ``"synthetic"``.
    polarity : str or None
        ``"+"`` (positive secondary ions), ``"-"`` or ``None`` when unknown.
    shots_per_scan : float or None
        Primary-ion shots per scan N used by the Poisson (dead-time) correction, if known.
    shots_per_scan_estimated : bool
        True when ``shots_per_scan`` was estimated from the corrected values themselves.
    poisson_corrected : bool or None
        True when the intensities are already Poisson-corrected (SurfaceLab's default),
        False for raw counts, ``None`` when unknown.
    intensity_label : str
        Column heading of the intensities in the source (e.g. ``"Intensity"``).
    comments : tuple of str
        Free-text header lines of the source (without the leading ``#``).
    """

    file: str | None = None
    format: str = "unknown"
    polarity: str | None = None
    shots_per_scan: float | None = None
    shots_per_scan_estimated: bool = False
    poisson_corrected: bool | None = None
    intensity_label: str = "Intensity"
    comments: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class SimsProfile:
    """A ToF-SIMS depth profile: intensities per channel versus sputter time and/or depth.

    Arrays are copied and made read-only on construction.

    Attributes
    ----------
    counts : ndarray, shape (n_points, n_channels)
        Intensity of each channel at each data point, in counts per data point (Poisson
        corrected or raw, see ``metadata.poisson_corrected``). May contain ``inf``/``nan``
        (e.g. ratio columns); processing steps check the channels they use.
    channel_names : tuple of str
        Channel (peak) names as in the source, e.g. ``"^7Li+"``; not necessarily unique.
    channel_masses : ndarray, shape (n_channels,)
        Peak centre masses in u; ``nan`` where the source has none (``N/A``).
    sputter_time_s : ndarray or None, shape (n_points,)
        Sputter time in s, strictly increasing.
    depth_m : ndarray or None, shape (n_points,)
        Depth in m, if the source has one or after depth calibration.
    metadata : SimsMetadata
        Source file, polarity, shots per scan, ...
    extra : Mapping[str, ndarray]
        Other per-point columns of the source (``"Data Point #"``, ``"Dose (ions)"``,
        ``"Fluence (ions/cm^2)"``, ...), keyed by their heading.
    source_lines : ndarray of int, shape (n_points,)
        1-based line number of each data point in the source file (0 if none).
    source_columns : tuple of int
        1-based column number of each channel in the source file (0 if none).
    """

    counts: np.ndarray
    channel_names: tuple[str, ...]
    channel_masses: np.ndarray
    sputter_time_s: np.ndarray | None = None
    depth_m: np.ndarray | None = None
    metadata: SimsMetadata = field(default_factory=SimsMetadata)
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    source_lines: np.ndarray | None = None
    source_columns: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        counts = _frozen_array(self.counts)
        if counts.ndim != 2:
            raise SimsError(f"counts must be 2-D (points, channels), got shape {counts.shape}")
        n_points, n_channels = counts.shape
        object.__setattr__(self, "counts", counts)
        names = tuple(str(name) for name in self.channel_names)
        if len(names) != n_channels:
            raise SimsError(f"{len(names)} channel names for {n_channels} channels")
        object.__setattr__(self, "channel_names", names)
        masses = _frozen_array(
            [np.nan if m is None else m for m in np.atleast_1d(self.channel_masses)]
            if np.size(self.channel_masses)
            else np.full(n_channels, np.nan)
        )
        if masses.shape != (n_channels,):
            raise SimsError(f"{masses.size} channel masses for {n_channels} channels")
        object.__setattr__(self, "channel_masses", masses)
        for name in ("sputter_time_s", "depth_m"):
            value = getattr(self, name)
            if value is not None:
                array = _frozen_array(value)
                if array.shape != (n_points,):
                    raise SimsError(f"{name} has shape {array.shape}, expected ({n_points},)")
                object.__setattr__(self, name, array)
        extra = {}
        for key, value in dict(self.extra).items():
            array = _frozen_array(value)
            if array.shape != (n_points,):
                raise SimsError(f"column {key!r} has shape {array.shape}, expected ({n_points},)")
            extra[str(key)] = array
        object.__setattr__(self, "extra", MappingProxyType(extra))
        lines = np.zeros(n_points, int) if self.source_lines is None else self.source_lines
        lines = _frozen_array(lines, dtype=int)
        if lines.shape != (n_points,):
            raise SimsError(f"source_lines has shape {lines.shape}, expected ({n_points},)")
        object.__setattr__(self, "source_lines", lines)
        columns = (0,) * n_channels if self.source_columns is None else self.source_columns
        columns = tuple(int(c) for c in columns)
        if len(columns) != n_channels:
            raise SimsError(f"{len(columns)} source columns for {n_channels} channels")
        object.__setattr__(self, "source_columns", columns)

    @property
    def n_points(self) -> int:
        """Number of data points (rows)."""
        return int(self.counts.shape[0])

    @property
    def n_channels(self) -> int:
        """Number of channels (intensity columns)."""
        return int(self.counts.shape[1])

    @property
    def file(self) -> str | None:
        """Source file path, if any."""
        return self.metadata.file

    def channel(self, index: int) -> np.ndarray:
        """Intensities of the channel at ``index`` (read-only view), counts per point."""
        return self.counts[:, index]

    def with_(self, **changes: Any) -> SimsProfile:
        """Return a copy with some fields replaced (arrays are validated again)."""
        return replace(self, **changes)

    def with_metadata(self, **changes: Any) -> SimsProfile:
        """Return a copy whose metadata has some fields replaced."""
        return replace(self, metadata=replace(self.metadata, **changes))

    def select_points(self, mask_or_index: Any) -> SimsProfile:
        """Return the profile restricted to some data points (boolean mask or indices)."""
        index = np.asarray(mask_or_index)
        assert self.source_lines is not None  # __post_init__ fills it
        return replace(
            self,
            counts=self.counts[index],
            sputter_time_s=None if self.sputter_time_s is None else self.sputter_time_s[index],
            depth_m=None if self.depth_m is None else self.depth_m[index],
            extra={key: value[index] for key, value in self.extra.items()},
            source_lines=self.source_lines[index],
        )

    def to_xarray(self) -> Any:
        """The intensities as an :class:`xarray.DataArray` with dims ``("point", "channel")``.

        Coordinates: ``channel`` (index), ``channel_name``, ``mass`` (u), ``sputter_time``
        (s) and ``depth`` (m) where known.
        """
        import xarray as xr

        coords: dict[str, Any] = {
            "point": np.arange(self.n_points),
            "channel": np.arange(self.n_channels),
            "channel_name": ("channel", list(self.channel_names)),
            "mass": ("channel", np.asarray(self.channel_masses), {"units": "u"}),
        }
        if self.sputter_time_s is not None:
            coords["sputter_time"] = ("point", self.sputter_time_s, {"units": "s"})
        if self.depth_m is not None:
            coords["depth"] = ("point", self.depth_m, {"units": "m"})
        return xr.DataArray(
            np.asarray(self.counts),
            dims=("point", "channel"),
            coords=coords,
            name="intensity",
            attrs={
                "units": "counts",
                "long_name": self.metadata.intensity_label,
                "file": self.metadata.file or "",
                "polarity": self.metadata.polarity or "",
                "poisson_corrected": str(self.metadata.poisson_corrected),
            },
        )
