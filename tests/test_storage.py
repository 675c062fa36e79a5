"""caitlab.storage: the folder lock, per-process temporaries, checked atomic writes, the
list of derived files and the output-path check."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import pytest

from caitlab import storage
from caitlab.storage import (
    DERIVED_FILE,
    HOST,
    LOCK_FILE,
    FolderBusyError,
    OutputPathError,
    OutputWriteError,
    check_output,
    clean_temporaries,
    folder_lock,
    prune_derived,
    record_derived,
    temporary_path,
    write_atomic,
)


@pytest.fixture
def other_process():
    """A live process that is not this one (its pid owns locks and temporaries)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, pid: int, **extra) -> None:
    owner = {"host": HOST, "pid": pid, "command": "caitlab run", "since": "12:00"} | extra
    (folder / LOCK_FILE).write_text(json.dumps(owner))


def test_the_lock_is_held_while_in_use_and_released_on_errors(tmp_path):
    folder = tmp_path / "out"
    with folder_lock(folder, "caitlab run"):
        owner = json.loads((folder / LOCK_FILE).read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == HOST
        with folder_lock(folder):  # re-entrant: Result.save inside a command
            assert (folder / LOCK_FILE).exists()
        assert (folder / LOCK_FILE).exists()
        (folder / "kept").write_text("x")
    assert not (folder / LOCK_FILE).exists()
    with pytest.raises(KeyboardInterrupt), folder_lock(folder):
        raise KeyboardInterrupt
    assert sorted(p.name for p in folder.iterdir()) == ["kept"]


def test_a_folder_made_for_nothing_is_removed_again(tmp_path):
    with pytest.raises(RuntimeError), folder_lock(tmp_path / "new"):
        raise RuntimeError("the run failed")
    assert not (tmp_path / "new").exists()


def test_a_second_writer_fails_at_once_naming_the_owner(tmp_path, other_process):
    write_lock(tmp_path, other_process.pid)
    started = time.perf_counter()
    with pytest.raises(FolderBusyError) as caught, folder_lock(tmp_path):
        pass
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert str(tmp_path) in message and f"pid {other_process.pid}" in message
    assert "caitlab run" in message and "\n" not in message
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == other_process.pid


def test_a_waiting_writer_gets_the_folder_when_the_owner_finishes(tmp_path, other_process):
    write_lock(tmp_path, other_process.pid)
    with pytest.raises(FolderBusyError), folder_lock(tmp_path, wait_s=0.2):
        pass
    other_process.kill()
    other_process.wait()
    with folder_lock(tmp_path, wait_s=0.2):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("case", ["dead pid", "reused pid", "garbage", "old and empty"])
def test_a_stale_lock_is_taken_over(tmp_path, case, other_process):
    lock = tmp_path / LOCK_FILE
    if case == "dead pid":
        write_lock(tmp_path, dead_pid())
    elif case == "reused pid":  # a live process, but not the one that wrote the lock
        write_lock(tmp_path, other_process.pid, start="1")
    elif case == "garbage":
        lock.write_text(json.dumps({"host": HOST, "pid": "x"}))
    else:
        lock.write_text("")
        os.utime(lock, (time.time() - 60, time.time() - 60))
    if case == "reused pid" and storage.process_start(other_process.pid) is None:
        pytest.skip("no /proc: process start times cannot be read here")
    with folder_lock(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_a_fresh_empty_lock_is_a_writer_taking_it(tmp_path):
    (tmp_path / LOCK_FILE).write_text("")
    with pytest.raises(FolderBusyError, match="taking the lock now"), folder_lock(tmp_path):
        pass


def test_a_lock_of_another_host_is_respected(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    with pytest.raises(FolderBusyError, match="pid 1 on elsewhere"), folder_lock(tmp_path):
        pass


def test_temporaries_are_named_per_process_and_only_gone_ones_cleaned(tmp_path, other_process):
    mine = temporary_path(tmp_path / "result.nc")
    assert mine.name.startswith(f".result.nc.{HOST}.{os.getpid()}.") and mine.suffix == ".tmp"
    assert temporary_path(tmp_path / "v.mp4", keep_suffix=True).suffix == ".mp4"
    live = tmp_path / f".result.nc.{HOST}.{other_process.pid}.ab12cd34.tmp"
    dead = tmp_path / f".result.nc.{HOST}.{dead_pid()}.ab12cd34.tmp"
    legacy = tmp_path / ".result.nc.k2j3h4.tmp"  # an older caitlab's: no owner
    elsewhere = tmp_path / f".result.nc.otherhost.{dead_pid()}.ab12cd34.tmp"
    user = tmp_path / "result.nc.tmp"
    for path in (live, dead, legacy, elsewhere, user):
        path.write_text("x")
    removed = clean_temporaries(tmp_path, ["result.nc"])
    assert sorted(removed) == sorted([dead, legacy])
    assert live.exists() and elsewhere.exists() and user.exists()


def test_write_atomic_keeps_the_old_file_on_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "write", full)
    with pytest.raises(OutputWriteError, match="the disk is full") as caught:
        write_atomic(target, lambda tmp: storage.write_bytes(tmp, b"new"))
    assert caught.value.errno == errno.ENOSPC and "Errno" not in str(caught.value)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_output_paths_are_checked(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputPathError, match=r"^--out .*file is a file, not a folder"):
        check_output(a_file)
    with pytest.raises(OutputPathError, match="is a file, so no folder can be made"):
        check_output(a_file / "run")
    with pytest.raises(OutputPathError, match=r"^--csv .* is a folder: give a file name"):
        check_output(tmp_path, kind="file", option="--csv")
    assert check_output(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert check_output(a_file, kind="file") == a_file


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_an_unwritable_output_folder_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(OutputPathError, match="permission denied"):
        check_output(locked / "run")


def test_derived_files_of_another_run_are_pruned(tmp_path):
    (tmp_path / "figures").mkdir()
    for name in ("overview.png", "figures/a.png", "figures/b.png", "figures/mine.png", "u.txt"):
        (tmp_path / name).write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.png"
    record_derived(tmp_path, "old", [tmp_path / "overview.png", tmp_path / "figures/a.png"])
    record_derived(tmp_path, "new", [tmp_path / "figures/b.png", outside])
    assert json.loads((tmp_path / DERIVED_FILE).read_text()) == {
        "figures/a.png": "old",
        "figures/b.png": "new",
        "overview.png": "old",
    }
    removed = prune_derived(tmp_path, "new")
    assert sorted(p.name for p in removed) == ["a.png", "overview.png"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["b.png", "mine.png"]
    assert (tmp_path / "u.txt").exists()
    assert prune_derived(tmp_path, "newer") == [tmp_path / "figures/b.png"]
    assert not (tmp_path / DERIVED_FILE).exists()
    assert (tmp_path / "figures" / "mine.png").exists()  # a file caitlab did not write


def test_another_thread_is_another_writer(tmp_path):
    import threading

    seen: list[BaseException] = []

    def second() -> None:
        try:
            with folder_lock(tmp_path):
                pass
        except FolderBusyError as exc:
            seen.append(exc)

    with folder_lock(tmp_path):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert len(seen) == 1 and f"pid {os.getpid()}" in str(seen[0])


def test_the_derived_list_never_reaches_outside_its_folder(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (folder / DERIVED_FILE).write_text(json.dumps({"../precious.txt": "old", str(outside): "old"}))
    assert prune_derived(folder, "new") == []
    assert outside.read_text() == "keep"
