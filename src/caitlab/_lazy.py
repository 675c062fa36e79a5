"""Lazy package attributes (PEP 562): a package's public names are imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, lazy: dict[str, str], namespace: dict[str, Any], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's dotted name, e.g. ``"caitlab.sims"``.
    lazy : dict
        Public name -> the submodule (relative to ``package``) that defines it.
    namespace : dict
        The package's ``globals()``: resolved names are cached there.
    public : list of str
        The package's ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        """A public name on first use; ``<package>.<module>`` also without importing it."""
        if name in lazy:
            value = getattr(importlib.import_module(f"{package}.{lazy[name]}"), name)
        elif name.startswith("__"):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
