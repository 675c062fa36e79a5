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

from typing import TYPE_CHECKING

from caitlab._lazy import lazy_attributes

if TYPE_CHECKING:
    from caitlab.sims.compare import (
        Comparison,
        compare_profiles,
    )
    from caitlab.sims.config import ResponseConfig, SimsProfileConfig
    from caitlab.sims.errors import SimsError
    from caitlab.sims.measured import MeasuredProfile, as_measured_profile, measured_from_table
    from caitlab.sims.plotting import plot_comparison, plot_profile
    from caitlab.sims.processing import (
        DEFAULT_ELEMENTS,
        DEFAULT_MASS_TOLERANCE,
        DEFAULT_N0,
        background_level,
        calibrate_depth,
        check_counts,
        check_finite,
        check_mass_tolerance,
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

#: public name -> the submodule that defines it, imported on first use (the command line
#: imports ``caitlab.sims.errors`` without the readers, scipy and matplotlib)
_LAZY = {
    "Comparison": "compare",
    "compare_profiles": "compare",
    "ResponseConfig": "config",
    "SimsProfileConfig": "config",
    "SimsError": "errors",
    "MeasuredProfile": "measured",
    "as_measured_profile": "measured",
    "measured_from_table": "measured",
    "plot_comparison": "plotting",
    "plot_profile": "plotting",
    "DEFAULT_ELEMENTS": "processing",
    "DEFAULT_MASS_TOLERANCE": "processing",
    "DEFAULT_N0": "processing",
    "background_level": "processing",
    "calibrate_depth": "processing",
    "check_counts": "processing",
    "check_finite": "processing",
    "check_mass_tolerance": "processing",
    "depth_from_crater": "processing",
    "depth_from_layer_rates": "processing",
    "depth_from_rate": "processing",
    "element_sums": "processing",
    "find_channel": "processing",
    "fraction_uncertainty": "processing",
    "normalise_fractions": "processing",
    "normalise_to_plateau": "processing",
    "poisson_correct": "processing",
    "poisson_uncertainty": "processing",
    "poisson_uncorrect": "processing",
    "process_profile": "processing",
    "resolve_elements": "processing",
    "subtract_background": "processing",
    "zero_rows": "processing",
    "SimsMetadata": "profile",
    "SimsProfile": "profile",
    "estimate_shots_per_scan": "readers",
    "read_ita": "readers",
    "read_profile": "readers",
    "read_surfacelab": "readers",
    "read_table": "readers",
    "GaussianResponse": "response",
    "MRIResponse": "response",
    "Response": "response",
    "apply_response": "response",
    "response_kernel": "response",
    "ISOTOPE_CHANNELS": "synthetic",
    "example_export_path": "synthetic",
    "stand_in_fractions": "synthetic",
    "synthetic_export": "synthetic",
    "write_fractions_csv": "writers",
    "write_surfacelab_export": "writers",
}


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
    "check_counts",
    "check_finite",
    "check_mass_tolerance",
    "compare_profiles",
    "depth_from_crater",
    "depth_from_layer_rates",
    "depth_from_rate",
    "element_sums",
    "estimate_shots_per_scan",
    "example_export_path",
    "find_channel",
    "fraction_uncertainty",
    "measured_from_table",
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

__getattr__, __dir__ = lazy_attributes("caitlab.sims", _LAZY, globals(), __all__)
