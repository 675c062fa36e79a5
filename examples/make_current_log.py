"""Write the synthetic electrometer log shipped as example data.

Run from the repository root::

    python examples/make_current_log.py

It simulates the paper's double-CAIT (``caitlab run double-cait``), samples the back-electrode
current every 10 minutes from the start of the first stage, adds 2 % Gaussian noise (an
electrometer's reading, seeded) and writes ``examples/data/double-cait-current.csv`` in the
layout :func:`caitlab.electrometer.read_electrometer` reads: ``time [h], current [nA]``. It
goes with ``caitlab compare ... --electrometer examples/data/double-cait-current.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from caitlab.examples import load_example

OUT = Path(__file__).resolve().parents[1] / "examples" / "data"
NAME = "double-cait-current.csv"
#: s between two logged readings, and the relative noise of one
INTERVAL_S = 600.0
NOISE = 0.02
SEED = 20261207


def current_log(result) -> tuple[np.ndarray, np.ndarray]:
    """(time in s, current in A) of ``result`` every :data:`INTERVAL_S`, with noise."""
    traces = result.traces
    time = np.asarray(traces["time"].values, dtype=float)
    current = np.asarray(traces["current"].values, dtype=float)
    logged = np.arange(INTERVAL_S, time[-1], INTERVAL_S)
    clean = np.interp(logged, time, current)
    noise = np.random.default_rng(SEED).normal(0.0, NOISE, logged.size)
    return logged, clean * (1.0 + noise)


def main() -> None:
    """Simulate the double-CAIT and write its noisy current log."""
    time, current = current_log(load_example("double-cait").run())
    rows = "".join(f"{t / 3600:.6g},{i * 1e9:.6g}\n" for t, i in zip(time, current))
    path = OUT / NAME
    path.write_text(
        "# synthetic electrometer log of the double-cait example (examples/make_current_log.py)\n"
        "time [h],current [nA]\n" + rows,
        encoding="utf-8",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
