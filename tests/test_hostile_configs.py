"""Hostile configs (tests/hostile_configs.py): every must-refuse one refused by name, cleanly.

``python tests/hostile_configs.py`` also runs the valid-but-extreme ones and prints the
counts (refused cleanly / total, hangs, exit 0 with wrong numbers).
"""

from __future__ import annotations

import pytest
from hostile_configs import check_refused, extreme, refused
from typer.testing import CliRunner

from caitlab.config import ConfigError, load_experiment

REFUSED = refused()
EXTREME = extreme()


def test_the_set_is_large_enough():
    assert len(REFUSED) >= 120
    assert len(REFUSED) + len(EXTREME) >= 150
    assert len({c.name for c in REFUSED + EXTREME}) == len(REFUSED) + len(EXTREME)


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_load_experiment_refuses_naming_the_field(case, tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(case.content)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    message = str(info.value)
    assert case.expected in message
    assert "errors.pydantic.dev" not in message and len(message) < 3000


def test_caitlab_check_refuses_every_one_cleanly(tmp_path):
    from caitlab.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()

    def invoke(args):
        return runner.invoke(app, args)

    failures = {c.name: why for c in REFUSED if (why := check_refused(c, invoke, tmp_path))}
    assert not failures


@pytest.mark.parametrize("case", EXTREME, ids=[c.name for c in EXTREME])
def test_valid_extremes_are_accepted(case, tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(case.content)
    load_experiment(path)
