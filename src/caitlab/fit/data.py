"""Measured observations for a fit: depth profiles of fractions and transferred charges.

A :class:`MeasuredProfile` is what the fit needs from a ToF-SIMS measurement, nothing more:
depths (m), the fraction of each species there, optionally their standard deviations, and
the stage after which the sample was measured. Readers of instrument files live in
:mod:`caitlab.sims`; :func:`read_fractions_table` and :func:`profile_from_dataset` adapt
their output.

Weights
-------
Where a profile carries counting uncertainties (``fraction_sigma`` of
:func:`caitlab.sims.process_profile`, or ``<species>_sigma`` columns in a table) they are
used. Otherwise the fallback is binomial counting with ``counts`` ions per depth point plus
a floor::

    sigma_f = sqrt( f (1 - f) / counts + floor² )      (default counts = 1000, floor = 0.005)

Only the relative weights matter for the best values: the reported standard errors are
scaled by the reduced chi-square (lmfit's ``scale_covar``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: fallback weighting: counts per depth point and absolute floor of sigma (fractions)
FALLBACK_COUNTS = 1000.0
FALLBACK_FLOOR = 0.005


def fallback_sigma(
    fraction: np.ndarray, counts: float = FALLBACK_COUNTS, floor: float = FALLBACK_FLOOR
) -> np.ndarray:
    """Binomial counting sigma of a fraction with a floor (see the module docstring).

    Parameters
    ----------
    fraction : ndarray
        Measured fractions, dimensionless.
    counts : float
        Assumed ions counted per depth point over all species.
    floor : float
        Smallest sigma, dimensionless (keeps zero fractions from infinite weight).

    Returns
    -------
    ndarray
        Standard deviations, dimensionless.
    """
    f = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    return np.sqrt(f * (1.0 - f) / counts + floor**2)


@dataclass(frozen=True, eq=False)
class MeasuredProfile:
    """Fractions measured versus depth after one stage.

    Attributes
    ----------
    stage : str
        Name of the experiment stage after which the profile was measured.
    depth_m : ndarray, shape (n,)
        Depths, m.
    fractions : dict of str to ndarray
        Species name -> fraction at each depth, dimensionless.
    sigma : dict of str to ndarray
        Standard deviation of each fraction (from counting statistics or the fallback).
    response : dict
        Instrument response as the fields of :class:`caitlab.sims.ResponseConfig` in SI:
        ``{"model": "gaussian", "rms": 5e-9}`` or ``{"model": "mri", "mixing": ...,
        "roughness": ..., "information": ...}``; each number is the fit parameter
        ``profiles.<name>.<field>``. Default: no broadening.
    name : str
        Label; default the stage name.
    fallback_counts : float
        Counts per point assumed for species without uncertainties (the fallback).

    ``sigma_given`` (set on construction) is True if every species came with its
    uncertainties, False if the fallback was used for some.
    """

    stage: str
    depth_m: np.ndarray
    fractions: Mapping[str, np.ndarray]
    sigma: Mapping[str, np.ndarray] = field(default_factory=dict)
    response: Mapping[str, Any] = field(default_factory=lambda: {"model": "gaussian", "rms": 0.0})
    name: str = ""
    fallback_counts: float = FALLBACK_COUNTS

    def __post_init__(self) -> None:
        depth = np.asarray(self.depth_m, dtype=float)
        if depth.ndim != 1 or depth.size == 0 or np.any(depth < 0):
            raise ValueError("depth_m must be a 1-D array of depths >= 0 m")
        fractions = {k: _column(v, depth.size, k) for k, v in self.fractions.items()}
        given = all(k in self.sigma for k in fractions)
        sigma = {
            k: _column(self.sigma[k], depth.size, k)
            if k in self.sigma
            else fallback_sigma(v, self.fallback_counts)
            for k, v in fractions.items()
        }
        if any(np.any(~(s > 0)) for s in sigma.values()):
            raise ValueError("sigma must be positive everywhere")
        object.__setattr__(self, "depth_m", depth)
        object.__setattr__(self, "fractions", fractions)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "sigma_given", given)
        object.__setattr__(self, "name", self.name or self.stage)
        if "." in self.name:
            raise ValueError(
                f"profile name {self.name!r} must not contain '.' (it is part of the "
                "parameter path profiles.<name>.<field>); give the profile a 'name'"
            )
        object.__setattr__(self, "response", {"model": "gaussian", **dict(self.response)})

    @property
    def species(self) -> tuple[str, ...]:
        return tuple(self.fractions)

    def select(self, species: list[str] | tuple[str, ...]) -> MeasuredProfile:
        """The profile of some species only."""
        missing = sorted(set(species) - set(self.species))
        if missing:
            raise ValueError(f"species {missing} not in the profile ({list(self.species)})")
        out = MeasuredProfile(
            self.stage,
            self.depth_m,
            {k: self.fractions[k] for k in species},
            {k: self.sigma[k] for k in species},
            self.response,
            self.name,
        )
        object.__setattr__(out, "sigma_given", self.sigma_given)
        return out

    def limited(self, max_depth_m: float | None) -> MeasuredProfile:
        """The profile restricted to depths <= ``max_depth_m`` (all if None)."""
        if max_depth_m is None:
            return self
        keep = self.depth_m <= max_depth_m
        out = MeasuredProfile(
            self.stage,
            self.depth_m[keep],
            {k: v[keep] for k, v in self.fractions.items()},
            {k: v[keep] for k, v in self.sigma.items()},
            self.response,
            self.name,
        )
        object.__setattr__(out, "sigma_given", self.sigma_given)
        return out


def _column(values: Any, n: int, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != (n,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: expected {n} finite values, one per depth")
    return array


def profile_from_dataset(dataset: Any, stage: str, **options: Any) -> MeasuredProfile:
    """A profile from a :func:`caitlab.sims.process_profile` dataset (fractions and sigmas).

    Parameters
    ----------
    dataset : xarray.Dataset
        Variables ``fraction`` and optionally ``fraction_sigma``, dims (species, depth m).
    stage : str
        Stage after which it was measured.
    **options
        ``response``, ``name`` for :class:`MeasuredProfile`.
    """
    frac = dataset["fraction"].transpose("species", "depth")
    species = [str(s) for s in frac["species"].values]
    sigma = {}
    if "fraction_sigma" in dataset:
        values = np.asarray(dataset["fraction_sigma"].transpose("species", "depth"))
        sigma = {s: np.maximum(v, FALLBACK_FLOOR * 0.1) for s, v in zip(species, values)}
    return MeasuredProfile(
        stage,
        np.asarray(frac["depth"], dtype=float),
        dict(zip(species, np.asarray(frac), strict=True)),
        sigma,
        **options,
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
