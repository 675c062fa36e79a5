"""Which experiment can measure the Onsager coupling κ_RbCs?  (docs/onsager.md)

    python examples/onsager_study.py                 # everything, figures into docs/
    python examples/onsager_study.py --no-fits       # Fisher information and scans only
    python examples/onsager_study.py --smoke         # a seconds-long check of the machinery

Two designs with the same total charge through the sample:

(a) the paper's *sequential* double-CAIT: Rb+ for 94.46 h, then Cs+ for 203.12 h, κ_RbCs
    acting in the Cs stage (in the Rb stage there is no Cs);
(b) a *simultaneous* double-CAIT: one Rb+Cs mixture beam (Cs fraction f) on the pristine
    glass, as long as it takes to pass the same charge as (a).

Observations as in the paper: ToF-SIMS fractions every nm (3000 counted ions per point,
Poisson noise, Gaussian roughness 5 nm after the first and 12 nm after the last stage) and
the back-electrode current I(t) (30 log-spaced samples per stage, 1 % noise assumed).

For each design: the Fisher information of (κ, ln D_Cs, and the Rb transport parameter: its
occupancy θ_Rb in (a), ln D_Rb in (b)) from central differences of the noise-free
observables, hence σ(κ), the correlations, and the smallest κ detectable at 2σ; a scan of
the mixture's composition and duration; the profile likelihood of κ; and fits of κ on
synthetic noisy data of both designs with :func:`caitlab.fit.fit`.

Affordability: every simulation uses the coarse mesh of ``quick-double-cait`` (1 nm cells,
0.05 nm step tolerance) with the paper's durations, ~0.2-0.5 s a run on one core; the
script prints the wall time of each part.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.coupling import stage_entropy_production
from caitlab.examples import load_example
from caitlab.fit import (
    FitProblem,
    FreeParameter,
    MeasuredCharge,
    MeasuredProfile,
    fit,
    synthetic_profile,
)
from caitlab.fit.problem import model_profile
from caitlab.params import get_value, with_values

HOUR = 3600.0
COUNTS = 3000.0  # counted ions per SIMS depth point (as examples/make_synthetic_fit_data.py)
ROUGHNESS = {"first": 5e-9, "last": 12e-9}  # m rms
CURRENT_RTOL = 0.01  # assumed relative noise of the current samples
N_CURRENT = 30
KAPPA = "coupling.Rb-Cs"
STEPS = {"kappa": 0.05, "log": 0.05, "occupancy": 0.01}


# ------------------------------------------------------------------------- the designs


@dataclass(frozen=True)
class Design:
    """An experiment config (dict, for parameter paths) and its parameters of interest."""

    label: str
    config: dict
    kappa_path: str
    d_cs_path: str
    rb_path: str  # the Rb transport parameter: occupancy (a) or D_Rb (b)
    rb_log: bool

    @property
    def paths(self) -> list[str]:
        return [self.kappa_path, self.d_cs_path, self.rb_path]

    def experiment(self, values: dict[str, float] | None = None):
        return experiment_from_dict(with_values(self.config, values or {}))


def _coarse(experiment, smoke: bool):
    mesh = experiment.mesh.with_(front_cell=2e-9 if smoke else 1e-9, fine_depth=150e-9)
    solver = experiment.solver.with_(tolerance=0.2e-9 if smoke else 0.05e-9)
    return experiment.with_(mesh=mesh, solver=solver)


def sequential(kappa: float = 0.0, stage2_hours: float = 203.12, smoke: bool = False) -> Design:
    """Design (a): the paper's Rb+ then Cs+ stages, κ_RbCs in the Cs stage."""
    paper = load_example("double-cait")
    rb, cs = paper.stages
    if smoke:
        rb, cs = rb.with_(duration=rb.duration / 20), cs.with_(duration=cs.duration / 20)
    cs = cs.with_(coupling={"Rb-Cs": kappa}, duration=stage2_hours * HOUR / (20 if smoke else 1))
    experiment = _coarse(paper.with_(name="sequential", stages=(rb, cs)), smoke)
    return Design(
        "sequential",
        experiment_to_dict(experiment),
        f"stages.Cs-CAIT.{KAPPA}",
        "stages.Cs-CAIT.diffusivity.Cs.d",
        "stages.Cs-CAIT.diffusivity.Rb.occupancy",
        False,
    )


def simultaneous(
    kappa: float = 0.0, cs_fraction: float = 0.5, hours: float = 297.58, smoke: bool = False
) -> Design:
    """Design (b): one Rb+Cs mixture beam on the pristine glass; Li as in the paper's first
    stage, Rb and Cs foreign ions with the paper's constant D."""
    paper = load_example("double-cait")
    rb, cs = paper.stages
    beam = rb.beam.with_(species={"Rb": 1.0 - cs_fraction, "Cs": cs_fraction})
    diffusivity = {
        "Li": rb.diffusivity["Li"],
        "Rb": rb.diffusivity["Rb"],
        "Cs": cs.diffusivity["Cs"],
    }
    mix = rb.with_(
        name="RbCs-CAIT",
        beam=beam,
        diffusivity=diffusivity,
        coupling={"Rb-Cs": kappa},
        duration=hours * HOUR / (20 if smoke else 1),
    )
    experiment = _coarse(paper.with_(name="simultaneous", stages=(mix,)), smoke)
    return Design(
        "simultaneous",
        experiment_to_dict(experiment),
        f"stages.RbCs-CAIT.{KAPPA}",
        "stages.RbCs-CAIT.diffusivity.Cs.d",
        "stages.RbCs-CAIT.diffusivity.Rb.d",
        True,
    )


def matched_hours(cs_fraction: float, charge_C: float, smoke: bool = False) -> float:
    """Duration (h) of the mixture beam that passes ``charge_C`` (κ = 0)."""
    probe = simultaneous(0.0, cs_fraction, 800.0, smoke).experiment().run()
    record = probe.stages[0]
    return (
        float(np.interp(charge_C, record.trace_charge, record.trace_time))
        / HOUR
        * (20 if smoke else 1)
    )


# -------------------------------------------------------------------- the observations


def _depths(top_nm: float) -> np.ndarray:
    return np.arange(1.0, top_nm + 0.5, 1.0) * 1e-9


def templates(design: Design, result) -> list[MeasuredProfile]:
    """Where and how each design is measured: every stage's profile (the last one rougher)."""
    names = [r.name for r in result.stages]
    out = []
    for k, name in enumerate(names):
        rms = ROUGHNESS["last"] if k == len(names) - 1 else ROUGHNESS["first"]
        truth = synthetic_profile(
            result,
            name,
            _depths(200.0 if k == len(names) - 1 else 120.0),
            response={"model": "gaussian", "rms": rms},
            counts=COUNTS,
            rng=0,
            sigma_from="expected",
        )
        out.append(truth)
    return out


def current_samples(result) -> tuple[np.ndarray, np.ndarray]:
    """I(t) at ``N_CURRENT`` log-spaced times per stage, A, and their times, s."""
    values, times = [], []
    for record in result.stages:
        t = record.start + np.geomspace(10.0, record.duration, N_CURRENT)
        values.append(np.interp(t, record.trace_time, record.trace_current))
        times.append(t)
    return np.concatenate(values), np.concatenate(times)


def observables(
    design: Design,
    values: dict[str, float],
    profiles: list[MeasuredProfile],
    current_sigma: np.ndarray,
) -> np.ndarray:
    """All observations divided by their σ (SIMS fractions, then I(t) samples)."""
    result = design.experiment(values).run()
    parts = []
    for p in profiles:
        model = model_profile(result, p, p.response)
        parts += [model[s] / p.sigma[s] for s in p.species]
    parts.append(current_samples(result)[0] / current_sigma)
    return np.concatenate(parts)


def fisher(design: Design, base: dict[str, float] | None = None) -> dict:
    """Fisher information of (κ, D_Cs, Rb parameter) at ``base`` values, from central
    differences (7 runs); σ, correlations and the SIMS-only / I(t)-only parts."""
    result = design.experiment(base).run()
    profiles = templates(design, result)
    current = current_samples(result)[0]
    sigma_i = CURRENT_RTOL * np.abs(current) + 1e-30
    n_sims = sum(p.depth_m.size * len(p.species) for p in profiles)
    values = {p: get_value(with_values(design.config, base or {}), p) for p in design.paths}
    columns = []
    for path in design.paths:
        log = path == design.d_cs_path or (path == design.rb_path and design.rb_log)
        h = (
            STEPS["log"]
            if log
            else STEPS["kappa"]
            if path == design.kappa_path
            else STEPS["occupancy"]
        )
        shifted = []
        for sign in (1, -1):
            v = dict(values)
            v[path] = values[path] * np.exp(sign * h) if log else values[path] + sign * h
            shifted.append(observables(design, v, profiles, sigma_i))
        columns.append((shifted[0] - shifted[1]) / (2 * h))
    jac = np.array(columns).T
    parts = {"all": jac, "sims": jac[:n_sims], "current": jac[n_sims:]}
    out = {"charge_C": sum(r.charge_C for r in result.stages)}
    for name, j in parts.items():
        info = j.T @ j
        cov = np.linalg.pinv(info)
        sd = np.sqrt(np.abs(np.diag(cov)))
        out[name] = {
            "sigma": sd.tolist(),
            "sigma_kappa_nuisance_known": float(1 / np.sqrt(info[0, 0])),
            "correlation": (cov / np.outer(sd, sd)).tolist(),
        }
    return out


# --------------------------------------------------------------- profile likelihood and fits


def noisy_data(design: Design, truth: dict[str, float], seed: int):
    """Synthetic SIMS profiles and charges of ``design`` at ``truth`` values."""
    result = design.experiment(truth).run()
    profiles = []
    for k, record in enumerate(result.stages):
        last = k == len(result.stages) - 1
        profiles.append(
            synthetic_profile(
                result,
                record.name,
                _depths(200.0 if last else 120.0),
                response={"model": "gaussian", "rms": ROUGHNESS["last" if last else "first"]},
                counts=COUNTS,
                rng=seed + k,
            )
        )
    rng = np.random.default_rng(seed + 99)
    charges = [
        MeasuredCharge(
            r.name, r.charge_C * (1 + CURRENT_RTOL * rng.normal()), CURRENT_RTOL * r.charge_C
        )
        for r in result.stages
    ]
    return profiles, charges


def free_parameters(
    design: Design, start: dict[str, float], kappa: float = 0.0, vary_kappa: bool = True
) -> list[FreeParameter]:
    return [
        FreeParameter(design.kappa_path, value=kappa, min=-0.95, max=0.95, vary=vary_kappa),
        FreeParameter(
            design.d_cs_path, value=start[design.d_cs_path], log=True, min=1e-24, max=1e-21
        ),
        FreeParameter(
            design.rb_path,
            value=start[design.rb_path],
            log=design.rb_log,
            min=1e-23 if design.rb_log else 0.6,
            max=1e-20 if design.rb_log else 0.95,
        ),
    ]


def fit_kappa(design: Design, truth: dict[str, float], kappa0: float, seed: int = 7) -> dict:
    """Fit κ, D_Cs and the Rb parameter to synthetic data made at ``truth``; start from
    κ = ``kappa0`` (the best point of the profile likelihood: the κ-D_Cs valley is long
    and narrow, and a start at κ = 0 stalls in it) and D values 30 % off."""
    profiles, charges = noisy_data(design, truth, seed)
    problem = FitProblem(design.config, profiles, charges)
    start = {
        design.d_cs_path: truth[design.d_cs_path] * 1.3,
        design.rb_path: truth[design.rb_path] * (1.3 if design.rb_log else 0.95),
    }
    free = free_parameters(design, start, kappa0)
    outcome = fit(problem, free, step=0.02, tolerance=1e-8)
    params = outcome.result.params
    out = {
        "truth": truth,
        "best": outcome.best_values,
        "n_simulations": outcome.n_simulations,
        "wall_time_s": outcome.wall_time_s,
        "chisqr": float(outcome.result.chisqr),
    }
    kappa = next(p for p in params.values() if p.name.endswith("Rb_Cs"))
    out["kappa_stderr"] = None if kappa.stderr is None else float(kappa.stderr)
    return out


def profile_likelihood(
    design: Design, truth: dict[str, float], grid: np.ndarray, seed: int = 7
) -> list[float]:
    """χ²(κ) on ``grid`` with D_Cs and the Rb parameter refitted at every κ."""
    profiles, charges = noisy_data(design, truth, seed)
    problem = FitProblem(design.config, profiles, charges)
    start = {design.d_cs_path: truth[design.d_cs_path], design.rb_path: truth[design.rb_path]}
    chi2 = []
    for kappa in grid:
        free = free_parameters(design, start, float(kappa), vary_kappa=False)
        outcome = fit(problem, free, step=0.02, tolerance=1e-8)
        chi2.append(float(outcome.result.chisqr))
        start = {p: outcome.best_values[p] for p in (design.d_cs_path, design.rb_path)}
    return chi2


def interval(
    grid: np.ndarray, chi2: list[float], level: float, best: tuple[float, float]
) -> list[float | None]:
    """Where Δχ²(κ) crosses ``level`` (1: 1σ, 4: 2σ) either side of the best fit
    ``best = (κ̂, χ²_min)``: the profile's points with the best fit added, interpolated
    linearly in the signed root ±√Δχ² (exact for a quadratic profile); None where the
    grid ends first."""
    k_hat, c_min = best
    points = sorted([*zip(grid.tolist(), chi2), (k_hat, c_min)])
    kappa = np.array([p[0] for p in points])
    root = np.sign(kappa - k_hat) * np.sqrt(np.clip([p[1] - c_min for p in points], 0, None))
    target = np.sqrt(level)
    out: list[float | None] = []
    for sign in (-1.0, 1.0):
        side = np.where(sign * (kappa - k_hat) >= 0)[0]
        values = sign * root[side]
        if values.max() < target:
            out.append(None)
            continue
        order = np.argsort(values)
        out.append(float(np.interp(target, values[order], kappa[side][order])))
    return out


# ------------------------------------------------------------------------------- figures


def figure_profiles(seq_runs: dict, sim_runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 6.2))
    colours = {"Li": "tab:blue", "Rb": "tab:orange", "Cs": "tab:green"}
    styles = {-0.5: ":", 0.0: "-", 0.5: "--"}
    for col, (title, runs) in enumerate(
        [("(a) sequential, after Cs+", seq_runs), ("(b) simultaneous Rb+Cs", sim_runs)]
    ):
        ax, bx = axes[0, col], axes[1, col]
        for kappa, result in runs.items():
            last = result.stages[-1].name
            depth = _depths(200.0)
            template = MeasuredProfile(last, depth, {s: np.zeros(depth.size) for s in colours})
            model = model_profile(result, template, {"model": "gaussian", "rms": ROUGHNESS["last"]})
            for s, c in colours.items():
                ax.plot(
                    depth * 1e9,
                    model[s],
                    styles[kappa],
                    color=c,
                    label=f"{s}" if kappa == 0.0 else None,
                )
            t = np.concatenate([r.trace_time for r in result.stages]) / HOUR
            i = np.concatenate([r.trace_current for r in result.stages]) * 1e9
            bx.plot(t, i, styles[kappa], color="k", label=f"κ = {kappa:+.1f}")
        ax.set(title=title, xlabel="depth (nm)", ylabel="fraction (12 nm rms)", xlim=(0, 160))
        bx.set(xlabel="time (h)", ylabel="current (nA)", yscale="log", ylim=(0.5, 20))
        ax.legend(fontsize=8)
        bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def figure_design(scan: list[dict], sequential_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for factor in sorted({r["duration_factor"] for r in scan}):
        rows = [r for r in scan if r["duration_factor"] == factor]
        ax.plot(
            [r["cs_fraction"] for r in rows],
            [r["sigma_kappa"] for r in rows],
            "o-",
            label=f"simultaneous, {factor:g}× charge",
        )
    for r in sequential_rows:
        ax.axhline(r["sigma_kappa"], ls="--", lw=1, color="grey")
        ax.text(
            0.9,
            r["sigma_kappa"],
            f"seq. {r['duration_factor']:g}×",
            fontsize=7,
            va="bottom",
            ha="right",
        )
    ax.set(
        xlabel="Cs fraction of the mixture beam", ylabel="σ(κ_RbCs), nuisances free", yscale="log"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def figure_likelihood(grid: np.ndarray, curves: dict, truth: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, chi2 in curves.items():
        chi2 = np.asarray(chi2)
        ax.plot(grid, chi2 - chi2.min(), "o-", label=label)
    ax.axhline(1.0, color="grey", lw=1)
    ax.axhline(4.0, color="grey", lw=1, ls="--")
    ax.axvline(truth, color="k", lw=1)
    ax.set(xlabel="κ_RbCs (D_Cs and Rb parameter refitted)", ylabel="Δχ²", yscale="symlog")
    ax.set_ylim(0.0, None)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


# --------------------------------------------------------------------------------- main


def _clock(label: str, start: float, walls: dict) -> float:
    walls[label] = round(time.perf_counter() - start, 1)
    print(f"[{label}: {walls[label]} s]", flush=True)
    return time.perf_counter()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--no-fits", action="store_true", help="skip fits and the likelihood")
    parser.add_argument("--smoke", action="store_true", help="tiny runs: check the machinery")
    args = parser.parse_args(argv)
    smoke = args.smoke
    walls: dict[str, float] = {}
    report: dict = {"walls_s": walls}
    clock = time.perf_counter()

    seq_runs = {k: sequential(k, smoke=smoke).experiment().run() for k in (-0.5, 0.0, 0.5)}
    charge = sum(r.charge_C for r in seq_runs[0.0].stages)
    hours = matched_hours(0.5, charge, smoke)
    sim_runs = {k: simultaneous(k, 0.5, hours, smoke).experiment().run() for k in (-0.5, 0.0, 0.5)}
    report["charge_C"] = {
        "sequential": {k: sum(r.charge_C for r in v.stages) for k, v in seq_runs.items()},
        "simultaneous": {k: sum(r.charge_C for r in v.stages) for k, v in sim_runs.items()},
        "simultaneous_hours": hours,
    }
    report["entropy_J_per_K_m2"] = {
        "sequential": {k: stage_entropy_production(v) for k, v in seq_runs.items()},
        "simultaneous": {k: stage_entropy_production(v) for k, v in sim_runs.items()},
    }
    if not smoke:
        figure_profiles(seq_runs, sim_runs, args.out / "onsager_profiles.png")
    clock = _clock("runs and profiles", clock, walls)

    # Fisher information at κ = 0 (detection) and at κ = 0.3; the design scan
    fishers = {}
    for kappa in (0.0, 0.3):
        fishers[f"sequential kappa={kappa}"] = fisher(sequential(kappa, smoke=smoke))
        fishers[f"simultaneous kappa={kappa}"] = fisher(simultaneous(kappa, 0.5, hours, smoke))
    report["fisher"] = fishers
    clock = _clock("Fisher information", clock, walls)

    factors = (1.0,) if smoke else (0.5, 1.0, 2.0)
    fractions = (0.5,) if smoke else (0.1, 0.25, 0.5, 0.75, 0.9)
    scan, seq_rows = [], []
    for factor in factors:
        f = fisher(sequential(0.0, 203.12 * factor, smoke))["all"]
        seq_rows.append({"duration_factor": factor, "sigma_kappa": f["sigma"][0]})
        for fraction in fractions:
            h = matched_hours(fraction, charge * factor, smoke)
            f = fisher(simultaneous(0.0, fraction, h, smoke))["all"]
            scan.append(
                {
                    "duration_factor": factor,
                    "cs_fraction": fraction,
                    "hours": h,
                    "sigma_kappa": f["sigma"][0],
                    "corr_kappa_dcs": f["correlation"][0][1],
                    "corr_kappa_rb": f["correlation"][0][2],
                }
            )
    report["design_scan"] = {"simultaneous": scan, "sequential": seq_rows}
    if not smoke:
        figure_design(scan, seq_rows, args.out / "onsager_design.png")
    clock = _clock("design scan", clock, walls)

    if not args.no_fits:
        truth_kappa = 0.3
        fits, curves = {}, {}
        grid = np.array([-0.1, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.7])
        grid = grid if not smoke else np.array([0.3])
        for design in (
            sequential(truth_kappa, smoke=smoke),
            simultaneous(truth_kappa, 0.5, hours, smoke),
        ):
            truth = {p: get_value(design.config, p) for p in design.paths}
            curves[design.label] = profile_likelihood(design, truth, grid)
            clock = _clock(f"profile likelihood {design.label}", clock, walls)
            kappa0 = float(grid[int(np.argmin(curves[design.label]))])
            fits[design.label] = fit_kappa(design, truth, kappa0)
            # the fit or a profile point, whichever is lower (the valley is flat and noisy)
            found = fits[design.label]
            best = min(
                [
                    (found["chisqr"], found["best"][design.kappa_path]),
                    *zip(curves[design.label], grid.tolist()),
                ]
            )[::-1]
            for name, level in (("interval_1sigma", 1.0), ("interval_2sigma", 4.0)):
                fits[design.label][name] = interval(grid, curves[design.label], level, best)
            clock = _clock(f"fit {design.label}", clock, walls)
        report["fits"] = fits
        report["profile_likelihood"] = {"grid": grid.tolist(), "chi2": curves}
        if not smoke:
            figure_likelihood(grid, curves, truth_kappa, args.out / "onsager_likelihood.png")
    if not smoke:
        (args.out / "onsager_study.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report, indent=1, default=str)[:6000])
    return report


if __name__ == "__main__":
    main()
