"""The density-evolution video: frame times, interpolation, MP4/GIF output, the CLI."""

from __future__ import annotations

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab import OutputOptions
from caitlab.cli import _register_commands, app
from caitlab.video import MIN_FRAMES, StageClock, frame_states, render_frames, write_video

_register_commands()
runner = CliRunner()
FRAMES_PER_STAGE = 6


@pytest.fixture(scope="module")
def result(quick_experiment):
    """The quick run with a few log-spaced snapshots per stage."""
    output = OutputOptions(frames=FRAMES_PER_STAGE)
    return quick_experiment.with_(output=output).run()


@pytest.fixture(scope="module")
def result_dir(result, tmp_path_factory):
    return result.save(tmp_path_factory.mktemp("result"))


def mp4_frames(path) -> int:
    with imageio.get_reader(path, format="FFMPEG") as reader:
        return reader.count_frames()


def test_stage_clock_is_log_within_each_stage_and_invertible(result):
    clock = StageClock.from_result(result)
    starts, durations = clock.starts, clock.durations
    ends = starts + durations
    np.testing.assert_allclose(clock.position(ends), [1.0, 2.0])
    middle = starts[1] + np.sqrt(clock.first[1] * durations[1])  # geometric mean
    assert float(clock.position(np.array(middle))) == pytest.approx(1.5)
    positions = np.linspace(0, 2, 41)
    np.testing.assert_allclose(clock.position(clock.time(positions)), positions, atol=1e-9)
    assert list(clock.stage_of(np.array([0.0, 0.5, 1.0, 1.2, 2.0]))) == [0, 0, 0, 1, 1]


def test_default_frames_are_the_saved_snapshots(result):
    time, stage, fractions = frame_states(result)
    assert time.size == result.data.sizes["time"] == 2 * FRAMES_PER_STAGE
    assert list(stage) == [0] * FRAMES_PER_STAGE + [1] * FRAMES_PER_STAGE
    np.testing.assert_allclose(fractions[-1], result.data["fraction"].values[-1])


def test_resampled_frames_interpolate_between_snapshots(result):
    time, stage, fractions = frame_states(result, 25)
    assert time.shape == (25,) and fractions.shape == (25, 3, result.data.sizes["x"])
    assert np.all(np.diff(time) > 0) and np.all(np.diff(stage) >= 0)
    saved = result.data["time"].values
    assert time[0] == pytest.approx(saved[0]) and time[-1] == pytest.approx(saved[-1])
    np.testing.assert_allclose(fractions[-1], result.data["fraction"].values[-1])
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=5e-3)  # convex combinations
    with pytest.raises(ValueError, match="at least 2"):
        frame_states(result, 1)


def test_frames_change_and_fit_macro_blocks(result):
    images = list(render_frames(result, 3, dpi=50))
    assert all(img.shape[0] % 16 == 0 and img.shape[1] % 16 == 0 for img in images)
    assert images[0].dtype == np.uint8 and not np.array_equal(images[0], images[-1])


def test_mp4_of_few_snapshots_is_resampled_and_plays(result, tmp_path):
    out = write_video(result, tmp_path / "evolution.mp4", fps=10, dpi=50)
    assert out == tmp_path / "evolution.mp4"
    assert result.data.sizes["time"] < MIN_FRAMES
    assert mp4_frames(out) == MIN_FRAMES  # resampled, never a file of a few frames
    with imageio.get_reader(out, format="FFMPEG") as reader:
        assert reader.get_meta_data()["fps"] == pytest.approx(10)
        frame = reader.get_data(3)
    assert frame.shape == (240, 400, 3) and frame.std() > 5


def test_first_frames_of_a_resampled_video_are_not_flat(result):
    _, _, fractions = frame_states(result, MIN_FRAMES)
    first = np.abs(np.diff(fractions[:4], axis=0)).max(axis=(1, 2))
    assert np.all(first > 2e-3), first  # each of the first frames shows a visible change


def test_gif_and_ffmpeg_fallback(result, tmp_path, monkeypatch):
    gif = write_video(result, tmp_path / "evolution.gif", frames=5, dpi=40)
    assert iio.imread(gif, index=None).shape[0] == 5

    def broken(*args, **kwargs):
        raise RuntimeError("no ffmpeg here")

    monkeypatch.setattr("caitlab.video._write_mp4", broken)
    with pytest.warns(RuntimeWarning, match="no ffmpeg"):
        out = write_video(result, tmp_path / "x.mp4", frames=4, dpi=40)
    assert out.suffix == ".gif" and iio.imread(out, index=None).shape[0] == 4
    assert not (tmp_path / "x.mp4").exists()


def test_cli_video(result_dir, tmp_path):
    out = tmp_path / "v.mp4"
    result = runner.invoke(
        app,
        [
            "video",
            str(result_dir),
            "--out",
            str(out),
            "--frames",
            "7",
            "--fps",
            "5",
            "--depth-max",
            "50 nm",
            "--dpi",
            "40",
        ],
    )
    assert result.exit_code == 0, result.output
    assert mp4_frames(out) == 7 and "wrote" in result.stdout


def test_cli_video_errors_are_one_line(tmp_path):
    result = runner.invoke(
        app, ["video", str(tmp_path / "missing"), "--out", str(tmp_path / "v.mp4")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no result at") and "Traceback" not in result.output


def test_cli_video_resamples_by_default_and_shows_measured_data(result_dir, result, tmp_path):
    from caitlab.fit import synthetic_profile, write_fractions_table

    profile = synthetic_profile(result, "Rb-CAIT", np.arange(2.0, 60.0, 2.0) * 1e-9, rng=1)
    write_fractions_table(tmp_path / "rb.csv", profile)
    out = tmp_path / "v.gif"
    run = runner.invoke(
        app,
        [
            "video",
            str(result_dir),
            "--out",
            str(out),
            "--dpi",
            "20",
            "--data",
            str(tmp_path / "rb.csv"),
            "--stage",
            "Rb-CAIT",
        ],
    )
    assert run.exit_code == 0, run.output
    assert f"{MIN_FRAMES} frames" in run.stdout and "resampled" in run.stderr
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == MIN_FRAMES
    # the markers appear from the end of the measured stage on: the last frames differ
    # from the same video without them
    plain = list(render_frames(result, 4, dpi=20))
    marked = list(render_frames(result, 4, dpi=20, measured=[profile]))
    assert np.array_equal(plain[0], marked[0]) and not np.array_equal(plain[-1], marked[-1])
