"""Rest stages: the sample is a leaky capacitor that drains its stored charge and nothing else.

The reproducers of a bug where the step control saw only the densities: variable-step BDF2
stepped straight through the dielectric relaxation (τ ≈ 1 ms), overshot the decay past
zero, and the one-way back electrode kept the over-drained charge (1.8-2× the stored
charge, the bulk left at -0.5 V, and an answer that changed with ``first_step``).
"""

from __future__ import annotations

import numpy as np
import pytest

from caitlab import (
    Beam,
    BeamStage,
    ConstantD,
    Experiment,
    RestStage,
    Sample,
    SolverOptions,
    Species,
)
from caitlab.constants import VACUUM_PERMITTIVITY

L, AREA, N0, EPS_R, GAP, U_R = 2.325e-3, 28.26e-6, 1.4e28, 7.0, 8e-3, 15.0


def li_capacitor(first_step: float = 1e-6, times: tuple[float, ...] = ()) -> Experiment:
    """A Li-only sample: an ideal Li beam at 15 V for 1 s, then a 100 s rest."""
    sample = Sample(
        thickness=L,
        area=AREA,
        mobile_ion_density=N0,
        relative_permittivity=EPS_R,
        species=[Species(name="Li", initial_fraction=1.0)],
    )
    d = {"Li": ConstantD(d=5.8e-19)}
    beam = BeamStage(
        name="beam",
        duration=1.0,
        temperature=323.0,
        diffusivity=d,
        beam=Beam(species="Li", source_potential=U_R, aperture_distance=GAP),
    )
    rest = RestStage(
        name="rest", duration=100.0, temperature=323.0, diffusivity=d, aperture_distance=GAP
    )
    return Experiment(
        sample=sample,
        stages=[beam, rest],
        solver=SolverOptions(first_step=first_step),
        output={"times": list(times)},
    )


STORED = VACUUM_PERMITTIVITY * U_R * AREA * (EPS_R / L + 1.0 / GAP)


@pytest.mark.parametrize(
    ("first_step", "times"),
    [(1e-6, ()), (1e-4, ()), (1e-8, (1.0001, 1.01, 1.5))],
    ids=["default", "first-step-1e-4", "first-step-1e-8-extra-outputs"],
)
def test_rest_drains_exactly_the_stored_charge(first_step, times):
    result = li_capacitor(first_step, times).run()
    rest = result.stage("rest")
    assert STORED == pytest.approx(1.18e-11, rel=0.01)  # the ε0 U_R A (εr/L + 1/g)
    assert rest.charge_C == pytest.approx(STORED, rel=0.01)
    # nothing is left: the surface and the bulk end at the electrode's potential
    assert np.max(np.abs(rest.potential[-1])) < 1e-3
    assert abs(rest.trace_surface_potential[-1]) < 1e-3
    # the discharge is monotonic: the back current never reverses (the cumulative charge is
    # integrated by the BDF3 formula, whose history terms may wiggle it by ~1e-8 of the
    # stored charge in the tail; the bug over-drained by 80 %)
    assert np.all(np.diff(rest.trace_charge) >= -1e-6 * STORED)


def test_the_answer_does_not_depend_on_first_step_or_output_times():
    charges = [
        li_capacitor(first_step, times).run().stage("rest").charge_C
        for first_step, times in [(1e-6, ()), (1e-4, ()), (1e-8, (1.0001, 1.01, 1.5))]
    ]
    assert max(charges) / min(charges) - 1.0 < 1e-3


def test_rest_after_the_first_cait_stage_drains_its_stored_charge(quick_experiment):
    """The paper's stage 1 (quick variant), then a 1000 h rest at 278 K."""
    rb_cait = quick_experiment.stages[0]
    storage = RestStage(
        name="storage",
        duration=1000 * 3600.0,
        temperature=278.0,
        aperture_distance=GAP,
        diffusivity={
            "Li": rb_cait.diffusivity["Li"],  # Arrhenius-scaled from 323 K with 0.65 eV
            "Rb": ConstantD(d=2.67e-22, activation_energy=0.7, reference_temperature=323.0),
        },
    )
    result = quick_experiment.with_(stages=[rb_cait, storage]).run()
    cait, rest = result.stage("Rb-CAIT"), result.stage("storage")
    # the charge held at the end of the beam stage: ε0 A (εr E_bulk + φ_s / g), the bulk
    # field measured in the homogeneous middle of the sample
    x = result.mesh.centres
    middle = (x > 0.3 * L) & (x < 0.7 * L)
    e_bulk = -np.polyfit(x[middle], cait.potential[-1][middle], 1)[0]
    surface = cait.trace_surface_potential[-1]
    held = VACUUM_PERMITTIVITY * AREA * (EPS_R * e_bulk + surface / GAP)
    assert rest.charge_C == pytest.approx(held, rel=0.01)
    # the bulk ends at the electrode's potential; the surface keeps only the zone's small
    # zero-current diffusion potential
    assert np.max(np.abs(rest.potential[-1][x > 1e-6])) < 1e-3
    assert abs(rest.trace_surface_potential[-1]) < 0.2
