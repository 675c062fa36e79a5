"""Sweeps: designs, run keys, storage, misfit, kill-and-resume, dask execution."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from caitlab import sweep
from caitlab.config import experiment_to_dict, load_experiment
from caitlab.fit import FitProblem, synthetic_profile
from caitlab.fit.config import BUILTIN_EXAMPLES
from caitlab.fit.executors import SerialExecutor
from caitlab.fit.problem import split_values
from caitlab.params import with_values
from caitlab.sweep import (
    RunStore,
    SweepParameter,
    design_points,
    run_key,
    run_sweep,
    run_sweep_config,
)

QUICK = BUILTIN_EXAMPLES / "quick-double-cait.toml"
D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"


@pytest.fixture(scope="module")
def config() -> dict:
    return experiment_to_dict(load_experiment(QUICK))


# --------------------------------------------------------------------------- designs
def test_grid_design_is_the_full_product():
    points = design_points(
        [
            SweepParameter(path="a", min=1e-23, max=1e-21, num=3, log=True),
            SweepParameter(path="b", values=[0.2, "250 meV"]),
        ]
    )
    assert len(points) == 6
    assert sorted({p["a"] for p in points}) == pytest.approx([1e-23, 1e-22, 1e-21])
    assert {p["b"] for p in points} == {0.2, 0.25}


@pytest.mark.parametrize("design", ["random", "lhs"])
def test_sampled_designs_stay_in_bounds(design):
    params = [
        SweepParameter(path="a", min=1e-23, max=1e-21, log=True),
        SweepParameter(path="b", min=0.1, max=0.3),
    ]
    points = design_points(params, design, samples=20, seed=3)
    a = np.array([p["a"] for p in points])
    b = np.array([p["b"] for p in points])
    assert len(points) == 20 and np.all((a >= 1e-23) & (a <= 1e-21))
    assert np.all((b >= 0.1) & (b <= 0.3))
    if design == "lhs":  # one point in each of the 20 strata of log10(a)
        strata = np.floor((np.log10(a) + 23) / 2 * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert design_points(params, design, samples=20, seed=3) == points


def test_run_key_follows_the_full_input(config):
    assert run_key(config) == run_key(json.loads(json.dumps(config)))
    assert run_key(with_values(config, {D_CS: 3.2e-23})) != run_key(config)


# --------------------------------------------------------------------------- storage
def test_sweep_stores_runs_misfit_and_failures(tmp_path, config):
    truth = load_experiment(QUICK).run()
    data = synthetic_profile(
        truth, "Cs-CAIT", np.arange(1.0, 150.0) * 1e-9, response={"rms": 5e-9}, counts=3000, rng=4
    )
    problem = FitProblem(config, [data])
    points = [
        {D_CS: 3.1e-23},
        {D_CS: 6e-23},
        {D_CS: 3.1e-23, "profiles.Cs-CAIT.rms": 12e-9},  # same run, other response
        {"stages.Cs-CAIT.diffusivity.Li.occupancy": 1.5},
    ]
    outcome = run_sweep(config, points, tmp_path, problem=problem)
    assert (outcome.n_points, outcome.n_runs, outcome.n_computed) == (4, 3, 3)
    assert outcome.n_failed == 1
    rows = outcome.rows
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed"]
    assert rows[0]["chisqr"] < rows[1]["chisqr"] and rows[0]["chisqr"] < rows[2]["chisqr"]
    assert "occupancy" in rows[3]["reason"]
    stored = sorted(p.name for p in (tmp_path / "runs").iterdir())
    for name in ("result.nc", "summary.json", "point.json"):
        assert all((tmp_path / "runs" / k / name).exists() for k in stored), name
    assert len(stored) == 2
    record = json.loads((tmp_path / "runs" / stored[0] / "point.json").read_text())
    assert record["input"]["stages"][1]["name"] == "Cs-CAIT" and "caitlab_version" in record
    table = (tmp_path / "table.csv").read_text()
    assert table.startswith("# caitlab") and table.count("\n") == 6
    again = run_sweep(config, points, tmp_path, problem=problem)
    assert again.n_computed == 0 and again.n_reused == 3  # failed ones are not retried


# --------------------------------------------------------------------------- misfit record
MISFIT_POINTS = [
    {D_CS: 3.1e-23},
    {D_CS: 3.1e-23, "profiles.Cs-CAIT.rms": 12e-9},  # the same run, another response
    {D_CS: 6e-23},
]


class ResultsTravelBack(SerialExecutor):
    """Runs here, but stored by the sweep, as with workers that do not see the folder."""

    shared_filesystem = False


@pytest.fixture(scope="module")
def measured():
    truth = load_experiment(QUICK).run()
    return synthetic_profile(
        truth, "Cs-CAIT", np.arange(1.0, 150.0) * 1e-9, response={"rms": 5e-9}, counts=3000, rng=4
    )


def _misfits(folder: Path, problem: FitProblem) -> list[float]:
    """Each point's chi-square computed from its stored run (the truth)."""
    store = RunStore(folder)
    keys = [run_key(with_values(dict(problem.config), split_values(p)[0])) for p in MISFIT_POINTS]
    return [
        sweep._misfit(problem, store.result(k), p)["chisqr"] for k, p in zip(keys, MISFIT_POINTS)
    ]


@pytest.mark.parametrize(
    "executor", [SerialExecutor(), ResultsTravelBack()], ids=["runs-store-themselves", "sent-back"]
)
def test_a_resumed_table_reads_the_misfit_recorded_with_each_run(
    tmp_path, config, measured, monkeypatch, executor
):
    problem = FitProblem(config, [measured])
    first = run_sweep(config, MISFIT_POINTS, tmp_path, problem=problem, executor=executor)
    truth = _misfits(tmp_path, problem)
    assert [r["chisqr"] for r in first.rows] == truth and truth[0] != truth[1]
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/point.json")]
    assert sorted(len(r["misfit"]) for r in records) == [1, 2]  # one per response of the run

    def never(self, key):
        raise AssertionError(f"run {key} was opened to read its misfit")

    with monkeypatch.context() as patched:
        patched.setattr(RunStore, "result", never)
        again = run_sweep(config, MISFIT_POINTS, tmp_path, problem=problem)
    assert again.n_computed == 0 and [r["chisqr"] for r in again.rows] == truth
    assert [r["chisqr_per_point"] for r in again.rows] == [
        r["chisqr_per_point"] for r in first.rows
    ]


def test_a_misfit_recorded_against_other_data_or_by_an_older_store_is_computed(
    tmp_path, config, measured
):
    problem = FitProblem(config, [measured])
    first = run_sweep(config, MISFIT_POINTS, tmp_path, problem=problem)
    # other data: the same measurement said to be broadened more; nothing recorded fits it
    broader = FitProblem(config, [dataclasses.replace(measured, response={"rms": 8e-9})])
    other = run_sweep(config, MISFIT_POINTS, tmp_path, problem=broader)
    assert other.n_computed == 0
    assert [r["chisqr"] for r in other.rows] == _misfits(tmp_path, broader)
    assert other.rows[0]["chisqr"] != first.rows[0]["chisqr"]  # not the recorded one
    # a store written before misfits were recorded: the runs are opened, as before
    for path in (tmp_path / "runs").glob("*/point.json"):
        record = json.loads(path.read_text())
        del record["misfit"]
        path.write_text(json.dumps(record, indent=1))
    older = run_sweep(config, MISFIT_POINTS, tmp_path, problem=problem)
    assert older.n_computed == 0 and not older.recomputed
    assert [r["chisqr"] for r in older.rows] == [r["chisqr"] for r in first.rows]


def test_the_digest_of_the_data_follows_every_field():
    from caitlab.fit import MeasuredProfile

    def problem(**changes):
        fields = {
            "stage": "Cs-CAIT",
            "depth_m": np.array([1e-9, 2e-9]),
            "fractions": {"Cs": np.array([0.5, 0.25])},
            "sigma": {"Cs": np.array([0.01, 0.01])},
            "response": {"rms": 5e-9},
        }
        config = experiment_to_dict(load_experiment(QUICK))
        return FitProblem(config, [MeasuredProfile(**(fields | changes))])

    base = sweep.observation_digest(problem())
    assert base == sweep.observation_digest(problem())
    for changes in (
        {"depth_m": np.array([1e-9, 3e-9])},
        {"fractions": {"Cs": np.array([0.5, 0.26])}},
        {"sigma": {"Cs": np.array([0.01, 0.02])}},
        {"response": {"rms": 6e-9}},
        {"fallback_counts": 10.0},
    ):
        assert sweep.observation_digest(problem(**changes)) != base, changes
    assert sweep.misfit_key(base, {}) != sweep.misfit_key(base, {"profiles.Cs-CAIT.rms": 1e-9})


# --------------------------------------------------------------------------- resume
SWEEP_TOML = """
experiment = "{experiment}"
design = "grid"

[[parameters]]
path = "{path}"
min = "2e-23 m^2/s"
max = "6e-23 m^2/s"
num = 6
log = true
"""


def test_kill_and_resume_recomputes_nothing(tmp_path):
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(SWEEP_TOML.format(experiment=QUICK, path=D_CS))
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-c",
        "from caitlab.cli import main; main()",
        "sweep",
        str(sweep_file),
        "--out",
        str(out),
        "--workers",
        "0",
        "--no-progress",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runs = out / "runs"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.exists() and len([p for p in runs.iterdir() if not p.name.startswith(".")]) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {
        p.name: (p / "result.nc").stat().st_mtime_ns
        for p in runs.iterdir()
        if not p.name.startswith(".")
    }
    assert 2 <= len(before) < 6, "the sweep should be killed part-way"
    outcome = run_sweep_config(sweep_file, out, workers=0)
    assert outcome.n_reused == len(before)
    assert outcome.n_computed == 6 - len(before)
    for key, mtime in before.items():
        assert (runs / key / "result.nc").stat().st_mtime_ns == mtime
    assert len([p for p in runs.iterdir() if not p.name.startswith(".")]) == 6


def test_the_example_sweep_file_is_valid():
    from caitlab.sweep import load_sweep_config

    example = Path(__file__).resolve().parents[1] / "examples" / "sweep-double-cait.toml"
    _, _, points, problem, _ = load_sweep_config(example)
    assert len(points) == 100 and problem is not None
    widths = sorted({p["stages.Cs-CAIT.diffusivity.Rb.fwhm"] for p in points})
    assert widths == pytest.approx([0.18, 0.21, 0.24, 0.27])
