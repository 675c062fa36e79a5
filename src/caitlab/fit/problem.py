"""The fit problem: an experiment config, measured observations, and the residual.

The residual of parameter values ``{path: value}`` is computed in three pure steps:

1. :meth:`FitProblem.run` runs the experiment with the values substituted
   (:func:`caitlab.params.with_values`): a :class:`caitlab.Result`;
2. :func:`model_profile` broadens a stage's final fractions (``result.stage(name).fractions``)
   with the profile's instrument response and samples them at the measured depths
   (:func:`caitlab.sims.apply_response`), the surface treated as chosen (:data:`SURFACES`);
3. :meth:`FitProblem.residual_from` stacks ``(model - measured) / sigma`` for every profile
   and species, then ``(Q_sim - Q_meas) / sigma_Q`` for every measured charge, then
   ``(model - measured) / sigma`` at every time of each electrometer curve.

Surface treatment
-----------------
The response kernel reaches above the surface (z < 0), where there is no sample. How the
model fills that gap is a convention of the instrument model, chosen per profile (the
profile's :attr:`~caitlab.sims.MeasuredProfile.surface`, which the figures and
``caitlab compare`` use too):

``"reflect"`` (default)
    the method of images: what the kernel moves above the surface is folded back. Keeps
    the inventory (broadening creates or loses no ions).
``"extend"``
    the profile above the surface continues with its surface value (a kernel that sees a
    uniform overlayer); the inventory is not kept.
``"truncate"``
    the kernel is cut at the surface and renormalised to unit weight:
    ``I(z) = int_0^inf X g(z - z') dz' / int_0^inf g(z - z') dz'``.

The three agree deeper than the kernel's reach (a few rms) and differ in the first
nanometres, which is one reason for a profile's ``min_depth``.

Paths ``profiles.<name>.<field>`` address the instrument response of a profile (e.g.
``profiles.Cs-CAIT.rms``); every other path addresses the experiment config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from caitlab.config import ConfigError, experiment_from_dict
from caitlab.fit.data import MeasuredCharge, MeasuredProfile, MeasuredTrace
from caitlab.params import get_value, with_values
from caitlab.results import Result
from caitlab.sims.response import SURFACES, apply_response
from caitlab.solver import ConvergenceError

RESPONSE_PREFIX = "profiles."


class SimulationFailed(RuntimeError):
    """A simulation inside a fit or sweep failed; ``values`` are the parameters it had."""

    def __init__(self, values: Mapping[str, float], reason: str) -> None:
        self.values = dict(values)
        self.reason = reason
        shown = ", ".join(f"{k} = {v:.6g}" for k, v in self.values.items())
        super().__init__(f"simulation failed at {shown}: {reason}")


def observation_problems(config: Mapping[str, Any], profiles: Any, charges: Any) -> list[str]:
    """One line per observation that does not fit the experiment ``config``.

    An unknown stage, a profile name used twice, a species not in the sample. Profiles need
    ``stage``, ``name`` (or None: the stage) and ``species`` (or None: not yet known).
    """
    stages = [s["name"] for s in config["stages"]]
    species = list(config["sample"]["species"])
    problems, names = [], set()
    for where, items in (("profiles", profiles), ("charges", charges)):
        for k, obs in enumerate(items):
            if obs.stage not in stages:
                problems.append(
                    f"{where}[{k}].stage: no stage {obs.stage!r} in the "
                    f"experiment; use one of {stages}"
                )
    for k, p in enumerate(profiles):
        name = p.name or p.stage
        if name in names:
            problems.append(
                f"profiles[{k}].name: {name!r} is used twice; give each "
                "profile of the same stage its own name"
            )
        names.add(name)
        unknown = sorted(set(p.species or ()) - set(species))
        if unknown:
            problems.append(f"profiles[{k}].species: {unknown} not in the sample ({species})")
    return problems


def split_values(values: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Values for the experiment config and for the instrument responses, apart."""
    config = {k: v for k, v in values.items() if not k.startswith(RESPONSE_PREFIX)}
    response = {k: v for k, v in values.items() if k.startswith(RESPONSE_PREFIX)}
    return config, response


def build_response(response: Mapping[str, Any]) -> Any:
    """The :mod:`caitlab.sims` response object of a profile's response fields (SI)."""
    from caitlab.sims import ResponseConfig

    return ResponseConfig.model_validate(dict(response)).build()


def model_profile(
    result: Result,
    profile: MeasuredProfile,
    response: Mapping[str, Any],
    surface: str | None = None,
) -> dict[str, np.ndarray]:
    """Simulated fractions of ``profile``'s species, broadened, at its measured depths.

    Parameters
    ----------
    result : caitlab.Result
        The run.
    profile : MeasuredProfile
        Where (stage, depths), which species, and how the response treats the surface.
    response : dict
        Instrument response fields (``model``, ``rms`` ... in m).
    surface : {"reflect", "extend", "truncate"}, optional
        How the response treats the surface (module docstring); default the profile's.

    Returns
    -------
    dict of str to ndarray
        Species -> model fraction at each measured depth, dimensionless.
    """
    final = result.stage(profile.stage).fractions.sel(species=list(profile.species))
    depth_m = final["depth"].values * 1e-9
    broadened = apply_response(
        depth_m,
        final.values,
        profile.depth_m,
        build_response(response),
        surface=profile.surface if surface is None else surface,
    )
    return dict(zip(profile.species, broadened, strict=True))


@dataclass(frozen=True, eq=False)
class FitProblem:
    """An experiment config and what was measured on it.

    Attributes
    ----------
    config : dict
        The full experiment config (:func:`caitlab.config.experiment_to_dict`).
    profiles : tuple of MeasuredProfile
        Measured profiles, each after a named stage; fitted jointly.
    charges : tuple of MeasuredCharge
        Measured transferred charges (optional extra observations).
    traces : tuple of MeasuredTrace
        Electrometer curves I(t) or Q(t), each with its own weight.
    surface : str or dict, optional
        Surface treatment of the response (:data:`SURFACES`), one for all profiles or by
        profile name; given, it replaces the profiles' own
        (:attr:`caitlab.sims.MeasuredProfile.surface`, default ``"reflect"``), which are
        then the one record of it. After construction: profile name -> surface.
    estimated : dict
        Profile name -> why its counting uncertainties are only estimates; such weights
        are relative, and the covariance is scaled by the reduced chi-square by default.
        Profiles on the fallback weights are added on construction.
    """

    config: Mapping[str, Any]
    profiles: tuple[MeasuredProfile, ...]
    charges: tuple[MeasuredCharge, ...] = field(default=())
    traces: tuple[MeasuredTrace, ...] = field(default=())
    surface: str | Mapping[str, str] | None = None
    estimated: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        profiles = tuple(self.profiles)
        if self.surface is not None:  # given here: it becomes the profiles' own
            chosen = self.surface
            profiles = tuple(
                p.with_surface(chosen if isinstance(chosen, str) else chosen.get(p.name, p.surface))
                for p in profiles
            )
        object.__setattr__(self, "profiles", profiles)
        object.__setattr__(self, "surface", {p.name: p.surface for p in profiles})
        object.__setattr__(self, "charges", tuple(self.charges))
        object.__setattr__(self, "traces", tuple(self.traces))
        if not self.profiles and not self.charges and not self.traces:
            raise ValueError(
                "a fit problem needs at least one measured profile, charge or electrometer curve"
            )
        estimated = {
            p.name: "no counting uncertainties: fallback weights"
            for p in self.profiles
            if not p.sigma_given
        }
        object.__setattr__(self, "estimated", estimated | dict(self.estimated))
        problems = observation_problems(self.config, self.profiles, self.charges)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def n_data(self) -> int:
        """Number of residual elements."""
        return (
            sum(p.depth_m.size * len(p.species) for p in self.profiles)
            + len(self.charges)
            + sum(t.time_s.size for t in self.traces)
        )

    def surface_of(self, name: str) -> str:
        """Surface treatment of profile ``name`` (its :attr:`MeasuredProfile.surface`)."""
        for p in self.profiles:
            if p.name == name:
                return p.surface
        return "reflect"

    def profile(self, name: str) -> MeasuredProfile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise KeyError(name)

    def initial_value(self, path: str) -> float:
        """The value that ``path`` has in the config or in a profile's response.

        Raises
        ------
        ParameterPathError
            If the path addresses nothing; lists close matches.
        """
        if path.startswith(RESPONSE_PREFIX):
            data = {"profiles": {p.name: dict(p.response) for p in self.profiles}}
            return get_value(data, path)
        return get_value(self.config, path)

    def check_path(self, path: str) -> None:
        """Raise :class:`ParameterPathError` if ``path`` addresses no number."""
        self.initial_value(path)

    def responses(self, values: Mapping[str, float]) -> dict[str, dict[str, Any]]:
        """Each profile's response fields with fitted values substituted."""
        out = {p.name: dict(p.response) for p in self.profiles}
        for path, value in split_values(values)[1].items():
            _, name, key = path.split(".", 2)
            out[name][key] = float(value)
        return out

    def experiment(self, values: Mapping[str, float]) -> Any:
        """The validated :class:`caitlab.Experiment` with ``values`` substituted.

        Raises
        ------
        SimulationFailed
            If the values make an invalid experiment (e.g. an occupancy above 1).
        """
        config_values = split_values(values)[0]
        try:
            return experiment_from_dict(with_values(self.config, config_values), "fit")
        except ConfigError as exc:
            raise SimulationFailed(values, "; ".join(exc.problems)) from None

    def run(self, values: Mapping[str, float]) -> Result:
        """Run the experiment at ``values``; the full :class:`caitlab.Result`.

        Raises
        ------
        SimulationFailed
            Invalid values or a run that does not converge.
        """
        experiment = self.experiment(values)
        try:
            return experiment.run()
        except (ConvergenceError, FloatingPointError, ValueError) as exc:
            raise SimulationFailed(values, str(exc)) from None

    def models(self, result: Result, values: Mapping[str, float]) -> dict[str, dict]:
        """Profile name -> species -> model fractions on the measured depths."""
        responses = self.responses(values)
        return {p.name: model_profile(result, p, responses[p.name]) for p in self.profiles}

    def residual_from(self, result: Result, values: Mapping[str, float]) -> np.ndarray:
        """Weighted residual ``(model - data) / sigma`` of a finished run."""
        models = self.models(result, values)
        parts = [
            (models[p.name][s] - p.fractions[s]) / p.sigma[s]
            for p in self.profiles
            for s in p.species
        ]
        parts += [
            np.array([(result.stage(c.stage).charge_C - c.charge_C) / c.sigma_C])
            for c in self.charges
        ]
        parts += [t.residual(result) for t in self.traces]
        return np.concatenate(parts)

    def residual(self, values: Mapping[str, float]) -> np.ndarray:
        """Weighted residual at ``values`` (runs one simulation).

        Raises
        ------
        SimulationFailed
            If the simulation fails.
        """
        result = self.run(values)
        try:
            return self.residual_from(result, values)
        except ValueError as exc:  # e.g. a negative response width
            raise SimulationFailed(values, str(exc)) from None


def evaluate(values: Mapping[str, float], problem: FitProblem) -> tuple[Any, str | None]:
    """``(residual, None)`` or ``(None, reason)``: a failure-safe task for an executor."""
    try:
        return problem.residual(values), None
    except SimulationFailed as exc:
        return None, exc.reason


__all__ = [
    "SURFACES",
    "FitProblem",
    "SimulationFailed",
    "build_response",
    "evaluate",
    "model_profile",
    "observation_problems",
    "split_values",
]
