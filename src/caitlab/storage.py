"""Safe outputs: one writer per folder, temporaries per process, checked atomic writes,
the derived files of a result, and ``--out`` checked before any computation.

* **One writer per folder.** :func:`folder_lock` takes ``DIR/.caitlab.lock`` with an atomic
  ``os.open(O_CREAT | O_EXCL)`` and writes the owner into it (host, pid, the process's start
  time, what it does). A second writer fails at once with :class:`FolderBusyError` naming the
  folder and the owner; a lock whose owner is gone (same host, pid not running or running a
  newer process) is stale and taken over. The lock is re-entrant within a thread (a command
  holding it may call :meth:`caitlab.Result.save` on the same folder; another thread is
  another writer) and released on exit, exceptions and Ctrl-C alike.
* **Temporaries per process.** :func:`temporary_path` names ``.NAME.<host>.<pid>.<random>.tmp``;
  :func:`clean_temporaries` removes only those whose process is gone (and those of older
  caitlab versions, which carry no owner), so one save never deletes another's files.
* **Every write checked.** :func:`write_atomic` writes a temporary, syncs it and renames it
  into place; a failure (a full disk, no permission) removes the temporary and raises
  :class:`OutputWriteError` (one line, ``errno`` kept), so the previous file is intact.
* **Derived files.** Files drawn from a result into its own folder (figures, ``overview.png``,
  ``csv/``, the video, the report) are listed in ``DIR/.caitlab-files.json`` with the
  ``run_id`` of the result they show (:func:`record_derived`). When a new result is saved into
  the folder, the listed files of any other run are removed (:func:`prune_derived`): a folder
  never shows figures of a previous run beside a new result. Files caitlab did not write are
  never touched.
* **Output paths** are checked by :func:`check_output` before anything is computed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

#: the lock file of an output folder
LOCK_FILE = ".caitlab.lock"
#: the list of derived files of a result folder (relative path -> run_id)
DERIVED_FILE = ".caitlab-files.json"
#: this host, as it appears in lock files and temporary names (no dots)
HOST = socket.gethostname().replace(".", "_") or "localhost"
#: an empty lock file older than this (s) was left by a writer killed while taking it
_EMPTY_LOCK_AGE_S = 30.0
_HELD: dict[tuple[int, int, str], int] = {}  # (pid, thread, folder) -> depth of the locks
_HELD_GUARD = threading.Lock()


class FolderBusyError(OSError):
    """Another live process writes into the folder; the message names it and the owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.EBUSY


class OutputWriteError(OSError):
    """An output could not be written (a full disk, no permission); one line that says
    where and why, and what is left. ``errno`` is that of the cause."""

    def __init__(self, message: str, cause: OSError | None = None) -> None:
        super().__init__(message)
        self.errno = cause.errno if cause is not None else None


class OutputPathError(ValueError):
    """An output path that cannot be used (a file where a folder is asked, no permission)."""


# --------------------------------------------------------------------------- processes
def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OverflowError:
        return False
    return True


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, Linux ``/proc``), None
    where it cannot be read: tells a reused pid from the process that wrote a lock."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _owner_gone(host: str, pid: int, start: str | None = None) -> bool:
    """Whether the process ``pid`` of ``host`` that wrote a lock or temporary has ended.
    A process of another host is taken to live."""
    if host != HOST:
        return False
    if not process_alive(pid):
        return True
    now = process_start(pid)
    return start is not None and now is not None and now != start


# --------------------------------------------------------------------------- temporaries
def temporary_path(path: str | os.PathLike, *, keep_suffix: bool = False) -> Path:
    """A new hidden temporary beside ``path``: ``.NAME.<host>.<pid>.<random>.tmp``, owned
    by this process (``keep_suffix``: ending ``.tmp<suffix>``, for writers that read the
    format off the name, e.g. ffmpeg)."""
    path = Path(path)
    tail = f"tmp{path.suffix}" if keep_suffix else "tmp"
    return path.with_name(f".{path.name}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}.{tail}")


def _temporary_owner(name: str, target: str) -> tuple[str, int] | None:
    """(host, pid) of a temporary of ``target`` named by :func:`temporary_path`; None for
    a name without an owner (an older caitlab's)."""
    middle = name[len(target) + 2 :].split(".")
    if len(middle) >= 4 and middle[1].isdigit() and middle[3].startswith("tmp"):
        return middle[0], int(middle[1])
    return None


def clean_temporaries(directory: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Remove the temporaries of ``names`` in ``directory`` whose process is gone; those of
    running processes (another save in progress) are left alone. Returns the removed paths."""
    directory = Path(directory)
    removed = []
    for name in names:
        for stale in directory.glob(f".{name}.*tmp*"):
            owner = _temporary_owner(stale.name, name)
            if owner is None or _owner_gone(*owner):
                with contextlib.suppress(OSError):
                    stale.unlink()
                    removed.append(stale)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _usual_permissions(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_temporary(
    path: str | os.PathLike, write: Callable[[Path], Any], *, keep_suffix: bool = False
) -> Path:
    """Call ``write(tmp)`` on a new :func:`temporary_path` of ``path``, sync it and give it
    the usual permissions; returns the temporary. On any failure it is removed and the
    error raised (an ``OSError`` as :class:`OutputWriteError`)."""
    path = Path(path)
    tmp = temporary_path(path, keep_suffix=keep_suffix)
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        write(tmp)
        _usual_permissions(tmp)
        _fsync(tmp)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputWriteError):
            raise write_error(path, exc) from exc
        raise
    return tmp


def write_atomic(
    path: str | os.PathLike, write: Callable[[Path], Any], *, keep_suffix: bool = False
) -> None:
    """Call ``write(tmp_path)``, then rename the temporary into ``path``: ``path`` is the
    old file or the whole new one, never half of it. ``keep_suffix``: the temporary ends in
    ``path``'s suffix (for writers that read the format off the name).

    Raises
    ------
    OutputWriteError
        If the file cannot be written (a full disk, no permission); ``path`` keeps its
        previous content and no temporary is left.
    """
    path = Path(path)
    tmp = write_temporary(path, write, keep_suffix=keep_suffix)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` with plain, checked system calls (a full disk
    is an ``OSError`` here, never inside a library)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_error(path: str | os.PathLike, cause: OSError, keeps: str = "") -> OutputWriteError:
    """The :class:`OutputWriteError` of ``cause`` while ``path`` was written: why, in words,
    and what is left (``keeps``; default: the previous file, if any)."""
    reason = "the disk is full" if cause.errno == errno.ENOSPC else (cause.strerror or str(cause))
    keeps = keeps or "its previous content, if any, is unchanged"
    return OutputWriteError(f"cannot write {path}: {reason}; {keeps}", cause)


# --------------------------------------------------------------------------- the lock
def _read_owner(lock: Path) -> dict[str, Any] | None:
    """The owner recorded in ``lock``; {} while it is being written, None if it is gone."""
    try:
        text = lock.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        owner = json.loads(text)
    except ValueError:
        return {}
    return owner if isinstance(owner, dict) else {}


def _stale(lock: Path, owner: dict[str, Any]) -> bool:
    if not owner:  # being written, or its writer was killed while writing it
        try:
            return time.time() - lock.stat().st_mtime > _EMPTY_LOCK_AGE_S
        except OSError:
            return False
    try:
        return _owner_gone(str(owner["host"]), int(owner["pid"]), owner.get("start"))
    except (KeyError, TypeError, ValueError):
        return True


def _describe(owner: dict[str, Any]) -> str:
    if not owner:
        return "a process that is taking the lock now"
    where = "" if owner.get("host") == HOST else f" on {owner.get('host')}"
    doing = f", {owner['command']}" if owner.get("command") else ""
    since = f", since {owner['since']}" if owner.get("since") else ""
    return f"pid {owner.get('pid')}{where}{doing}{since}"


def _try_lock(lock: Path, record: str) -> dict[str, Any] | None:
    """Take ``lock``; None if taken, else the owner that holds it."""
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _read_owner(lock)
            if owner is None:  # released meanwhile
                continue
            if not _stale(lock, owner):
                return owner
            _break(lock, owner)
            continue
        try:
            try:
                os.write(fd, record.encode())
            finally:
                os.close(fd)
        except OSError:
            lock.unlink(missing_ok=True)  # never leave an empty lock (a full disk)
            raise
        return None
    return _read_owner(lock) or {}


def _break(lock: Path, seen: dict[str, Any]) -> None:
    """Remove a stale lock, unless another process took it over meanwhile: the lock is
    renamed aside (only one process can) and put back if it was not the one judged stale."""
    aside = temporary_path(lock)
    try:
        os.replace(lock, aside)
    except OSError:
        return  # another process broke it first
    if (_read_owner(aside) or {}) != seen and seen:
        with contextlib.suppress(OSError):
            os.link(aside, lock)  # a live lock taken meanwhile: back (never over a newer one)
    aside.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(
    directory: str | os.PathLike, command: str = "", *, wait_s: float = 0.0
) -> Iterator[Path]:
    """Hold ``DIR/.caitlab.lock``: this process is the one writer of ``directory``.

    Parameters
    ----------
    directory : path-like
        The output folder (made if missing; removed again on release if it was made here
        and stayed empty).
    command : str
        What the owner does, shown to a second writer (e.g. ``"caitlab run"``).
    wait_s : float
        Wait up to this long (s) for another writer to finish; 0 fails at once.

    Yields
    ------
    Path
        The folder.

    Raises
    ------
    FolderBusyError
        If another live process holds the folder.
    OutputPathError
        If the folder cannot be made or written.
    """
    directory = Path(directory)
    made = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot make the folder {directory}: {exc.strerror or exc}") from exc
    key = _key(directory)
    with _HELD_GUARD:
        nested = key in _HELD
        if nested:
            _HELD[key] += 1
    if nested:
        try:
            yield directory
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    lock = directory / LOCK_FILE
    pid = os.getpid()
    record = json.dumps(
        {
            "host": HOST,
            "pid": pid,
            "start": process_start(pid),
            "command": command,
            "since": datetime.now().astimezone().isoformat(timespec="seconds"),
            "token": secrets.token_hex(8),
        }
    )
    deadline = time.monotonic() + wait_s
    while True:
        try:
            owner = _try_lock(lock, record)
        except PermissionError as exc:
            raise OutputPathError(
                f"cannot write in the folder {directory}: permission denied"
            ) from exc
        except OSError as exc:
            raise write_error(lock, exc, "nothing was written") from exc
        if owner is None:
            break
        if time.monotonic() >= deadline:
            raise FolderBusyError(
                f"{directory} is being written by another caitlab process "
                f"({_describe(owner)}): wait for it to finish or give another output folder"
            )
        time.sleep(0.05)
    with _HELD_GUARD:
        _HELD[key] = 1
    try:
        yield directory
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        if _read_owner(lock) == json.loads(record):
            lock.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if nothing was written into it


def _key(directory: Path) -> tuple[int, int, str]:
    """Who holds a lock here: this process and thread (another thread is another writer)."""
    return os.getpid(), threading.get_ident(), str(Path(directory).resolve())


def holds_lock(directory: str | os.PathLike) -> bool:
    """Whether this process (this thread of it) holds the lock of ``directory``."""
    with _HELD_GUARD:
        return _key(Path(directory)) in _HELD


def lock_owner(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The live owner of the lock of ``directory`` (host, pid, command, since), or None."""
    lock = Path(directory) / LOCK_FILE
    owner = _read_owner(lock)
    if owner is None or _stale(lock, owner):
        return None
    return owner


# --------------------------------------------------------------------------- output paths
def check_output(
    path: str | os.PathLike,
    *,
    kind: Literal["folder", "file"] = "folder",
    option: str = "--out",
) -> Path:
    """Check an output path before anything is computed; returns it.

    A folder may exist or not (it is made), but must not be a file; a file must not be a
    folder; in both cases the nearest existing folder above must be a folder this process
    can write in.

    Raises
    ------
    OutputPathError
        One line naming ``option``, the path and the fix.
    """
    path = Path(path)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise OutputPathError(
            f"{option} {path} is a file, not a folder: give a folder (it is made if "
            "missing), or move the file away"
        )
    if kind == "file" and path.is_dir():
        raise OutputPathError(
            f"{option} {path} is a folder: give a file name, e.g. {path / 'NAME'}"
        )
    above = path if kind == "folder" and path.is_dir() else path.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise OutputPathError(
            f"{option} {path}: {above} is a file, so no folder can be made there; give another path"
        )
    if not os.access(above, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{option} {path}: cannot write in {above} (permission denied); give a folder "
            "you can write in"
        )
    return path


# --------------------------------------------------------------------------- derived files
def _read_derived(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / DERIVED_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_derived(
    folder: str | os.PathLike, run_id: str, paths: Iterable[str | os.PathLike]
) -> None:
    """List ``paths`` (those inside ``folder``) as drawn from the result ``run_id`` in
    ``folder``'s ``.caitlab-files.json``; paths outside the folder are ignored."""
    folder = Path(folder)
    root = folder.resolve()
    found = _read_derived(folder)
    added = False
    for path in paths:
        try:
            relative = Path(path).resolve().relative_to(root)
        except ValueError:
            continue
        found[relative.as_posix()] = run_id
        added = True
    if added:
        text = json.dumps(dict(sorted(found.items())), indent=1)
        write_atomic(folder / DERIVED_FILE, lambda tmp: tmp.write_text(text))


def prune_derived(folder: str | os.PathLike, run_id: str) -> list[Path]:
    """Remove the derived files of ``folder`` drawn from another result than ``run_id``
    (and the folders they leave empty); returns the removed files."""
    folder = Path(folder)
    found = _read_derived(folder)
    stale = {
        name
        for name, owner in found.items()
        if owner != run_id and not Path(name).is_absolute() and ".." not in Path(name).parts
    }  # never a file outside the folder, whatever the list says
    if not stale:
        return []
    removed = []
    for name in sorted(stale):
        path = folder / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
        for parent in path.parents:
            if parent == folder or folder not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break
    kept = {name: owner for name, owner in found.items() if owner == run_id}
    if kept:
        text = json.dumps(kept, indent=1)
        write_atomic(folder / DERIVED_FILE, lambda tmp: tmp.write_text(text))
    else:
        (folder / DERIVED_FILE).unlink(missing_ok=True)
    return removed


__all__ = [
    "DERIVED_FILE",
    "HOST",
    "LOCK_FILE",
    "FolderBusyError",
    "OutputPathError",
    "OutputWriteError",
    "check_output",
    "clean_temporaries",
    "folder_lock",
    "holds_lock",
    "lock_owner",
    "process_alive",
    "process_start",
    "prune_derived",
    "record_derived",
    "temporary_path",
    "write_atomic",
    "write_bytes",
    "write_error",
    "write_temporary",
]
