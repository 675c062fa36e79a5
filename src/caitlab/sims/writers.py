"""Writers: SurfaceLab-layout depth-profile exports and fraction tables."""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.profile import SimsProfile

_DATA_POINT = "Data Point #"


def _g(value: float) -> str:
    """Format like SurfaceLab (C ``%g``, 6 significant digits, ``inf``/``nan``)."""
    if math.isnan(value):
        return "nan"
    return f"{value:g}"


def write_surfacelab_export(path: str | PathLike[str], profile: SimsProfile) -> Path:
    """Write a profile in the IONTOF SurfaceLab text-export layout.

    The inverse of :func:`~caitlab.sims.readers.read_surfacelab`: ``#`` title line, names
    line, masses line (4 decimals or ``N/A``), header line, then one row per point with
    ``%g`` values; TAB separated, CRLF line endings, a trailing TAB on every line. Leading
    columns: ``Data Point #`` (from ``profile.extra`` or 1..n), ``Sputter Time (s)`` (or
    ``Depth (nm)`` if the profile has no sputter time), then any other extra columns such as
    ``Dose (ions)`` and ``Fluence (ions/cm^2)``.

    Parameters
    ----------
    path : str or path-like
        Output file.
    profile : SimsProfile
        The profile (intensities written as they are, e.g. Poisson corrected).

    Returns
    -------
    Path
        The path written.
    """
    if profile.sputter_time_s is None and profile.depth_m is None:
        raise SimsError("the profile has neither sputter time nor depth to write")
    headings: list[str] = [_DATA_POINT]
    columns: list[np.ndarray] = [
        np.asarray(profile.extra.get(_DATA_POINT, np.arange(1, profile.n_points + 1)))
    ]
    if profile.sputter_time_s is not None:
        headings.append("Sputter Time (s)")
        columns.append(np.asarray(profile.sputter_time_s))
    else:
        headings.append("Depth (nm)")
        columns.append(np.asarray(profile.depth_m) * 1e9)
    for key, value in profile.extra.items():
        if key != _DATA_POINT:
            headings.append(key)
            columns.append(np.asarray(value))
    n_lead = len(headings)
    masses = ["N/A" if not np.isfinite(m) else f"{m:.4f}" for m in profile.channel_masses]
    lines = [
        "# Profile Smoothing is Disabled",
        "#" + "\t" * n_lead + "\t".join(profile.channel_names) + "\t",
        "#" + "\t" * n_lead + "\t".join(masses) + "\t",
        "#" + "\t".join(headings) + "\t" + "\t".join(["Intensity"] * profile.n_channels) + "\t",
    ]
    for i in range(profile.n_points):
        lead = [str(int(columns[0][i]))] + [_g(float(col[i])) for col in columns[1:]]
        cells = lead + [_g(float(v)) for v in profile.counts[i]]
        lines.append("\t".join(cells) + "\t")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="ascii", errors="replace", newline="") as handle:
        handle.write("\r\n".join(lines) + "\r\n")
    return out


def write_fractions_csv(path: str | PathLike[str], fractions: Any) -> Path:
    """Write eq. (1) fractions as CSV: ``depth_nm`` then one column per species.

    Parameters
    ----------
    path : str or path-like
        Output file.
    fractions : xarray.Dataset or xarray.DataArray
        A dataset from :func:`~caitlab.sims.processing.process_profile` (its ``fraction``
        variable is written) or a DataArray with dims ``("species", "depth")``, depth in m.

    Returns
    -------
    Path
    """
    data = fractions["fraction"] if hasattr(fractions, "data_vars") else fractions
    data = data.transpose("species", "depth")
    depth_nm = np.asarray(data["depth"]) * 1e9
    species = [str(s) for s in data["species"].values]
    values = np.asarray(data)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = ["depth_nm," + ",".join(species)]
    for j, depth in enumerate(depth_nm):
        rows.append(f"{depth:.6g}," + ",".join(f"{v:.6g}" for v in values[:, j]))
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out
