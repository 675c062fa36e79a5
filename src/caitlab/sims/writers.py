"""Writers: SurfaceLab-layout depth-profile exports and fraction tables."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.profile import SimsProfile

_DATA_POINT = "Data Point #"


def _g(value: float) -> str:
    """Format like SurfaceLab (C ``%g``, 6 significant digits, ``inf``/``nan``) when that
    reads back as the same float, else with the shortest digits that do (``repr``)."""
    if math.isnan(value):
        return "nan"
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


def _exact(values: np.ndarray) -> list[str]:
    """Shortest decimal texts that read back as exactly these floats."""
    return [repr(float(v)) for v in values]


def depth_nm_text(depth_m: np.ndarray) -> list[str]:
    """Depths in nm as decimal texts that a reader multiplying by 1e-9 turns back into
    exactly ``depth_m`` (the nearest float of ``depth_m * 1e9`` is tried first, then its
    neighbours)."""
    depth = np.asarray(depth_m, dtype=float)
    nm = depth * 1e9
    for step in (np.inf, -np.inf, np.inf, -np.inf):
        off = nm * 1e-9 != depth
        if not off.any():
            break
        trial = np.nextafter(nm[off], step)
        nm[off] = np.where(trial * 1e-9 == depth[off], trial, nm[off])
    return _exact(nm)


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

    def rows(start: int, stop: int) -> str:
        out = []
        for i in range(start, stop):
            lead = [str(int(columns[0][i]))] + [_g(float(col[i])) for col in columns[1:]]
            cells = lead + [_g(float(v)) for v in profile.counts[i]]
            out.append("\t".join(cells) + "\t\r\n")
        return "".join(out)

    pieces = itertools.chain(
        ["\r\n".join(lines) + "\r\n"],
        (
            rows(start, min(start + 5000, profile.n_points))
            for start in range(0, profile.n_points, 5000)
        ),
    )
    return write_atomically(path, pieces, encoding="ascii")


def write_fractions_csv(path: str | PathLike[str], fractions: Any) -> Path:
    """Write eq. (1) fractions as CSV: ``depth_nm``, one column per species, then
    ``<species>_sigma`` (their standard deviations) where known.

    Every number is written with the shortest digits that read back as the same float
    (Python's ``repr``), so the table round-trips exactly: fractions and sigmas are the same
    floats, and the depths read back (as ``depth_nm * 1e-9``) as the same metres, however
    many points there are. The sigma columns carry the counting weights to a fit fed from
    the CSV (:func:`caitlab.fit.read_fractions_table`). The file is written to a temporary
    name and renamed, so an existing file is replaced atomically.

    Parameters
    ----------
    path : str or path-like
        Output file.
    fractions : xarray.Dataset or xarray.DataArray
        A dataset from :func:`~caitlab.sims.processing.process_profile` (its ``fraction``
        and ``fraction_sigma`` variables are written) or a DataArray with dims
        ``("species", "depth")``, depth in m.

    Returns
    -------
    Path
    """
    has_vars = hasattr(fractions, "data_vars")
    data = fractions["fraction"] if has_vars else fractions
    data = data.transpose("species", "depth")
    species = [str(s) for s in data["species"].values]
    columns = [np.asarray(data)]
    headings = ["depth_nm", *species]
    if has_vars and "fraction_sigma" in fractions:
        columns.append(np.asarray(fractions["fraction_sigma"].transpose("species", "depth")))
        headings += [f"{s}_sigma" for s in species]
    values = np.concatenate(columns)
    depth_m = np.asarray(data["depth"], dtype=float)

    def chunks() -> Any:
        yield ",".join(headings) + "\n"
        for start in range(0, depth_m.size, 50_000):
            part = slice(start, start + 50_000)
            texts = [_exact(row) for row in values[:, part]]
            cells = zip(depth_nm_text(depth_m[part]), *texts, strict=True)
            yield "".join(",".join(row) + "\n" for row in cells)

    return write_atomically(path, chunks())


def write_atomically(
    path: str | PathLike[str], text: str | Iterable[str], encoding: str = "utf-8"
) -> Path:
    """Write ``text`` (a string or pieces of one) to a temporary file next to ``path``, then
    rename it over ``path``.

    Readers of ``path`` see the old file or the new one, never a part.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding=encoding, errors="replace", newline="") as handle:
            for piece in [text] if isinstance(text, str) else text:
                handle.write(piece)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out
