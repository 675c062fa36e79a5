"""The one style of caitlab's figures: species palette, stage line styles, paper layout.

Every figure, from the CLI or the API, takes its colours from here: the alkali ions as in
the paper (Li blue, Rb green, Cs purple), measured data as open markers with error bars in
the species colour, the simulated charge in red. :func:`legend_outside` puts a legend
beside the data, :func:`align_zero` aligns a twin axis at zero, :func:`paper` is the
matplotlib rc context for figures meant for a paper (sizes, fonts, nothing clipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: colour of each species in every figure (the paper: Li blue, Rb green, Cs purple)
SPECIES_COLOURS = {
    "Li": "tab:blue",
    "Rb": "tab:green",
    "Cs": "tab:purple",
    "K": "tab:orange",
    "Na": "tab:olive",
}
_FALLBACK_COLOURS = ("tab:red", "tab:brown", "tab:pink", "tab:cyan", "tab:gray")
#: line style of each stage, in stage order
STAGE_STYLES = ("-", "--", ":", "-.")
#: hatch of each species where filled areas overlap (Cs hatched over an Rb fill)
SPECIES_HATCHES = {"Cs": "////", "Rb": "", "Li": "\\\\\\\\"}
CHARGE_COLOUR = "tab:red"
MEASURED_MARKER: dict[str, Any] = {
    "marker": "o",
    "ms": 3.5,
    "mfc": "none",
    "ls": "none",
    "elinewidth": 0.6,
    "capsize": 0,
}

#: rc parameters of the paper style
PAPER_RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.3,
    "axes.formatter.useoffset": False,
    "axes.formatter.use_mathtext": True,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "legend.frameon": False,
}


def species_colour(name: str, index: int = 0) -> str:
    """The colour of species ``name`` (fixed for the alkali ions, else by ``index``)."""
    return SPECIES_COLOURS.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])


@contextmanager
def paper() -> Iterator[None]:
    """Matplotlib rc context of the paper style (no offset text such as '1e-23' on axes)."""
    import matplotlib as mpl

    with mpl.rc_context(PAPER_RC):
        yield


def legend_outside(ax: Any, handles: Any = None, labels: Any = None, **kwargs: Any) -> Any:
    """A legend to the right of ``ax``, off the data."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    options = {
        "loc": "upper left",
        "bbox_to_anchor": (1.02, 1.0),
        "borderaxespad": 0.0,
        "fontsize": "small",
        "frameon": False,
    } | kwargs
    return ax.legend(handles, labels, **options)


def align_zero(ax: Any, twin: Any) -> None:
    """Set the limits of ``ax`` and its twin so that both zeros are at the same height."""
    lims = [list(a.get_ylim()) for a in (ax, twin)]
    # fraction of the axis height below zero, the larger of the two, for both
    below = []
    for low, high in lims:
        low, high = min(low, 0.0), max(high, 0.0)
        below.append(-low / (high - low) if high > low else 0.0)
    f = max(below)
    for a, (low, high) in zip((ax, twin), lims):
        low, high = min(low, 0.0), max(high, 1e-300)
        if f <= 0:
            a.set_ylim(0.0, high)
        elif f >= 1:
            a.set_ylim(low, 0.0)
        else:
            top = max(high, -low * (1 - f) / f)
            a.set_ylim(-top * f / (1 - f), top)


__all__ = [
    "CHARGE_COLOUR",
    "MEASURED_MARKER",
    "PAPER_RC",
    "SPECIES_COLOURS",
    "SPECIES_HATCHES",
    "STAGE_STYLES",
    "align_zero",
    "legend_outside",
    "paper",
    "species_colour",
]
