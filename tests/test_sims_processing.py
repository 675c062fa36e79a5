"""Processing steps: Poisson correction, depth calibration, channels, normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import stand_in_profile

from caitlab.sims import (
    SimsError,
    SimsMetadata,
    SimsProfile,
    calibrate_depth,
    depth_from_crater,
    depth_from_layer_rates,
    depth_from_rate,
    element_sums,
    example_export_path,
    find_channel,
    fraction_uncertainty,
    normalise_fractions,
    normalise_to_plateau,
    poisson_correct,
    poisson_uncertainty,
    poisson_uncorrect,
    process_profile,
    read_surfacelab,
    resolve_elements,
    stand_in_fractions,
    subtract_background,
    synthetic_export,
)

ELEMENTS = {"Li": ["^6Li+", "Li+"], "Rb": ["84.9118", "86.9092"], "Cs": ["Cs+"]}


def small_profile(
    counts,
    names=("^6Li+", "Li+", "Rb+", "Cs+"),
    masses=(6.0146, 7.0155, 84.9112, 132.9049),
    corrected=True,
    shots=None,
):
    counts = np.asarray(counts, dtype=float)
    return SimsProfile(
        counts=counts,
        channel_names=names,
        channel_masses=np.array(masses),
        sputter_time_s=np.arange(counts.shape[0], dtype=float) * 2.0,
        metadata=SimsMetadata(file="mem.txt", poisson_corrected=corrected, shots_per_scan=shots),
        source_lines=np.arange(counts.shape[0]) + 5,
        source_columns=(5, 6, 7, 8),
    )


# ------------------------------------------------------------------ Poisson
def test_poisson_correction_hand_values():
    n = 16384
    # the values printed by SurfaceLab for 1, 2, 3 raw counts
    np.testing.assert_allclose(
        poisson_correct([1, 2, 3], n), [1.00003, 2.00012, 3.00027], atol=6e-6
    )
    assert poisson_correct(0, n) == 0
    assert poisson_correct(8192, n) == pytest.approx(n * math.log(2))
    assert poisson_correct(1, 4) == pytest.approx(-4 * math.log(0.75))


def test_poisson_inverse():
    k = np.array([0.0, 1, 10, 1000, 16000])
    np.testing.assert_allclose(
        poisson_uncorrect(poisson_correct(k, 16384), 16384), k, rtol=1e-12, atol=1e-12
    )


def test_poisson_bad_values():
    with pytest.raises(SimsError, match="saturated"):
        poisson_correct([16384], 16384)
    with pytest.raises(SimsError, match="negative"):
        poisson_correct([-1], 16384)
    with pytest.raises(SimsError, match="positive"):
        poisson_correct([1], 0)


def test_poisson_uncertainty():
    assert poisson_uncertainty(100.0) == pytest.approx(10.0)
    # binomial k over N shots: sigma_I = sqrt(N (exp(I/N) - 1))
    n = 16384
    k = 8192
    i = poisson_correct(k, n)
    expected = math.sqrt(k * (1 - k / n)) / (1 - k / n)
    assert poisson_uncertainty(i, n) == pytest.approx(expected)
    np.testing.assert_allclose(poisson_uncertainty([0.0, 4.0], zero_sigma=1.0), [1.0, 2.0])


# ------------------------------------------------------------------ depth
def test_depth_calibrations():
    t = np.array([0.0, 1, 2, 4])
    np.testing.assert_allclose(depth_from_crater(t, 400e-9), [0, 100e-9, 200e-9, 400e-9])
    np.testing.assert_allclose(depth_from_rate(t, 1e-9), t * 1e-9)
    z = depth_from_layer_rates(t, [2.0], [1e-9, 3e-9])
    np.testing.assert_allclose(z, [0, 1e-9, 2e-9, 8e-9])
    z = depth_from_layer_rates(t, [2.0], [1.0, 3.0], crater_depth_m=16e-9)
    np.testing.assert_allclose(z, [0, 2e-9, 4e-9, 16e-9])


@pytest.mark.parametrize("crater", [0.0, -310e-9, math.nan])
def test_bad_crater_depth(crater):
    p = small_profile([[1, 1, 1, 1], [1, 1, 1, 1]])
    with pytest.raises(SimsError, match="crater depth must be positive") as info:
        calibrate_depth(p, crater_depth_m=crater)
    assert info.value.file == "mem.txt"


def test_calibrate_needs_one_of_two():
    p = small_profile([[1, 1, 1, 1], [1, 1, 1, 1]])
    with pytest.raises(SimsError, match="no depth"):
        calibrate_depth(p)
    with pytest.raises(SimsError, match="not both"):
        calibrate_depth(p, crater_depth_m=1e-7, sputter_rate_m_per_s=1e-9)
    assert calibrate_depth(p, sputter_rate_m_per_s=1e-9).depth_m[-1] == pytest.approx(2e-9)


# ------------------------------------------------------------------ channels
def test_find_channel_by_name_mass_index():
    p = small_profile([[1, 2, 3, 4]])
    assert find_channel(p, "Li+") == 1
    assert find_channel(p, "6Li+") == 0  # ^ and case are forgiven when unique
    assert find_channel(p, 84.9118) == 2
    assert find_channel(p, "132.9055") == 3
    assert find_channel(p, "#2") == 2


def test_missing_channel_lists_close_matches():
    p = small_profile([[1, 2, 3, 4]])
    with pytest.raises(SimsError, match=r"'Li\+'") as info:
        find_channel(p, "Li")
    assert "close matches" in str(info.value) and "mem.txt" in str(info.value)
    with pytest.raises(SimsError, match=r"nearest: 'Rb\+' \(84.9112 u\)"):
        find_channel(p, 85.5)


def test_ambiguous_mass_and_shared_channel():
    p = small_profile([[1, 2, 3, 4]], masses=(6.0146, 6.02, 84.9112, 132.9049))
    with pytest.raises(SimsError, match="several channels"):
        find_channel(p, 6.015)
    q = small_profile([[1, 2, 3, 4]])
    with pytest.raises(SimsError, match="used by both"):
        resolve_elements(q, {"A": ["Li+"], "B": [7.0160]})


def test_nan_in_needed_channel():
    p = small_profile([[1, 2, 3, 4], [1, 2, math.inf, 4]])
    channels = resolve_elements(p, ELEMENTS | {"Rb": ["Rb+"]})
    with pytest.raises(SimsError, match="inf") as info:
        element_sums(p, channels)
    assert (info.value.line, info.value.column) == (6, 7)


# ------------------------------------------------------------------ normalisation
def test_normalisation_sums_to_one():
    sums = np.array([[1.0, 0, 5], [2, 3, 0], [7, 1, 5]])
    f = normalise_fractions(sums)
    np.testing.assert_allclose(f.sum(axis=0), 1.0)
    np.testing.assert_allclose(f[:, 0], [0.1, 0.2, 0.7])
    with pytest.raises(SimsError, match="sum to 0"):
        normalise_fractions(np.zeros((2, 2)), file="f.txt", lines=[9, 10])


def test_fraction_uncertainty_matches_monte_carlo():
    rng = np.random.default_rng(1)
    s = np.array([[100.0], [300.0], [600.0]])
    draws = rng.poisson(s[:, 0], size=(20000, 3)).T
    mc = (draws / draws.sum(axis=0)).std(axis=1)
    np.testing.assert_allclose(fraction_uncertainty(s, np.sqrt(s))[:, 0], mc, rtol=0.05)


def test_plateau_and_background():
    z = np.linspace(0, 1e-7, 11)
    v = np.where(z > 5e-8, 4.0, 1.0)
    np.testing.assert_allclose(normalise_to_plateau(v, z)[-1], 1.0)
    np.testing.assert_allclose(normalise_to_plateau(v, z, (0, 2e-8))[0], 1.0)
    out = subtract_background(np.array([[5.0, 1.0], [3.0, 3.0]]), [2.0, 1.0])
    np.testing.assert_allclose(out, [[3, 0], [2, 2]])


# ------------------------------------------------------------------ pipeline
def test_process_example():
    ds = process_profile(read_surfacelab(example_export_path()), ELEMENTS, crater_depth_m=310e-9)
    np.testing.assert_allclose(ds["fraction"].sum("species"), 1.0)
    assert np.isfinite(ds["fraction"]).all() and np.isfinite(ds["fraction_sigma"]).all()
    assert list(ds["species"].values) == ["Li", "Rb", "Cs"]


def test_process_recovers_stand_in():
    profile = stand_in_profile(seed=11)
    ds = process_profile(profile, ELEMENTS, crater_depth_m=310e-9)
    np.testing.assert_allclose(ds["fraction"].sum("species"), 1.0)
    assert ds.sizes["depth"] == 199  # the all-zero last row is dropped
    assert "dropped 1 row" in ds.attrs["notes"]
    assert ds["depth"].attrs["units"] == "m"
    surface = ds["fraction"].isel(depth=slice(0, 20)).mean("depth")
    assert surface.sel(species="Cs") == pytest.approx(0.57, abs=0.03)
    assert surface.sel(species="Rb") == pytest.approx(0.40, abs=0.03)
    assert surface.sel(species="Li") == pytest.approx(0.03, abs=0.01)
    assert ds["fraction"].sel(species="Li").isel(depth=-1) > 0.99
    assert float(ds["density"].max()) <= 1.4e28 * (1 + 1e-12)


def test_raw_counts_are_corrected_when_n_known():
    depth = np.linspace(0.5e-9, 300e-9, 300)
    p = synthetic_export(
        depth,
        stand_in_fractions(depth),
        crater_depth_m=200e-9,
        sputter_time_per_point_s=1.0,
        counts_scale=5000.0,
        roughness_m=5e-9,
        seed=3,
        n_points=50,
        final_zero_row=False,
    )
    raw = p.with_(counts=np.round(poisson_uncorrect(p.counts, 16384))).with_metadata(
        poisson_corrected=False
    )
    ds = process_profile(raw, ELEMENTS, crater_depth_m=200e-9)
    ref = process_profile(p, ELEMENTS, crater_depth_m=200e-9)
    assert "Poisson correction with N = 16384" in ds.attrs["notes"]
    np.testing.assert_allclose(ds["fraction"], ref["fraction"], atol=2e-3)
    off = process_profile(raw, ELEMENTS, crater_depth_m=200e-9, poisson="off")
    assert "Poisson" not in off.attrs["notes"]
    unknown = raw.with_metadata(shots_per_scan=None)
    assert (
        "left uncorrected" in process_profile(unknown, ELEMENTS, crater_depth_m=2e-7).attrs["notes"]
    )
