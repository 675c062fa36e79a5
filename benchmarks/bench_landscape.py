"""Benchmark: a free-form two-stage fit (K = 8 knots for Rb in stage 2) and where the time goes.

Run from the repository root (not a test; prints figures)::

    python benchmarks/bench_landscape.py                 # the paper example, K = 8
    python benchmarks/bench_landscape.py --case quick    # the quick example
    python benchmarks/bench_landscape.py --knots 6 --weight gcv

Synthetic profiles after both stages of the example (its sin² laws; Poisson noise, 1e4
ions per point, broadened 3 nm rms) are fitted jointly with a free-form D(n) of Rb in stage
2 (K knots from 0.05 to 0.9 n0) and the stage-2 response rms; the smoothness weight is
chosen on the L-curve (a first fit at weight 1, the curve from its Jacobian, a second fit
at the chosen weight), serially. Every simulation is timed: the report splits the wall
time into simulations (count x mean time) and the rest (lmfit, residuals, response).
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.examples import load_example
from caitlab.fit import FitProblem, FreeParameter, synthetic_profile
from caitlab.fit import problem as problem_module
from caitlab.landscape import Target, build_candidate, curve_bands, fit_candidate, smooth_log_d

SIM_TIMES: list[float] = []


def _timed(simulate):
    def wrapper(self, values):
        clock = time.perf_counter()
        try:
            return simulate(self, values)
        finally:
            SIM_TIMES.append(time.perf_counter() - clock)

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["paper", "quick"], default="paper")
    parser.add_argument("--knots", type=int, default=8)
    parser.add_argument("--weight", default="lcurve")
    args = parser.parse_args()
    logging.getLogger("caitlab.fit").setLevel(logging.ERROR)
    name = "double-cait" if args.case == "paper" else "quick-double-cait"
    config = experiment_to_dict(load_example(name))
    clock = time.perf_counter()
    sim = experiment_from_dict(config, "truth").run()
    print(f"{name}: one run {time.perf_counter() - clock:.2f} s (first, with JIT)")
    options = {"response": {"rms": 3e-9}, "counts": 1e4, "sigma_from": "expected"}
    profiles = [
        synthetic_profile(sim, "Rb-CAIT", np.arange(1.0, 120.0) * 1e-9, rng=1, **options),
        synthetic_profile(sim, "Cs-CAIT", np.arange(1.0, 200.0) * 1e-9, rng=101, **options),
    ]
    problem = FitProblem(config, profiles)
    free = [FreeParameter("profiles.Cs-CAIT.rms", value=4e-9, min=1e-9, max=20e-9)]
    target = Target("Cs-CAIT", "Rb")
    candidate = build_candidate(
        problem, free, target, "free-form", knots=args.knots, lowest=0.05, highest=0.9
    )
    weight = args.weight if args.weight in ("gcv", "lcurve") else float(args.weight)
    problem_module.FitProblem.simulate = _timed(problem_module.FitProblem.simulate)
    clock = time.perf_counter()
    model_fit = fit_candidate(problem, candidate, weight=weight)
    wall = time.perf_counter() - clock
    sims = np.asarray(SIM_TIMES)
    print(
        f"free-form fit, K = {args.knots}, weight {model_fit.fit.weight:.3g} "
        f"({args.weight}): {wall:.1f} s wall"
    )
    print(
        f"  {sims.size} simulations, {sims.mean():.3f} s each (median "
        f"{np.median(sims):.3f}), {sims.sum():.1f} s = {100 * sims.sum() / wall:.0f} % "
        f"of the wall time; the rest {wall - sims.sum():.1f} s"
    )
    n = np.geomspace(0.05, 0.9, 60)
    clock = time.perf_counter()
    bands = curve_bands(model_fit, candidate, target, n)
    print(f"  bands from 200 covariance draws: {time.perf_counter() - clock:.1f} s")
    truth = smooth_log_d(target.model(config), n, 323.0, 1.4e28)
    z = (bands.log_d[1] - truth) / (0.5 * (bands.log_d[2] - bands.log_d[0]))
    mobile = n > 0.12
    print(
        f"  ln D error / sigma over 0.12-0.9 n0: max {np.abs(z[mobile]).max():.2f}, "
        f"rms {np.sqrt(np.mean(z[mobile] ** 2)):.2f}; chi2 {model_fit.chi2:.1f}, "
        f"k {model_fit.k:.2f}, N {model_fit.n_points}"
    )
    print(f"  PSED FWHM {1e3 * bands.fwhm_eV[1]:.0f} meV on {bands.extra['determined_range']}")


if __name__ == "__main__":
    main()
