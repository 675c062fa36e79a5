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

    Columns named ``<species>_sigma`` (or ``sigma_<species>``) hold standard deviations;
    without them the fallback of the module docstring is used, with ``counts``.

    Parameters
    ----------
    path : path-like
        The table (read with :func:`caitlab.sims.read_table`).
    stage : str
        Stage after which it was measured.
    counts : float, optional
        Counts per point for the fallback weights.
    **options
        ``response``, ``name`` for :class:`MeasuredProfile`.
    """
    from caitlab.sims import read_table

    table = read_table(path)
    if table.depth_m is None:
        raise ValueError(f"{path}: the table needs a depth column such as 'depth_nm'")
    columns = {name: table.channel(k) for k, name in enumerate(table.channel_names)}
    sigma_of = {}
    for name in list(columns):
        for base in (name.removesuffix("_sigma"), name.removeprefix("sigma_")):
            if base != name:
                sigma_of[base] = columns.pop(name)
                break
    if counts is not None:
        options["fallback_counts"] = counts
    return MeasuredProfile(stage, np.asarray(table.depth_m), columns, sigma_of, **options)


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


__all__ = [
    "FALLBACK_COUNTS",
    "FALLBACK_FLOOR",
    "MeasuredCharge",
    "MeasuredProfile",
    "fallback_sigma",
    "profile_from_dataset",
    "read_fractions_table",
    "write_fractions_table",
]
