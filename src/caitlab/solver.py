"""Numerics: finite volumes, Newton and adaptive BDF2 for the Nernst-Planck-Poisson system.

Equations (species i, charge number z_i, x = 0 front, x = L back):

    J_i = -D_i(n_i) (dn_i/dx + z_i e/(k_B T) n_i dphi/dx)        Nernst-Planck flux
    dn_i/dt = -dJ_i/dx                                          conservation
    -eps0 eps_r d²phi/dx² = e (sum_i z_i n_i - n0)              Poisson

Discretisation
--------------
* Cell-centred finite volumes. Interior fluxes are Scharfetter-Gummel fluxes,
  ``F = D_f/d (B(Δ) n_j - B(-Δ) n_{j+1})`` with ``Δ = z (u_{j+1} - u_j)``, ``u = φ/V_T``,
  ``B(x) = x/(e^x - 1)`` and the face coefficient ``D_f`` the mean of the two cells' D.
* Front: the beam flux ``J_b`` (an unknown) enters the first cell, split by the beam
  fractions. Ideal beam: the complementarity ``J_b >= 0, φ_s >= U_R, J_b (φ_s - U_R) = 0``
  (an unlimited beam holds the surface at U_R; it lands nothing only when the surface is
  above U_R) as a smoothed Fischer-Burmeister equation. Finite beam:
  ``J_b = I/(eA) P(E_kin > e φ_s)``, the kinetic energy being e U_R less a
  Rayleigh-distributed deficit of scale ``energy_spread``, so
  ``P = 1 - exp(-(U_R - φ_s)² / 2σ²)`` below U_R and 0 above (C¹; a large current
  converges to the ideal beam). Poisson has a Robin condition from the vacuum gap to the
  grounded aperture (field φ_s / g outside, continuity of the displacement at the surface).
* Back: φ = 0; cations leave by drift in the local field, ``J = D n (z/V_T) E``, smoothly cut
  off when the field points inward (nothing enters). Without a diffusive sink term there is
  no artificial pile-up or depletion at the electrode.
* Time: variable-step BDF2 (BDF1 for the first step of a stage) on densities, potential
  and beam flux together: a fully implicit, coupled system solved by Newton with the
  analytic Jacobian as 3×3 blocks per cell (block-tridiagonal, bordered by the beam
  flux) and a block LU. The cumulative boundary fluxes are integrated with the same BDF
  formula, so the ion balance of every stage closes to round-off.
* Step control: the local error of the densities is estimated from the difference to a
  polynomial predictor (Milne's device); its L1 norm over depth (in units of n0·m, i.e. a
  displacement of a front) is held below ``tolerance`` per step.

Everything inside is dimensionless: lengths in nm, densities in n0, potential in V_T,
D in 1e-18 m²/s, which makes the time unit 1 s. Hot loops are compiled with numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np

LENGTH_UNIT = 1e-9  # m
D_UNIT = 1e-18  # m^2/s
TIME_UNIT = LENGTH_UNIT**2 / D_UNIT  # 1 s
TABLE_POINTS_PER_N0 = 20000
TABLE_MAX_FRACTION = 2.0
BEAM_NONE, BEAM_IDEAL, BEAM_FINITE = 0, 1, 2
_BACK_SMOOTHING = 1e-6  # width (in V_T) of the rounded cut-off of the back-electrode outflow
# smoothed Fischer-Burmeister for the ideal beam: a b = mu² instead of a b = 0 keeps Newton
# quadratic at the corner; the surface potential then sits above U_R by mu²/a V_T,
# about 1e-14 V_T at the typical flux (a = J_b / scale ~ 100)
_BEAM_FLUX_SCALE = 1e-6
_FB_SMOOTHING = 1e-6
_CHORD_CONTRACTION = 0.2  # refactor the Jacobian when an update shrinks less than this


class ConvergenceError(RuntimeError):
    """A stage could not be integrated: the message says where and what to try."""


@dataclass(frozen=True)
class StageSystem:
    """The dimensionless discrete system of one stage (built by :mod:`caitlab.experiment`).

    Attributes
    ----------
    widths : ndarray
        Cell widths in nm.
    inv_spacing : ndarray
        1 / (distance between neighbouring centres) in 1/nm, one per interior face.
    charge : ndarray
        Charge numbers z of the active species.
    log_d_table : ndarray
        ln(D / 1e-18 m²/s) of each active species on a uniform grid of n/n0 with
        ``table_step`` spacing.
    beam_mode, beam_fraction, beam_potential, beam_max_flux, beam_spread
        Front boundary: mode code, fractions per active species, U_R / V_T, the finite
        beam's flux in n0·nm/s, its energy spread in V_T.
    surface_ratio : float
        φ_surface / φ_first_cell from the Robin condition.
    front_coefficient : float
        (1 - surface_ratio) / (h_0/2): the outside-field term of the first Poisson row.
    inv_debye2 : float
        (1 nm / Debye length)² with the n0 density: Poisson's coupling constant.
    background : float
        The fixed negative charge of the network in units of e n0: the initial cation
        charge, sum of z_i times the initial fractions (1 for monovalent ions).
    """

    widths: np.ndarray
    inv_spacing: np.ndarray
    charge: np.ndarray
    log_d_table: np.ndarray
    table_step: float
    beam_mode: int
    beam_fraction: np.ndarray
    beam_potential: float
    beam_max_flux: float
    beam_spread: float
    surface_ratio: float
    front_coefficient: float
    inv_debye2: float
    background: float = 1.0

    @cached_property
    def d_table(self) -> np.ndarray:
        """D / (1e-18 m²/s) on the table grid: the kernels interpolate D linearly."""
        return np.exp(self.log_d_table)

    @property
    def n_species(self) -> int:
        return int(self.charge.size)

    @property
    def n_cells(self) -> int:
        return int(self.widths.size)

    def pack(self, density: np.ndarray, potential: np.ndarray, beam_flux: float) -> np.ndarray:
        """Unknown vector from densities (S, N), potential (N) and the beam flux."""
        s = self.n_species
        x = np.empty(1 + self.n_cells * (s + 1))
        x[0] = beam_flux
        body = x[1:].reshape(self.n_cells, s + 1)
        body[:, :s] = density.T
        body[:, s] = potential
        return x

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Inverse of :meth:`pack`: densities (S, N), potential (N), beam flux."""
        s = self.n_species
        body = x[1:].reshape(self.n_cells, s + 1)
        return body[:, :s].T.copy(), body[:, s].copy(), float(x[0])

    def args(self) -> tuple:
        """The arrays and numbers the compiled kernels take, in order."""
        return (
            self.widths, self.inv_spacing, self.charge, self.d_table,
            1.0 / self.table_step, self.beam_mode, self.beam_fraction, self.beam_potential,
            self.beam_max_flux, self.beam_spread, self.surface_ratio,
            self.front_coefficient, 1.0 / self.inv_debye2, self.background,
        )  # fmt: skip


# --------------------------------------------------------------------------- kernels


@numba.njit(cache=True, inline="always")
def _bernoulli(x: float) -> tuple[float, float]:
    """B(x) = x/(e^x - 1) and its derivative."""
    if abs(x) < 1e-2:
        x2 = x * x
        return 1.0 - 0.5 * x + x2 / 12.0 - x2 * x2 / 720.0, -0.5 + x / 6.0 - x2 * x / 180.0
    if x > 500.0:
        e = math.exp(-x)
        return x * e, (1.0 - x) * e
    em = math.expm1(x)
    return x / em, (em - x * (em + 1.0)) / (em * em)


@numba.njit(cache=True, inline="always")
def _outflow(drive: float) -> tuple[float, float]:
    """Drift outflow factor max(drive, 0), rounded off below ``_BACK_SMOOTHING`` (C¹)."""
    if drive <= 0.0:
        return 0.0, 0.0
    if drive < _BACK_SMOOTHING:
        return 0.5 * drive * drive / _BACK_SMOOTHING, drive / _BACK_SMOOTHING
    return drive - 0.5 * _BACK_SMOOTHING, 1.0


@numba.njit(cache=True)
def _cell_diffusivity(x, d_table, inv_step, block, n_cells, d_out, dd_out):
    """D and dD/dn of every active species in every cell, interpolated in the D tables."""
    s = len(block) - 1
    last = d_table.shape[1] - 1
    for j in range(n_cells):
        base = 1 + j * (s + 1)
        for i in range(s):
            t = x[base + i] * inv_step
            if t <= 0.0:
                d_out[i, j] = d_table[i, 0]
                dd_out[i, j] = 0.0
            elif t >= last:
                d_out[i, j] = d_table[i, last]
                dd_out[i, j] = 0.0
            else:
                k = int(t)
                step = d_table[i, k + 1] - d_table[i, k]
                d_out[i, j] = d_table[i, k] + (t - k) * step
                dd_out[i, j] = step * inv_step


@numba.njit(cache=True)
def _assemble(
    x, ref, hist, a0_dt, widths, inv_spacing, charge, d_table, inv_step, beam_mode, beam_fraction,
    beam_potential, beam_max_flux, beam_spread, surface_ratio, front_coefficient, debye2,
    background, res, blk, edge, d, dd, jacobian, block,
):  # fmt: skip
    """Residual ``res`` and (if ``jacobian``) the Jacobian as blocks plus the beam border.

    ``blk[j, a, :]`` is row ``a`` of cell ``j``'s equations against the unknowns of cells
    ``j-1 | j | j+1`` (``m = S + 1`` columns each). ``edge`` holds the border of the beam flux
    ``J_b``: ``edge[:m]`` its column in cell 0's rows, ``edge[m:2m]`` its row against cell 0,
    ``edge[2m]`` its diagonal.
    """
    m = len(block)  # a compile-time constant: see _Integrator.block
    s = m - 1
    n = widths.size
    if jacobian:
        blk[:, :, :] = 0.0
        edge[:] = 0.0
    _cell_diffusivity(x, d_table, inv_step, block, n, d, dd)
    # storage term and Poisson's space charge
    for j in range(n):
        base = 1 + j * m
        rho = -background
        for i in range(s):
            r = base + i
            res[r] = widths[j] * (a0_dt * (x[r] - ref[r]) + hist[r])
            rho += charge[i] * x[r]
            if jacobian:
                blk[j, i, m + i] += widths[j] * a0_dt
                blk[j, s, m + i] += widths[j] * charge[i]
        res[base + s] = widths[j] * rho
    # interior faces: Scharfetter-Gummel fluxes and the Poisson stencil
    for j in range(n - 1):
        k = j + 1
        bj = 1 + j * m
        bk = bj + m
        uj = x[bj + s]
        uk = x[bk + s]
        g = inv_spacing[j]
        z_done = 0.0
        bp = dbp = bm = dbm = 0.0
        for i in range(s):
            nj = x[bj + i]
            nk = x[bk + i]
            d_face = 0.5 * (d[i, j] + d[i, k])
            if charge[i] != z_done:  # one Bernoulli evaluation per face and charge number
                z_done = charge[i]
                delta = z_done * (uk - uj)
                bp, dbp = _bernoulli(delta)
                bm, dbm = bp + delta, -1.0 - dbp  # B(-x) = B(x) + x
            core = bp * nj - bm * nk
            flux = d_face * g * core
            res[bj + i] += flux
            res[bk + i] -= flux
            if not jacobian:
                continue
            f_nj = d_face * g * bp + 0.5 * dd[i, j] * g * core
            f_nk = -d_face * g * bm + 0.5 * dd[i, k] * g * core
            f_uk = d_face * g * charge[i] * (dbp * nj + dbm * nk)
            blk[j, i, m + i] += f_nj
            blk[j, i, 2 * m + i] += f_nk
            blk[j, i, 2 * m + s] += f_uk
            blk[j, i, m + s] -= f_uk
            blk[k, i, i] -= f_nj
            blk[k, i, m + i] -= f_nk
            blk[k, i, m + s] -= f_uk
            blk[k, i, s] += f_uk
        c = g * debye2
        e_field = c * (uk - uj)
        res[bj + s] += e_field
        res[bk + s] -= e_field
        if jacobian:
            blk[j, s, m + s] -= c
            blk[j, s, 2 * m + s] += c
            blk[k, s, s] += c
            blk[k, s, m + s] -= c
    # front: outside field (Robin) and beam
    p0 = 1 + s
    res[p0] -= debye2 * front_coefficient * x[p0]
    jb = x[0]
    for i in range(s):
        res[1 + i] -= beam_fraction[i] * jb
    if jacobian:
        blk[0, s, m + s] -= debye2 * front_coefficient
        for i in range(s):
            edge[i] = -beam_fraction[i]
    diagonal, coupling = 1.0, 0.0  # of the beam row: d/dJ_b and d/du_0
    if beam_mode == 1:
        a = jb / _BEAM_FLUX_SCALE
        b = surface_ratio * x[p0] - beam_potential
        root = math.sqrt(a * a + b * b + 2.0 * _FB_SMOOTHING * _FB_SMOOTHING)
        res[0] = a + b - root
        diagonal = (1.0 - a / root) / _BEAM_FLUX_SCALE
        coupling = (1.0 - b / root) * surface_ratio
    elif beam_mode == 2:
        deficit = beam_potential - surface_ratio * x[p0]
        res[0] = jb
        if deficit > 0.0:
            y = deficit * deficit / (2.0 * beam_spread * beam_spread)
            res[0] += beam_max_flux * math.expm1(-y)
            coupling = beam_max_flux * surface_ratio * deficit / beam_spread**2 * math.exp(-y)
    else:
        res[0] = jb
    if jacobian:
        edge[2 * m] = diagonal
        edge[m + s] = coupling
    # back: grounded electrode, drift outflow of cations
    last = n - 1
    bn = 1 + last * m
    half = 0.5 * widths[last]
    un = x[bn + s]
    res[bn + s] -= debye2 * un / half
    if jacobian:
        blk[last, s, m + s] -= debye2 / half
    for i in range(s):
        nn = x[bn + i]
        out, dout = _outflow(charge[i] * un)
        res[bn + i] += d[i, last] * nn * out / half
        if not jacobian:
            continue
        blk[last, i, m + i] += (d[i, last] + dd[i, last] * nn) * out / half
        blk[last, i, m + s] += d[i, last] * nn * dout * charge[i] / half


@numba.njit(cache=True)
def _block_factor(blk, piv, gain, block):
    """Block-tridiagonal LU (block Thomas) of ``blk`` in place; False on a zero pivot.

    ``D'_j = D_j - L_j G_{j-1}`` is LU-factored with partial pivoting inside the block (the
    blocks are dominated by their own cell: storage and space charge, so no pivoting across
    cells is needed); its rows are exchanged together with U_j, and ``gain[j]`` =
    ``G_j = D'_j⁻¹ U_j``. L_j keeps the original row order; :func:`_block_solve` applies
    the exchanges to the right-hand side after subtracting ``L_j y_{j-1}``.
    """
    n, m = blk.shape[0], len(block)
    for j in range(n):
        if j > 0:
            for a in range(m):
                for c in range(m):
                    lac = blk[j, a, c]
                    if lac != 0.0:
                        for b in range(m):
                            blk[j, a, m + b] -= lac * gain[j - 1, c, b]
        for k in range(m):
            p = k
            best = abs(blk[j, k, m + k])
            for r in range(k + 1, m):
                v = abs(blk[j, r, m + k])
                if v > best:
                    best = v
                    p = r
            if best == 0.0:
                return False
            piv[j, k] = p
            if p != k:
                for c in range(m, 3 * m):
                    t = blk[j, k, c]
                    blk[j, k, c] = blk[j, p, c]
                    blk[j, p, c] = t
            inv = 1.0 / blk[j, k, m + k]
            for r in range(k + 1, m):
                f = blk[j, r, m + k] * inv
                blk[j, r, m + k] = f
                if f != 0.0:
                    for c in range(m + k + 1, 3 * m):
                        blk[j, r, c] -= f * blk[j, k, c]
        # back substitution of the (already eliminated) U_j columns: G_j = D'⁻¹ U_j
        if j < n - 1:
            for b in range(m):
                for k in range(m - 1, -1, -1):
                    v = blk[j, k, 2 * m + b]
                    for c in range(k + 1, m):
                        v -= blk[j, k, m + c] * gain[j, c, b]
                    gain[j, k, b] = v / blk[j, k, m + k]
    return True


@numba.njit(cache=True)
def _block_solve(blk, piv, gain, rhs, block):
    """Solve the factored block-tridiagonal system for ``rhs`` (n, m) in place."""
    n, m = blk.shape[0], len(block)
    for j in range(n):
        if j > 0:
            for a in range(m):
                acc = 0.0
                for c in range(m):
                    acc += blk[j, a, c] * rhs[j - 1, c]
                rhs[j, a] -= acc
        for k in range(m):
            p = piv[j, k]
            if p != k:
                t = rhs[j, k]
                rhs[j, k] = rhs[j, p]
                rhs[j, p] = t
        for k in range(m):
            for c in range(k):
                rhs[j, k] -= blk[j, k, m + c] * rhs[j, c]
        for k in range(m - 1, -1, -1):
            for c in range(k + 1, m):
                rhs[j, k] -= blk[j, k, m + c] * rhs[j, c]
            rhs[j, k] /= blk[j, k, m + k]
    for j in range(n - 2, -1, -1):
        for a in range(m):
            acc = 0.0
            for c in range(m):
                acc += gain[j, a, c] * rhs[j + 1, c]
            rhs[j, a] -= acc


@numba.njit(cache=True)
def _newton(
    x, ref, hist, a0_dt, widths, inv_spacing, charge, d_table, inv_step, beam_mode, beam_fraction,
    beam_potential, beam_max_flux, beam_spread, surface_ratio, front_coefficient, debye2,
    background, res, blk, edge, piv, gain, step, border, d, dd, max_iter,
    tol_density, tol_potential, block,
):  # fmt: skip
    """Newton iterations in place on ``x``; (iterations, factorisations), or (-1, ·) on failure.

    Each linear system is bordered by the beam flux: ``A y = -r`` and ``A z = b`` with one
    block factorisation, then ``ΔJ_b`` from the border row and ``Δx = y - z ΔJ_b``. After
    the first iteration the factorisation is kept (chord iterations: residual only) while
    the updates shrink fast enough; otherwise the Jacobian is refactored.
    """
    m = len(block)
    s = m - 1
    n = widths.size
    factors = 0
    refactor = True
    previous = np.inf
    for it in range(max_iter):
        _assemble(
            x, ref, hist, a0_dt, widths, inv_spacing, charge, d_table, inv_step, beam_mode,
            beam_fraction, beam_potential, beam_max_flux, beam_spread, surface_ratio,
            front_coefficient, debye2, background, res, blk, edge, d, dd, refactor, block,
        )  # fmt: skip
        if refactor:
            if not _block_factor(blk, piv, gain, block):
                return -1, factors
            factors += 1
            border[:, :] = 0.0
            for a in range(m):
                border[0, a] = edge[a]
            _block_solve(blk, piv, gain, border, block)
        for j in range(n):
            for a in range(m):
                step[j, a] = -res[1 + j * m + a]
        _block_solve(blk, piv, gain, step, block)
        row_y = 0.0
        row_z = 0.0
        for a in range(m):
            row_y += edge[m + a] * step[0, a]
            row_z += edge[m + a] * border[0, a]
        pivot = edge[2 * m] - row_z
        if pivot == 0.0:
            return -1, factors
        d_jb = (-res[0] - row_y) / pivot
        step_n = 0.0
        step_u = 0.0
        for j in range(n):
            for a in range(m):
                v = step[j, a] - border[j, a] * d_jb
                if not abs(v) < 1e300:
                    return -1, factors
                x[1 + j * m + a] += v
                if a == s:
                    step_u = max(step_u, abs(v))
                else:
                    step_n = max(step_n, abs(v))
        x[0] += d_jb
        size = max(step_n, step_u * tol_density / tol_potential)
        # remaining error of a linearly converging iteration: rate / (1 - rate) × last update
        rate = size / previous  # no estimate in the first iteration: previous = inf
        remaining = size * rate / (1.0 - rate) if 0.0 < rate < 0.5 else size
        if remaining < tol_density and step_u < 100.0 * tol_potential:
            return it + 1, factors
        refactor = size > _CHORD_CONTRACTION * previous
        previous = size
    return -1, factors


@numba.njit(cache=True)
def _boundary_fluxes(x, widths, charge, d_table, inv_step, beam_fraction, flux_in, flux_out):
    """Beam influx and back-electrode outflux of every active species (n0·nm/s)."""
    s = charge.size
    n = widths.size
    bn = 1 + (n - 1) * (s + 1)
    half = 0.5 * widths[n - 1]
    last = d_table.shape[1] - 1
    for i in range(s):
        flux_in[i] = beam_fraction[i] * x[0]
        t = min(max(x[bn + i] * inv_step, 0.0), float(last))
        k = min(int(t), last - 1)
        d_value = d_table[i, k] + (t - k) * (d_table[i, k + 1] - d_table[i, k])
        out = _outflow(charge[i] * x[bn + s])[0]
        flux_out[i] = d_value * x[bn + i] * out / half


@numba.njit(cache=True)
def _predict_into(out, s0, s1, s2, c0, c1, c2, block):
    """``out = c0 s0 + c1 s1 + c2 s2`` (polynomial predictor), densities clipped at 0."""
    m = len(block)
    for r in range(out.size):
        v = c0 * s0[r] + c1 * s1[r] + c2 * s2[r]
        if r > 0 and (r - 1) % m != m - 1 and v < 0.0:
            v = 0.0
        out[r] = v


@numba.njit(cache=True)
def _history_into(out, xk, xkm1, factor):
    """``out = factor (x_k - x_{k-1})``: the BDF2 history term in increment form."""
    for r in range(out.size):
        out[r] = factor * (xk[r] - xkm1[r])


@numba.njit(cache=True)
def _change_norms(x, predicted, widths, block):
    """max over species of ∫|x - predicted| dx (nm·n0), and the smallest density."""
    m = len(block)
    s = m - 1
    n = widths.size
    worst = 0.0
    lowest = np.inf
    for i in range(s):
        acc = 0.0
        for j in range(n):
            r = 1 + j * m + i
            acc += widths[j] * abs(x[r] - predicted[r])
            lowest = min(lowest, x[r])
        worst = max(worst, acc)
    return worst, lowest


# ----------------------------------------------------------------------- time stepping


@dataclass(frozen=True)
class StepControl:
    """Numerical settings of the time integration (dimensionless where noted).

    Attributes
    ----------
    tolerance : float
        Allowed local error per step: L1 norm of the density error over depth, in nm·n0.
    first_step : float
        First time step of a stage, s.
    max_step : float
        Largest time step, s.
    min_step : float
        A step below this means the stage cannot be integrated, s.
    max_newton : int
        Newton iterations before a step is retried smaller.
    """

    tolerance: float = 2.5e-3
    first_step: float = 1e-6
    max_step: float = 1e5
    min_step: float = 1e-12
    max_newton: int = 12
    tol_density: float = 1e-8
    tol_potential: float = 1e-4
    negative_tolerance: float = 1e-8


@dataclass
class StageTrajectory:
    """What :func:`integrate_stage` returns (dimensionless, stage-local time in s)."""

    save_times: list[float] = field(default_factory=list)
    saved: list[np.ndarray] = field(default_factory=list)
    saved_flux_out: list[np.ndarray] = field(default_factory=list)
    saved_outflow: list[np.ndarray] = field(default_factory=list)
    trace_time: list[float] = field(default_factory=list)
    trace_flux_out: list[np.ndarray] = field(default_factory=list)
    trace_outflow: list[np.ndarray] = field(default_factory=list)
    trace_surface: list[float] = field(default_factory=list)
    trace_beam: list[float] = field(default_factory=list)
    initial: np.ndarray | None = None
    inflow: np.ndarray | None = None
    outflow: np.ndarray | None = None
    n_steps: int = 0
    n_rejected: int = 0
    rejected_by: dict = field(default_factory=lambda: {"newton": 0, "negative": 0, "error": 0})
    n_newton: int = 0
    n_factor: int = 0
    min_density: float = 0.0


#: observer(t_stage_s, t_end_s): called after every accepted step
Observer = Callable[[float, float], None]


def _bdf_coefficients(ratio: float, order: int) -> tuple[float, float, float]:
    if order == 1:
        return 1.0, -1.0, 0.0
    return (1.0 + 2.0 * ratio) / (1.0 + ratio), -(1.0 + ratio), ratio * ratio / (1.0 + ratio)


def _bdf_accumulate(q: list[np.ndarray], dt_flux: np.ndarray, a0, a2, order) -> np.ndarray:
    """Integrate a boundary flux with the same BDF formula as the densities."""
    previous = a2 * (q[-1] - q[-2]) if order == 2 else 0.0
    return q[-1] + (dt_flux + previous) / a0


def _predictor(times: list[float], states: list[np.ndarray], t_new: float) -> tuple:
    """States and weights of the polynomial extrapolation through the last (up to three)
    accepted states, for :func:`_predict_into`."""
    if len(states) == 1:
        return states[-1], states[-1], states[-1], 1.0, 0.0, 0.0
    if len(states) == 2:
        (t0, t1), (x0, x1) = times[-2:], states[-2:]
        w = (t_new - t1) / (t1 - t0)
        return x0, x1, x1, -w, 1.0 + w, 0.0
    t0, t1, t2 = times[-3:]
    l0 = (t_new - t1) * (t_new - t2) / ((t0 - t1) * (t0 - t2))
    l1 = (t_new - t0) * (t_new - t2) / ((t1 - t0) * (t1 - t2))
    l2 = (t_new - t0) * (t_new - t1) / ((t2 - t0) * (t2 - t1))
    return states[-3], states[-2], states[-1], l0, l1, l2


def _error_factor(times: list[float], dt: float, order: int) -> float:
    """Local error ≈ factor × |corrector - predictor| (Milne's device)."""
    if len(times) < 2:
        return 0.0
    if order == 1 or len(times) == 2:
        return min(1.0, dt / (times[-1] - times[-2]))
    h1 = times[-1] - times[-2]
    h2 = times[-2] - times[-3]
    ratio = dt / h1
    # local errors: BDF2 +y''' bdf/6, quadratic predictor -y''' pred/6 (opposite signs)
    bdf = dt**3 * (1.0 + ratio) ** 2 / (ratio * (1.0 + 2.0 * ratio))
    pred = dt * (dt + h1) * (dt + h1 + h2)
    return bdf / (pred + bdf)


class _Integrator:
    """Adaptive BDF2 over one stage; holds the work arrays of the compiled kernels."""

    def __init__(self, system: StageSystem, control: StepControl) -> None:
        self.system = system
        self.control = control
        self.args = system.args()
        s, n = system.n_species, system.n_cells
        size = 1 + n * (s + 1)
        m = s + 1
        self.res = np.zeros(size)
        self.blk = np.zeros((n, m, 3 * m))
        self.edge = np.zeros(2 * m + 1)
        self.n_factor = 0
        # a tuple of length m = S + 1: numba compiles the kernels for each length, so the
        # loops over a cell's unknowns have constant trip counts and are unrolled
        self.block = (0,) * m
        self.piv = np.zeros((n, m), dtype=np.int64)
        self.gain = np.zeros((n, m, m))
        self.step = np.zeros((n, m))
        self.border = np.zeros((n, m))
        self.d = np.zeros((s, n))
        self.dd = np.zeros((s, n))
        self.flux_in = np.zeros(s)
        self.flux_out = np.zeros(s)

    def newton(self, x: np.ndarray, ref: np.ndarray, hist: np.ndarray, a0_dt: float) -> int:
        c = self.control
        iterations, factors = _newton(
            x, ref, hist, a0_dt, *self.args, self.res, self.blk, self.edge, self.piv,
            self.gain, self.step, self.border, self.d, self.dd,
            c.max_newton, c.tol_density, c.tol_potential, self.block,
        )  # fmt: skip
        self.n_factor += factors
        return iterations

    def fluxes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sy = self.system
        _boundary_fluxes(
            x, sy.widths, sy.charge, sy.d_table, 1.0 / sy.table_step, sy.beam_fraction,
            self.flux_in, self.flux_out,
        )  # fmt: skip
        return self.flux_in.copy(), self.flux_out.copy()


def _next_target(t: float, dt: float, targets: list[float]) -> tuple[float, bool]:
    """Step towards the next save time without leaving a sliver."""
    target = next(tt for tt in targets if tt > t * (1 + 1e-14))
    remaining = target - t
    if remaining <= dt * (1 + 1e-12):
        return remaining, True
    if remaining < 2.0 * dt:
        return 0.5 * remaining, False
    return dt, False


def integrate_stage(
    system: StageSystem,
    x0: np.ndarray,
    duration: float,
    save_times: list[float],
    control: StepControl,
    observer: Observer | None = None,
    stage_name: str = "stage",
) -> StageTrajectory:
    """Integrate one stage from state ``x0`` over ``duration`` seconds.

    Parameters
    ----------
    system : StageSystem
        The discretised stage.
    x0 : ndarray
        Initial unknown vector (see :meth:`StageSystem.pack`).
    duration : float
        Stage duration in s.
    save_times : list of float
        Stage-local times (s) at which to save the state; ``duration`` is always saved.
    control : StepControl
        Step-size settings.
    observer : callable, optional
        Called as ``observer(t, duration)`` after every accepted step.
    stage_name : str
        For error messages.
    """
    work = _Integrator(system, control)
    targets = sorted({t for t in save_times if 0.0 < t < duration} | {duration})
    traj = StageTrajectory(initial=x0.copy())
    s = system.n_species
    times = [0.0]
    states = [x0.copy()]
    q_in = [np.zeros(s)]
    q_out = [np.zeros(s)]
    fin, fout = work.fluxes(x0)
    _record_trace(traj, system, 0.0, x0, fout, q_out[-1])
    if 0.0 in save_times:
        _save(traj, 0.0, x0, fout, q_out[-1])
    t, dt_wanted = 0.0, control.first_step
    min_density = 0.0
    hist = np.zeros_like(x0)
    while t < duration:
        order = 1 if len(times) < 2 else 2
        dt_try = min(dt_wanted, control.max_step)
        if order == 2:
            dt_try = min(dt_try, 2.0 * (times[-1] - times[-2]))  # BDF2 zero-stability
        dt, hits_target = _next_target(t, dt_try, targets)
        ratio = dt / (times[-1] - times[-2]) if order == 2 else 1.0
        a0, _, a2 = _bdf_coefficients(ratio, order)
        # BDF in increments, a0 (x - x_k) - a2 (x_k - x_{k-1}): no cancellation of the
        # large bulk densities, so the ion balance closes to round-off
        if order == 2:
            _history_into(hist, states[-1], states[-2], -a2 / dt)
        x = np.empty_like(x0)
        _predict_into(x, *_predictor(times, states, t + dt), work.block)
        predicted = x.copy()
        iters = work.newton(x, states[-1], hist, a0 / dt)
        failed = iters < 0
        xmin, error = -np.inf, np.inf
        if not failed:
            change, xmin = _change_norms(x, predicted, system.widths, work.block)
            error = change / control.tolerance * _error_factor(times, dt, order)
        negative = xmin < -control.negative_tolerance
        if failed or negative or not error <= 1.0:
            traj.n_rejected += 1
            traj.rejected_by["newton" if failed else "negative" if negative else "error"] += 1
            shrink = 0.25 if failed or negative else max(0.2, 0.9 * error ** (-1.0 / 3.0))
            dt_wanted = dt * shrink
            if dt_wanted < control.min_step:
                raise ConvergenceError(_failure_message(stage_name, t, dt, iters, xmin))
            continue
        traj.n_newton += iters
        min_density = min(min_density, xmin)
        fin, fout = work.fluxes(x)
        q_in.append(_bdf_accumulate(q_in, dt * fin, a0, a2, order))
        q_out.append(_bdf_accumulate(q_out, dt * fout, a0, a2, order))
        t = next(tt for tt in targets if tt > t * (1 + 1e-14)) if hits_target else t + dt
        times.append(t)
        states.append(x)
        if len(states) > 3 or traj.n_steps == 0:
            # after the first step of a stage, start the BDF history afresh: that step
            # jumps to a consistent state (the surface charges up), and a BDF2 history
            # containing the jump would overshoot the surface potential
            keep = 3 if traj.n_steps else 1
            del times[:-keep], states[:-keep], q_in[:-keep], q_out[:-keep]
        traj.n_steps += 1
        _record_trace(traj, system, t, x, fout, q_out[-1])
        if hits_target:
            _save(traj, t, x, fout, q_out[-1])
        if observer is not None:
            observer(t, duration)
        growth = 2.0 if error == 0.0 else min(2.0, max(0.5, 0.7 * error ** (-1.0 / 3.0)))
        dt_wanted = max(dt_wanted, dt * growth) if dt < dt_try else dt * growth
    traj.inflow = q_in[-1]
    traj.outflow = q_out[-1]
    traj.min_density = min_density
    traj.n_factor = work.n_factor
    return traj


def _save(traj: StageTrajectory, t: float, x: np.ndarray, flux_out, outflow) -> None:
    if traj.save_times and abs(traj.save_times[-1] - t) <= 1e-12 * max(1.0, t):
        del traj.save_times[-1], traj.saved[-1], traj.saved_flux_out[-1]
        del traj.saved_outflow[-1]  # the same time again: the later state wins
    traj.save_times.append(t)
    traj.saved.append(x.copy())
    traj.saved_flux_out.append(flux_out.copy())
    traj.saved_outflow.append(outflow.copy())


def _record_trace(traj, system: StageSystem, t: float, x: np.ndarray, flux_out, outflow) -> None:
    traj.trace_time.append(t)
    traj.trace_flux_out.append(flux_out.copy())
    traj.trace_outflow.append(outflow.copy())
    traj.trace_surface.append(system.surface_ratio * x[1 + system.n_species])
    traj.trace_beam.append(float(x[0]))


def _failure_message(stage: str, t: float, dt: float, iters: int, xmin: float) -> str:
    if iters < 0:
        why = "Newton's method did not converge"
    elif xmin < 0:
        why = f"a density went negative ({xmin:.3g} n0)"
    else:
        why = "the error estimate stayed above the tolerance"
    return (
        f"stage {stage!r} could not be integrated at t = {t:.6g} s (step {dt:.3g} s): {why}. "
        "Try: a finer mesh near the front (mesh.front_cell, mesh.refine), a smaller "
        "solver.first_step, or check the diffusion coefficients of this stage for values "
        "many orders of magnitude apart or a fall-off narrower than the mesh can resolve."
    )
