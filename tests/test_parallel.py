"""Parallel execution on a local dask.distributed cluster: Jacobian columns and sweeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from caitlab.config import experiment_to_dict, load_experiment
from caitlab.fit import FitProblem, FreeParameter, synthetic_profile
from caitlab.fit.config import BUILTIN_EXAMPLES
from caitlab.fit.executors import open_executor
from caitlab.fit.fitting import Evaluator
from caitlab.fit.parameters import build_parameters
from caitlab.sweep import run_sweep

QUICK = BUILTIN_EXAMPLES / "quick-double-cait.toml"
D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"
FWHM = "stages.Cs-CAIT.diffusivity.Rb.fwhm"


@pytest.fixture(scope="module")
def config() -> dict:
    return experiment_to_dict(load_experiment(QUICK))


def test_dask_cluster_sweep_and_parallel_jacobian_match_serial(tmp_path, config):
    truth = load_experiment(QUICK).run()
    data = synthetic_profile(
        truth, "Cs-CAIT", np.arange(1.0, 150.0) * 1e-9, response={"rms": 5e-9}, counts=3000, rng=5
    )
    problem = FitProblem(config, [data])
    free = [
        FreeParameter(D_CS, log=True, min=1e-24, max=1e-21),
        FreeParameter(FWHM, min=0.1, max=0.4),
    ]
    params = build_parameters(free, {s.path: problem.initial_value(s.path) for s in free})
    serial = Evaluator(problem, free).jacobian(params)
    points = [{D_CS: v} for v in (2.5e-23, 3.5e-23)]
    with open_executor(workers=2) as executor:
        assert executor.n_workers == 2
        parallel = Evaluator(problem, free, executor).jacobian(params)
        outcome = run_sweep(config, points, tmp_path, executor=executor)
    np.testing.assert_allclose(parallel, serial, rtol=1e-6, atol=1e-9)
    assert outcome.n_computed == 2 and outcome.n_failed == 0
    assert "dask" in outcome.executor
    assert len(list(Path(tmp_path, "runs").iterdir())) == 2
