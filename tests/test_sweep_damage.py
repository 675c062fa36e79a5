"""Damaged sweep stores: every stored run verified on resume, damage recomputed and reported.

Each case damages one stored run of a finished two-run sweep, resumes it and checks that the
damage is found, the run computed again (same numbers as before) and the reason reported in
the outcome and in ``table.csv``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from caitlab.config import experiment_to_dict, load_experiment
from caitlab.fit.config import BUILTIN_EXAMPLES
from caitlab.sweep import RunStore, file_digest, run_sweep

QUICK = BUILTIN_EXAMPLES / "quick-double-cait.toml"
D_CS = "stages.Cs-CAIT.diffusivity.Cs.d"
POINTS = [{D_CS: 3.1e-23}, {D_CS: 5e-23}]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[dict, Path, list[dict]]:
    config = experiment_to_dict(load_experiment(QUICK))
    folder = tmp_path_factory.mktemp("sweep")
    outcome = run_sweep(config, POINTS, folder)
    assert outcome.n_failed == 0 and not outcome.recomputed
    return config, folder, outcome.rows


def _table(folder: Path) -> list[dict[str, str]]:
    lines = (folder / "table.csv").read_text().splitlines()[1:]
    return list(csv.DictReader(lines))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit_charge(path: Path) -> None:
    """Change one digit of the first stage's charge: same size, another content."""
    text = path.read_text()
    start = text.index('"charge_C": ') + len('"charge_C": ')
    digit = next(k for k in range(start, len(text)) if text[k] in "123456789")
    edited = "2" if text[digit] != "2" else "3"
    path.write_text(text[:digit] + edited + text[digit + 1 :])


def _other_point(path: Path) -> None:
    other = next(p for p in path.parents[1].iterdir() if p.name != path.parent.name)
    shutil.copy(other / "point.json", path)


def _no_manifest(path: Path) -> None:
    data = json.loads(path.read_text())
    del data["files"]
    path.write_text(json.dumps(data))


#: (damaged file, damage, a piece of the reason)
DAMAGE: list[tuple[str, Callable[[Path], None], str]] = [
    ("result.nc", _truncate, "result.nc has"),
    ("result.nc", Path.unlink, "result.nc is missing"),
    ("summary.json", _edit_charge, "summary.json was changed"),
    ("summary.json", lambda p: p.write_text("{garbage"), "summary.json"),
    ("summary.json", Path.unlink, "summary.json is missing"),
    ("point.json", Path.unlink, "point.json is missing"),
    ("point.json", lambda p: p.write_text("not json"), "point.json is not valid JSON"),
    ("point.json", _other_point, "belongs to another run"),
    ("point.json", _no_manifest, "no manifest"),
]


@pytest.mark.parametrize(
    ("name", "damage", "reason"), DAMAGE, ids=[f"{n}-{r}" for n, _, r in DAMAGE]
)
def test_damaged_run_is_recomputed_and_reported(pristine, tmp_path, name, damage, reason):
    config, folder, rows = pristine
    shutil.copytree(folder, tmp_path / "s")
    key = rows[0]["key"]
    damage(tmp_path / "s" / "runs" / key / name)
    outcome = run_sweep(config, POINTS, tmp_path / "s")
    assert list(outcome.recomputed) == [key] and reason in outcome.recomputed[key]
    assert (outcome.n_computed, outcome.n_reused, outcome.n_failed) == (1, 1, 0)
    assert RunStore(tmp_path / "s").verify(key) is None
    table = _table(tmp_path / "s")
    assert table[0]["status"] == "ok" and reason in table[0]["note"]
    assert float(table[0]["charge_C.Rb-CAIT"]) == pytest.approx(rows[0]["charge_C.Rb-CAIT"])
    assert (tmp_path / "s" / "damaged" / key).exists()  # kept for inspection
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["recomputed"] == {
        key: outcome.recomputed[key]
    }


def test_intact_store_is_reused_without_recomputing(pristine, tmp_path):
    config, folder, rows = pristine
    shutil.copytree(folder, tmp_path / "s")
    outcome = run_sweep(config, POINTS, tmp_path / "s")
    assert outcome.n_computed == 0 and not outcome.recomputed
    assert [r["charge_C.Rb-CAIT"] for r in outcome.rows] == [r["charge_C.Rb-CAIT"] for r in rows]


def test_garbage_summary_matching_its_manifest_is_a_failed_row_naming_the_file(pristine, tmp_path):
    config, folder, rows = pristine
    shutil.copytree(folder, tmp_path / "s")
    run = tmp_path / "s" / "runs" / rows[0]["key"]
    (run / "summary.json").write_text('{"stages": NaN}')
    record = json.loads((run / "point.json").read_text())
    record["files"]["summary.json"] = file_digest(run / "summary.json")
    (run / "point.json").write_text(json.dumps(record))
    outcome = run_sweep(config, POINTS, tmp_path / "s")
    assert outcome.rows[0]["status"] == "failed" and outcome.n_failed == 1
    assert "summary.json" in outcome.rows[0]["reason"]


def test_stale_temporaries_of_dead_processes_are_removed(pristine, tmp_path):
    config, folder, rows = pristine
    shutil.copytree(folder, tmp_path / "s")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    runs = tmp_path / "s" / "runs"
    stale = runs / f".{rows[0]['key']}.{dead}.tmp"  # the name before hosts were recorded
    import caitlab.sweep as sweep

    stale_host = runs / f".{rows[1]['key']}.{sweep._HOST}.{dead}.tmp"
    alive = runs / f".{rows[1]['key']}.{sweep._HOST}.{os.getpid()}.tmp"
    elsewhere = runs / f".{rows[1]['key']}.otherhost.{dead}.tmp"
    for path in (stale, stale_host, alive, elsewhere):
        path.mkdir()
        (path / "result.nc").write_bytes(b"partial")
    outcome = run_sweep(config, POINTS, tmp_path / "s")
    assert sorted(outcome.cleaned) == sorted([str(stale), str(stale_host)])
    assert not stale.exists() and not stale_host.exists()
    assert alive.exists() and elsewhere.exists()


def test_a_damaged_failure_record_is_retried(pristine, tmp_path):
    config = pristine[0]
    points = [{"stages.Cs-CAIT.diffusivity.Li.occupancy": 1.5}]
    first = run_sweep(config, points, tmp_path / "s")
    assert first.n_failed == 1
    key = first.rows[0]["key"]
    (tmp_path / "s" / "failed" / f"{key}.json").write_text("garbage")
    again = run_sweep(config, points, tmp_path / "s")
    assert again.n_computed == 1 and again.n_failed == 1
    assert "occupancy" in again.rows[0]["reason"]


def test_a_run_with_non_finite_numbers_is_stored_as_a_failure(tmp_path):
    result = load_experiment(QUICK).run()
    summary = result.summary()
    summary["stages"][0]["charge_C"] = float("inf")
    result.__dict__["_summary"] = summary  # the cached summary, as a broken run would give
    assert result.non_finite_fields() == ["Rb-CAIT.charge_C"]
    store = RunStore(tmp_path)
    store.save("k", {}, {}, result)
    assert not store.run_dir("k").exists()
    assert "non-finite" in store.failed("k")
    with pytest.raises(ValueError, match=r"Rb-CAIT\.charge_C"):
        result.save(tmp_path / "direct")  # summary.json stays strict JSON


def test_sweep_json_is_strict(pristine, tmp_path):
    config, folder, _ = pristine
    shutil.copytree(folder, tmp_path / "s")
    run_sweep(config, POINTS, tmp_path / "s")

    def refuse(constant):
        raise ValueError(constant)

    json.loads((tmp_path / "s" / "sweep.json").read_text(), parse_constant=refuse)
    for path in (tmp_path / "s" / "runs").glob("*/*.json"):
        json.loads(path.read_text(), parse_constant=refuse)


def test_cli_reports_recomputed_runs(tmp_path):
    from typer.testing import CliRunner

    from caitlab.cli import _register_commands, app

    _register_commands()
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'experiment = "{QUICK.as_posix()}"\n[[parameters]]\npath = "{D_CS}"\n'
        'values = ["3.1e-23 m^2/s"]\n'
    )
    args = ["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "0", "--no-progress"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    (key,) = [p.name for p in (tmp_path / "out" / "runs").iterdir()]
    _truncate(tmp_path / "out" / "runs" / key / "result.nc")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert f"recomputed run {key}: result.nc has" in again.output
    assert "1 computed, 0 already stored, 0 failed, 1 recomputed after a failed check" in (
        again.output
    )
