"""The solver against physics: conservation, analytic limits, convergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from caitlab import (
    Beam,
    BeamStage,
    ConstantD,
    Experiment,
    MeshSpec,
    RestStage,
    Sample,
    SolverOptions,
    Species,
)
from caitlab.constants import BOLTZMANN, ELEMENTARY_CHARGE
from caitlab.experiment import build_system
from caitlab.solver import StepControl, integrate_stage

N0 = 1.4e28
AREA = 28.26e-6
L = 2.325e-3
T = 323.0


def one_ion_sample(thickness=L, species=("Li", "Rb")) -> Sample:
    return Sample(
        thickness=thickness,
        area=AREA,
        mobile_ion_density=N0,
        relative_permittivity=7.0,
        species=[
            Species(name=s, initial_fraction=1.0 if k == 0 else 0.0) for k, s in enumerate(species)
        ],
    )


def beam_stage(species: str, duration: float, d: dict[str, float], **beam) -> BeamStage:
    return BeamStage(
        name=f"{species}-beam",
        duration=duration,
        temperature=T,
        beam=Beam(species=species, source_potential=15.0, **beam),
        diffusivity={k: ConstantD(d=v) for k, v in d.items()},
    )


def test_conservation_to_round_off_every_stage(quick_result):
    for stage in quick_result.stages:
        assert stage.conservation_rel_error <= 1e-10, stage.name
        # all the foreign ions that entered are still in the sample
        assert stage.inflow_m2.sum() > 0


def test_conservation_with_a_rest_stage(quick_experiment):
    rb_cait = quick_experiment.stages[0]
    storage = RestStage(
        name="storage",
        duration=3600.0 * 24,
        temperature=278.0,
        diffusivity={
            "Li": rb_cait.diffusivity["Li"],  # Arrhenius-scaled from 323 K with 0.65 eV
            "Rb": ConstantD(d=2.67e-22, activation_energy=0.7, reference_temperature=323.0),
        },
    )
    experiment = quick_experiment.with_(stages=[rb_cait, storage])
    result = experiment.run()
    rest = result.stage("storage")
    # almost nothing flows at rest (1e-13 of the inventory): the balance holds to the
    # round-off of the inventory itself
    imbalance = rest.inventory_change_m2 - (rest.inflow_m2 - rest.outflow_m2)
    assert np.all(np.abs(imbalance) <= 1e-14 * rest.inventory_start_m2.max())
    assert rest.inflow_m2.sum() == 0.0


def ohmic_experiment(**beam) -> Experiment:
    stage = beam_stage("Li", 0.2, {"Li": 5.8e-19}, **beam)
    return Experiment(sample=one_ion_sample(species=("Li",)), stages=[stage])


def test_ohmic_limit_current_through_a_homogeneous_sample():
    result = ohmic_experiment().run()
    sigma = N0 * ELEMENTARY_CHARGE**2 * 5.8e-19 / (BOLTZMANN * T)
    expected = sigma * 15.0 * AREA / L
    assert expected == pytest.approx(8.5e-9, rel=0.02)  # the spec's 8.5 nA
    assert result.stages[0].trace_current[-1] == pytest.approx(expected, rel=0.01)
    assert result.stages[0].trace_surface_potential[-1] == pytest.approx(15.0, abs=1e-6)


def test_finite_beam_approaches_the_ideal_beam():
    ideal = ohmic_experiment().run().stages[0].trace_current[-1]
    errors = []
    for current in (2e-8, 2e-7, 2e-6):
        run = ohmic_experiment(mode="finite", current=current, energy_spread=0.2).run()
        errors.append(abs(run.stages[0].trace_current[-1] - ideal) / ideal)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


def test_a_weak_finite_beam_limits_the_current():
    run = ohmic_experiment(mode="finite", current=1e-9, energy_spread=0.2).run()
    stage = run.stages[0]
    assert stage.trace_current[-1] == pytest.approx(1e-9, rel=0.02)
    assert stage.trace_surface_potential[-1] < 15.0 - 1.0  # never charged up to U_R


INTERDIFFUSION_D, INTERDIFFUSION_A, INTERDIFFUSION_T = 1e-18, 20e-9, 100.0


def interdiffusion(front_cell: float, control: StepControl):
    """Species A fills the first ``a`` = 20 nm, B the rest of a 2 µm sample, equal constant
    D, no field (rest stage): returns centres, widths, final densities (n0), potential (V_T)
    and the exact n_A/n0 = [erf((a - x)/2√(Dt)) + erf((a + x)/2√(Dt))] / 2."""
    sample = one_ion_sample(thickness=2e-6, species=("A", "B"))
    d, a, t = INTERDIFFUSION_D, INTERDIFFUSION_A, INTERDIFFUSION_T
    stage = RestStage(
        name="mix",
        duration=t,
        temperature=T,
        diffusivity={"A": ConstantD(d=d), "B": ConstantD(d=d)},
    )
    experiment = Experiment(
        sample=sample, stages=[stage], mesh=MeshSpec(front_cell=front_cell, fine_depth=100e-9)
    )
    mesh = experiment.mesh.build(sample.thickness)
    system = build_system(experiment, stage, mesh, [0, 1])
    x, h = mesh.centres, mesh.widths
    # the initial step as cell averages, exact on every mesh
    a_frac = np.clip((a - mesh.edges[:-1]) / h, 0.0, 1.0)
    x0 = system.pack(np.array([a_frac, 1 - a_frac]), np.zeros(x.size), 0.0)
    traj = integrate_stage(system, x0, t, [], control)
    dens, pot, _ = system.unpack(traj.saved[-1])
    width = 2 * math.sqrt(d * t)
    exact = 0.5 * (erf((a - x) / width) + erf((a + x) / width))
    return x, h, dens, pot, exact


def test_constant_d_interdiffusion_without_field_matches_erfc():
    """Two species with equal constant D swap places at constant total density (no field)."""
    x, _, dens, pot, exact = interdiffusion(0.25e-9, StepControl(tolerance=1e-4, first_step=1e-3))
    fine = x < 100e-9
    assert np.max(np.abs(dens[0][fine] - exact[fine])) < 2e-3
    assert np.max(np.abs(dens.sum(axis=0) - 1.0)) < 1e-6  # no separation of charge
    assert np.max(np.abs(pot)) < 1e-4  # in V_T: no field builds up


def replacement_experiment(d_li=5.8e-19, d_rb=2.67e-22, hours=40.0) -> Experiment:
    stage = beam_stage("Rb", hours * 3600.0, {"Li": d_li, "Rb": d_rb})
    return Experiment(
        sample=one_ion_sample(),
        stages=[stage],
        mesh=MeshSpec(front_cell=0.5e-9, fine_depth=60e-9),
    )


def test_replacement_front_travels_to_the_transferred_charge_depth():
    result = replacement_experiment().run()
    stage = result.stages[0]
    rb_inventory = stage.inventory_end_m2[1]
    # every Rb ion that landed is in the sample ...
    assert rb_inventory == pytest.approx(stage.inflow_m2[1], rel=1e-12)
    # ... and equals the charge through the back electrode / e (capacitive charge is tiny)
    transferred = stage.charge_C / (ELEMENTARY_CHARGE * AREA)
    assert rb_inventory == pytest.approx(transferred, rel=1e-3)
    # a complete replacement zone ends at depth Q / (e n0 A)
    x = result.mesh.centres
    rb = stage.density[-1][1] / N0
    front = np.interp(0.5, rb[::-1], x[::-1])
    assert front == pytest.approx(transferred / N0, abs=0.5e-9)
    assert rb[x < 0.5 * front].min() > 0.98


def front_and_charge(experiment: Experiment) -> tuple[float, float]:
    result = experiment.run()
    stage = result.stages[0]
    x = result.mesh.centres
    rb = stage.density[-1][1] / N0
    return float(np.interp(0.5, rb[::-1], x[::-1])), stage.charge_C


def test_grid_convergence_of_front_and_charge(quick_experiment):
    """Observed order of the Rb front and the charge of a CAIT stage under refinement
    (0.5, 0.25, 0.125 nm cells): at least first order (the front is a steep, field-driven
    replacement; 1 nm cells are not yet in the asymptotic range)."""
    base = quick_experiment.with_(
        stages=[quick_experiment.stages[0]],
        solver=SolverOptions(tolerance=5e-13),
        mesh=MeshSpec(front_cell=1e-9, fine_depth=60e-9),
    )
    results = [front_and_charge(base.with_(mesh=base.mesh.refined(k))) for k in (2, 4, 8)]
    fronts = np.array([r[0] for r in results])
    charges = np.array([r[1] for r in results])
    front_order = np.log2(abs(fronts[1] - fronts[0]) / abs(fronts[2] - fronts[1]))
    charge_order = np.log2(abs(charges[1] - charges[0]) / abs(charges[2] - charges[1]))
    assert front_order > 0.9 and charge_order > 0.9, (front_order, charge_order)
    assert abs(fronts[2] - fronts[1]) < 0.05e-9
    assert abs(charges[2] / charges[1] - 1) < 5e-4


def test_time_step_convergence_of_front_and_charge(quick_experiment):
    base = quick_experiment.with_(
        stages=[quick_experiment.stages[0]], mesh=MeshSpec(front_cell=1e-9, fine_depth=40e-9)
    )
    results = [
        front_and_charge(base.with_(solver=SolverOptions(tolerance=tol)))
        for tol in (2e-10, 2e-11, 2e-12)
    ]
    fronts = np.array([r[0] for r in results])
    charges = np.array([r[1] for r in results])
    assert abs(fronts[2] - fronts[1]) <= abs(fronts[1] - fronts[0]) + 1e-12
    assert abs(fronts[2] - fronts[1]) < 0.1e-9
    assert abs(charges[2] / charges[1] - 1) < 1e-3


def test_densities_stay_non_negative(quick_result):
    for stage in quick_result.stages:
        assert stage.min_density_fraction > -1e-8
        assert stage.density.min() > -1e-8 * N0


def test_a_beam_mixture_delivers_its_fractions():
    """A simultaneous double-CAIT: Rb and Cs from one beam, 30 % / 70 % of the current."""
    stage = BeamStage(
        name="mixed",
        duration=3600.0,
        temperature=T,
        beam=Beam(species={"Rb": 0.3, "Cs": 0.7}, source_potential=15.0),
        diffusivity={
            k: ConstantD(d=v) for k, v in {"Li": 5.8e-19, "Rb": 2.67e-22, "Cs": 3.1e-23}.items()
        },
    )
    experiment = Experiment(
        sample=one_ion_sample(species=("Li", "Rb", "Cs")),
        stages=[stage],
        mesh=MeshSpec(front_cell=0.5e-9, fine_depth=20e-9),
    )
    record = experiment.run().stages[0]
    _, rb, cs = record.inventory_end_m2
    assert rb / (rb + cs) == pytest.approx(0.3, rel=1e-9)
    assert rb + cs == pytest.approx(record.charge_C / (ELEMENTARY_CHARGE * AREA), rel=1e-2)


def test_two_native_species_relax_without_a_beam():
    """A mixed-alkali glass at rest stays neutral and passes no current."""
    sample = Sample(
        thickness=1e-6,
        area=AREA,
        mobile_ion_density=N0,
        species=[
            Species(name="Li", initial_fraction=0.6),
            Species(name="Na", initial_fraction=0.4),
        ],
    )
    stage = RestStage(
        name="rest",
        duration=100.0,
        temperature=T,
        diffusivity={"Li": ConstantD(d=1e-19), "Na": ConstantD(d=1e-20)},
    )
    record = Experiment(sample=sample, stages=[stage]).run().stages[0]
    fractions = record.density[-1] / N0
    assert np.allclose(fractions[0], 0.6, atol=1e-9)
    assert np.allclose(fractions[1], 0.4, atol=1e-9)
    assert abs(record.charge_C) < 1e-15


def test_the_ideal_beam_never_charges_the_surface_above_the_source_potential(quick_result):
    for stage in quick_result.stages:
        assert stage.trace_surface_potential.max() < 15.0 + 1e-3
        assert stage.trace_surface_potential[-1] == pytest.approx(15.0, abs=1e-6)


def test_divalent_ions_ohmic_limit_and_finite_beam_current():
    """Mg2+ in, Mg2+ out: neutral pristine sample, σ = n0 z² e² D / kT, and a finite beam
    of current I lands I / (2e) ions per second."""
    sample = Sample(
        thickness=L,
        area=AREA,
        mobile_ion_density=N0,
        species=[Species(name="Mg", charge=2, initial_fraction=1.0)],
    )
    d = 5.8e-19

    def run(**beam):
        stage = BeamStage(
            name="Mg",
            duration=0.2,
            temperature=T,
            diffusivity={"Mg": ConstantD(d=d)},
            beam=Beam(species="Mg", source_potential=15.0, **beam),
        )
        return Experiment(sample=sample, stages=[stage]).run().stages[0]

    sigma = N0 * 4 * ELEMENTARY_CHARGE**2 * d / (BOLTZMANN * T)
    assert run().trace_current[-1] == pytest.approx(sigma * 15.0 * AREA / L, rel=0.01)
    weak = run(mode="finite", current=1e-9, energy_spread=0.2)
    assert weak.trace_beam_current[-1] == pytest.approx(1e-9, rel=0.02)
    assert weak.trace_current[-1] == pytest.approx(1e-9, rel=0.02)


def interdiffusion_error(front_cell: float) -> float:
    """L1 error (m·n0) of species A against the exact erf solution (no field, constant D)."""
    x, h, dens, _, exact = interdiffusion(front_cell, StepControl(tolerance=1e-7, first_step=1e-4))
    inside = x < 100e-9
    return float(np.sum(np.abs(dens[0] - exact)[inside] * h[inside]))


def test_constant_d_diffusion_converges_at_second_order_in_space():
    errors = [interdiffusion_error(cell) for cell in (2e-9, 1e-9, 0.5e-9)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)
