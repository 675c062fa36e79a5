"""How long validating an experiment with Onsager coupling takes (not a test: a printout).

    python benchmarks/bench_admissible.py

Prints the median time of :func:`caitlab.coupling.check_admissible` for three coupled
species (first call: grid and eigenvalues; again: cached), of building the simplex grid,
and of validating the quick double-CAIT example with and without coupling in both stages.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from caitlab import coupling
from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.examples import load_example

PAIRS = {"Li-Rb": 0.4, "Rb-Cs": 0.3, "Li-Cs": -0.2}


def median_ms(call: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def uncached(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        for cached in (coupling._simplex_states, coupling._lowest_on_simplex):
            cached.cache_clear()
        return call()

    return run


def main() -> None:
    def check() -> float:
        return coupling.check_admissible(PAIRS, ["Li", "Rb", "Cs"])

    plain = experiment_to_dict(load_example("quick-double-cait"))
    coupled = experiment_to_dict(load_example("quick-double-cait"))
    for stage in coupled["stages"]:
        stage["coupling"] = dict(PAIRS)
    rows = [
        ("simplex grid, 3 species (built)", uncached(lambda: coupling.simplex_states(3))),
        ("check_admissible, 3 species (cold)", uncached(check)),
        ("check_admissible, 3 species (again)", check),
        ("validate example, coupled (cold)", uncached(lambda: experiment_from_dict(coupled))),
        ("validate example, coupled (again)", lambda: experiment_from_dict(coupled)),
        ("validate example, no coupling", lambda: experiment_from_dict(plain)),
    ]
    for label, call in rows:
        print(f"{label:<40} {median_ms(call):8.2f} ms")


if __name__ == "__main__":
    main()
