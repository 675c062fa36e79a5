"""Processing steps from intensities to normalised fractions versus depth.

Each step is a small pure function; :func:`process_profile` chains them, and every step can
be switched off there. Depths are in m, sputter times in s, intensities in counts per data
point.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.profile import SimsProfile

#: default mass tolerance for matching a channel by mass, u
DEFAULT_MASS_TOLERANCE = 0.05

#: atomic masses (u) of the mobile ions' isotopes; the ions are lighter by one electron
#: mass (0.00055 u), well inside the default tolerance
ISOTOPE_MASSES: dict[str, float] = {
    "6Li": 6.015122,
    "7Li": 7.016003,
    "85Rb": 84.911790,
    "87Rb": 86.909180,
    "133Cs": 132.905452,
}

#: default element -> channels (masses in u, as strings) for the Li/Rb/Cs glasses
DEFAULT_ELEMENTS: dict[str, tuple[str, ...]] = {
    element: tuple(
        f"{mass:.4f}"
        for isotope, mass in ISOTOPE_MASSES.items()
        if isotope.lstrip("0123456789") == element
    )
    for element in ("Li", "Rb", "Cs")
}

#: the mobile-ion density of the Li3B7O12 glass, m^-3 (fractions times n0 are densities)
DEFAULT_N0 = 1.4e28

ChannelSpec = str | float
Elements = Mapping[str, Sequence[ChannelSpec]]


# --------------------------------------------------------------------------- Poisson
def poisson_correct(counts: Any, shots_per_scan: float) -> np.ndarray:
    """Poisson (dead-time) correction of raw counts: ``I = -N ln(1 - k/N)``.

    A ToF detector registers at most one ion per mass bin and primary shot, so k raw counts
    in N shots underestimate the number of ions; SurfaceLab exports are corrected this way.

    Parameters
    ----------
    counts : array_like
        Raw counts k per data point (>= 0).
    shots_per_scan : float
        Primary-ion shots N per scan (e.g. 16384 for a 128 x 128 raster).

    Returns
    -------
    ndarray
        Corrected intensities I, counts.

    Raises
    ------
    SimsError
        If N <= 0, a count is negative, or ``k >= N``: values that are not integers there
        are already corrected (the message says so), integers mean a saturated detector.
    """
    k = np.asarray(counts, dtype=float)
    n = float(shots_per_scan)
    if not (math.isfinite(n) and n > 0):
        raise SimsError(f"shots per scan must be positive, got {shots_per_scan!r}")
    if np.any(k < 0):
        raise SimsError("raw counts must not be negative")
    if np.any(k >= n):
        if _not_integers(k):
            raise SimsError(
                f"intensities exceed the shots per scan ({n:g}) and are not integers: they are "
                "already corrected (SurfaceLab exports are), not raw counts; correcting them "
                "again would count twice (use poisson='auto' or 'off')"
            )
        raise SimsError(
            f"raw counts reach the shots per scan ({n:g}): the detector is saturated and the "
            "Poisson correction is undefined"
        )
    return -n * np.log1p(-k / n)


def _not_integers(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(np.any(np.abs(finite - np.round(finite)) > 1e-9))


def poisson_uncorrect(intensity: Any, shots_per_scan: float) -> np.ndarray:
    """Inverse of :func:`poisson_correct`: ``k = N (1 - exp(-I/N))``.

    Parameters
    ----------
    intensity : array_like
        Poisson-corrected intensities I, counts.
    shots_per_scan : float
        Primary-ion shots N per scan.

    Returns
    -------
    ndarray
        Raw counts k (not rounded), counts.
    """
    value = np.asarray(intensity, dtype=float)
    n = float(shots_per_scan)
    if not n > 0:
        raise SimsError(f"shots per scan must be positive, got {shots_per_scan!r}")
    return -n * np.expm1(-value / n)


def poisson_uncertainty(
    intensity: Any, shots_per_scan: float | None = None, *, zero_sigma: float = 1.0
) -> np.ndarray:
    """Statistical (counting) standard deviation of Poisson-corrected intensities.

    The raw count k of a mass bin over N shots is binomial, ``var(k) = k (1 - k/N)``;
    propagated through ``I = -N ln(1 - k/N)`` this gives ``sigma_I = sqrt(N (exp(I/N) - 1))``,
    which tends to the Poisson ``sqrt(I)`` for ``I << N`` (used when N is unknown).

    Parameters
    ----------
    intensity : array_like
        Poisson-corrected intensities, counts.
    shots_per_scan : float, optional
        Primary shots N per scan; ``None`` gives ``sqrt(I)``.
    zero_sigma : float, optional
        Standard deviation given to zero intensities (1 count by default, the usual choice
        for a weighted fit; 0 keeps the pure counting value).

    Returns
    -------
    ndarray
        Standard deviations, counts.
    """
    value = np.clip(np.asarray(intensity, dtype=float), 0.0, None)
    if shots_per_scan is None:
        sigma = np.sqrt(value)
    else:
        n = float(shots_per_scan)
        with np.errstate(over="ignore"):  # inf, refused by process_profile's final check
            sigma = np.sqrt(n * np.expm1(value / n))
    return np.where(value > 0, sigma, float(zero_sigma))


def _refuse_corrected(profile: SimsProfile, used: Sequence[int]) -> None:
    """Refuse to Poisson-correct intensities that are already corrected (not integers)."""
    values = profile.counts[:, list(used)]
    if profile.metadata.poisson_corrected or _not_integers(values):
        example = values[np.isfinite(values) & (np.abs(values - np.round(values)) > 1e-9)]
        shown = f" such as {example[0]:.6g}" if example.size else ""
        raise SimsError(
            f"the intensities are already corrected: they are not integers{shown} (SurfaceLab "
            "exports are Poisson corrected); correcting them again would count twice. Use "
            "poisson = 'auto' or 'off'",
            file=profile.file,
        )


# --------------------------------------------------------------------------- depth
def _check_time(time_s: Any) -> np.ndarray:
    time = np.asarray(time_s, dtype=float)
    if time.ndim != 1 or time.size < 2:
        raise SimsError("need at least two sputter times")
    if not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0):
        raise SimsError("sputter time must be finite and strictly increasing")
    if time[0] < 0:
        raise SimsError(f"sputter time must not be negative, got {time[0]:g} s")
    return time


def depth_from_rate(sputter_time_s: Any, sputter_rate_m_per_s: float) -> np.ndarray:
    """Depth at a constant sputter rate: ``z = r t``.

    Parameters
    ----------
    sputter_time_s : array_like
        Sputter times, s.
    sputter_rate_m_per_s : float
        Sputter rate r, m/s (> 0).

    Returns
    -------
    ndarray
        Depths, m.
    """
    rate = float(sputter_rate_m_per_s)
    if not (math.isfinite(rate) and rate > 0):
        raise SimsError(f"sputter rate must be positive, got {sputter_rate_m_per_s!r} m/s")
    return _check_time(sputter_time_s) * rate


def depth_from_crater(sputter_time_s: Any, crater_depth_m: float) -> np.ndarray:
    """Depth from a measured crater depth at constant sputter rate: ``z = d t / t_end``.

    The crater depth d is the depth reached at the last sputter time ``t_end`` of the
    measurement (calibrate before dropping any rows).

    Parameters
    ----------
    sputter_time_s : array_like
        Sputter times, s.
    crater_depth_m : float
        Crater depth, m (> 0).

    Returns
    -------
    ndarray
        Depths, m.
    """
    depth = float(crater_depth_m)
    if not (math.isfinite(depth) and depth > 0):
        raise SimsError(f"crater depth must be positive, got {crater_depth_m!r} m")
    time = _check_time(sputter_time_s)
    return time * (depth / time[-1])


def depth_from_layer_rates(
    sputter_time_s: Any,
    boundaries_s: Sequence[float],
    rates_m_per_s: Sequence[float],
    crater_depth_m: float | None = None,
) -> np.ndarray:
    """Depth with a different sputter rate in each layer.

    Parameters
    ----------
    sputter_time_s : array_like
        Sputter times, s.
    boundaries_s : sequence of float
        Sputter times at which the layers change, s, increasing (n_layers - 1 values).
    rates_m_per_s : sequence of float
        Sputter rate of each layer, m/s (n_layers values, > 0).
    crater_depth_m : float, optional
        If given, the rates are relative: all are scaled by one factor so that the depth at
        the last sputter time equals the crater depth.

    Returns
    -------
    ndarray
        Depths, m.
    """
    time = _check_time(sputter_time_s)
    bounds = np.asarray(boundaries_s, dtype=float)
    rates = np.asarray(rates_m_per_s, dtype=float)
    if rates.size != bounds.size + 1:
        raise SimsError(f"{rates.size} rates for {bounds.size + 1} layers")
    if np.any(rates <= 0) or np.any(np.diff(bounds) <= 0):
        raise SimsError("layer rates must be positive and boundaries increasing")
    edges = np.concatenate(([0.0], bounds))
    # depth at each layer start, then linear inside the layer
    start_depth = np.concatenate(([0.0], np.cumsum(np.diff(edges) * rates[:-1])))
    layer = np.searchsorted(bounds, time, side="right")
    depth = start_depth[layer] + rates[layer] * (time - edges[layer])
    if crater_depth_m is not None:
        crater = float(crater_depth_m)
        if not (math.isfinite(crater) and crater > 0):
            raise SimsError(f"crater depth must be positive, got {crater_depth_m!r} m")
        depth = depth * (crater / depth[-1])
    return depth


def calibrate_depth(
    profile: SimsProfile,
    *,
    crater_depth_m: float | None = None,
    sputter_rate_m_per_s: float | None = None,
) -> SimsProfile:
    """Return the profile with ``depth_m`` from a crater depth or a sputter rate.

    With neither, a depth already in the profile is kept. With a crater depth and no sputter
    time but a depth axis, the depth axis is rescaled to end at the crater depth.

    Raises
    ------
    SimsError
        Both or none given with no depth in the file, non-positive values, no time axis.
    """
    where: dict[str, Any] = {"file": profile.file}
    if crater_depth_m is not None and sputter_rate_m_per_s is not None:
        raise SimsError("give a crater depth or a sputter rate, not both", **where)
    if crater_depth_m is None and sputter_rate_m_per_s is None:
        if profile.depth_m is None:
            raise SimsError(
                "no depth in the profile: give a crater depth (e.g. '310 nm') or a sputter "
                "rate (e.g. '0.5 nm/s')",
                **where,
            )
        return profile
    try:
        if profile.sputter_time_s is None:
            if profile.depth_m is None or crater_depth_m is None:
                raise SimsError("the profile has no sputter time to calibrate")
            depth = np.asarray(profile.depth_m)
            crater = float(crater_depth_m)
            if not (math.isfinite(crater) and crater > 0):
                raise SimsError(f"crater depth must be positive, got {crater_depth_m!r} m")
            return profile.with_(depth_m=depth * (crater / depth[-1]))
        if crater_depth_m is not None:
            return profile.with_(depth_m=depth_from_crater(profile.sputter_time_s, crater_depth_m))
        assert sputter_rate_m_per_s is not None  # one of the two is given (checked above)
        return profile.with_(
            depth_m=depth_from_rate(profile.sputter_time_s, float(sputter_rate_m_per_s))
        )
    except SimsError as exc:
        if exc.file is None:
            raise SimsError(exc.message, **where) from None
        raise


# --------------------------------------------------------------------------- channels
def _as_mass(spec: ChannelSpec) -> float | None:
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec)
    try:
        return float(str(spec).strip())
    except ValueError:
        return None


def _normal(name: str) -> str:
    return name.replace("^", "").replace(" ", "").lower()


def _describe_channel(name: str, mass: float) -> str:
    mass_text = "" if not np.isfinite(mass) else f" ({mass:.4f} u)"
    return f"{name!r}{mass_text}"


def _describe(profile: SimsProfile, index: int) -> str:
    return _describe_channel(profile.channel_names[index], profile.channel_masses[index])


@dataclass(frozen=True)
class ChannelMatch:
    """What one channel spec matches among a file's channels (:func:`match_channel`).

    Attributes
    ----------
    kind : {"index", "name", "mass"}
        How the spec was read: ``"#k"`` (the channel at index k of the whole file), a name
        (exact, or case- and ``^``-insensitive when no name is exact and the spec is not a
        number) or a mass in u (a number that names no channel).
    hits : tuple of int
        The matching channels: one is the answer, several are ambiguous (for names, unless
        the columns are identical), none means not found.
    near : tuple of int
        With no hit: the channels the message suggests (the three nearest masses, or the
        close names).
    problem : str
        Why the spec does not pick one channel ("" when it does), for people.
    """

    kind: str
    hits: tuple[int, ...]
    near: tuple[int, ...] = ()
    problem: str = ""


def match_channel(
    names: Sequence[str], masses: Any, spec: ChannelSpec, mass_tolerance: float
) -> ChannelMatch:
    """The channels among ``names`` (masses in u, ``nan`` where unknown) that ``spec``
    matches, by the rules of :func:`find_channel`.

    This is the one implementation of channel matching: :func:`find_channel` picks a
    profile's channel with it, and the readers keep the columns that a later
    :func:`find_channel` could pick (``hits``, or ``near`` for its message).
    """
    text = str(spec).strip()
    if text.startswith("#") and text[1:].isdigit():
        index = int(text[1:])
        if index < len(names):
            return ChannelMatch("index", (index,))
        return ChannelMatch(
            "index", (), problem=f"channel {text} does not exist ({len(names)} channels)"
        )
    masses = np.asarray(masses, dtype=float)
    mass = _as_mass(spec)
    exact = [i for i, name in enumerate(names) if name == text]
    if not exact and mass is None:
        low = _normal(text)
        exact = [i for i, name in enumerate(names) if _normal(name) == low]
    if exact or mass is None:
        if len(exact) == 1:
            return ChannelMatch("name", (exact[0],))
        if exact:
            listed = ", ".join(f"#{i} {_describe_channel(names[i], masses[i])}" for i in exact)
            return ChannelMatch(
                "name",
                tuple(exact),
                problem=f"channel name {text!r} is not unique: {listed}; choose one by mass "
                "or as '#index'",
            )
        low = _normal(text)
        close = difflib.get_close_matches(text, names, n=5, cutoff=0.4)
        close += [n for n in names if low in _normal(n) and n not in close][:3]
        shown = close[:6]
        return ChannelMatch(
            "name",
            (),
            tuple(i for i, name in enumerate(names) if name in shown),
            f"channel {text!r} is not in the file; close matches: "
            + (", ".join(repr(n) for n in shown) or "none"),
        )
    diff = np.abs(masses - mass)
    hits = tuple(int(i) for i in np.flatnonzero(np.isfinite(diff) & (diff <= mass_tolerance)))
    if len(hits) == 1:
        return ChannelMatch("mass", hits)
    if hits:
        listed = ", ".join(_describe_channel(names[i], masses[i]) for i in hits)
        return ChannelMatch(
            "mass",
            hits,
            problem=f"mass {mass:g} u matches several channels within {mass_tolerance:g} u: "
            f"{listed}; give a name or a smaller tolerance",
        )
    order = np.argsort(np.where(np.isfinite(diff), diff, np.inf), kind="stable")[:3]
    near = tuple(int(i) for i in order if np.isfinite(diff[i]))
    listed = ", ".join(_describe_channel(names[i], masses[i]) for i in near)
    return ChannelMatch(
        "mass",
        (),
        near,
        f"no channel at mass {mass:g} u (tolerance {mass_tolerance:g} u); nearest: "
        + (listed or "none (no masses in file)"),
    )


def find_channel(
    profile: SimsProfile, spec: ChannelSpec, *, mass_tolerance: float = DEFAULT_MASS_TOLERANCE
) -> int:
    """Index of the channel named or weighing ``spec``.

    Parameters
    ----------
    profile : SimsProfile
        The profile.
    spec : str or float
        A channel name exactly as in the file (``"^7Li+"``; a unique case- and
        ``^``-insensitive match is accepted too), a mass in u (``84.9118`` or ``"84.9118"``)
        matched within ``mass_tolerance``, or ``"#k"`` for the channel at 0-based index k
        (for duplicate names).
    mass_tolerance : float, optional
        Largest accepted mass difference, u.

    Returns
    -------
    int

    Raises
    ------
    SimsError
        No match (the message lists the close matches by name and mass) or several matches.
    """
    mass_tolerance = check_mass_tolerance(mass_tolerance)
    match = match_channel(profile.channel_names, profile.channel_masses, spec, mass_tolerance)
    if len(match.hits) == 1:
        return match.hits[0]
    if match.kind == "name" and match.hits:  # duplicate names: the same column is no choice
        first, *others = match.hits
        if all(
            np.array_equal(profile.counts[:, first], profile.counts[:, i], equal_nan=True)
            for i in others
        ):
            return first
    raise SimsError(match.problem, file=profile.file)


def resolve_elements(
    profile: SimsProfile,
    elements: Elements | None = None,
    *,
    mass_tolerance: float = DEFAULT_MASS_TOLERANCE,
) -> dict[str, tuple[int, ...]]:
    """Map each element to the channel indices of its isotopes.

    Parameters
    ----------
    profile : SimsProfile
        The profile.
    elements : mapping of str to sequence of (str or float), optional
        Element name -> channel names or masses (see :func:`find_channel`). By default
        :data:`DEFAULT_ELEMENTS`, except that an element whose name is itself a channel
        (e.g. a processed table with columns ``Li``, ``Rb``, ``Cs``) uses that channel.
    mass_tolerance : float, optional
        Mass tolerance, u.

    Returns
    -------
    dict of str to tuple of int

    Raises
    ------
    SimsError
        A channel missing, ambiguous, or used by two elements.
    """
    if elements is None:
        elements = {
            name: (name,) if name in profile.channel_names else specs
            for name, specs in DEFAULT_ELEMENTS.items()
        }
    if not elements:
        raise SimsError("no elements chosen", file=profile.file)
    result: dict[str, tuple[int, ...]] = {}
    owner: dict[int, str] = {}
    for element, specs in elements.items():
        if isinstance(specs, (str, float, int)):
            specs = (specs,)
        if not specs:
            raise SimsError(f"element {element!r} has no channels", file=profile.file)
        indices = []
        for spec in specs:
            try:
                index = find_channel(profile, spec, mass_tolerance=mass_tolerance)
            except SimsError as exc:
                raise SimsError(f"element {element}: {exc.message}", file=profile.file) from None
            if index in owner:
                raise SimsError(
                    f"channel {_describe(profile, index)} is used by both {owner[index]} and "
                    f"{element}",
                    file=profile.file,
                )
            owner[index] = element
            if index not in indices:
                indices.append(index)
        result[element] = tuple(indices)
    return result


def _point_error(profile: SimsProfile, row: int, index: int | None, message: str) -> SimsError:
    # SimsProfile.__post_init__ fills both
    assert profile.source_lines is not None and profile.source_columns is not None
    line = int(profile.source_lines[row]) or None
    column = None if index is None else profile.source_columns[index] or None
    at = "" if line else f" (data row {row + 1})"
    return SimsError(message.format(at=at), file=profile.file, line=line, column=column)


def check_finite(profile: SimsProfile, channels: Sequence[int]) -> None:
    """Raise a :class:`SimsError` naming line and column of the first NaN/inf in ``channels``."""
    for index in channels:
        values = profile.counts[:, index]
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise _point_error(
                profile,
                row,
                index,
                f"channel {_describe(profile, index)} has the value "
                f"{values[row]}{{at}}; remove the row or choose other channels",
            )


def check_counts(profile: SimsProfile, channels: Sequence[int]) -> None:
    """Refuse NaN/inf (see :func:`check_finite`) and negative intensities in ``channels``.

    A count cannot be negative, and a negative intensity would give a negative fraction, so
    any negative value, however small, is refused (with its line and column) rather than
    clipped: it means the export was processed (e.g. background subtracted) in a way the
    counting weights do not describe. Subtract a background here instead
    (``process_profile(background=...)``, which clips at 0).
    """
    check_finite(profile, channels)
    for index in channels:
        values = profile.counts[:, index]
        if (values < 0).any():
            row = int(np.argmax(values < 0))
            raise _point_error(
                profile,
                row,
                index,
                f"channel {_describe(profile, index)} has the negative intensity "
                f"{values[row]:g}{{at}}; counts cannot be negative (refused, not clipped: a "
                "negative count would give a negative fraction)",
            )


def element_sums(profile: SimsProfile, channels: Mapping[str, Sequence[int]]) -> np.ndarray:
    """Sum each element's isotope channels.

    Parameters
    ----------
    profile : SimsProfile
        The profile.
    channels : mapping of str to sequence of int
        Element -> channel indices, e.g. from :func:`resolve_elements`.

    Returns
    -------
    ndarray, shape (n_elements, n_points)
        Summed intensities, counts, elements in the order of ``channels``.

    Raises
    ------
    SimsError
        If a used channel holds NaN, inf or a negative value, or a sum overflows (names line
        and column).
    """
    used = [i for indices in channels.values() for i in indices]
    check_counts(profile, used)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.array([profile.counts[:, list(idx)].sum(axis=1) for idx in channels.values()])
        total = sums.sum(axis=0)
    if not np.isfinite(total).all():
        row = int(np.argmax(~np.isfinite(total)))
        big = max(used, key=lambda i: profile.counts[row, i])
        raise _point_error(
            profile,
            row,
            big,
            f"the intensities are too large to add up (overflow to inf){{at}}, e.g. "
            f"{profile.counts[row, big]:g} in channel {_describe(profile, big)}; the values are "
            "not counts",
        )
    return sums


def zero_rows(profile: SimsProfile, channels: Sequence[int]) -> np.ndarray:
    """Boolean mask of the data points where all ``channels`` are zero."""
    return np.all(profile.counts[:, list(channels)] == 0, axis=1)


# --------------------------------------------------------------------------- normalising
def normalise_fractions(
    sums: Any, *, file: str | None = None, lines: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """The paper's eq. (1): each element's intensity over the sum of all mobile-ion elements.

    ``f_e(z) = S_e(z) / sum_j S_j(z)``; the fractions sum to 1 at every depth, and
    ``f_e * n0`` is a density.

    Parameters
    ----------
    sums : array_like, shape (n_elements, n_points)
        Element intensities, counts.
    file, lines : optional
        Source file and line of each point, for the error message.

    Returns
    -------
    ndarray, shape (n_elements, n_points)
        Fractions, dimensionless.

    Raises
    ------
    SimsError
        If the total is zero or negative at a point (drop such rows first).
    """
    values = np.asarray(sums, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum(axis=0)
    bad = ~((total > 0) & np.isfinite(total)) | (values < 0).any(axis=0)
    if bad.any():
        row = int(np.argmax(bad))
        line = None if lines is None else int(lines[row]) or None
        at = "" if line else f" at data row {row + 1}"
        raise SimsError(
            f"the mobile-ion intensities sum to {total[row]:g}{at}"
            + (" with a negative one" if (values[:, row] < 0).any() else "")
            + "; cannot normalise (drop the row)",
            file=file,
            line=line,
        )
    return values / total


def fraction_uncertainty(sums: Any, sigmas: Any) -> np.ndarray:
    """Standard deviation of the eq. (1) fractions from those of the element sums.

    ``var f_e = ((1 - f_e)^2 var S_e + f_e^2 sum_{j != e} var S_j) / T^2`` with ``T = sum S``
    (independent counting errors).

    Parameters
    ----------
    sums, sigmas : array_like, shape (n_elements, n_points)
        Element intensities and their standard deviations, counts.

    Returns
    -------
    ndarray, shape (n_elements, n_points)
        Standard deviations of the fractions, dimensionless.
    """
    s = np.asarray(sums, dtype=float)
    total = s.sum(axis=0)
    f = s / total
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite: refused by the caller
        rel = (np.asarray(sigmas, dtype=float) / total) ** 2  # relative to T: T² never formed
        var_f = (1 - f) ** 2 * rel + f**2 * (rel.sum(axis=0) - rel)
    return np.sqrt(var_f)


def normalise_to_plateau(
    values: Any, depth_m: Any, plateau_m: tuple[float, float] | None = None
) -> np.ndarray:
    """Divide a profile by its mean over a bulk plateau (e.g. the native ion deep down).

    Parameters
    ----------
    values : array_like, shape (..., n_points)
        Intensities or fractions.
    depth_m : array_like, shape (n_points,)
        Depths, m.
    plateau_m : (float, float), optional
        Depth range of the plateau, m; by default the deepest 20 % of the points.

    Returns
    -------
    ndarray
        Values relative to the plateau mean (1 in the bulk).
    """
    data = np.asarray(values, dtype=float)
    depth = np.asarray(depth_m, dtype=float)
    if plateau_m is None:
        mask = np.arange(depth.size) >= int(0.8 * depth.size)
    else:
        lo, hi = plateau_m
        mask = (depth >= lo) & (depth <= hi)
    if not mask.any():
        raise SimsError(f"no data points in the plateau {plateau_m} m")
    level = data[..., mask].mean(axis=-1, keepdims=True)
    if np.any(level == 0):
        raise SimsError("the plateau mean is zero; cannot normalise to it")
    return data / level


def background_level(values: Any, depth_m: Any, region_m: tuple[float, float]) -> np.ndarray:
    """Mean of each profile over a depth region (a background estimate), same units."""
    data = np.asarray(values, dtype=float)
    depth = np.asarray(depth_m, dtype=float)
    mask = (depth >= region_m[0]) & (depth <= region_m[1])
    if not mask.any():
        raise SimsError(f"no data points in the background region {region_m} m")
    return data[..., mask].mean(axis=-1)


def subtract_background(values: Any, background: Any, *, clip: bool = True) -> np.ndarray:
    """Subtract a constant background from each profile.

    Parameters
    ----------
    values : array_like, shape (..., n_points)
        Intensities, counts.
    background : float or array_like, shape (...)
        Background per profile (broadcast over points), counts.
    clip : bool, optional
        Clip negative results to 0 (default True).

    Returns
    -------
    ndarray
    """
    data = np.asarray(values, dtype=float)
    level = np.asarray(background, dtype=float)[..., None]
    out = data - level
    return np.clip(out, 0.0, None) if clip else out


def _check_fractions(profile: SimsProfile, fractions: np.ndarray, sigma: np.ndarray) -> None:
    """The invariants before success: fractions in [0, 1] summing to 1, finite sigmas."""
    with np.errstate(invalid="ignore"):
        bad = (
            ~np.isfinite(fractions).all(axis=0)
            | ~np.isfinite(sigma).all(axis=0)
            | (fractions < 0).any(axis=0)
            | (fractions > 1 + 1e-12).any(axis=0)
            | (np.abs(fractions.sum(axis=0) - 1) > 1e-9)
        )
    if bad.any():
        row = int(np.argmax(bad))
        raise _point_error(
            profile,
            row,
            None,
            "the fractions or their counting uncertainties are not finite numbers in [0, 1]"
            "{at} (intensities beyond any count rate?); refused rather than written",
        )


def check_mass_tolerance(mass_tolerance: float) -> float:
    """The mass tolerance as a float, refusing negative, zero, infinite or NaN values."""
    try:
        value = float(mass_tolerance)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise SimsError(f"mass tolerance must be a positive number of u, got {mass_tolerance!r}")
    return value


# --------------------------------------------------------------------------- pipeline
def process_profile(
    profile: SimsProfile,
    elements: Elements | None = None,
    *,
    crater_depth_m: float | None = None,
    sputter_rate_m_per_s: float | None = None,
    mass_tolerance: float = DEFAULT_MASS_TOLERANCE,
    poisson: str = "auto",
    shots_per_scan: float | None = None,
    background: Mapping[str, float] | None = None,
    drop_zero_rows: bool = True,
    n0: float = DEFAULT_N0,
) -> Any:
    """From a read profile to eq. (1) fractions versus depth, as an :class:`xarray.Dataset`.

    Steps, in order (each reported in ``attrs["notes"]``):

    1. depth calibration (crater depth or sputter rate, on all rows);
    2. Poisson correction of raw counts (``poisson="auto"``: only if the data are raw and
       N is known; ``"correct"``: always, N required; ``"off"``: never);
    3. dropping rows in which all chosen channels are zero (the last row of many exports);
    4. element sums over isotopes, with their counting uncertainties;
    5. optional background subtraction (counts per element);
    6. normalisation, eq. (1), and the fractions' uncertainties.

    Parameters
    ----------
    profile : SimsProfile
        As returned by a reader.
    elements : mapping, optional
        Element -> channel names/masses (see :func:`resolve_elements`).
    crater_depth_m, sputter_rate_m_per_s : float, optional
        Depth calibration (m, m/s); neither keeps a depth axis from the file.
    mass_tolerance : float, optional
        For channels given by mass, u.
    poisson : {"auto", "correct", "off"}
        Poisson-correction step.
    shots_per_scan : float, optional
        Primary shots per scan N; default from the profile's metadata.
    background : mapping of str to float, optional
        Background per element to subtract, counts.
    drop_zero_rows : bool, optional
        Drop rows whose chosen channels are all zero (else normalising them is an error).
    n0 : float, optional
        Mobile-ion density for the ``density`` variable, m^-3.

    Returns
    -------
    xarray.Dataset
        Dims ``species`` (elements) and ``depth`` (m); variables ``intensity`` and
        ``intensity_sigma`` (counts), ``fraction`` and ``fraction_sigma`` (1), ``density``
        (m^-3); coordinates ``sputter_time`` (s) and ``source_line``.
    """
    import xarray as xr

    notes: list[str] = []
    mass_tolerance = check_mass_tolerance(mass_tolerance)
    profile = calibrate_depth(
        profile, crater_depth_m=crater_depth_m, sputter_rate_m_per_s=sputter_rate_m_per_s
    )
    if crater_depth_m is not None:
        notes.append(f"depth from crater depth {crater_depth_m * 1e9:g} nm at constant rate")
    elif sputter_rate_m_per_s is not None:
        notes.append(f"depth from sputter rate {sputter_rate_m_per_s * 1e9:g} nm/s")
    else:
        notes.append("depth axis from the file")
    channels = resolve_elements(profile, elements, mass_tolerance=mass_tolerance)
    used = sorted({i for idx in channels.values() for i in idx})
    n_shots = shots_per_scan if shots_per_scan is not None else profile.metadata.shots_per_scan
    mode = poisson.lower()
    if mode not in ("auto", "correct", "off"):
        raise SimsError(f"poisson must be 'auto', 'correct' or 'off', got {poisson!r}")
    raw = profile.metadata.poisson_corrected is False
    if mode == "correct" or (mode == "auto" and raw):
        if n_shots is None:
            if mode == "correct":
                raise SimsError(
                    "Poisson correction needs the primary shots per scan", file=profile.file
                )
            notes.append("raw counts left uncorrected: shots per scan unknown")
        else:
            check_finite(profile, used)
            _refuse_corrected(profile, used)
            counts = np.array(profile.counts)
            try:
                counts[:, used] = poisson_correct(counts[:, used], n_shots)
            except SimsError as exc:
                raise SimsError(exc.message, file=profile.file) from None
            profile = profile.with_(counts=counts).with_metadata(poisson_corrected=True)
            notes.append(f"Poisson correction with N = {n_shots:g} shots per scan")
    elif profile.metadata.poisson_corrected:
        notes.append("intensities already Poisson corrected")
    if drop_zero_rows:
        zero = zero_rows(profile, used)
        if zero.any():
            assert profile.source_lines is not None  # SimsProfile.__post_init__ fills it
            lines = [str(int(x)) for x in profile.source_lines[zero][:11]]
            shown = ", ".join(lines[:10]) + (", ..." if len(lines) > 10 else "")
            notes.append(
                f"dropped {int(zero.sum())} row(s) with all chosen channels zero (lines {shown})"
            )
            profile = profile.select_points(~zero)
        if profile.n_points == 0:
            raise SimsError("all chosen channels are zero in every row", file=profile.file)
    sums = element_sums(profile, channels)
    sigmas = poisson_uncertainty(sums, n_shots)
    if background:
        level = np.array([float(background.get(name, 0.0)) for name in channels])
        sums = subtract_background(sums, level)
        notes.append(
            "background subtracted: "
            + ", ".join(f"{name} {value:g}" for name, value in zip(channels, level, strict=True))
        )
    fractions = normalise_fractions(sums, file=profile.file, lines=profile.source_lines)
    fraction_sigma = fraction_uncertainty(sums, sigmas)
    _check_fractions(profile, fractions, fraction_sigma)
    notes.append("fractions normalised to the sum of " + ", ".join(channels) + " (eq. 1)")
    species = list(channels)
    mapping = "; ".join(
        f"{name}: " + ", ".join(_describe(profile, i) for i in idx)
        for name, idx in channels.items()
    )
    coords: dict[str, Any] = {
        "species": species,
        "depth": ("depth", np.asarray(profile.depth_m), {"units": "m", "long_name": "depth"}),
        "source_line": ("depth", np.asarray(profile.source_lines)),
    }
    if profile.sputter_time_s is not None:
        coords["sputter_time"] = ("depth", np.asarray(profile.sputter_time_s), {"units": "s"})
    dims = ("species", "depth")
    return xr.Dataset(
        {
            "intensity": (dims, sums, {"units": "counts", "long_name": "element intensity"}),
            "intensity_sigma": (dims, sigmas, {"units": "counts"}),
            "fraction": (dims, fractions, {"units": "1", "long_name": "fraction, eq. (1)"}),
            "fraction_sigma": (dims, fraction_sigma, {"units": "1"}),
            "density": (dims, fractions * n0, {"units": "m^-3"}),
        },
        coords=coords,
        attrs={
            "file": profile.file or "",
            "channels": mapping,
            "n0": float(n0),
            "notes": "\n".join(notes),
            "polarity": profile.metadata.polarity or "",
        },
    )
