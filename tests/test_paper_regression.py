"""The paper's sequential double-CAIT at default resolution, as a regression.

The tolerances come from the model, not from the measurements: the numerical error of the
default mesh (0.25 nm cells: every stage's charge within 0.1 % and the Li, Rb and Cs 50 %
points within 0.3 nm of the limit extrapolated from 1×, 2×, 4× refinement, asserted below)
plus a margin. docs/paper-comparison.md compares these numbers with what the
paper measured and explains each difference; nothing here is tuned to the measurements.
"""

from __future__ import annotations

import numpy as np
import pytest

from caitlab.constants import BOLTZMANN, ELEMENTARY_CHARGE
from caitlab.examples import load_example
from caitlab.results import falling_crossing, half_point

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paper():
    experiment = load_example("double-cait")
    return experiment, experiment.run()


def test_bulk_limited_charge_of_stage_one(paper):
    experiment, result = paper
    sample = experiment.sample
    sigma = sample.mobile_ion_density * ELEMENTARY_CHARGE**2 * 5.8e-19 / (BOLTZMANN * 323.0)
    ohmic = sigma * 15.0 * sample.area / sample.thickness * experiment.stages[0].duration
    q1 = result.stages[0].charge_C
    assert ohmic == pytest.approx(2.9e-3, rel=0.02)  # the spec's ~8.5 nA for 94.46 h
    # the growing, resistive Rb zone takes a few per cent off the bulk-limited charge
    assert 0.95 * ohmic < q1 < ohmic
    assert q1 == pytest.approx(2.827e-3, rel=0.005)


def test_stage_one_replacement_zone(paper):
    experiment, result = paper
    x = result.mesh.centres * 1e9
    li, rb, cs = result.stages[0].density[-1] / experiment.sample.mobile_ion_density
    front = falling_crossing(x, rb, 0.5)
    assert 47.0 < front < 51.0  # nm; full replacement of 2.83 mC would be 44.6 nm
    zone = x < 0.5 * front
    assert 0.07 < li[zone].mean() < 0.12  # trapped Li below the 10 % fall-off
    assert rb[zone][0] - rb[zone][-1] > 0.01  # the small slope across the zone
    assert cs.max() == 0.0
    assert result.stages[0].trace_surface_potential[-1] == pytest.approx(15.0, abs=1e-6)
    # a small negative charge excess (cation deficit) at the diffusion front
    total = li + rb
    deficit = 1 - total[(x > front - 5) & (x < front + 5)].min()
    assert 1e-5 < deficit < 1e-2


def test_stage_two_composition_and_fronts(paper):
    experiment, result = paper
    x = result.mesh.centres * 1e9
    li, rb, cs = result.stages[1].density[-1] / experiment.sample.mobile_ion_density
    li_front = falling_crossing(x, 1 - li, 0.5)
    cs_front = falling_crossing(x, cs, 0.5)
    assert 104.0 < li_front < 110.0
    assert 10.0 < li_front - cs_front < 22.0  # the Rb front runs ahead of the Cs front
    zone = x < 0.5 * cs_front
    assert 0.62 < cs[zone].mean() < 0.72
    assert 0.27 < rb[zone].mean() < 0.35
    assert li[zone].mean() < 0.035
    between = (x > cs_front) & (x < li_front)
    assert rb[between].max() > rb[zone].max() + 0.3  # the local Rb maximum
    q2 = result.stages[1].charge_C
    assert q2 == pytest.approx(3.72e-3, rel=0.01)
    # the resistive Cs zone: stage 2's mean current is below stage 1's
    q1 = result.stages[0].charge_C
    assert q2 / experiment.stages[1].duration < 0.7 * q1 / experiment.stages[0].duration


def test_paper_run_conserves_ions(paper):
    _, result = paper
    for stage in result.stages:
        assert stage.conservation_rel_error < 1e-10


def observables(result, n0: float) -> dict[str, float]:
    values = {}
    x = result.mesh.centres * 1e9
    for k, stage in enumerate(result.stages):
        li, rb, cs = stage.density[-1] / n0
        values[f"charge {k}"] = stage.charge_C
        values[f"Li {k}"] = falling_crossing(x, 1 - li, 0.5)
        values[f"Rb {k}"] = half_point(x, rb)
        if cs.max() > 0:
            values[f"Cs {k}"] = half_point(x, cs)
    return values


def test_default_resolution_is_within_the_accuracy_targets(paper):
    """Issue #8's targets: every stage's charge within 0.1 % and the 50 % points within
    0.3 nm of the converged answer. The space error against the Richardson limit of 1×, 2×,
    4× refinement (order as observed where the differences shrink, else 1, the slowest);
    the time error from a run at a quarter of the step tolerance (the global error of
    BDF3 goes as tolerance^(3/4), so its difference is ~2/3 of the error)."""
    experiment, result = paper
    n0 = experiment.sample.mobile_ion_density
    runs = [observables(result, n0)] + [
        observables(experiment.with_(mesh=experiment.mesh.refined(k)).run(), n0) for k in (2, 4)
    ]
    solver = experiment.solver.with_(tolerance=experiment.solver.tolerance / 4)
    finer_in_time = observables(experiment.with_(solver=solver).run(), n0)
    for key, f1 in runs[0].items():
        f2, f4 = runs[1][key], runs[2][key]
        d12, d24 = f1 - f2, f2 - f4
        order = np.log2(d12 / d24) if d12 * d24 > 0 and abs(d12) > abs(d24) else 1.0
        limit = f4 + (f4 - f2) / (2.0**order - 1.0)
        space, time = abs(f1 - limit), 1.5 * abs(f1 - finer_in_time[key])
        if key.startswith("charge"):
            assert (space + time) / limit < 1e-3, (key, f1, f2, f4, finer_in_time[key])
        else:
            assert space + time < 0.3, (key, f1, f2, f4, finer_in_time[key])
