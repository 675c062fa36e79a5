"""Run a seeded set of generated valid experiments and count how many run and pass the
independent checks (issue 17; a script, not a test).

    python benchmarks/bench_valid_experiments.py                 # 500 experiments, seeds 0-499
    python benchmarks/bench_valid_experiments.py --small         # the CI test's coarse meshes
    python benchmarks/bench_valid_experiments.py --seed 19 --count 1   # one seed again

Each experiment (:func:`valid_experiments.draw_experiment`) is validated, run in this
process, and judged by :func:`valid_experiments.broken_checks`; the outcomes are counted
(ok, failed with the solver's message, broken numbers) with the slowest runs.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from valid_experiments import broken_checks, draw_experiment

from caitlab.config import experiment_from_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--small", action="store_true", help="coarse meshes, as in CI")
    args = parser.parse_args()
    outcomes: collections.Counter[str] = collections.Counter()
    times = []
    for seed in range(args.seed, args.seed + args.count):
        config = draw_experiment(random.Random(seed), small_mesh=args.small)
        clock = time.perf_counter()
        try:
            result = experiment_from_dict(config, units_required=True).run()
        except Exception as error:  # every failure is counted with its message
            outcomes["failed"] += 1
            print(f"seed {seed}: failed: {type(error).__name__}: {str(error)[:300]}")
            continue
        problems = broken_checks(result, config)
        times.append((time.perf_counter() - clock, seed))
        if problems:
            outcomes["broken"] += 1
            print(f"seed {seed}: broken: {problems}")
        else:
            outcomes["ok"] += 1
    slowest = ", ".join(f"seed {s} {t:.1f} s" for t, s in sorted(times)[-3:])
    print(f"\n{args.count} experiments: {dict(outcomes)}; slowest: {slowest}")


if __name__ == "__main__":
    main()
