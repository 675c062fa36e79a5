"""Regenerate every figure of docs/pictures.md (the "Screenshots" section) from the examples.

Run from the repository root (a few minutes: the paper case, its fit, sweep and landscape)::

    python docs/make_screenshots.py [--workers 2]

Each picture is made by the command a user types (``python -m caitlab ...``), from the shipped
examples and data, and copied to ``docs/pictures/<name>.png``; the intermediate runs go to a
temporary folder. The list of pictures is :data:`PICTURES`; docs/pictures.md shows each one.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "pictures"
EXPORT = ROOT / "src" / "caitlab" / "examples" / "synthetic_double_cait_stage2.txt"
CURRENT = ROOT / "examples" / "data" / "double-cait-current.csv"
ELEMENTS = ["-e", "Li=^6Li+,Li+", "-e", "Rb=84.9118,86.9092", "-e", "Cs=Cs+"]
DPI = "80"

#: the pictures, in the order of docs/pictures.md: name -> what made it
PICTURES = {
    "profiles": "caitlab figures (the paper case, double-cait)",
    "profiles_log": "caitlab figures",
    "profiles_Rb-CAIT": "caitlab figures --data examples/fit-double-cait.toml",
    "profiles_Cs-CAIT": "caitlab figures --data examples/fit-double-cait.toml",
    "diffusivity": "caitlab figures",
    "energy_landscape": "caitlab figures",
    "traces": "caitlab figures --electrometer --charge",
    "potential": "caitlab figures",
    "sims-fractions": "caitlab sims --plot (the shipped SurfaceLab export)",
    "compare": "caitlab compare --out",
    "fit": "caitlab fit examples/fit-double-cait.toml",
    "misfit_map": "caitlab sweep examples/sweep-double-cait.toml, then plot.misfit_map",
    "landscape-dn": "caitlab landscape examples/landscape/landscape-quick.toml",
    "landscape-psed": "caitlab landscape",
    "landscape-weight": "caitlab landscape",
}


def caitlab(*args: str | Path) -> None:
    """Run ``python -m caitlab ARGS`` from the repository root; stop on a failure."""
    command = [sys.executable, "-m", "caitlab", *(str(a) for a in args)]
    print("$ caitlab", " ".join(str(a) for a in args), flush=True)
    clock = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"  {time.perf_counter() - clock:.1f} s", flush=True)


def copy(source: Path, name: str) -> None:
    shutil.copyfile(source, OUT / f"{name}.png")


def run_figures(work: Path) -> None:
    """The paper case and its standard figures, with the shipped data and charges."""
    caitlab("run", "double-cait", "--out", work / "run", "--quiet")
    caitlab(
        "figures", work / "run", "--out", work / "figures", "--dpi", DPI,
        "--data", ROOT / "examples" / "fit-double-cait.toml",
        "--electrometer", CURRENT, "--charge", "2.52 mC", "--charge", "2.28 mC",
    )  # fmt: skip
    for name in ("profiles", "profiles_log", "diffusivity", "energy_landscape", "traces"):
        copy(work / "figures" / f"{name}.png", name)
    copy(work / "figures" / "potential.png", "potential")
    for stage in ("Rb-CAIT", "Cs-CAIT"):
        copy(work / "figures" / f"profiles_{stage}.png", f"profiles_{stage}")


def sims_figures(work: Path) -> None:
    """The SIMS reader's figure and the comparison with the run."""
    caitlab(
        "sims", EXPORT, *ELEMENTS, "--crater-depth", "310 nm",
        "--out", work / "fractions.csv", "--plot", OUT / "sims-fractions.png",
    )  # fmt: skip
    caitlab(
        "compare", work / "run", EXPORT, *ELEMENTS, "--stage", "Cs-CAIT",
        "--crater-depth", "310 nm", "--roughness", "20 nm", "--out", OUT / "compare.png",
    )  # fmt: skip


def fit_figures(work: Path, workers: int) -> None:
    """The example fit's figure and the example sweep's misfit map."""
    caitlab(
        "fit", ROOT / "examples" / "fit-double-cait.toml", "--out", work / "fit",
        "--workers", str(workers), "--no-progress",
    )  # fmt: skip
    copy(work / "fit" / "fit.png", "fit")
    caitlab(
        "sweep", ROOT / "examples" / "sweep-double-cait.toml", "--out", work / "sweep",
        "--workers", str(workers), "--no-progress",
    )  # fmt: skip
    misfit_figure(work / "sweep" / "table.csv", OUT / "misfit_map.png")


def misfit_figure(table_path: Path, out: Path) -> None:
    """The sweep's misfit over D_Cs and D_Rb at the FWHM of its best point."""
    from matplotlib.figure import Figure

    from caitlab.params import column_path
    from caitlab.plot import misfit_map
    from caitlab.sweep import read_sweep_table

    table = read_sweep_table(table_path)
    table = table[table["status"] == "ok"]
    fwhm = next(c for c in table.columns if column_path(c).endswith("Rb.fwhm"))
    best = table.loc[table["chisqr_per_point"].idxmin(), fwhm]
    ax = Figure(figsize=(6.4, 4.6), layout="constrained").add_subplot()
    misfit_map(
        table[table[fwhm] == best],
        "stages.Cs-CAIT.diffusivity.Cs.d",
        "stages.Cs-CAIT.diffusivity.Rb.d_ref",
        misfit="chisqr_per_point",
        ax=ax,
    )
    ax.set_title(f"at {column_path(fwhm)} = {best * 1e3:.0f} meV", fontsize="small")
    ax.figure.savefig(out, dpi=int(DPI))


def landscape_figures(work: Path, workers: int) -> None:
    """The landscape quick example's three figures."""
    caitlab(
        "landscape", ROOT / "examples" / "landscape" / "landscape-quick.toml",
        "--out", work / "landscape", "--workers", str(workers), "--no-progress",
    )  # fmt: skip
    for name in ("dn", "psed", "weight"):
        copy(work / "landscape" / f"{name}.png", f"landscape-{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="processes of fit and sweep")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="caitlab-screenshots-") as folder:
        work = Path(folder)
        run_figures(work)
        sims_figures(work)
        fit_figures(work, args.workers)
        landscape_figures(work, args.workers)
    missing = [name for name in PICTURES if not (OUT / f"{name}.png").exists()]
    if missing:
        raise SystemExit(f"not made: {', '.join(missing)}")
    print(f"wrote {len(PICTURES)} pictures into {OUT}")


if __name__ == "__main__":
    main()
