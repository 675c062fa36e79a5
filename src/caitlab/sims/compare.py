"""Compare a run's final profiles (:class:`caitlab.Result`) with measured fractions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.measured import as_measured_profile
from caitlab.sims.response import Response, apply_response

if TYPE_CHECKING:
    from caitlab.results import Result


@dataclass(frozen=True, eq=False)
class Comparison:
    """Simulated and measured fractions on the measured depth grid.

    Attributes
    ----------
    species : tuple of str
        Species compared (in both the simulation and the measurement).
    depth_m : ndarray, shape (n,)
        Measured depths, m.
    measured, simulated : ndarray, shape (n_species, n)
        Fractions, dimensionless (simulated after the instrument response).
    residual_rms : float
        RMS of ``simulated - measured`` over all species and depths.
    species_rms : dict of str to float
        The same per species.
    stage : str
        Simulated stage.
    response : GaussianResponse or MRIResponse or None
        Response applied to the simulation.
    """

    species: tuple[str, ...]
    depth_m: np.ndarray
    measured: np.ndarray
    simulated: np.ndarray
    residual_rms: float
    species_rms: dict[str, float]
    stage: str
    response: Response | None


def compare_profiles(result: Result, measured: Any, response: Response | None = None,
                     stage: str | None = None) -> Comparison:
    """Broaden a stage's final fractions, sample them where measured, and form residuals.

    Parameters
    ----------
    result : caitlab.Result
        The run (:meth:`caitlab.Experiment.run` or :func:`caitlab.open_result`).
    measured : MeasuredProfile, xarray.Dataset or xarray.DataArray
        A :class:`~caitlab.sims.MeasuredProfile`, or what :func:`as_measured_profile` takes
        (e.g. a :func:`~caitlab.sims.processing.process_profile` Dataset), depth in m.
    response : GaussianResponse or MRIResponse, optional
        Instrument response applied to the simulation.
    stage : str, optional
        Stage whose end is compared; default the last.

    Returns
    -------
    Comparison
    """
    stage = result.stage_names[-1] if stage is None else stage
    try:
        simulated = result.stage(stage).fractions
    except KeyError as exc:
        raise SimsError(exc.args[0]) from None
    measured = as_measured_profile(measured, stage)
    sim_species = [str(s) for s in simulated["species"].values]
    meas_species = list(measured.species)
    common = [s for s in meas_species if s in sim_species]
    if not common:
        raise SimsError(
            f"no species in common: simulation has {sim_species}, measurement has "
            f"{meas_species}; name the elements like the simulated species"
        )
    depth = measured.depth_m
    sim = simulated.sel(species=common)
    broadened = apply_response(np.asarray(sim["depth"]) * 1e-9, np.asarray(sim), depth, response)
    meas = np.array([measured.fractions[s] for s in common])
    diff = broadened - meas
    return Comparison(
        species=tuple(common),
        depth_m=depth,
        measured=meas,
        simulated=broadened,
        residual_rms=float(np.sqrt(np.mean(diff**2))),
        species_rms={s: float(np.sqrt(np.mean(d**2))) for s, d in zip(common, diff, strict=True)},
        stage=stage,
        response=response,
    )
