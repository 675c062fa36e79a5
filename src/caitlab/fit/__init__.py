"""Fitting experiment parameters to measured depth profiles, on lmfit.

Modules
-------
data        measured profiles, charges and electrometer curves; weights; fraction tables
problem     the fit problem: config + observations, simulation, surface treatment, residual
parameters  free parameters (bounds, log scale, ties) and their lmfit form
fitting     the minimiser with a parallel finite-difference Jacobian; intervals; MCMC
executors   serial or dask.distributed execution of simulations
report      fit.json, report.txt, best-fit run, figure
synthetic   synthetic profiles made by the simulator (recovery tests)
config      the FIT.toml file (pydantic) and :func:`run_fit_config`

Typical use::

    from caitlab.fit import FitProblem, FreeParameter, fit, read_fractions_table
    problem = FitProblem(config_dict, [read_fractions_table("stage2.csv", "Cs-CAIT")])
    result = fit(problem, [FreeParameter("stages.Cs-CAIT.diffusivity.Cs.d", log=True,
                                          min=1e-24, max=1e-21)])
    result.save("fit-out")
"""

from __future__ import annotations

from caitlab.fit.config import FitConfig, load_fit_config, run_fit_config
from caitlab.fit.data import (
    MeasuredCharge,
    MeasuredProfile,
    MeasuredTrace,
    fallback_sigma,
    profile_from_dataset,
    read_fractions_table,
    write_fractions_table,
)
from caitlab.fit.executors import DaskExecutor, SerialExecutor, open_executor
from caitlab.fit.fitting import Failure, FitResult, fit
from caitlab.fit.parameters import FreeParameter, build_parameters, path_values
from caitlab.fit.problem import SURFACES, FitProblem, SimulationFailed
from caitlab.fit.report import fit_report, fit_to_dict, plot_fit, save_fit
from caitlab.fit.synthetic import synthetic_profile

__all__ = [
    "SURFACES",
    "DaskExecutor",
    "Failure",
    "FitConfig",
    "FitProblem",
    "FitResult",
    "FreeParameter",
    "MeasuredCharge",
    "MeasuredProfile",
    "MeasuredTrace",
    "SerialExecutor",
    "SimulationFailed",
    "build_parameters",
    "fallback_sigma",
    "fit",
    "fit_report",
    "fit_to_dict",
    "load_fit_config",
    "open_executor",
    "path_values",
    "plot_fit",
    "profile_from_dataset",
    "read_fractions_table",
    "run_fit_config",
    "save_fit",
    "synthetic_profile",
    "write_fractions_table",
]
