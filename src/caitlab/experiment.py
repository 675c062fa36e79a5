"""Experiments: a sample and a sequence of stages, run one after the other.

:class:`Experiment` is pure data (validated, immutable). :func:`run` integrates its stages in
sequence on one mesh, carrying densities and potential over from stage to stage, and returns
a :class:`caitlab.results.Result`.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from caitlab._model import Frozen
from caitlab.constants import ELEMENTARY_CHARGE, VACUUM_PERMITTIVITY, thermal_voltage
from caitlab.coupling import check_admissible, coupling_matrix, parse_pair
from caitlab.materials import Sample
from caitlab.mesh import Mesh, MeshSpec
from caitlab.results import Result, StageRecord
from caitlab.solver import (
    BEAM_FINITE,
    BEAM_IDEAL,
    BEAM_NONE,
    D_UNIT,
    LENGTH_UNIT,
    MAX_ORDER,
    TABLE_MAX_FRACTION,
    TABLE_POINTS_PER_N0,
    TIME_UNIT,
    StageSystem,
    StepControl,
    integrate_stage,
)
from caitlab.stages import AnyStage
from caitlab.units import Length, Time


class SolverOptions(Frozen):
    """Time-integration settings.

    Parameters
    ----------
    tolerance : float
        Allowed local error per time step as a front displacement, m (L1 norm over depth
        of the density error, divided by n0). Smaller is more accurate and slower.
    first_step : float
        First time step of every stage, s.
    max_step : float
        Largest time step, s.
    max_order : int
        Highest order of the variable-order BDF time stepping (1-3; 3 needs the fewest
        steps for a given accuracy, 1 is the most robust).
    """

    tolerance: Length = Field(default=2e-11, gt=0)
    first_step: Time = Field(default=1e-6, gt=0)
    max_step: Time = Field(default=1e5, gt=0)
    max_order: int = Field(default=MAX_ORDER, ge=1, le=MAX_ORDER)

    def control(self) -> StepControl:
        """The solver's dimensionless step control."""
        return StepControl(
            tolerance=self.tolerance / LENGTH_UNIT,
            first_step=self.first_step / TIME_UNIT,
            max_step=self.max_step / TIME_UNIT,
            max_order=self.max_order,
        )


class OutputOptions(Frozen):
    """Which states to save besides the end of every stage.

    Parameters
    ----------
    times : tuple of float
        Extra save times, s from the start of the first stage.
    frames : int
        Snapshots per stage, log-spaced in time (for a video); 0 for none.
    """

    times: tuple[Time, ...] = ()
    frames: int = Field(default=0, ge=0)


class Experiment(Frozen):
    """A CAIT experiment: a sample, a mesh, and stages run in sequence.

    Parameters
    ----------
    sample : Sample
        The glass and its mobile species.
    stages : tuple of BeamStage or RestStage
        Run in this order on the same sample.
    mesh : MeshSpec
        How to mesh the sample.
    solver : SolverOptions
        Time-integration settings.
    output : OutputOptions
        Extra save times and video frames.
    name : str
        A label for the run.
    """

    name: str = "experiment"
    sample: Sample
    stages: tuple[AnyStage, ...] = Field(min_length=1)
    mesh: MeshSpec = MeshSpec()
    solver: SolverOptions = SolverOptions()
    output: OutputOptions = OutputOptions()

    @model_validator(mode="after")
    def _check_stages(self) -> Experiment:
        names = [stage.name for stage in self.stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"stage names must be unique, repeated: {repeated}")
        declared = set(self.sample.species_names)
        present = {s.name for s in self.sample.species if s.initial_fraction > 0}
        for k, stage in enumerate(self.stages):
            where = f"stages[{k}] ({stage.name!r})"
            beam = stage.front_beam()
            if beam is not None:
                unknown = sorted(set(beam.species) - declared)
                if unknown:
                    raise ValueError(
                        f"{where}: beam species {unknown} not declared in sample.species "
                        f"(declared: {sorted(declared)}); add them there"
                    )
                present |= set(beam.species)
            unknown = sorted(set(stage.diffusivity) - declared)
            if unknown:
                raise ValueError(f"{where}: diffusivity given for undeclared species {unknown}")
            missing = sorted(present - set(stage.diffusivity))
            if missing:
                raise ValueError(
                    f"{where}: species {missing} present but without a diffusion model; "
                    f"add [stages.diffusivity.{missing[0]}] to this stage"
                )
            for name in present:
                try:
                    stage.diffusivity[name].check_temperature(stage.temperature)
                except ValueError as exc:
                    raise ValueError(f"{where}.diffusivity.{name}: {exc}") from None
            _check_coupling(stage, declared, where)
        smallest_cell = self.mesh.front_cell / self.mesh.refine
        if self.sample.thickness < 2 * smallest_cell:
            raise ValueError(
                f"sample.thickness ({self.sample.thickness:g} m) holds fewer than 2 cells of "
                f"mesh.front_cell / mesh.refine ({smallest_cell:g} m): make front_cell smaller"
            )
        total = sum(stage.duration for stage in self.stages)
        outside = [t for t in self.output.times if not 0.0 <= t <= total]
        if outside:
            raise ValueError(
                f"output.times {outside} s lie outside the experiment (0 to {total:g} s); "
                "times count from the start of the first stage"
            )
        return self

    def run(self, observer: StageObserver | None = None, *, progress: bool = False) -> Result:
        """Run all stages; see :func:`run`. ``progress=True`` shows a bar per stage."""
        if not progress:
            return run(self, observer)
        from caitlab._progress import progress_bars

        with progress_bars() as bar_observer:

            def both(stage: str, t: float, end: float) -> None:
                bar_observer(stage, t, end)
                if observer is not None:
                    observer(stage, t, end)

            return run(self, both)

    def to_dict(self) -> dict:
        """The full config (every default spelled out, SI numbers) as a TOML-ready dict."""
        from caitlab.config import experiment_to_dict

        return experiment_to_dict(self)

    def to_toml(self) -> str:
        """The full config as TOML text; :meth:`from_toml` reads it back to an equal one."""
        from caitlab.config import experiment_to_toml

        return experiment_to_toml(self)

    @classmethod
    def from_toml(cls, text: str, source: str = "config") -> Experiment:
        """Parse and validate TOML text (:class:`caitlab.config.ConfigError` if invalid)."""
        from caitlab.config import experiment_from_text

        return experiment_from_text(text, source)

    def _repr_html_(self) -> str:
        from caitlab._html import experiment_html

        return experiment_html(self)

    def __repr__(self) -> str:
        from caitlab._html import experiment_repr

        return experiment_repr(self)


def _check_coupling(stage: AnyStage, declared: set[str], where: str) -> None:
    """The stage's coupling pairs name declared species and keep L admissible."""
    named = sorted({name for key in stage.coupling for name in parse_pair(key)})
    unknown = sorted(set(named) - declared)
    if unknown:
        raise ValueError(f"{where}.coupling: undeclared species {unknown}")
    try:
        check_admissible(stage.coupling, named)
    except ValueError as exc:
        raise ValueError(f"{where}.coupling: {exc}") from None


#: observer(stage_name, t_stage_s, stage_duration_s) after every accepted step
StageObserver = Callable[[str, float, float], None]


def initial_state(sample: Sample, mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Pristine densities (species, cells) in m^-3 and potential (cells) in V."""
    fractions = np.array([s.initial_fraction for s in sample.species])
    density = np.outer(fractions, np.full(mesh.n_cells, sample.mobile_ion_density))
    return density, np.zeros(mesh.n_cells)


def _active_species(experiment: Experiment, stage: AnyStage, density: np.ndarray) -> list[int]:
    """Species present somewhere or arriving with this stage's beam."""
    beam = stage.front_beam()
    beamed = set(beam.species) if beam is not None else set()
    return [
        k
        for k, name in enumerate(experiment.sample.species_names)
        if name in beamed or np.any(density[k] > 0.0)
    ]


def build_system(experiment: Experiment, stage: AnyStage, mesh: Mesh, active: list[int]):
    """The dimensionless :class:`StageSystem` of ``stage`` for the ``active`` species."""
    sample = experiment.sample
    n0 = sample.mobile_ion_density
    v_t = thermal_voltage(stage.temperature)
    names = [sample.species_names[k] for k in active]
    grid = np.arange(int(TABLE_MAX_FRACTION * TABLE_POINTS_PER_N0) + 1) / TABLE_POINTS_PER_N0
    tables = np.array(
        [
            stage.diffusivity[name].log_diffusivity(grid, stage.temperature, n0) - math.log(D_UNIT)
            for name in names
        ]
    )
    widths = mesh.widths / LENGTH_UNIT
    half_first = 0.5 * widths[0]
    eps_r = sample.relative_permittivity
    aperture = stage.front_aperture()
    if aperture is None:
        surface_ratio = 1.0
    else:
        inside = eps_r / half_first
        surface_ratio = inside / (inside + LENGTH_UNIT / aperture)
    beam = stage.front_beam()
    flux_unit = n0 * LENGTH_UNIT / TIME_UNIT
    mode, fractions, potential, max_flux, spread = BEAM_NONE, np.zeros(len(active)), 0.0, 0.0, 1.0
    flux_scale = 1.0
    if beam is not None:
        mode = BEAM_IDEAL if beam.mode == "ideal" else BEAM_FINITE
        fractions = np.array([beam.species.get(name, 0.0) for name in names])
        potential = beam.source_potential / v_t
        flux_scale = _ohmic_flux(experiment, stage, potential, widths.sum())
        if beam.mode == "finite":
            mean_charge = sum(
                f * sample.species[sample.species_index(name)].charge
                for name, f in beam.species.items()
            )
            max_flux = beam.current / (mean_charge * ELEMENTARY_CHARGE * sample.area) / flux_unit
            spread = beam.energy_spread / v_t
    return StageSystem(
        widths=widths,
        inv_spacing=LENGTH_UNIT / np.diff(mesh.centres),
        charge=np.array([float(sample.species[k].charge) for k in active]),
        d_table=np.ascontiguousarray(np.exp(tables)),
        inv_step=float(TABLE_POINTS_PER_N0),
        beam_mode=int(mode),
        beam_fraction=fractions,
        beam_potential=float(potential),
        beam_flux_scale=float(flux_scale),
        beam_max_flux=float(max_flux),
        beam_spread=float(spread),
        surface_ratio=float(surface_ratio),
        front_coefficient=float((1.0 - surface_ratio) / half_first),
        debye2=VACUUM_PERMITTIVITY * eps_r * v_t / (ELEMENTARY_CHARGE * n0 * LENGTH_UNIT**2),
        background=float(sum(s.charge * s.initial_fraction for s in sample.species)),
        coupling=(kappa := np.ascontiguousarray(coupling_matrix(stage.coupling, names))),
        coupled=bool(np.any(kappa)),
    )


def _ohmic_flux(experiment: Experiment, stage: AnyStage, potential: float, thickness_nm: float):
    """The flux (n0·nm/s) that U_R (``potential``, in V_T) drives through the pristine
    sample: Σ z_i² f_i D_i(f_i) u / L."""
    sample = experiment.sample
    total = 0.0
    for species in sample.species:
        if species.initial_fraction > 0:
            model = stage.diffusivity[species.name]
            d = (
                model.diffusivity(
                    np.array([species.initial_fraction]),
                    stage.temperature,
                    sample.mobile_ion_density,
                )[0]
                / D_UNIT
            )
            total += species.charge**2 * species.initial_fraction * d * potential / thickness_nm
    return total if total > 0 else 1.0


def _stage_save_times(experiment: Experiment, start: float, duration: float) -> list[float]:
    first = start == 0.0
    local = [
        t - start
        for t in experiment.output.times
        if (start < t or (first and t == 0.0)) and t <= start + duration
    ]
    frames = experiment.output.frames
    if frames:
        first = min(experiment.solver.first_step * 10, duration / 10)
        local += list(np.geomspace(first, duration, frames))
    return sorted(set(local) | {duration})


def run(experiment: Experiment, observer: StageObserver | None = None) -> Result:
    """Run every stage of ``experiment`` in sequence, state carried over.

    Parameters
    ----------
    experiment : Experiment
        What to simulate.
    observer : callable, optional
        ``observer(stage_name, t_stage, duration)`` after every accepted time step
        (progress bars).

    Returns
    -------
    Result
        Saved states, boundary traces and a per-stage summary.

    Raises
    ------
    caitlab.solver.ConvergenceError
        If a stage cannot be integrated; the message names the stage and the time.
    """
    from caitlab._compile import compile_watch

    with compile_watch() as compiling:
        return _run_stages(experiment, observer, compiling)


def _run_stages(experiment: Experiment, observer: StageObserver | None, compiling: Any) -> Result:
    """:func:`run`'s stages; ``compiling.seconds`` (the time spent in numba's compiler so
    far) is left out of each stage's and the run's wall time and reported apart."""
    sample = experiment.sample
    n0 = sample.mobile_ion_density
    mesh = experiment.mesh.build(sample.thickness)
    density, potential = initial_state(sample, mesh)
    control = experiment.solver.control()
    records = []
    start = 0.0
    clock, compiled_at_start = _time.perf_counter(), compiling.seconds
    for stage in experiment.stages:
        active = _active_species(experiment, stage, density)
        system = build_system(experiment, stage, mesh, active)
        v_t = thermal_voltage(stage.temperature)
        x0 = system.pack(density[active] / n0, potential / v_t, 0.0)
        stage_clock = _time.perf_counter()
        compiled_before = compiling.seconds
        step_observer = None
        if observer is not None:

            def step_observer(t, end, _name=stage.name):
                observer(_name, t * TIME_UNIT, end * TIME_UNIT)

        traj = integrate_stage(
            system,
            x0,
            stage.duration / TIME_UNIT,
            [t / TIME_UNIT for t in _stage_save_times(experiment, start, stage.duration)],
            control,
            step_observer,
            stage.name,
        )
        record = StageRecord.from_trajectory(
            stage,
            start,
            traj,
            system,
            active,
            sample,
            mesh,
            v_t,
            wall_time_s=_time.perf_counter() - stage_clock - (compiling.seconds - compiled_before),
        )
        records.append(record)
        density, potential = record.density[-1].copy(), record.potential[-1].copy()
        start += stage.duration
    return Result.from_records(
        experiment,
        mesh,
        records,
        wall_time_s=_time.perf_counter() - clock - (compiling.seconds - compiled_at_start),
        compile_time_s=compiling.seconds,
    )


__all__ = ["Experiment", "OutputOptions", "SolverOptions", "build_system", "run"]
