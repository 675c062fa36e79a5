"""Benchmark: caitlab's SurfaceLab reader against pandas' C parser on a large export.

Run from the repository root (not a test; prints figures)::

    python benchmarks/bench_sims_reader.py                    # 237k rows x 136 channels (~200 MB)
    python benchmarks/bench_sims_reader.py --rows 20000       # a quick check
    python benchmarks/bench_sims_reader.py --keep             # keep the file in /tmp for reuse

A synthetic export in the IONTOF SurfaceLab layout (CRLF, TAB separated, trailing TAB, four
leading columns, ``%g`` values that look like Poisson-corrected counts) is written under
``/tmp`` (or ``--dir``). Each reader then runs in a fresh subprocess, so that its peak
resident memory (``resource.getrusage(...).ru_maxrss``) is its own; the baseline (the
interpreter with numpy, pandas and caitlab imported) is measured the same way and printed
apart. Timed: ``pandas.read_csv(engine="c")`` of the whole file, ``read_surfacelab`` of all
channels, and ``read_surfacelab(channels=...)`` of the five Li/Rb/Cs isotope channels.
Targets (issue 10): caitlab's time <= 3x pandas' and its peak memory <= 3x the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ISOTOPES = (
    ("^6Li+", 6.0146),
    ("Li+", 7.0155),
    ("Rb+", 84.9112),
    ("^87Rb+", 86.9086),
    ("Cs+", 132.9049),
)


def _pool(rng: np.random.Generator, n_shots: float = 16384.0) -> list[str]:
    """Cell texts like a SurfaceLab export: zeros, corrected small counts, large values."""
    k = np.arange(1, 400)
    small = [f"{-n_shots * np.log1p(-x / n_shots):g}" for x in k]
    large = [f"{v:g}" for v in rng.lognormal(8.0, 2.0, 600)]
    return ["0"] * 300 + small + large


def write_export(path: Path, rows: int, channels: int, seed: int = 1) -> Path:
    """Write a SurfaceLab-layout export with ``rows`` points and ``channels`` channels."""
    rng = np.random.default_rng(seed)
    names = [n for n, _ in ISOTOPES] + [f"X{i}+" for i in range(channels - len(ISOTOPES))]
    masses = [f"{m:.4f}" for _, m in ISOTOPES] + [
        f"{20 + 1.37 * i:.4f}" for i in range(channels - len(ISOTOPES))
    ]
    pool = np.array(_pool(rng), dtype=object)
    head = [
        "# Profile Smoothing is Disabled",
        "#\t\t\t\t" + "\t".join(names) + "\t",
        "#\t\t\t\t" + "\t".join(masses) + "\t",
        "#Data Point #\tSputter Time (s)\tDose (ions)\tFluence (ions/cm^2)\t"
        + "\t".join(["Intensity"] * channels)
        + "\t",
    ]
    with path.open("w", encoding="ascii", newline="") as handle:
        handle.write("\r\n".join(head) + "\r\n")
        block = 5000
        for start in range(0, rows, block):
            n = min(block, rows - start)
            cells = pool[rng.integers(0, pool.size, size=(n, channels))]
            lines = []
            for i in range(n):
                point = start + i + 1
                # enough digits for the time to increase over millions of rows
                lead = f"{point}\t{1.6384 * point:.12g}\t{2.5e6 * point:g}\t{2.8e9 * point:g}\t"
                lines.append(lead + "\t".join(cells[i]) + "\t")
            handle.write("\r\n".join(lines) + "\r\n")
    return path


_CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
import caitlab.sims.readers as readers
what, path = sys.argv[1], sys.argv[2]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if what == "pandas":
    frame = pd.read_csv(path, sep="\t", skiprows=[0, 2, 3], header=0, engine="c")
    shape = frame.shape
elif what == "caitlab":
    profile = readers.read_surfacelab(path)
    shape = profile.counts.shape
elif what == "caitlab-chosen":
    profile = readers.read_surfacelab(path, channels=["^6Li+", "Li+", "Rb+", "^87Rb+", "Cs+"])
    shape = profile.counts.shape
else:
    shape = None
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"time": elapsed, "peak_kib": peak, "base_kib": base, "shape": shape}))
"""


def measure(what: str, path: Path) -> dict:
    """Run one reader in a fresh interpreter; time and peak RSS (KiB)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=237_000)
    parser.add_argument("--channels", type=int, default=136)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (time)")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the file")
    args = parser.parse_args()
    path = Path(args.dir) / f"caitlab_bench_sims_{args.rows}x{args.channels}.txt"
    if not path.exists():
        t0 = time.perf_counter()
        write_export(path, args.rows, args.channels)
        print(f"wrote {path} in {time.perf_counter() - t0:.1f} s")
    size_mib = path.stat().st_size / 2**20
    print(f"file: {args.rows} rows x {args.channels} channels, {size_mib:.1f} MiB")
    try:
        base = measure("none", path)
        print(
            f"baseline (interpreter + numpy + pandas + caitlab): {base['peak_kib'] / 1024:.0f} MiB"
        )
        results = {}
        for what in ("pandas", "caitlab", "caitlab-chosen"):
            runs = [measure(what, path) for _ in range(args.repeat)]
            best = min(run["time"] for run in runs)
            peak = max(run["peak_kib"] for run in runs) / 1024
            results[what] = (best, peak)
            print(
                f"{what:15s} {best:7.2f} s  peak RSS {peak:7.0f} MiB "
                f"({peak / size_mib:.2f}x file; above baseline "
                f"{(peak - base['peak_kib'] / 1024) / size_mib:.2f}x)  shape {runs[0]['shape']}"
            )
        ref = results["pandas"][0]
        for what in ("caitlab", "caitlab-chosen"):
            t, peak = results[what]
            print(
                f"{what}: {t / ref:.2f}x pandas' time (target <= 3), "
                f"peak {peak / size_mib:.2f}x file size (target <= 3)"
            )
    finally:
        if not args.keep:
            os.unlink(path)


if __name__ == "__main__":
    main()
