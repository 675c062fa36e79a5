"""Issue 21, a scientist's first hour: one test (or a few) per item of the issue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app

_register_commands()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------- 1. one fractions-table rule
@pytest.mark.parametrize("name", ["double-cait-stage1.csv", "double-cait-stage2.csv"])
def test_compare_and_fit_read_a_fractions_table_alike(name):
    """The shipped tables (8 significant digits) are fractions with their sigma columns for
    ``compare`` as for ``fit``: the same values, the same weights."""
    from caitlab.cli.sims import _measured
    from caitlab.fit import read_fractions_table

    fit_profile = read_fractions_table(DATA / name, "s")
    compare_profile = _measured(DATA / name, None, None, None, 0.05, "auto")
    assert fit_profile.sigma_given and compare_profile.sigma_given
    assert compare_profile.species == fit_profile.species
    for s in fit_profile.species:
        np.testing.assert_array_equal(compare_profile.fractions[s], fit_profile.fractions[s])
        np.testing.assert_array_equal(compare_profile.sigma[s], fit_profile.sigma[s])


def test_fractions_table_tolerance_follows_the_written_digits(tmp_path):
    from caitlab.fit import read_fractions_table
    from caitlab.sims import read_table
    from caitlab.sims.measured import measured_from_table

    three = tmp_path / "three.csv"  # 3 digits: rows sum to 1 within 1.5e-3
    three.write_text("depth_nm,Li,Rb\n1,0.333,0.668\n2,0.5,0.5\n")
    assert measured_from_table(read_table(three)) is not None
    counts = tmp_path / "counts.csv"  # not fractions: refused by the fit with a reason
    counts.write_text("depth_nm,Li,Rb\n1,0.333,0.6\n2,0.5,0.5\n")
    assert measured_from_table(read_table(counts)) is None
    with pytest.raises(ValueError, match="sum to 1"):
        read_fractions_table(counts, "s")
