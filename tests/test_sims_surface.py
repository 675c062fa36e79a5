"""A measured profile's surface treatment reaches every consumer: the fit, the figures, the
report, ``compare_profiles`` and ``caitlab compare`` broaden a simulation the same way."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from test_sims_cli import ELEMENT_ARGS, invoke, make_result, stand_in_export

from caitlab import plot
from caitlab.config import experiment_to_dict
from caitlab.examples import load_example
from caitlab.fit import FitProblem, load_fit_config, write_fractions_table
from caitlab.fit.problem import model_profile
from caitlab.results import open_result
from caitlab.sims import (
    GaussianResponse,
    MeasuredProfile,
    SimsProfileConfig,
    apply_response,
    as_measured_profile,
    compare_profiles,
)
from caitlab.sims.response import SURFACES

STAGE = "Cs-CAIT"
RMS = 8e-9


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def result(quick_result):
    return quick_result


def measured_after(result, stage: str = STAGE, **options) -> MeasuredProfile:
    """The run's own fractions after ``stage``, at 2, 4, ... 78 nm, as a measured profile."""
    final = result.stage(stage).fractions
    depth = np.arange(2.0, 80.0, 2.0) * 1e-9
    species = [str(s) for s in final["species"].values]
    fractions = {
        s: np.interp(depth * 1e9, final["depth"].values, final.sel(species=s).values)
        for s in species
    }
    return MeasuredProfile(stage, depth, fractions, **options)


def broadened(result, at_m, surface: str, stage: str = STAGE) -> np.ndarray:
    """The run's fractions after ``stage`` (all species) broadened by RMS with ``surface``."""
    final = result.stage(stage).fractions
    return apply_response(
        final["depth"].values * 1e-9, final.values, at_m, GaussianResponse(RMS), surface=surface
    )


def line(ax, label: str) -> np.ndarray:
    return next(li for li in ax.get_lines() if li.get_label() == label).get_ydata()


# ------------------------------------------------------------------ the profile
def test_a_measured_profile_carries_its_surface(result):
    plain = measured_after(result)
    assert plain.surface == "reflect"  # the default, as before
    profile = measured_after(result, surface="extend", name="cs")
    assert profile.select(["Rb", "Cs"]).surface == "extend"
    assert profile.within(10e-9, 50e-9).surface == "extend"
    other = profile.with_surface("truncate")
    assert (other.surface, profile.surface) == ("truncate", "extend")
    assert other.sigma_given == profile.sigma_given and other.name == "cs"
    np.testing.assert_array_equal(other.sigma["Cs"], profile.sigma["Cs"])
    assert profile.with_surface("extend") is profile
    with pytest.raises(ValueError, match="surface of profile 'cs' must be one of"):
        measured_after(result, surface="mirror", name="cs")
    mapping = {"depth_m": plain.depth_m, **plain.fractions}
    assert as_measured_profile(mapping, STAGE, surface="truncate").surface == "truncate"


# ------------------------------------------------------------------ the fit
def test_the_fit_problem_takes_each_profiles_surface(result):
    config = experiment_to_dict(load_example("quick-double-cait"))
    extend = measured_after(result, surface="extend", response={"rms": RMS})
    problem = FitProblem(config, [extend])
    assert problem.surface_of(STAGE) == "extend" and problem.surface == {STAGE: "extend"}
    model = problem.models(result, {})[STAGE]
    expected = broadened(result, extend.depth_m, "extend")
    for k, s in enumerate(extend.species):
        np.testing.assert_allclose(model[s], expected[k], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        model_profile(result, extend, extend.response)["Cs"], model["Cs"], rtol=1e-12
    )
    # a surface given to the problem replaces the profiles' own, and is their one record
    told = FitProblem(config, [extend], surface="truncate")
    assert told.profiles[0].surface == "truncate" and told.surface_of(STAGE) == "truncate"
    by_name = FitProblem(config, [extend], surface={"elsewhere": "truncate"})
    assert by_name.surface_of(STAGE) == "extend"
    with pytest.raises(ValueError, match=f"surface of profile '{STAGE}' must be one of"):
        FitProblem(config, [extend], surface="mirror")


def write_fit_file(folder, result, surface: str):
    write_fractions_table(folder / "cs.csv", measured_after(result))
    (folder / "FIT.toml").write_text(
        'experiment = "quick-double-cait.toml"\n'
        f'[[profiles]]\nstage = "{STAGE}"\nfile = "cs.csv"\nsurface = "{surface}"\n'
        f'response = {{ model = "gaussian", rms = "{RMS * 1e9:g} nm" }}\n'
        f'[[parameters]]\npath = "profiles.{STAGE}.rms"\nmin = "1 nm"\nmax = "40 nm"\n'
    )
    return folder / "FIT.toml"


def test_figures_of_a_fit_file_broaden_as_its_fit_does(result, tmp_path):
    """The same FIT.toml read by the fit and by ``caitlab figures --data FIT.toml``: the figure
    of the profile shows the simulation broadened with the fit's surface treatment."""
    from caitlab.cli.pictures import load_measured

    path = write_fit_file(tmp_path, result, "truncate")
    _, problem, _, _ = load_fit_config(path)
    (shown,) = load_measured([path], None, None)
    assert problem.profiles[0].surface == shown.surface == "truncate"
    figures = plot.standard_figures(result, measured=[shown])
    ax = figures[f"profiles_{STAGE}"].axes[0]
    x = np.asarray(result.mesh.centres)
    expected = broadened(result, x, "truncate")
    reflected = broadened(result, x, "reflect")
    species = [str(s) for s in result.stage(STAGE).fractions["species"].values]
    k = species.index("Cs")
    np.testing.assert_allclose(line(ax, "Cs"), expected[k], rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(line(ax, "Cs") - reflected[k])) > 1e-3  # the choice shows
    assert "surface: truncate" in ax.get_legend().get_title().get_text()
    # and the fit's model at the measured depths is the same broadening
    model = problem.models(result, {})[STAGE]["Cs"]
    at = broadened(result, problem.profiles[0].depth_m, "truncate")[k]
    np.testing.assert_allclose(model, at, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("surface", SURFACES)
def test_profiles_figure_uses_the_measured_profiles_surface(result, surface):
    profile = measured_after(result, surface=surface)
    ax = plot.profiles(result, [STAGE], measured=profile, response=GaussianResponse(RMS))
    x = np.asarray(result.mesh.centres)
    species = [str(s) for s in result.stage(STAGE).fractions["species"].values]
    expected = broadened(result, x, surface)
    for name in ("Rb", "Cs"):
        np.testing.assert_allclose(
            line(ax, name), expected[species.index(name)], rtol=1e-12, atol=1e-15
        )
    title = ax.get_legend().get_title().get_text()
    assert ("surface:" in title) == (surface != "reflect")


def test_figures_and_report_commands_take_a_surface_for_data_tables(result, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import caitlab.plot
    from caitlab.cli import _register_commands, app
    from caitlab.plot._common import new_figure

    seen: list = []

    def quick(result, **options):
        seen.append(options.get("measured"))
        return {"profiles": new_figure((3, 2))}

    monkeypatch.setattr(caitlab.plot, "standard_figures", quick)
    _register_commands()
    folder = result.save(tmp_path / "run")
    write_fractions_table(tmp_path / "cs.csv", measured_after(result))
    data = ["--data", str(tmp_path / "cs.csv"), "--stage", STAGE, "--rms", "8 nm"]
    runner = CliRunner()
    for command, out in (("figures", "figs"), ("report", "r.html")):
        done = runner.invoke(
            app,
            [command, str(folder), *data, "--surface", "extend", "--out", str(tmp_path / out)],
        )
        assert done.exit_code == 0, done.output
        (profile,) = seen.pop()
        assert profile.surface == "extend" and profile.response["rms"] == pytest.approx(RMS)
    done = runner.invoke(
        app, ["figures", str(folder), *data, "--surface", "mirror", "--out", str(tmp_path / "x")]
    )
    assert done.exit_code == 2 and "surface" in done.stderr


# ------------------------------------------------------------------ compare
def test_compare_profiles_uses_the_measured_profiles_surface(result):
    simulated = {}
    for surface in SURFACES:
        profile = measured_after(result, surface=surface)
        comparison = compare_profiles(result, profile, GaussianResponse(RMS), STAGE)
        assert comparison.surface == surface
        expected = broadened(result, profile.depth_m, surface)
        np.testing.assert_allclose(comparison.simulated, expected, rtol=1e-12, atol=1e-15)
        simulated[surface] = comparison.simulated
    assert np.max(np.abs(simulated["extend"] - simulated["reflect"])) > 1e-3
    # a Dataset or mapping (no surface of its own) is compared as before: reflected
    plain = measured_after(result)
    mapping = {"depth_m": plain.depth_m, **plain.fractions}
    comparison = compare_profiles(result, mapping, GaussianResponse(RMS), STAGE)
    assert comparison.surface == "reflect"
    np.testing.assert_allclose(comparison.simulated, simulated["reflect"], rtol=1e-12)


def test_compare_command_takes_a_surface(tmp_path):
    folder = make_result(tmp_path / "run")
    measured = stand_in_export(tmp_path / "m.txt")
    args = ["compare", str(folder), measured, "--roughness", "20 nm", "--crater-depth", "310 nm"]
    chi2 = {}
    for surface in SURFACES:
        done = invoke(*args, *ELEMENT_ARGS, "--surface", surface)
        assert done.exit_code == 0, done.output
        assert f"Gaussian 20 nm rms, surface: {surface}" in done.output
        chi2[surface] = float(done.output.split("chi2 total:")[1].split()[0])
    default = invoke(*args, *ELEMENT_ARGS)
    assert float(default.output.split("chi2 total:")[1].split()[0]) == chi2["reflect"]
    assert chi2["extend"] != chi2["reflect"] != chi2["truncate"]
    # the command's numbers are those of the Python API told the same surface
    dataset = SimsProfileConfig(
        file=measured,
        crater_depth="310 nm",
        elements={"Li": ["^6Li+", "Li+"], "Rb": ["84.9118", "86.9092"], "Cs": ["Cs+"]},
    ).load()
    api = compare_profiles(
        open_result(folder),
        as_measured_profile(dataset, surface="extend"),
        GaussianResponse(20e-9),
    )
    assert api.chi2 == pytest.approx(chi2["extend"], rel=1e-5)
    bad = invoke(*args, *ELEMENT_ARGS, "--surface", "mirror")
    assert bad.exit_code == 2 and "--surface must be one of reflect, extend, truncate" in (
        bad.output
    )
