"""caitlab: simulate, read, fit and show CAIT experiments.

Modules
-------
units        unit strings at the edges ("2.325 mm") to SI floats
constants    physical constants
materials    the sample and its mobile species
diffusivity  D(n, T) models: constant, site-energy distribution, tabulated, free-form, fall-off
coupling     Onsager cross-coefficients between species: admissibility, entropy production
mesh         graded cell-centred meshes
stages       beam and rest stages
solver       finite volumes, Scharfetter-Gummel fluxes, Newton, variable-order BDF
experiment   experiments as data; running their stages in sequence
results      one Result in memory and on disk: saved states, traces, D(n) tables, summaries
config       TOML configuration files
examples     the built-in example configurations
sims         ToF-SIMS profiles: reading, calibration, normalisation, instrument response
params       addressing a parameter of a config by its path (``stages.Cs-CAIT.diffusivity.Cs.d``)
fit          fitting model parameters to measured profiles (lmfit, emcee)
sweep        parameter sweeps on dask, resumable
landscape    free-form D(n), the populated site-energy distribution, model selection
plot         figures (matplotlib, imported lazily)
video        the density-evolution video (imageio-ffmpeg)
report       a self-contained HTML report of a run (and a fit)
export       a run as CSV files (fractions per stage, traces) for Origin, Igor, Excel
cli          the ``caitlab`` command
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from caitlab._lazy import lazy_attributes
from caitlab._version import __version__

if TYPE_CHECKING:
    from caitlab.config import ConfigError, experiment_to_toml, load_experiment
    from caitlab.diffusivity import ConstantD, Falloff, SiteEnergyD, TabulatedD
    from caitlab.experiment import Experiment, OutputOptions, SolverOptions, run
    from caitlab.materials import Sample, Species
    from caitlab.mesh import Mesh, MeshSpec
    from caitlab.results import Result, open_result
    from caitlab.solver import ConvergenceError
    from caitlab.stages import Beam, BeamStage, RestStage

#: public name -> the module that defines it, imported on first use (``import caitlab``
#: itself stays light: a command that needs no simulation does not load numba or pydantic)
_LAZY = {
    "ConfigError": "config",
    "experiment_to_toml": "config",
    "load_experiment": "config",
    "ConstantD": "diffusivity",
    "Falloff": "diffusivity",
    "SiteEnergyD": "diffusivity",
    "TabulatedD": "diffusivity",
    "Experiment": "experiment",
    "OutputOptions": "experiment",
    "SolverOptions": "experiment",
    "run": "experiment",
    "Sample": "materials",
    "Species": "materials",
    "Mesh": "mesh",
    "MeshSpec": "mesh",
    "Result": "results",
    "open_result": "results",
    "ConvergenceError": "solver",
    "Beam": "stages",
    "BeamStage": "stages",
    "RestStage": "stages",
}


__all__ = [
    "Beam",
    "BeamStage",
    "ConfigError",
    "ConstantD",
    "ConvergenceError",
    "Experiment",
    "Falloff",
    "Mesh",
    "MeshSpec",
    "OutputOptions",
    "RestStage",
    "Result",
    "Sample",
    "SiteEnergyD",
    "SolverOptions",
    "Species",
    "TabulatedD",
    "__version__",
    "experiment_to_toml",
    "load_experiment",
    "open_result",
    "run",
]

__getattr__, __dir__ = lazy_attributes("caitlab", _LAZY, globals(), __all__)
