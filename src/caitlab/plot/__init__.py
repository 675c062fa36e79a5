"""Figures of CAIT results (matplotlib, imported lazily).

Every function takes a :class:`caitlab.Result` (from :meth:`caitlab.Experiment.run` or
:func:`caitlab.open_result`) and ``ax=None``, draws, and returns the axes.

Modules
-------
profiles     concentration depth profiles n_i/n0 (Figs 3, 5), measured markers, broadening
diffusivity  D(n) per species and stage (Figs 4, 6, 7); the site-energy landscape (Fig. 2)
traces       current, cumulative charge and surface potential versus time
fields       potential and space charge versus depth
fitting      a sweep's misfit map; an MCMC corner plot
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caitlab.plot._common import new_figure
from caitlab.plot.diffusivity import (
    diffusivities,
    energy_landscape,
    energy_landscapes,
    has_site_energy,
)
from caitlab.plot.fields import potential_profile, space_charge_fraction
from caitlab.plot.fitting import corner, misfit_map
from caitlab.plot.profiles import profiles
from caitlab.plot.traces import current_charge, surface_potential, traces

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from caitlab.results import Result


def standard_figures(
    result: Result,
    *,
    measured: Mapping[str, Any] | None = None,
    rms_nm: float | None = None,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
) -> dict[str, Figure]:
    """Every figure of a result, by file stem (what ``caitlab figures`` writes).

    The energy landscape is left out when no stage has a site-energy model.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    measured : mapping of str to profile, optional
        Measured profiles by stage name (each as :func:`profiles` accepts); each gives a
        ``profiles_<stage>`` figure comparing it with the end of that stage.
    rms_nm : float, optional
        Gaussian broadening (nm rms) of the simulation in those comparisons.
    measured_charges : mapping or sequence, optional
        Measured charge per stage, C.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Figures outside pyplot: nothing to close.
    """
    figures: dict[str, Figure] = {}

    def panel(name: str, size: tuple[float, float] = (6.4, 4.2)) -> Any:
        figures[name] = new_figure(size)
        return figures[name].add_subplot()

    profiles(result, ax=panel("profiles"))
    profiles(result, log=True, ax=panel("profiles_log"))
    for stage, data in (measured or {}).items():
        profiles(result, [stage], measured=data, rms_nm=rms_nm,
                 ax=panel(f"profiles_{_slug(stage)}"))
    diffusivities(result, ax=panel("diffusivity"))
    if has_site_energy(result):
        n_states = 1 + len(result.stages)
        fig = figures["energy_landscape"] = new_figure((4.0 * n_states, 5.0))
        energy_landscapes(result, axes=fig.subplots(1, n_states, sharey=True, squeeze=False)[0])
    fig = figures["traces"] = new_figure((7.0, 6.0))
    traces(result, measured_charges=measured_charges, axes=fig.subplots(2, 1, sharex=True))
    potential_profile(result, ax=panel("potential"))
    return figures


def save_figures(figures: Mapping[str, Figure], directory: str | Path, dpi: int = 150
                 ) -> list[Path]:
    """Write each figure as ``directory/<name>.png``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


__all__ = [
    "corner",
    "current_charge",
    "diffusivities",
    "energy_landscape",
    "energy_landscapes",
    "misfit_map",
    "potential_profile",
    "profiles",
    "save_figures",
    "space_charge_fraction",
    "standard_figures",
    "surface_potential",
    "traces",
]
