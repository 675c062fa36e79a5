"""Onsager cross-coefficients: admissibility, the discrete cross fluxes, κ = 0 unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from test_solver_numerics import dense_jacobian, numeric_jacobian, residual_and_jacobian

from caitlab import coupling, solver
from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.examples import load_example
from caitlab.experiment import build_system
from caitlab.params import get_value, with_values


def test_one_pair_is_admissible_on_the_simplex_for_kappa_up_to_one():
    for kappa in (-1.0, -0.3, 0.5, 1.0):
        assert coupling.check_admissible({"Rb-Cs": kappa}, ["Rb", "Cs"]) >= 0.0
    # C_ij = κ √(x_i x_j) ≤ κ/2 on Σx ≤ 1: the smallest eigenvalue is 1 - |κ|/2
    assert coupling.check_admissible({"Rb-Cs": 1.0}, ["Rb", "Cs"]) == pytest.approx(0.5)


def test_several_pairs_that_make_L_indefinite_are_refused():
    pairs = {"Li-Rb": -1.0, "Rb-Cs": -1.0, "Li-Cs": -1.0}
    assert coupling.check_admissible(pairs, ["Li", "Rb", "Cs"]) >= 0.0
    with pytest.raises(ValueError, match="not admissible"):
        # not reachable through the stage (|κ| ≤ 1), but the check itself must see it
        coupling.check_admissible({"Li-Rb": 3.0, "Rb-Cs": 3.0}, ["Li", "Rb", "Cs"])


@pytest.mark.parametrize(("n_species", "step"), [(1, 0.02), (2, 0.02), (3, 0.02), (3, 0.03)])
def test_simplex_grid_is_every_tick_combination_within_the_simplex(n_species, step):
    import itertools

    ticks = np.arange(0.0, 1.0 + 1e-12, step)
    combos = [p for p in itertools.product(ticks, repeat=n_species) if sum(p) <= 1.0 + 1e-12]
    assert np.array_equal(coupling.simplex_states(n_species, step), np.array(combos).T)


def test_the_simplex_grid_is_built_once_and_cannot_be_changed():
    grid = coupling.simplex_states(3)
    assert coupling.simplex_states(3) is grid and coupling.simplex_states(3, 0.02) is grid
    with pytest.raises(ValueError, match="read-only"):
        grid[0, 0] = 0.5  # shared by every check: a caller cannot spoil it


def test_validating_a_coupled_experiment_again_checks_nothing_again(monkeypatch):
    calls = []
    checked = coupling.min_eigenvalue

    def counted(kappa, fractions):
        calls.append(np.shape(fractions))
        return checked(kappa, fractions)

    monkeypatch.setattr(coupling, "min_eigenvalue", counted)
    data = experiment_to_dict(load_example("quick-double-cait"))
    data["stages"][1]["coupling"] = {"Li-Rb": 0.4, "Rb-Cs": 0.3, "Li-Cs": -0.2123}  # new κ
    experiment_from_dict(data)
    assert calls == [(3, 23426)]  # the grid of three species, once
    experiment_from_dict(data)
    experiment_from_dict(with_values(data, {"stages.Cs-CAIT.duration": 10.0}))
    assert len(calls) == 1  # the same κ: the check is not repeated
    with pytest.raises(ValueError, match="not admissible"):  # a refusal is not remembered
        coupling.check_admissible({"Li-Rb": 3.0, "Rb-Cs": 3.0}, ["Li", "Rb", "Cs"])
    with pytest.raises(ValueError, match="not admissible"):
        coupling.check_admissible({"Li-Rb": 3.0, "Rb-Cs": 3.0}, ["Li", "Rb", "Cs"])


def test_onsager_matrix_is_symmetric_psd_and_finite_without_one_species():
    rng = np.random.default_rng(0)
    kappa = coupling.coupling_matrix({"Rb-Cs": 0.8, "Li-Rb": -0.4}, ["Li", "Rb", "Cs"])
    x = rng.dirichlet(np.ones(4), size=200)[:, :3].T
    x[2, :50] = 0.0  # no Cs
    d = 10 ** rng.uniform(-24, -18, size=x.shape)
    big_l = coupling.onsager_matrix(kappa, d, x * 1.4e28, 1.4e28, 323.0)
    assert np.allclose(big_l, np.swapaxes(big_l, 1, 2))
    scale = np.sqrt(np.einsum("nii,njj->nij", big_l, big_l)) + 1e-300
    assert np.linalg.eigvalsh(big_l / scale).min() > -1e-12
    assert np.all(np.isfinite(big_l)) and np.all(big_l[:50, 2, :] == 0.0)


def test_stage_coupling_is_validated_and_addressable_by_path():
    experiment = load_example("quick-double-cait")
    stage = experiment.stages[1].with_(coupling={"Rb-Cs": 0.3})
    experiment = experiment.with_(stages=(experiment.stages[0], stage))
    data = experiment_to_dict(experiment)
    assert get_value(data, "stages.Cs-CAIT.coupling.Rb-Cs") == 0.3
    assert "coupling" not in data["stages"][0]  # no empty table for an uncoupled stage
    changed = experiment_from_dict(with_values(data, {"stages.Cs-CAIT.coupling.Rb-Cs": -0.5}))
    assert changed.stages[1].coupling == {"Rb-Cs": -0.5}
    for bad in ({"Rb-Cs": 1.5}, {"Rb-Rb": 0.1}, {"Rb-Cs": 0.1, "Cs-Rb": 0.1}, {"RbCs": 0.1}):
        with pytest.raises(ValidationError):
            experiment.stages[1].with_(coupling=bad)
    with pytest.raises(ValidationError, match="undeclared"):
        experiment.with_(stages=(experiment.stages[0], stage.with_(coupling={"Rb-Na": 0.1})))


@pytest.fixture
def coupled_system():
    experiment = load_example("quick-double-cait")
    stage = experiment.stages[1].with_(coupling={"Rb-Cs": 0.7, "Li-Rb": -0.4})
    experiment = experiment.with_(
        sample=experiment.sample.with_(thickness=50e-9),
        mesh=experiment.mesh.with_(front_cell=2e-9, fine_depth=20e-9),
    )
    mesh = experiment.mesh.build(experiment.sample.thickness)
    system = build_system(experiment, stage, mesh, [0, 1, 2])
    assert system.coupled
    rng = np.random.default_rng(3)
    n = mesh.n_cells
    dens = rng.uniform(0.05, 0.6, size=(3, n))
    dens[2, n // 2 :] = 0.0  # a bulk without Cs
    pot = np.linspace(530.0, 0.0, n) + rng.normal(0, 0.5, n)
    return system, system.pack(dens, pot, 2e-4)


def test_full_block_jacobian_matches_finite_differences(coupled_system):
    system, x = coupled_system
    ref, hist = x * 0.99, np.full_like(x, 1e-3)
    _, blk, edge = residual_and_jacobian(system, x, ref, hist, 10.0)
    jac = dense_jacobian(blk, edge)
    numeric = numeric_jacobian(system, x, ref, hist, 10.0)
    scale = np.abs(jac).max(axis=1, keepdims=True) + 1e-300
    assert np.max(np.abs(jac - numeric) / scale) < 1e-5
    # the cross terms fill the off-diagonal species entries of the blocks
    m = system.n_species + 1
    assert np.any(blk[:, 2, m + 1] != 0.0) and np.any(blk[:, 1, 2 * m + 2] != 0.0)


def test_cross_fluxes_conserve_every_species_on_the_faces(coupled_system):
    system, x = coupled_system
    uncoupled = system._replace(coupled=False)
    zero = np.zeros_like(x)
    with_cross = residual_and_jacobian(system, x, x, zero, 1.0)[0]
    without = residual_and_jacobian(uncoupled, x, x, zero, 1.0)[0]
    m = system.n_species + 1
    cross = (with_cross - without)[1:].reshape(-1, m)[:, :-1]
    assert np.abs(cross).max() > 0.0
    assert np.allclose(cross.sum(axis=0), 0.0, atol=1e-13 * np.abs(cross).max())


def _with_coupling(experiment, pairs, stage=1):
    stages = list(experiment.stages)
    stages[stage] = stages[stage].with_(coupling=pairs)
    return experiment.with_(stages=tuple(stages))


def test_kappa_zero_reproduces_the_uncoupled_run_exactly(coupled_system):
    experiment = load_example("quick-double-cait")
    base = experiment.run()
    zero = _with_coupling(experiment, {"Rb-Cs": 0.0}).run()
    for a, b in zip(base.stages, zero.stages):
        assert np.array_equal(a.density, b.density)
        assert np.array_equal(a.trace_current, b.trace_current)
    # and the coupling kernel itself adds nothing with a zero κ (the run above skips it)
    system, x = coupled_system
    ref, hist = x * 0.99, np.full_like(x, 1e-3)
    uncoupled = system._replace(coupling=np.zeros_like(system.coupling), coupled=False)
    forced = uncoupled._replace(coupled=True)
    res_off, blk_off, _ = residual_and_jacobian(uncoupled, x, ref, hist, 10.0)
    res_on, blk_on, _ = residual_and_jacobian(forced, x, ref, hist, 10.0)
    assert np.array_equal(res_on, res_off) and np.array_equal(blk_on, blk_off)


@pytest.mark.parametrize("kappa", [-0.8, 0.8])
def test_coupled_run_conserves_every_species_and_moves_the_fronts(kappa):
    experiment = load_example("quick-double-cait")
    base = experiment.run()
    coupled = _with_coupling(experiment, {"Rb-Cs": kappa, "Li-Rb": 0.3}).run()
    for record in coupled.stages:
        assert record.conservation_rel_error <= 1e-12
    cs_base, cs = base.stages[1].density[-1, 2], coupled.stages[1].density[-1, 2]
    assert np.abs(cs - cs_base).max() > 1e-3 * 1.4e28
    rate = coupling.stage_entropy_production(coupled)
    assert all(v > 0.0 for v in rate.values())


def test_paper_case_kappa_zero_both_ways_and_conservation_with_kappa():
    """The paper case (default mesh, ~1 s a run): κ = 0 given explicitly is today's run to
    the last bit; κ_RbCs = 0.5 closes every ion balance to 1e-12."""
    experiment = load_example("double-cait")
    base = experiment.run()
    zero = _with_coupling(experiment, {"Rb-Cs": 0.0}).run()
    for a, b in zip(base.stages, zero.stages):
        assert np.array_equal(a.density, b.density) and a.charge_C == b.charge_C
    coupled = _with_coupling(experiment, {"Rb-Cs": 0.5}).run()
    assert max(r.conservation_rel_error for r in coupled.stages) <= 1e-12
    assert coupled.stages[1].charge_C != base.stages[1].charge_C


def test_run_monitor_sees_an_indefinite_onsager_matrix(coupled_system):
    system, x = coupled_system
    block = (0,) * (system.n_species + 1)
    assert solver._coupling_eigenvalue(x, system, block) >= 0.0
    crowded = system.pack(np.full((3, system.n_cells), 1.5), np.zeros(system.n_cells), 0.0)
    # κ_RbCs = 0.7 at x_Rb = x_Cs = 1.5 (far outside Σx ≤ 1): C has the eigenvalue < 0
    exact = solver._coupling_eigenvalue(crowded, system, block)
    kappa = system.coupling
    c = np.eye(3) + 1.5 * kappa
    assert exact == pytest.approx(np.linalg.eigvalsh(c).min(), rel=1e-12)
    assert exact < 0.0


def test_entropy_production_rate_is_positive_and_grows_with_the_driving_field():
    kappa = coupling.coupling_matrix({"Rb-Cs": -0.9}, ["Li", "Rb", "Cs"])
    centres = np.linspace(0.5e-9, 99.5e-9, 100)
    density = np.array([np.full(100, 0.2), np.full(100, 0.4), np.full(100, 0.4)]) * 1.4e28
    d = np.full((3, 100), 1e-22)
    rates = [
        coupling.entropy_production_rate(
            kappa, d, density, np.linspace(v, 0.0, 100), centres, np.ones(3), 1.4e28, 323.0
        )
        for v in (0.0, 0.1, 0.2)
    ]
    assert rates[0] == 0.0 and 0.0 < rates[1] < rates[2]
    assert rates[2] == pytest.approx(4 * rates[1], rel=1e-9)  # quadratic in the force


def _cross_face_flux(front_cell: float):
    """Discrete cross flux of Cs driven by Rb on the interior faces of a uniform mesh with
    smooth profiles, and the exact flux there (n0·nm/s)."""
    from caitlab.diffusivity import ConstantD

    experiment = load_example("quick-double-cait")
    constant = {name: ConstantD(d=d) for name, d in (("Li", 1e-20), ("Rb", 4e-22), ("Cs", 1e-22))}
    stage = experiment.stages[1].with_(diffusivity=constant, coupling={"Rb-Cs": 0.6})
    experiment = experiment.with_(
        sample=experiment.sample.with_(thickness=60e-9),
        mesh=experiment.mesh.with_(front_cell=front_cell, fine_depth=60e-9),
    )
    mesh = experiment.mesh.build(experiment.sample.thickness)
    system = build_system(experiment, stage, mesh, [0, 1, 2])
    centre = mesh.centres * 1e9
    profile = {
        "rb": lambda z: 0.4 + 0.1 * np.cos(z / 7.0),
        "cs": lambda z: 0.3 + 0.1 * np.sin(z / 10.0),
        "u": lambda z: 5.0 * np.sin(z / 20.0),
    }
    dens = np.array([0.3 + 0 * centre, profile["rb"](centre), profile["cs"](centre)])
    x = system.pack(dens, profile["u"](centre), 0.0)
    zero = np.zeros_like(x)
    cross = (
        residual_and_jacobian(system, x, x, zero, 1.0)[0]
        - residual_and_jacobian(system._replace(coupled=False), x, x, zero, 1.0)[0]
    )[1:].reshape(-1, 4)[:, 2]
    face = np.cumsum(cross)[:-1]  # each face flux leaves one cell and enters the next
    zf = 0.5 * (centre[1:] + centre[:-1])
    grad_rb = -0.1 / 7.0 * np.sin(zf / 7.0)
    grad_u = 5.0 / 20.0 * np.cos(zf / 20.0)
    exact = (
        -0.6
        * np.sqrt(4e-22 * 1e-22)
        / 1e-18
        * profile["cs"](zf)
        * (grad_rb + profile["rb"](zf) * grad_u)
    )
    inner = (zf > 5.0) & (zf < 55.0)
    return np.max(np.abs(face - exact)[inner]) / np.max(np.abs(exact))


def test_cross_face_flux_is_second_order_where_smooth():
    coarse, fine = _cross_face_flux(1e-9), _cross_face_flux(0.5e-9)
    assert coarse < 5e-3
    assert 3.3 < coarse / fine < 4.7


def test_kappa_is_sweepable_by_its_path(tmp_path):
    from caitlab.sweep import run_sweep

    experiment = load_example("quick-double-cait")
    stages = [s.with_(duration=s.duration / 50) for s in experiment.stages]
    stages[1] = stages[1].with_(coupling={"Rb-Cs": 0.0})
    experiment = experiment.with_(
        stages=tuple(stages), mesh=experiment.mesh.with_(front_cell=2e-9, fine_depth=40e-9)
    )
    path = "stages.Cs-CAIT.coupling.Rb-Cs"
    points = [{path: -0.5}, {path: 0.5}]
    outcome = run_sweep(experiment_to_dict(experiment), points, tmp_path / "sweep")
    assert [row["status"] for row in outcome.rows] == ["ok", "ok"]
    low, high = (row["charge_C.Cs-CAIT"] for row in outcome.rows)
    assert low < high  # κ > 0 drags the Cs in with the Rb: more charge
