"""Two ``caitlab run`` into one ``--out`` folder at once (not a test: a printout).

    python benchmarks/bench_two_writers.py [TRIALS]

Starts two runs of the quick double-CAIT into one folder, TRIALS times (default 10): even
trials with two different configs (the second with a shorter Cs stage), odd ones with the
same config. A trial is good when the folder holds one consistent pair (``result.nc`` and
``summary.json`` of one ``run_id``) of the one process that exited 0 (``config-a`` or
``config-b`` as that process ran; two processes started together that both exit 0 both said
"wrote", and one of their results is gone), and the other said why it failed in one
``error:`` line. Prints each trial, what the loser said, and the count of good trials.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

from caitlab.examples import example_path


def configs(folder: Path) -> dict[str, Path]:
    text = example_path("quick-double-cait").read_text()
    a, b = folder / "config-a.toml", folder / "config-b.toml"
    a.write_text(text.replace('name = "quick-double-cait"', 'name = "config-a"'))
    b.write_text(
        text.replace('name = "quick-double-cait"', 'name = "config-b"').replace(
            'duration = "50.78 h"', 'duration = "20 h"'
        )
    )
    return {"config-a": a, "config-b": b}


def trial(out: Path, paths: dict[str, Path], chosen: list[str]) -> tuple[bool, str]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "caitlab", "run", str(paths[n]), "--out", str(out), "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in chosen
    ]
    finished: list[int] = []
    while len(finished) < len(processes):
        done = [k for k, p in enumerate(processes) if p.poll() is not None]
        finished += [k for k in done if k not in finished]
        time.sleep(0.005)
    errors = [p.communicate()[1] for p in processes]
    codes = [p.returncode for p in processes]
    winners = [k for k in finished if codes[k] == 0]
    try:
        with h5py.File(out / "result.nc", "r") as f:
            stored = (str(f.attrs["run_id"]), str(f.attrs["experiment_name"]))
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        return False, f"exit {codes}: unreadable ({exc})"
    losers = [e.strip() for c, e in zip(codes, errors) if c != 0]
    said = " | ".join(line.splitlines()[-1][:110] for line in losers if line)
    if stored[0] != summary["run_id"]:
        return False, f"exit {codes}: MIXED pair; {said}"
    if not winners or stored[1] != chosen[winners[-1]]:
        return False, f"exit {codes}: the pair of {stored[1]}, not of the last to exit 0; {said}"
    if len(winners) > 1:  # started together, both said "wrote": one result is gone
        return False, f"exit {codes}: both succeeded, the pair of one of them is gone"
    if any(len([x for x in e.splitlines() if x.startswith("error:")]) != 1 for e in losers):
        return False, f"exit {codes}: a loser without one error line; {said}"
    return True, f"exit {codes}: {stored[1]}'s pair; {said}"


def main(trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = configs(folder)
        good = 0
        for k in range(trials):
            chosen = ["config-a", "config-b"] if k % 2 == 0 else ["config-a", "config-a"]
            ok, text = trial(folder / f"out{k}", paths, chosen)
            good += ok
            print(f"{k}: {'good' if ok else 'BAD '} {text}")
        print(f"{good} of {trials} trials: one consistent pair of the one process that exited 0")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
