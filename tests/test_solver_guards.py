"""The solver's own guards: Newton stops on a small residual, stages check their invariants,
no run can hang or allocate without bound."""

from __future__ import annotations

import numpy as np
import pytest

from caitlab import MeshSpec, solver
from caitlab.experiment import build_system, initial_state
from caitlab.mesh import MAX_CELLS, estimated_cells
from caitlab.solver import (
    ConvergenceError,
    InvariantError,
    StageTrajectory,
    StepControl,
    Workspace,
    check_invariants,
    integrate_stage,
)


@pytest.fixture(scope="module")
def first_stage(quick_experiment):
    """The quick double-CAIT's first stage, discretised, and its pristine state."""
    experiment = quick_experiment
    mesh = experiment.mesh.build(experiment.sample.thickness)
    density, potential = initial_state(experiment.sample, mesh)
    stage = experiment.stages[0]
    system = build_system(experiment, stage, mesh, [0, 1])
    x0 = system.pack(density[[0, 1]] / experiment.sample.mobile_ion_density, potential, 0.0)
    return experiment, stage, system, x0


def scaled_residual(system, x, ref, hist, a0_dt):
    work = Workspace.for_system(system)
    block = (0,) * (system.n_species + 1)
    solver._assemble(x, ref, hist, a0_dt, system, work, True, block)
    solver._row_norms(system, work, block)
    return solver._scaled_residual(work)


def test_newton_does_not_stop_on_a_small_update_alone(first_stage):
    _, _, system, x0 = first_stage
    block = (0,) * (system.n_species + 1)
    work = Workspace.for_system(system)
    hist = np.zeros_like(x0)
    a0_dt = 1.0 / 1e-6  # the first step of a stage
    # an update criterion that anything passes: one iteration is not enough all the same
    x = x0.copy()
    iterations, _ = solver._newton(x, x0, hist, a0_dt, system, work, 1, 1e300, 1e-10, block)
    assert iterations == -1
    assert scaled_residual(system, x, x0, hist, a0_dt) > 1e-10
    # given the iterations, it stops only once the residual is small
    x = x0.copy()
    iterations, _ = solver._newton(x, x0, hist, a0_dt, system, work, 30, 1e300, 1e-10, block)
    assert iterations >= 2
    assert scaled_residual(system, x, x0, hist, a0_dt) <= 1e-10


def finished_trajectory(
    system, x0, end, inflow, outflow, landing_surface=-np.inf, lowest=0.0, n_steps=0
):
    return StageTrajectory(
        saved=[end],
        initial=x0,
        inflow=np.asarray(inflow),
        outflow=np.asarray(outflow),
        peak_landing_surface=landing_surface,
        min_density=lowest,
        n_steps=n_steps,
    )


def test_a_stage_that_loses_ions_fails_its_invariants(first_stage):
    _, _, system, x0 = first_stage
    end = x0.copy()
    end[1] += 1e-3  # Li appeared in the first cell without any flux
    traj = finished_trajectory(system, x0, end, [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(InvariantError, match="ion balance"):
        check_invariants(system, traj, StepControl(), "Rb-CAIT")
    # the same state with the matching inflow passes
    inflow = np.array([1e-3 * system.widths[0], 0.0])
    check_invariants(
        system, finished_trajectory(system, x0, end, inflow, [0.0, 0.0]), StepControl(), "Rb-CAIT"
    )


def test_a_beam_landing_above_the_source_potential_fails_its_invariants(first_stage):
    _, _, system, x0 = first_stage
    above = system.beam_potential * (1 + 1e-5)
    traj = finished_trajectory(system, x0, x0, [0, 0], [0, 0], landing_surface=above)
    with pytest.raises(InvariantError, match="U_R"):
        check_invariants(system, traj, StepControl(), "Rb-CAIT")
    # a surface above U_R where nothing landed is physics (a charged start, a new aperture)
    check_invariants(
        system, finished_trajectory(system, x0, x0, [0, 0], [0, 0]), StepControl(), "Rb-CAIT"
    )


def test_the_balance_allowance_grows_with_the_steps_taken(first_stage):
    _, _, system, x0 = first_stage
    end = x0.copy()
    inventory = system.widths.sum()
    end[-3] += 50 * solver.CONSERVATION_STEP_RTOL * inventory / system.widths[-1]
    # 50 steps' worth of round-off without any flux: too much for 10 steps, fine for 100
    with pytest.raises(InvariantError, match="ion balance"):
        check_invariants(
            system,
            finished_trajectory(system, x0, end, [0, 0], [0, 0], n_steps=10),
            StepControl(),
            "rest",
        )
    check_invariants(
        system,
        finished_trajectory(system, x0, end, [0, 0], [0, 0], n_steps=100),
        StepControl(),
        "rest",
    )


def test_a_negative_density_fails_its_invariants(first_stage):
    _, _, system, x0 = first_stage
    traj = finished_trajectory(system, x0, x0, [0, 0], [0, 0], lowest=-1e-9)
    with pytest.raises(InvariantError, match="density"):
        check_invariants(system, traj, StepControl(), "Rb-CAIT")


def test_a_stage_stops_at_its_step_budget(first_stage):
    _, stage, system, x0 = first_stage
    control = StepControl(max_steps=20)
    with pytest.raises(ConvergenceError, match="more than 20 time steps"):
        integrate_stage(system, x0, stage.duration, [], control, stage_name="Rb-CAIT")


def test_the_cell_count_is_checked_before_anything_is_built():
    spec = MeshSpec(front_cell=0.25e-9, fine_depth=150e-9, refine=100_000)
    assert estimated_cells(spec, 2.325e-3) > MAX_CELLS
    with pytest.raises(ValueError, match="refine"):
        spec.build(2.325e-3)


@pytest.mark.parametrize(("front_cell", "refine"), [(0.25e-9, 1), (1e-9, 1), (0.5e-9, 4)])
def test_the_cell_estimate_is_the_count(front_cell, refine):
    spec = MeshSpec(front_cell=front_cell, fine_depth=150e-9, refine=refine)
    assert estimated_cells(spec, 2.325e-3) == pytest.approx(spec.build(2.325e-3).n_cells, abs=2)
