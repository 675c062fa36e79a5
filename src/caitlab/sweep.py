"""Parameter sweeps: many runs over a design, stored as they finish, resumable.

A sweep file (SWEEP.toml) names an experiment config, the parameters to vary by their
path (:mod:`caitlab.params`) and a design:

* ``grid``: every combination of each parameter's ``values`` (or ``num`` values from
  ``min`` to ``max``, log-spaced if ``log``);
* ``random``: ``samples`` points drawn uniformly (in log10 if ``log``) within the bounds;
* ``lhs``: a Latin hypercube of ``samples`` points (:class:`scipy.stats.qmc.LatinHypercube`).

Optional measured ``[[profiles]]`` and ``[[charges]]`` (as in a fit file) add a misfit
column (chi-square) to the table; paths ``profiles.<name>.rms`` vary the instrument
response without new simulations.

Runs execute through :func:`caitlab.fit.executors.open_executor` (a local dask cluster of
processes by default, a running scheduler, or serially). Each finished run is stored at
once, atomically, under ``DIR/runs/<key>/`` (``result.nc``, ``summary.json``,
``point.json``), keyed by a hash of its full experiment input: a
sweep that is killed and started again recomputes none of the stored runs. Failed runs are
kept under ``DIR/failed/<key>.json`` and not retried unless asked. ``DIR/table.csv`` has one
row per design point; ``DIR/sweep.json`` records the input, counts, version and date.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from caitlab._model import Frozen
from caitlab._version import __version__
from caitlab.config import ConfigError, experiment_from_dict
from caitlab.fit.config import (
    ChargeSpec,
    ProfileSpec,
    Quantity,
    load_observations,
    read_study_file,
)
from caitlab.fit.problem import FitProblem, split_values
from caitlab.params import ParameterPathError, get_value, with_values
from caitlab.results import Result, open_result, write_atomic


# --------------------------------------------------------------------------- config
class SweepParameter(Frozen):
    """One swept parameter: explicit ``values``, or bounds (with ``num`` for a grid)."""

    path: str
    values: list[Quantity] | None = None
    min: Quantity | None = None
    max: Quantity | None = None
    num: int | None = Field(default=None, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> SweepParameter:
        if self.values is None and (self.min is None or self.max is None):
            raise ValueError("give 'values', or 'min' and 'max'")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.log and self.min is not None and not self.min > 0:
            raise ValueError("a log-scale parameter needs min > 0")
        return self

    def grid(self) -> list[float]:
        """Grid values: ``values``, else ``num`` points from min to max."""
        if self.values is not None:
            return list(self.values)
        if self.num is None:
            raise ValueError(f"{self.path}: a grid needs 'values' or 'num'")
        space = np.geomspace if self.log else np.linspace
        return [float(v) for v in space(self.min, self.max, self.num)]

    def scale(self, unit: np.ndarray) -> np.ndarray:
        """Map numbers in [0, 1] to the range (log-uniform if ``log``)."""
        lo, hi = (self.min, self.max) if self.values is None else (
            min(self.values), max(self.values))  # fmt: skip
        if self.log:
            return 10.0 ** (math.log10(lo) + unit * (math.log10(hi) - math.log10(lo)))
        return lo + unit * (hi - lo)


class SweepConfig(Frozen):
    """A SWEEP.toml file."""

    experiment: Path
    design: Literal["grid", "random", "lhs"] = "grid"
    samples: int | None = Field(default=None, gt=0)
    seed: int = 0
    parameters: list[SweepParameter] = Field(min_length=1)
    profiles: list[ProfileSpec] = Field(default_factory=list)
    charges: list[ChargeSpec] = Field(default_factory=list)
    retry_failed: bool = False
    workers: int | None = Field(default=None, ge=0)
    scheduler: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        if self.design != "grid" and self.samples is None:
            raise ValueError(f"design {self.design!r} needs 'samples'")
        return self


def design_points(
    parameters: Sequence[SweepParameter], design: str = "grid", samples: int | None = None,
    seed: int = 0,
) -> list[dict[str, float]]:  # fmt: skip
    """The design: one ``{path: value}`` per point.

    Parameters
    ----------
    parameters : sequence of SweepParameter
        Swept parameters.
    design : {"grid", "random", "lhs"}
        Full grid, uniform random, or Latin hypercube.
    samples : int, optional
        Points of a random or LHS design.
    seed : int
        Random seed.
    """
    paths = [p.path for p in parameters]
    if design == "grid":
        grids = itertools.product(*(p.grid() for p in parameters))
        return [dict(zip(paths, combo)) for combo in grids]
    if samples is None:
        raise ValueError(f"design {design!r} needs samples")
    if design == "random":
        unit = np.random.default_rng(seed).random((samples, len(parameters)))
    elif design == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(parameters), seed=seed).random(samples)
    else:
        raise ValueError(f"design must be 'grid', 'random' or 'lhs', got {design!r}")
    columns = [p.scale(unit[:, k]) for k, p in enumerate(parameters)]
    return [{path: float(col[i]) for path, col in zip(paths, columns)} for i in range(samples)]


# --------------------------------------------------------------------------- runs
def run_key(config: Mapping[str, Any]) -> str:
    """A hash of the full experiment input (canonical JSON): the run's identity."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_config(config: Mapping[str, Any], _shared: Any = None) -> tuple[str, Any]:
    """Run one experiment config: ``("ok", Result)`` or ``("failed", reason)`` (a task)."""
    from caitlab.solver import ConvergenceError

    try:
        return "ok", experiment_from_dict(dict(config), "sweep").run()
    except ConfigError as exc:
        return "failed", "; ".join(exc.problems)
    except (ConvergenceError, FloatingPointError, ValueError) as exc:
        return "failed", str(exc)


def run_and_store(task: tuple[str, dict, dict], directory: str) -> tuple[str, str | None]:
    """Run one ``(key, config, values)`` and store it where it runs: ``(status, reason)``.

    Used when the workers share the sweep folder's file system: no result travels back.
    """
    key, config, values = task
    status, payload = run_config(config)
    store = RunStore(Path(directory))
    if status == "ok":
        store.save(key, config, values, payload)
        return "ok", None
    store.save_failure(key, config, values, payload)
    return "failed", payload


@dataclass
class RunStore:
    """Finished and failed runs on disk, keyed by :func:`run_key`."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        (self.directory / "runs").mkdir(parents=True, exist_ok=True)
        (self.directory / "failed").mkdir(parents=True, exist_ok=True)

    def run_dir(self, key: str) -> Path:
        return self.directory / "runs" / key

    def done(self, key: str) -> bool:
        return (self.run_dir(key) / "point.json").exists()

    def failed(self, key: str) -> str | None:
        path = self.directory / "failed" / f"{key}.json"
        return json.loads(path.read_text())["reason"] if path.exists() else None

    def _record(self, key: str, config: Mapping[str, Any], values: Mapping) -> dict[str, Any]:
        return {"key": key, "values": dict(values), "caitlab_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "input": dict(config)}  # fmt: skip

    def save(self, key: str, config: Mapping, values: Mapping, result: Any) -> None:
        """Store a finished run: written in a hidden folder, then renamed (atomic)."""
        final = self.run_dir(key)
        tmp = self.directory / "runs" / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        result.save(tmp)
        (tmp / "point.json").write_text(json.dumps(self._record(key, config, values), indent=1))
        try:
            os.replace(tmp, final)
        except OSError:  # stored meanwhile by another sweep on the same folder
            shutil.rmtree(tmp, ignore_errors=True)
        (self.directory / "failed" / f"{key}.json").unlink(missing_ok=True)

    def save_failure(self, key: str, config: Mapping, values: Mapping, reason: str) -> None:
        record = self._record(key, config, values) | {"reason": reason}
        write_atomic(self.directory / "failed" / f"{key}.json",
                     lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1)))  # fmt: skip

    def summary(self, key: str) -> dict[str, Any]:
        return json.loads((self.run_dir(key) / "summary.json").read_text())

    def result(self, key: str) -> Result:
        """The stored run ``key``."""
        return open_result(self.run_dir(key))


# --------------------------------------------------------------------------- the sweep
@dataclass
class SweepOutcome:
    """Counts and table of a sweep (also in ``sweep.json`` and ``table.csv``)."""

    directory: Path
    rows: list[dict[str, Any]]
    n_points: int
    n_runs: int
    n_reused: int
    n_computed: int
    n_failed: int
    wall_time_s: float
    runs_per_second: float
    executor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


#: progress(done, failed, remaining) after each run
Progress = Callable[[int, int, int], None]


def _misfit(problem: FitProblem, result: Result, values: Mapping) -> dict[str, Any]:
    residual = problem.residual_from(result, split_values(values)[1])
    chi2 = float(residual @ residual)
    return {"chisqr": chi2, "chisqr_per_point": chi2 / problem.n_data}


def _row(index: int, key: str, values: Mapping, status: str, store: RunStore,
         problem: FitProblem | None) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {"point": index, "key": key, "status": status, **values}
    if status != "ok":
        row["reason"] = store.failed(key) or ""
        return row
    summary = store.summary(key)
    for stage in summary["stages"]:
        row[f"charge_C.{stage['name']}"] = stage["charge_C"]
    row["wall_time_s"] = summary["wall_time_s"]
    if problem is None:
        return row
    return row | _misfit(problem, store.result(key), values)


def _write_table(path: Path, rows: list[dict[str, Any]], source: str = "") -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    buffer.write(f"# caitlab {__version__} sweep table, {created}; input: {source or '-'} "
                 "(full input in sweep.json, each run's in runs/<key>/point.json)\n")  # fmt: skip
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, lambda tmp: Path(tmp).write_text(buffer.getvalue()))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, default=str)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def _pending(keys: list[str], store: RunStore, retry_failed: bool) -> tuple[list[str], int]:
    """Keys still to run (unique) and how many unique keys are stored already."""
    unique = list(dict.fromkeys(keys))
    stored = [k for k in unique if store.done(k) or (store.failed(k) and not retry_failed)]
    return [k for k in unique if k not in set(stored)], len(stored)


def _execute(executor: Any, tasks: list[tuple[str, dict, dict]], store: RunStore) -> Iterator[str]:
    """Run ``(key, config, values)`` tasks, store each as it finishes, yield its status."""
    if getattr(executor, "shared_filesystem", False):  # workers store their own runs
        for _, (status, _) in executor.as_completed(run_and_store, tasks, str(store.directory)):
            yield status
        return
    configs = [config for _, config, _ in tasks]  # results travel back; stored here
    for index, (status, payload) in executor.as_completed(run_config, configs, None):
        key, config, values = tasks[index]
        if status == "ok":
            store.save(key, config, values, payload)
        else:
            store.save_failure(key, config, values, payload)
        yield status


def run_sweep(
    config: Mapping[str, Any],
    points: Sequence[Mapping[str, float]],
    directory: str | os.PathLike,
    *,
    executor: Any = None,
    problem: FitProblem | None = None,
    retry_failed: bool = False,
    progress: Progress | None = None,
    record: Mapping[str, Any] | None = None,
) -> SweepOutcome:
    """Run every design point not stored yet, storing each as it finishes.

    Parameters
    ----------
    config : dict
        The base experiment config (:func:`caitlab.config.experiment_to_dict`).
    points : sequence of dict
        ``{path: value}`` per design point; ``profiles.<name>.*`` paths only affect the
        misfit.
    directory : path-like
        Output folder (created; reused when resuming).
    executor : optional
        From :func:`caitlab.fit.executors.open_executor`; default serial.
    problem : FitProblem, optional
        Measured data for the misfit column.
    retry_failed : bool
        Run failed points again.
    progress : callable, optional
        ``progress(done, failed, remaining)`` after each run.
    record : dict, optional
        The input to record in ``sweep.json``.

    Returns
    -------
    SweepOutcome
    """
    from caitlab.fit.executors import SerialExecutor

    clock = time.perf_counter()
    executor = executor or SerialExecutor()
    store = RunStore(Path(directory))
    configs = [with_values(config, split_values(p)[0]) for p in points]
    keys = [run_key(c) for c in configs]
    config_of = dict(zip(keys, configs))
    values_of = {k: split_values(p)[0] for k, p in zip(keys, points)}
    todo, n_reused = _pending(keys, store, retry_failed)
    n_failed = sum(1 for k in dict.fromkeys(keys) if store.failed(k) and not retry_failed)
    done = n_reused
    if progress:
        progress(done, n_failed, len(todo))
    tasks = [(k, config_of[k], values_of[k]) for k in todo]
    for status in _execute(executor, tasks, store):
        n_failed += status != "ok"
        done += 1
        if progress:
            progress(done, n_failed, len(todo) + n_reused - done)
    rows = [
        _row(i, k, p, "ok" if store.done(k) else "failed", store, problem)
        for i, (k, p) in enumerate(zip(keys, points))
    ]
    _write_table(store.directory / "table.csv", rows, str((record or {}).get("sweep_file", "")))
    wall = time.perf_counter() - clock
    outcome = SweepOutcome(
        store.directory, rows, len(points), len(set(keys)), n_reused, len(todo), n_failed,
        wall, len(todo) / wall if wall > 0 else 0.0, executor.describe(),
    )  # fmt: skip
    _write_json(store.directory / "sweep.json", _sweep_record(outcome, record))
    return outcome


def _sweep_record(outcome: SweepOutcome, record: Mapping[str, Any] | None) -> dict[str, Any]:
    best = [r for r in outcome.rows if "chisqr" in r]
    best_row = min(best, key=lambda r: r["chisqr"]) if best else None
    return {
        "n_points": outcome.n_points, "n_runs": outcome.n_runs, "n_reused": outcome.n_reused,
        "n_computed": outcome.n_computed, "n_failed": outcome.n_failed,
        "wall_time_s": outcome.wall_time_s, "runs_per_second": outcome.runs_per_second,
        "executor": outcome.executor, "best": best_row, "caitlab_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": dict(record or {}),
    }  # fmt: skip


# --------------------------------------------------------------------------- from a file
def load_sweep_config(
    path: str | os.PathLike,
) -> tuple[SweepConfig, dict[str, Any], list[dict[str, float]], FitProblem | None, dict]:
    """Read a SWEEP.toml: config, base experiment dict, design points, data, input record.

    Raises
    ------
    ConfigError
        One line per problem, naming the field (unknown paths with close matches).
    """
    path = Path(path)
    cfg, base, config, raw, exp_path = read_study_file(path, SweepConfig)
    problem = None
    if cfg.profiles or cfg.charges:
        problem = load_observations(cfg.profiles, cfg.charges, config, base, str(path))
    problems = []
    for k, p in enumerate(cfg.parameters):
        try:
            problem.initial_value(p.path) if problem else get_value(config, p.path)
        except ParameterPathError as exc:
            problems.append(f"parameters[{k}].path: {exc}")
    if problems:
        raise ConfigError(str(path), problems)
    try:
        points = design_points(cfg.parameters, cfg.design, cfg.samples, cfg.seed)
    except ValueError as exc:
        raise ConfigError(str(path), [f"parameters: {exc}"]) from None
    record = {"sweep_file": str(path.resolve()), "sweep_config": raw,
              "experiment_file": str(exp_path), "experiment": config}  # fmt: skip
    return cfg, config, points, problem, record


def run_sweep_config(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    shared_filesystem: bool = False,
    progress: Progress | None = None,
) -> SweepOutcome:
    """Load SWEEP.toml and run it into ``out`` (default: a folder named after the file).

    Parameters
    ----------
    path : path-like
        The sweep file.
    out : path-like, optional
        Output folder; default ``<file stem>-sweep`` beside the file.
    scheduler, workers : optional
        Override the file's ``scheduler`` / ``workers`` (``workers=0``: serial).
    shared_filesystem : bool
        The workers of ``scheduler`` see ``out``: they store their runs themselves.
    progress : callable, optional
        ``progress(done, failed, remaining)``.
    """
    from caitlab.fit.executors import open_executor

    cfg, config, points, problem, record = load_sweep_config(path)
    out = Path(out) if out is not None else Path(path).with_name(Path(path).stem + "-sweep")
    workers = cfg.workers if workers is None else workers
    with open_executor(scheduler or cfg.scheduler, workers, False, shared_filesystem) as executor:
        return run_sweep(
            config, points, out, executor=executor, problem=problem,
            retry_failed=cfg.retry_failed, progress=progress, record=record,
        )  # fmt: skip


def iter_stored(directory: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """The ``point.json`` records of every stored run of a sweep folder."""
    for point in sorted(Path(directory, "runs").glob("*/point.json")):
        yield json.loads(point.read_text())


__all__ = [
    "RunStore",
    "SweepConfig",
    "SweepOutcome",
    "SweepParameter",
    "design_points",
    "iter_stored",
    "load_sweep_config",
    "run_and_store",
    "run_config",
    "run_key",
    "run_sweep",
    "run_sweep_config",
]
