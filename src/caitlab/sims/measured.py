"""The measured depth profile: fractions versus depth after a stage, with uncertainties.

:class:`MeasuredProfile` is the one measured-profile type of caitlab, shared by the fit,
:func:`caitlab.sims.compare_profiles` and the figures: depths (m), the fraction of each species
there, their standard deviations, the stage after which the sample was measured, and how to
compare a simulation with it: the instrument response and the surface treatment of that
response (:func:`caitlab.sims.apply_response`'s ``surface``). Every consumer (the fit, the
figures, ``caitlab compare``, the report) broadens the simulation with the profile's own
``surface``. :func:`as_measured_profile` takes the other forms
(a :func:`caitlab.sims.process_profile` Dataset, a DataArray (species, depth), a mapping
``{"depth_m": ..., "Li": ...}``).

Weights
-------
Where a profile carries counting uncertainties (``fraction_sigma`` of
:func:`caitlab.sims.process_profile`, or ``<species>_sigma`` columns in a table) they are
used. Otherwise the fallback is binomial counting with ``counts`` ions per depth point plus
a floor::

    sigma_f = sqrt( f (1 - f) / counts + floor² )      (default counts = 1000, floor = 0.005)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from caitlab.sims.response import SURFACES

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
    surface : {"reflect", "extend", "truncate"}
        What the response kernel sees above the surface when a simulation is broadened to
        compare with this profile (``surface`` of :func:`caitlab.sims.apply_response`):
        the mirror image (default), the surface value continued, or nothing. The fit, the
        figures and :func:`caitlab.sims.compare_profiles` all use it.

    sigma_given : bool
        Set on construction: True if every species came with its uncertainties, False if
        the fallback was used for some.
    """

    stage: str
    depth_m: np.ndarray
    fractions: Mapping[str, np.ndarray]
    sigma: Mapping[str, np.ndarray] = field(default_factory=dict)
    response: Mapping[str, Any] = field(default_factory=lambda: {"model": "gaussian", "rms": 0.0})
    name: str = ""
    fallback_counts: float = FALLBACK_COUNTS
    surface: str = "reflect"
    sigma_given: bool = field(init=False, default=False)

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
        if self.surface not in SURFACES:
            raise ValueError(
                f"surface of profile {self.name!r} must be one of {SURFACES}, got {self.surface!r}"
            )

    @property
    def species(self) -> tuple[str, ...]:
        return tuple(self.fractions)

    def _part(self, species: Any, keep: Any) -> MeasuredProfile:
        out = MeasuredProfile(
            self.stage,
            self.depth_m[keep],
            {k: self.fractions[k][keep] for k in species},
            {k: self.sigma[k][keep] for k in species},
            self.response,
            self.name,
            self.fallback_counts,
            self.surface,
        )
        object.__setattr__(out, "sigma_given", self.sigma_given)  # the sigmas are the same
        return out

    def with_surface(self, surface: str) -> MeasuredProfile:
        """The same profile, compared with simulations under another surface treatment
        (``"reflect"``, ``"extend"`` or ``"truncate"``, see :attr:`surface`)."""
        if surface == self.surface:
            return self
        out = MeasuredProfile(
            self.stage,
            self.depth_m,
            self.fractions,
            self.sigma,
            self.response,
            self.name,
            self.fallback_counts,
            surface,
        )
        object.__setattr__(out, "sigma_given", self.sigma_given)
        return out

    def select(self, species: list[str] | tuple[str, ...]) -> MeasuredProfile:
        """The profile of some species only."""
        missing = sorted(set(species) - set(self.species))
        if missing:
            raise ValueError(f"species {missing} not in the profile ({list(self.species)})")
        return self._part(species, slice(None))

    def within(
        self, min_depth_m: float | None = None, max_depth_m: float | None = None
    ) -> MeasuredProfile:
        """The profile restricted to ``min_depth_m <= depth <= max_depth_m`` (None: no
        limit). The first nanometres of a SIMS profile are not quantitative
        (pre-equilibrium sputtering, surface contamination, the response near the
        surface): a ``min_depth`` leaves them out."""
        keep = np.ones(self.depth_m.size, bool)
        if min_depth_m is not None:
            keep &= self.depth_m >= min_depth_m
        if max_depth_m is not None:
            keep &= self.depth_m <= max_depth_m
        if not keep.any():
            raise ValueError(
                f"no measured point of profile {self.name!r} lies between min_depth and max_depth"
            )
        return self._part(self.species, keep)


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
        ``response``, ``name``, ``fallback_counts``, ``surface`` for :class:`MeasuredProfile`.
    """
    depth_dim = (
        "depth"
        if "depth" in dataset["fraction"].dims
        else next(d for d in dataset["fraction"].dims if d != "species")
    )
    frac = dataset["fraction"].transpose("species", depth_dim)
    species = [str(s) for s in frac["species"].values]
    sigma = {}
    if "fraction_sigma" in dataset:
        values = np.asarray(dataset["fraction_sigma"].transpose("species", depth_dim))
        sigma = {s: np.maximum(v, FALLBACK_FLOOR * 0.1) for s, v in zip(species, values)}
    return MeasuredProfile(
        stage,
        np.asarray(frac[depth_dim], dtype=float),
        dict(zip(species, np.asarray(frac), strict=True)),
        sigma,
        **options,
    )


def written_tolerance(values: np.ndarray) -> np.ndarray:
    """How far each row of a table of fractions may miss a sum of 1 by the rounding of the
    digits it was written with.

    A column's precision is the most significant digits any of its values needs (the
    shortest repr that reads back as the same float: 8 for a table written with ``%.8g``,
    17 for one written exactly); each value may be off by half a unit in its last such
    digit, and a row's tolerance is the sum over its columns (plus a few float epsilons).

    Parameters
    ----------
    values : ndarray, shape (n_columns, n_rows)
        The fractions as read, dimensionless.

    Returns
    -------
    ndarray, shape (n_rows,)
        The largest deviation of each row's sum from 1 that rounding explains.
    """
    values = np.asarray(values, dtype=float)
    magnitude = np.floor(np.log10(np.where(values != 0, np.abs(values), 1.0)))
    digits = np.array([[_significant_digits(v) for v in column] for column in values])
    per_column = digits.max(axis=1, initial=1)[:, None] if digits.size else digits
    half_unit = np.where(values != 0, 0.5 * 10.0 ** (magnitude - per_column + 1), 0.0)
    return half_unit.sum(axis=0) + 8 * np.finfo(float).eps * values.shape[0]


def _column_resolution(values: np.ndarray) -> np.ndarray:
    """Half a unit in the last digit written of each column's largest value (a column
    written with 8 significant digits and values up to 1: 5e-9), shape (n_columns,)."""
    largest = np.abs(values).max(axis=1)
    digits = np.array(
        [max((_significant_digits(v) for v in column), default=1) for column in values]
    )
    magnitude = np.floor(np.log10(np.where(largest > 0, largest, 1.0)))
    return 0.5 * 10.0 ** (magnitude - np.maximum(digits, 1) + 1) + 8 * np.finfo(float).eps


def _significant_digits(value: float) -> int:
    """Significant digits of the shortest text that reads back as ``value`` (0 for 0)."""
    if value == 0 or not np.isfinite(value):
        return 0
    return len(Decimal(repr(float(value))).normalize().as_tuple().digits)


def split_sigma_columns(
    columns: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A table's columns as (fractions, sigmas): ``<species>_sigma`` or ``sigma_<species>``
    columns are the standard deviations of ``<species>``."""
    values, sigma = dict(columns), {}
    for name in list(values):
        for base in (name.removesuffix("_sigma"), name.removeprefix("sigma_")):
            if base != name:
                sigma[base] = values.pop(name)
                break
    return values, sigma


def fractions_table_problem(table: Any) -> str | None:
    """Why a table read by :func:`caitlab.sims.read_table` is not one of fractions, or None.

    A table of fractions has a depth axis and at least two columns other than the sigma
    columns (:func:`split_sigma_columns`), all finite and in [0, 1] within the rounding of
    the digits written (:func:`written_tolerance`): the CSV of ``caitlab sims --out``
    (exact digits) and :func:`caitlab.fit.write_fractions_table` (8 significant digits)
    both are. Its rows need not sum to 1: a broadened profile, or one of some species
    only, does not; counts (intensities above 1) are refused.
    """
    if table.depth_m is None:
        return "the table needs a depth column such as 'depth_nm'"
    columns = {name: np.asarray(table.channel(k)) for k, name in enumerate(table.channel_names)}
    columns, _ = split_sigma_columns(columns)
    if len(columns) < 2:
        return f"a table of fractions needs at least two species columns, got {list(columns)}"
    values = np.array(list(columns.values()), dtype=float)
    if not np.all(np.isfinite(values)):
        return "a fraction is not a finite number"
    tolerance = _column_resolution(values)[:, None]
    if (values < -tolerance).any() or (values > 1 + tolerance).any():
        return "its values are not fractions in [0, 1] (counts?)"
    return None


def measured_from_table(table: Any, stage: str = "", **options: Any) -> MeasuredProfile | None:
    """A fractions table read by :func:`caitlab.sims.read_table` as a profile, or ``None``.

    The one rule for what a table of fractions is, for every command
    (:func:`fractions_table_problem`: a depth axis, columns in [0, 1] within the rounding
    of the digits written); its ``<species>_sigma`` (or
    ``sigma_<species>``) columns are the weights (the fallback of the module docstring
    for species without one).

    Parameters
    ----------
    table : SimsProfile
        The table.
    stage : str
        Stage after which it was measured.
    **options
        ``response``, ``name``, ``fallback_counts``, ``surface`` for :class:`MeasuredProfile`.
    """
    if fractions_table_problem(table) is not None:
        return None
    columns = {name: np.asarray(table.channel(k)) for k, name in enumerate(table.channel_names)}
    fractions, sigma = split_sigma_columns(columns)
    sigma = {k: v for k, v in sigma.items() if k in fractions}
    return MeasuredProfile(stage, np.asarray(table.depth_m), fractions, sigma, **options)


def as_measured_profile(measured: Any, stage: str = "", **options: Any) -> MeasuredProfile:
    """``measured`` as a :class:`MeasuredProfile` (returned as is if it is one).

    Accepted besides: a :func:`caitlab.sims.process_profile` Dataset (variables ``fraction``
    and optionally ``fraction_sigma``, dims (species, depth in m)); a DataArray with dims
    (species, depth in m); a Dataset with one variable per species on ``depth``; a mapping
    ``{"depth_m": depths, "Li": fractions, ...}``. ``options`` (``response``, ``name``,
    ``fallback_counts``, ``surface``) are those of :class:`MeasuredProfile`; a
    MeasuredProfile keeps its own.
    """
    if isinstance(measured, MeasuredProfile):
        return measured
    if isinstance(measured, Mapping) and "depth_m" in measured:
        fractions = {str(k): v for k, v in measured.items() if k != "depth_m"}
        return MeasuredProfile(stage, measured["depth_m"], fractions, **options)
    if hasattr(measured, "data_vars") and "fraction" not in measured.data_vars:
        depth = "depth" if "depth" in measured.coords else next(iter(measured.dims))
        fractions = {str(k): v.values for k, v in measured.data_vars.items() if v.dims == (depth,)}
        return MeasuredProfile(stage, measured[depth].values, fractions, **options)
    if hasattr(measured, "dims") and "species" in measured.dims:
        measured = (
            measured.to_dataset(name="fraction") if not hasattr(measured, "data_vars") else measured
        )
    if hasattr(measured, "data_vars"):
        return profile_from_dataset(measured, stage, **options)
    raise TypeError(
        "measured profile: give a MeasuredProfile, a mapping with 'depth_m' and one array per "
        f"species, or an xarray object with dims (species, depth); got {type(measured).__name__}"
    )


__all__ = [
    "FALLBACK_COUNTS",
    "FALLBACK_FLOOR",
    "MeasuredProfile",
    "as_measured_profile",
    "fallback_sigma",
    "fractions_table_problem",
    "measured_from_table",
    "profile_from_dataset",
    "split_sigma_columns",
    "written_tolerance",
]
