"""TOML configuration: read, validate and write experiments.

A config file is the TOML form of :class:`caitlab.experiment.Experiment`; units go in the
values (``thickness = "2.325 mm"``), bare numbers are SI (energies in eV). Validation errors
are collected into one :class:`ConfigError` whose message lists every problem with the path of
the field and what to do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from caitlab.experiment import Experiment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """An invalid configuration; ``problems`` holds one line per error."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


_HINTS = {
    "extra_forbidden": "unknown key: remove it or check its spelling",
    "missing": "required: add it",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
}


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"beam", "constant", "sed", "tabulated", "rest"} and parts:
            continue  # discriminated-union tags pydantic puts in the path
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def format_validation_error(error: ValidationError) -> list[str]:
    """One readable line per pydantic error: ``path: message (got value)``."""
    lines = []
    for item in error.errors():
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ")
        if kind in _HINTS:
            message = _HINTS[kind].format(**item.get("ctx", {}))
        got = item.get("input")
        hide = kind in {"missing", "model_type"} or isinstance(got, dict)
        shown = "" if hide else f" (got {got!r})"
        lines.append(f"{_location(item['loc'])}: {message}{shown}")
    return lines


def experiment_from_dict(data: dict[str, Any], source: str = "config") -> Experiment:
    """Validate a config dictionary into an :class:`Experiment` or raise :class:`ConfigError`."""
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc)) from None


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate a TOML experiment file, or a built-in example by name.

    ``load_experiment("quick-double-cait")`` reads the packaged example of that name
    (:func:`caitlab.examples.example_names`) unless a file of that name exists.
    """
    from caitlab.examples import example_names, example_path

    if not Path(path).exists() and str(path) in example_names():
        path = example_path(str(path))
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return experiment_from_text(text, str(path))


def experiment_from_text(text: str, source: str = "config") -> Experiment:
    """Parse TOML text and validate it into an :class:`Experiment`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    return experiment_from_dict(data, source)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def experiment_to_dict(experiment: Experiment) -> dict[str, Any]:
    """The full config (every default spelled out, SI numbers) as a TOML-ready dictionary."""
    data = experiment.model_dump(mode="json")
    for stage in data["stages"]:
        beam = stage.get("beam")
        if beam is not None and beam.get("aperture_distance") is None:
            beam["aperture_distance"] = "none"  # not the 8 mm default: TOML has no null
    data = _drop_none(data)
    data["sample"]["species"] = {
        s.pop("name"): s for s in data["sample"]["species"]
    }
    return data


def experiment_to_toml(experiment: Experiment) -> str:
    """The full config as TOML text; reading it back gives an equal experiment."""
    return tomli_w.dumps(experiment_to_dict(experiment))


__all__ = [
    "ConfigError",
    "experiment_from_dict",
    "experiment_from_text",
    "experiment_to_dict",
    "experiment_to_toml",
    "load_experiment",
]
