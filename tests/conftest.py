"""Shared fixtures: small, fast experiments built from the packaged examples."""

from __future__ import annotations

import pytest

from caitlab.examples import load_example


@pytest.fixture(scope="session")
def quick_experiment():
    """The quick (coarse, shortened) Rb-then-Cs double-CAIT."""
    return load_example("quick-double-cait")


@pytest.fixture(scope="session")
def quick_result(quick_experiment):
    """The quick double-CAIT, run once per test session."""
    return quick_experiment.run()


def stand_in_profile(seed: int):
    """A SurfaceLab-like profile made like the shipped example from the analytic stand-in
    (20 nm rms roughness, 310 nm crater, 200 points)."""
    import numpy as np

    from caitlab.sims import stand_in_fractions, synthetic_export

    depth = np.linspace(0.25e-9, 499.75e-9, 1000)
    return synthetic_export(
        depth,
        stand_in_fractions(depth),
        crater_depth_m=310e-9,
        sputter_time_per_point_s=1.4656,
        counts_scale=3000.0,
        roughness_m=20e-9,
        seed=seed,
        n_points=200,
    )
