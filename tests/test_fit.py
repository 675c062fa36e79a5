"""Fitting: parameter paths, weights, recovery of known parameters, files, CLI errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.config import experiment_to_dict, load_experiment
from caitlab.fit import (
    FitProblem,
    FreeParameter,
    MeasuredProfile,
    build_parameters,
    fallback_sigma,
    fit,
    path_values,
    read_fractions_table,
    synthetic_profile,
    write_fractions_table,
)
from caitlab.fit.config import BUILTIN_EXAMPLES
from caitlab.fit.fitting import PENALTY, Evaluator
from caitlab.fit.problem import evaluate
from caitlab.params import ParameterPathError, get_value, parse_quantity, with_values

QUICK = BUILTIN_EXAMPLES / "quick-double-cait.toml"
D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"
D_RB2 = "stages.Cs-CAIT.diffusivity.Rb.d_ref"
D_RB1 = "stages.Rb-CAIT.diffusivity.Rb.d"
TRUE = {D_CS: 3.1e-23, D_RB2: 2.67e-22}


@pytest.fixture(scope="module")
def config() -> dict:
    return experiment_to_dict(load_experiment(QUICK))


@pytest.fixture(scope="module")
def truth(config):
    return load_experiment(QUICK).run()


@pytest.fixture(scope="module")
def profiles(truth) -> list[MeasuredProfile]:
    """Profiles after both stages, broadened (3 and 8 nm rms) and Poisson-counted."""
    return [
        synthetic_profile(
            truth,
            "Rb-CAIT",
            np.arange(1.0, 100.0) * 1e-9,
            response={"rms": 3e-9},
            counts=3000,
            rng=1,
        ),
        synthetic_profile(
            truth,
            "Cs-CAIT",
            np.arange(1.0, 160.0) * 1e-9,
            response={"rms": 8e-9},
            counts=3000,
            rng=101,
        ),
    ]


FREE = [
    FreeParameter(D_CS, value=5e-23, min=1e-24, max=1e-21, log=True, name="D_Cs"),
    FreeParameter(D_RB2, value=2e-22, min=1e-23, max=1e-20, log=True, name="D_Rb"),
    FreeParameter(D_RB1, expr="D_Rb"),
]


# --------------------------------------------------------------------------- paths
def test_paths_by_index_and_by_stage_name(config):
    assert get_value(config, "stages.1.diffusivity.Cs.d") == get_value(config, D_CS) == 3.1e-23
    assert get_value(config, "stages.Rb-CAIT.diffusivity.Li.fwhm") == pytest.approx(0.25)
    changed = with_values(config, {D_CS: 4e-23, "sample.species.Li.initial_fraction": 0.9})
    assert get_value(changed, D_CS) == 4e-23
    assert get_value(config, D_CS) == 3.1e-23  # the original is untouched


def test_unknown_path_lists_close_matches(config):
    with pytest.raises(ParameterPathError) as info:
        get_value(config, "stages.Cs-CAIT.diffusivity.Cs.D")
    assert D_CS in info.value.matches
    with pytest.raises(ParameterPathError, match="does not end at a number"):
        get_value(config, "stages.Cs-CAIT.diffusivity.Cs")


@pytest.mark.parametrize(
    ("text", "value"),
    [("3.1e-23 m^2/s", 3.1e-23), ("250 meV", 0.25), ("5 nm", 5e-9), ("2 h", 7200.0), (1.5, 1.5)],
)
def test_quantities_in_canonical_units(text, value):
    assert parse_quantity(text) == pytest.approx(value)


def test_log_and_tied_parameters(config):
    initial = {s.path: get_value(config, s.path) for s in FREE}
    params = build_parameters(FREE, initial)
    assert params["log10_D_Cs"].value == pytest.approx(math.log10(5e-23))
    assert params["log10_D_Cs"].min == pytest.approx(-24)
    values = path_values(FREE, params)
    assert values[D_CS] == pytest.approx(5e-23)
    assert values[D_RB1] == values[D_RB2] == pytest.approx(2e-22)


# --------------------------------------------------------------------------- data
def test_fallback_weights_are_binomial_with_a_floor():
    sigma = fallback_sigma(np.array([0.0, 0.5, 1.0]), counts=100, floor=0.01)
    assert sigma == pytest.approx([0.01, math.sqrt(0.25 / 100 + 1e-4), 0.01])


def test_fraction_table_round_trip(tmp_path, profiles):
    path = tmp_path / "p.csv"
    write_fractions_table(path, profiles[1])
    back = read_fractions_table(path, "Cs-CAIT")
    assert back.species == profiles[1].species and back.sigma_given
    np.testing.assert_allclose(back.depth_m, profiles[1].depth_m, rtol=1e-7)
    np.testing.assert_allclose(back.sigma["Cs"], profiles[1].sigma["Cs"], rtol=1e-6)
    bare = MeasuredProfile("Cs-CAIT", back.depth_m, back.fractions)
    assert not bare.sigma_given


def test_synthetic_profile_sums_to_one(profiles):
    stage2 = profiles[1]
    assert set(stage2.species) == {"Li", "Rb", "Cs"}
    assert set(profiles[0].species) == {"Li", "Rb"}  # no Cs after stage 1
    total = sum(stage2.fractions.values())
    np.testing.assert_allclose(total, 1.0)


# --------------------------------------------------------------------------- robustness
def test_failed_simulation_is_a_bad_point_not_a_crash(config, profiles):
    problem = FitProblem(config, profiles)
    bad = {"stages.Rb-CAIT.diffusivity.Li.occupancy": 1.5}
    residual, reason = evaluate(bad, problem)
    assert residual is None and "occupancy" in reason
    evaluator = Evaluator(problem, [FreeParameter(next(iter(bad)))])
    out = evaluator._run([bad])[0]
    assert np.all(out == PENALTY) and out.size == problem.n_data
    assert evaluator.failures[0].values == bad


# --------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def fitted(config, profiles):
    return fit(FitProblem(config, profiles), FREE)


def test_fit_recovers_known_parameters_within_uncertainty(fitted):
    assert fitted.result.success
    for name, path in (("D_Cs", D_CS), ("D_Rb", D_RB2)):
        par = fitted.result.params[name]
        assert par.stderr is not None and 0 < par.stderr < 0.05 * par.value  # not absurd
        assert abs(par.value - TRUE[path]) < 3 * par.stderr, (name, par.value, par.stderr)
    assert fitted.best_values[D_RB1] == fitted.best_values[D_RB2]  # tied
    assert 0.1 < fitted.result.redchi < 2
    assert fitted.n_simulations < 60 and not fitted.failures


def test_fit_files(fitted, tmp_path):
    fitted.save(tmp_path)
    data = json.loads((tmp_path / "fit.json").read_text())
    entry = data["parameters"]["D_Cs"]  # keyed by the name given, the path kept
    assert entry["path"] == D_CS and entry["unit"] == "m^2/s"
    assert set(entry) >= {"value", "stderr", "initial", "min", "max"}
    assert entry["initial"] == pytest.approx(5e-23) and entry["min"] == 1e-24
    assert D_RB1 in data["parameters"]  # no name given: keyed by path
    assert set(data) >= {
        "redchi",
        "success",
        "n_simulations",
        "wall_time_s",
        "caitlab_version",
        "created",
        "input",
        "correlations",
    }
    assert abs(data["correlations"]["D_Cs"]["D_Rb"]) <= 1
    report = (tmp_path / "report.txt").read_text()
    assert "D_Cs = " in report and " m²/s" in report
    assert (tmp_path / "best" / "result.nc").exists()
    assert (tmp_path / "best" / "summary.json").exists()
    assert (tmp_path / "fit.png").stat().st_size > 1000


# --------------------------------------------------------------------------- CLI
FIT_TOML = """
experiment = "quick-double-cait.toml"

[[profiles]]
stage = "Cs-CAIT"
file = "stage2.csv"
max_depth = "150 nm"
response = {{ model = "gaussian", rms = "8 nm" }}

[[charges]]
stage = "Rb-CAIT"
charge = "{charge} mC"
sigma = "0.05 mC"

[[parameters]]
path = "{path}"
name = "D_Cs"
value = "4e-23 m^2/s"
min = "1e-24 m^2/s"
max = "1e-21 m^2/s"
log = true

[options]
workers = 0
max_nfev = 6
figure = false
"""


def _cli(args: list[str]):
    from caitlab.cli import _register_commands, app

    _register_commands()
    return CliRunner().invoke(app, args)


def test_cli_fit_writes_results(tmp_path, profiles, truth):
    write_fractions_table(tmp_path / "stage2.csv", profiles[1])
    fit_file = tmp_path / "fit.toml"
    fit_file.write_text(FIT_TOML.format(path=D_CS, charge=truth.stage("Rb-CAIT").charge_C * 1e3))
    result = _cli(["fit", str(fit_file), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert data["parameters"]["D_Cs"]["value"] == pytest.approx(3.1e-23, rel=0.05)
    assert "D_Cs = 3." in result.output and "m²/s" in result.output  # name and unit
    assert "stages.Cs-CAIT.diffusivity.Cs.d =" not in result.output  # never a bare path
    assert data["charges"]["Rb-CAIT"]["model_C"] > 0
    assert data["input"]["fit_config"]["parameters"][0]["name"] == "D_Cs"


def test_cli_unknown_path_is_one_clear_error(tmp_path, profiles):
    write_fractions_table(tmp_path / "stage2.csv", profiles[1])
    fit_file = tmp_path / "fit.toml"
    fit_file.write_text(FIT_TOML.format(path="stages.Cs-CAIT.diffusivity.Cs.dd", charge=1))
    result = _cli(["fit", str(fit_file)])
    assert result.exit_code == 2
    assert "parameters[0].path" in result.output and D_CS in result.output
    assert "Traceback" not in result.output


def test_cli_unknown_key_is_refused(tmp_path):
    fit_file = tmp_path / "fit.toml"
    fit_file.write_text(
        'experiment = "quick-double-cait.toml"\nfoo = 1\n[[parameters]]\npath = "x"\n'
    )
    result = _cli(["fit", str(fit_file)])
    assert result.exit_code == 2 and "foo: unknown key" in result.output


# --------------------------------------------------------------------------- intervals, MCMC
class LineProblem(FitProblem):
    """A straight line in two config numbers, instead of a simulation: exact statistics."""

    X = np.linspace(0.0, 1.0, 40)
    Y = 0.3 + 2.0 * X + np.random.default_rng(0).normal(0.0, 0.1, 40)

    def residual(self, values):
        a = values["stages.Rb-CAIT.diffusivity.Li.fwhm"]
        b = values["stages.Rb-CAIT.diffusivity.Li.occupancy"]
        return (b + a * self.X - self.Y) / 0.1


def test_confidence_intervals_and_posterior_of_a_linear_model(
    config, profiles, monkeypatch, tmp_path
):

    problem = LineProblem(config, profiles[:1])
    monkeypatch.setattr(LineProblem, "run", lambda self, values: None)
    free = [
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.fwhm", value=1.0, name="slope"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.occupancy", value=0.0, name="icpt"),
    ]
    result = fit(
        problem,
        free,
        conf_interval=["slope"],
        sigmas=[1],
        mcmc={"steps": 300, "burn": 100, "walkers": 10, "seed": 1},
    )
    slope = result.result.params["slope"]
    expected = np.polyfit(LineProblem.X, LineProblem.Y, 1)[0]
    assert slope.value == pytest.approx(expected, rel=1e-6)
    best, one = result.conf_intervals["stages.Rb-CAIT.diffusivity.Li.fwhm"]
    assert best["lower"] == pytest.approx(slope.value)
    assert one["probability"] == pytest.approx(0.6827, abs=1e-3)
    # lmfit's F-test intervals scale with the reduced chi-square; the weights here do not
    scaled = slope.stderr * math.sqrt(result.result.redchi)
    assert (one["upper"] - one["lower"]) / 2 == pytest.approx(scaled, rel=0.05)
    post = result.mcmc["parameters"]["stages.Rb-CAIT.diffusivity.Li.fwhm"]
    assert post["median"] == pytest.approx(slope.value, abs=slope.stderr)
    assert (post["upper_1sigma"] - post["lower_1sigma"]) / 2 == pytest.approx(slope.stderr, rel=0.3)
    # the chain is kept for the report's corner plot
    samples = result.mcmc["samples"]
    assert samples.shape[1] == 2 and samples.shape[0] >= 10 * 200
    page = result._repr_html_()  # a compact table in a notebook
    assert "stages.Rb-CAIT.diffusivity.Li.fwhm" in page and "std. error" in page
    assert result.mcmc["sample_names"][0] == "stages.Rb-CAIT.diffusivity.Li.fwhm"
    assert np.median(samples[:, 0]) == pytest.approx(post["median"])
    from caitlab.report import load_fit

    result.save(tmp_path, figure=False)
    saved = load_fit(tmp_path)
    assert saved["samples"].shape == samples.shape
    assert saved["sample_names"] == ["slope", "icpt"]  # keyed by name in fit.json


def test_fit_json_is_strict_where_an_interval_or_posterior_is_not_finite(
    config, profiles, monkeypatch, tmp_path
):
    """lmfit gives -inf/NaN for an interval limit it cannot find: fit.json writes null."""
    import dataclasses

    monkeypatch.setattr(LineProblem, "run", lambda self, values: None)
    free = [
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.fwhm", value=1.0, min=0, name="slope"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.occupancy", value=0.0, name="icpt"),
    ]
    result = fit(LineProblem(config, profiles[:1]), free)
    path = "stages.Rb-CAIT.diffusivity.Li.fwhm"
    best = result.best_values[path]
    broken = dataclasses.replace(
        result,
        conf_intervals={
            path: [
                {"probability": 0.0, "lower": best, "upper": best},
                {"probability": 0.6827, "lower": -math.inf, "upper": np.float32("nan")},
            ]
        },
        mcmc={
            "parameters": {path: {"median": np.float64(best), "lower_1sigma": math.nan}},
            "acceptance_fraction": np.float32(0.25),
            "sample_names": [path],
            "samples": np.empty((0, 0)),
        },
    )
    broken.save(tmp_path, figure=False)

    def refuse(constant):
        raise ValueError(f"non-finite {constant} in fit.json")

    text = (tmp_path / "fit.json").read_text()
    data = json.loads(text, parse_constant=refuse)
    one = data["conf_intervals"]["slope"][1]
    assert one == {"probability": 0.6827, "lower": None, "upper": None}
    assert data["mcmc"]["parameters"]["slope"] == {"median": best, "lower_1sigma": None}
    assert data["mcmc"]["acceptance_fraction"] == 0.25
    assert data["parameters"]["icpt"]["max"] is None  # an infinite bound
    assert '"min": 0.0,' in text  # an integer bound is written as a float
    assert "interval slope (meV): p=0.6827 [–, –]" in (tmp_path / "report.txt").read_text()
    assert broken.to_dict() == {**data, "created": broken.to_dict()["created"]}


def test_jacobian_steps_back_where_the_forward_point_fails(config, profiles):
    occupancy = "stages.Cs-CAIT.diffusivity.Rb.occupancy"
    problem = FitProblem(config, profiles[1:])
    free = [FreeParameter(occupancy, value=0.9995, min=0.5, max=1.5)]
    params = build_parameters(free, {occupancy: 0.9995})
    evaluator = Evaluator(problem, free)
    jac = evaluator.jacobian(params)
    assert len(evaluator.failures) == 1 and evaluator.failures[0].values[occupancy] > 1
    assert np.all(np.isfinite(jac)) and np.max(np.abs(jac)) < PENALTY


def test_profiles_from_an_instrument_export(config, tmp_path):
    from caitlab.config import ConfigError
    from caitlab.fit.config import ProfileSpec, load_observations
    from caitlab.sims import example_export_path

    spec = ProfileSpec(
        stage="Cs-CAIT",
        sims={"file": str(example_export_path()), "crater_depth": "310 nm"},
        max_depth="200 nm",
        response={"rms": "20 nm"},
    )
    problem = load_observations([spec], [], config, tmp_path, "fit.toml")
    profile = problem.profiles[0]
    assert set(profile.species) == {"Li", "Rb", "Cs"} and profile.sigma_given
    assert profile.depth_m.max() <= 200e-9 and profile.response["rms"] == pytest.approx(20e-9)
    bad = ProfileSpec(stage="Cs-CAIT", sims={"file": "x.txt", "crater": 1})
    with pytest.raises(ConfigError, match=r"profiles\[0\]\.sims\.crater: unknown key"):
        load_observations([bad], [], config, tmp_path, "fit.toml")


def test_the_example_fit_file_is_valid():
    from pathlib import Path

    from caitlab.fit import load_fit_config

    example = Path(__file__).resolve().parents[1] / "examples" / "fit-double-cait.toml"
    _, problem, free, record = load_fit_config(example)
    assert [p.stage for p in problem.profiles] == ["Rb-CAIT", "Cs-CAIT"]
    assert sum(1 for f in free if f.vary and f.expr is None) == 4
    assert problem.initial_value("profiles.Cs-CAIT.rms") == pytest.approx(10e-9)
    assert record["experiment"]["stages"][1]["duration"] == pytest.approx(203.12 * 3600)


def test_a_tie_to_an_unknown_name_is_refused(config):
    free = [FREE[0], FreeParameter(D_RB1, expr="D_Csx * 10")]
    with pytest.raises(ValueError, match="D_Csx"):
        build_parameters(free, {s.path: get_value(config, s.path) for s in free})


# --------------------------------------------------------------------------- surface, min_depth
def test_surface_conventions_agree_deep_and_differ_at_the_surface():
    from caitlab.sims import GaussianResponse, SimsError, apply_response

    def broaden(depth, values, measured, response, surface):
        return apply_response(depth, values, measured, response, surface=surface)

    depth = np.linspace(0.25e-9, 200e-9, 400)
    values = np.exp(-depth / 10e-9)[None, :]
    measured = np.arange(0.5, 150.0) * 1e-9
    rms = GaussianResponse(8e-9)
    out = {
        s: broaden(depth, values, measured, rms, s)[0] for s in ("reflect", "extend", "truncate")
    }
    deep = measured > 40e-9
    for s in ("extend", "truncate"):
        assert np.allclose(out[s][deep], out["reflect"][deep], rtol=1e-3)  # fine-grid offsets
        assert np.max(np.abs(out[s] - out["reflect"])[:20]) > 0.01  # they differ near the surface
    flat = broaden(depth, np.ones((1, depth.size)), measured, rms, "truncate")
    assert np.allclose(flat, 1.0)  # renormalised: a uniform profile stays uniform
    with pytest.raises(SimsError, match="surface must be one of"):
        broaden(depth, values, measured, rms, "mirror")


def test_min_depth_removes_the_bias_of_another_surface_convention(config, truth):
    """Data made with the surface value extended above the surface, fitted with caitlab's
    reflection: the Rb occupancy is biased by many standard errors; leaving out the first
    20 nm removes the bias."""

    occupancy = "stages.Cs-CAIT.diffusivity.Rb.occupancy"
    true = get_value(config, occupancy)
    data = synthetic_profile(
        truth,
        "Cs-CAIT",
        np.arange(1.0, 160.0) * 1e-9,
        response={"rms": 8e-9},
        counts=3000,
        rng=101,
        surface="extend",
    )
    free = [FreeParameter(occupancy, value=0.9, min=0.5, max=1.0, name="occ_Rb")]
    bias = {}
    for min_depth in (None, 20e-9):
        result = fit(FitProblem(config, [data.within(min_depth)]), free)
        par = result.result.params["occ_Rb"]
        bias[min_depth] = (par.value - true) / par.stderr
    assert abs(bias[None]) > 5, bias
    assert abs(bias[20e-9]) < 2, bias
    # the same fit, told the data's convention, is unbiased on all points
    result = fit(FitProblem(config, [data], surface="extend"), free)
    par = result.result.params["occ_Rb"]
    assert abs(par.value - true) < 2 * par.stderr


def test_fit_file_min_depth_and_surface(tmp_path, profiles):
    from caitlab.fit import load_fit_config

    write_fractions_table(tmp_path / "stage2.csv", profiles[1])
    text = FIT_TOML.format(path=D_CS, charge=2.5).replace(
        'max_depth = "150 nm"', 'min_depth = "20 nm"\nmax_depth = "150 nm"\nsurface = "truncate"'
    )
    (tmp_path / "fit.toml").write_text(text)
    _, problem, _, _ = load_fit_config(tmp_path / "fit.toml")
    profile = problem.profiles[0]
    assert profile.depth_m.min() > 19.99e-9 and profile.depth_m.max() < 150.01e-9
    assert profile.depth_m.size == 131  # 20, 21 ... 150 nm
    assert problem.surface_of(profile.name) == "truncate"
    (tmp_path / "fit.toml").write_text(text.replace('"truncate"', '"mirror"'))
    from caitlab.config import ConfigError

    with pytest.raises(ConfigError, match="surface"):
        load_fit_config(tmp_path / "fit.toml")


# --------------------------------------------------------------------------- electrometer
def _write_log(path, truth, every=25, unit="nA", noise=0.0, rng=0):
    time, first = np.unique(np.asarray(truth.traces["time"].values)[1:], return_index=True)
    time = time[::every]
    current = np.asarray(truth.traces["current"].values)[1:][first][::every]
    current = current + np.random.default_rng(rng).normal(0.0, noise, current.size)
    scale = {"nA": 1e9, "A": 1.0}[unit]
    rows = "\n".join(f"{t:.17g}\t{i * scale:.17g}" for t, i in zip(time, current))
    path.write_text(f"# electrometer log\ntime [s]\tcurrent [{unit}]\n{rows}\n")
    return time, current


def test_electrometer_log_reader(tmp_path, truth):
    from caitlab.electrometer import ElectrometerError, read_electrometer

    time, current = _write_log(tmp_path / "log.tsv", truth, every=2)
    log = read_electrometer(tmp_path / "log.tsv")
    assert np.allclose(log.time_s, time, rtol=1e-9) and np.allclose(log.current_A, current)
    assert log.derived == ("charge",) and log.columns["current"] == "current [nA]"
    charge = truth.traces["charge"].values  # integrated from the first logged time
    assert log.charge_C[-1] == pytest.approx(charge[-1] - charge[1], rel=0.05)
    (tmp_path / "q.csv").write_text("t (h), Q (mC)\n0, 0\n1, 1.5\n2, 2.5\n")
    log = read_electrometer(tmp_path / "q.csv")
    assert np.allclose(log.time_s, [0, 3600, 7200]) and log.charge_C[-1] == pytest.approx(2.5e-3)
    assert log.current_A[0] == pytest.approx(1.5e-3 / 3600) and log.derived == ("current",)
    for text, message in (
        ("time,current\n0,1\n1,2\n", "has no unit"),
        ("time [s],current [mC]\n0,1\n1,2\n", "current"),
        ("time [s],voltage [V]\n0,1\n1,2\n", "no current or charge"),
        ("time [s],current [nA]\n1,1\n0,2\n", "increasing"),
    ):
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(ElectrometerError, match=message):
            read_electrometer(tmp_path / "bad.csv")


def test_electrometer_curve_as_a_fit_observation(tmp_path, config, truth):
    from caitlab.electrometer import read_electrometer
    from caitlab.fit import MeasuredTrace

    _write_log(tmp_path / "log.tsv", truth, noise=0.05e-9)
    trace = MeasuredTrace(read_electrometer(tmp_path / "log.tsv"), "current", sigma=0.05e-9)
    free = [FreeParameter(D_CS, value=5e-23, min=1e-24, max=1e-21, log=True, name="D_Cs")]
    seen = []
    result = fit(
        FitProblem(config, [], traces=[trace]),
        free,
        progress=lambda n, best, elapsed: seen.append((n, best, elapsed)),
    )
    par = result.result.params["D_Cs"]
    assert abs(par.value - TRUE[D_CS]) < 3 * par.stderr, (par.value, par.stderr)
    assert result.problem.n_data == trace.time_s.size
    # progress: evaluations count up, the best chi-square only goes down
    assert [s[0] for s in seen] == sorted(s[0] for s in seen) and len(seen) >= 2
    assert seen[-1][1] <= seen[0][1] and seen[-1][2] >= 0
    result.save(tmp_path / "out")
    data = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert data["electrometer"]["electrometer"]["n_points"] == trace.time_s.size
    assert (tmp_path / "out" / "fit.png").stat().st_size > 1000


# --------------------------------------------------------------------------- noise scale
class ScaledLineProblem(LineProblem):
    """The line with weights 4x too large (sigma 0.025 for noise 0.1): reduced chi2 ~ 16."""

    def residual(self, values):
        return super().residual(values) * 4.0


def test_estimated_weights_scale_the_errors_and_the_posterior_agrees(config, profiles, monkeypatch):
    problem = ScaledLineProblem(config, profiles[:1], estimated={"x": "shots per scan unknown"})
    monkeypatch.setattr(LineProblem, "run", lambda self, values: None)
    free = [
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.fwhm", value=1.0, name="slope"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Li.occupancy", value=0.0, name="icpt"),
    ]
    result = fit(problem, free, mcmc={"steps": 400, "burn": 100, "walkers": 12, "seed": 2})
    assert result.covariance_scaled and result.result.redchi > 8
    slope = result.result.params["slope"]
    x = LineProblem.X
    unscaled = 0.025 / math.sqrt(np.sum((x - x.mean()) ** 2))
    assert slope.stderr == pytest.approx(unscaled * math.sqrt(result.result.redchi), rel=1e-3)
    post = result.mcmc["parameters"]["stages.Rb-CAIT.diffusivity.Li.fwhm"]
    width = (post["upper_1sigma"] - post["lower_1sigma"]) / 2
    assert width == pytest.approx(slope.stderr, rel=0.3)  # not the 4x overconfident width
    assert result.mcmc["noise_scale"] == pytest.approx(math.sqrt(result.result.redchi), rel=0.3)
    assert post["lower_2sigma"] < post["lower_1sigma"] < post["median"] < post["upper_1sigma"]


def test_fit_file_with_an_electrometer_curve_and_progress(tmp_path, profiles, truth):
    write_fractions_table(tmp_path / "stage2.csv", profiles[1])
    _write_log(tmp_path / "log.tsv", truth, every=10)
    text = FIT_TOML.format(path=D_CS, charge=truth.stage("Rb-CAIT").charge_C * 1e3)
    text = text.replace(
        "[[parameters]]",
        '[[electrometer]]\nfile = "log.tsv"\nsigma = "0.1 nA"\n\n[[parameters]]',
        1,
    )
    (tmp_path / "fit.toml").write_text(text)
    result = _cli(["fit", str(tmp_path / "fit.toml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "evaluations, best χ²" in result.output  # the progress line
    data = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert data["electrometer"]["electrometer"]["quantity"] == "current"
    assert data["n_data"] == 150 * 3 + 1 + data["electrometer"]["electrometer"]["n_points"]
    bad = text.replace('sigma = "0.1 nA"', "sigma = 0.1")
    (tmp_path / "fit.toml").write_text(bad)
    result = _cli(["fit", str(tmp_path / "fit.toml")])
    assert result.exit_code == 2 and "electrometer[0].sigma" in result.output


def test_estimated_counting_statistics_are_named():
    import xarray as xr

    from caitlab.fit.data import estimated_statistics

    def dataset(notes, sigma=True):
        data = {"fraction": (("species", "depth"), np.ones((1, 2)))}
        if sigma:
            data["fraction_sigma"] = (("species", "depth"), np.ones((1, 2)))
        return xr.Dataset(data, attrs={"notes": notes})

    assert estimated_statistics(dataset("Poisson correction with N = 10 shots per scan")) is None
    assert "shots per scan unknown" in estimated_statistics(
        dataset("raw counts left uncorrected: shots per scan unknown")
    )
    assert "already Poisson corrected" in estimated_statistics(
        dataset("intensities already Poisson corrected")
    )
    assert "fallback" in estimated_statistics(dataset("", sigma=False))


def test_a_part_of_a_profile_keeps_its_fallback_counts():
    from caitlab.sims import MeasuredProfile

    depth = np.linspace(1e-9, 50e-9, 20)
    fractions = {"Li": np.full(20, 0.3), "Rb": np.full(20, 0.7)}
    profile = MeasuredProfile("Rb-CAIT", depth, fractions, fallback_counts=50.0)
    for part in (profile.select(["Rb"]), profile.within(10e-9, 40e-9)):
        assert part.fallback_counts == 50.0
        assert not part.sigma_given
    assert profile.within(10e-9).depth_m.min() >= 10e-9
    with pytest.raises(ValueError, match="min_depth and max_depth"):
        profile.within(60e-9)


def test_a_fit_without_a_reduced_chi_square_is_shown_not_crashed():
    """fit.json holds null for a NaN reduced χ² (no degrees of freedom): every display
    of it shows a dash instead of failing on the format."""
    from caitlab._html import fit_html
    from caitlab.fit.report import shown

    class Stub:
        def to_dict(self):
            return {
                "parameters": {"x": {"value": 1.0, "stderr": None, "initial": 0.5}},
                "success": True,
                "redchi": None,
            }

    assert shown(None, ".4g") == "–" and shown(2.0, ".4g") == "2"
    assert "reduced χ² = –" in fit_html(Stub())
