"""Write the synthetic measured profiles used by ``fit-double-cait.toml`` and the sweep.

Run from the repository root::

    python examples/make_synthetic_fit_data.py

The "truth" is the paper example (``double-cait.toml``): the profiles after stage 1 (Rb+)
and stage 2 (Cs+) are broadened with the roughness the spec quotes (5 nm rms after stage 1,
20 nm after stage 2 -- here 5 and 12 nm), sampled every nm and counted with Poisson noise
(3000 ions per depth point). They are written as ``depth_nm`` + fractions + ``*_sigma``
columns to ``examples/data/double-cait-stage{1,2}.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from caitlab import load_experiment
from caitlab.fit import synthetic_profile, write_fractions_table
from caitlab.fit.config import BUILTIN_EXAMPLES

OUT = Path(__file__).resolve().parent / "data"


def main() -> None:
    """Simulate the paper case once and write both noisy profiles."""
    sim = load_experiment(BUILTIN_EXAMPLES / "double-cait.toml").run()
    OUT.mkdir(exist_ok=True)
    for k, (stage, rms, top) in enumerate([("Rb-CAIT", 5e-9, 120), ("Cs-CAIT", 12e-9, 200)]):
        depth = np.arange(1.0, top + 0.5, 1.0) * 1e-9
        profile = synthetic_profile(
            sim,
            stage,
            depth,
            response={"model": "gaussian", "rms": rms},
            counts=3000,
            rng=100 + k,
        )
        path = OUT / f"double-cait-stage{k + 1}.csv"
        write_fractions_table(path, profile)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
