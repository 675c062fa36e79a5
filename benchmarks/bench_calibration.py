"""Benchmark: are the fit's error bars calibrated? A coverage study at known truth.

Run from the repository root (not a test; prints figures)::

    python benchmarks/bench_calibration.py --replicas 30 --workers 0
    python benchmarks/bench_calibration.py --replicas 15 --seed 7 --start perturbed

The quick double-CAIT case of ``benchmarks/bench_fit.py`` is simulated once at its truth
(D_Cs, D_Rb, FWHM_Rb, stage-2 rms); each replica draws both synthetic profiles
(:func:`caitlab.fit.synthetic.synthetic_profile`: Poisson counts, 3000 per depth point,
broadened 5 and 12 nm rms; counting uncertainties from the drawn counts, or from the
expected ones with ``--sigma-from expected``) with its own noise seed, and fits the four
parameters jointly: from the bench's start (``--start bench``), from the truth perturbed at
random (``--start perturbed``: log parameters by a factor 10**N(0, 0.1), the others by
N(0, 10 %), clipped into the bounds) or from the truth itself (``--start truth``).

Per parameter, the standardised error ``z = (estimate - truth) / stderr`` is taken where
the minimiser varies the parameter (log10 of the diffusivities), where its Gaussian error
bar is made. If the error bars are calibrated, z is standard normal: 68.3 % of the truths
inside +-1 sigma, 95.4 % inside +-2 sigma, mean 0, SD 1; and the reduced chi-square
averages 1. The binomial uncertainty of a coverage p over N replicas is
sqrt(p (1 - p) / N). The bias is also given as the mean of estimate / truth - 1. Where
the chi-square comes from is printed per profile and species, at the optimum and at the
truth. A replica whose fit raises, does not succeed or gives no standard error is counted
as failed and left out of the figures.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from caitlab import load_experiment
from caitlab.config import experiment_to_dict
from caitlab.fit import FitProblem, FreeParameter, fit, open_executor
from caitlab.fit.config import BUILTIN_EXAMPLES
from caitlab.fit.synthetic import synthetic_profile
from caitlab.params import get_value

D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"
D_RB = "stages.Cs-CAIT.diffusivity.Rb.d_ref"
FWHM = "stages.Cs-CAIT.diffusivity.Rb.fwhm"
RMS = "profiles.Cs-CAIT.rms"
TRUTH = {D_CS: 3.1e-23, D_RB: 2.67e-22, FWHM: 0.225, RMS: 12e-9}
RMS_START = 8e-9  # the bench's start of the stage-2 rms (the profile's starting response)
INSIDE = (0.6827, 0.9545)  # Gaussian probability of +-1 and +-2 sigma


def free_parameters(start: dict[str, float]) -> list[FreeParameter]:
    """The four free parameters of the quick case (and the tie of stage 1's D_Rb)."""
    return [
        FreeParameter(D_CS, value=start[D_CS], min=1e-24, max=1e-21, log=True, name="D_Cs"),
        FreeParameter(D_RB, value=start[D_RB], min=1e-23, max=1e-20, log=True, name="D_Rb"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Rb.d", expr="D_Rb"),
        FreeParameter(FWHM, value=start[FWHM], min=0.1, max=0.4, name="FWHM_Rb"),
        FreeParameter(RMS, min=1e-9, max=40e-9, name="rms_2"),  # starts at the profile's
    ]


BENCH_START = {D_CS: 4.5e-23, D_RB: 2e-22, FWHM: 0.2, RMS: RMS_START}


def perturbed_start(rng: np.random.Generator) -> dict[str, float]:
    """The truth perturbed: log parameters by 10**N(0, 0.1), the others by N(0, 10 %)."""
    bounds = {spec.path: spec for spec in free_parameters(TRUTH) if not spec.expr}
    start = {}
    for path, true in TRUTH.items():
        spec = bounds[path]
        if spec.log:
            value = true * 10 ** rng.normal(0.0, 0.1)
        else:
            value = true * (1 + rng.normal(0.0, 0.1))
        start[path] = float(np.clip(value, spec.min * 1.01, spec.max * 0.99))
    return start


@dataclass
class Replica:
    """One replica's outcome: standardised errors per parameter, or why it failed."""

    z: dict[str, float] = field(default_factory=dict)
    relative: dict[str, float] = field(default_factory=dict)  # estimate / truth - 1
    redchi: float = math.nan
    blocks: dict[str, tuple[float, int]] = field(default_factory=dict)  # chi2, points
    blocks_truth: dict[str, float] = field(default_factory=dict)  # chi2 at the truth
    wall_s: float = 0.0
    failed: str = ""


def run_replica(
    sim: object,
    config: dict,
    index: int,
    seed: int,
    start_mode: str,
    executor: object,
    tolerance: float = 1e-4,
    sigma_from: str = "observed",
) -> Replica:
    """Draw one pair of noisy profiles, fit them, return the standardised errors."""
    seeds = np.random.SeedSequence([seed, index]).spawn(3)
    rb = synthetic_profile(
        sim,
        "Rb-CAIT",
        np.arange(1.0, 100.0) * 1e-9,
        response={"rms": 5e-9},
        counts=3000,
        sigma_from=sigma_from,
        rng=np.random.default_rng(seeds[0]),
    )
    cs = synthetic_profile(
        sim,
        "Cs-CAIT",
        np.arange(1.0, 160.0) * 1e-9,
        response={"rms": TRUTH[RMS]},
        counts=3000,
        sigma_from=sigma_from,
        rng=np.random.default_rng(seeds[1]),
    )
    if start_mode == "bench":
        start = BENCH_START
    elif start_mode == "truth":
        start = TRUTH
    else:
        start = perturbed_start(np.random.default_rng(seeds[2]))
    cs = replace(cs, response={"model": "gaussian", "rms": start[RMS]})
    free = free_parameters(start)
    problem = FitProblem(config, [rb, cs])
    clock = time.perf_counter()
    try:
        result = fit(problem, free, executor=executor, tolerance=tolerance)
    except Exception as exc:  # a failed fit is counted, not a crash
        return Replica(wall_s=time.perf_counter() - clock, failed=f"{type(exc).__name__}: {exc}")
    wall = time.perf_counter() - clock
    res = result.result
    out = Replica(redchi=float(res.redchi), wall_s=wall)
    # where the chi-square comes from: each profile's species, at the optimum and the truth
    at_truth = problem.residual_from(sim, {RMS: TRUTH[RMS]})
    offset = 0
    for prof in problem.profiles:
        for sp in prof.species:
            n = len(prof.depth_m)
            key = f"{prof.name}/{sp}"
            out.blocks[key] = (float(np.sum(res.residual[offset : offset + n] ** 2)), n)
            out.blocks_truth[key] = float(np.sum(at_truth[offset : offset + n] ** 2))
            offset += n
    if not res.success:
        out.failed = f"minimiser did not succeed: {res.message}"
        return out
    for spec in free:
        if spec.expr:
            continue
        par = res.params[spec.lmfit_name]
        true = math.log10(TRUTH[spec.path]) if spec.log else TRUTH[spec.path]
        if not par.stderr or not math.isfinite(par.stderr):
            out.failed = f"no standard error for {spec.name}"
            return out
        out.z[spec.name] = (par.value - true) / par.stderr
        out.relative[spec.name] = float(res.params[spec.name].value / TRUTH[spec.path] - 1)
    return out


def summarise(replicas: list[Replica]) -> None:
    """Print the coverage table and the reduced chi-square over the good replicas."""
    good = [r for r in replicas if not r.failed]
    failed = [r for r in replicas if r.failed]
    print(f"\n{len(good)} of {len(replicas)} replicas fitted, {len(failed)} failed")
    for r in failed:
        print(f"  failed: {r.failed}")
    if not good:
        return
    n = len(good)
    print(
        f"\n{'parameter':10s} {'inside 1 sigma':>16s} {'inside 2 sigma':>16s} "
        f"{'mean z':>13s} {'SD z':>6s} {'bias (estimate/truth-1)':>24s} {'SD':>8s}"
    )
    for name in good[0].z:
        z = np.array([r.z[name] for r in good])
        cells = []
        for k in (1, 2):
            p = float(np.mean(np.abs(z) <= k))
            cells.append(f"{100 * p:5.1f} +- {100 * math.sqrt(p * (1 - p) / n):4.1f} %")
        sd = _sd(z)
        rel = 100 * np.array([r.relative[name] for r in good])
        print(
            f"{name:10s} {cells[0]:>16s} {cells[1]:>16s} {np.mean(z):+5.2f} +- "
            f"{sd / math.sqrt(n):4.2f} {sd:6.2f} {np.mean(rel):+7.2f} +- "
            f"{_sd(rel) / math.sqrt(n):4.2f} % {_sd(rel):6.2f} %"
        )
    ideal = f"{100 * INSIDE[0]:13.1f} %  {100 * INSIDE[1]:13.1f} %"
    print(f"{'(Gaussian)':10s} {ideal} {0:+5.2f}         {1:6.2f}")
    chi = np.array([r.redchi for r in good])
    sd_chi = _sd(chi)
    print(
        f"\nreduced chi-square: mean {np.mean(chi):.3f} +- {sd_chi / math.sqrt(n):.3f} "
        f"(SD over replicas {sd_chi:.3f}, range {chi.min():.3f}-{chi.max():.3f})"
    )
    print("chi-square per point by profile/species, mean over replicas (at the optimum, truth)")
    for key in good[0].blocks:
        npts = good[0].blocks[key][1]
        best = np.mean([r.blocks[key][0] for r in good]) / npts
        truth = np.mean([r.blocks_truth[key] for r in good]) / npts
        print(f"  {key:16s} {npts:4d} points: {best:.3f}, {truth:.3f}")
    wall = np.array([r.wall_s for r in replicas])
    print(f"fit wall time per replica: mean {wall.mean():.1f} s, total {wall.sum():.0f} s")


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2018, help="noise seed of the study")
    parser.add_argument("--case", choices=["quick"], default="quick")
    parser.add_argument("--start", choices=["bench", "perturbed", "truth"], default="bench")
    parser.add_argument(
        "--sigma-from",
        choices=["observed", "expected"],
        default="observed",
        help="counting uncertainties from the drawn counts (as measured) or the true ones",
    )
    parser.add_argument(
        "--tolerance", type=float, default=1e-4, help="ftol of the minimiser (fit's default)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="local cluster processes for the Jacobian columns (default 0: serial)",
    )
    args = parser.parse_args()
    path = BUILTIN_EXAMPLES / "quick-double-cait.toml"
    clock = time.perf_counter()
    sim = load_experiment(path).run()  # the truth: the example's values are TRUTH
    config = experiment_to_dict(load_experiment(path))
    for key in (D_CS, D_RB, FWHM):  # the data are made at TRUTH: check it is the example's
        if not math.isclose(get_value(config, key), TRUTH[key], rel_tol=1e-9):
            raise SystemExit(f"{key}: the example has {get_value(config, key)}, not TRUTH")
    print(f"truth simulated in {time.perf_counter() - clock:.1f} s")
    replicas = []
    with open_executor(workers=args.workers) as executor:
        where = executor.describe()
        for i in range(args.replicas):
            rep = run_replica(
                sim,
                config,
                i,
                args.seed,
                args.start,
                executor,
                tolerance=args.tolerance,
                sigma_from=args.sigma_from,
            )
            replicas.append(rep)
            zs = " ".join(f"{k} {v:+.2f}" for k, v in rep.z.items())
            state = f"FAILED ({rep.failed})" if rep.failed else f"z: {zs}"
            print(
                f"replica {i + 1:3d}/{args.replicas}: {rep.wall_s:5.1f} s, "
                f"redchi {rep.redchi:.5f}, {state}",
                flush=True,
            )
    total = time.perf_counter() - clock
    print(
        f"\ncase {args.case}, start {args.start}, seed {args.seed}, "
        f"tolerance {args.tolerance:g}, sigma from {args.sigma_from}, {where}: "
        f"{args.replicas} replicas in {total:.0f} s wall"
    )
    summarise(replicas)


if __name__ == "__main__":
    main()
