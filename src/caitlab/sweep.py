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
sweep that is killed and started again recomputes none of the stored runs. With measured
data, ``point.json`` also records the run's misfit for each response of the design points
that share the run, under a digest of the data and the response
(:func:`observation_digest`): a resumed sweep's table reads it there instead of opening
every run again (a run stored without it, or against other data, is opened). Failed runs are
kept under ``DIR/failed/<key>.json`` and not retried unless asked. ``DIR/table.csv`` has one
row per design point, each parameter's column headed by its path and unit
(:func:`column_header`); ``DIR/sweep.json`` records the input, counts, version and date.
"""

from __future__ import annotations

import csv
import dataclasses
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
from pydantic import Field, ValidationInfo, model_validator

from caitlab._json import json_safe
from caitlab._model import Frozen
from caitlab._version import __version__
from caitlab.config import ConfigError, experiment_from_dict
from caitlab.fit.config import (
    ChargeSpec,
    ProfileSpec,
    Quantity,
    load_observations,
    read_study_file,
    values_in_units,
)
from caitlab.fit.problem import FitProblem, split_values
from caitlab.params import ParameterPathError, get_value, with_values
from caitlab.results import Result, open_result, write_atomic
from caitlab.storage import HOST, process_alive


# --------------------------------------------------------------------------- config
class SweepParameter(Frozen):
    """One swept parameter: explicit ``values``, or bounds (with ``num`` for a grid)."""

    path: str
    values: list[Quantity] | None = None
    min: Quantity | None = None
    max: Quantity | None = None
    num: int | None = Field(default=None, gt=0)
    log: bool = False

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any, info: ValidationInfo) -> Any:
        return values_in_units(data, info, ("values", "min", "max"))

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
        assert self.min is not None and self.max is not None  # _check: both, without values
        space = np.geomspace if self.log else np.linspace
        return [float(v) for v in space(self.min, self.max, self.num)]

    def scale(self, unit: np.ndarray) -> np.ndarray:
        """Map numbers in [0, 1] to the range (log-uniform if ``log``)."""
        if self.values is None:
            assert self.min is not None and self.max is not None  # _check: both, without values
            lo, hi = self.min, self.max
        else:
            lo, hi = min(self.values), max(self.values)
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
    parameters: Sequence[SweepParameter],
    design: str = "grid",
    samples: int | None = None,
    seed: int = 0,
) -> list[dict[str, float]]:
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
    except (ConvergenceError, ArithmeticError, MemoryError, ValueError) as exc:
        return "failed", str(exc) or type(exc).__name__


@dataclass(frozen=True)
class StoreTarget:
    """Where runs are stored and what they are measured against (one object per sweep).

    ``problem`` (the measured data) and ``observed`` (its :func:`observation_digest`) are
    None without data; then no misfit is recorded.
    """

    directory: str
    problem: FitProblem | None = None
    observed: str | None = None

    def misfit_key(self, values: Mapping[str, float]) -> str | None:
        """The key of the misfit of a design point ``values`` in ``point.json``."""
        if self.problem is None or self.observed is None:
            return None
        return misfit_key(self.observed, split_values(values)[1])

    def misfits(
        self, result: Result, responses: Sequence[Mapping[str, float]]
    ) -> dict[str, dict[str, float]]:
        """The misfit of a finished run for each of ``responses`` (``profiles.*`` values),
        by :meth:`misfit_key`; one that cannot be computed or is not finite is left out (the
        table computes it from the stored run and says why it failed)."""
        if self.problem is None or self.observed is None:
            return {}
        out = {}
        for response in responses:
            try:
                found = _misfit(self.problem, result, response)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                continue
            if all(math.isfinite(v) for v in found.values()):
                out[misfit_key(self.observed, response)] = found
        return out


def run_and_store(task: tuple, target: str | StoreTarget) -> tuple[str, str | None]:
    """Run one ``(key, config, values[, responses])`` and store it where it runs:
    ``(status, reason)``.

    Used when the workers share the sweep folder's file system: no result travels back.
    ``target`` is the sweep folder, or a :class:`StoreTarget` that also records the misfit
    of the run for each of ``responses``.
    """
    target = StoreTarget(target) if isinstance(target, str) else target
    key, config, values, *rest = task
    status, payload = run_config(config)
    store = RunStore(Path(target.directory))
    if status == "ok":
        store.save(key, config, values, payload, target.misfits(payload, rest[0] if rest else ()))
        return "ok", None
    store.save_failure(key, config, values, payload)
    return "failed", payload


class StoreError(ValueError):
    """A stored run that cannot be read; the message names the file."""


def _strict_json(path: Path) -> Any:
    """JSON without NaN or Infinity (which strict readers refuse); errors name the file."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-finite number {constant}")

    try:
        return json.loads(path.read_text(), parse_constant=refuse)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: not a valid JSON file ({exc})") from None


def file_digest(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file: what a run's manifest records."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


_HOST = HOST
_process_alive = process_alive


@dataclass
class RunStore:
    """Finished and failed runs on disk, keyed by :func:`run_key`.

    Each run folder holds its files and ``point.json``: the input, the design values and a
    manifest (size and SHA-256 of every file). :meth:`verify` checks a run against it.
    """

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        (self.directory / "runs").mkdir(parents=True, exist_ok=True)
        (self.directory / "failed").mkdir(parents=True, exist_ok=True)

    def run_dir(self, key: str) -> Path:
        return self.directory / "runs" / key

    def verify(self, key: str) -> str | None:
        """Why the stored run ``key`` cannot be trusted, or None if it can."""
        folder = self.run_dir(key)
        if not folder.is_dir():
            return "not stored"
        try:
            record = _strict_json(folder / "point.json")
        except StoreError:
            exists = (folder / "point.json").exists()
            return "point.json is not valid JSON" if exists else "point.json is missing"
        manifest = record.get("files") if isinstance(record, dict) else None
        if not isinstance(manifest, dict) or not manifest:
            return "point.json has no manifest of the run's files (stored by an older caitlab)"
        if record.get("key") != key or run_key(record.get("input", {})) != key:
            return "point.json belongs to another run (its input does not hash to the key)"
        for name, expected in sorted(manifest.items()):
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            found = file_digest(path)
            if found["bytes"] != expected.get("bytes"):
                return (
                    f"{name} has {found['bytes']} bytes, {expected.get('bytes')} were "
                    "stored (truncated or replaced)"
                )
            if found["sha256"] != expected.get("sha256"):
                return f"{name} was changed after it was stored (checksum differs)"
        return None

    def set_aside(self, key: str) -> None:
        """Move a damaged run to ``DIR/damaged/<key>`` (kept for inspection)."""
        target = self.directory / "damaged" / key
        target.parent.mkdir(exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(self.run_dir(key), target)
        except OSError:
            shutil.rmtree(self.run_dir(key), ignore_errors=True)

    def clean_stale(self) -> list[Path]:
        """Remove the temporary folders of stores whose process is gone (this host only)."""
        removed = []
        for tmp in (self.directory / "runs").glob(".*.tmp"):
            parts = tmp.name[1:-4].split(".")
            host, pid = (parts[1], parts[2]) if len(parts) == 3 else (_HOST, parts[-1])
            if host != _HOST or not pid.isdigit() or _process_alive(int(pid)):
                continue
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
        return removed

    def failed(self, key: str) -> str | None:
        path = self.directory / "failed" / f"{key}.json"
        if not path.exists():
            return None
        try:
            return str(_strict_json(path)["reason"])
        except (StoreError, KeyError, TypeError):
            return None  # a damaged record: the run is tried again

    def _record(self, key: str, config: Mapping[str, Any], values: Mapping) -> dict[str, Any]:
        return {
            "key": key,
            "values": dict(values),
            "caitlab_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "input": dict(config),
        }

    def save(
        self,
        key: str,
        config: Mapping,
        values: Mapping,
        result: Any,
        misfits: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        """Store a finished run: written in a hidden folder, then renamed (atomic).

        ``misfits`` (:meth:`StoreTarget.misfits`) go into ``point.json`` with the run. A run
        whose summary holds a non-finite number is stored as a failure instead.
        """
        final = self.run_dir(key)
        tmp = self.directory / "runs" / f".{key}.{_HOST}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if result.non_finite_fields():
            self.save_failure(
                key,
                config,
                values,
                "the run gave non-finite numbers (NaN or infinity) in its summary",
            )
            return
        result.save(tmp)
        files = {p.name: file_digest(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        record = self._record(key, config, values) | {"files": files}
        if misfits:
            record["misfit"] = {k: dict(v) for k, v in misfits.items()}
        (tmp / "point.json").write_text(json.dumps(record, indent=1, allow_nan=False))
        if final.exists() and self.verify(key) is not None:
            self.set_aside(key)
        try:
            os.replace(tmp, final)
        except OSError:  # stored meanwhile by another sweep on the same folder
            shutil.rmtree(tmp, ignore_errors=True)
        (self.directory / "failed" / f"{key}.json").unlink(missing_ok=True)

    def save_failure(self, key: str, config: Mapping, values: Mapping, reason: str) -> None:
        record = self._record(key, config, values) | {"reason": reason}
        text = json.dumps(json_safe(record), indent=1, default=str, allow_nan=False)
        write_atomic(
            self.directory / "failed" / f"{key}.json", lambda tmp: Path(tmp).write_text(text)
        )

    def summary(self, key: str) -> dict[str, Any]:
        return _strict_json(self.run_dir(key) / "summary.json")

    def misfit(self, key: str, recorded_as: str) -> dict[str, float] | None:
        """The misfit recorded with the stored run ``key`` under ``recorded_as``
        (:func:`misfit_key`), or None
        (not recorded: a run stored without data, against other data, or by an older
        caitlab)."""
        try:
            record = _strict_json(self.run_dir(key) / "point.json")
            found = record["misfit"][recorded_as]
            return {name: float(found[name]) for name in ("chisqr", "chisqr_per_point")}
        except (StoreError, KeyError, TypeError, ValueError):
            return None

    def result(self, key: str) -> Result:
        """The stored run ``key``."""
        return open_result(self.run_dir(key))


# --------------------------------------------------------------------------- the sweep
@dataclass
class SweepOutcome:
    """Counts and table of a sweep (also in ``sweep.json`` and ``table.csv``).

    ``recomputed`` maps the key of every stored run that failed its check on resume to the
    reason; ``cleaned`` lists the temporary folders of dead processes that were removed.
    """

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
    recomputed: dict[str, str] = field(default_factory=dict)
    cleaned: list[str] = field(default_factory=list)


#: progress(done, failed, remaining) after each run
Progress = Callable[[int, int, int], None]


def _misfit(problem: FitProblem, result: Result, values: Mapping) -> dict[str, Any]:
    residual = problem.residual_from(result, split_values(values)[1])
    chi2 = float(residual @ residual)
    return {"chisqr": chi2, "chisqr_per_point": chi2 / problem.n_data}


def observation_digest(problem: FitProblem) -> str | None:
    """A digest of all a run's misfit depends on besides the run: every field of the
    measured profiles (depths, fractions, weights, responses), charges and electrometer
    curves, the surface treatment, and the caitlab version that computes the misfit. None
    if some field cannot be digested (then no misfit is recorded: the table opens the
    runs)."""
    digest = hashlib.sha256(f"caitlab {__version__}".encode())
    try:
        _digest_into(digest, (problem.profiles, problem.charges, problem.traces, problem.surface))
    except TypeError:
        return None
    return digest.hexdigest()


def misfit_key(observed: str, response: Mapping[str, float]) -> str:
    """The key of a misfit in ``point.json``: the data's digest and the response values."""
    text = json.dumps([observed, sorted((k, float(v)) for k, v in response.items())])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _digest_into(digest: Any, value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(f"<{type(value).__module__}.{type(value).__qualname__}>".encode())
        for item in dataclasses.fields(value):
            digest.update(f".{item.name}=".encode())
            _digest_into(digest, getattr(value, item.name))
    elif isinstance(value, Mapping):
        digest.update(b"{")
        for key, item in value.items():
            _digest_into(digest, key)
            _digest_into(digest, item)
        digest.update(b"}")
    elif isinstance(value, list | tuple):
        digest.update(b"[")
        for item in value:
            _digest_into(digest, item)
        digest.update(b"]")
    elif isinstance(value, np.ndarray) and value.dtype != object:
        digest.update(f"array({value.dtype.str},{value.shape})".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif value is None or isinstance(value, str | int | float | np.number | np.bool_):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, os.PathLike):
        digest.update(f"path:{os.fspath(value)!r};".encode())
    else:
        raise TypeError(f"no digest of a {type(value).__name__}")


def _row(
    index: int,
    key: str,
    values: Mapping,
    ok: bool,
    store: RunStore,
    problem: FitProblem | None,
    note: str = "",
    recorded_as: str | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"point": index, "key": key, "status": "ok", **values}
    if note:
        row["note"] = note
    if ok:
        try:
            summary = store.summary(key)
            for stage in summary["stages"]:
                row[f"charge_C.{stage['name']}"] = stage["charge_C"]
            row["wall_time_s"] = summary["wall_time_s"]
            if problem is None:
                return row
            recorded = store.misfit(key, recorded_as) if recorded_as else None
            return row | (recorded or _misfit(problem, store.result(key), values))
        except (StoreError, KeyError, TypeError, OSError, ValueError) as exc:
            row["reason"] = f"stored run unreadable: {exc}"
    else:
        row["reason"] = store.failed(key) or "not stored: the run did not finish"
    row["status"] = "failed"
    return row


def column_header(config: Mapping[str, Any], path: str) -> str:
    """The ``table.csv`` header of the parameter at ``path``: the path and its canonical
    unit, ``"stages.Cs-CAIT.diffusivity.Cs.d [m^2/s]"``, ``"profiles.Cs-CAIT.rms [m]"``
    (the values are written in it); the path alone for a dimensionless number.

    Parameters
    ----------
    config : dict
        The experiment dictionary the path walks (:func:`caitlab.config.experiment_to_dict`).
    path : str
        A parameter path (:mod:`caitlab.params`).
    """
    from caitlab.fit.config import parameter_kind
    from caitlab.params import column_name
    from caitlab.units import CANONICAL

    kind = parameter_kind(dict(config), path)
    return column_name(path, CANONICAL[kind] if kind else "")


def read_sweep_table(path: str | os.PathLike) -> Any:
    """A sweep's ``table.csv`` as a :class:`pandas.DataFrame` (its ``#`` comment line
    skipped). Columns keep their headers (:func:`column_header`); :func:`caitlab.plot.misfit_map`
    finds a parameter's column by its path."""
    import pandas as pd

    with open(path, encoding="utf-8") as stream:
        first = stream.readline()
    return pd.read_csv(path, skiprows=1 if first.startswith("#") else 0)


def _write_table(
    path: Path,
    rows: list[dict[str, Any]],
    source: str = "",
    config: Mapping[str, Any] | None = None,
    parameters: Sequence[str] = (),
) -> None:
    """Write the rows; the ``parameters`` columns are headed with their unit
    (:func:`column_header` in ``config``)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    headers = {p: column_header(config, p) for p in parameters if config is not None}
    buffer = io.StringIO()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    buffer.write(
        f"# caitlab {__version__} sweep table, {created}; input: {source or '-'} "
        "(full input in sweep.json, each run's in runs/<key>/point.json)\n"
    )
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([headers.get(c, c) for c in columns])
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    write_atomic(path, lambda tmp: Path(tmp).write_text(buffer.getvalue()))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(json_safe(data), indent=2, default=str, allow_nan=False)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def verify_stored(keys: Sequence[str], store: RunStore) -> tuple[set[str], dict[str, str]]:
    """The stored runs among ``keys`` that pass their check, and why the others failed.

    Runs that fail are moved to ``DIR/damaged/`` so that they are computed again.
    """
    good, damaged = set(), {}
    for key in dict.fromkeys(keys):
        if not store.run_dir(key).exists():
            continue
        reason = store.verify(key)
        if reason is None:
            good.add(key)
        else:
            damaged[key] = reason
            store.set_aside(key)
    return good, damaged


def _execute(
    executor: Any, tasks: list[tuple[str, dict, dict, list]], store: RunStore, target: StoreTarget
) -> Iterator[tuple[str, str]]:
    """Run ``(key, config, values, responses)`` tasks, store each as it finishes (with its
    misfit for each response), yield its key and status."""
    if getattr(executor, "shared_filesystem", False):  # workers store their own runs
        found = executor.as_completed(run_and_store, tasks, target)
        for index, (status, _) in found:
            yield tasks[index][0], status
        return
    configs = [task[1] for task in tasks]  # results travel back; stored here
    for index, (status, payload) in executor.as_completed(run_config, configs, None):
        key, config, values, responses = tasks[index]
        if status == "ok":
            store.save(key, config, values, payload, target.misfits(payload, responses))
        else:
            store.save_failure(key, config, values, payload)
        yield key, status


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

    Stored runs are checked against their manifest first: a damaged one (a file missing,
    truncated or edited) is set aside and computed again, with the reason in
    :attr:`SweepOutcome.recomputed` and the ``note`` column of ``table.csv``.

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
    cleaned = [str(p) for p in store.clean_stale()]
    configs = [with_values(config, split_values(p)[0]) for p in points]
    keys = [run_key(c) for c in configs]
    unique = list(dict.fromkeys(keys))
    config_of = dict(zip(keys, configs))
    values_of = {k: split_values(p)[0] for k, p in zip(keys, points)}
    responses_of: dict[str, list[dict[str, float]]] = {k: [] for k in unique}
    for k, p in zip(keys, points):
        if problem is not None and split_values(p)[1] not in responses_of[k]:
            responses_of[k].append(split_values(p)[1])
    observed = observation_digest(problem) if problem is not None else None
    target = StoreTarget(str(store.directory), problem, observed)
    good, damaged = verify_stored(unique, store)
    old_failures = {k for k in unique if k not in good and store.failed(k) is not None}
    skipped = set() if retry_failed else old_failures
    todo = [k for k in unique if k not in good and k not in skipped]
    n_reused = len(good) + len(skipped)
    done, n_failed = n_reused, len(skipped)
    if progress:
        progress(done, n_failed, len(todo))
    tasks = [(k, config_of[k], values_of[k], responses_of[k]) for k in todo]
    for key, status in _execute(executor, tasks, store, target):
        if status == "ok":
            good.add(key)
        n_failed += status != "ok"
        done += 1
        if progress:
            progress(done, n_failed, len(unique) - done)
    notes = {k: f"recomputed: {reason}" for k, reason in damaged.items()}
    rows = [
        _row(i, k, p, k in good, store, problem, notes.get(k, ""), target.misfit_key(p))
        for i, (k, p) in enumerate(zip(keys, points))
    ]
    parameters = list(dict.fromkeys(path for p in points for path in p))
    source = str((record or {}).get("sweep_file", ""))
    _write_table(store.directory / "table.csv", rows, source, config, parameters)
    wall = time.perf_counter() - clock
    outcome = SweepOutcome(
        store.directory,
        rows,
        len(points),
        len(unique),
        n_reused,
        len(todo),
        len({r["key"] for r in rows if r["status"] != "ok"}),
        wall,
        len(todo) / wall if wall > 0 else 0.0,
        executor.describe(),
        recomputed=damaged,
        cleaned=cleaned,
    )
    _write_json(store.directory / "sweep.json", _sweep_record(outcome, record))
    return outcome


def _sweep_record(outcome: SweepOutcome, record: Mapping[str, Any] | None) -> dict[str, Any]:
    best = [r for r in outcome.rows if "chisqr" in r]
    best_row = min(best, key=lambda r: r["chisqr"]) if best else None
    return {
        "n_points": outcome.n_points,
        "n_runs": outcome.n_runs,
        "n_reused": outcome.n_reused,
        "n_computed": outcome.n_computed,
        "n_failed": outcome.n_failed,
        "wall_time_s": outcome.wall_time_s,
        "runs_per_second": outcome.runs_per_second,
        "executor": outcome.executor,
        "best": best_row,
        "caitlab_version": __version__,
        "recomputed": outcome.recomputed,
        "cleaned": outcome.cleaned,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": dict(record or {}),
    }


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
    record = {
        "sweep_file": str(path.resolve()),
        "sweep_config": raw,
        "experiment_file": str(exp_path),
        "experiment": config,
    }
    return cfg, config, points, problem, record


def default_sweep_folder(path: str | os.PathLike) -> Path:
    """The output folder of the sweep file ``path`` when none is given: ``<stem>-sweep``
    beside the file."""
    return Path(path).with_name(Path(path).stem + "-sweep")


def run_sweep_config(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    shared_filesystem: bool = False,
    progress: Progress | None = None,
    announce: Callable[[str], Any] | None = None,
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
    announce : callable, optional
        Told where a dask cluster runs (its dashboard).
    """
    from caitlab.fit.executors import open_executor

    cfg, config, points, problem, record = load_sweep_config(path)
    out = Path(out) if out is not None else default_sweep_folder(path)
    workers = cfg.workers if workers is None else workers
    with open_executor(
        scheduler or cfg.scheduler, workers, False, shared_filesystem, announce
    ) as executor:
        return run_sweep(
            config,
            points,
            out,
            executor=executor,
            problem=problem,
            retry_failed=cfg.retry_failed,
            progress=progress,
            record=record,
        )


__all__ = [
    "RunStore",
    "StoreTarget",
    "SweepConfig",
    "SweepOutcome",
    "SweepParameter",
    "column_header",
    "default_sweep_folder",
    "design_points",
    "load_sweep_config",
    "misfit_key",
    "observation_digest",
    "read_sweep_table",
    "run_and_store",
    "run_config",
    "run_key",
    "run_sweep",
    "run_sweep_config",
]
