"""Built-in example configurations (TOML files shipped with the package).

``double-cait``: the paper's sequential double-CAIT (Rb+ then Cs+ on Li3B7O12).
``quick-double-cait``: the same physics, shorter and coarser, for tests and tutorials.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


#: one line on each built-in example, as ``caitlab example`` lists it
DESCRIPTIONS = {
    "double-cait": "the paper's sequential double-CAIT, Rb+ then Cs+ on Li3B7O12 (~1 s)",
    "quick-double-cait": "the same physics, stages a quarter as long on a coarser mesh "
    "(tests, tutorials, fits; well under 1 s)",
}


def example_description(name: str) -> str:
    """The one-line description of the built-in example ``name`` (its file's first comment
    line where :data:`DESCRIPTIONS` has none)."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    first = example_path(name).read_text(encoding="utf-8").splitlines()[:1]
    return first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""


def example_names() -> list[str]:
    """Names of the built-in example configs."""
    return sorted(p.stem for p in _HERE.glob("*.toml"))


def example_path(name: str) -> Path:
    """Path of the built-in example ``name`` (see :func:`example_names`)."""
    path = _HERE / f"{name}.toml"
    if not path.exists():
        raise KeyError(f"no example {name!r}; examples: {', '.join(example_names())}")
    return path


def load_example(name: str):
    """The built-in example ``name`` as an :class:`~caitlab.experiment.Experiment`."""
    from caitlab.config import load_experiment

    return load_experiment(example_path(name))


__all__ = ["DESCRIPTIONS", "example_description", "example_names", "example_path", "load_example"]
