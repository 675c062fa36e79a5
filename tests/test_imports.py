"""Every module imports on its own in a fresh interpreter: no import cycle hides behind the
order in which ``caitlab/__init__.py`` happens to import things."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import caitlab

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(caitlab.__path__, "caitlab.")
    if not m.name.endswith("__main__")
)


#: run in a fresh interpreter: third-party libraries first (a cycle can only be among caitlab's
#: own modules), then each caitlab module imported alone in a forked child of that interpreter
SCRIPT = """
import os, sys, traceback
import numpy, scipy, xarray, pydantic, pint, numba, matplotlib, typer, rich  # noqa
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        failed.append(name)
print("FAILED:", " ".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    assert len(MODULES) > 40
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *MODULES], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]


def test_the_version_lives_in_its_own_module():
    from caitlab._version import __version__

    assert caitlab.__version__ == __version__


#: libraries that ``caitlab run`` does not need (xarray, pandas and dask alone took 0.8 s)
HEAVY = {
    "xarray",
    "pandas",
    "dask",
    "distributed",
    "matplotlib",
    "jinja2",
    "lmfit",
    "emcee",
    "corner",
    "imageio",
    "pint",
    "h5netcdf",
    "scipy.special",
    "scipy.interpolate",
    "scipy.optimize",
}
#: what the command line itself loads before a command needs more
CLI_HEAVY = HEAVY | {"numpy", "numba", "llvmlite", "pydantic", "scipy", "h5py", "h5netcdf", "rich"}

LOADED = """
import sys
{body}
heavy = set(sys.argv[1:])
print(sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy))
"""


def _loaded(body: str, heavy: set[str], cwd=None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(body=body), *sorted(heavy)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_command_line_loads_no_library_before_a_command_needs_it():
    """``import caitlab``, ``import caitlab.cli`` and registering every command stay light:
    ``caitlab --version``, ``example`` and ``--help`` load typer alone."""
    body = "import caitlab, caitlab.cli; caitlab.cli._register_commands()"
    assert _loaded(body, CLI_HEAVY) == "[]"


def test_a_run_loads_none_of_the_libraries_it_does_not_need(tmp_path):
    """``caitlab run`` simulates and writes result.nc + summary.json without xarray, pandas,
    dask, matplotlib, pint or scipy.special (h5py writes the file; the unit strings of the
    example are converted without pint)."""
    body = (
        "from caitlab.cli import main\n"
        "sys.argv = ['caitlab', 'run', 'quick-double-cait', '--out', 'run', '--quiet']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    assert _loaded(body, HEAVY, cwd=tmp_path) == "[]"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["result.nc", "summary.json"]


def test_the_lazy_packages_give_every_public_name_and_module():
    """``caitlab`` and ``caitlab.sims`` import their names on first use: all of __all__, the
    submodules as attributes, and an AttributeError for anything else."""
    script = """
import caitlab, caitlab.sims
for package in (caitlab, caitlab.sims):
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))
assert caitlab.Experiment is caitlab.experiment.Experiment
assert caitlab.open_result is caitlab.results.open_result
assert caitlab.sims.read_profile is caitlab.sims.readers.read_profile
from caitlab import *  # noqa
assert load_experiment is caitlab.config.load_experiment
for package, name in ((caitlab, "nothing"), (caitlab.sims, "nothing"), (caitlab, "__wrapped__")):
    try:
        getattr(package, name)
    except AttributeError:
        pass
    else:
        raise AssertionError(name)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.parametrize(
    ("argv", "collects"), [(["run", "x.toml"], False), (["fit", "f.toml"], True)]
)
def test_bounded_commands_run_without_the_cyclic_collector(monkeypatch, argv, collects):
    import gc

    import caitlab.cli as cli

    seen = {}
    monkeypatch.setattr(sys, "argv", ["caitlab", *argv])
    monkeypatch.setattr(cli, "app", lambda: seen.setdefault("enabled", gc.isenabled()))
    was_enabled = gc.isenabled()
    try:
        cli.main()
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
    assert seen["enabled"] is collects
