"""Physical constants in SI units (CODATA 2018 exact values where defined)."""

from __future__ import annotations

ELEMENTARY_CHARGE = 1.602176634e-19  # C
BOLTZMANN = 1.380649e-23  # J/K
BOLTZMANN_EV = BOLTZMANN / ELEMENTARY_CHARGE  # eV/K
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m


def thermal_voltage(temperature: float) -> float:
    """Thermal voltage k_B T / e in V at ``temperature`` in K."""
    return BOLTZMANN_EV * temperature
