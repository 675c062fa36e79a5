"""Free parameters: which numbers of a fit problem vary, and their lmfit form.

A :class:`FreeParameter` names a number by its path (:mod:`caitlab.params`) and says how it
may vary: bounds, a log scale (for diffusion coefficients and prefactors, which span
orders of magnitude), or an expression tying it to others. :func:`build_parameters` turns a
list of them into :class:`lmfit.Parameters`:

* a linear parameter ``name`` is an lmfit parameter ``name`` in its own unit;
* a log parameter ``name`` is varied as ``log10_name`` (bounds in log10) and ``name`` is the
  derived ``10**log10_name``, so expressions and reports see the value in its unit;
* a tied parameter is ``name`` with ``expr`` (lmfit syntax, using other names).

:func:`path_values` maps lmfit values back to ``{path: value}`` for the residual.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from caitlab.params import parse_quantity, safe_name

if TYPE_CHECKING:
    import lmfit

LOG_PREFIX = "log10_"


@dataclass(frozen=True)
class FreeParameter:
    """A number of the fit problem that the fit may change.

    Attributes
    ----------
    path : str
        Its path, e.g. ``"stages.Cs-CAIT.diffusivity.Cs.d"`` or ``"profiles.Cs-CAIT.rms"``.
    value : float, optional
        Initial value (canonical unit, or a unit string or pint Quantity); default the value
        in the config.
    min, max : float
        Bounds (as ``value``); a log parameter needs ``min > 0`` if bounded below.
    log : bool
        Vary log10 of the value.
    expr : str, optional
        Tie it to other parameters by an lmfit expression of their names.
    name : str, optional
        Name in expressions and reports; default made from the path.
    vary : bool
        False keeps it fixed (still reported).
    """

    path: str
    value: float | None = None
    min: float = -math.inf
    max: float = math.inf
    log: bool = False
    expr: str | None = None
    name: str | None = None
    vary: bool = True

    def __post_init__(self) -> None:
        from caitlab._model import quantities_as_text

        for bound in ("value", "min", "max"):
            given = getattr(self, bound)
            if given is not None and not isinstance(given, (int, float)):
                object.__setattr__(self, bound, parse_quantity(quantities_as_text(given)))
        name = safe_name(self.path) if self.name is None else self.name
        object.__setattr__(self, "name", name)
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a valid identifier")
        if self.min >= self.max:
            raise ValueError(f"{self.path}: min ({self.min}) must be below max ({self.max})")
        if self.log and self.min < 0:
            raise ValueError(f"{self.path}: a log-scale parameter needs min >= 0")
        if self.expr is not None and self.log:
            raise ValueError(f"{self.path}: a tied parameter (expr) cannot also be log")

    @property
    def lmfit_name(self) -> str:
        """Name of the lmfit parameter that the minimiser varies."""
        assert self.name is not None  # set by __post_init__
        return LOG_PREFIX + self.name if self.log else self.name


def _log10(value: float) -> float:
    return math.log10(value) if value > 0 else -math.inf if value == 0 else math.inf


def build_parameters(
    free: Sequence[FreeParameter], initial: Mapping[str, float]
) -> lmfit.Parameters:
    """lmfit Parameters of ``free``, starting at ``spec.value`` or ``initial[path]``.

    Parameters
    ----------
    free : sequence of FreeParameter
        The declarations.
    initial : mapping of str to float
        Path -> value in the config (used where a declaration gives no value).

    Returns
    -------
    lmfit.Parameters
    """
    import lmfit  # here: workers that only simulate need not import it

    params = lmfit.Parameters()
    for spec in free:
        if spec.expr is not None:
            continue
        start = initial[spec.path] if spec.value is None else spec.value
        if not spec.min <= start <= spec.max:
            raise ValueError(
                f"{spec.path}: initial value {start:g} outside [{spec.min:g}, {spec.max:g}]"
            )
        if spec.log:
            if not start > 0:
                raise ValueError(f"{spec.path}: a log-scale parameter must start > 0")
            params.add(
                spec.lmfit_name,
                value=math.log10(start),
                min=_log10(spec.min),
                max=_log10(spec.max),
                vary=spec.vary,
            )
            params.add(spec.name, expr=f"10**{spec.lmfit_name}")
        else:
            params.add(spec.name, value=start, min=spec.min, max=spec.max, vary=spec.vary)
    names = [s.name for s in free]
    for spec in free:
        if spec.expr is None:
            continue
        try:
            params.add(spec.name, expr=spec.expr)
        except (NameError, SyntaxError) as exc:
            raise ValueError(
                f"{spec.path}: cannot use expr {spec.expr!r} ({exc or 'syntax error'}); "
                f"it may use the names {names}"
            ) from None
    return params


def path_values(free: Sequence[FreeParameter], params: lmfit.Parameters) -> dict[str, float]:
    """``{path: value}`` of every declared parameter (tied ones evaluated)."""
    params.update_constraints()
    return {spec.path: float(params[spec.name].value) for spec in free}


__all__ = ["LOG_PREFIX", "FreeParameter", "build_parameters", "path_values"]
