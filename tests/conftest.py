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


def write_result_dir(ds, folder):
    """Write a result Dataset as ``folder/result.nc`` (what ``caitlab run`` writes)."""
    ds.to_netcdf(folder / "result.nc", engine="h5netcdf")
    return folder
