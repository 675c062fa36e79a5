"""Numerics: finite volumes, Newton and variable-order BDF for the Nernst-Planck-Poisson system.

Equations (species i, charge number z_i, x = 0 front, x = L back):

    J_i = -D_i(n_i) (dn_i/dx + z_i e/(k_B T) n_i dphi/dx)        Nernst-Planck flux
    dn_i/dt = -dJ_i/dx                                          conservation
    -eps0 eps_r d²phi/dx² = e (sum_i z_i n_i - n0)              Poisson

Discretisation
--------------
* Cell-centred finite volumes. Interior fluxes are Scharfetter-Gummel fluxes,
  ``F = D_f/d (B(Δ) n_j - B(-Δ) n_{j+1})`` with ``Δ = z (u_{j+1} - u_j)``, ``u = φ/V_T``,
  ``B(x) = x/(e^x - 1)``. The face coefficient is weighted like the densities,
  ``D_f = (B(Δ) D_j + B(-Δ) D_{j+1}) / (B(Δ) + B(-Δ))``: the arithmetic mean without a
  field, the upwind cell's D in strong drift (where D(n) changes by orders of magnitude
  from cell to cell at a front, the plain mean lent the depleted upwind cell the mobility
  of its full neighbour: the stage-2 charge converged at first order, 0.3 % off at 0.25 nm
  cells; now 0.04 %).
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
* Time: variable-step, variable-order BDF (order 1 after a restart, then one order more
  per accepted step up to ``StepControl.max_order`` = 3) on densities, potential and
  beam flux together: a fully implicit, coupled system solved by Newton with the
  analytic Jacobian as (S+1)² blocks per cell (block-tridiagonal, bordered by the beam
  flux) and a block LU. The cumulative boundary fluxes are integrated with the same BDF
  formula, so the ion balance of every stage closes to round-off.
* Step control: the local error is estimated from the difference to the polynomial
  predictor of the same degree (Milne's device); the densities' L1 norm over depth (in
  units of n0·m, i.e. a displacement of a front) is held below ``tolerance`` per step,
  the potential's max norm below ``potential_rtol`` max|φ| + ``potential_atol``.

Everything inside is dimensionless: lengths in nm, densities in n0, potential in V_T,
D in 1e-18 m²/s, which makes the time unit 1 s. Hot loops are compiled with numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numba
import numpy as np

LENGTH_UNIT = 1e-9  # m
D_UNIT = 1e-18  # m^2/s
TIME_UNIT = LENGTH_UNIT**2 / D_UNIT  # 1 s
TABLE_POINTS_PER_N0 = 4000
TABLE_MAX_FRACTION = 2.0
BEAM_NONE, BEAM_IDEAL, BEAM_FINITE = 0, 1, 2
#: accepted and rejected time steps per stage before a stage is given up (no run hangs)
MAX_STEPS_PER_STAGE = 1_000_000
_BACK_SMOOTHING = 1e-6  # width (in V_T) of the rounded cut-off of the back-electrode outflow
# smoothed Fischer-Burmeister for the ideal beam: a b = mu² instead of a b = 0 keeps Newton
# quadratic at the corner; with a = J_b / (ohmic flux) and b = φ_s / U_R - 1, the surface
# potential then sits above U_R by mu²/a: 1e-24/a of U_R
_FB_SMOOTHING = 1e-12
_BALANCE_RTOL = 1e-12
_BALANCE_INVENTORY_RTOL = 2e-16
_EPS = float(np.finfo(float).eps)
_RESOLUTION_ULPS = 0.5
#: a step below this fraction of the stage time is lost in t + dt's round-off
_TIME_RESOLUTION = 64 * _EPS
_CHORD_CONTRACTION = 0.2  # refactor the Jacobian when an update shrinks less than this
#: the highest order of the variable-order BDF (BDF3 is stable for the parabolic spectra
#: here, A(86°)); :func:`_prepare_step` combines its MAX_ORDER + 1 = 4 states
MAX_ORDER = 3
#: the largest step ratio of each order, for zero-stability
_MAX_STEP_RATIO = {2: 2.0, 3: 1.6}


class ConvergenceError(RuntimeError):
    """A stage could not be integrated: the message says where and what to try."""


class StageSystem(NamedTuple):
    """The dimensionless discrete system of one stage (built by :mod:`caitlab.experiment`).

    A named tuple: the compiled kernels take it whole and read its fields by these names.

    Attributes
    ----------
    widths : ndarray
        Cell widths in nm.
    inv_spacing : ndarray
        1 / (distance between neighbouring centres) in 1/nm, one per interior face.
    charge : ndarray
        Charge numbers z of the active species.
    d_table : ndarray
        D / (1e-18 m²/s) of each active species (rows) on a uniform grid of n/n0 with
        spacing ``1 / inv_step``; the kernels interpolate it linearly.
    inv_step : float
        1 / spacing of the D tables' density grid (1/n0).
    beam_mode : int
        Front boundary: ``BEAM_NONE``, ``BEAM_IDEAL`` or ``BEAM_FINITE``.
    beam_fraction : ndarray
        Fraction of the beam of each active species.
    beam_potential : float
        U_R / V_T.
    beam_flux_scale : float
        The flux (n0·nm/s) by which the ideal beam's complementarity condition measures
        the beam flux: about the ohmic flux at U_R through the pristine sample.
    beam_max_flux : float
        The finite beam's flux in n0·nm/s.
    beam_spread : float
        The finite beam's energy spread in V_T.
    surface_ratio : float
        φ_surface / φ_first_cell from the Robin condition.
    front_coefficient : float
        (1 - surface_ratio) / (h_0/2): the outside-field term of the first Poisson row.
    debye2 : float
        (Debye length / 1 nm)² with the n0 density: Poisson's coefficient.
    background : float
        The fixed negative charge of the network in units of e n0: sum of z_i times the
        initial fractions (1 for monovalent ions).
    coupling : ndarray (S, S)
        Onsager coupling constants κ_ij (symmetric, zero diagonal; :mod:`caitlab.coupling`).
    coupled : bool
        Whether any κ_ij ≠ 0: only then are the cross fluxes assembled.
    """

    widths: np.ndarray
    inv_spacing: np.ndarray
    charge: np.ndarray
    d_table: np.ndarray
    inv_step: float
    beam_mode: int
    beam_fraction: np.ndarray
    beam_potential: float
    beam_flux_scale: float
    beam_max_flux: float
    beam_spread: float
    surface_ratio: float
    front_coefficient: float
    debye2: float
    background: float
    coupling: np.ndarray = np.zeros((1, 1))
    coupled: bool = False

    @property
    def n_species(self) -> int:
        return int(self.charge.size)

    @property
    def n_cells(self) -> int:
        return int(self.widths.size)

    @property
    def log_d_table(self) -> np.ndarray:
        """ln(D / 1e-18 m²/s) on the table grid."""
        return np.log(self.d_table)

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


class Workspace(NamedTuple):
    """Work arrays of the compiled kernels for one stage (m = S + 1 unknowns per cell).

    Attributes
    ----------
    res, scale : ndarray
        Residual, and 1 / the L1 norm of each row of the step's first Jacobian (the
        scaled convergence test).
    blk : ndarray (N, m, 3m)
        Jacobian blocks: row ``a`` of cell ``j`` against cells ``j-1 | j | j+1``.
    edge : ndarray (2m + 1)
        The border of the beam flux ``J_b``: its column in cell 0's rows, its row against
        cell 0, its diagonal.
    piv, gain : ndarray
        Row exchanges and ``G_j = D'_j⁻¹ U_j`` of the block LU.
    step : ndarray (N, m)
        Newton update.
    border : ndarray (m)
        ``D'_0⁻¹ b_0``: the beam-flux column through the front cell's reduced block.
    d, dd : ndarray (S, N)
        D and dD/dn of every species in every cell.
    """

    res: np.ndarray
    scale: np.ndarray
    blk: np.ndarray
    edge: np.ndarray
    piv: np.ndarray
    gain: np.ndarray
    step: np.ndarray
    border: np.ndarray
    d: np.ndarray
    dd: np.ndarray

    @classmethod
    def for_system(cls, system: StageSystem) -> Workspace:
        s, n = system.n_species, system.n_cells
        m = s + 1
        return cls(
            res=np.zeros(1 + n * m),
            scale=np.zeros(1 + n * m),
            blk=np.zeros((n, m, 3 * m)),
            edge=np.zeros(2 * m + 1),
            piv=np.zeros((n, m), dtype=np.int64),
            gain=np.zeros((n, m, m)),
            step=np.zeros((n, m)),
            border=np.zeros(m),
            d=np.zeros((s, n)),
            dd=np.zeros((s, n)),
        )


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


@numba.njit(cache=True, inline="always")
def _diffusivity_at(d_table, inv_step, i, density):
    """D of species ``i`` at ``density`` (n0) and dD/dn, interpolated in its table."""
    last = d_table.shape[1] - 1
    t = density * inv_step
    if t <= 0.0:
        return d_table[i, 0], 0.0
    if t >= last:
        return d_table[i, last], 0.0
    k = int(t)
    rise = d_table[i, k + 1] - d_table[i, k]
    return d_table[i, k] + (t - k) * rise, rise * inv_step


@numba.njit(cache=True, inline="always")
def _back_outflow(sy, i, density, potential, d, dd):
    """Drift outflow of species ``i`` into the back electrode (n0·nm/s): J = D n (z u)⁺ /
    (h/2), and its derivatives by the last cell's density and potential."""
    z = sy.charge[i]
    half = 0.5 * sy.widths[sy.widths.size - 1]
    out, dout = _outflow(z * potential)
    return (
        d * density * out / half,
        (d + dd * density) * out / half,
        d * density * dout * z / half,
    )


@numba.njit(cache=True)
def _assemble(x, ref, hist, a0_dt, sy, wk, jacobian, block):
    """Residual ``wk.res`` and (if ``jacobian``) the Jacobian as blocks ``wk.blk`` plus the
    beam border ``wk.edge`` (see :class:`Workspace`)."""
    m = len(block)  # a compile-time constant: see _Integrator.block
    s = m - 1
    widths, inv_spacing, charge = sy.widths, sy.inv_spacing, sy.charge
    d_table, inv_step, debye2 = sy.d_table, sy.inv_step, sy.debye2
    n = widths.size
    res, blk, edge, d, dd = wk.res, wk.blk, wk.edge, wk.d, wk.dd
    if jacobian:
        blk[:, :, :] = 0.0
        edge[:] = 0.0
    # storage term and Poisson's space charge
    for j in range(n):
        base = 1 + j * m
        w = widths[j]
        rho = 0.0
        for i in range(s):
            r = base + i
            d[i, j], dd[i, j] = _diffusivity_at(d_table, inv_step, i, x[r])
            res[r] = w * (a0_dt * (x[r] - ref[r]) + hist[r])
            rho += charge[i] * x[r]
            if jacobian:
                blk[j, i, m + i] += w * a0_dt
                blk[j, s, m + i] += w * charge[i]
        # the background last, summed like the mobile charge (in species order): a
        # pristine cell is then neutral to the bit, not to one ulp of n0
        res[base + s] = w * (rho - sy.background)
    # interior faces: Scharfetter-Gummel fluxes and the Poisson stencil
    for j in range(n - 1):
        k = j + 1
        bj = 1 + j * m
        bk = bj + m
        uj = x[bj + s]
        uk = x[bk + s]
        g = inv_spacing[j]
        z_done = 0.0
        bp = dbp = bm = dbm = wj = dwj = 0.0
        for i in range(s):
            nj = x[bj + i]
            nk = x[bk + i]
            if charge[i] != z_done:  # one Bernoulli evaluation per face and charge number
                z_done = charge[i]
                delta = z_done * (uk - uj)
                bp, dbp = _bernoulli(delta)
                bm, dbm = bp + delta, -1.0 - dbp  # B(-x) = B(x) + x
                # the face D's weight of cell j, B(Δ)/(B(Δ) + B(-Δ)) = B(Δ)/(2B(Δ) + Δ)
                inv_total = 1.0 / (bp + bm)
                wj = bp * inv_total
                if jacobian:  # and its dΔ
                    dwj = (dbp - wj * (2.0 * dbp + 1.0)) * inv_total
            d_face = wj * d[i, j] + (1.0 - wj) * d[i, k]
            core = bp * nj - bm * nk
            flux = d_face * g * core
            res[bj + i] += flux
            res[bk + i] -= flux
            if not jacobian:
                continue
            f_nj = d_face * g * bp + wj * dd[i, j] * g * core
            f_nk = -d_face * g * bm + (1.0 - wj) * dd[i, k] * g * core
            f_uk = (
                d_face * g * charge[i] * (dbp * nj + dbm * nk)
                + charge[i] * dwj * (d[i, j] - d[i, k]) * g * core
            )
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
    _assemble_front(x, sy, wk, jacobian, block)
    _assemble_back(x, sy, wk, jacobian, block)
    if sy.coupled:
        _assemble_coupling(x, sy, wk, jacobian, block)


@numba.njit(cache=True, inline="always")
def _minus(root: float, v: float, rest: float) -> float:
    """root - v for root = sqrt(v² + rest), without cancellation when v > 0."""
    return rest / (root + v) if v > 0.0 else root - v


@numba.njit(cache=True, inline="always")
def _fischer_burmeister(a: float, b: float) -> tuple[float, float, float]:
    """φ(a, b) = a + b - sqrt(a² + b² + 2μ²) (zero iff a, b > 0 and a b = μ²) and its
    derivatives, written without cancellation: when one argument is many orders larger
    than the other, the plain form rounds φ to 0 and loses the smaller one."""
    mu2 = 2.0 * _FB_SMOOTHING * _FB_SMOOTHING
    root = math.sqrt(a * a + b * b + mu2)
    phi = 2.0 * (a * b - 0.5 * mu2) / (a + b + root) if a + b > 0.0 else a + b - root
    return phi, _minus(root, a, b * b + mu2) / root, _minus(root, b, a * a + mu2) / root


@numba.njit(cache=True, inline="always")
def _assemble_front(x, sy, wk, jacobian, block):
    """Front rows: the outside field (Robin), the beam flux into cell 0 and the beam's own
    equation (row 0): smoothed Fischer-Burmeister (ideal), landing probability (finite)."""
    m = len(block)
    s = m - 1
    res, blk, edge = wk.res, wk.blk, wk.edge
    p0 = 1 + s
    outside = sy.debye2 * sy.front_coefficient
    res[p0] -= outside * x[p0]
    jb = x[0]
    for i in range(s):
        res[1 + i] -= sy.beam_fraction[i] * jb
    diagonal, coupling = 1.0, 0.0  # of the beam row: d/dJ_b and d/du_0
    if sy.beam_mode == BEAM_IDEAL:
        # both complementary variables relative: flux to its scale, surface excess to U_R
        a = jb / sy.beam_flux_scale
        b = sy.surface_ratio * x[p0] / sy.beam_potential - 1.0
        res[0], d_a, d_b = _fischer_burmeister(a, b)
        diagonal = d_a / sy.beam_flux_scale
        coupling = d_b * sy.surface_ratio / sy.beam_potential
    elif sy.beam_mode == BEAM_FINITE:
        deficit = sy.beam_potential - sy.surface_ratio * x[p0]
        res[0] = jb
        if deficit > 0.0:
            spread2 = sy.beam_spread * sy.beam_spread
            y = deficit * deficit / (2.0 * spread2)
            res[0] += sy.beam_max_flux * math.expm1(-y)
            coupling = sy.beam_max_flux * sy.surface_ratio * deficit / spread2 * math.exp(-y)
    else:
        res[0] = jb
    if jacobian:
        blk[0, s, m + s] -= outside
        for i in range(s):
            edge[i] = -sy.beam_fraction[i]
        edge[2 * m] = diagonal
        edge[m + s] = coupling


@numba.njit(cache=True, inline="always")
def _assemble_back(x, sy, wk, jacobian, block):
    """Back rows: the grounded electrode (φ = 0 at the edge) and the drift outflow."""
    m = len(block)
    s = m - 1
    res, blk, d, dd = wk.res, wk.blk, wk.d, wk.dd
    last = sy.widths.size - 1
    bn = 1 + last * m
    un = x[bn + s]
    ground = sy.debye2 / (0.5 * sy.widths[last])
    res[bn + s] -= ground * un
    if jacobian:
        blk[last, s, m + s] -= ground
    for i in range(s):
        flux, f_n, f_u = _back_outflow(sy, i, x[bn + i], un, d[i, last], dd[i, last])
        res[bn + i] += flux
        if jacobian:
            blk[last, i, m + i] += f_n
            blk[last, i, m + s] += f_u


@numba.njit(cache=True)
def _assemble_coupling(x, sy, wk, jacobian, block):
    """Onsager cross fluxes on the interior faces (:mod:`caitlab.coupling`), added to the
    Scharfetter-Gummel fluxes of :func:`_assemble` (which must have filled ``wk.d``).

    On the face between cells j and k = j+1 the cross flux of species i driven by l is

        F_il = κ_il √(D_i,f D_l,f) n_i,f g (B(Δ_l) n_l,j - B(-Δ_l) n_l,k),

    with Δ_l = z_l (u_k - u_j), the arithmetic face mean D_f (the diagonal's own flux
    weights its face D by the Bernoulli functions; the cross flux keeps the plain mean) and the
    harmonic face mean n_i,f = 2 n_i,j n_i,k / (n_i,j + n_i,k): second order where smooth,
    and zero next to a cell without species i, so no cross flux drains an empty cell. The
    Scharfetter-Gummel core of species l is its discrete -(∇n_l + z_l n_l ∇u): finite as
    n_l → 0 and exponentially fitted at strong fields. One flux per face: conservative.
    """
    m = len(block)
    s = m - 1
    inv_spacing, charge, kappa = sy.inv_spacing, sy.charge, sy.coupling
    res, blk, d, dd = wk.res, wk.blk, wk.d, wk.dd
    for j in range(sy.widths.size - 1):
        k = j + 1
        bj = 1 + j * m
        bk = bj + m
        g = inv_spacing[j]
        du = x[bk + s] - x[bj + s]
        z_done = 0.0  # one Bernoulli evaluation per face and charge number, when needed
        bp = dbp = bm = dbm = 0.0
        for q in range(s):
            q_ready = False
            core = core_u = dl = 0.0
            for i in range(s):
                kap = kappa[i, q]
                if i == q or kap == 0.0:
                    continue
                # harmonic face mean of n_i: second order where smooth, 0 next to an
                # empty cell (a cross flux cannot drain a cell that holds no species i)
                aj = max(x[bj + i], 0.0)
                ak = max(x[bk + i], 0.0)
                total = aj + ak
                if total == 0.0:
                    continue  # no species i on either side: no flux and no derivative
                if not q_ready:
                    if charge[q] != z_done:
                        z_done = charge[q]
                        delta = z_done * du
                        bp, dbp = _bernoulli(delta)
                        bm, dbm = bp + delta, -1.0 - dbp
                    core = g * (bp * x[bj + q] - bm * x[bk + q])
                    core_u = g * charge[q] * (dbp * x[bj + q] + dbm * x[bk + q])  # d/d u_k
                    dl = 0.5 * (d[q, j] + d[q, k])
                    q_ready = True
                di = 0.5 * (d[i, j] + d[i, k])
                root = math.sqrt(di * dl)
                rj = aj / total
                rk = ak / total
                ni = 2.0 * aj * rk
                wj = 2.0 * rk * rk  # d n_i,f / d n_i,j
                wk_ = 2.0 * rj * rj
                coef = kap * root
                flux = coef * ni * core
                res[bj + i] += flux
                res[bk + i] -= flux
                if not jacobian:
                    continue
                # d flux / d(unknown) of cell j (col offset m) and cell k (2m), rows j, k
                f_ij = flux * 0.25 * dd[i, j] / di + coef * wj * core
                f_ik = flux * 0.25 * dd[i, k] / di + coef * wk_ * core
                f_lj = flux * 0.25 * dd[q, j] / dl + coef * ni * g * bp
                f_lk = flux * 0.25 * dd[q, k] / dl - coef * ni * g * bm
                f_u = coef * ni * core_u
                blk[j, i, m + i] += f_ij
                blk[j, i, 2 * m + i] += f_ik
                blk[j, i, m + q] += f_lj
                blk[j, i, 2 * m + q] += f_lk
                blk[j, i, 2 * m + s] += f_u
                blk[j, i, m + s] -= f_u
                blk[k, i, i] -= f_ij
                blk[k, i, m + i] -= f_ik
                blk[k, i, q] -= f_lj
                blk[k, i, m + q] -= f_lk
                blk[k, i, m + s] -= f_u
                blk[k, i, s] += f_u


@numba.njit(cache=True)
def _coupling_eigenvalue_bound(x, sy, block):
    """Smallest eigenvalue of C = [δ_il + (1-δ_il) κ_il √(x_i x_l)] over the faces, from
    below (Gershgorin: exact for one coupled pair); ≥ 0 means L is positive
    semi-definite, i.e. the entropy production is ≥ 0 on every face."""
    m = len(block)
    s = m - 1
    kappa = sy.coupling
    lowest = 1.0
    for j in range(sy.widths.size - 1):
        bj = 1 + j * m
        for i in range(s):
            xi = max(0.5 * (x[bj + i] + x[bj + m + i]), 0.0)
            row = 0.0
            for q in range(s):
                if q != i:
                    xl = max(0.5 * (x[bj + q] + x[bj + m + q]), 0.0)
                    row += abs(kappa[i, q]) * math.sqrt(xi * xl)
            lowest = min(lowest, 1.0 - row)
    return lowest


@numba.njit(cache=True)
def _block_factor(blk, piv, gain, block):
    """Block-tridiagonal LU (block Thomas) of ``blk`` in place; False on a zero pivot.

    The cells are eliminated from the back (j = N-1) to the front, so that the front cell,
    the only one the beam flux's border touches, is the last: its reduced block
    ``D'_0`` then closes the bordered system without a second solve (:func:`_newton`).
    ``D'_j = D_j - U_j G_{j+1}`` is LU-factored with partial pivoting inside the block (the
    blocks are dominated by their own cell: storage and space charge, so no pivoting across
    cells is needed); its rows are exchanged together with L_j, and ``gain[j]`` =
    ``G_j = D'_j⁻¹ L_j``. U_j keeps the original row order; :func:`_forward_sweep` applies
    the exchanges to the right-hand side after subtracting ``U_j y_{j+1}``. The diagonal
    of the factored D'_j holds the reciprocals of its pivots (the solves multiply).
    """
    n, m = blk.shape[0], len(block)
    for j in range(n - 1, -1, -1):
        if j < n - 1:
            for a in range(m):
                for c in range(m):
                    uac = blk[j, a, 2 * m + c]
                    if uac != 0.0:
                        for b in range(m):
                            blk[j, a, m + b] -= uac * gain[j + 1, c, b]
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
                for c in range(2 * m):
                    t = blk[j, k, c]
                    blk[j, k, c] = blk[j, p, c]
                    blk[j, p, c] = t
            inv = 1.0 / blk[j, k, m + k]
            blk[j, k, m + k] = inv
            for r in range(k + 1, m):
                f = blk[j, r, m + k] * inv
                blk[j, r, m + k] = f
                if f != 0.0:
                    for c in range(m + k + 1, 2 * m):
                        blk[j, r, c] -= f * blk[j, k, c]
                    for c in range(m):
                        blk[j, r, c] -= f * blk[j, k, c]
        # back substitution of the (already eliminated) L_j columns: G_j = D'⁻¹ L_j
        if j > 0:
            for b in range(m):
                for k in range(m - 1, -1, -1):
                    v = blk[j, k, b]
                    for c in range(k + 1, m):
                        v -= blk[j, k, m + c] * gain[j, c, b]
                    gain[j, k, b] = v * blk[j, k, m + k]
    return True


@numba.njit(cache=True, inline="always")
def _cell_solve(blk, piv, j, y, block):
    """Solve the factored ``D'_j`` for ``y`` (length m) in place."""
    m = len(block)
    for k in range(m):
        p = piv[j, k]
        if p != k:
            t = y[k]
            y[k] = y[p]
            y[p] = t
    for k in range(1, m):
        acc = y[k]
        for c in range(k):
            acc -= blk[j, k, m + c] * y[c]
        y[k] = acc
    for k in range(m - 1, -1, -1):
        acc = y[k]
        for c in range(k + 1, m):
            acc -= blk[j, k, m + c] * y[c]
        y[k] = acc * blk[j, k, m + k]


@numba.njit(cache=True)
def _forward_sweep(blk, piv, rhs, block):
    """First half of a solve, from the back cell to the front: afterwards ``rhs[0]`` is the
    front cell's solution (given the border), the others await :func:`_back_sweep`."""
    n, m = blk.shape[0], len(block)
    y = np.empty(m)
    for j in range(n - 1, -1, -1):
        for a in range(m):
            y[a] = rhs[j, a]
        if j < n - 1:
            for a in range(m):
                acc = y[a]
                for c in range(m):
                    acc -= blk[j, a, 2 * m + c] * rhs[j + 1, c]
                y[a] = acc
        _cell_solve(blk, piv, j, y, block)
        for a in range(m):
            rhs[j, a] = y[a]


@numba.njit(cache=True)
def _back_sweep(gain, rhs, block):
    """Second half of a solve: x_j = y_j - G_j x_{j-1} from the front to the back."""
    n, m = rhs.shape[0], len(block)
    for j in range(1, n):
        for a in range(m):
            acc = rhs[j, a]
            for c in range(m):
                acc -= gain[j, a, c] * rhs[j - 1, c]
            rhs[j, a] = acc


@numba.njit(cache=True)
def _block_solve(blk, piv, gain, rhs, block):
    """Solve the factored block-tridiagonal system for ``rhs`` (n, m) in place."""
    _forward_sweep(blk, piv, rhs, block)
    _back_sweep(gain, rhs, block)


@numba.njit(cache=True)
def _row_norms(sy, wk, block):
    """``wk.scale`` = 1 / the L1 norm of every row of the Jacobian (before it is factored);
    the beam's own equation is measured on its natural scale instead (the ideal beam's is
    already relative, the finite beam's relative to its flux)."""
    m = len(block)
    n = wk.blk.shape[0]
    for j in range(n):
        for a in range(m):
            acc = 0.0
            for c in range(3 * m):
                acc += abs(wk.blk[j, a, c])
            wk.scale[1 + j * m + a] = acc
    for a in range(m):
        wk.scale[1 + a] += abs(wk.edge[a])
    wk.scale[0] = sy.beam_max_flux if sy.beam_mode == BEAM_FINITE else 1.0
    for r in range(wk.scale.size):
        wk.scale[r] = 1.0 / (wk.scale[r] + 1e-300)


@numba.njit(cache=True)
def _scaled_residual(wk):
    """max over equations of |residual| / (L1 norm of its Jacobian row): the change of the
    unknowns (n0, V_T) that the residual still asks for (inf if any residual is NaN)."""
    worst = 0.0
    finite = 0.0
    res, inv = wk.res, wk.scale
    for r in range(res.size):
        v = abs(res[r]) * inv[r]
        worst = max(worst, v)
        finite += res[r] * 0.0  # stays 0 unless a residual is NaN or infinite
    return worst if finite == 0.0 else np.inf


@numba.njit(cache=True)
def _balance_error(x, a0_dt, sy, wk, block):
    """max over species of |Σ residual| / allowed: the ion balance of the step (≤ 1 passes).

    The sum of a species' density residuals is its inventory change less (in - out) per
    time: it must vanish to ``_BALANCE_RTOL`` of the boundary fluxes, or to
    ``_BALANCE_INVENTORY_RTOL`` of the inventory per step (the resolution of the stored
    densities themselves) where almost nothing flows.
    """
    m = len(block)
    s = m - 1
    n = sy.widths.size
    last = 1 + (n - 1) * m
    worst = 0.0
    for i in range(s):
        total = 0.0
        inventory = 0.0
        for j in range(n):
            r = 1 + j * m + i
            total += wk.res[r]
            inventory += sy.widths[j] * abs(x[r])
        outflow = _back_outflow(sy, i, x[last + i], x[last + s], wk.d[i, n - 1], 0.0)[0]
        moved = abs(sy.beam_fraction[i] * x[0]) + abs(outflow)
        allowed = _BALANCE_RTOL * moved + _BALANCE_INVENTORY_RTOL * a0_dt * inventory
        v = abs(total) / (allowed + 1e-300)
        if not v <= worst:
            worst = v
    return worst


@numba.njit(cache=True)
def _newton(x, ref, hist, a0_dt, sy, wk, max_iter, tol_update, tol_residual, block):
    """Newton iterations in place on ``x``: (iterations, factorisations), (-1, ·) on failure.

    Converged when (1) the residual, scaled per equation by its Jacobian row (so that it
    reads as the change of the unknowns it still asks for, n0 or V_T), is below
    ``tol_residual``, (2) the estimated remaining update of the densities (n0) is below
    ``tol_update`` and (3) every species' residuals sum to zero to round-off: the ion
    balance of the step closes (:func:`_balance_error`).

    Each linear system is bordered by the beam flux, which meets only the front cell: the
    block elimination runs from the back to the front (:func:`_block_factor`), leaves an
    (m+1)² system of the front cell and ``ΔJ_b``, solved directly, then sweeps back. The
    factorisation is kept (chord iterations: residual only) while the updates and the
    residual shrink fast enough; otherwise the Jacobian is refactored.
    """
    m = len(block)
    s = m - 1
    n = sy.widths.size
    blk, edge, step, border = wk.blk, wk.edge, wk.step, wk.border
    factors = 0
    refactor = True
    previous = np.inf
    previous_residual = np.inf
    remaining = np.inf
    for it in range(max_iter + 1):
        _assemble(x, ref, hist, a0_dt, sy, wk, refactor, block)
        if it == 0:  # the scale of the convergence test: the step's first Jacobian rows
            _row_norms(sy, wk, block)
        residual = _scaled_residual(wk)
        if not residual < 1e300:
            return -1, factors
        if (
            residual <= tol_residual
            and remaining <= tol_update
            and _balance_error(x, a0_dt, sy, wk, block) <= 1.0
        ):
            return it, factors
        if it == max_iter:
            break
        if not refactor and residual > _CHORD_CONTRACTION * previous_residual:
            # a chord iteration that stopped reducing the residual: a fresh Jacobian (the
            # blocks hold the old factorisation, so assemble them again first)
            refactor = True
            _assemble(x, ref, hist, a0_dt, sy, wk, True, block)
        previous_residual = residual
        if refactor:
            if not _block_factor(blk, wk.piv, wk.gain, block):
                return -1, factors
            factors += 1
            for a in range(m):  # z_0 = D'_0⁻¹ b_0: the border column, met only in cell 0
                border[a] = edge[a]
            _cell_solve(blk, wk.piv, 0, border, block)
        for j in range(n):
            for a in range(m):
                step[j, a] = -wk.res[1 + j * m + a]
        _forward_sweep(blk, wk.piv, step, block)
        # the front cell and the beam flux: D'_0 Δx_0 + b_0 ΔJ_b = y_0, c·Δx_0 + d ΔJ_b = -r_b
        row_y = 0.0
        row_z = 0.0
        for a in range(m):
            row_y += edge[m + a] * step[0, a]
            row_z += edge[m + a] * border[a]
        pivot = edge[2 * m] - row_z
        if pivot == 0.0:
            return -1, factors
        d_jb = (-wk.res[0] - row_y) / pivot
        for a in range(m):
            step[0, a] -= border[a] * d_jb
        _back_sweep(wk.gain, step, block)
        size = 0.0
        for j in range(n):
            for a in range(m):
                v = step[j, a]
                if not abs(v) < 1e300:
                    return -1, factors
                x[1 + j * m + a] += v
                if a != s:
                    size = max(size, abs(v))
        x[0] += d_jb
        # remaining error of a linearly converging iteration: rate / (1 - rate) × last update
        rate = size / previous  # no estimate in the first iteration: previous = inf
        remaining = size * rate / (1.0 - rate) if 0.0 < rate < 0.5 else size
        refactor = size > _CHORD_CONTRACTION * previous
        previous = size
    return -1, factors


@numba.njit(cache=True)
def _boundary_fluxes(x, sy, flux_in, flux_out):
    """Beam influx and back-electrode outflux of every active species (n0·nm/s)."""
    s = sy.charge.size
    n = sy.widths.size
    bn = 1 + (n - 1) * (s + 1)
    for i in range(s):
        flux_in[i] = sy.beam_fraction[i] * x[0]
        d, dd = _diffusivity_at(sy.d_table, sy.inv_step, i, x[bn + i])
        flux_out[i] = _back_outflow(sy, i, x[bn + i], x[bn + s], d, dd)[0]


@numba.njit(cache=True)
def _prepare_step(predicted, hist, s0, s1, s2, s3, w, c, block):
    """The predictor ``Σ w_l s_l`` (densities clipped at 0) and the BDF history term
    ``Σ_{l≥2} c_l (s_{l-1} - s_0)`` from the last accepted states s0 (newest) ... s3
    (unused ones with weight 0).

    Both in increments (the weights sum to 1): where the states agree the predictor is
    exactly s0, not s0 rounded through weights of either sign, so a quiet cell has no
    difference to the predictor at all.
    """
    m = len(block)
    for r in range(predicted.size):
        v = s0[r] + (w[1] * (s1[r] - s0[r]) + w[2] * (s2[r] - s0[r]) + w[3] * (s3[r] - s0[r]))
        if r > 0 and (r - 1) % m != m - 1 and v < 0.0:
            v = 0.0
        predicted[r] = v
        hist[r] = c[2] * (s1[r] - s0[r]) + c[3] * (s2[r] - s0[r])


@numba.njit(cache=True)
def _change_norms(x, predicted, widths, block):
    """Norms of the difference to the predictor: max over species of ∫|Δn| dx (nm·n0), the
    smallest density, and max |u| of the potential (V_T)."""
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
    u_size = 0.0
    for j in range(n):
        u_size = max(u_size, abs(x[1 + j * m + s]))
    return worst, lowest, u_size


@numba.njit(cache=True, inline="always")
def _charge_change(x, predicted, charge, j, block):
    """``Σ_i z_i (x_ij - predicted_ij)``: the charge density difference of cell ``j`` (n0)."""
    m = len(block)
    q = 0.0
    for i in range(m - 1):
        r = 1 + j * m + i
        q += charge[i] * (x[r] - predicted[r])
    return q


@numba.njit(cache=True)
def _charge_potential_change(x, predicted, green, widths, charge, block):
    """The potential (V_T) of the charge difference to the predictor: the max over cells of
    ``|Δu(x_k)| = |Σ_j G(x_k, x_j) q_j|`` with ``q_j = w_j Σ_i z_i Δn_ij`` and Poisson's
    Green's function for the Robin front (``u'(0) = κ u(0)``, κ = 1/(εr g + h_0/2), the
    vacuum gap to the grounded aperture) and a grounded back,
    ``G(x, x') = (1 + κ min(x, x')) (L - max(x, x')) / ((1 + κ L) λ_D²)``, held by
    :class:`_Green` as its two factors.

    Poisson is algebraic: the potential's local error is the potential of the densities'
    local error. Computed from the charges it leaves out the potential's own round-off,
    which in a thick sample ((L/λ_D)² ~ 1e15 per mm²) is far above any tolerance a step
    could meet. O(N): prefix sums of ``ahead_j q_j`` and ``back_j q_j``.
    """
    n = widths.size
    total = 0.0
    for j in range(n):
        total += green.back[j] * widths[j] * _charge_change(x, predicted, charge, j, block)
    prefix = 0.0
    partial = 0.0
    largest = 0.0
    for k in range(n):
        q = widths[k] * _charge_change(x, predicted, charge, k, block)
        prefix += green.ahead[k] * q
        partial += green.back[k] * q
        du = green.back[k] * prefix + green.ahead[k] * (total - partial)
        largest = max(largest, abs(du))
    return largest


class _Green(NamedTuple):
    """Poisson's Green's function of a stage as ``G(x, x') = ahead(min) back(max)``:
    ``ahead = (1 + κ x) / ((1 + κ L) λ_D²)`` (1/nm), ``back = L - x`` (nm), at the cell
    centres; ``diagonal_width = G(x_j, x_j) w_j``, the potential (V_T) of one n0 in cell j."""

    ahead: np.ndarray
    back: np.ndarray
    diagonal_width: np.ndarray

    @classmethod
    def for_system(cls, system: StageSystem) -> _Green:
        widths = system.widths
        thickness = widths.sum()
        centres = np.cumsum(widths) - 0.5 * widths
        kappa = system.front_coefficient
        ahead = (1.0 + kappa * centres) / ((1.0 + kappa * thickness) * system.debye2)
        back = thickness - centres
        return cls(ahead=ahead, back=back, diagonal_width=ahead * back * widths)


@numba.njit(cache=True)
def _potential_resolution(x, predicted, green, charge, block):
    """The potential (V_T) of half an ulp of charge in the coarsest cell whose densities
    differ from the predictor: ``eps/2 max_j green_j Σ_i |z_i n_ij|`` with
    ``green_j = G(x_j, x_j) w_j`` (:class:`_Green`), the potential of one n0 in cell j. The states
    cannot resolve a potential below this: in a thick sample Poisson amplifies one ulp of
    charge in a wide bulk cell by (L/λ_D)² to ~0.03 V_T per mm, far above the potential's
    absolute tolerance. Cells that agree with the predictor add nothing (the predictor is
    exact there)."""
    m = len(block)
    s = m - 1
    largest = 0.0
    for j in range(green.size):
        base = 1 + j * m
        cell = 0.0
        changed = False
        for i in range(s):
            v = x[base + i]
            cell += abs(charge[i] * v)
            if v != predicted[base + i]:
                changed = True
        if changed:
            largest = max(largest, green[j] * cell)
    return _RESOLUTION_ULPS * _EPS * largest


# ----------------------------------------------------------------------- time stepping


@dataclass(frozen=True)
class StepControl:
    """Numerical settings of the time integration (dimensionless where noted).

    Attributes
    ----------
    tolerance : float
        Allowed local error per step of the densities: L1 norm over depth, in nm·n0 (a
        displacement of a front).
    potential_rtol, potential_atol : float
        Allowed local error per step of the potential: ``potential_rtol`` × max |φ| +
        ``potential_atol`` (V_T). This is what resolves the dielectric relaxation, which
        moves almost no ions.
    first_step : float
        First time step of a stage, s.
    max_step : float
        Largest time step, s.
    min_step : float
        A step below this, or below 64 eps of the time into the stage, means the stage
        cannot be integrated, s.
    max_steps : int
        Accepted and rejected steps per stage before the stage is given up.
    max_order : int
        Highest order of the variable-order BDF (1-3): after a restart each accepted step
        raises the order by one.
    max_newton : int
        Newton iterations before a step is retried smaller.
    tol_update : float
        Newton: largest estimated remaining update of a density, n0.
    tol_residual : float
        Newton: largest residual of any equation relative to the size of its terms.
    negative_tolerance : float
        A step whose densities go below -this (n0) is retried smaller.
    """

    tolerance: float = 2e-2
    potential_rtol: float = 1e-3
    potential_atol: float = 1e-4
    first_step: float = 1e-6
    max_step: float = 1e5
    min_step: float = 1e-15
    max_steps: int = MAX_STEPS_PER_STAGE
    max_order: int = MAX_ORDER
    max_newton: int = 12
    tol_update: float = 1e-8
    tol_residual: float = 1e-8
    negative_tolerance: float = 1e-12


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
    #: coupled stages: lower bound of the smallest eigenvalue of C over faces and steps
    min_coupling_eigenvalue: float = 1.0
    #: the highest surface potential (V_T) at the end of a step in which the beam landed
    #: ions (more than can move the surface by the invariant's allowance)
    peak_landing_surface: float = -np.inf
    #: the coarsest resolution of the potential by the densities over the steps (V_T)
    potential_resolution: float = 0.0


#: observer(t_stage_s, t_end_s): called after every accepted step
Observer = Callable[[float, float], None]


def _bdf_weights(times: list[float], t_new: float, order: int) -> np.ndarray:
    """Weights c_l (1/s) of the variable-step BDF formula of ``order``: the derivative at
    ``t_new`` of the polynomial through (t_new, x_new), (t_k, x_k), ..., (t_{k+1-order}, ·),
    ``x'(t_new) ≈ Σ_l c_l x_l`` with l = 0 the new state and l = 1 the last accepted one."""
    nodes = [t_new, *times[: -order - 1 : -1]]
    c = np.empty(order + 1)
    c[0] = sum(1.0 / (t_new - tm) for tm in nodes[1:])
    for k in range(1, order + 1):
        num = 1.0
        den = nodes[k] - t_new
        for m in range(1, order + 1):
            if m != k:
                num *= t_new - nodes[m]
                den *= nodes[k] - nodes[m]
        c[k] = num / den
    return c


def _bdf_accumulate(q: list[np.ndarray], flux: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Integrate a boundary flux (per s) with the same BDF formula as the densities, in
    increments: c_0 (Q - Q_k) + Σ_{l≥2} c_l (Q_{k+1-l} - Q_k) = flux."""
    history = sum(c[k] * (q[-k] - q[-1]) for k in range(2, c.size))
    return q[-1] + (flux - history) / c[0]


def _predictor_weights(times: list[float], t_new: float, order: int) -> np.ndarray:
    """Weights of the extrapolation of degree ``order`` through the last ``order + 1``
    accepted states (newest first) to ``t_new``."""
    nodes = times[: -order - 2 : -1]
    w = np.ones(len(nodes))
    for k, tk in enumerate(nodes):
        for m, tm in enumerate(nodes):
            if m != k:
                w[k] *= (t_new - tm) / (tk - tm)
    return w


def _error_factor(times: list[float], t_new: float, order: int, c0: float) -> float:
    """Local error ≈ factor × |corrector - predictor| (Milne's device) for BDF of ``order``
    with the predictor of the same degree: with K = x^(q+1)/(q+1)!, the corrector's error
    is K Π_{l=1..q} (t_new - t_{k+1-l}) / c_0 and the predictor's K Π_{l=0..q} (t_new -
    t_{k-l}), of opposite signs."""
    if len(times) < 2:
        return 0.0
    if len(times) < order + 1:  # after a restart: a predictor of lower degree
        return min(1.0, (t_new - times[-1]) / (times[-1] - times[-2]))
    corrector = math.prod(t_new - tm for tm in times[-1 : -order - 1 : -1]) / c0
    predictor = math.prod(t_new - tm for tm in times[-1 : -order - 2 : -1])
    return corrector / (predictor + corrector)


class _Integrator:
    """Adaptive variable-order BDF over one stage; holds the work arrays of the compiled kernels."""

    def __init__(self, system: StageSystem, control: StepControl) -> None:
        self.system = system
        self.control = control
        self.work = Workspace.for_system(system)
        self.n_factor = 0
        # a tuple of length m = S + 1: numba compiles the kernels for each length, so the
        # loops over a cell's unknowns have constant trip counts and are unrolled
        self.block = (0,) * (system.n_species + 1)
        self.green = _Green.for_system(system)
        #: the charge (n0·nm) whose landing moves the surface by the invariant's allowance
        surface_per_charge = self.green.ahead[0] * self.green.back[0]  # G(0, 0), V_T/(n0·nm)
        self.landing_floor = surface_allowance(system) / surface_per_charge

    def newton(self, x: np.ndarray, ref: np.ndarray, hist: np.ndarray, a0_dt: float) -> int:
        c = self.control
        iterations, factors = _newton(
            x,
            ref,
            hist,
            a0_dt,
            self.system,
            self.work,
            c.max_newton,
            c.tol_update,
            c.tol_residual,
            self.block,
        )
        self.n_factor += factors
        return iterations

    def fluxes(self, x: np.ndarray) -> np.ndarray:
        """Beam influx (row 0) and back outflux (row 1) of every species, n0·nm/s."""
        out = np.empty((2, self.system.n_species))
        _boundary_fluxes(x, self.system, out[0], out[1])
        return out

    def potential_resolution(self, x: np.ndarray, predicted: np.ndarray) -> float:
        """The smallest potential difference (V_T) the densities of ``x`` resolve."""
        green = self.green.diagonal_width
        return _potential_resolution(x, predicted, green, self.system.charge, self.block)

    def local_error(
        self, x: np.ndarray, predicted: np.ndarray, factor: float, resolution: float
    ) -> tuple[float, float, str]:
        """Local error of a step relative to the tolerances (accept ≤ 1), the smallest
        density, and which norm is the largest ("density", "potential" or "surface").

        The potential's error is that of the charge's (:func:`_charge_potential_change`),
        its absolute tolerance no finer than the densities' ``resolution`` (V_T).
        """
        c, sy = self.control, self.system
        change, lowest, u_size = _change_norms(x, predicted, sy.widths, self.block)
        du = _charge_potential_change(x, predicted, self.green, sy.widths, sy.charge, self.block)
        errors = {
            "density": change / c.tolerance,
            "potential": du / (c.potential_rtol * u_size + max(c.potential_atol, resolution)),
        }
        if sy.beam_mode != BEAM_NONE:
            # the surface near U_R: a step may move it by a tenth of its distance from U_R,
            # and no closer than the invariant's allowance, so it cannot cross U_R by more
            # than that (an ideal beam holds it there; a finite beam approaches it; a
            # surface charged above it relaxes). The surface itself, not the potential of
            # the charge difference: the beam pins it, and the Robin condition's share of
            # a landed charge is not small
            p0 = 1 + sy.n_species
            surface = sy.surface_ratio * x[p0]
            allowed = max(surface_allowance(sy) + resolution, abs(sy.beam_potential - surface))
            change_s = sy.surface_ratio * abs(x[p0] - predicted[p0])
            errors["surface"] = change_s / (0.1 * allowed)
        worst = max(errors, key=errors.__getitem__)
        return errors[worst] * factor, lowest, worst


def surface_allowance(system: StageSystem) -> float:
    """How far (V_T) a beam may lift the surface above U_R: SURFACE_RTOL of U_R plus
    SURFACE_ATOL."""
    return SURFACE_RTOL * system.beam_potential + SURFACE_ATOL


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
    moved = [np.zeros((2, s))]  # cumulative ions in (row 0) and out (row 1), n0·nm
    fluxes = work.fluxes(x0)
    _record_trace(traj, system, 0.0, x0, fluxes[1], moved[-1][1])
    if 0.0 in save_times:
        _save(traj, 0.0, x0, fluxes[1], moved[-1][1])
    t, dt_wanted = 0.0, control.first_step
    min_density = 0.0
    was_landing = _beam_landing(system, x0, False, 0.0)
    hist = np.zeros_like(x0)
    while t < duration:
        order = min(len(times), control.max_order, MAX_ORDER)  # one more after each step
        dt_try = min(dt_wanted, control.max_step)
        if order >= 2:
            dt_try = min(dt_try, _MAX_STEP_RATIO[order] * (times[-1] - times[-2]))
        dt, hits_target = _next_target(t, dt_try, targets)
        c = _bdf_weights(times, t + dt, order)
        # BDF in increments, c_0 (x - x_k) + Σ_{l≥2} c_l (x_{k+1-l} - x_k): no cancellation
        # of the large bulk densities, so the ion balance closes to round-off
        # (BDF1 after a restart: no history term)
        p_order = min(order, len(states) - 1)
        weights = np.zeros(MAX_ORDER + 1)
        weights[: p_order + 1] = _predictor_weights(times, t + dt, p_order)
        history = np.zeros(MAX_ORDER + 1)
        history[: order + 1] = c
        s0, s1, s2, s3 = (states[-1 - k] if k < len(states) else states[0] for k in range(4))
        predicted = np.empty_like(x0)
        _prepare_step(predicted, hist, s0, s1, s2, s3, weights, history, work.block)
        x = predicted.copy()
        iters = work.newton(x, states[-1], hist, c[0])
        failed = iters < 0
        xmin, error, resolution, limit = -np.inf, np.inf, 0.0, "newton"
        if not failed:
            resolution = work.potential_resolution(x, predicted)
            factor = _error_factor(times, t + dt, order, c[0])
            error, xmin, limit = work.local_error(x, predicted, factor, resolution)
        negative = xmin < -control.negative_tolerance
        if failed or negative or not error <= 1.0:
            traj.n_rejected += 1
            traj.rejected_by["newton" if failed else "negative" if negative else "error"] += 1
            shrink = 0.25 if failed or negative else max(0.2, 0.9 * error ** (-1.0 / (order + 1)))
            dt_wanted = dt * shrink
            if dt_wanted < max(control.min_step, _TIME_RESOLUTION * t):
                reason = "newton" if failed else "negative" if negative else limit
                raise ConvergenceError(_failure_message(stage_name, t, dt, reason, xmin, control))
            _check_step_budget(traj, control, stage_name, t, duration)
            continue
        traj.n_newton += iters
        traj.potential_resolution = max(traj.potential_resolution, resolution)
        min_density = min(min_density, xmin)
        fluxes = work.fluxes(x)
        moved.append(_bdf_accumulate(moved, fluxes, c))
        if float(np.sum(moved[-1][0] - moved[-2][0])) > work.landing_floor:
            surface = system.surface_ratio * x[1 + s]
            traj.peak_landing_surface = max(traj.peak_landing_surface, surface)
        t = next(tt for tt in targets if tt > t * (1 + 1e-14)) if hits_target else t + dt
        times.append(t)
        states.append(x)
        landing = _beam_landing(system, x, was_landing, control.tol_residual)
        if traj.n_steps == 0 or landing != was_landing:
            # start the BDF history afresh after the first step of a stage and whenever the
            # ideal beam starts or stops landing: such a step jumps to a new consistent
            # state (the surface charges up), and a BDF history containing the jump would
            # overshoot the surface potential (and switch the beam back: a limit cycle)
            del times[:-1], states[:-1], moved[:-1]
        elif len(states) > control.max_order + 1:
            del times[0], states[0], moved[0]
        was_landing = landing
        traj.n_steps += 1
        if system.coupled:
            traj.min_coupling_eigenvalue = min(
                traj.min_coupling_eigenvalue, _coupling_eigenvalue(x, system, work.block)
            )
        _check_step_budget(traj, control, stage_name, t, duration)
        _record_trace(traj, system, t, x, fluxes[1], moved[-1][1])
        if hits_target:
            _save(traj, t, x, fluxes[1], moved[-1][1])
        if observer is not None:
            observer(t, duration)
        growth = 2.0 if error == 0.0 else min(2.0, max(0.5, 0.7 * error ** (-1.0 / (order + 1))))
        dt_wanted = max(dt_wanted, dt * growth) if dt < dt_try else dt * growth
    traj.inflow = moved[-1][0].copy()
    traj.outflow = moved[-1][1].copy()
    traj.min_density = min_density
    traj.n_factor = work.n_factor
    check_invariants(system, traj, control, stage_name)
    return traj


class InvariantError(ConvergenceError):
    """A stage finished, but its numbers violate an invariant: they cannot be trusted."""


#: conservation: |Δinventory - (in - out)| may reach this of the ions moved through the
#: boundaries (Newton leaves 1e-12 of the boundary fluxes per step) ...
CONSERVATION_RTOL = 1e-10
#: ... or this of the species' inventory per step: Newton's balance test allows
#: _BALANCE_INVENTORY_RTOL (≈ eps) of it, storing x + Δx rounds every density by ≤ eps/2,
#: and the BDF history carries earlier steps' imbalances on (a factor ≤ 2 for BDF1-3)
CONSERVATION_STEP_RTOL = 2.0 * (_BALANCE_INVENTORY_RTOL + 0.5 * _EPS)
#: a beam never lifts the surface above U_R (1 + this) ...
SURFACE_RTOL = 1e-6
#: ... plus this, V_T (~30 nV): the resolution of the surface for a source of microvolts
SURFACE_ATOL = 1e-6


def allowed_imbalance(moved: np.ndarray, inventory: np.ndarray, n_steps: int) -> np.ndarray:
    """The largest ion-balance error (n0·nm) of each species that round-off can explain
    after ``n_steps`` steps: CONSERVATION_RTOL of the most ions moved through a boundary,
    or CONSERVATION_STEP_RTOL of the species' inventory per step (and once for the sums
    themselves), whichever is larger."""
    per_inventory = (n_steps + 1) * CONSERVATION_STEP_RTOL * np.asarray(inventory)
    return np.maximum(CONSERVATION_RTOL * float(np.max(moved)), per_inventory)


def check_invariants(
    system: StageSystem, traj: StageTrajectory, control: StepControl, stage_name: str
) -> None:
    """Raise :class:`InvariantError` unless the stage conserved every species to round-off
    (:func:`allowed_imbalance`), its beam never lifted the surface above U_R and every
    density stayed ≥ -negative_tolerance.

    The surface bound is on the beam, not on the surface: in a step in which ions land,
    the surface ends at most ``surface_allowance`` above U_R, plus the potential's
    round-off. A surface above U_R without landing is physics (a stage that starts
    charged above its U_R, or whose aperture changed, relaxes through a transient that
    can rise before it decays) and is not bounded.
    """
    # integrate_stage sets these before it checks
    assert traj.initial is not None and traj.inflow is not None and traj.outflow is not None
    start = system.unpack(traj.initial)[0]
    end = system.unpack(traj.saved[-1])[0]
    change = np.array([math.fsum(row) for row in (end - start) * system.widths])
    imbalance = change - (traj.inflow - traj.outflow)
    inventory = np.maximum(np.abs(start) @ system.widths, np.abs(end) @ system.widths)
    moved = traj.inflow + traj.outflow
    allowed = allowed_imbalance(moved, inventory, traj.n_steps)
    problems = []
    worst = int(np.argmax(np.abs(imbalance) / (allowed + 1e-300)))
    if not np.all(np.abs(imbalance) <= allowed):
        problems.append(
            f"the ion balance of active species {worst} does not close: "
            f"{abs(imbalance[worst]):.3g} n0·nm against {moved.max():.3g} moved and "
            f"{inventory[worst]:.3g} present ({allowed[worst]:.3g} allowed)"
        )
    if system.beam_mode != BEAM_NONE:
        bound = system.beam_potential + surface_allowance(system) + traj.potential_resolution
        if not traj.peak_landing_surface <= bound:
            problems.append(
                f"the beam landed ions while the surface stood at "
                f"{traj.peak_landing_surface / system.beam_potential:.6g} × U_R"
            )
    if not traj.min_density >= -control.negative_tolerance:
        problems.append(f"a density went to {traj.min_density:.3g} n0")
    if not traj.min_coupling_eigenvalue >= 0.0:
        problems.append(
            "the Onsager matrix lost positive semi-definiteness (smallest eigenvalue bound "
            f"{traj.min_coupling_eigenvalue:.3g}): negative entropy production"
        )
    if problems:
        raise InvariantError(
            f"stage {stage_name!r} finished with numbers that cannot be trusted: "
            + "; ".join(problems)
            + ". Try a smaller solver.tolerance or solver.max_step, or a finer mesh; if the "
            "inputs are far outside the physical range (temperature, permittivity, "
            "thickness, source potential), check them."
        )


def _coupling_eigenvalue(x: np.ndarray, system: StageSystem, block: tuple) -> float:
    """Smallest eigenvalue of the coupling's C on the faces: the cheap Gershgorin bound,
    and only where that is negative the exact eigenvalues."""
    bound = _coupling_eigenvalue_bound(x, system, block)
    if bound >= 0.0:
        return bound
    from caitlab.coupling import min_eigenvalue

    density = system.unpack(x)[0]
    return min_eigenvalue(system.coupling, 0.5 * (density[:, 1:] + density[:, :-1]))


def _check_step_budget(
    traj: StageTrajectory, control: StepControl, stage_name: str, t: float, duration: float
) -> None:
    if traj.n_steps + traj.n_rejected >= control.max_steps:
        raise ConvergenceError(
            f"stage {stage_name!r} took more than {control.max_steps} time steps and reached "
            f"only t = {t:.6g} s of {duration:.6g} s. Raise solver.max_step or "
            "solver.tolerance, or shorten the stage."
        )


def _beam_landing(system: StageSystem, x: np.ndarray, before: bool, band: float) -> bool:
    """Whether an ideal beam lands ions (holding the surface at U_R) in state ``x``,
    rather than standing off (surface above U_R): the branch of its complementarity.

    Within ``band`` (Newton's relative tolerance) of the corner the branch is that of the
    state ``before``: a beam whose flux and surface excess are both at Newton's
    resolution does not switch, so the BDF history is not restarted every step (a
    limit cycle of restarts with tiny steps on a 1 nm aperture).
    """
    if system.beam_mode != BEAM_IDEAL:
        return False
    flux = x[0] / system.beam_flux_scale
    excess = system.surface_ratio * x[1 + system.n_species] / system.beam_potential - 1.0
    if abs(flux - excess) <= band:
        return before
    return bool(flux > excess)


def _save(traj: StageTrajectory, t: float, x: np.ndarray, flux_out, outflow) -> None:
    if traj.save_times and abs(traj.save_times[-1] - t) <= 1e-12 * max(1.0, t):
        del traj.save_times[-1], traj.saved[-1], traj.saved_flux_out[-1]
        del traj.saved_outflow[-1]  # the same time again: the later state wins
    traj.save_times.append(t)
    traj.saved.append(x.copy())
    traj.saved_flux_out.append(flux_out.copy())
    traj.saved_outflow.append(outflow.copy())


def _record_trace(traj, system: StageSystem, t: float, x: np.ndarray, flux_out, outflow) -> None:
    """Append the step's trace (``flux_out`` and ``outflow`` are not modified later)."""
    traj.trace_time.append(t)
    traj.trace_flux_out.append(flux_out)
    traj.trace_outflow.append(outflow)
    traj.trace_surface.append(system.surface_ratio * x[1 + system.n_species])
    traj.trace_beam.append(float(x[0]))


_WHY = {
    "newton": "Newton's method did not converge",
    "density": "the densities' error estimate stayed above solver.tolerance",
    "potential": "the potential's error estimate stayed above its tolerance",
    "surface": "the surface potential could not be held at the beam's U_R",
}
_ADVICE = {
    "newton": "a finer mesh near the front (mesh.front_cell, mesh.refine), or check the "
    "diffusion coefficients of this stage for values many orders of magnitude apart or a "
    "fall-off narrower than the mesh can resolve",
    "negative": "a finer mesh near the front (mesh.front_cell, mesh.refine) or a smaller "
    "solver.tolerance",
    "density": "a larger solver.tolerance, or a finer mesh where the fronts are "
    "(mesh.front_cell, mesh.fine_depth)",
    "potential": "a smaller solver.first_step (the charge relaxes within ε0 εr/σ), or a "
    "finer mesh where the space charge is",
    "surface": 'a smaller solver.first_step, or a finite beam (beam.mode = "finite")',
}


def _failure_message(
    stage: str, t: float, dt: float, reason: str, xmin: float, control: StepControl
) -> str:
    """Why the stage stopped at ``t`` (``reason``: which test rejected the last step)."""
    if reason == "negative":
        why = f"a density went below -{control.negative_tolerance:.0e} n0 ({xmin:.3g} n0)"
    else:
        why = _WHY[reason]
    return (
        f"stage {stage!r} could not be integrated at t = {t:.6g} s (step {dt:.3g} s): {why}. "
        f"Try: {_ADVICE[reason]}."
    )
