"""Instrument response: inventory, analytic erfc broadening, MRI kernel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from caitlab.sims import (
    GaussianResponse,
    MRIResponse,
    SimsError,
    apply_response,
    response_kernel,
)

NM = 1e-9


def nonuniform_grid(length=400 * NM, n=600):
    """Cell centres refined near the front, as the simulator uses."""
    edges = length * np.linspace(0, 1, n + 1) ** 1.5
    return 0.5 * (edges[1:] + edges[:-1]), edges


def test_gaussian_reproduces_reflected_erfc_step():
    a, s = 50 * NM, 5 * NM
    x = (np.arange(800) + 0.5) * 0.5 * NM
    z = np.linspace(0, 300 * NM, 1201)
    out = apply_response(x, (x < a).astype(float), z, GaussianResponse(s), far_boundary="zero")
    # step reflected at the surface: 1 on [-a, a] convolved with a Gaussian
    expected = 0.5 * (erf((z + a) / (np.sqrt(2) * s)) - erf((z - a) / (np.sqrt(2) * s)))
    np.testing.assert_allclose(out, expected, atol=2e-4)


@pytest.mark.parametrize(
    "response",
    [
        GaussianResponse(8 * NM),
        GaussianResponse(30 * NM),
        MRIResponse(3 * NM, 5 * NM, 1 * NM),
        MRIResponse(0.0, 20 * NM, 2 * NM),
    ],
)
def test_inventory_is_conserved(response):
    x, edges = nonuniform_grid()
    profile = np.vstack(
        [
            np.exp(-x / (20 * NM)),  # piled up at the surface
            np.exp(-(((x - 60 * NM) / (10 * NM)) ** 2)),  # buried
        ]
    )
    inventory = (profile * np.diff(edges)).sum(axis=1)
    z = np.linspace(0, 400 * NM, 8001)
    out = apply_response(x, profile, z, response, far_boundary="zero")
    assert out.shape == (2, z.size)
    np.testing.assert_allclose(np.trapezoid(out, z, axis=1), inventory, rtol=2e-3)


def test_no_response_resamples():
    x = np.array([1.0, 2.0, 3.0]) * NM
    np.testing.assert_allclose(apply_response(x, [1.0, 2.0, 3.0], [1.5 * NM], None), [1.5])
    np.testing.assert_allclose(
        apply_response(x, [1.0, 2.0, 3.0], [2 * NM], GaussianResponse(0)), [2.0]
    )


def test_far_boundary_extends_bulk():
    x, _ = nonuniform_grid(200 * NM, 300)
    z = np.linspace(0, 300 * NM, 50)
    out = apply_response(x, np.ones_like(x), z, GaussianResponse(10 * NM))
    np.testing.assert_allclose(out, 1.0, atol=1e-9)


def test_mri_kernel_moments():
    w, s, lam = 2 * NM, 3 * NM, 1 * NM
    u, g = response_kernel(MRIResponse(w, s, lam), 0.02 * NM)
    assert g.sum() == pytest.approx(1.0)
    mean = (u * g).sum()
    var = ((u - mean) ** 2 * g).sum()
    # g_w has mean 0 and variance w^2; g_lambda mean -lambda and variance lambda^2
    assert mean == pytest.approx(-lam, abs=0.02 * NM)
    assert var == pytest.approx(w**2 + s**2 + lam**2, rel=0.02)


def test_bad_response_input():
    with pytest.raises(SimsError, match=">= 0"):
        GaussianResponse(-1e-9)
    with pytest.raises(SimsError, match="increasing"):
        apply_response([2e-9, 1e-9], [1.0, 2.0], [1e-9], GaussianResponse(1e-9))
    with pytest.raises(SimsError, match="values have"):
        apply_response([1e-9, 2e-9], [1.0, 2.0, 3.0], [1e-9])
