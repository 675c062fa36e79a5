"""Measured observations for a fit: depth profiles of fractions and transferred charges.

The profile type is :class:`caitlab.sims.MeasuredProfile` (depths, fractions, sigmas, the
stage, the instrument response; its weights are described in :mod:`caitlab.sims.measured`);
:func:`read_fractions_table` reads one from a table. Only the relative weights matter for the
best values: the reported standard errors are scaled by the reduced chi-square (lmfit's
``scale_covar``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from caitlab.sims.measured import (
    FALLBACK_COUNTS,
    FALLBACK_FLOOR,
    MeasuredProfile,
    fallback_sigma,
    profile_from_dataset,
)


def read_fractions_table(
    path: str | os.PathLike, stage: str, *, counts: float | None = None, **options: Any
) -> MeasuredProfile:
    """Read a CSV/TSV of fractions: ``depth_nm``, one column per species, optional sigmas.

    The one reader of a fractions table for every command (``fit``, ``compare``, the
    figures' ``--data``): what a table of fractions is, is
    :func:`caitlab.sims.measured.fractions_table_problem` (columns in [0, 1] within the
    rounding of the digits written; counts are refused). Columns named
    ``<species>_sigma`` (or ``sigma_<species>``) hold standard deviations; without them
    the fallback of the module docstring is used, with ``counts``.

    Parameters
    ----------
    path : path-like
        The table (read with :func:`caitlab.sims.read_table`).
    stage : str
        Stage after which it was measured.
    counts : float, optional
        Counts per point for the fallback weights.
    **options
        ``response``, ``name``, ``surface`` for :class:`MeasuredProfile`.

    Raises
    ------
    ValueError
        The table is not one of fractions (the reason is given).
    """
    from caitlab.sims import read_table
    from caitlab.sims.measured import fractions_table_problem, measured_from_table

    table = read_table(path)
    problem = fractions_table_problem(table)
    if problem is not None:
        raise ValueError(f"{path}: {problem}")
    if counts is not None:
        options["fallback_counts"] = counts
    profile = measured_from_table(table, stage, **options)
    assert profile is not None
    return profile


def write_fractions_table(path: str | os.PathLike, profile: MeasuredProfile) -> None:
    """Write a profile as CSV: ``depth_nm``, fractions, then ``<species>_sigma`` columns."""
    names = list(profile.species)
    header = ["depth_nm", *names, *(f"{n}_sigma" for n in names)]
    table = np.column_stack(
        [profile.depth_m * 1e9]
        + [profile.fractions[n] for n in names]
        + [profile.sigma[n] for n in names]
    )
    np.savetxt(path, table, delimiter=",", header=",".join(header), comments="", fmt="%.8g")


def estimated_statistics(dataset: Any) -> str | None:
    """Why the counting uncertainties of a processed SIMS profile are only estimates, or None.

    They are estimates when the shots per scan are unknown (the Poisson law of the raw counts
    is assumed) or when the export was already Poisson corrected (the corrected intensities
    are not counts).
    """
    notes = str(getattr(dataset, "attrs", {}).get("notes", "")).lower()
    if "fraction_sigma" not in getattr(dataset, "data_vars", {}):
        return "no counting uncertainties: fallback weights"
    if "shots per scan unknown" in notes:
        return "shots per scan unknown: counting uncertainties estimated"
    if "already" in notes and "corrected" in notes:
        return "export already Poisson corrected: counting uncertainties estimated"
    return None


@dataclass(frozen=True)
class MeasuredCharge:
    """Charge through the back electrode measured during one stage.

    Attributes
    ----------
    stage : str
        Stage name.
    charge_C : float
        Measured charge, C.
    sigma_C : float
        Its standard deviation, C.
    """

    stage: str
    charge_C: float
    sigma_C: float

    def __post_init__(self) -> None:
        if not self.sigma_C > 0:
            raise ValueError(f"charge sigma must be positive, got {self.sigma_C} C")


@dataclass(frozen=True, eq=False)
class MeasuredTrace:
    """The electrometer log as a fit observation: the whole I(t) or Q(t) curve.

    Its residual is ``(model - measured) / sigma`` at every logged time inside the run, the
    model interpolated linearly in the simulated traces; ``sigma`` is the curve's own weight.

    Attributes
    ----------
    log : caitlab.electrometer.ElectrometerLog
        The measured curve.
    quantity : {"current", "charge"}
        Which curve is fitted.
    sigma : float
        Standard deviation of one logged point, A (current) or C (charge).
    name : str
        Label in reports.
    """

    log: Any
    quantity: str = "current"
    sigma: float = 0.0
    name: str = "electrometer"

    def __post_init__(self) -> None:
        if self.quantity not in ("current", "charge"):
            raise ValueError(f"quantity must be 'current' or 'charge', got {self.quantity!r}")
        if not self.sigma > 0:
            unit = "A" if self.quantity == "current" else "C"
            raise ValueError(f"electrometer sigma must be positive, got {self.sigma} {unit}")

    @property
    def time_s(self) -> np.ndarray:
        return self.log.time_s

    @property
    def values(self) -> np.ndarray:
        """Measured values, A or C."""
        return self.log.values(self.quantity)

    def model(self, result: Any) -> np.ndarray:
        """The simulated curve at the logged times (A or C); NaN outside the run."""
        traces = result.traces
        time = np.asarray(traces["time"].values, dtype=float)
        model = np.asarray(traces[self.quantity].values, dtype=float)
        out = np.interp(self.time_s, time, model)
        return np.where((self.time_s < time[0]) | (self.time_s > time[-1]), np.nan, out)

    def residual(self, result: Any) -> np.ndarray:
        """``(model - measured) / sigma`` at the logged times inside the run."""
        diff = (self.model(result) - self.values) / self.sigma
        return np.where(np.isfinite(diff), diff, 0.0)


__all__ = [
    "FALLBACK_COUNTS",
    "FALLBACK_FLOOR",
    "MeasuredCharge",
    "MeasuredProfile",
    "MeasuredTrace",
    "estimated_statistics",
    "fallback_sigma",
    "profile_from_dataset",
    "read_fractions_table",
    "write_fractions_table",
]
