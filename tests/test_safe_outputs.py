"""Safe outputs of the CLI (issue 17): one writer per folder, a full disk is one line and
exit 1 with the old files intact, ``--out`` checked before any computation, a rerun removes
the files drawn from the previous result, and a video of a result without frames shows
real intermediate states."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app
from caitlab.examples import example_path
from caitlab.results import Result, half_point, open_result
from caitlab.storage import HOST, LOCK_FILE

_register_commands()
runner = CliRunner()
CAITLAB = [sys.executable, "-m", "caitlab"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def assert_one_clean_error(stderr: str) -> None:
    assert len(error_lines(stderr)) == 1, stderr
    assert "Traceback" not in stderr and "[Errno" not in stderr, stderr


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def pair_ids(folder: Path) -> tuple[str, str]:
    summary = json.loads((folder / "summary.json").read_text())
    return open_result(folder).run_id, summary["run_id"]


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    """Two different quick experiments (the second with a shorter Cs stage)."""
    folder = tmp_path_factory.mktemp("configs")
    text = example_path("quick-double-cait").read_text()
    a = folder / "config-a.toml"
    a.write_text(text.replace('name = "quick-double-cait"', 'name = "config-a"'))
    b = folder / "config-b.toml"
    b.write_text(
        text.replace('name = "quick-double-cait"', 'name = "config-b"').replace(
            'duration = "50.78 h"', 'duration = "20 h"'
        )
    )
    return {"config-a": a, "config-b": b}


# --------------------------------------------------------------------------- two writers
TRIALS = 10


@pytest.mark.slow
def test_two_runs_into_one_folder_leave_one_consistent_pair_of_a_winner(tmp_path, configs):
    """Ten trials of two concurrent ``caitlab run`` into one folder, with different and
    with the same config: always one consistent pair, the pair of a process that exited 0
    (the last one to exit, if both did: then they did not overlap), and a loser that names
    the owner."""
    outcomes: list[str] = []
    problems: list[str] = []
    for trial in range(TRIALS):
        out = tmp_path / f"trial{trial}"
        chosen = ["config-a", "config-b"] if trial % 2 == 0 else ["config-a", "config-a"]
        processes = [
            subprocess.Popen(
                [*CAITLAB, "run", str(configs[name]), "--out", str(out), "--quiet"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in chosen
        ]
        finished = []  # in the order the processes exit
        while len(finished) < len(processes):
            for k, process in enumerate(processes):
                if k not in finished and process.poll() is not None:
                    finished.append(k)
            time.sleep(0.005)
        texts = [process.communicate() for process in processes]
        codes = [process.returncode for process in processes]
        winners = [k for k in finished if codes[k] == 0]
        outcomes.append(f"exit {codes}")
        if not winners:
            problems.append(f"trial {trial}: no run succeeded: {texts}")
            continue
        try:
            result_id, summary_id = pair_ids(out)
        except (OSError, ValueError) as exc:
            problems.append(f"trial {trial}: the folder cannot be read: {exc}")
            continue
        winner = winners[-1]
        if result_id != summary_id:
            problems.append(f"trial {trial}: result.nc and summary.json of two runs")
        elif open_result(out).experiment.name != chosen[winner]:
            problems.append(f"trial {trial}: the pair of {chosen[1 - winner]}, which lost")
        elif f"(run {result_id})" not in texts[winner][0]:
            problems.append(f"trial {trial}: not the pair of the process that exited 0 last")
        for k, (_, stderr) in enumerate(texts):
            if codes[k] != 0 and (
                len(error_lines(stderr)) != 1
                or "Traceback" in stderr
                or f"{out} is being written by another caitlab process (pid " not in stderr
            ):
                problems.append(f"trial {trial}: the loser says {stderr.strip()!r}")
        if names(out) != ["result.nc", "summary.json"]:
            problems.append(f"trial {trial}: left {names(out)}")
    print("two-writer trials:", outcomes)
    assert not problems, f"{len(problems)} problems in {TRIALS} trials: {problems}"


def test_a_run_into_a_folder_held_by_a_live_process_fails_before_computing(tmp_path, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "run"
        out.mkdir()
        (out / LOCK_FILE).write_text(json.dumps({"host": HOST, "pid": holder.pid}))
        monkeypatch.setattr("caitlab.experiment.Experiment.run", _must_not_compute)
        result = invoke("run", "quick-double-cait", "--out", str(out), "--quiet")
        assert result.exit_code == 2, result.output
        assert f"is being written by another caitlab process (pid {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_open_result_refuses_a_pair_of_two_runs(quick_result, tmp_path):
    quick_result.save(tmp_path / "a")
    other = Result(
        quick_result.experiment,
        quick_result.mesh,
        quick_result.stages,
        quick_result.wall_time_s,
        quick_result.created,
    )
    other.save(tmp_path / "b")
    shutil.copy(tmp_path / "b" / "summary.json", tmp_path / "a" / "summary.json")
    with pytest.raises(ValueError, match="belong to different runs"):
        open_result(tmp_path / "a")
    with pytest.raises(ValueError, match="belong to different runs"):
        open_result(tmp_path / "a" / "result.nc")
    result = invoke("plot", str(tmp_path / "a"))
    assert result.exit_code == 2 and "belong to different runs" in result.stderr


def test_a_save_leaves_the_temporaries_of_a_live_writer(quick_result, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".result.nc.{HOST}.{holder.pid}.0badc0de.tmp"
        theirs.write_bytes(b"being written")
        quick_result.save(tmp_path)
        assert theirs.exists()
    finally:
        holder.kill()
        holder.wait()
    quick_result.save(tmp_path)
    assert names(tmp_path) == ["result.nc", "summary.json"]


# --------------------------------------------------------------------------- a full disk
def _full_after(limit: int):
    """An ``os.write`` that fails with ENOSPC once ``limit`` bytes were written."""
    real = os.write
    written = [0]

    def write(fd, data):
        if written[0] + len(data) > limit:
            room = max(limit - written[0], 0)
            if room:
                written[0] += real(fd, bytes(memoryview(data)[:room]))
                return room
            raise OSError(errno.ENOSPC, "No space left on device")
        written[0] += len(data)
        return real(fd, data)

    return write


def test_a_full_disk_while_result_nc_is_written_is_one_line_and_exit_1(
    quick_result, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    quick_result.save(out)
    before = {name: (out / name).read_bytes() for name in ("result.nc", "summary.json")}
    monkeypatch.setattr("caitlab.storage.os.write", _full_after(50_000))
    result = invoke("run", "quick-double-cait", "--out", str(out), "--quiet")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert_one_clean_error(result.stderr)
    assert f"cannot write the result into {out}: the disk is full" in result.stderr
    assert "wrote" not in result.stdout
    assert names(out) == ["result.nc", "summary.json"]
    assert {name: (out / name).read_bytes() for name in before} == before


@pytest.fixture
def fake_ffmpeg(tmp_path, monkeypatch):
    """Replace imageio-ffmpeg's ffmpeg by a script: it reads the frames, writes part of
    the file and then behaves as ``mode`` says."""

    def install(mode: str) -> None:
        script = tmp_path / f"ffmpeg-{mode}"
        ending = {
            "disk-full": "echo 'Error writing trailer: No space left on device' >&2; exit 1",
            "no-index": "exit 0",  # a silent failure: the MP4 has no moov box
        }[mode]
        script.write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                cat > /dev/null
                for last; do :; done
                printf '\\000\\000\\000\\014ftypisom\\000\\000\\000\\010mdat' > "$last"
                {ending}
                """
            )
        )
        script.chmod(0o755)
        monkeypatch.setattr("imageio_ffmpeg.get_ffmpeg_exe", lambda: str(script))

    return install


@pytest.mark.parametrize(
    ("mode", "message"),
    [("disk-full", "the disk is full"), ("no-index", "no playable MP4 (no moov box (no index))")],
)
def test_a_failing_ffmpeg_is_a_failure(quick_result, tmp_path, fake_ffmpeg, mode, message):
    result_dir = quick_result.save(tmp_path / "run")
    video = result_dir / "evolution.mp4"
    video.write_bytes(b"the previous video")
    fake_ffmpeg(mode)
    result = invoke("video", str(result_dir), "--out", str(video), "--frames", "3", "--dpi", "20")
    assert result.exit_code == 1, result.output
    assert_one_clean_error(result.stderr)
    assert message in result.stderr and "wrote" not in result.stdout
    assert video.read_bytes() == b"the previous video"
    assert names(result_dir) == ["evolution.mp4", "result.nc", "summary.json"]


def _mount_tmpfs(folder: Path, size_kb: int) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


def _fill(folder: Path, leave_bytes: int) -> None:
    """Fill the file system of ``folder`` up to ``leave_bytes`` free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    (folder / "filler").write_bytes(b"\0" * max(free - leave_bytes, 0))


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount, as in CI); skipped where it cannot be made."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, 1024):
        pytest.skip("a tmpfs cannot be mounted here (not root, or no mount permission)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False, capture_output=True)


@pytest.mark.slow
def test_a_real_full_disk_while_result_nc_and_the_video_are_written(small_disk, configs):
    out = small_disk / "run"
    run = [*CAITLAB, "run", str(configs["config-a"]), "--out", str(out), "--quiet"]
    subprocess.run(run, check=True, capture_output=True, timeout=300)
    before = {name: (out / name).read_bytes() for name in ("result.nc", "summary.json")}
    _fill(small_disk, len(before["result.nc"]) // 2)
    done = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert_one_clean_error(done.stderr)
    assert "the disk is full" in done.stderr
    assert names(out) == ["result.nc", "summary.json"]
    assert {name: (out / name).read_bytes() for name in before} == before

    (small_disk / "filler").unlink()
    _fill(small_disk, 8 * 1024)
    video = [*CAITLAB, "video", str(out), "--out", str(out / "evolution.mp4"), "--dpi", "40"]
    done = subprocess.run(video, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert_one_clean_error(done.stderr)
    assert "the disk is full" in done.stderr and "wrote" not in done.stdout
    assert names(out) == ["result.nc", "summary.json"]


# --------------------------------------------------------------------------- --out first
def _must_not_compute(*args, **kwargs):
    raise AssertionError("computed before the output path was checked")


@pytest.fixture
def nothing_is_computed(monkeypatch):
    for target in (
        "caitlab.experiment.Experiment.run",
        "caitlab.results.open_result",
        "caitlab.fit.config.load_fit_config",
        "caitlab.fit.config.run_fit_config",
        "caitlab.sweep.load_sweep_config",
        "caitlab.landscape.study.run_landscape",
    ):
        monkeypatch.setattr(target, _must_not_compute)


@pytest.mark.parametrize(
    ("command", "option", "kind"),
    [
        (["run", "quick-double-cait"], "--out", "folder"),
        (["plot", "RESULT"], "--out", "folder"),
        (["figures", "RESULT"], "--out", "folder"),
        (["export", "RESULT"], "--csv", "folder"),
        (["video", "RESULT"], "--out", "file"),
        (["report", "RESULT"], "--out", "file"),
        (["fit", "FIT.toml"], "--out", "folder"),
        (["sweep", "SWEEP.toml"], "--out", "folder"),
        (["landscape", "FIT.toml"], "--out", "folder"),
    ],
)
def test_a_bad_output_path_fails_before_any_computation(
    tmp_path, nothing_is_computed, command, option, kind
):
    a_file = tmp_path / "taken"
    a_file.write_text("a file, not a folder")
    args = [arg.replace("RESULT", str(tmp_path)) for arg in command]
    args = [str(tmp_path / arg) if arg.endswith(".toml") else arg for arg in args]
    target = a_file if kind == "folder" else a_file / "out.mp4"
    result = invoke(*args, option, str(target))
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result.stderr)
    assert result.stderr.startswith(f"error: {option} {target}")
    assert "a file" in result.stderr and "give " in result.stderr
    if kind == "file":  # a folder where a file is asked
        result = invoke(*args, option, str(tmp_path))
        assert result.exit_code == 2 and "is a folder: give a file name" in result.stderr


# --------------------------------------------------------------------------- rerun
def test_a_rerun_removes_the_files_drawn_from_the_previous_result(tmp_path):
    out = tmp_path / "run"
    first = invoke("run", "quick-double-cait", "--out", str(out), "--quiet", "--plots")
    assert first.exit_code == 0, first.output
    exported = invoke("export", str(out), "--csv", str(out / "csv"))
    assert exported.exit_code == 0, exported.output
    report = invoke("report", str(out), "--out", str(out / "report.html"), "--dpi", "20")
    assert report.exit_code == 0, report.output
    (out / "figures" / "mine.png").write_text("the user's own file")
    (out / "notes.txt").write_text("the user's notes")
    assert {"overview.png", "figures", "csv", "report.html"} <= set(names(out))
    again = invoke("run", "quick-double-cait", "--out", str(out), "--quiet")
    assert again.exit_code == 0, again.output
    assert names(out) == ["figures", "notes.txt", "result.nc", "summary.json"]
    assert names(out / "figures") == ["mine.png"]
    plotted = invoke("plot", str(out))
    assert plotted.exit_code == 0, plotted.output
    assert json.loads((out / ".caitlab-files.json").read_text()) == {
        "overview.png": open_result(out).run_id
    }


# --------------------------------------------------------------------------- video
def test_a_video_of_a_result_without_frames_reruns_it_with_frames(quick_result, tmp_path):
    result_dir = quick_result.save(tmp_path / "run")
    assert quick_result.data.sizes["time"] < 10  # the stage ends alone
    out = result_dir / "evolution.gif"
    done = invoke("video", str(result_dir), "--out", str(out), "--dpi", "20")
    assert done.exit_code == 0, done.output
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "ran its experiment again with 60 frames per stage" in notes[0]
    frames = int(re.search(r"\((\d+) frames", done.stdout).group(1))
    assert frames >= 2 * 60
    import imageio.v3 as iio

    assert iio.imread(out, index=None).shape[0] == frames
    # recorded as drawn from the stored result: the next run into the folder removes it
    assert json.loads((result_dir / ".caitlab-files.json").read_text()) == {
        "evolution.gif": quick_result.run_id
    }


def test_the_rerun_frames_are_real_intermediate_states(quick_result):
    from caitlab.video import frame_states, rerun_with_frames

    rerun, note = rerun_with_frames(quick_result, frames=20)
    assert "ran its experiment again with 20 frames per stage" in note
    time, stage, fractions = frame_states(rerun)
    cs = quick_result.species.index("Cs")
    x = quick_result.mesh.centres
    start, duration = quick_result.stages[1].start, quick_result.stages[1].duration
    middle = int(np.argmin(np.abs(time - (start + duration / 4))))
    last = time.size - 1
    assert stage[middle] == 1 and 0.15 < (time[middle] - start) / duration < 0.35
    front_middle = half_point(x, fractions[middle, cs])
    front_end = half_point(x, fractions[last, cs])
    # a diffusion front at t_mid < t_end lies shallower (a cross-fade of the stage ends
    # would put the final front into every frame)
    assert front_middle < 0.9 * front_end
    np.testing.assert_allclose(
        fractions[last],
        quick_result.stages[-1].density[-1] / quick_result.stages[-1].n0,
        atol=0.05,
    )
