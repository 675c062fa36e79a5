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
