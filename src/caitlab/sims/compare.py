"""Compare simulated profiles (``result.nc``) with measured fractions."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.response import Response, apply_response

RESULT_FILE = "result.nc"


def load_result(path: str | PathLike[str]) -> Any:
    """Open a simulation result: a folder holding ``result.nc`` or the file itself.

    The contract: coordinates ``time`` (s), ``x`` (m, cell centres from 0 at the front),
    ``species``; variables ``density`` (time, species, x) in m^-3 and ``stage`` (time);
    attribute ``n0`` (m^-3).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    target = Path(path)
    file = target / RESULT_FILE if target.is_dir() else target
    if not file.exists():
        raise SimsError(f"no simulation result ({RESULT_FILE}) found", file=file)
    dataset = None
    for engine in ("h5netcdf", "netcdf4"):  # netcdf4 reads the same files if h5py is absent
        try:
            with xr.open_dataset(file, engine=engine) as handle:
                dataset = handle.load()
            break
        except (ImportError, ModuleNotFoundError):
            continue
        except Exception as exc:  # h5py/netCDF errors of several types
            raise SimsError(f"cannot open simulation result: {exc}", file=file) from exc
    if dataset is None:
        raise SimsError("cannot open simulation result: install h5netcdf with h5py", file=file)
    missing = [name for name in ("density", "stage") if name not in dataset]
    missing += [name for name in ("x", "species", "time") if name not in dataset.coords]
    if missing:
        raise SimsError(f"simulation result lacks {', '.join(missing)}", file=file)
    if "n0" not in dataset.attrs:
        raise SimsError("simulation result lacks the attribute n0", file=file)
    dataset.attrs["_file"] = str(file)
    return dataset


def _stage_names(dataset: Any) -> list[str]:
    names = []
    for value in np.asarray(dataset["stage"].values).ravel():
        names.append(value.decode() if isinstance(value, bytes) else str(value))
    return names


def simulated_fractions(dataset: Any, stage: str | None = None) -> Any:
    """Simulated fractions ``density / n0`` at the end of a stage.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`load_result`.
    stage : str, optional
        Stage name; the end of a stage is its last saved time. Default: the last stage.

    Returns
    -------
    xarray.DataArray
        Dims ``("species", "x")``, x in m, dimensionless; attrs ``stage`` and ``time``.
    """
    stages = _stage_names(dataset)
    file = dataset.attrs.get("_file")
    if not stages:
        raise SimsError("the simulation result has no saved times", file=file)
    chosen = stages[-1] if stage is None else stage
    hits = [i for i, name in enumerate(stages) if name == chosen]
    if not hits:
        available = ", ".join(dict.fromkeys(stages))
        raise SimsError(f"no stage {chosen!r} in the result; stages: {available}", file=file)
    index = hits[-1]
    density = dataset["density"].isel(time=index).transpose("species", "x")
    fractions = density / float(dataset.attrs["n0"])
    fractions.attrs = {"units": "1", "stage": chosen,
                       "time": float(dataset["time"].values[index])}
    fractions = fractions.assign_coords(species=[str(s) for s in density["species"].values])
    return fractions


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


def compare_profiles(simulated: Any, measured: Any, response: Response | None = None) -> Comparison:
    """Broaden the simulated fractions, sample them where measured, and form residuals.

    Parameters
    ----------
    simulated : xarray.DataArray
        Dims ``("species", "x")`` (from :func:`simulated_fractions`), x in m.
    measured : xarray.Dataset or xarray.DataArray
        From :func:`~caitlab.sims.processing.process_profile` (variable ``fraction``) or a
        DataArray with dims ``("species", "depth")``, depth in m.
    response : GaussianResponse or MRIResponse, optional
        Instrument response applied to the simulation.

    Returns
    -------
    Comparison
    """
    data = measured["fraction"] if hasattr(measured, "data_vars") else measured
    data = data.transpose("species", "depth")
    sim_species = [str(s) for s in simulated["species"].values]
    meas_species = [str(s) for s in data["species"].values]
    common = [s for s in meas_species if s in sim_species]
    if not common:
        raise SimsError(
            f"no species in common: simulation has {sim_species}, measurement has "
            f"{meas_species}; name the elements like the simulated species"
        )
    depth = np.asarray(data["depth"], dtype=float)
    sim = simulated.sel(species=common).transpose("species", "x")
    broadened = apply_response(np.asarray(sim["x"]), np.asarray(sim), depth, response)
    meas = np.asarray(data.sel(species=common))
    diff = broadened - meas
    return Comparison(
        species=tuple(common),
        depth_m=depth,
        measured=meas,
        simulated=broadened,
        residual_rms=float(np.sqrt(np.mean(diff**2))),
        species_rms={s: float(np.sqrt(np.mean(d**2))) for s, d in zip(common, diff, strict=True)},
        stage=str(simulated.attrs.get("stage", "")),
        response=response,
    )
