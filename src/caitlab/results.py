"""Results of a run: one :class:`Result`, the same in memory and on disk.

A :class:`Result` holds the experiment, the mesh and one :class:`StageRecord` per stage (saved
states, boundary traces, the D(n) tables used, statistics). :meth:`Result.save` writes the pair
``result.nc`` (a self-describing CF-style NetCDF file, :meth:`Result.to_xarray`) and
``summary.json`` as one unit; :func:`open_result` reads it back into an equal :class:`Result`,
rebuilt once from the input stored in the file. Every file records the full input as TOML, the
caitlab version and the creation date.

The pair is committed with a journal, with the folder's lock held (one writer per folder,
:func:`caitlab.storage.folder_lock`): ``result.nc`` is made in memory (h5py never writes to
disk, so a full disk is a plain ``OSError`` of the checked write, never an HDF5 failure), both
files are written under temporary names of this process (``.result.nc.<host>.<pid>.<random>.tmp``),
then a small ``.commit.json`` naming them and the ``run_id`` is written atomically (the commit
point), then the files are renamed into place and the journal removed. A run killed before the
journal leaves the old pair (and temporary files, removed by the next write once their process
is gone); one killed after it is completed by the next :func:`open_result` or
:meth:`Result.save`. Both files carry the same ``run_id``: :func:`open_result` refuses a
``result.nc`` beside a ``summary.json`` of another run.
"""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from caitlab._version import __version__
from caitlab.constants import ELEMENTARY_CHARGE
from caitlab.solver import LENGTH_UNIT, TIME_UNIT
from caitlab.storage import (
    OutputWriteError,
    clean_temporaries,
    write_atomic,
    write_bytes,
    write_temporary,
)

if TYPE_CHECKING:
    import xarray as xr

    from caitlab.experiment import Experiment
    from caitlab.materials import Sample
    from caitlab.mesh import Mesh
    from caitlab.solver import StageSystem, StageTrajectory

RESULT_FILE = "result.nc"
SUMMARY_FILE = "summary.json"
JOURNAL_FILE = ".commit.json"
#: densities n/n0 at which the D(n) table of every stage and species is stored
D_GRID = np.geomspace(1e-4, 2.0, 400)
#: why time steps were rejected (the solver's counters)
REJECTION_REASONS = ("newton", "negative", "error")


@dataclass(frozen=True, eq=False)
class StageRecord:
    """One stage: saved states (SI), boundary traces, D(n) tables and statistics.

    Times count from the start of the experiment. ``charge`` is the charge through the back
    electrode since the start of this stage.
    """

    name: str
    start: float  # s
    duration: float  # s
    temperature: float  # K
    species: tuple[str, ...]
    x: np.ndarray  # (x,) m, cell centres
    n0: float  # m^-3
    time: np.ndarray  # (t,) s
    density: np.ndarray  # (t, species, x) m^-3
    potential: np.ndarray  # (t, x) V
    current: np.ndarray  # (t,) A
    charge: np.ndarray  # (t,) C
    trace_time: np.ndarray  # (k,) s, every accepted step
    trace_current: np.ndarray  # A
    trace_charge: np.ndarray  # C
    trace_surface_potential: np.ndarray  # V
    trace_beam_current: np.ndarray  # A
    diffusivity: np.ndarray  # (species, D_GRID) m^2/s; NaN for species without a model
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

        # a finished stage (integrate_stage) has all three
        assert traj.initial is not None and traj.inflow is not None and traj.outflow is not None
        start_density = system.unpack(traj.initial)[0]
        end_density = system.unpack(traj.saved[-1])[0]
        inventory_start = start_density @ system.widths
        # the change as a sum of differences: exact where the bulk does not change
        inventory_change = (end_density - start_density) @ system.widths
        return cls(
            name=stage.name,
            start=start,
            duration=stage.duration,
            temperature=stage.temperature,
            species=tuple(sample.species_names),
            x=mesh.centres,
            n0=n0,
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
            diffusivity=diffusivity_tables(stage, sample),
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
    def end(self) -> float:
        """End of the stage, s from the start of the experiment."""
        return self.start + self.duration

    @property
    def fractions(self) -> xr.DataArray:
        """The final profile n_i/n0: dims (species, depth), depth in nm."""
        import xarray as xr

        return xr.DataArray(
            self.density[-1] / self.n0,
            dims=("species", "depth"),
            coords={
                "species": list(self.species),
                "depth": ("depth", self.x * 1e9, _attrs("nm", "depth of the cell centre")),
            },
            name="fraction",
            attrs=_attrs("1", f"fraction n_i/n0 at the end of {self.name}")
            | {"stage": self.name, "time": float(self.time[-1])},
        )

    def d_of_n(self, species: str) -> xr.DataArray:
        """D(n) of ``species`` in this stage (m^2/s) as used in the run, over n/n0."""
        import xarray as xr

        return xr.DataArray(
            self.diffusivity[self.species.index(species)],
            dims="density_fraction",
            coords={"density_fraction": D_GRID},
            name="diffusivity",
            attrs=_attrs("m^2 s^-1", f"diffusion coefficient of {species} in {self.name}"),
        )

    @property
    def imbalance_m2(self) -> np.ndarray:
        """Per species Δinventory - (in - out), ions per m²: zero but for round-off."""
        return self.inventory_change_m2 - (self.inflow_m2 - self.outflow_m2)

    @property
    def conservation_rel_error(self) -> float:
        """max over species |Δinventory - (in - out)| relative to all the ions of the stage
        (those present at its start plus those that entered): the fraction of ions created
        or lost. The stage's own invariant (:func:`caitlab.solver.allowed_imbalance`) is
        stricter where ions moved: 1e-10 of them.
        """
        involved = float(np.sum(np.abs(self.inventory_start_m2)) + np.sum(self.inflow_m2))
        return float(np.max(np.abs(self.imbalance_m2)) / max(involved, 1e-300))

    @property
    def charge_C(self) -> float:
        """Charge through the back electrode during the stage, C."""
        return float(self.charge[-1])

    def __repr__(self) -> str:
        from caitlab._html import stage_record_repr

        return stage_record_repr(self)


def falling_crossing(x: np.ndarray, values: np.ndarray, level: float) -> float:
    """The deepest ``x`` where ``values`` falls through ``level`` (linear between points),
    NaN if it never does: where a front reaches a level."""
    idx = np.flatnonzero((values[:-1] >= level) & (values[1:] < level))
    if idx.size == 0:
        return float("nan")
    i = idx[-1]
    return float(x[i] + (level - values[i]) * (x[i + 1] - x[i]) / (values[i + 1] - values[i]))


def half_point(x: np.ndarray, fraction: np.ndarray) -> float:
    """The 50 % point of a species entering from the front: the deepest crossing of half
    its typical level, the median of ``fraction`` where it exceeds a tenth of its maximum
    (not half the maximum, which a thin surface layer moves with the mesh). NaN where the
    species is (almost) absent."""
    peak = float(np.max(fraction))
    if not peak > 1e-3:
        return float("nan")
    level = 0.5 * float(np.median(fraction[fraction > 0.1 * peak]))
    return falling_crossing(x, fraction, level)


def diffusivity_tables(stage: Any, sample: Sample) -> np.ndarray:
    """D (m^2/s) of every species of ``sample`` in ``stage`` on :data:`D_GRID`; NaN: no model."""
    table = np.full((len(sample.species), D_GRID.size), np.nan)
    for k, name in enumerate(sample.species_names):
        model = stage.diffusivity.get(name)
        if model is not None:
            table[k] = model.diffusivity(D_GRID, stage.temperature, sample.mobile_ion_density)
    return table


class Variable(NamedTuple):
    """One variable of a result's Dataset: its unit (UDUNITS text, ``"1"``: a ratio), what
    it is, and its dimensions."""

    unit: str
    description: str
    dims: tuple[str, ...]


class VariableTable(dict[str, Variable]):
    """Name → :class:`Variable` of a result (:attr:`Result.variables`), shown as a table."""

    def __repr__(self) -> str:
        rows = [
            (name, f"[{v.unit}]" if v.unit else "", f"({', '.join(v.dims)})", v.description)
            for name, v in self.items()
        ]
        widths = [max((len(row[k]) for row in rows), default=0) for k in range(3)]
        return "\n".join(
            "  ".join(f"{cell:<{w}}" for cell, w in zip(row[:3], widths)) + f"  {row[3]}"
            for row in rows
        )

    def _repr_html_(self) -> str:
        from caitlab._html import table

        rows = [[name, v.unit, ", ".join(v.dims), v.description] for name, v in self.items()]
        return table("variables", ["name", "unit", "dimensions", "description"], rows)


@dataclass(frozen=True, eq=False)
class Result:
    """A finished run: the experiment, the mesh and one :class:`StageRecord` per stage.

    Made by :meth:`caitlab.Experiment.run`; written by :meth:`save` and read back by
    :func:`open_result`. ``result.stage("Cs-CAIT").fractions`` is a stage's final profile.
    """

    experiment: Experiment
    mesh: Mesh
    stages: tuple[StageRecord, ...]
    wall_time_s: float
    created: str
    version: str = __version__
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: s spent in numba's compiler during the run (the first run of a process), not counted
    #: in ``wall_time_s``
    compile_time_s: float = 0.0

    @classmethod
    def from_records(
        cls,
        experiment: Experiment,
        mesh: Mesh,
        records: list[StageRecord],
        wall_time_s: float,
        compile_time_s: float = 0.0,
    ) -> Result:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(
            experiment, mesh, tuple(records), wall_time_s, created, compile_time_s=compile_time_s
        )

    @property
    def species(self) -> tuple[str, ...]:
        return self.experiment.sample.species_names

    @property
    def stage_names(self) -> list[str]:
        """Stage names in run order."""
        return [r.name for r in self.stages]

    @property
    def stage_bounds(self) -> list[tuple[str, float, float]]:
        """(name, start s, end s) of each stage, times from the start of the first stage."""
        return [(r.name, r.start, r.end) for r in self.stages]

    def stage(self, name: str) -> StageRecord:
        """The record of the stage called ``name``."""
        for record in self.stages:
            if record.name == name:
                return record
        raise KeyError(f"no stage {name!r}; stages: {self.stage_names}")

    @cached_property
    def data(self) -> xr.Dataset:
        """The result as an xarray Dataset (:meth:`to_xarray`, made once)."""
        return self.to_xarray()

    @property
    def traces(self) -> xr.Dataset:
        """Boundary traces at every accepted step, over ``time`` (s): ``current`` (A),
        cumulative ``charge`` (C), ``surface_potential`` (V), ``beam_current`` (A), ``stage``."""
        names = [
            "trace_time",
            "trace_stage",
            "trace_current",
            "trace_charge",
            "trace_surface_potential",
            "trace_beam_current",
        ]
        return self.data[names[2:]].rename({n: n.removeprefix("trace_") for n in names})

    def plot(self, *, slider: bool | None = None, **options: Any) -> Any:
        """The profiles figure (:func:`caitlab.plot.profiles`); returns the axes.

        In a Jupyter notebook with ipywidgets installed (an optional dependency), and when
        more than one state was saved, the figure comes with a slider over the saved states
        (:func:`caitlab.plot.slider.profiles_slider`, displayed at once; returns its
        :class:`~caitlab.plot.slider.ProfilesSlider`, whose ``ax`` is the frame shown).
        Without ipywidgets it is the static figure, with no warning.

        Parameters
        ----------
        slider : bool, optional
            Ask for the slider (True) or the static figure (False); default: the slider
            where it can be shown. True without ipywidgets draws the static figure.
        **options
            Passed to :func:`caitlab.plot.profiles` (``times`` only to the static figure).
        """
        from caitlab import _progress

        if slider is None:
            slider = _progress.in_notebook() and "times" not in options
        if slider and _progress.widgets_available() and self.data.sizes["time"] > 1:
            from caitlab.plot.slider import profiles_slider

            return profiles_slider(self, **options)
        from caitlab.plot import profiles

        return profiles(self, **options)

    @property
    def variables(self) -> VariableTable:
        """Every variable of :attr:`data` (and its coordinates) with its unit, dimensions
        and description: ``result.variables["potential"].unit`` is ``"V"``; shown as a
        table (``print(result.variables)``, or in a notebook)."""
        data = self.data
        return VariableTable(
            {
                str(name): Variable(
                    str(item.attrs.get("units", "")) if item.dtype.kind in "biuf" else "",
                    str(item.attrs.get("long_name", "")),
                    tuple(str(d) for d in item.dims),
                )
                for name, item in [*data.data_vars.items(), *data.coords.items()]
            }
        )

    def summary(self) -> dict[str, Any]:
        """Per-stage figures, run statistics and the full input (``summary.json``); a
        copy of the one computed once per Result.

        ``entropy_production_J_per_K_m2`` integrates the bulk's entropy production rate
        (:mod:`caitlab.coupling`, ≥ 0, with the Onsager cross terms where a stage has
        them) over the saved states by the trapezoidal rule: save frames
        (``output.frames``) for an accurate figure; with the stage ends alone it is an
        estimate.
        """
        import copy

        return copy.deepcopy(self._summary)

    def non_finite_fields(self) -> list[str]:
        """``stage.field`` of every NaN or infinite number in the summary (empty: none)."""
        import math

        return [
            f"{stage['name']}.{key}"
            for stage in self._summary["stages"]
            for key, value in stage.items()
            if isinstance(value, float) and not math.isfinite(value)
        ]

    @cached_property
    def _summary(self) -> dict[str, Any]:
        from caitlab.coupling import stage_entropy_production

        entropy = stage_entropy_production(self)
        total = 0.0
        stages = []
        for record in self.stages:
            total += record.charge_C
            stages.append(
                {
                    "name": record.name,
                    "duration_s": record.duration,
                    "temperature_K": record.temperature,
                    "charge_C": record.charge_C,
                    "cumulative_charge_C": total,
                    "surface_potential_end_V": float(record.trace_surface_potential[-1]),
                    "inventory_m2": dict(zip(self.species, record.inventory_end_m2.tolist())),
                    "inflow_m2": dict(zip(self.species, record.inflow_m2.tolist())),
                    "outflow_m2": dict(zip(self.species, record.outflow_m2.tolist())),
                    "imbalance_m2": dict(zip(self.species, record.imbalance_m2.tolist())),
                    "conservation_rel_error": record.conservation_rel_error,
                    "entropy_production_J_per_K_m2": entropy[record.name],
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
            "compile_time_s": self.compile_time_s,
            "n_cells": self.mesh.n_cells,
            "n_steps": sum(r.n_steps for r in self.stages),
            "caitlab_version": self.version,
            "created": self.created,
            "run_id": self.run_id,
            "input": self.experiment.to_dict(),
        }

    def to_xarray(self) -> xr.Dataset:
        """The result as a self-describing (CF-style) Dataset, SI units.

        Dimensions ``time`` (saved states), ``x`` (cells), ``species``, ``stage``,
        ``trace_time`` (every accepted step) and ``density_fraction`` (of the D(n) tables).
        """
        import xarray as xr

        from caitlab._netcdf import describe, global_attributes, result_variables

        ds = xr.Dataset(*result_variables(self))
        ds.attrs = global_attributes(self)
        return describe(ds)

    @classmethod
    def from_xarray(cls, ds: xr.Dataset) -> Result:
        """The :class:`Result` a Dataset of :meth:`to_xarray` describes."""
        from caitlab._netcdf import records_from_dataset
        from caitlab.experiment import Experiment

        experiment = Experiment.from_toml(ds.attrs["config_toml"], source="result.nc")
        mesh = experiment.mesh.build(experiment.sample.thickness)
        return cls(
            experiment,
            mesh,
            records_from_dataset(ds),
            float(ds["wall_time"]),
            str(ds.attrs["created"]),
            str(ds.attrs["caitlab_version"]),
            str(ds.attrs["run_id"]),
            float(ds["compile_time"]) if "compile_time" in ds else 0.0,
        )

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``result.nc`` and ``summary.json`` into ``directory`` as one unit.

        The folder's lock (:func:`caitlab.storage.folder_lock`) is held while the pair is
        written: a second writer of the folder fails at once with
        :class:`~caitlab.storage.FolderBusyError`. Both files are written under temporary
        names of this process and committed by a journal (see the module's docstring);
        afterwards the files drawn from an earlier result into the folder (figures, CSV, the
        video; :func:`caitlab.storage.record_derived`) are removed.

        Raises
        ------
        ResultWriteError
            If the files cannot be written (a full disk, no permission); the folder then
            still holds its previous result, if any, and no temporary file.
        FolderBusyError
            If another process writes into the folder.
        """
        from caitlab._netcdf import result_image
        from caitlab.storage import folder_lock, prune_derived

        directory = Path(directory)
        bad = self.non_finite_fields()
        if bad:
            raise ValueError(
                f"the run gave non-finite numbers ({', '.join(bad)}): not saved, since "
                "summary.json must stay strict JSON"
            )
        text = json.dumps(self._summary, indent=2, allow_nan=False)
        try:
            image = result_image(self)  # in memory: h5py never meets a full disk
        except OSError as exc:
            raise ResultWriteError(directory, exc) from exc
        except RuntimeError as exc:
            if "No space left" in str(exc):
                raise ResultWriteError(directory, OSError(errno.ENOSPC, str(exc))) from exc
            raise
        with folder_lock(directory, "saving a result"):
            _recover(directory)
            _commit(
                directory,
                self.run_id,
                {RESULT_FILE: lambda tmp: write_bytes(tmp, image), SUMMARY_FILE: text.encode()},
            )
            prune_derived(directory, self.run_id)
        return directory

    def _repr_html_(self) -> str:
        from caitlab._html import result_html

        return result_html(self)

    def __repr__(self) -> str:
        from caitlab._html import result_repr

        return result_repr(self)


class ResultWriteError(OutputWriteError):
    """A result could not be written; the message says where and why (``errno`` kept)."""

    def __init__(self, directory: Path, cause: OSError) -> None:
        reason = (
            "the disk is full" if cause.errno == errno.ENOSPC else (cause.strerror or str(cause))
        )
        super().__init__(
            f"cannot write the result into {directory}: {reason}; "
            "the folder keeps its previous result",
            cause,
        )


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def _commit(directory: Path, run_id: str, files: dict[str, Any]) -> None:
    """Write ``files`` (name -> bytes, or a function of the temporary path) under this
    process's temporary names, then the journal (the commit point), then rename them."""
    written: dict[str, str] = {}
    try:
        for name, content in files.items():
            write = content if callable(content) else partial(write_bytes, data=content)
            written[name] = write_temporary(directory / name, write).name
        journal = json.dumps({"run_id": run_id, "files": written})
        write_atomic(directory / JOURNAL_FILE, lambda tmp: tmp.write_text(journal))
    except BaseException as exc:
        for temporary in written.values():
            (directory / temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
            raise ResultWriteError(directory, cause) from exc
        raise
    _recover(directory)


def _recover(directory: Path) -> None:
    """Finish a committed write (its journal) and remove temporaries of uncommitted ones
    whose process is gone. Called with the folder's lock held."""
    journal = directory / JOURNAL_FILE
    if journal.exists():
        try:
            pending = json.loads(journal.read_text())
        except ValueError:  # never: the journal is renamed into place whole
            pending = {}
        files = pending.get("files", pending) if isinstance(pending, dict) else {}
        for target, name in files.items():
            if isinstance(name, str) and (directory / name).exists():
                os.replace(directory / name, directory / target)
        journal.unlink(missing_ok=True)
    clean_temporaries(directory, (RESULT_FILE, SUMMARY_FILE, JOURNAL_FILE))


def _recover_for_reader(folder: Path, wait_s: float = 10.0) -> None:
    """Complete a committed write left in ``folder`` before it is read: under the folder's
    lock, or after the writer that holds it finished its commit (up to ``wait_s``)."""
    from caitlab.storage import FolderBusyError, OutputPathError, folder_lock, holds_lock

    deadline = time.monotonic() + wait_s
    while (folder / JOURNAL_FILE).exists():
        if holds_lock(folder):
            _recover(folder)
            return
        try:
            with folder_lock(folder, "completing a saved result"):
                _recover(folder)
            return
        except FolderBusyError:
            if time.monotonic() > deadline:
                return  # the pair check of open_result says what is wrong, if anything
            time.sleep(0.02)
        except (OutputPathError, OSError):  # a folder this process cannot write in
            return


def _check_pair(folder: Path, nc_path: Path, run_id: str) -> None:
    """Refuse a ``result.nc`` beside a ``summary.json`` of another run."""
    summary_path = folder / SUMMARY_FILE
    if nc_path.name != RESULT_FILE or not summary_path.exists():
        return
    try:
        summary_id = json.loads(summary_path.read_text()).get("run_id")
    except (ValueError, AttributeError, OSError):
        summary_id = "(unreadable)"
    if summary_id != run_id:
        raise ValueError(
            f"{folder}: result.nc (run {run_id[:12]}) and summary.json (run "
            f"{str(summary_id)[:12]}) belong to different runs, so the folder cannot be "
            "trusted (written by two processes at once?): run the experiment again"
        )


def open_result(path: str | os.PathLike) -> Result:
    """Read a saved :class:`Result`: a folder written by :meth:`Result.save` or its ``.nc``.

    A write interrupted after its commit point is completed first (waiting for a writer
    that is committing it now).

    Raises
    ------
    FileNotFoundError
        If there is no result there.
    ValueError
        If the file is not a caitlab result, or its ``summary.json`` belongs to another run.
    """
    import xarray as xr

    path = Path(path)
    folder = path.parent if path.suffix == ".nc" else path
    if (folder / JOURNAL_FILE).exists():
        _recover_for_reader(folder)
    if path.suffix != ".nc":
        path = path / RESULT_FILE
    if not path.exists():
        if (folder / "best" / RESULT_FILE).exists():
            raise FileNotFoundError(
                f"no result at {path}: {folder} is a fit's folder; its best-fit run is "
                f"{folder / 'best'}"
            )
        raise FileNotFoundError(
            f"no result at {path}: run `caitlab run CONFIG --out {folder}` first"
        )
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except OSError as exc:
        raise ValueError(
            f"{path} is not a readable caitlab result (damaged, or not a NetCDF file: {exc}); "
            "run the simulation again to rewrite it"
        ) from None
    if "config_toml" not in ds.attrs or "stage" not in ds.dims:
        raise ValueError(
            f"{path} is not a caitlab result, or one written before stages were a "
            "dimension of the file: run its experiment again"
        )
    _check_pair(folder, path, str(ds.attrs.get("run_id", "")))
    return Result.from_xarray(ds)


__all__ = [
    "Result",
    "ResultWriteError",
    "StageRecord",
    "falling_crossing",
    "half_point",
    "open_result",
    "write_atomic",
]
