"""Synthetic profiles for the landscape walkthrough (docs/landscape.md).

The quick double-CAIT example (Rb+ then Cs+) with its sin² site-energy laws (Li: FWHM
250 meV, θ 0.9; Rb in stage 2: 225 meV, θ 0.8) is run once; the profiles after both stages
are broadened (3 nm rms) and counted (1e4 ions per point). ``--shape gaussian`` or
``--shape constant`` changes stage 2's Rb law for the other truths.

    python examples/landscape/make_landscape_data.py [--shape sin2|gaussian|constant]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from caitlab.config import experiment_from_dict
from caitlab.fit import synthetic_profile, write_fractions_table
from caitlab.landscape.study import recovery_truth

HERE = Path(__file__).parent


def synthetic_profiles(
    shape: str = "sin2", counts: float = 1e4, rms: float = 3e-9, occupancy: float = 0.8
) -> list:
    """Noisy, broadened profiles after both stages of the truth ``shape``.

    The weights come from the expected counts (no Neyman bias, see docs/fitting.md).
    """
    config = recovery_truth(shape, occupancy)
    sim = experiment_from_dict(config, "truth").run()
    options = {"response": {"rms": rms}, "counts": counts, "sigma_from": "expected"}
    return [
        synthetic_profile(sim, "Rb-CAIT", np.arange(1.0, 80.0) * 1e-9, rng=1, **options),
        synthetic_profile(sim, "Cs-CAIT", np.arange(1.0, 120.0) * 1e-9, rng=101, **options),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="sin2", choices=["sin2", "gaussian", "constant"])
    args = parser.parse_args()
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    for profile in synthetic_profiles(args.shape):
        write_fractions_table(out / f"{args.shape}-{profile.stage}.csv", profile)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
