"""The Onsager study script (examples/onsager_study.py) runs: its smoke mode, seconds long."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "onsager_study.py"


def test_onsager_study_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("onsager_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    report = module.main(["--smoke", "--no-fits", "--out", str(tmp_path)])
    fisher = report["fisher"]["sequential kappa=0.0"]["all"]
    assert fisher["sigma"][0] > 0.0
    entropy = report["entropy_J_per_K_m2"]["simultaneous"]
    assert all(v >= 0.0 for run in entropy.values() for v in run.values())
