"""Timing and convergence figures of the simulator (a script, not a test).

    python benchmarks/bench_solver.py            # the paper's double-CAIT, default mesh
    python benchmarks/bench_solver.py --refine   # also twice the resolution (convergence)
    python benchmarks/bench_solver.py --half-tolerance   # also half the time-step tolerance
    python benchmarks/bench_solver.py --coupled 0.5      # also with Onsager κ_RbCs = 0.5
    python benchmarks/bench_solver.py --richardson       # errors of the defaults: space
                                                         # (1×, 2×, 4×) and time (tol / 4)
    python benchmarks/bench_solver.py --repeat 5         # best of 5 runs of the default

Prints the wall time of the simulation itself (JIT compilation excluded by a warm-up run),
steps, Newton iterations and where the time goes, and the observables that the convergence
criterion is about: front positions and charge per stage.
"""

from __future__ import annotations

import argparse
import math
import time

from caitlab.examples import load_example
from caitlab.results import falling_crossing, half_point

N0 = 1.4e28


def observables(result) -> list[dict]:
    """Per stage: charge, the Li 50 % point (Li at half its bulk value), the Rb and Cs 50 %
    points (:func:`caitlab.results.half_point`), and the cost."""
    x = result.mesh.centres * 1e9
    rows = []
    for stage in result.stages:
        li, rb, cs = stage.density[-1] / N0
        rows.append(
            {
                "stage": stage.name,
                "charge_mC": stage.charge_C * 1e3,
                "li_front_nm": falling_crossing(x, 1 - li, 0.5),
                "rb_front_nm": half_point(x, rb),
                "cs_front_nm": half_point(x, cs),
                "steps": stage.n_steps,
                "rejected": stage.n_rejected,
                "newton": stage.n_newton,
                "wall_s": stage.wall_time_s,
            }
        )
    return rows


def report(label: str, result) -> list[dict]:
    rows = observables(result)
    print(f"\n{label}: {result.mesh.n_cells} cells, wall_time_s = {result.wall_time_s:.2f}")
    for r in rows:
        per_newton = 1e3 * r["wall_s"] / max(r["newton"], 1)
        print(
            f"  {r['stage']:8s} Q = {r['charge_mC']:.4f} mC  Li {r['li_front_nm']:.2f} nm"
            f"  Rb {r['rb_front_nm']:.2f} nm  Cs {r['cs_front_nm']:.2f} nm"
            f"  steps {r['steps']} (+{r['rejected']}"
            f" rejected)  Newton {r['newton']}  {r['wall_s']:.2f} s"
            f" ({per_newton:.3f} ms per Newton iteration)"
        )
    return rows


OBSERVABLES = ("charge_mC", "li_front_nm", "rb_front_nm", "cs_front_nm")


def extrapolate(f1: float, f2: float, f4: float) -> tuple[float, float]:
    """Richardson limit and observed order from values at refinement 1, 2, 4 (order taken
    as 1, the slowest, where the differences do not shrink monotonically)."""
    d12, d24 = f1 - f2, f2 - f4
    order = math.log2(d12 / d24) if d12 * d24 > 0 and abs(d12) > abs(d24) else 1.0
    return f4 + (f4 - f2) / (2.0**order - 1.0), order


def richardson(experiment, base: list[dict]) -> None:
    """Errors of the defaults: in space against the extrapolated limit of 1x, 2x, 4x
    refinement, in time from a run at a quarter of the step tolerance (BDF3's global error
    goes as tolerance^(3/4): 1.5x the difference)."""
    runs = [base]
    for factor in (2, 4):
        refined = experiment.with_(mesh=experiment.mesh.refined(factor)).run()
        runs.append(report(f"{factor}x the resolution", refined))
    solver = experiment.solver.with_(tolerance=experiment.solver.tolerance / 4)
    in_time = report("a quarter of the step tolerance", experiment.with_(solver=solver).run())
    print("\nErrors of the defaults: space (Richardson 1x, 2x, 4x) + time (tolerance / 4)")
    for k, stage in enumerate(base):
        parts = []
        for key in OBSERVABLES:
            f1, f2, f4 = (run[k][key] for run in runs)
            if math.isnan(f1 + f2 + f4):
                continue
            limit, order = extrapolate(f1, f2, f4)
            time_error = 1.5 * abs(f1 - in_time[k][key])
            name = key.split("_")[0]
            if key == "charge_mC":
                space = abs(f1 / limit - 1)
                parts.append(f"charge {space:.3%} (order {order:.1f}) + {time_error / limit:.3%}")
            else:
                space = abs(f1 - limit)
                parts.append(
                    f"{name.capitalize()} {space:.3f} (order {order:.1f}) + {time_error:.3f} nm"
                )
        print(f"  {stage['stage']:8s} " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refine", action="store_true", help="also run at twice the resolution")
    parser.add_argument(
        "--half-tolerance", action="store_true", help="also run with half the step tolerance"
    )
    parser.add_argument(
        "--coupled",
        type=float,
        metavar="KAPPA",
        help="also run with the Onsager coupling Rb-Cs = KAPPA in the Cs stage (cost ratio)",
    )
    parser.add_argument(
        "--richardson",
        action="store_true",
        help="run at 1x, 2x, 4x refinement and report the defaults' errors vs the limit",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of N default runs")
    args = parser.parse_args()
    experiment = load_example("double-cait")
    clock = time.perf_counter()
    load_example("quick-double-cait").run()  # compile the kernels (cached on disk after)
    print(f"warm-up (JIT compile or cache load): {time.perf_counter() - clock:.2f} s")
    best = min((experiment.run() for _ in range(args.repeat)), key=lambda r: r.wall_time_s)
    base = report(f"default resolution (best of {args.repeat})", best)
    if args.richardson:
        richardson(experiment, base)
    variants = []
    if args.refine:
        variants.append(("twice the resolution", experiment.with_(mesh=experiment.mesh.refined(2))))
    if args.half_tolerance:
        solver = experiment.solver.with_(tolerance=experiment.solver.tolerance / 2)
        variants.append(("half the step tolerance", experiment.with_(solver=solver)))
    if args.coupled is not None:
        stages = list(experiment.stages)
        stages[-1] = stages[-1].with_(coupling={"Rb-Cs": args.coupled})
        coupled = experiment.with_(stages=tuple(stages))
        label = f"Onsager coupling Rb-Cs = {args.coupled:g} in the Cs stage"
        variants.append((label, coupled))
    if args.coupled is not None:
        # on a shared machine single runs vary by ±30 %: the ratio of the best of 3 each
        times = {0: [], 1: []}
        for _ in range(3):
            times[0].append(experiment.run().wall_time_s)
            times[1].append(coupled.run().wall_time_s)
        print(
            f"\ncoupled / uncoupled, best of 3 alternating runs: "
            f"{min(times[1]) / min(times[0]):.2f}x"
        )
    for label, variant in variants:
        fine = report(label, variant.run())
        ratio = sum(f["wall_s"] for f in fine) / sum(b["wall_s"] for b in base)
        print(f"  cost relative to the default: {ratio:.2f}x")
        for b, f in zip(base, fine):
            print(
                f"  {b['stage']}: charge differs by {abs(b['charge_mC'] / f['charge_mC'] - 1):.2%},"
                f" Li front by {abs(b['li_front_nm'] - f['li_front_nm']):.2f} nm,"
                f" Cs front by {abs(b['cs_front_nm'] - f['cs_front_nm']):.2f} nm"
            )


if __name__ == "__main__":
    main()
