"""Output files written atomically, and what a killed run left behind cleaned up.

Every file xltools writes for people (plans, roll-ups, the case library, exports,
annotated copies) is written to a temporary file next to it and renamed into
place: a crash or a full disk never leaves a half-written file under the final
name.  The temporary file is ``.~xltools-<host>-<pid>-<random><suffix>``.

A run killed while writing (``kill -9``, a power cut) cannot remove its temporary
file, so every write first removes the stale ones in its folder -- only xltools'
own (by name), only those older than the running command, and only when the
process that made them is gone (same host: its pid no longer runs; another host:
a day old).  The name of the earlier scheme (``.~xltools-<random>.xlsx``, no pid)
counts as stale once older than the running command.

A write that fails (``ENOSPC``, ``EACCES``...) raises :class:`OutputError`, which
names the file.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from xltools.errors import XltoolsError
from xltools.messages import Label

PREFIX = ".~xltools-"
#: when this process started: only temporary files older than this may be stale
STARTED = time.time()
#: another host's temporary file is stale after this many seconds
OTHER_HOST_AGE = 24 * 3600
_HOST = hashlib.blake2s(socket.gethostname().encode("utf-8", "replace"), digest_size=3).hexdigest()
_OURS = re.compile(r"\.~xltools-([0-9a-f]{6})-(\d+)-[A-Za-z0-9_]+(\.[A-Za-z0-9]+)?\Z")
_LEGACY = re.compile(r"\.~?xltools-[A-Za-z0-9_]{8}\.xlsx\Z")


class OutputError(XltoolsError, OSError):
    """An output file could not be written; the message names it."""

    code = "output"
    template = Label("{path} に書き込めません（{reason}）", "cannot write {path}: {reason}")

    def __init__(self, path: str | os.PathLike, error: OSError):
        OSError.__init__(self, error.errno, error.strerror or str(error), str(path))
        self._text = None
        self._params = {"path": str(path), "reason": error.strerror or str(error)}

    def __str__(self) -> str:
        return self.message()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or cannot tell: alive
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary file of an xltools run that is gone (see the
    module docs)."""
    name = path.name
    ours, legacy = _OURS.match(name), _LEGACY.match(name)
    if not ours and not legacy:
        return False
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return False
    if mtime >= STARTED:
        return False
    if legacy:
        return True
    host, pid = ours.group(1), int(ours.group(2))
    if host != _HOST:
        return (now if now is not None else time.time()) - mtime > OTHER_HOST_AGE
    return pid != os.getpid() and not _alive(pid)


def clean_stale(folder: Path) -> list[Path]:
    """Remove the stale temporary files in ``folder``; returns what was removed."""
    removed = []
    try:
        entries = [folder / n for n in os.listdir(folder) if n.startswith((PREFIX, ".xltools-"))]
    except OSError:
        return removed
    for p in entries:
        if is_stale(p):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def _read_umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once: changing the umask is process-wide


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; once the body wrote it, it replaces
    ``path`` in one rename.  On any failure the temporary file is removed and
    ``path`` is left as it was; an OSError becomes :class:`OutputError`."""
    p = Path(path)
    if not p.parent.is_dir():
        raise OutputError(p, FileNotFoundError(2, "the output folder does not exist / 出力先のフォルダがありません"))
    clean_stale(p.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{PREFIX}{_HOST}-{os.getpid()}-", suffix=p.suffix, dir=p.parent)
        os.close(fd)
    except OSError as e:
        raise OutputError(p, e) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise OutputError(p, e) from None
        raise


def save_workbook(wb, path: str | os.PathLike) -> Path:
    """Save an openpyxl workbook atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return Path(path)
