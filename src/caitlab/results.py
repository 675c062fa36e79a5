"""Results of a run: saved states, boundary traces and per-stage summaries.

:class:`Result` converts to an xarray Dataset (:meth:`Result.to_xarray`) and writes
``result.nc`` and ``summary.json`` atomically (:meth:`Result.save`). Every file records what
produced it: the full input as TOML, the caitlab version and the creation date.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab import __version__
from caitlab.constants import ELEMENTARY_CHARGE
from caitlab.solver import LENGTH_UNIT, TIME_UNIT

if TYPE_CHECKING:
    import xarray as xr

    from caitlab.experiment import Experiment
    from caitlab.materials import Sample
    from caitlab.mesh import Mesh
    from caitlab.solver import StageSystem, StageTrajectory


@dataclass(frozen=True)
class StageRecord:
    """One stage's saved states (SI) and boundary traces, times from the experiment start."""

    name: str
    start: float
    duration: float
    time: np.ndarray  # (t,) s
    density: np.ndarray  # (t, species, x) m^-3
    potential: np.ndarray  # (t, x) V
    current: np.ndarray  # (t,) A
    charge: np.ndarray  # (t,) C through the back electrode since the stage start
    trace_time: np.ndarray  # (k,) s, every accepted step
    trace_current: np.ndarray
    trace_charge: np.ndarray
    trace_surface_potential: np.ndarray
    trace_beam_current: np.ndarray
    inflow_m2: np.ndarray  # (species,) ions per m^2 in through the front
    outflow_m2: np.ndarray  # (species,) ions per m^2 out through the back
    inventory_start_m2: np.ndarray
    inventory_end_m2: np.ndarray
    inventory_change_m2: np.ndarray
    n_steps: int
    n_rejected: int
    n_newton: int
    n_factor: int
    rejected_by: dict
    min_density_fraction: float
    wall_time_s: float

    @classmethod
    def from_trajectory(
        cls,
        stage: Any,
        start: float,
        traj: StageTrajectory,
        system: StageSystem,
        active: list[int],
        sample: Sample,
        mesh: Mesh,
        thermal_voltage: float,
        wall_time_s: float,
    ) -> StageRecord:
        """Convert a dimensionless :class:`StageTrajectory` to SI for all species."""
        n0 = sample.mobile_ion_density
        n_species = len(sample.species)
        areal = n0 * LENGTH_UNIT  # m^-2 per (n0·nm)
        flux_to_current = ELEMENTARY_CHARGE * sample.area * areal / TIME_UNIT
        z = system.charge
        density = np.zeros((len(traj.saved), n_species, mesh.n_cells))
        potential = np.zeros((len(traj.saved), mesh.n_cells))
        for k, x in enumerate(traj.saved):
            dens, pot, _ = system.unpack(x)
            density[k, active] = dens * n0
            potential[k] = pot * thermal_voltage

        def full(values: np.ndarray) -> np.ndarray:
            out = np.zeros(n_species)
            out[active] = values
            return out

        start_density = system.unpack(traj.initial)[0]
        end_density = system.unpack(traj.saved[-1])[0]
        inventory_start = start_density @ system.widths
        # the change as a sum of differences: exact where the bulk does not change
        inventory_change = (end_density - start_density) @ system.widths
        return cls(
            name=stage.name,
            start=start,
            duration=stage.duration,
            time=start + np.asarray(traj.save_times) * TIME_UNIT,
            density=density,
            potential=potential,
            current=np.asarray(traj.saved_flux_out) @ z * flux_to_current,
            charge=np.asarray(traj.saved_outflow) @ z * flux_to_current * TIME_UNIT,
            trace_time=start + np.asarray(traj.trace_time) * TIME_UNIT,
            trace_current=np.asarray(traj.trace_flux_out) @ z * flux_to_current,
            trace_charge=np.asarray(traj.trace_outflow) @ z * flux_to_current * TIME_UNIT,
            trace_surface_potential=np.asarray(traj.trace_surface) * thermal_voltage,
            trace_beam_current=np.asarray(traj.trace_beam)
            * (system.beam_fraction @ z)
            * flux_to_current,
            inflow_m2=full(traj.inflow) * areal,
            outflow_m2=full(traj.outflow) * areal,
            inventory_start_m2=full(inventory_start) * areal,
            inventory_end_m2=full(inventory_start + inventory_change) * areal,
            inventory_change_m2=full(inventory_change) * areal,
            n_steps=traj.n_steps,
            n_rejected=traj.n_rejected,
            n_newton=traj.n_newton,
            n_factor=traj.n_factor,
            rejected_by=dict(traj.rejected_by),
            min_density_fraction=traj.min_density,
            wall_time_s=wall_time_s,
        )

    @property
    def conservation_rel_error(self) -> float:
        """max over species |Δinventory - (in - out)| / (ions moved through the boundaries).

        Where fewer ions moved than the round-off of the inventory (1e-15 of it), relative to
        that instead. In a rest stage, where the flows are ~1e-13 of the inventory, this
        ratio is large although the imbalance is ~1e-17 of the inventory.
        """
        imbalance = self.inventory_change_m2 - (self.inflow_m2 - self.outflow_m2)
        # flows below the round-off of the inventory itself cannot be resolved
        floor = 1e-15 * float(np.max(np.abs(self.inventory_start_m2)))
        scale = max(float(np.max(self.inflow_m2 + self.outflow_m2)), floor, 1e-300)
        return float(np.max(np.abs(imbalance)) / scale)

    @property
    def charge_C(self) -> float:
        """Charge through the back electrode during the stage, C."""
        return float(self.charge[-1])


@dataclass(frozen=True)
class Result:
    """A finished run: the experiment, the mesh and one :class:`StageRecord` per stage."""

    experiment: Experiment
    mesh: Mesh
    stages: tuple[StageRecord, ...]
    wall_time_s: float
    created: str

    @classmethod
    def from_records(
        cls, experiment: Experiment, mesh: Mesh, records: list[StageRecord], wall_time_s: float
    ) -> Result:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(experiment, mesh, tuple(records), wall_time_s, created)

    @property
    def species(self) -> tuple[str, ...]:
        return self.experiment.sample.species_names

    def stage(self, name: str) -> StageRecord:
        """The record of the stage called ``name``."""
        for record in self.stages:
            if record.name == name:
                return record
        raise KeyError(f"no stage {name!r}; stages: {[r.name for r in self.stages]}")

    def summary(self) -> dict[str, Any]:
        """Per-stage figures, run statistics and the full input (``summary.json``)."""
        from caitlab.config import experiment_to_dict

        total = 0.0
        stages = []
        for record in self.stages:
            total += record.charge_C
            stages.append(
                {
                    "name": record.name,
                    "duration_s": record.duration,
                    "charge_C": record.charge_C,
                    "cumulative_charge_C": total,
                    "surface_potential_end_V": float(record.trace_surface_potential[-1]),
                    "inventory_m2": dict(zip(self.species, record.inventory_end_m2.tolist())),
                    "inflow_m2": dict(zip(self.species, record.inflow_m2.tolist())),
                    "outflow_m2": dict(zip(self.species, record.outflow_m2.tolist())),
                    "conservation_rel_error": record.conservation_rel_error,
                    "min_density_fraction": record.min_density_fraction,
                    "n_steps": record.n_steps,
                    "n_rejected": record.n_rejected,
                    "n_newton": record.n_newton,
                    "n_jacobian_factorisations": record.n_factor,
                    "rejected_by": record.rejected_by,
                    "wall_time_s": record.wall_time_s,
                }
            )
        return {
            "name": self.experiment.name,
            "stages": stages,
            "wall_time_s": self.wall_time_s,
            "n_cells": self.mesh.n_cells,
            "n_steps": sum(r.n_steps for r in self.stages),
            "caitlab_version": __version__,
            "created": self.created,
            "input": experiment_to_dict(self.experiment),
        }

    def to_xarray(self) -> xr.Dataset:
        """All saved states as an xarray Dataset (coordinates time, species, x; SI units)."""
        import xarray as xr

        from caitlab.config import experiment_to_toml

        time = np.concatenate([r.time for r in self.stages])
        charge_before = np.cumsum([0.0] + [r.charge_C for r in self.stages[:-1]])
        charge = np.concatenate([r.charge + q for r, q in zip(self.stages, charge_before)])
        trace_charge = np.concatenate(
            [r.trace_charge + q for r, q in zip(self.stages, charge_before)]
        )
        sample = self.experiment.sample

        def cat(attr: str) -> np.ndarray:
            return np.concatenate([getattr(r, attr) for r in self.stages])

        def stage_names(attr: str) -> np.ndarray:
            return np.concatenate([[r.name] * len(getattr(r, attr)) for r in self.stages])

        ds = xr.Dataset(
            data_vars={
                "density": (("time", "species", "x"), cat("density"), _attrs("m^-3", "density")),
                "potential": (("time", "x"), cat("potential"), _attrs("V", "electric potential")),
                "current": ("time", cat("current"), _attrs("A", "back-electrode current")),
                "charge": ("time", charge, _attrs("C", "cumulative charge, back electrode")),
                "stage": ("time", stage_names("time").astype(str)),
                "cell_width": ("x", self.mesh.widths, _attrs("m", "cell width")),
                "trace_current": ("trace_time", cat("trace_current"), _attrs("A", "current")),
                "trace_charge": ("trace_time", trace_charge, _attrs("C", "cumulative charge")),
                "trace_surface_potential": (
                    "trace_time",
                    cat("trace_surface_potential"),
                    _attrs("V", "surface potential"),
                ),
                "trace_beam_current": (
                    "trace_time",
                    cat("trace_beam_current"),
                    _attrs("A", "beam current landing"),
                ),
                "trace_stage": ("trace_time", stage_names("trace_time").astype(str)),
            },
            coords={
                "time": ("time", time, _attrs("s", "time from the start of the first stage")),
                "x": ("x", self.mesh.centres, _attrs("m", "depth of the cell centre")),
                "species": ("species", list(self.species)),
                "trace_time": ("trace_time", cat("trace_time"), _attrs("s", "time")),
            },
            attrs={
                "title": f"caitlab run: {self.experiment.name}",
                "caitlab_version": __version__,
                "created": self.created,
                "config_toml": experiment_to_toml(self.experiment),
                "n0": sample.mobile_ion_density,
                "area": sample.area,
                "thickness": sample.thickness,
                "stage_names": json.dumps([r.name for r in self.stages]),
                "stage_starts": json.dumps([r.start for r in self.stages]),
                "stage_durations": json.dumps([r.duration for r in self.stages]),
                "stage_temperatures": json.dumps([s.temperature for s in self.experiment.stages]),
                "summary_json": json.dumps(self.summary()),
            },
        )
        return ds

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``result.nc`` and ``summary.json`` into ``directory`` atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        ds = self.to_xarray()
        write_atomic(directory / "result.nc", lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
        text = json.dumps(self.summary(), indent=2)
        write_atomic(directory / "summary.json", lambda tmp: Path(tmp).write_text(text))
        return directory


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename into ``path``: no half-written file survives."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_result(directory: str | os.PathLike) -> xr.Dataset:
    """Open ``DIR/result.nc`` (or a .nc path) as an xarray Dataset, loaded into memory."""
    import xarray as xr

    path = Path(directory)
    if path.is_dir():
        path = path / "result.nc"
    if not path.exists():
        raise FileNotFoundError(f"no result file at {path}: run `caitlab run CONFIG --out DIR`")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


__all__ = ["Result", "StageRecord", "load_result", "write_atomic"]
