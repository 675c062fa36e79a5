"""The D(n, T) material laws on their own (no solver)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from caitlab.constants import BOLTZMANN_EV
from caitlab.diffusivity import ConstantD, Falloff, SiteEnergyD, TabulatedD, sin2_phase

N0 = 1.4e28
T = 323.0


def li_model(**changes):
    base = {"fwhm": 0.25, "d_ref": 5.8e-19, "activation_energy": 0.65, "occupancy": 0.9}
    base.update(changes)
    return SiteEnergyD(**base)


def test_sed_gives_d_ref_at_the_reference_density():
    assert li_model().diffusivity(1.0, T, N0) == pytest.approx(5.8e-19, rel=1e-12)


def test_sed_prefactor_form_matches_eq6():
    model = SiteEnergyD(fwhm=0.25, prefactor=7.8e-9, activation_energy=0.65)
    expected = 7.8e-9 * math.exp(-0.65 / (BOLTZMANN_EV * T))
    assert model.diffusivity(1.0, T, N0) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(5.62e-19, rel=2e-3)  # the spec's number


def test_sed_d_falls_monotonically_as_the_distribution_empties():
    n = np.linspace(0.0, 1.0, 201)
    d = li_model().diffusivity(n, T, N0)
    assert np.all(np.diff(d) > 0)


@pytest.mark.parametrize(("occupancy", "orders"), [(0.9, (3.5, 4.5)), (1.0, (5.3, 6.3))])
def test_occupancy_sets_the_drop_between_n0_and_a_tenth(occupancy, orders):
    model = li_model(occupancy=occupancy)
    drop = math.log10(model.diffusivity(1.0, T, N0) / model.diffusivity(0.1, T, N0))
    assert orders[0] < drop < orders[1]


def test_sin2_lobe_integrates_to_the_total_site_density():
    model = li_model()
    e = np.linspace(-2.0, 2.0, 400001)
    sites = np.trapezoid(model.site_distribution(e, N0), e)
    assert sites == pytest.approx(N0 / 0.9, rel=1e-6)
    filled = np.trapezoid(np.where(e <= 0, model.site_distribution(e, N0), 0.0), e)
    assert filled == pytest.approx(N0, rel=1e-4)


def test_sin2_phase_inverts_the_filled_fraction():
    s = np.linspace(0, math.pi, 50)
    filled = (2 * s - np.sin(2 * s)) / (2 * math.pi)
    assert np.allclose(sin2_phase(filled), s, atol=1e-9)


def test_fwhm_of_the_sin2_lobe():
    model = li_model(fwhm=0.25)
    e = np.linspace(-1.5, 1.0, 250001)
    s = model.site_distribution(e, N0)
    above = e[s >= 0.5 * s.max()]
    assert above[-1] - above[0] == pytest.approx(0.25, rel=1e-4)


def test_gaussian_sed_gives_d_ref_and_falls():
    model = SiteEnergyD(shape="gaussian", fwhm=0.25, d_ref=5.8e-19, occupancy=0.9)
    assert model.diffusivity(1.0, T, N0) == pytest.approx(5.8e-19)
    assert model.diffusivity(0.5, T, N0) < 5.8e-19 / 10


def test_falloff_multiplies_below_threshold_only():
    plain = li_model()
    trapped = li_model(falloff=Falloff(threshold=0.1, factor=1e-2, width=0.005))
    ratio = trapped.diffusivity([0.05, 0.2], T, N0) / plain.diffusivity([0.05, 0.2], T, N0)
    assert ratio == pytest.approx([1e-2, 1.0], rel=1e-6)


def test_constant_d_arrhenius_scaling():
    model = ConstantD(d=1e-20, activation_energy=0.7, reference_temperature=323.0)
    expected = 1e-20 * math.exp(-0.7 / BOLTZMANN_EV * (1 / 278.0 - 1 / 323.0))
    assert model.diffusivity(0.5, 278.0, N0) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="activation_energy"):
        ConstantD(d=1e-20, reference_temperature=323.0).check_temperature(278.0)


def test_tabulated_interpolates_in_log_d():
    model = TabulatedD(density_fraction=(0.0, 1.0), d=(1e-24, 1e-20))
    assert model.diffusivity(0.5, T, N0) == pytest.approx(1e-22, rel=1e-12)
    assert model.diffusivity(2.0, T, N0) == pytest.approx(1e-20)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fwhm": 0.25},  # neither d_ref nor prefactor
        {"fwhm": 0.25, "d_ref": 1e-19, "prefactor": 1e-9, "activation_energy": 0.6},
        {"fwhm": 0.25, "prefactor": 1e-9},  # prefactor without activation energy
        {"fwhm": -0.1, "d_ref": 1e-19},
        {"fwhm": 0.25, "d_ref": 1e-19, "occupancy": 1.5},
        {"shape": "gaussian", "fwhm": 0.25, "d_ref": 1e-19, "occupancy": 1.0},
    ],
)
def test_inconsistent_sed_parameters_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        SiteEnergyD(**kwargs)
