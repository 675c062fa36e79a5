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

from caitlab.config import experiment_from_dict, experiment_to_dict
from caitlab.examples import load_example
from caitlab.fit import Simulation, synthetic_profile, write_fractions_table

HERE = Path(__file__).parent


def truth_config(shape: str = "sin2") -> dict:
    """The quick example with stage 2's Rb law of ``shape``."""
    config = experiment_to_dict(load_example("quick-double-cait"))
    rb = config["stages"][1]["diffusivity"]["Rb"]
    if shape == "gaussian":
        rb["shape"] = "gaussian"
    elif shape == "constant":
        config["stages"][1]["diffusivity"]["Rb"] = {"model": "constant", "d": rb["d_ref"],
                                                    "falloff": rb["falloff"]}  # fmt: skip
    return config


def synthetic_profiles(shape: str = "sin2", counts: float = 1e4, rms: float = 3e-9) -> list:
    """Noisy, broadened profiles after both stages of the truth ``shape``."""
    sim = Simulation.from_result(experiment_from_dict(truth_config(shape), "truth").run())
    return [
        synthetic_profile(sim, "Rb-CAIT", np.arange(1.0, 80.0) * 1e-9,
                          response={"rms": rms}, counts=counts, rng=1),
        synthetic_profile(sim, "Cs-CAIT", np.arange(1.0, 120.0) * 1e-9,
                          response={"rms": rms}, counts=counts, rng=101),
    ]  # fmt: skip


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
