"""TOML configuration: read, validate and write experiments.

A config file is the TOML form of :class:`caitlab.experiment.Experiment`. Dimensional values
carry their unit (``thickness = "2.325 mm"``): a bare number is refused with the fix in the
message (:mod:`caitlab.units`); dimensionless values (fractions, ``relative_permittivity``)
are plain numbers. Every number must be finite. Validation errors are collected into one
:class:`ConfigError` whose message lists every problem with the path of the field (stages
and species by name, as in :mod:`caitlab.params`) and what to do.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from pydantic import BaseModel, ValidationError

from caitlab.experiment import Experiment
from caitlab.mesh import MAX_CELLS
from caitlab.params import path_step
from caitlab.solver import MAX_STEPS_PER_STAGE as MAX_FORCED_STEPS
from caitlab.units import UnitKind, bare_number_message, spelled

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
    "finite_number": "must be a finite number",
    "too_short": "needs at least {min_length} item(s)",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string (in quotes)",
    "model_type": "must be a table ([section] or {{key = value, ...}})",
    "model_attributes_type": "must be a table ([section] or {{key = value, ...}})",
    "dict_type": "must be a table ({{key = value, ...}})",
    "tuple_type": "must be a list ([...]; [[stages]] for stages)",
    "list_type": "must be a list ([...])",
}
_MAX_SHOWN = 60  # characters of a rejected value shown in a message


# --------------------------------------------------------------------------- the schema
def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """An annotation without ``Annotated``, and the metadata it carried."""
    metadata: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        metadata += list(annotation.__metadata__)
        annotation = typing.get_args(annotation)[0]
    return annotation, metadata


def _members(annotation: Any) -> list[Any]:
    """The types of a union (``None`` left out), or the annotation itself."""
    bare, _ = _strip(annotation)
    if typing.get_origin(bare) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(bare) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _discriminator(annotation: Any) -> str | None:
    return next(
        (
            getattr(m, "discriminator", None)
            for m in _strip(annotation)[1]
            if getattr(m, "discriminator", None)
        ),
        None,
    )


def _tag(model: Any, field: str) -> Any:
    is_model = isinstance(model, type) and issubclass(model, BaseModel)
    info = model.model_fields.get(field) if is_model else None
    return None if info is None else info.default


def _step(annotation: Any, key: Any, node: Any = None, tagged: bool = True) -> list[Any]:
    """Annotations reached from ``annotation`` by ``key`` (a field, index or tag).

    ``tagged``: ``key`` follows pydantic's error locations, which name the member of a
    discriminated union before entering it; otherwise the member is chosen by ``node``.
    """
    disc = _discriminator(annotation)
    if disc is not None:
        members = [_strip(m)[0] for m in _members(annotation)]
        if tagged:
            return [m for m in members if _tag(m, disc) == key]
        tag = node.get(disc) if isinstance(node, Mapping) else None
        chosen = [m for m in members if tag is None or _tag(m, disc) == tag]
        return [a for m in chosen for a in _step(m, key, node, tagged)]
    found = []
    for member in _members(annotation):
        bare, _ = _strip(member)
        origin = typing.get_origin(bare)
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            info = bare.model_fields.get(key) if isinstance(key, str) else None
            if info is not None:
                metadata = (info.annotation, info, *info.metadata)
                found.append(typing.Annotated[metadata])
        elif origin in (tuple, list) and typing.get_args(bare):
            found.append(typing.get_args(bare)[0])
        elif origin is dict:
            found.append(typing.get_args(bare)[1])
    return found


def _keys(annotations: list[Any]) -> list[str]:
    """Field names of the models among ``annotations``."""
    names: list[str] = []
    for annotation in annotations:
        for member in _members(annotation):
            bare, _ = _strip(member)
            if isinstance(bare, type) and issubclass(bare, BaseModel):
                names += [n for n in bare.model_fields if n not in names]
    return names


def _unit_kind(annotation: Any) -> str | None:
    for member in _members(annotation):
        for item in _strip(member)[1]:
            if isinstance(item, UnitKind):
                return item.kind
    return None


def quantity_kind(config: dict[str, Any], path: str) -> str | None:
    """The kind of quantity (``"length"``, ...) at a parameter path, None if dimensionless.

    ``config`` is the experiment dictionary (:func:`experiment_to_dict`) the path walks;
    the path need not exist (no error is raised for an unknown path).
    """
    annotations: list[Any] = [Experiment]
    node: Any = config
    for part in path.split("."):
        key: Any = int(part) if part.lstrip("-").isdigit() else part
        annotations = [a for ann in annotations for a in _step(ann, key, node, tagged=False)]
        found = path_step(node, part)
        node = None if found is None else found[1]
    kinds = {_unit_kind(a) for a in annotations}
    return next(iter(kinds)) if len(kinds) == 1 else None


# --------------------------------------------------------------------------- messages
#: lists whose elements messages name by their ``name`` (as parameter paths do)
_NAMED_LISTS = ("stages", "species")


def _element_name(items: Any, index: int, parent: Any = "stages") -> str | None:
    """The name of element ``index`` of a stage list or species table, if unique."""
    if parent not in _NAMED_LISTS:
        return None
    if isinstance(items, dict):  # species written as a table {Li = {...}}
        names = list(items)
    elif isinstance(items, list | tuple):
        names = [i.get("name") if isinstance(i, dict) else None for i in items]
    else:
        return None
    name = names[index] if 0 <= index < len(names) else None
    if not isinstance(name, str) or not name or names.count(name) > 1 or "." in name:
        return None
    return name


def _node(data: Any, key: Any) -> Any:
    if isinstance(data, dict):
        if isinstance(key, int) and key not in data:
            return list(data.values())[key] if 0 <= key < len(data) else None
        return data.get(key)
    if isinstance(data, list | tuple) and isinstance(key, int):
        return data[key] if 0 <= key < len(data) else None
    return None


def describe_location(
    loc: tuple[Any, ...], data: Any = None, model: type[BaseModel] = Experiment
) -> tuple[str, list[Any]]:
    """A readable path for a pydantic error location and the annotations found there.

    Union tags are left out; list elements with a unique ``name`` (stages, species) are
    shown by name, as in parameter paths (``stages.Rb-CAIT.beam.current``).
    """
    parts: list[str] = []
    annotations: list[Any] = [model]
    node = data
    previous = None
    for item in loc:
        is_tag = any(_discriminator(a) for a in annotations)
        annotations = [a for ann in annotations for a in _step(ann, item)]
        if is_tag:
            continue
        if isinstance(item, int):
            name = _element_name(node, item, previous)
            parts.append(f".{name}" if name else f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
        node = _node(node, item)
        previous = item
    return "".join(parts).lstrip("."), annotations


def _walk_numbers(node: Any, annotations: list[Any], path: str) -> Any:
    """``(path, number, kind)`` of every number in ``node`` (kind None: dimensionless)."""
    if isinstance(node, dict):
        for key, value in node.items():
            inner = [a for ann in annotations for a in _step(ann, key, node, tagged=False)]
            yield from _walk_numbers(value, inner, f"{path}.{key}".lstrip("."))
    elif isinstance(node, list | tuple):
        for k, value in enumerate(node):
            inner = [a for ann in annotations for a in _step(ann, k, value, tagged=False)]
            name = _element_name(node, k, path.rsplit(".", 1)[-1])
            yield from _walk_numbers(value, inner, f"{path}.{name}" if name else f"{path}[{k}]")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        kinds = {_unit_kind(a) for a in annotations}
        yield path, node, next(iter(kinds)) if len(kinds) == 1 else None


def bare_numbers(data: Any, model: type[BaseModel] = Experiment) -> list[str]:
    """One problem per bare number given for a dimensional field of ``model`` in ``data``.

    Files must give dimensional values with their unit: ``thickness = "2.325 mm"``.
    """
    return [
        f"{path}: {bare_number_message(value, kind)}"
        for path, value, kind in _walk_numbers(data, [model], "")
        if kind
    ]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _message(item: Mapping[str, Any], parent: list[Any], list_keys: bool = True) -> str:
    kind = item["type"]
    message = item["msg"].removeprefix("Value error, ")
    if kind in _HINTS:
        context = {
            k: f"{v:g}" if isinstance(v, float) else v for k, v in item.get("ctx", {}).items()
        }
        message = _HINTS[kind].format(**context)
    if kind == "extra_forbidden":
        key = str(item["loc"][-1])
        known = _keys(parent)
        lower = {k.lower(): k for k in known}
        close = difflib.get_close_matches(key.lower(), list(lower), n=3, cutoff=0.6)
        if close:
            message += f"; did you mean {', '.join(repr(lower[c]) for c in close)}?"
        elif known and list_keys:
            message += f" (known keys: {', '.join(known)})"
    elif kind == "union_tag_not_found":
        ctx = item.get("ctx", {})
        message = f"{ctx.get('discriminator', 'a tag')} is required"
        if ctx.get("discriminator") == "'type'":
            message += ": type = 'beam' or type = 'rest'"
    elif kind == "union_tag_invalid":
        ctx = item.get("ctx", {})
        message = (
            f"{ctx.get('discriminator', 'tag')} must be one of "
            f"{ctx.get('expected_tags', '')}, got {ctx.get('tag')!r}"
        )
    return message


def format_validation_error(
    error: ValidationError, data: Any = None, model: type[BaseModel] | None = None
) -> list[str]:
    """One readable line per field: ``path: message (got value)``.

    Parameters
    ----------
    error : ValidationError
        From pydantic.
    data : dict, optional
        The input, to name stages and species (instead of their index).
    model : type, optional
        The validated model (default :class:`Experiment`), for "did you mean" hints.
    """
    lines: dict[str, str] = {}
    listed: set[str] = set()
    model = model or Experiment
    errors = error.errors()
    for item in errors:
        loc = item["loc"]
        if item["type"] == "too_short" and any(
            len(e["loc"]) > len(loc) and e["loc"][: len(loc)] == loc for e in errors
        ):
            continue  # pydantic's count of the valid items left when some failed
        path, here = describe_location(loc, data, model)
        if path in lines:  # the other branches of a union: one line per field is enough
            continue
        parent_path, parent = describe_location(item["loc"][:-1], data, model)
        message = _message(item, parent, parent_path not in listed)
        field, _, rest = message.partition(": ")
        if item["type"] == "value_error" and rest and field in _keys(here):
            path, message = f"{path}.{field}", rest  # a model check that names its field
        if item["type"] == "extra_forbidden":
            listed.add(parent_path)  # the known keys once per table
        got = item.get("input")
        hide = (
            item["type"] in {"missing", "model_type", "extra_forbidden"}
            or isinstance(got, dict)
            or "got " in message
            or (isinstance(got, str) and repr(got) in message)
        )
        shown = "" if hide else f" (got {_shown(got)})"
        lines[path] = f"{path}: {message}{shown}" if path else f"{message}{shown}"
    return list(lines.values())


# --------------------------------------------------------------------------- reading
def _looks_utf16(head: bytes) -> bool:
    """ASCII text in UTF-16 without a byte-order mark: every other byte is zero."""
    odd, even = head[1::2], head[0::2]
    return len(head) >= 4 and any(
        a.count(0) == len(a) and b.count(0) == 0 for a, b in ((odd, even), (even, odd))
    )


def read_text(path: str | os.PathLike) -> str:
    """A config file's text; not UTF-8 (binary, UTF-16, latin-1) is a clear :class:`ConfigError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(raw[:200]):
        raise ConfigError(str(path), ["the file is UTF-16 text: save it as UTF-8"])
    if b"\0" in raw:
        raise ConfigError(str(path), ["not a text file (it holds binary data): give a TOML config"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [
                f"not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} (a latin-1 or "
                "Windows file?): save it as UTF-8"
            ],
        ) from None


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML file (UTF-8); every error is a :class:`ConfigError`."""
    return parse_toml(read_text(path), str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text as a dict; a syntax error is a :class:`ConfigError` naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None


def experiment_from_dict(
    data: dict[str, Any], source: str = "config", units_required: bool = False
) -> Experiment:
    """Validate a config dictionary into an :class:`Experiment` or raise :class:`ConfigError`.

    Parameters
    ----------
    data : dict
        The config; dimensional numbers in SI (energies in eV) or strings with units.
    source : str
        Named in the error message.
    units_required : bool
        Refuse bare numbers for dimensional fields (as in files).
    """
    if not isinstance(data, dict):
        raise ConfigError(source, ["the config must be a table of keys and values"])
    problems = bare_numbers(data, Experiment) if units_required else []
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        messages = format_validation_error(exc, data, Experiment)
        known = {p.split(":")[0] for p in problems}
        raise ConfigError(
            source, problems + [m for m in messages if m.split(":")[0] not in known]
        ) from None
    problems += check_sizes(experiment)
    if problems:
        raise ConfigError(source, problems)
    return experiment


#: largest mesh, output and least number of time steps an experiment may ask for (memory
#: and time stay bounded)
MAX_FRAMES = 10_000


def check_sizes(experiment: Experiment) -> list[str]:
    """Problems with sizes no run can afford, and a step tolerance no run can honour."""
    mesh, problems = experiment.mesh, []
    cell = mesh.front_cell / mesh.refine
    fine = min(mesh.fine_depth, experiment.sample.thickness)
    if fine / cell > MAX_CELLS:
        problems.append(
            f"mesh: {fine / cell:.3g} cells in the fine region (mesh.fine_depth / "
            f"(mesh.front_cell / mesh.refine)); at most {MAX_CELLS}: coarsen the mesh"
        )
    if experiment.output.frames > MAX_FRAMES:
        problems.append(
            f"output.frames: at most {MAX_FRAMES} per stage (got {experiment.output.frames})"
        )
    longest = max(stage.duration for stage in experiment.stages)
    if longest / experiment.solver.max_step > MAX_FORCED_STEPS:
        problems.append(
            f"solver.max_step ({experiment.solver.max_step:g} s) forces more than "
            f"{MAX_FORCED_STEPS:.0e} steps on a {longest:g} s stage: make it larger"
        )
    if experiment.solver.first_step > experiment.solver.max_step:
        problems.append("solver.first_step must not exceed solver.max_step")
    problems += _too_fast(experiment)
    if experiment.solver.tolerance > cell:
        problems.append(
            f"solver.tolerance ({experiment.solver.tolerance:g} m) must be below the front "
            f"cell ({cell:g} m): a larger error per step resolves nothing"
        )
    return problems


def _too_fast(experiment: Experiment) -> list[str]:
    """Diffusion models whose D, at the stage's temperature, exceeds :data:`D_MAX`."""
    from caitlab.diffusivity import D_MAX

    n0, problems = experiment.sample.mobile_ion_density, []
    grid = np.linspace(0.0, 1.0, 21)
    for stage in experiment.stages:
        for name, model in stage.diffusivity.items():
            try:
                log_d = float(np.max(model.log_diffusivity(grid, stage.temperature, n0)))
            except ValueError:
                continue  # a model that cannot scale to this temperature: reported elsewhere
            if not log_d <= math.log(D_MAX):
                problems.append(
                    f"stages.{stage.name}.diffusivity.{name}: D reaches "
                    f"{math.exp(min(log_d, 700.0)):.3g} m^2/s at "
                    f"{stage.temperature:g} K, beyond any solid ion conductor (at most "
                    f"{D_MAX:g} m^2/s)"
                )
    return problems


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate a TOML experiment file (dimensional values need their units), or
    a built-in example by name.

    ``load_experiment("quick-double-cait")`` reads the packaged example of that name
    (:func:`caitlab.examples.example_names`) unless a file of that name exists.
    """
    from caitlab.examples import example_names, example_path

    if not Path(path).exists() and str(path) in example_names():
        path = example_path(str(path))
    return experiment_from_text(read_text(path), str(path))


def experiment_from_text(
    text: str, source: str = "config", units_required: bool = True
) -> Experiment:
    """Parse TOML text and validate it into an :class:`Experiment`."""
    return experiment_from_dict(parse_toml(text, source), source, units_required)


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
        if not stage.get("coupling"):
            stage.pop("coupling", None)  # no Onsager coupling: no empty table in the file
    data = _drop_none(data)
    data["sample"]["species"] = {s.pop("name"): s for s in data["sample"]["species"]}
    return data


def _with_units(node: Any, annotations: list[Any]) -> Any:
    """``node`` with every dimensional number written with its canonical unit."""
    kind = _unit_kind(annotations[0]) if len(annotations) == 1 else None
    if isinstance(node, dict):
        return {
            k: _with_units(v, [a for ann in annotations for a in _step(ann, k, node, tagged=False)])
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [
            _with_units(v, [a for ann in annotations for a in _step(ann, k, v, False)])
            for k, v in enumerate(node)
        ]
    if kind is not None and isinstance(node, float | int) and not isinstance(node, bool):
        return spelled(node, kind)
    return node


def experiment_to_toml(experiment: Experiment) -> str:
    """The full config as TOML text, every number with its unit, in the unit that spells it
    shortest (``"2.325 mm"``, ``"94.46 h"``, :func:`caitlab.units.spelled`); reading it
    back gives an equal experiment."""
    return tomli_w.dumps(_with_units(experiment_to_dict(experiment), [Experiment]))


__all__ = [
    "ConfigError",
    "check_sizes",
    "describe_location",
    "experiment_from_dict",
    "experiment_from_text",
    "experiment_to_dict",
    "experiment_to_toml",
    "format_validation_error",
    "load_experiment",
    "quantity_kind",
    "read_text",
    "read_toml",
]
