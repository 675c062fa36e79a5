"""The figures and numbers of docs/landscape.md (synthetic data from the quick example).

    python examples/landscape/landscape_walkthrough.py        # writes docs/landscape/*.png

1. the selection study of Rb in stage 2 and of Li in stage 1 (`landscape-quick.toml`
   plus a Li target): D(n) with bands, the PSEDs of both species on one axis, the L-curve;
2. how the free-form answer moves with the smoothness weight and with K;
3. the direct (travelling-front) estimate against the truth, before and after broadening;
4. the recovery table: sin², Gaussian and constant truths (Rb θ = 0.65), K = 6 and 8.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[1] / "docs" / "landscape"
sys.path.insert(0, str(HERE))

from make_landscape_data import synthetic_profiles  # noqa: E402

from caitlab.config import experiment_from_dict  # noqa: E402
from caitlab.fit import FitProblem, FreeParameter  # noqa: E402
from caitlab.landscape import (  # noqa: E402
    Target,
    build_candidate,
    curve_bands,
    direct_estimate,
    fit_candidate,
    front_velocity,
    smooth_log_d,
)
from caitlab.landscape.study import (  # noqa: E402
    LandscapeSpec,
    TargetSpec,
    recovery_truth,
    save_figures,
    study_target,
)
from caitlab.plot._common import new_figure  # noqa: E402

T, N0 = 323.0, 1.4e28
DPI = 80


def selection(problem: FitProblem, free: list) -> dict:
    spec = LandscapeSpec(
        targets=[
            TargetSpec(stage="Cs-CAIT", species="Rb"),
            TargetSpec(stage="Rb-CAIT", species="Li"),
        ],
        knots=8,
        lowest=0.05,
        highest=0.9,
        samples=200,
    )
    targets = [study_target(problem, free, spec, t) for t in spec.targets]
    data = json.loads(json.dumps({"targets": targets}, default=float))
    save_figures(data, DOCS)
    for name in ("dn", "psed", "weight"):
        (DOCS / f"{name}.png").rename(DOCS / f"study-{name}.png")
    return data


def weight_and_knots(problem: FitProblem, free: list) -> dict:
    """Free-form Rb curves for several weights (K = 8) and several K (L-curve)."""
    target = Target("Cs-CAIT", "Rb")
    n = np.geomspace(0.05, 0.9, 100)
    truth = smooth_log_d(target.model(problem.config), n, T, N0)
    fig = new_figure((9.0, 3.8))
    axes = fig.subplots(1, 2, sharey=True)
    numbers = {}
    runs = [("weight", w, 8) for w in (0.01, 1.0, 100.0, 1e4)]
    runs += [("K", "lcurve", k) for k in (4, 6, 8, 10)]
    for kind, weight, knots in runs:
        candidate = build_candidate(
            problem, free, target, "free-form", knots=knots, lowest=0.05, highest=0.9
        )
        model_fit = fit_candidate(problem, candidate, weight=weight)
        bands = curve_bands(model_fit, candidate, target, n, n_samples=100)
        ax = axes[0] if kind == "weight" else axes[1]
        label = f"λ = {weight:g}" if kind == "weight" else f"K = {knots}"
        line = ax.plot(n, np.exp(bands.log_d[1]), label=label)[0]
        ax.fill_between(n, *np.exp(bands.log_d[[0, 2]]), color=line.get_color(), alpha=0.15)
        numbers[label] = {
            "chi2": model_fit.chi2,
            "k": model_fit.k,
            "weight": model_fit.fit.weight,
            "fwhm_eV": bands.fwhm_eV[1],
            "max_abs_error_ln_d": float(np.max(np.abs(bands.log_d[1] - truth)[n > 0.12])),
        }
    for ax, title in zip(axes, ("K = 8, fixed weights", "weight by the L-curve")):
        ax.plot(n, np.exp(truth), "k:", lw=2, label="truth (sin², 225 meV)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("$n_{Rb}/n_0$")
        ax.set_title(title, fontsize="medium")
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel("D of Rb in stage 2 (m$^2$/s)")
    fig.savefig(DOCS / "weight-and-knots.png", dpi=DPI)
    return numbers


def direct(problem: FitProblem) -> dict:
    """The travelling-front estimate on both fronts, unbroadened and measured."""
    config = problem.config
    result = experiment_from_dict(config, "truth").run()
    sample = config["sample"]
    fig = new_figure((9.0, 3.8))
    axes = fig.subplots(1, 2)
    out = {}
    pairs = [("Rb-CAIT", "Li", "Rb", 0), ("Cs-CAIT", "Rb", "Cs", 1)]
    for ax, (stage, native, foreign, k) in zip(axes, pairs):
        cfg_stage = config["stages"][k]
        d_foreign = float(cfg_stage["diffusivity"][foreign]["d"])
        v = front_velocity(
            result.stage(stage).charge_C, float(cfg_stage["duration"]), float(sample["area"]), N0
        )
        rows = [result.species.index(native), result.species.index(foreign)]
        x = result.mesh.centres
        inside = x < 150e-9
        final = result.stage(stage).fractions.values[rows][:, inside]
        clean = direct_estimate(x[inside], *final, v, d_foreign)
        measured = problem.profile(stage)
        noisy = direct_estimate(
            measured.depth_m, measured.fractions[native], measured.fractions[foreign], v, d_foreign
        )
        model = Target(stage, native).model(config)
        n = np.geomspace(0.02, 1.0, 200)
        ax.plot(n, model.diffusivity(n, T, N0), "k-", label=f"truth D_{native}(n)")
        ax.axhline(d_foreign, color="0.5", ls=":", label=f"D_{foreign} (assumed)")
        ax.plot(clean.n_frac, clean.d, ".", ms=4, label="from the simulated front")
        ax.plot(noisy.n_frac, noisy.d, "x", ms=4, label="from the measured profile")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"$n_{{{native}}}/n_0$")
        ax.set_ylabel("D (m$^2$/s)")
        ax.set_title(
            f"{native} in {stage} (front speed {v * 1e9 * 3600:.2g} nm/h)", fontsize="medium"
        )
        ax.legend(fontsize="x-small")
        out[stage] = {
            "velocity_m_per_s": v,
            "valid_fraction_clean": float(clean.valid.mean()),
            "valid_fraction_measured": float(noisy.valid.mean()),
        }
    fig.savefig(DOCS / "direct.png", dpi=DPI)
    return out


def recovery() -> list[dict]:
    """Truths of several shapes: ln D error in sigmas, PSED FWHM error, the selection."""
    rows = []
    target = Target("Cs-CAIT", "Rb")
    for shape, counts, knots in [
        ("sin2", 1e4, 6),
        ("sin2", 1e4, 8),
        ("gaussian", 1e4, 6),
        ("gaussian", 1e4, 8),
        ("sin2", 1e5, 6),
        ("constant", 1e4, 6),
    ]:
        truth = recovery_truth(shape, 0.65)
        problem = FitProblem(
            recovery_truth("sin2", 0.65), synthetic_profiles(shape, counts, occupancy=0.65)
        )
        spec = LandscapeSpec(
            targets=[TargetSpec(stage="Cs-CAIT", species="Rb")],
            knots=knots,
            lowest=0.05,
            highest=0.9,
            samples=100,
        )
        clock = time.perf_counter()
        record = study_target(problem, [], spec, spec.targets[0])
        bands = record["models"]["free-form"]["bands"]
        n = np.asarray(bands["n_frac"])
        low, mid, high = np.asarray(bands["log_d"], dtype=float)
        model = target.model(truth)
        z = ((mid - smooth_log_d(model, n, T, N0)) / (0.5 * (high - low)))[(n > 0.12)]
        from caitlab.landscape import psed_of_model

        true_fwhm = psed_of_model(model, n, T, N0).fwhm()
        rows.append(
            {
                "truth": shape,
                "counts": counts,
                "knots": knots,
                "selected": record["selected"],
                "delta_bic": sorted(r["bic"] for r in record["table"])[1]
                - min(r["bic"] for r in record["table"]),
                "z_max": float(np.abs(z).max()),
                "z_rms": float(np.sqrt(np.mean(z**2))),
                "fwhm_eV": bands["fwhm_eV"][1],
                "true_fwhm_eV": true_fwhm,
                "wall_s": time.perf_counter() - clock,
            }
        )
        print(rows[-1])
    return rows


def _compact(numbers: dict) -> dict:
    """The numbers without the curves (the JSON under docs/ stays small)."""
    out = json.loads(json.dumps(numbers, default=float))
    for target in out["selection"]["targets"]:
        target.pop("direct", None)
        for entry in target["models"].values():
            bands = entry.pop("bands")
            entry |= {"fwhm_eV": bands["fwhm_eV"], "determined_range": bands["determined_range"]}
            curve = entry.pop("weight_curve")
            entry["weight_criterion"] = curve["criterion"] if curve else None
    return out


def main() -> None:
    logging.getLogger("caitlab.fit").setLevel(logging.ERROR)
    DOCS.mkdir(parents=True, exist_ok=True)
    problem = FitProblem(recovery_truth("sin2"), synthetic_profiles("sin2"))
    free = [FreeParameter("profiles.Cs-CAIT.rms", min=0.5e-9, max=20e-9)]
    clock = time.perf_counter()
    numbers = {"selection": selection(problem, free)}
    numbers["selection_wall_s"] = time.perf_counter() - clock
    numbers["weight_and_knots"] = weight_and_knots(problem, free)
    numbers["direct"] = direct(problem)
    numbers["recovery"] = recovery()
    (DOCS / "numbers.json").write_text(json.dumps(_compact(numbers), indent=1, default=float))
    for target in numbers["selection"]["targets"]:
        from caitlab.landscape.study import table_text

        print(table_text(target))
        for shape, entry in target["models"].items():
            print(
                f"  {shape}: FWHM {entry['bands']['fwhm_eV']}, weight {entry['weight']}, "
                f"{entry['n_simulations']} runs, {entry['wall_time_s']:.1f} s"
            )
    print(json.dumps(numbers["weight_and_knots"], indent=1, default=float))
    print(json.dumps(numbers["direct"], indent=1, default=float))


if __name__ == "__main__":
    main()
