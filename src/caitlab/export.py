"""Exports for the tools people plot in (Origin, Igor, Excel): plain CSV with units in the
column names, numbers written to round-trip exactly (``repr`` of a float, 17 significant
digits at most).

``fractions_<stage>.csv``: the final profile of a stage, ``depth_nm`` then ``<species>_fraction``
(n_i/n0, dimensionless) for every species. ``traces.csv``: every accepted time step,
``time_s, stage, current_A, charge_C, surface_potential_V, beam_current_A`` (charge cumulative
from the start of the first stage).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caitlab.results import write_atomic

if TYPE_CHECKING:
    from caitlab.results import Result


def _cell(value: Any) -> str:
    return repr(float(value)) if not isinstance(value, str) else value


def _write_csv(path: Path, header: list[str], rows: Any) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    text = buffer.getvalue()
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def stage_file_name(stage: str) -> str:
    """``fractions_<stage>.csv`` with characters unsafe in file names replaced."""
    return f"fractions_{re.sub(r'[^A-Za-z0-9_.-]+', '_', stage)}.csv"


def export_csv(result: Result, directory: str | os.PathLike) -> list[Path]:
    """Write the final profile of every stage and the boundary traces as CSV files.

    Parameters
    ----------
    result : caitlab.Result
        The run.
    directory : path-like
        Folder for the files (made if missing).

    Returns
    -------
    list of Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for record in result.stages:
        final = record.fractions.transpose("depth", "species")
        header = ["depth_nm", *(f"{s}_fraction" for s in record.species)]
        profile = ([d, *values] for d, values in zip(final["depth"].values, final.values))
        written.append(_write_csv(directory / stage_file_name(record.name), header, profile))
    traces = result.traces
    columns = ["current", "charge", "surface_potential", "beam_current"]
    header = ["time_s", "stage", "current_A", "charge_C", "surface_potential_V", "beam_current_A"]
    rows = zip(
        traces["time"].values,
        [str(s) for s in traces["stage"].values],
        *(traces[c].values for c in columns),
    )
    written.append(_write_csv(directory / "traces.csv", header, rows))
    return written


__all__ = ["export_csv", "stage_file_name"]
