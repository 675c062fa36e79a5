"""Wall time of the whole ``caitlab run`` command, of importing the CLI and of saving a result
(a script, not a test).

    python benchmarks/bench_command.py                  # double-cait, 7 runs of each
    python benchmarks/bench_command.py --runs 15 --config quick-double-cait --quiet

Everything is measured in fresh interpreters, as a user meets it:

- the command ``caitlab run CONFIG --out DIR`` as a subprocess, after one warm-up run that
  fills numba's compile cache, from process start to exit; next to it the simulation's own
  ``wall_time_s`` (summary.json), which includes loading the compiled code from numba's
  cache, and the rest (start-up, imports, saving, printing, exit);
- ``python -c "import caitlab.cli"`` next to an empty ``python -c pass``;
- the imports a run needs (the command line, config, solver, progress bars, result writer),
  timed inside the process, without interpreter start-up and exit;
- ``Result.save``: the first save in a process (which imports the writer) and later ones.

Prints min and median: on a shared machine the minimum is the figure to compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: run in a subprocess: the imports of a run, timed in the process
IMPORT_SCRIPT = """
import time
started = time.perf_counter()
import caitlab.cli
caitlab.cli._register_commands()
import caitlab.cli.run, caitlab.config, caitlab.experiment, caitlab._progress, caitlab._netcdf
import h5py, rich.progress, rich.table
print(time.perf_counter() - started)
"""

#: run in a subprocess: the simulation, then Result.save timed (first and later saves)
SAVE_SCRIPT = """
import json, sys, tempfile, time
from caitlab.config import load_experiment
result = load_experiment(sys.argv[1]).run()
times = []
with tempfile.TemporaryDirectory() as tmp:
    for k in range(int(sys.argv[2])):
        started = time.perf_counter()
        result.save(f"{tmp}/{k}")
        times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def command_prefix() -> list[str]:
    """The ``caitlab`` console script of this interpreter, else ``python -m caitlab``."""
    script = shutil.which("caitlab", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "caitlab"]


def wall(argv: list[str], runs: int) -> list[float]:
    """Wall times (s) of ``runs`` runs of ``argv``; each must succeed."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def printed(argv: list[str], runs: int) -> list:
    """The last line of the output of each of ``runs`` runs of ``argv``, as JSON."""
    found = []
    for _ in range(runs):
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return found


def line(label: str, times: list[float]) -> str:
    return (
        f"{label:<42} min {min(times) * 1e3:6.0f} ms   median "
        f"{statistics.median(times) * 1e3:6.0f} ms   ({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="double-cait", help="example name or TOML file")
    parser.add_argument("--runs", type=int, default=7, help="runs of each measurement")
    parser.add_argument("--quiet", action="store_true", help="run the command with --quiet")
    args = parser.parse_args()

    prefix = command_prefix()
    command = [*prefix, "run", args.config, "--out"]
    runs, simulation, rest = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        options = [f"{tmp}/run", *(["--quiet"] if args.quiet else [])]
        wall([*command, *options], 1)  # warm-up: numba's compile cache
        for _ in range(args.runs):
            took = wall([*command, *options], 1)[0]
            summary = json.loads(Path(f"{tmp}/run/summary.json").read_text())
            runs.append(took)
            simulation.append(summary["wall_time_s"])
            rest.append(took - summary["wall_time_s"])
    python = [sys.executable, "-c"]
    base = wall([*python, "pass"], args.runs)
    cli = wall([*python, "import caitlab.cli"], args.runs)
    imports = printed([*python, IMPORT_SCRIPT], args.runs)
    saves = printed([*python, SAVE_SCRIPT, args.config, "4"], max(args.runs // 2, 1))

    shown = " ".join(Path(prefix[0]).name if k == 0 else p for k, p in enumerate(prefix))
    print(f"{shown} run {args.config} --out DIR{' --quiet' if args.quiet else ''}")
    print(line("whole command (process start to exit)", runs))
    print(line("  its simulation (wall_time_s)", simulation))
    print(line("  the rest (whole - simulation)", rest))
    print(line("python -c pass", base))
    print(line('python -c "import caitlab.cli"', cli))
    print(line("imports a run needs (in the process)", imports))
    print(line("Result.save, first in the process", [s[0] for s in saves]))
    print(line("Result.save, later", [t for s in saves for t in s[1:]]))


if __name__ == "__main__":
    main()
