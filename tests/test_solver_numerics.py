"""The discrete operators on their own: analytic Jacobian, block solver, Bernoulli function."""

from __future__ import annotations

import numpy as np
import pytest

from caitlab import solver
from caitlab.examples import load_example
from caitlab.experiment import build_system


def dense_jacobian(blk: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """The full Jacobian (beam flux first, then cells) from blocks and border."""
    n, m = blk.shape[0], blk.shape[1]
    jac = np.zeros((1 + n * m, 1 + n * m))
    for j in range(n):
        for k, col in ((j - 1, 0), (j, m), (j + 1, 2 * m)):
            if 0 <= k < n:
                jac[1 + j * m : 1 + (j + 1) * m, 1 + k * m : 1 + (k + 1) * m] = blk[
                    j, :, col : col + m
                ]
    jac[1 : 1 + m, 0] = edge[:m]
    jac[0, 1 : 1 + m] = edge[m : 2 * m]
    jac[0, 0] = edge[2 * m]
    return jac


@pytest.fixture(params=["ideal", "finite"])
def system_and_state(request):
    experiment = load_example("quick-double-cait")
    stage = experiment.stages[1]
    if request.param == "finite":
        beam = stage.beam.with_(mode="finite", current=5e-9, energy_spread=0.3)
        stage = stage.with_(beam=beam)
    experiment = experiment.with_(
        sample=experiment.sample.with_(thickness=50e-9),
        mesh=experiment.mesh.with_(front_cell=2e-9, fine_depth=20e-9),
    )
    mesh = experiment.mesh.build(experiment.sample.thickness)
    system = build_system(experiment, stage, mesh, [0, 1, 2])
    rng = np.random.default_rng(1)
    n = mesh.n_cells
    dens = rng.uniform(0.05, 0.6, size=(3, n))
    pot = np.linspace(530.0, 0.0, n) + rng.normal(0, 0.5, n)
    return system, system.pack(dens, pot, 2e-4)


def residual_and_jacobian(system, x, ref, hist, a0_dt):
    work = solver.Workspace.for_system(system)
    block = (0,) * (system.n_species + 1)
    solver._assemble(x, ref, hist, a0_dt, system, work, True, block)
    return work.res.copy(), work.blk.copy(), work.edge.copy()


def numeric_jacobian(system, x, ref, hist, a0_dt):
    """The Jacobian by central differences of the residual."""
    numeric = np.zeros((x.size, x.size))
    for k in range(x.size):
        h = 1e-7 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        numeric[:, k] = (
            residual_and_jacobian(system, xp, ref, hist, a0_dt)[0]
            - residual_and_jacobian(system, xm, ref, hist, a0_dt)[0]
        ) / (2 * h)
    return numeric


def test_analytic_jacobian_matches_finite_differences(system_and_state):
    system, x = system_and_state
    ref = x * 0.99
    hist = np.full_like(x, 1e-3)
    _, blk, edge = residual_and_jacobian(system, x, ref, hist, 10.0)
    jac = dense_jacobian(blk, edge)
    numeric = numeric_jacobian(system, x, ref, hist, 10.0)
    scale = np.abs(jac).max(axis=1, keepdims=True) + 1e-300
    assert np.max(np.abs(jac - numeric) / scale) < 1e-5


def test_block_solver_matches_a_dense_solve(system_and_state):
    system, x = system_and_state
    _, blk, edge = residual_and_jacobian(system, x, x, np.zeros_like(x), 10.0)
    n, m = blk.shape[0], blk.shape[1]
    dense = dense_jacobian(blk, edge)[1:, 1:]
    rhs = np.random.default_rng(2).normal(size=(n, m))
    expected = np.linalg.solve(dense, rhs.ravel())
    piv = np.zeros((n, m), dtype=np.int64)
    gain = np.zeros((n, m, m))
    assert solver._block_factor(blk, piv, gain, (0,) * m)
    solver._block_solve(blk, piv, gain, rhs, (0,) * m)
    assert np.allclose(rhs.ravel(), expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("x", [-800.0, -30.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 30.0, 800.0])
def test_bernoulli_function_and_derivative(x):
    b, db = solver._bernoulli(x)
    exact = 1.0 if x == 0 else x * np.exp(-x) / -np.expm1(-x) if x > 0 else x / np.expm1(x)
    assert b == pytest.approx(exact, rel=1e-12, abs=1e-300)
    h = 1e-6 * max(1.0, abs(x))
    numeric = (solver._bernoulli(x + h)[0] - solver._bernoulli(x - h)[0]) / (2 * h)
    assert db == pytest.approx(numeric, rel=1e-6, abs=1e-12)


def test_newton_converges_at_the_steps_of_the_quick_double_cait():
    """A chord iteration whose residual stalls refactors the Jacobian assembled afresh: no
    Newton failure (each one cuts the step 4-fold and makes the result, and so a fit's
    finite-difference Jacobian, jump with the parameters)."""
    result = load_example("quick-double-cait").run()
    for stage in result.stages:
        assert stage.rejected_by["newton"] == 0, stage.name


@pytest.mark.parametrize("order", [1, 2, 3])
def test_bdf_weights_differentiate_polynomials_exactly_on_uneven_steps(order):
    rng = np.random.default_rng(order)
    times = list(np.cumsum(rng.uniform(0.3, 2.0, size=5)))
    t_new = times[-1] + 0.7
    weights = solver._bdf_weights(times, t_new, order)
    nodes = [t_new, *times[::-1][:order]]
    for degree in range(order + 1):
        poly = np.polynomial.Polynomial(rng.normal(size=degree + 1))
        estimate = sum(w * poly(t) for w, t in zip(weights, nodes))
        assert estimate == pytest.approx(poly.deriv()(t_new), rel=1e-10, abs=1e-10)
    # one degree more is no longer exact: the formula is of this order, not higher
    cubic = np.polynomial.Polynomial([0.0] * (order + 1) + [1.0])
    estimate = sum(w * cubic(t) for w, t in zip(weights, nodes))
    assert abs(estimate - cubic.deriv()(t_new)) > 1e-3


def test_bdf_weights_at_constant_steps_are_the_textbook_coefficients():
    times = [0.0, 1.0, 2.0, 3.0]
    assert solver._bdf_weights(times, 4.0, 1) == pytest.approx([1.0, -1.0])
    assert solver._bdf_weights(times, 4.0, 2) == pytest.approx([1.5, -2.0, 0.5])
    assert solver._bdf_weights(times, 4.0, 3) == pytest.approx([11 / 6, -3.0, 1.5, -1 / 3])


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_predictor_extrapolates_polynomials_of_its_degree_exactly(order):
    rng = np.random.default_rng(10 + order)
    times = list(np.cumsum(rng.uniform(0.3, 2.0, size=5)))
    t_new = times[-1] + 1.3
    weights = solver._predictor_weights(times, t_new, order)
    poly = np.polynomial.Polynomial(rng.normal(size=order + 1))
    estimate = sum(w * poly(t) for w, t in zip(weights, times[::-1]))
    assert estimate == pytest.approx(poly(t_new), rel=1e-10)


def test_boundary_flux_accumulates_with_the_densities_formula():
    """Q integrated by the BDF formula satisfies that formula exactly: c·(Q history) = flux."""
    times = [0.0, 0.5, 1.6, 2.0]
    q = [np.array([0.0]), np.array([0.3]), np.array([0.7]), np.array([1.1])]
    c = solver._bdf_weights(times, 2.9, 3)
    flux = np.array([0.45])
    q_new = solver._bdf_accumulate(q, flux, c)
    nodes = [q_new, q[-1], q[-2], q[-3]]
    assert sum(w * v for w, v in zip(c, nodes)) == pytest.approx(flux, rel=1e-13)


@pytest.mark.parametrize("order", [2, 3])
def test_milne_error_factor_matches_the_local_errors_of_a_polynomial(order):
    """For x(t) = t^(q+1) the corrector's local error is factor × (corrector - predictor)."""
    times = [0.0, 0.8, 1.5, 2.6]
    t_new = 3.4
    poly = np.polynomial.Polynomial([0.0] * (order + 1) + [1.0])
    c = solver._bdf_weights(times, t_new, order)
    # the BDF solution of x' = poly'(t) (no dependence on x): c_0 x + Σ c_l x_l = x'(t_new)
    history = sum(w * poly(t) for w, t in zip(c[1:], times[::-1]))
    corrector = (poly.deriv()(t_new) - history) / c[0]
    w = solver._predictor_weights(times, t_new, order)
    predicted = sum(wk * poly(t) for wk, t in zip(w, times[::-1]))
    factor = solver._error_factor(times, t_new, order, c[0])
    assert factor * abs(corrector - predicted) == pytest.approx(abs(corrector - poly(t_new)))


def test_higher_order_takes_fewer_steps_for_the_same_answer(quick_experiment):
    runs = {
        order: quick_experiment.with_(
            solver=quick_experiment.solver.with_(max_order=order, tolerance=1e-12)
        ).run()
        for order in (1, 2, 3)
    }
    steps = {order: sum(s.n_steps for s in run.stages) for order, run in runs.items()}
    assert steps[3] < 0.9 * steps[2] < 0.9 * steps[1]
    for stage in range(2):
        charges = [runs[order].stages[stage].charge_C for order in (1, 2, 3)]
        assert charges[2] == pytest.approx(charges[1], rel=1e-3)
        assert charges[0] == pytest.approx(charges[1], rel=5e-3)
