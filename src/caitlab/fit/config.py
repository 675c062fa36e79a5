"""The fit file (FIT.toml): experiment, measured profiles, response, free parameters.

Example::

    experiment = "double-cait.toml"          # relative to this file, or a built-in example

    [[profiles]]                             # measured after stage "Rb-CAIT"
    stage = "Rb-CAIT"
    file = "data/stage1.csv"                 # depth_nm, Li, Rb[, Li_sigma, Rb_sigma]
    max_depth = "150 nm"
    response = { model = "gaussian", rms = "5 nm" }

    [[profiles]]                             # an instrument export, processed by caitlab.sims
    stage = "Cs-CAIT"
    sims = { file = "stage2.txt", crater_depth = "310 nm" }
    response = { model = "gaussian", rms = "20 nm" }

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

Everything is validated with pydantic (unknown keys are errors); numbers take units.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from caitlab._model import Frozen
from caitlab.config import ConfigError, experiment_to_dict, format_validation_error
from caitlab.config import load_experiment as _load_experiment
from caitlab.fit.data import (
    FALLBACK_COUNTS,
    MeasuredCharge,
    MeasuredProfile,
    profile_from_dataset,
    read_fractions_table,
)
from caitlab.fit.fitting import initial_values
from caitlab.fit.parameters import FreeParameter
from caitlab.fit.problem import FitProblem
from caitlab.params import ParameterPathError, parse_quantity
from caitlab.units import Length

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILTIN_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _charge(value: Any) -> float:
    """A charge in C from a number or a string such as ``"2.52 mC"``."""
    if isinstance(value, str):
        from caitlab.units import _parse  # the one pint registry of caitlab

        try:
            return float(_parse(value.strip()).to("C").magnitude)
        except Exception as exc:  # pint raises several unrelated types
            raise ValueError(f"cannot read {value!r} as a charge (e.g. '2.5 mC')") from exc
    return float(value)


Charge = Annotated[float, BeforeValidator(_charge)]
Quantity = Annotated[float, BeforeValidator(parse_quantity)]


class ResponseSpec(Frozen):
    """Instrument response (fields of :class:`caitlab.sims.ResponseConfig`)."""

    model: Literal["gaussian", "mri"] = "gaussian"
    rms: Length = Field(default=0.0, ge=0)
    mixing: Length = Field(default=0.0, ge=0)
    roughness: Length = Field(default=0.0, ge=0)
    information: Length = Field(default=0.0, ge=0)

    def fields(self) -> dict[str, Any]:
        """The response as a dict: the model and its lengths (m)."""
        if self.model == "gaussian":
            return {"model": "gaussian", "rms": self.rms}
        return {"model": "mri", "mixing": self.mixing, "roughness": self.roughness,
                "information": self.information}  # fmt: skip


class ProfileSpec(Frozen):
    """A measured profile: a fraction table (``file``) or an instrument export (``sims``)."""

    stage: str
    name: str | None = None
    file: Path | None = None
    sims: dict[str, Any] | None = None
    species: list[str] | None = None
    counts: float = Field(default=FALLBACK_COUNTS, gt=0)
    max_depth: Length | None = None
    response: ResponseSpec = ResponseSpec()

    @model_validator(mode="after")
    def _one_source(self) -> ProfileSpec:
        if (self.file is None) == (self.sims is None):
            raise ValueError(
                "give either 'file' (a fraction table) or 'sims' (an instrument export)"
            )
        return self

    def load(self, base_dir: Path) -> MeasuredProfile:
        """Read and process the profile (relative paths against ``base_dir``)."""
        options = {"response": self.response.fields(), "name": self.name or ""}
        if self.file is not None:
            path = self.file if self.file.is_absolute() else base_dir / self.file
            profile = read_fractions_table(path, self.stage, counts=self.counts, **options)
        else:
            from caitlab.sims import SimsProfileConfig

            dataset = SimsProfileConfig.model_validate(self.sims).load(base_dir)
            profile = profile_from_dataset(dataset, self.stage, fallback_counts=self.counts,
                                           **options)  # fmt: skip
        if self.species is not None:
            profile = profile.select(self.species)
        return profile.limited(self.max_depth)


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
    min: Quantity = -math.inf
    max: Quantity = math.inf
    log: bool = False
    expr: str | None = None
    vary: bool = True

    def build(self) -> FreeParameter:
        return FreeParameter(
            self.path, self.value, self.min, self.max, self.log, self.expr, self.name, self.vary
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
    """Read a TOML file; errors become :class:`ConfigError`."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None


def validate(model: type[Frozen], data: dict[str, Any], source: str) -> Any:
    """Validate ``data`` into ``model`` or raise :class:`ConfigError` naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc)) from None


def _check_stages(
    profiles: list[ProfileSpec], charges: list[ChargeSpec], config: dict[str, Any]
) -> list[str]:
    """Problems with the stage and name of each observation, one line each."""
    stages = [s["name"] for s in config["stages"]]
    problems, names = [], set()
    for where, items in (("profiles", profiles), ("charges", charges)):
        for k, spec in enumerate(items):
            if spec.stage not in stages:
                problems.append(f"{where}[{k}].stage: no stage {spec.stage!r} in the "
                                f"experiment; use one of {stages}")  # fmt: skip
    for k, spec in enumerate(profiles):
        name = spec.name or spec.stage
        if name in names:
            problems.append(f"profiles[{k}].name: {name!r} is used twice; give each "
                            "profile of the same stage its own name")  # fmt: skip
        names.add(name)
    return problems


def load_observations(
    profiles: list[ProfileSpec], charges: list[ChargeSpec], config: dict[str, Any],
    base_dir: Path, source: str,
) -> FitProblem:  # fmt: skip
    """Read every profile and charge into a :class:`FitProblem` on ``config``."""
    problems = _check_stages(profiles, charges, config)
    if problems:
        raise ConfigError(source, problems)
    loaded = []
    for k, spec in enumerate(profiles):
        try:
            loaded.append(spec.load(base_dir))
        except ValidationError as exc:  # the `sims` table
            problems += [f"profiles[{k}].sims.{line}" for line in format_validation_error(exc)]
        except (ValueError, OSError) as exc:
            problems.append(f"profiles[{k}]: {exc}")
    if problems:
        raise ConfigError(source, problems)
    try:
        return FitProblem(config, loaded, [c.build() for c in charges])
    except ValueError as exc:
        raise ConfigError(source, [str(exc)]) from None


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
    cfg = validate(model, raw, str(path))
    base = path.resolve().parent
    try:
        exp_path = resolve_experiment(cfg.experiment, base)
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [str(exc)]) from None
    return cfg, base, experiment_to_dict(_load_experiment(exp_path)), raw, exp_path


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
    if not cfg.profiles and not cfg.charges:
        raise ConfigError(str(path), ["profiles: required: add at least one [[profiles]]"])
    problem = load_observations(cfg.profiles, cfg.charges, config, base, str(path))
    try:
        free = [p.build() for p in cfg.parameters]
    except ValueError as exc:
        raise ConfigError(str(path), [f"parameters: {exc}"]) from None
    check_parameters(problem, free, str(path))
    try:
        initial_values(problem, free)
    except ValueError as exc:
        raise ConfigError(str(path), [f"parameters: {exc}"]) from None
    record = {"fit_file": str(path.resolve()), "fit_config": raw,
              "experiment_file": str(exp_path), "experiment": config}  # fmt: skip
    return cfg, problem, free, record


def run_fit_config(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
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
    with open_executor(scheduler, workers) as executor:
        result = fit(
            problem, free, executor=executor, method=opts.method, step=opts.step,
            tolerance=opts.tolerance, max_nfev=opts.max_nfev, scale_covar=opts.scale_covar,
            conf_interval=opts.conf_interval, sigmas=opts.sigmas, mcmc=mcmc, input=record,
        )  # fmt: skip
    if out is not None:
        result.save(out, figure=opts.figure)
    return result


__all__ = [
    "ChargeSpec",
    "FitConfig",
    "FitOptions",
    "ParameterSpec",
    "ProfileSpec",
    "ResponseSpec",
    "load_fit_config",
    "load_observations",
    "read_toml",
    "resolve_experiment",
    "run_fit_config",
]
