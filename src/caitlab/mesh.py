"""Cell-centred 1D meshes: uniform fine cells at the front, geometric growth to the back."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from caitlab._model import Frozen
from caitlab.units import Length

#: the most cells a mesh may have: ~100 MB of Jacobian blocks for three species
MAX_CELLS = 200_000


class MeshSpec(Frozen):
    """How to mesh a sample: the single knob to refine is ``refine``.

    Parameters
    ----------
    front_cell : float
        Width of the uniform cells at the front, m (divided by ``refine``).
    fine_depth : float
        Depth of the uniform region, m: the replacement zone must stay inside it.
    growth : float
        Ratio of neighbouring cell widths beyond ``fine_depth`` (``growth ** (1/refine)``).
    refine : int
        Refinement factor: 2 halves every cell, for convergence checks.
    """

    front_cell: Length = Field(default=0.5e-9, gt=0)
    fine_depth: Length = Field(default=200e-9, gt=0)
    growth: float = Field(default=1.1, gt=1.0, le=2.0)
    refine: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> MeshSpec:
        if self.front_cell > self.fine_depth:
            raise ValueError("front_cell must not exceed fine_depth")
        return self

    def refined(self, factor: int) -> MeshSpec:
        """The same mesh with every cell divided ``factor`` times more."""
        return self.with_(refine=self.refine * factor)

    def build(self, thickness: float) -> Mesh:
        """Mesh a slab of ``thickness`` (m)."""
        return Mesh.from_edges(_graded_edges(self, thickness))


def estimated_cells(spec: MeshSpec, thickness: float) -> float:
    """How many cells :meth:`MeshSpec.build` makes for ``thickness`` (m), computed without
    building anything (within a cell or two)."""
    cell = spec.front_cell / spec.refine
    fine = min(spec.fine_depth, thickness)
    ratio = spec.growth ** (1.0 / spec.refine)
    rest = max(thickness - fine, 0.0)
    # geometric cells cell·r, cell·r², ... fill the rest: n = log(1 + rest (r-1)/(r cell)) / log r
    graded = math.log1p(rest * (ratio - 1.0) / (ratio * cell)) / math.log(ratio)
    return fine / cell + graded


def _graded_edges(spec: MeshSpec, thickness: float) -> np.ndarray:
    cells = estimated_cells(spec, thickness)
    if not cells <= MAX_CELLS:
        raise ValueError(
            f"mesh: about {cells:.3g} cells (sample.thickness {thickness:g} m, "
            f"mesh.front_cell / mesh.refine = {spec.front_cell / spec.refine:g} m, "
            f"mesh.fine_depth {spec.fine_depth:g} m); at most {MAX_CELLS}: use a larger "
            "front_cell, a smaller refine or a shallower fine_depth"
        )
    cell = spec.front_cell / spec.refine
    fine = min(spec.fine_depth, thickness)
    n_fine = max(1, round(fine / cell))
    grown = list(np.linspace(0.0, n_fine * cell, n_fine + 1))
    ratio = spec.growth ** (1.0 / spec.refine)
    width = cell
    while grown[-1] < thickness:
        width *= ratio
        grown.append(grown[-1] + width)
    edges = np.asarray(grown)
    if edges.size > 2 and thickness - edges[-2] < 0.5 * (edges[-2] - edges[-3]):
        edges = np.delete(edges, -2)  # last cell would be a sliver: merge it
    edges[-1] = thickness
    return edges


@dataclass(frozen=True)
class Mesh:
    """A cell-centred mesh: ``edges`` (m), cell ``centres`` and ``widths``."""

    edges: np.ndarray

    @classmethod
    def from_edges(cls, edges: np.ndarray) -> Mesh:
        edges = np.asarray(edges, dtype=float)
        if edges.ndim != 1 or edges.size < 3 or np.any(np.diff(edges) <= 0):
            raise ValueError("mesh edges must increase strictly and give at least 2 cells")
        edges.setflags(write=False)
        return cls(edges)

    @property
    def centres(self) -> np.ndarray:
        """Cell centres x_j in m."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        """Cell widths h_j in m."""
        return np.diff(self.edges)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.edges.size - 1

    @property
    def thickness(self) -> float:
        """Slab thickness in m."""
        return float(self.edges[-1])
