"""ToF-SIMS depth profiles: read instrument exports, normalise, compare with simulations.

Typical use::

    from caitlab.sims import read_profile, process_profile
    profile = read_profile("stage2.txt")
    fractions = process_profile(
        profile, {"Li": ["^6Li+", "Li+"], "Rb": [84.9118, 86.9092], "Cs": ["Cs+"]},
        crater_depth_m=310e-9,
    )
    fractions["fraction"].sel(species="Cs")       # eq. (1), vs depth in m

Simulated profiles are broadened and sampled on the measured grid with
:func:`apply_response`.
"""

from __future__ import annotations

from caitlab.sims.compare import (
    Comparison,
    compare_profiles,
)
from caitlab.sims.config import ResponseConfig, SimsProfileConfig
from caitlab.sims.errors import SimsError
from caitlab.sims.measured import MeasuredProfile, as_measured_profile
from caitlab.sims.plotting import plot_comparison, plot_profile
from caitlab.sims.processing import (
    DEFAULT_ELEMENTS,
    DEFAULT_MASS_TOLERANCE,
    DEFAULT_N0,
    background_level,
    calibrate_depth,
    check_finite,
    depth_from_crater,
    depth_from_layer_rates,
    depth_from_rate,
    element_sums,
    find_channel,
    fraction_uncertainty,
    normalise_fractions,
    normalise_to_plateau,
    poisson_correct,
    poisson_uncertainty,
    poisson_uncorrect,
    process_profile,
    resolve_elements,
    subtract_background,
    zero_rows,
)
from caitlab.sims.profile import SimsMetadata, SimsProfile
from caitlab.sims.readers import (
    estimate_shots_per_scan,
    read_ita,
    read_profile,
    read_surfacelab,
    read_table,
)
from caitlab.sims.response import (
    GaussianResponse,
    MRIResponse,
    Response,
    apply_response,
    response_kernel,
)
from caitlab.sims.synthetic import (
    ISOTOPE_CHANNELS,
    example_export_path,
    stand_in_fractions,
    synthetic_export,
)
from caitlab.sims.writers import write_fractions_csv, write_surfacelab_export

__all__ = [
    "DEFAULT_ELEMENTS",
    "DEFAULT_MASS_TOLERANCE",
    "DEFAULT_N0",
    "ISOTOPE_CHANNELS",
    "Comparison",
    "GaussianResponse",
    "MRIResponse",
    "MeasuredProfile",
    "Response",
    "ResponseConfig",
    "SimsError",
    "SimsMetadata",
    "SimsProfile",
    "SimsProfileConfig",
    "apply_response",
    "as_measured_profile",
    "background_level",
    "calibrate_depth",
    "check_finite",
    "compare_profiles",
    "depth_from_crater",
    "depth_from_layer_rates",
    "depth_from_rate",
    "element_sums",
    "estimate_shots_per_scan",
    "example_export_path",
    "find_channel",
    "fraction_uncertainty",
    "normalise_fractions",
    "normalise_to_plateau",
    "plot_comparison",
    "plot_profile",
    "poisson_correct",
    "poisson_uncertainty",
    "poisson_uncorrect",
    "process_profile",
    "read_ita",
    "read_profile",
    "read_surfacelab",
    "read_table",
    "resolve_elements",
    "response_kernel",
    "stand_in_fractions",
    "subtract_background",
    "synthetic_export",
    "write_fractions_csv",
    "write_surfacelab_export",
    "zero_rows",
]
