"""Write the synthetic Li/Rb/Cs SurfaceLab export shipped as example data.

Run from the repository root::

    python examples/make_synthetic_sims.py

It writes ``src/caitlab/examples/synthetic_double_cait_stage2.txt`` from an analytic stand-in
for the fractions after the second (Cs+) CAIT stage. To make it from a simulation instead,
pass the simulated depth grid and ``density / n0`` per species to ``synthetic_export``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from caitlab.sims import stand_in_fractions, synthetic_export, write_surfacelab_export

OUT = Path(__file__).resolve().parents[1] / "src" / "caitlab" / "examples"


def main() -> None:
    """Generate and write the example export."""
    depth_m = np.linspace(0.25e-9, 499.75e-9, 1000)  # cell centres, 0.5 nm cells
    profile = synthetic_export(
        depth_m,
        stand_in_fractions(depth_m),
        crater_depth_m=310e-9,
        sputter_time_per_point_s=1.4656,
        counts_scale=3000.0,
        roughness_m=20e-9,  # rms roughness after stage 2 (paper: ~2, 5, 20 nm)
        seed=20261127,
        shots_per_scan=16384,
        n_points=200,
    )
    path = write_surfacelab_export(OUT / "synthetic_double_cait_stage2.txt", profile)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
