"""Every module imports on its own in a fresh interpreter: no import cycle hides behind the
order in which ``caitlab/__init__.py`` happens to import things."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

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
