"""Ion-ion coupling beyond Poisson: Onsager cross-coefficients (model.md §10).

Linear irreversible thermodynamics writes the fluxes as

    J_i = -Σ_j L_ij ∇μ̃_j,        μ̃_j = k_BT ln n_j + z_j e φ.

The diagonal ``L_ii = D_i(n) n_i / (k_BT)`` is today's Nernst-Planck flux. The cross terms
(i ≠ j) follow the parametrisation

    L_ij = κ_ij √(D_i D_j) n_i n_j / (n0 k_BT),

with a dimensionless coupling constant κ_ij per pair and per stage. Then
``L = diag(√(D_i n_i)) C diag(√(D_j n_j)) / k_BT`` with ``C_ii = 1`` and
``C_ij = κ_ij √(x_i x_j)`` (x_i = n_i/n0), so

* L is symmetric (Onsager reciprocity) because κ is;
* L is positive semi-definite wherever C is (second law): for one coupled pair
  ``|κ| √(x_i x_j) ≤ 1``, which holds for |κ| ≤ 1 on the whole simplex Σx ≤ 1 (even for
  |κ| ≤ 2; the range is kept at |κ| ≤ 1 for the local excursions above Σx = 1 at space
  charges); with several pairs C is checked on a grid of the simplex
  (:func:`check_admissible`);
* the cross flux ``J_i^× = -κ_ij √(D_i D_j) (n_i/n0) (∇n_j + z_j n_j ∇(eφ/k_BT))`` stays
  finite as n_j → 0 (a bulk without Cs), and vanishes with n_i (no species is created).

Why this form, and not a Manning-type one: docs/onsager.md. The numerics (a
conservative face flux in :func:`caitlab.solver._assemble_coupling`) use the same L.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from caitlab.constants import BOLTZMANN, ELEMENTARY_CHARGE

#: grid step of the simplex Σx ≤ 1 on which several coupled pairs are checked
_SIMPLEX_STEP = 0.02


def parse_pair(key: str) -> tuple[str, str]:
    """The two species of a coupling key ``"Rb-Cs"``.

    Raises
    ------
    ValueError
        Unless the key is two different non-empty names joined by one ``-``.
    """
    parts = key.split("-")
    if len(parts) != 2 or not all(p.strip() for p in parts) or parts[0] == parts[1]:
        raise ValueError(
            f"coupling key {key!r} must name two different species joined by '-', e.g. 'Rb-Cs'"
        )
    return parts[0].strip(), parts[1].strip()


def coupling_matrix(pairs: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """Symmetric κ matrix (zero diagonal) of the species ``names``; pairs naming another
    species are left out (that species is absent in the stage)."""
    index = {name: k for k, name in enumerate(names)}
    kappa = np.zeros((len(names), len(names)))
    for key, value in pairs.items():
        a, b = parse_pair(key)
        if a in index and b in index:
            kappa[index[a], index[b]] = kappa[index[b], index[a]] = float(value)
    return kappa


def correlation_matrix(kappa: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """C(x) with C_ii = 1 and C_ij = κ_ij √(x_i x_j).

    ``fractions`` x = n/n0 of shape (S,) gives (S, S); (S, N) gives (N, S, S).
    """
    x = np.sqrt(np.clip(np.asarray(fractions, dtype=float), 0.0, None))
    x = x.T if x.ndim > 1 else x
    c = kappa * x[..., :, None] * x[..., None, :]
    eye = np.eye(kappa.shape[0])
    return c * (1.0 - eye) + eye


def onsager_matrix(
    kappa: np.ndarray, diffusivity: np.ndarray, density: np.ndarray, n0: float, temperature: float
) -> np.ndarray:
    """L_ij in m⁻¹ s⁻¹ J⁻¹ per cell: ``diffusivity`` (S, N) in m²/s, ``density`` (S, N) in
    m⁻³ → (N, S, S)."""
    root = np.sqrt(np.clip(diffusivity * density, 0.0, None)).T  # (N, S)
    c = correlation_matrix(kappa, np.asarray(density) / n0)
    return root[:, :, None] * c * root[:, None, :] / (BOLTZMANN * temperature)


def min_eigenvalue(kappa: np.ndarray, fractions: np.ndarray) -> float:
    """Smallest eigenvalue of C over the states ``fractions`` (S, N): ≥ 0 is admissible."""
    if not np.any(kappa):
        return 1.0
    return float(np.linalg.eigvalsh(correlation_matrix(kappa, fractions)).min())


def simplex_states(n_species: int, step: float = _SIMPLEX_STEP) -> np.ndarray:
    """Grid points (S, K) of the simplex x_i ≥ 0, Σx ≤ 1, with its vertices and edges.

    The grid depends only on its arguments: it is built once per ``(n_species, step)`` and
    shared (read-only), so that validating a coupled experiment again costs no new grid.
    """
    return _simplex_states(int(n_species), float(step))


@functools.lru_cache(maxsize=16)
def _simplex_states(n_species: int, step: float) -> np.ndarray:
    ticks = np.arange(0.0, 1.0 + 1e-12, step)
    if n_species > 4:  # the grid grows as (1/step)^S: sample instead
        rng = np.random.default_rng(0)
        points = rng.dirichlet(np.ones(n_species + 1), size=20000)[:, :n_species]
        grid = np.vstack([points, np.eye(n_species)]).T
    else:
        # the tick indices with Σ ≤ budget, built species by species in the order of
        # itertools.product (the last fastest); the sum of the ticks themselves decides
        top = min(ticks.size - 1, int(np.floor((1.0 + 1e-9) / step)))
        index = np.zeros((1, 0), dtype=np.intp)
        total = np.zeros(1, dtype=np.intp)
        for _ in range(n_species):
            counts = np.minimum(ticks.size - 1, top - total) + 1
            first = np.repeat(np.cumsum(counts) - counts, counts)
            added = np.arange(first.size) - first
            index = np.column_stack([np.repeat(index, counts, axis=0), added])
            total = np.repeat(total, counts) + added
        grid = ticks[index.T]
        grid = grid[:, grid.sum(axis=0) <= 1.0 + 1e-12]
    grid = np.ascontiguousarray(grid)
    grid.flags.writeable = False
    return grid


def check_admissible(pairs: Mapping[str, float], names: Sequence[str]) -> float:
    """Check that L is positive semi-definite on the whole simplex Σ n_i ≤ n0.

    Returns
    -------
    float
        The smallest eigenvalue of C found (≥ 0).

    Raises
    ------
    ValueError
        Naming the pairs, if C has a negative eigenvalue somewhere on the simplex.
    """
    kappa = coupling_matrix(pairs, names)
    if not np.any(kappa):
        return 1.0
    lowest = _lowest_on_simplex(tuple(kappa.ravel().tolist()), len(names))
    if lowest < -1e-12:
        raise ValueError(
            f"coupling {dict(pairs)} is not admissible: the Onsager matrix has a negative "
            f"eigenvalue ({lowest:.3g} in units of √(D_i n_i D_j n_j)) for some composition, "
            "i.e. negative entropy production; make the |κ| smaller"
        )
    return lowest


@functools.lru_cache(maxsize=256)
def _lowest_on_simplex(kappa: tuple[float, ...], n_species: int) -> float:
    """:func:`min_eigenvalue` of κ (flattened) on the simplex grid; a stage validated again
    (each run of a sweep, each copy of an experiment) costs a look-up."""
    matrix = np.array(kappa, dtype=float).reshape(n_species, n_species)
    return min_eigenvalue(matrix, simplex_states(n_species))


def entropy_production_rate(
    kappa: np.ndarray,
    diffusivity: np.ndarray,
    density: np.ndarray,
    potential: np.ndarray,
    centres: np.ndarray,
    charge: np.ndarray,
    n0: float,
    temperature: float,
) -> float:
    """T⁻¹ ∫ Σ_ij L_ij ∇μ̃_i ∇μ̃_j dx over the interior faces, W K⁻¹ m⁻² (≥ 0).

    Faces carry the means of their cells' D and n; the force of a species absent on a face
    does not count (its L row vanishes there).
    """
    kt = BOLTZMANN * temperature
    n = np.clip(np.asarray(density, dtype=float), 0.0, None)
    d_face = 0.5 * (diffusivity[:, 1:] + diffusivity[:, :-1])
    n_face = 0.5 * (n[:, 1:] + n[:, :-1])
    gap = np.diff(centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.log(n) + np.outer(charge, potential) * (ELEMENTARY_CHARGE / kt)
        force = np.diff(mu, axis=1) / gap  # ∇μ̃/k_BT, 1/m
    force = np.where((n[:, 1:] > 0) & (n[:, :-1] > 0), force, 0.0)
    root = np.sqrt(d_face * n_face)  # (S, F)
    c = correlation_matrix(kappa, n_face / n0)  # (F, S, S)
    flow = root.T * force.T  # (F, S): √(D n) ∇μ̃/k_BT
    density_rate = np.einsum("fi,fij,fj->f", flow, c, flow) * kt / temperature
    return float(np.sum(density_rate * gap))


def state_entropy_production(experiment, stage, density, potential, centres) -> float:
    """Entropy production rate (W K⁻¹ m⁻²) of a saved state (SI ``density`` (S, N) m⁻³,
    ``potential`` (N) V) of ``stage`` of ``experiment`` (all declared species)."""
    sample = experiment.sample
    n0 = sample.mobile_ion_density
    names = sample.species_names
    diffusivity = np.zeros_like(density)
    for k, name in enumerate(names):
        if name in stage.diffusivity:
            log_d = stage.diffusivity[name].log_diffusivity(density[k] / n0, stage.temperature, n0)
            diffusivity[k] = np.exp(log_d)
    charge = np.array([float(s.charge) for s in sample.species])
    kappa = coupling_matrix(stage.coupling, names)
    return entropy_production_rate(
        kappa, diffusivity, density, potential, centres, charge, n0, stage.temperature
    )


def stage_entropy_production(result) -> dict[str, float]:
    """Entropy produced in the bulk of each stage of a run, J K⁻¹ m⁻² (≥ 0).

    The rate of :func:`state_entropy_production` at the stage's first state and at every
    saved state, integrated by the trapezoidal rule: as accurate as the saved states are
    dense (``output.frames``); the end-only default gives an estimate.
    """
    experiment = result.experiment
    centres = result.mesh.centres
    out = {}
    previous = None
    for stage, record in zip(experiment.stages, result.stages):
        times = [record.start, *record.time]
        rates = [
            0.0
            if previous is None
            else state_entropy_production(experiment, stage, *previous, centres)
        ]
        for density, potential in zip(record.density, record.potential):
            rates.append(state_entropy_production(experiment, stage, density, potential, centres))
        out[stage.name] = float(np.trapezoid(rates, times))
        previous = (record.density[-1], record.potential[-1])
    return out


__all__ = [
    "check_admissible",
    "correlation_matrix",
    "coupling_matrix",
    "entropy_production_rate",
    "min_eigenvalue",
    "onsager_matrix",
    "parse_pair",
    "simplex_states",
    "stage_entropy_production",
    "state_entropy_production",
]
