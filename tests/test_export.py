"""``caitlab export --csv``, ``caitlab --version`` and the notebook helpers of the API."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

import caitlab
from caitlab.cli import _register_commands, app

_register_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def saved(quick_result, tmp_path_factory):
    return quick_result.save(tmp_path_factory.mktemp("saved"))


def read(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_export_csv_round_trips_every_number(quick_result, saved, tmp_path):
    done = runner.invoke(app, ["export", str(saved), "--csv", str(tmp_path / "csv")])
    assert done.exit_code == 0, done.output
    header, rows = read(tmp_path / "csv" / "fractions_Cs-CAIT.csv")
    assert header == ["depth_nm", "Li_fraction", "Rb_fraction", "Cs_fraction"]
    values = np.array(rows, dtype=float)
    final = quick_result.stage("Cs-CAIT").fractions
    np.testing.assert_array_equal(values[:, 0], final["depth"].values)
    np.testing.assert_array_equal(values[:, 1:], final.values.T)  # exact, not 6 digits
    # and the right numbers, from the raw state rather than the accessor the exporter uses
    n0 = quick_result.experiment.sample.mobile_ion_density
    raw = quick_result.stage("Cs-CAIT").density[-1] / n0
    np.testing.assert_allclose(values[:, 1:], raw.T, rtol=1e-15, atol=0)
    np.testing.assert_allclose(values[:, 0], quick_result.mesh.centres * 1e9, rtol=1e-15)
    header, rows = read(tmp_path / "csv" / "traces.csv")
    assert header == [
        "time_s",
        "stage",
        "current_A",
        "charge_C",
        "surface_potential_V",
        "beam_current_A",
    ]
    traces = quick_result.traces
    np.testing.assert_array_equal([float(r[3]) for r in rows], traces["charge"].values)
    np.testing.assert_array_equal([float(r[0]) for r in rows], traces["time"].values)
    # the stages' own records: the run's charge is the sum of the stages' charges, and the
    # stage-2 rows carry its cumulative charge (stage 1's added) at its own times
    stages = quick_result.stages
    assert float(rows[-1][3]) == pytest.approx(sum(st.charge_C for st in stages), rel=1e-14)
    late = [r for r in rows if r[1] == "Cs-CAIT"]
    np.testing.assert_allclose(
        [float(r[3]) for r in late], stages[0].charge_C + stages[1].trace_charge, rtol=1e-14
    )
    np.testing.assert_allclose([float(r[0]) for r in late], stages[1].trace_time, rtol=1e-15)
    assert {r[1] for r in rows} == {"Rb-CAIT", "Cs-CAIT"}
    assert (tmp_path / "csv" / "fractions_Rb-CAIT.csv").exists()


def test_export_needs_a_folder_and_a_result(tmp_path):
    assert runner.invoke(app, ["export", str(tmp_path)]).exit_code == 2
    done = runner.invoke(app, ["export", str(tmp_path / "none"), "--csv", str(tmp_path)])
    assert done.exit_code == 2 and "no result" in done.output


def test_version_option():
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output.strip() == f"caitlab {caitlab.__version__}"


def test_html_reprs_are_compact_tables_with_units(quick_experiment, quick_result):
    page = quick_experiment._repr_html_()
    assert "<table>" in page and "duration (h)" in page and "Rb-CAIT" in page
    assert "[sample]" not in page and len(page) < 4000
    page = quick_result._repr_html_()
    assert "charge (mC)" in page and "Cs-CAIT" in page and len(page) < 4000


def test_builtin_names_quantities_and_progress(quick_experiment):
    import pint

    assert caitlab.load_experiment("quick-double-cait") == quick_experiment
    units = pint.UnitRegistry()
    sample = quick_experiment.sample.with_(thickness=2.325 * units.mm)
    assert sample.thickness == pytest.approx(2.325e-3)
    stage = quick_experiment.stages[0].with_(duration=units.Quantity(2, "hour"))
    assert stage.duration == 7200.0
    from caitlab.fit import FreeParameter

    free = FreeParameter(
        "stages.Cs-CAIT.diffusivity.Cs.d", value=4e-23 * units("m^2/s"), min="1e-24 m^2/s", log=True
    )
    assert (free.value, free.min) == (pytest.approx(4e-23), pytest.approx(1e-24))
    short = quick_experiment.with_(stages=[stage.with_(duration="60 s")])
    seen = []
    result = short.run(lambda name, t, end: seen.append(t), progress=True)
    assert seen and seen[-1] == pytest.approx(60.0) and result.stages[0].duration == 60.0


def test_result_plot_draws_the_profiles(quick_result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = quick_result.plot()
    assert ax.get_xlabel() == "depth (nm)"
    plt.close("all")
