"""The fit file (FIT.toml): experiment, measured profiles, response, free parameters.

Example::

    experiment = "double-cait.toml"          # relative to this file, or a built-in example

    [[profiles]]                             # measured after stage "Rb-CAIT"
    stage = "Rb-CAIT"
    file = "data/stage1.csv"                 # depth_nm, Li, Rb[, Li_sigma, Rb_sigma]
    min_depth = "20 nm"                      # the first nanometres are not quantitative
    max_depth = "150 nm"
    surface = "reflect"                      # or "extend", "truncate" (caitlab.fit.problem)
    response = { model = "gaussian", rms = "5 nm" }

    [[profiles]]                             # an instrument export, processed by caitlab.sims
    stage = "Cs-CAIT"
    sims = { file = "stage2.txt", crater_depth = "310 nm" }
    response = { model = "gaussian", rms = "20 nm" }

    [[electrometer]]                         # optional: the whole logged I(t) curve
    file = "electrometer.csv"                # header with units: time [s], current [nA]
    quantity = "current"
    sigma = "0.2 nA"                         # its own weight: sd of one logged point

    [[charges]]                              # optional extra observation
    stage = "Rb-CAIT"
    charge = "2.52 mC"
    sigma = "0.25 mC"

    [[parameters]]
    path = "stages.Cs-CAIT.diffusivity.Cs.d"
    name = "D_Cs"
    min = "1e-24 m^2/s"
    max = "1e-21 m^2/s"
    log = true

    [[parameters]]
    path = "profiles.Cs-CAIT.rms"            # instrument response, fitted too
    min = "1 nm"
    max = "40 nm"

    [options]
    workers = 2                              # local dask processes; 0 = serial

Everything is validated with pydantic (unknown keys are errors). Dimensional values carry
their unit, as in experiment files: a parameter's ``value``, ``min`` and ``max`` take the
unit of the number its path addresses (``"1e-24 m^2/s"``), and a bare number there is
refused; dimensionless parameters (fractions, occupancies) are plain numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, model_validator

from caitlab._model import Frozen
from caitlab.config import (
    ConfigError,
    bare_numbers,
    experiment_to_dict,
    format_validation_error,
    quantity_kind,
)
from caitlab.config import load_experiment as _load_experiment
from caitlab.config import read_toml as _read_toml
from caitlab.fit.data import (
    FALLBACK_COUNTS,
    MeasuredCharge,
    MeasuredProfile,
    MeasuredTrace,
    estimated_statistics,
    profile_from_dataset,
    read_fractions_table,
)
from caitlab.fit.fitting import initial_values
from caitlab.fit.parameters import FreeParameter
from caitlab.fit.problem import RESPONSE_PREFIX, FitProblem, observation_problems
from caitlab.params import ParameterPathError, get_value, parse_quantity
from caitlab.sims.config import ResponseConfig
from caitlab.units import Charge, Length, UnitError, to_canonical

BUILTIN_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

Quantity = Annotated[float, BeforeValidator(parse_quantity)]


def parameter_kind(config: dict[str, Any], path: str) -> str | None:
    """The kind of quantity a parameter path addresses (None: dimensionless)."""
    if path.startswith(RESPONSE_PREFIX):
        return "length"  # the lengths of an instrument response
    return quantity_kind(config, path)


def _read_value(value: Any, kind: str | None) -> Any:
    if kind is not None:
        return to_canonical(value, kind, units_required=True)
    if isinstance(value, str):
        raise UnitError(f"{value!r}: this parameter is dimensionless: give a plain number")
    return value


def values_in_units(data: Any, info: ValidationInfo, fields: tuple[str, ...]) -> Any:
    """``data`` (a parameter table) with the values of ``fields`` read in the unit of the
    number its ``path`` addresses; the experiment config comes in the validation context.
    """
    config = (info.context or {}).get("experiment")
    if config is None or not isinstance(data, dict) or not isinstance(data.get("path"), str):
        return data
    path = data["path"]
    if not path.startswith(RESPONSE_PREFIX):
        try:
            get_value(config, path)
        except ParameterPathError:
            return data  # the path check names it, with close matches
    kind = parameter_kind(config, path)
    out = dict(data)
    for name in fields:
        value = out.get(name)
        try:
            if isinstance(value, list):
                out[name] = [_read_value(v, kind) for v in value]
            elif value is not None:
                out[name] = _read_value(value, kind)
        except UnitError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return out


class ProfileSpec(Frozen):
    """A measured profile: a fraction table (``file``) or an instrument export (``sims``)."""

    stage: str
    name: str | None = None
    file: Path | None = None
    sims: dict[str, Any] | None = None
    species: list[str] | None = None
    counts: float = Field(default=FALLBACK_COUNTS, gt=0)
    min_depth: Length | None = None
    max_depth: Length | None = None
    surface: Literal["reflect", "extend", "truncate"] = "reflect"
    response: ResponseConfig = ResponseConfig()

    @model_validator(mode="after")
    def _one_source(self) -> ProfileSpec:
        if (self.file is None) == (self.sims is None):
            raise ValueError(
                "give either 'file' (a fraction table) or 'sims' (an instrument export)"
            )
        return self

    def load(self, base_dir: Path) -> MeasuredProfile:
        """Read and process the profile (relative paths against ``base_dir``)."""
        return self.load_with_notes(base_dir)[0]

    def load_with_notes(self, base_dir: Path) -> tuple[MeasuredProfile, str | None]:
        """The profile, and why its counting uncertainties are estimates (or None)."""
        estimated = None
        options = {
            "response": self.response.fields(),
            "name": self.name or "",
            "surface": self.surface,
        }
        if self.sims is not None:
            bare = bare_numbers(self.sims, _sims_model())
            if bare:
                raise ValueError("; ".join(f"sims.{line}" for line in bare))
        if self.file is not None:
            path = self.file if self.file.is_absolute() else base_dir / self.file
            profile = read_fractions_table(path, self.stage, counts=self.counts, **options)
        else:
            from caitlab.sims import SimsProfileConfig

            dataset = SimsProfileConfig.model_validate(self.sims).load(base_dir)
            estimated = estimated_statistics(dataset)
            profile = profile_from_dataset(
                dataset, self.stage, fallback_counts=self.counts, **options
            )
        if self.species is not None:
            profile = profile.select(self.species)
        return profile.within(self.min_depth, self.max_depth), estimated


class ElectrometerSpec(Frozen):
    """The electrometer log as an observation: the whole I(t) or Q(t) curve, its own weight."""

    file: Path
    quantity: Literal["current", "charge"] = "current"
    sigma: float = Field(gt=0)
    name: str = "electrometer"

    @model_validator(mode="before")
    @classmethod
    def _sigma_unit(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("sigma") is not None:
            kind = "charge" if data.get("quantity") == "charge" else "current"
            try:
                data = dict(data) | {
                    "sigma": to_canonical(data["sigma"], kind, units_required=True)
                }
            except UnitError as exc:
                raise ValueError(f"sigma: {exc}") from None
        return data

    def build(self, base_dir: Path) -> MeasuredTrace:
        from caitlab.electrometer import read_electrometer

        path = self.file if self.file.is_absolute() else base_dir / self.file
        return MeasuredTrace(read_electrometer(path), self.quantity, self.sigma, self.name)


class ChargeSpec(Frozen):
    """Charge measured through the back electrode during a stage."""

    stage: str
    charge: Charge
    sigma: Charge = Field(gt=0)

    def build(self) -> MeasuredCharge:
        return MeasuredCharge(self.stage, self.charge, self.sigma)


class ParameterSpec(Frozen):
    """A free parameter: its path and how it may vary (numbers may carry units)."""

    path: str
    name: str | None = None
    value: Quantity | None = None
    min: Quantity | None = None
    max: Quantity | None = None
    log: bool = False
    expr: str | None = None
    vary: bool = True

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any, info: ValidationInfo) -> Any:
        return values_in_units(data, info, ("value", "min", "max"))

    def build(self) -> FreeParameter:
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        return FreeParameter(
            self.path, self.value, low, high, self.log, self.expr, self.name, self.vary
        )


class McmcSpec(Frozen):
    """emcee sampling of the posterior after the fit."""

    steps: int = Field(default=200, gt=0)
    burn: int = Field(default=50, ge=0)
    thin: int = Field(default=1, gt=0)
    walkers: int | None = Field(default=None, gt=0)
    seed: int = 0


class FitOptions(Frozen):
    """How to fit and where to run."""

    method: Literal["least_squares", "leastsq"] = "least_squares"
    step: float = Field(default=1e-3, gt=0, lt=0.5)
    tolerance: float = Field(default=1e-4, gt=0)
    max_nfev: int | None = Field(default=None, gt=0)
    scale_covar: bool | None = None
    conf_interval: list[str] = Field(default_factory=list)
    sigmas: list[float] = Field(default_factory=lambda: [1.0, 2.0])
    mcmc: McmcSpec | None = None
    workers: int | None = Field(default=None, ge=0)
    scheduler: str | None = None
    figure: bool = True


class FitConfig(Frozen):
    """A FIT.toml file."""

    experiment: Path
    profiles: list[ProfileSpec] = Field(default_factory=list)
    charges: list[ChargeSpec] = Field(default_factory=list)
    electrometer: list[ElectrometerSpec] = Field(default_factory=list)
    parameters: list[ParameterSpec] = Field(min_length=1)
    options: FitOptions = FitOptions()
    landscape: dict[str, Any] | None = None  # read by caitlab.landscape.study


def resolve_experiment(path: Path, base_dir: Path) -> Path:
    """The experiment file: relative to ``base_dir``, else a built-in example by name."""
    candidate = path if path.is_absolute() else base_dir / path
    if candidate.exists():
        return candidate
    builtin = BUILTIN_EXAMPLES / path.name
    if builtin.exists() and not path.is_absolute():
        return builtin
    raise FileNotFoundError(
        f"experiment: no file {candidate} (nor a built-in example {path.name!r}; "
        f"built-in: {', '.join(sorted(p.name for p in BUILTIN_EXAMPLES.glob('*.toml')))})"
    )


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML file (UTF-8); errors become :class:`ConfigError`."""
    return _read_toml(path)


def validate(
    model: type[Frozen], data: dict[str, Any], source: str, experiment: dict | None = None
) -> Any:
    """Validate ``data`` into ``model`` or raise :class:`ConfigError` naming each field.

    Dimensional values need their units; ``experiment`` (the config dictionary the
    parameter paths address) gives the unit of each parameter's values.
    """
    problems = bare_numbers(data, model)
    try:
        cfg = model.model_validate(data, context={"experiment": experiment})
    except ValidationError as exc:
        problems += format_validation_error(exc, data, model)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_observations(
    profiles: list[ProfileSpec],
    charges: list[ChargeSpec],
    config: dict[str, Any],
    base_dir: Path,
    source: str,
    electrometer: Sequence[ElectrometerSpec] = (),
) -> FitProblem:
    """Read every profile, charge and electrometer curve into a :class:`FitProblem`."""
    problems = observation_problems(config, profiles, charges)
    if problems:
        raise ConfigError(source, problems)
    loaded, estimated, traces = [], {}, []
    for k, spec in enumerate(profiles):
        try:
            profile, why = spec.load_with_notes(base_dir)
            loaded.append(profile)
            if why:
                estimated[profile.name] = why
        except ValidationError as exc:  # the `sims` table
            lines = format_validation_error(exc, spec.sims, _sims_model())
            problems += [f"profiles[{k}].sims.{line}" for line in lines]
        except (ValueError, OSError) as exc:
            problems.append(f"profiles[{k}]: {exc}")
    for k, trace_spec in enumerate(electrometer):
        try:
            traces.append(trace_spec.build(base_dir))
        except (ValueError, OSError) as exc:
            problems.append(f"electrometer[{k}]: {exc}")
    if problems:
        raise ConfigError(source, problems)
    try:
        return FitProblem(  # each profile carries its own surface
            config,
            tuple(loaded),
            tuple(c.build() for c in charges),
            tuple(traces),
            estimated=estimated,
        )
    except ValueError as exc:
        raise ConfigError(source, [str(exc)]) from None


def _sims_model() -> type:
    from caitlab.sims import SimsProfileConfig

    return SimsProfileConfig


def check_parameters(problem: FitProblem, free: list[FreeParameter], source: str) -> None:
    """Every path must address a number; unknown ones are listed with close matches."""
    problems = []
    for k, spec in enumerate(free):
        try:
            problem.check_path(spec.path)
        except ParameterPathError as exc:
            problems.append(f"parameters[{k}].path: {exc}")
    if problems:
        raise ConfigError(source, problems)


def read_study_file(path: Path, model: type) -> tuple[Any, Path, dict[str, Any], dict, Path]:
    """Read and validate a FIT.toml or SWEEP.toml and the experiment it names.

    Returns the validated file, the folder relative paths start from, the experiment as a
    full config dictionary, the file as read, and the experiment file's path.
    """
    raw = read_toml(path)
    base = path.resolve().parent
    if not isinstance(raw.get("experiment"), str):
        validate(model, raw, str(path))  # names the missing or bad key
    try:
        exp_path = resolve_experiment(Path(raw["experiment"]), base)
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [str(exc)]) from None
    config = experiment_to_dict(_load_experiment(exp_path))
    cfg = validate(model, raw, str(path), experiment=config)
    return cfg, base, config, raw, exp_path


def load_fit_config(
    path: str | os.PathLike,
) -> tuple[FitConfig, FitProblem, list[FreeParameter], dict[str, Any]]:
    """Read a FIT.toml: the validated config, the problem, the free parameters, the input.

    Raises
    ------
    ConfigError
        With one line per problem (field path and what to do).
    """
    path = Path(path)
    cfg, base, config, raw, exp_path = read_study_file(path, FitConfig)
    if not cfg.profiles and not cfg.charges and not cfg.electrometer:
        raise ConfigError(str(path), ["profiles: required: add at least one [[profiles]]"])
    problem = load_observations(
        cfg.profiles, cfg.charges, config, base, str(path), cfg.electrometer
    )
    try:
        free = [p.build() for p in cfg.parameters]
    except ValueError as exc:
        raise ConfigError(str(path), [f"parameters: {exc}"]) from None
    check_parameters(problem, free, str(path))
    try:
        initial_values(problem, free)
    except ValueError as exc:
        raise ConfigError(str(path), [f"parameters: {exc}"]) from None
    record = {
        "fit_file": str(path.resolve()),
        "fit_config": raw,
        "experiment_file": str(exp_path),
        "experiment": config,
    }
    return cfg, problem, free, record


def run_fit_config(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    announce: Any = None,
    progress: Any = None,
) -> Any:
    """Load FIT.toml, fit, and (if ``out`` is given) save everything there.

    Parameters
    ----------
    path : path-like
        The fit file.
    out : path-like, optional
        Output folder (``fit.json``, ``report.txt``, ``best/``, ``fit.png``).
    scheduler, workers : optional
        Override ``options.scheduler`` / ``options.workers``.
    announce : callable, optional
        Told where a dask cluster runs (its dashboard).
    progress : callable, optional
        ``progress(evaluations, best_chisqr, elapsed_s)`` during the fit.

    Returns
    -------
    caitlab.fit.FitResult
    """
    from caitlab.fit.executors import open_executor
    from caitlab.fit.fitting import fit

    cfg, problem, free, record = load_fit_config(path)
    opts = cfg.options
    scheduler = scheduler or opts.scheduler
    workers = opts.workers if workers is None else workers
    mcmc = opts.mcmc.model_dump() if opts.mcmc else None
    with open_executor(scheduler, workers, announce=announce) as executor:
        result = fit(
            problem,
            free,
            executor=executor,
            method=opts.method,
            step=opts.step,
            tolerance=opts.tolerance,
            max_nfev=opts.max_nfev,
            scale_covar=opts.scale_covar,
            conf_interval=opts.conf_interval,
            sigmas=opts.sigmas,
            mcmc=mcmc,
            input=record,
            progress=progress,
        )
    if out is not None:
        result.save(out, figure=opts.figure)
    return result


__all__ = [
    "ChargeSpec",
    "ElectrometerSpec",
    "FitConfig",
    "FitOptions",
    "ParameterSpec",
    "ProfileSpec",
    "load_fit_config",
    "load_observations",
    "read_toml",
    "resolve_experiment",
    "run_fit_config",
]
