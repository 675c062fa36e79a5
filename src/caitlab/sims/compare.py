"""Compare a run's final profiles (:class:`caitlab.Result`) with measured fractions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.measured import FALLBACK_FLOOR, as_measured_profile
from caitlab.sims.response import Response, apply_response

if TYPE_CHECKING:
    from caitlab.results import Result


@dataclass(frozen=True, eq=False)
class Comparison:
    """Simulated and measured fractions on the measured depth grid, with χ².

    Attributes
    ----------
    species : tuple of str
        Species compared (in both the simulation and the measurement).
    depth_m : ndarray, shape (n,)
        Measured depths, m.
    measured, simulated : ndarray, shape (n_species, n)
        Fractions, dimensionless (simulated after the instrument response); both
        renormalised over ``species`` when ``renormalised``.
    sigma : ndarray, shape (n_species, n)
        Standard deviations of the measured fractions (the weights of χ²).
    residual_rms : float
        RMS of ``simulated - measured`` over all species and depths.
    species_rms : dict of str to float
        The same per species.
    stage : str
        Simulated stage.
    response : GaussianResponse or MRIResponse or None
        Response applied to the simulation.
    surface : str
        How the response treated the surface (the measured profile's
        :attr:`~caitlab.sims.MeasuredProfile.surface`).
    chi2_points : ndarray, shape (n_species, n)
        ``((simulated - measured) / sigma)²`` at each point.
    chi2 : float
        Their sum.
    species_chi2 : dict of str to float
        The sum per species.
    weights : str
        Where ``sigma`` comes from (counting statistics of the file, or the fallback).
    renormalised : bool
        True when the measured and simulated species differ, so that both sets of fractions
        were divided by their sum over the common ``species``.
    notes : tuple of str
        What was compared and why, for people (which species were left out).
    """

    species: tuple[str, ...]
    depth_m: np.ndarray
    measured: np.ndarray
    simulated: np.ndarray
    residual_rms: float
    species_rms: dict[str, float]
    stage: str
    response: Response | None
    sigma: np.ndarray | None = None
    chi2_points: np.ndarray | None = None
    chi2: float = float("nan")
    species_chi2: dict[str, float] = field(default_factory=dict)
    weights: str = ""
    renormalised: bool = False
    notes: tuple[str, ...] = ()
    surface: str = "reflect"

    @property
    def n_values(self) -> int:
        """Number of compared values (species × depths)."""
        return int(self.measured.size)

    @property
    def chi2_per_point(self) -> float:
        """χ² divided by the number of compared values (no parameters were fitted)."""
        return self.chi2 / self.n_values


def _common_species(sim_species: list[str], meas_species: list[str]) -> tuple[list[str], list[str]]:
    """The species in both, in the measured order, and notes on the ones left out."""
    common = [s for s in meas_species if s in sim_species]
    if len(common) < 2:
        raise SimsError(
            f"fewer than two species in common (simulation has {sim_species}, measurement "
            f"has {meas_species}, common: {common or 'none'}): fractions of one species "
            "cannot be compared (each would be 1 after renormalising); name the elements "
            "like the simulated species"
        )
    notes = [f"species compared: {', '.join(common)}"]
    only_meas = [s for s in meas_species if s not in common]
    only_sim = [s for s in sim_species if s not in common]
    if only_meas:
        notes.append(f"measured but not simulated, left out: {', '.join(only_meas)}")
    if only_sim:
        notes.append(f"simulated but not measured, left out: {', '.join(only_sim)}")
    if only_meas or only_sim:
        notes.append(
            "both measured and simulated fractions renormalised to sum to 1 over "
            f"{{{', '.join(common)}}}"
        )
    return common, notes


def compare_profiles(
    result: Result, measured: Any, response: Response | None = None, stage: str | None = None
) -> Comparison:
    """Broaden a stage's final fractions, sample them where measured, and form residuals.

    Only species both simulated and measured are compared; at least two are needed. When
    the two sets differ (measured {Pb, Cs} against simulated {Li, Rb, Cs} has only Cs in
    common and is refused; measured {Li, Rb, Cs, Na} against simulated {Li, Rb, Cs} keeps
    Li, Rb, Cs), each side's fractions are divided by their sum over the common species,
    and the measured sigmas by the same factor, and ``notes`` says so. χ² weighs each
    residual with the measured profile's sigma (counting statistics where the profile
    carries them, else the fallback of :mod:`caitlab.sims.measured`). The response treats
    the surface as the measured profile says (its ``surface``, as a fit of it does).

    Parameters
    ----------
    result : caitlab.Result
        The run (:meth:`caitlab.Experiment.run` or :func:`caitlab.open_result`).
    measured : MeasuredProfile, xarray.Dataset or xarray.DataArray
        A :class:`~caitlab.sims.MeasuredProfile`, or what :func:`as_measured_profile` takes
        (e.g. a :func:`~caitlab.sims.processing.process_profile` Dataset), depth in m. Its
        ``surface`` is the surface treatment of the response (``"reflect"`` unless a
        MeasuredProfile says otherwise).
    response : GaussianResponse or MRIResponse, optional
        Instrument response applied to the simulation.
    stage : str, optional
        Stage whose end is compared; default the last.

    Returns
    -------
    Comparison

    Raises
    ------
    SimsError
        Unknown stage, or fewer than two species in common.
    """
    stage = result.stage_names[-1] if stage is None else stage
    try:
        simulated = result.stage(stage).fractions
    except KeyError as exc:
        raise SimsError(exc.args[0]) from None
    measured = as_measured_profile(measured, stage)
    sim_species = [str(s) for s in simulated["species"].values]
    common, notes = _common_species(sim_species, list(measured.species))
    depth = measured.depth_m
    sim = simulated.sel(species=common)
    broadened = apply_response(
        np.asarray(sim["depth"]) * 1e-9, np.asarray(sim), depth, response, surface=measured.surface
    )
    meas = np.array([measured.fractions[s] for s in common])
    sigma = np.array([measured.sigma[s] for s in common])
    renormalised = len(notes) > 1
    if renormalised:
        meas_total, sim_total = meas.sum(axis=0), broadened.sum(axis=0)
        if not ((meas_total > 0).all() and (sim_total > 0).all()):
            raise SimsError(
                f"the fractions of {common} sum to 0 at some depth: cannot renormalise over them"
            )
        meas, sigma, broadened = meas / meas_total, sigma / meas_total, broadened / sim_total
    diff = broadened - meas
    chi2_points = (diff / sigma) ** 2
    weights = (
        "sigma given with the measured profile (a table's <species>_sigma columns, or the "
        "counting statistics of a processed export)"
        if measured.sigma_given
        else f"fallback sigma: binomial with {measured.fallback_counts:g} counts per point "
        f"plus a floor of {FALLBACK_FLOOR:g}"
    )
    return Comparison(
        species=tuple(common),
        depth_m=depth,
        measured=meas,
        simulated=broadened,
        residual_rms=float(np.sqrt(np.mean(diff**2))),
        species_rms={s: float(np.sqrt(np.mean(d**2))) for s, d in zip(common, diff, strict=True)},
        stage=stage,
        response=response,
        sigma=sigma,
        chi2_points=chi2_points,
        chi2=float(chi2_points.sum()),
        species_chi2={s: float(c.sum()) for s, c in zip(common, chi2_points, strict=True)},
        weights=weights,
        renormalised=renormalised,
        notes=tuple(notes),
        surface=measured.surface,
    )
