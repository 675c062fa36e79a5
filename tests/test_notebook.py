"""The notebook walkthrough runs top to bottom, and is stored without outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "walkthrough.ipynb"


def test_walkthrough_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_walkthrough_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(html) >= 2  # the experiment's and the result's tables
    assert (tmp_path / "runs" / "walkthrough" / "result.nc").exists()
    assert (tmp_path / "runs" / "walkthrough-csv" / "traces.csv").exists()
    _written_files_are_ignored_by_git(tmp_path)
    # progress=True without ipywidgets: HTML bars, no request to install anything
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    if importlib.util.find_spec("ipywidgets") is None:
        assert "ipywidgets" not in text
        assert any("<progress" in o.get("data", {}).get("text/html", "") for o in html)


def _written_files_are_ignored_by_git(folder: Path) -> None:
    """What the notebook wrote, run beside it in examples/, would not show in git status."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not in a git checkout")
    written = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
    assert written
    for path in written:
        done = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", f"examples/{path}"],
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, f"the notebook writes examples/{path}, which git shows"
