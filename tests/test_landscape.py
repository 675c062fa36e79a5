"""Reading the energy landscape: free-form D(n), PSED, direct estimate, regularisation,
and synthetic recovery with model selection on the quick double-CAIT."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.diffusivity import FreeFormD, SiteEnergyD, geometric_knots
from caitlab.examples import load_example
from caitlab.fit import FitProblem, synthetic_profile, write_fractions_table
from caitlab.landscape import (
    SmoothnessPenalty,
    Target,
    direct_estimate,
    psed_from_log_d,
    psed_fwhm,
    psed_of_model,
    smooth_log_d,
    weight_curve,
)
from caitlab.landscape.regularise import RegularisedProblem
from caitlab.landscape.study import LandscapeSpec, TargetSpec, recovery_truth, study_target
from caitlab.params import get_value, with_values

T, N0 = 323.0, 1.4e28
RB2 = "stages.Cs-CAIT.diffusivity.Rb"


# ------------------------------------------------------------------ the free-form model
def test_free_form_passes_through_its_knots_without_overshoot():
    knots = geometric_knots(6, 0.05)
    assert knots[0] == pytest.approx(0.05) and knots[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log(knots)), math.log(20) / 5)
    values = (-58.0, -57.0, -56.5, -53.0, -52.9, -50.0)
    model = FreeFormD(log_d=values, lowest=0.05)
    assert np.allclose(model.log_diffusivity(np.array(knots), T, N0), values)
    dense = np.geomspace(0.05, 1.0, 500)
    curve = model.log_diffusivity(dense, T, N0)
    assert np.all(np.diff(curve) >= -1e-12)  # PCHIP keeps monotone data monotone
    # beyond the end knots: constant
    assert model.log_diffusivity(np.array([0.0, 0.01, 1.3]), T, N0) == pytest.approx(
        [-58.0, -58.0, -50.0]
    )


def test_free_form_monotone_caps_a_low_knot_by_those_above():
    model = FreeFormD(log_d=(-50.0, -56.0, -55.0, -52.0), knots=(0.1, 0.2, 0.5, 1.0), monotone=True)
    assert np.allclose(model.knot_values(), [-56.0, -56.0, -55.0, -52.0])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"log_d": (-50.0, -49.0), "knots": (0.1, 0.5, 1.0)}, "knots has 3"),
        ({"log_d": (-50.0, -49.0), "knots": (0.5, 0.1)}, "increase strictly"),
    ],
)
def test_free_form_refuses_bad_knots(fields, message):
    with pytest.raises(ValueError, match=message):
        FreeFormD(**fields)


def test_knot_values_are_parameters_by_path():
    config = experiment_to_dict(load_example("quick-double-cait"))
    config["stages"][1]["diffusivity"]["Rb"] = {
        "model": "free-form",
        "log_d": [-56.0] * 5,
        "lowest": 0.05,
    }
    changed = with_values(config, {f"{RB2}.log_d.3": -55.0})
    assert get_value(changed, f"{RB2}.log_d.3") == -55.0
    model = experiment_from_dict(changed, "t").stages[1].diffusivity["Rb"]
    assert isinstance(model, FreeFormD) and model.log_d[3] == -55.0


def test_candidates_replace_the_model_tie_stages_and_rewrite_ties():
    from caitlab.fit import FreeParameter, build_parameters, path_values
    from caitlab.landscape import build_candidate

    config = experiment_to_dict(load_example("quick-double-cait"))
    problem = FitProblem(config, [], charges=_charge())
    free = [
        FreeParameter(f"{RB2}.d_ref", log=True, min=1e-24, max=1e-20, name="D_Rb"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Rb.d", expr="D_Rb"),
    ]
    tied = Target("Cs-CAIT", "Rb", tied=("Rb-CAIT",))
    candidate = build_candidate(problem, free, tied, "free-form", knots=5, lowest=0.1)
    model = candidate.config["stages"][0]["diffusivity"]["Rb"]
    assert model["model"] == "free-form" and len(model["log_d"]) == 5
    paths = {s.path: s for s in candidate.free}
    assert f"{RB2}.d_ref" not in paths and len(candidate.knot_paths) == 5
    assert paths["stages.Rb-CAIT.diffusivity.Rb.log_d.2"].expr == "Rb_Cs_CAIT_log_d_2"
    values = path_values(
        candidate.free,
        build_parameters(
            candidate.free, {s.path: get_value(candidate.config, s.path) for s in candidate.free}
        ),
    )
    assert values["stages.Rb-CAIT.diffusivity.Rb.log_d.2"] == values[f"{RB2}.log_d.2"]
    # a tie to the replaced model now follows the new model's D at n0
    constant = build_candidate(problem, free, Target("Cs-CAIT", "Rb"), "constant")
    tie = {s.path: s for s in constant.free}["stages.Rb-CAIT.diffusivity.Rb.d"]
    assert tie.expr == "(Rb_Cs_CAIT_d)"


# ------------------------------------------------------------------ D(n) -> PSED
@pytest.mark.parametrize("shape", ["sin2", "gaussian"])
def test_psed_of_a_site_energy_law_is_its_distribution(shape):
    sed = SiteEnergyD(shape=shape, fwhm=0.225, occupancy=0.6, d_ref=2.67e-22)
    n = np.linspace(0.02, 1.0 / 0.6 - 0.02, 3000)
    psed = psed_of_model(sed, n, T, N0)
    # the Fermi level is the model's, S is its distribution (per n0), and the FWHM its own
    assert np.allclose(psed.fermi_eV, sed.fermi_shift(n, N0), atol=1e-5)
    inner = slice(10, -10)
    expected = sed.site_distribution(psed.fermi_eV[inner], N0) / N0
    assert np.allclose(psed.density_per_eV[inner], expected, rtol=2e-3)
    assert psed.fwhm() == pytest.approx(0.225, rel=5e-3)
    # n = ∫ S dE between two Fermi levels
    e, s = psed.fermi_eV[inner], psed.density_per_eV[inner]
    assert np.trapezoid(s, e) == pytest.approx(n[inner][-1] - n[inner][0], rel=1e-3)


def test_psed_fwhm_of_a_truncated_distribution_doubles_the_lower_half_width():
    e = np.linspace(-0.4, 0.05, 400)  # cut above the peak at 0: no upper crossing
    s = np.exp(-0.5 * (e / 0.1) ** 2)
    assert psed_fwhm(e, s) == pytest.approx(2.3548 * 0.1, rel=1e-2)
    assert math.isnan(psed_fwhm(e[:50], np.linspace(1.2, 2, 50)))  # never falls: unknown


def test_psed_is_nan_where_d_does_not_increase():
    n = np.linspace(0.1, 1.0, 50)
    log_d = np.where(n < 0.5, -50.0, -50.0 + (n - 0.5))
    psed = psed_from_log_d(n, log_d, T)
    assert np.all(np.isnan(psed.density_per_eV[n < 0.45]))


# ------------------------------------------------------------------ direct estimate
def _travelling_front(d_native, d_foreign: float, v: float):
    """A steady front of the two-species Nernst-Planck problem (spec §2), integrated."""
    from scipy.integrate import solve_ivp

    def rhs(_, y):
        return v * (1 / d_foreign - 1 / d_native(y)) * y * (1 - y)

    sol = solve_ivp(
        rhs, (0, 2e-7), [0.03], max_step=1e-10, rtol=1e-10, atol=1e-12, dense_output=True
    )
    x = np.linspace(0, 2e-7, 400)
    return x, sol.sol(x)[0]


def test_direct_estimate_recovers_d_native_of_a_steady_front():
    d_b, v = 1e-22, 1e-13

    def d_a(n):
        return d_b * (1.5 + 8.0 * n**2)

    x, native = _travelling_front(d_a, d_b, v)
    estimate = direct_estimate(x, native, 1 - native, v, d_b, lowest=0.05)
    assert estimate.valid.mean() > 0.95
    inside = estimate.valid & (estimate.n_frac > 0.1) & (estimate.n_frac < 0.9)
    assert np.allclose(estimate.d[inside], d_a(estimate.n_frac[inside]), rtol=0.05)
    knots = np.array([0.2, 0.4, 0.8])
    assert np.allclose(estimate.log_d_at(knots), np.log(d_a(knots)), atol=0.1)


def test_direct_estimate_breaks_where_the_native_is_slower():
    d_b, v = 1e-22, 1e-13
    x = np.linspace(0, 1e-7, 200)
    native = 0.5 * (1 + np.tanh((x - 5e-8) / 2e-9))  # far too sharp for these D
    estimate = direct_estimate(x, native, 1 - native, v, d_b)
    assert not estimate.valid.all()
    assert np.isnan(estimate.d[~estimate.valid]).all()


# ------------------------------------------------------------------ regularisation
def test_penalty_rows_are_second_differences_and_counted():
    penalty = SmoothnessPenalty(("a", "b", "c", "d"), weight=4.0)
    assert np.allclose(penalty.rows([0.0, 1.0, 4.0, 9.0]), [4.0, 4.0])  # 2 * Δ²(k²) = 2*2
    config = experiment_to_dict(load_example("quick-double-cait"))
    problem = FitProblem(config, [], charges=_charge())
    reg = RegularisedProblem.from_problem(problem, (penalty,))
    assert reg.n_data == reg.n_observed + 2
    with pytest.raises(ValueError, match="at least 3"):
        SmoothnessPenalty(("a", "b"))


def _charge():
    from caitlab.fit import MeasuredCharge

    return [MeasuredCharge("Rb-CAIT", 1e-3, 1e-4)]


def test_weight_curve_of_a_linear_problem():
    """Noisy samples of a smooth curve: GCV and the L-curve both pick an interior weight,
    misfit rises and roughness falls with the weight, and tr H falls from P towards 2."""
    rng = np.random.default_rng(3)
    p = 30
    t = np.linspace(0, 1, p)
    truth = np.sin(6 * t)
    jac = np.eye(p)
    data = truth + 0.05 * rng.standard_normal(p)
    penalty = np.diff(np.eye(p), 2, axis=0)
    weights = np.logspace(-4, 8, 49)
    residual = -data / 0.05  # r(p) = (p - data)/sigma at p = 0
    curves = {
        c: weight_curve(jac / 0.05, residual, penalty, np.zeros(p), weights, c)
        for c in ("gcv", "lcurve")
    }
    curve = curves["gcv"]
    assert np.all(np.diff(curve.misfit) >= -1e-9) and np.all(np.diff(curve.roughness) <= 1e-9)
    assert curve.dof[0] == pytest.approx(p, rel=0.02) and curve.dof[-1] < 8
    for c in curves.values():
        assert curve.weights[0] < c.chosen < curve.weights[-1]


# ------------------------------------------------------------------ synthetic recovery
def _truth(shape: str, theta: float = 0.65) -> dict:
    return recovery_truth(shape, theta)


def _profiles(config: dict, counts: float) -> list:
    sim = experiment_from_dict(config, "truth").run()
    options = {"response": {"rms": 3e-9}, "counts": counts, "sigma_from": "expected"}
    return [
        synthetic_profile(sim, "Rb-CAIT", np.arange(1.0, 80.0) * 1e-9, rng=1, **options),
        synthetic_profile(sim, "Cs-CAIT", np.arange(1.0, 120.0) * 1e-9, rng=101, **options),
    ]


_STUDIES: dict = {}
SPEC = LandscapeSpec(
    targets=[TargetSpec(stage="Cs-CAIT", species="Rb")],
    knots=8,
    lowest=0.05,
    highest=0.9,
    samples=60,
)


def study(shape: str, counts: float) -> dict:
    """The landscape of Rb in stage 2 from synthetic profiles of the truth ``shape``; the
    fit starts from the sin² law of the example (θ = 0.65, FWHM 225 meV)."""
    key = (shape, counts)
    if key not in _STUDIES:
        logging.getLogger("caitlab.fit").setLevel(logging.ERROR)
        problem = FitProblem(_truth("sin2"), _profiles(_truth(shape), counts))
        # the SED shapes creep towards constant D on constant-D data: cap their evaluations
        cap = {"max_nfev": 12} if shape == "constant" else {}
        _STUDIES[key] = study_target(problem, [], SPEC, SPEC.targets[0], **cap)
    return _STUDIES[key]


@pytest.mark.parametrize("shape", ["sin2", "gaussian"])
def test_free_form_recovers_ln_d_and_the_psed_width(shape):
    record = study(shape, 1e4)
    entry = record["models"]["free-form"]
    bands = entry["bands"]
    n = np.asarray(bands["n_frac"])
    low, mid, high = np.asarray(bands["log_d"])
    true_model = Target("Cs-CAIT", "Rb").model(_truth(shape))
    truth = smooth_log_d(true_model, n, T, N0)
    mobile = (n > 0.12) & (n < 0.9)  # the visited range above Rb's fall-off
    z = ((mid - truth) / (0.5 * (high - low)))[mobile]  # error in standard deviations
    # measured over noise seeds 1-3 (this test uses 1): rms z 0.8-1.7, max |z| 1.5-4.4
    assert np.all(np.abs(z) < 4.5) and np.sqrt(np.mean(z**2)) < 1.8
    true_fwhm = psed_of_model(true_model, n, T, N0).fwhm()
    # the FWHM's own band holds the truth (within 5 %: in 5 of 6 seed/shape cases exactly,
    # the sixth misses by 0.3 %); the point estimate is biased low and scatters, -8 to -37 %
    # over seeds 1-3 (docs/landscape.md), so it is only held to 40 %
    fwhm_low, fwhm_mid, fwhm_high = bands["fwhm_eV"]
    assert 0.95 * fwhm_low <= true_fwhm <= 1.05 * fwhm_high
    assert fwhm_mid == pytest.approx(true_fwhm, rel=0.4)


@pytest.mark.parametrize(("shape", "counts"), [("sin2", 1e5), ("gaussian", 1e4), ("constant", 1e4)])
def test_model_selection_picks_the_truth(shape, counts):
    record = study(shape, counts)
    assert record["selected"] == shape
    rows = {r["model"]: r for r in record["table"]}
    others = [r["bic"] for m, r in rows.items() if m != shape]
    assert rows[shape]["bic"] < min(others)
    if shape != "constant":
        assert rows[shape]["lrt_p"] < 1e-6  # a concentration-dependent D, with confidence


def test_bands_from_the_mcmc_posterior():
    from caitlab.landscape import build_candidate, curve_bands, fit_candidate

    logging.getLogger("caitlab.fit").setLevel(logging.ERROR)
    problem = FitProblem(_truth("sin2"), _profiles(_truth("sin2"), 1e4)[1:])
    target = Target("Cs-CAIT", "Rb")
    candidate = build_candidate(problem, [], target, "sin2")
    mcmc = {"steps": 6, "burn": 0, "walkers": 8, "seed": 1}
    model_fit = fit_candidate(problem, candidate, weight=0.0, mcmc=mcmc)
    posterior = model_fit.fit.result.mcmc
    assert posterior["samples"].shape == (48, 2)
    n = np.geomspace(0.05, 0.9, 60)
    bands = curve_bands(model_fit, candidate, target, n, n_samples=20, posterior=posterior)
    assert bands.source == "posterior"
    low, mid, high = bands.log_d
    assert np.all(low <= mid + 1e-9) and np.all(mid <= high + 1e-9)
    assert bands.fwhm_eV[1] == pytest.approx(0.225, rel=0.05)


# ------------------------------------------------------------------ command line
def test_landscape_command_writes_everything(tmp_path):
    from caitlab.cli import _register_commands, app

    _register_commands()
    for profile in _profiles(_truth("sin2"), 1e4):
        write_fractions_table(tmp_path / f"{profile.stage}.csv", profile)
    (tmp_path / "fit.toml").write_text(
        'experiment = "quick-double-cait.toml"\n'
        '[[profiles]]\nstage = "Cs-CAIT"\nfile = "Cs-CAIT.csv"\n'
        'response = { rms = "3 nm" }\n'
        '[[parameters]]\npath = "profiles.Cs-CAIT.rms"\nmin = "1 nm"\nmax = "10 nm"\n'
        '[landscape]\nmodels = ["constant", "free-form"]\nknots = 4\nlowest = 0.1\n'
        "highest = 0.9\nsamples = 10\nweight = 1.0\n"
        '[[landscape.targets]]\nstage = "Cs-CAIT"\nspecies = "Rb"\n'
        'direct = { profile = "Cs-CAIT", foreign = "Cs" }\n'
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["landscape", str(tmp_path / "fit.toml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "selected free-form" in result.output
    data = json.loads((out / "landscape.json").read_text())
    target = data["targets"][0]
    assert set(target["models"]) == {"constant", "free-form"}
    assert "direct" in target and len(target["models"]["free-form"]["knots"]) == 4
    for name in ("selection.txt", "dn.png", "psed.png", "weight.png"):
        assert (out / name).stat().st_size > 0


def test_landscape_command_without_a_section_fails_cleanly(tmp_path):
    from caitlab.cli import _register_commands, app

    _register_commands()
    fit_file = tmp_path / "fit.toml"
    fit_file.write_text(
        'experiment = "quick-double-cait.toml"\n[[charges]]\nstage = "Rb-CAIT"\n'
        'charge = "1 mC"\nsigma = "0.1 mC"\n[[parameters]]\n'
        'path = "stages.Cs-CAIT.diffusivity.Cs.d"\nlog = true\n'
        'min = "1e-24 m^2/s"\nmax = "1e-21 m^2/s"\n'
    )
    result = CliRunner().invoke(app, ["landscape", str(fit_file)])
    assert result.exit_code == 2
    assert "landscape" in result.output
    fit_file.write_text(
        fit_file.read_text() + "[landscape]\nknots = 2\n"
        '[[landscape.targets]]\nstage = "Cs-CAIT"\nspecies = "Rb"\n'
    )
    result = CliRunner().invoke(app, ["landscape", str(fit_file)])
    assert result.exit_code == 2
    assert "landscape.knots" in result.output
