"""Benchmark: a 4-parameter joint fit of the double-CAIT, and sweep throughput.

Run from the repository root (not a test; prints figures)::

    python benchmarks/bench_fit.py                      # quick case, all cores
    python benchmarks/bench_fit.py --case paper         # the paper example (~5 s per run)
    python benchmarks/bench_fit.py --workers 0          # everything serial
    python benchmarks/bench_fit.py --skip-fit --sweep-points 24

Fit: synthetic profiles after both stages (Poisson noise, broadened 5 and 12 nm rms) are
fitted jointly for D_Cs, D_Rb (stage-2 reference value, tied to stage 1's constant D_Rb),
FWHM_Rb and the stage-2 response rms, started away from the truth; the recovered values are
compared with the truth in units of their standard errors; the wall time excludes the
cluster start-up and one warm-up run per worker (JIT compilation). The paper case uses
``examples/fit-double-cait.toml``. Sweep: a grid over D_Cs x FWHM_Rb of the quick case,
serial and on a local dask cluster; runs per second excludes the cluster start-up and one
warm-up run per worker (JIT compilation, first imports), printed apart.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from caitlab import load_experiment
from caitlab.config import experiment_to_dict
from caitlab.fit import FitProblem, FreeParameter, fit, open_executor
from caitlab.fit.config import BUILTIN_EXAMPLES, load_fit_config
from caitlab.fit.synthetic import synthetic_profile
from caitlab.sweep import SweepParameter, design_points, run_sweep

ROOT = Path(__file__).resolve().parents[1]
D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"
D_RB = "stages.Cs-CAIT.diffusivity.Rb.d_ref"
FWHM = "stages.Cs-CAIT.diffusivity.Rb.fwhm"
RMS = "profiles.Cs-CAIT.rms"
TRUTH = {D_CS: 3.1e-23, D_RB: 2.67e-22, FWHM: 0.225, RMS: 12e-9}


def quick_problem() -> tuple[FitProblem, list[FreeParameter]]:
    """Synthetic data from the quick case and the four free parameters."""
    path = BUILTIN_EXAMPLES / "quick-double-cait.toml"
    sim = load_experiment(path).run()
    profiles = [
        synthetic_profile(
            sim,
            "Rb-CAIT",
            np.arange(1.0, 100.0) * 1e-9,
            response={"rms": 5e-9},
            counts=3000,
            rng=11,
        ),
        synthetic_profile(
            sim,
            "Cs-CAIT",
            np.arange(1.0, 160.0) * 1e-9,
            response={"rms": 12e-9},
            counts=3000,
            rng=12,
        ),
    ]
    profiles[1] = profiles[1].__class__(
        "Cs-CAIT",
        profiles[1].depth_m,
        profiles[1].fractions,
        profiles[1].sigma,
        {"model": "gaussian", "rms": 8e-9},
    )
    free = [
        FreeParameter(D_CS, value=4.5e-23, min=1e-24, max=1e-21, log=True, name="D_Cs"),
        FreeParameter(D_RB, value=2e-22, min=1e-23, max=1e-20, log=True, name="D_Rb"),
        FreeParameter("stages.Rb-CAIT.diffusivity.Rb.d", expr="D_Rb"),
        FreeParameter(FWHM, value=0.2, min=0.1, max=0.4, name="FWHM_Rb"),
        FreeParameter(RMS, min=1e-9, max=40e-9, name="rms_2"),
    ]
    return FitProblem(experiment_to_dict(load_experiment(path)), profiles), free


def bench_fit(case: str, workers: int | None) -> None:
    """Time one joint fit and print the recovered values against the truth."""
    if case == "quick":
        problem, free = quick_problem()
    else:
        _, problem, free, _ = load_fit_config(ROOT / "examples" / "fit-double-cait.toml")
    with open_executor(workers=workers) as executor:
        _warm(executor)
        start = time.perf_counter()
        result = fit(problem, free, executor=executor)
        wall = time.perf_counter() - start
        where = executor.describe()
    print(
        f"fit [{case}] on {where}: {wall:.1f} s wall, {result.n_simulations} simulations, "
        f"{len(result.failures)} failed, reduced chi-square {result.result.redchi:.3f}, "
        f"success {result.result.success}"
    )
    for spec in free:
        if spec.expr:
            continue
        par = result.result.params[spec.name]
        true = TRUTH.get(spec.path, float("nan"))
        sigmas = (par.value - true) / par.stderr if par.stderr else float("nan")
        print(
            f"  {spec.name:8s} {par.value:.4g} +/- {par.stderr or float('nan'):.2g} "
            f"(truth {true:.4g}, {sigmas:+.1f} sigma)"
        )


def _warm_up() -> None:
    """One quick run, saved, so that JIT compilation and first imports are not timed."""
    result = load_experiment(BUILTIN_EXAMPLES / "quick-double-cait.toml").run()
    with tempfile.TemporaryDirectory() as out:
        result.save(out)


def _warm(executor: object) -> None:
    """Warm up every worker (or this process)."""
    client = getattr(executor, "client", None)
    if client is not None:
        client.run(_warm_up)
    else:
        _warm_up()


def bench_sweep(n_points: int, workers: int | None) -> None:
    """Runs per second of a quick-case grid, serial and on a local cluster."""
    config = experiment_to_dict(load_experiment(BUILTIN_EXAMPLES / "quick-double-cait.toml"))
    n_cs = max(2, math.isqrt(n_points))
    points = design_points(
        [
            SweepParameter(path=D_CS, min=2e-23, max=5e-23, num=n_cs, log=True),
            SweepParameter(path=FWHM, min=0.18, max=0.27, num=max(1, n_points // n_cs)),
        ]
    )
    for label, n in (("serial", 0), ("local cluster", workers)):
        with tempfile.TemporaryDirectory() as out:
            clock = time.perf_counter()
            with open_executor(workers=n) as executor:
                _warm(executor)
                ready = time.perf_counter() - clock
                outcome = run_sweep(config, points, out, executor=executor)
            print(
                f"sweep [{label}, {outcome.executor}]: {outcome.n_computed} runs in "
                f"{outcome.wall_time_s:.1f} s = {outcome.runs_per_second:.2f} runs/s "
                f"(+ {ready:.1f} s start-up and warm-up)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["quick", "paper"], default="quick")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local cluster processes (default all cores; 0 serial)",
    )
    parser.add_argument("--sweep-points", type=int, default=16)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    if not args.skip_fit:
        bench_fit(args.case, args.workers)
    if not args.skip_sweep:
        bench_sweep(args.sweep_points, args.workers)


if __name__ == "__main__":
    main()
