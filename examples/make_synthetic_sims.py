"""Write the synthetic Li/Rb/Cs SurfaceLab exports shipped as example data.

Run from the repository root::

    python examples/make_synthetic_sims.py

It simulates the paper's double-CAIT (``caitlab run double-cait``), takes the fractions at the
end of each stage, broadens them with the roughness the paper reports (5 nm rms after stage 1,
20 nm after stage 2), adds counting noise and writes them in the IONTOF SurfaceLab text layout:
``src/caitlab/examples/synthetic_double_cait_stage1.txt`` and ``..._stage2.txt``. The crater
depths are 150 nm and 310 nm.
"""

from __future__ import annotations

from pathlib import Path

from caitlab.examples import load_example
from caitlab.sims import synthetic_export, write_surfacelab_export

OUT = Path(__file__).resolve().parents[1] / "src" / "caitlab" / "examples"
#: stage index -> (roughness after that stage (m), crater depth (m), file suffix)
MEASUREMENTS = {0: (5e-9, 150e-9, "stage1"), 1: (20e-9, 310e-9, "stage2")}


def main() -> None:
    """Simulate the double-CAIT and write one synthetic export per stage."""
    experiment = load_example("double-cait")
    result = experiment.run()
    n0 = experiment.sample.mobile_ion_density
    depth = result.mesh.centres
    for index, (roughness, crater, suffix) in MEASUREMENTS.items():
        density = result.stages[index].density[-1]
        fractions = {name: density[k] / n0 for k, name in enumerate(result.species)}
        if index == 0:
            fractions.pop("Cs")  # no Cs channel before the Cs beam
        profile = synthetic_export(
            depth,
            fractions,
            crater_depth_m=crater,
            sputter_time_per_point_s=1.4656,
            counts_scale=3000.0,
            roughness_m=roughness,
            seed=20261127 + index,
            shots_per_scan=16384,
            n_points=200,
        )
        path = write_surfacelab_export(OUT / f"synthetic_double_cait_{suffix}.txt", profile)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
