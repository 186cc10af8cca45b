"""What the given paths hold: plans, plans in the wrong format, the rest, and what was skipped
and why (:func:`discover`)."""
from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from xltools.checking.roster import MissingSubmission, missing_submissions  # noqa: F401 (re-exported)

#: workbook formats xltools reads
PLAN_SUFFIXES = (".xlsx", ".xlsm")
#: spreadsheets saved in a format xltools does not read: a plan in the wrong format
WRONG_FORMAT_SUFFIXES = (".xls", ".xlsb", ".xlt", ".xltx", ".xltm", ".ods", ".fods", ".numbers", ".et")


# -- discovery -----------------------------------------------------------------------------

#: why a path was skipped (keys of ``Discovery.reasons``; see ``UI`` for the words)
SKIP_REASONS = ("lock", "hidden", "fifo", "socket", "device", "broken-link", "link-loop", "dir-link", "denied",
                "other")


@dataclass
class Discovery:
    """What the paths hold: plans to read, plans in the wrong format, the rest."""

    plans: list[Path] = field(default_factory=list)
    wrong_format: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # unrelated files (counted)
    skipped: list[Path] = field(default_factory=list)  # lock, temp and hidden files; what is no file
    reasons: dict[Path, str] = field(default_factory=dict)  # skipped path -> one of SKIP_REASONS
    #: paths named explicitly that are no readable file or folder -> what they are
    #: (:func:`xltools.workbook.safety.path_kind`): each gets a result of its own
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(path)
        self.reasons[path] = reason if reason in SKIP_REASONS else "other"


def is_lock_or_temp(name: str) -> bool:
    """Excel's ``~$book.xlsx``, LibreOffice's ``.~lock.book.xlsx#``, ``*.tmp`` files."""
    low = name.lower()
    return (name.startswith("~$") or low.startswith(".~lock.") or low.endswith(".tmp")
            or (name.startswith("~") and "." not in name))


def is_hidden(path: Path) -> bool:
    """A dot file, or a file with the Windows hidden attribute."""
    if path.name.startswith("."):
        return True
    attrs = getattr(_lstat(path), "st_file_attributes", 0) if sys.platform == "win32" else 0
    return bool(attrs & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except OSError:
        return None


def _classify(path: Path, out: Discovery) -> None:
    suffix = path.suffix.lower()
    if is_lock_or_temp(path.name):
        out.skip(path, "lock")
    elif suffix in PLAN_SUFFIXES:
        out.plans.append(path)
    elif suffix in WRONG_FORMAT_SUFFIXES:
        out.wrong_format.append(path)
    else:
        out.ignored.append(path)


def discover(paths: Iterable[str | os.PathLike[str]]) -> Discovery:
    """Sort ``paths`` (files and folders, walked recursively) into a :class:`Discovery`.

    A file named explicitly is taken even when hidden; lock and temporary files are
    skipped wherever they come from (an Excel lock file is not a plan).  A named path
    that is no readable file or folder (missing, a broken link, a symlink loop, a
    FIFO...) is listed in ``unreadable``: it gets a result, the run goes on.  In a
    folder, what is no regular file (FIFOs, sockets, devices, broken links, symlink
    loops, links to folders -- never followed -- and folders that cannot be read) is
    skipped with its reason, never silently dropped."""
    from xltools.workbook.safety import path_kind

    out = Discovery()
    seen: set[Path] = set()

    def take(p: Path, explicit: bool) -> None:
        key = resolved(p)
        if key in seen:
            return
        seen.add(key)
        if not explicit and is_hidden(p) and not is_lock_or_temp(p.name):
            out.skip(p, "hidden")
        else:
            _classify(p, out)

    for raw in paths:
        top = Path(raw)
        try:
            mode = top.stat().st_mode
        except OSError as e:
            out.unreadable.append((top, path_kind(top, e)))
            continue
        if stat.S_ISREG(mode):
            take(top, explicit=True)
            continue
        if not stat.S_ISDIR(mode):
            out.unreadable.append((top, path_kind(top, mode=mode)))
            continue
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False,
                                                    onerror=lambda e: out.skip(Path(e.filename), "denied")):
            base = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                if is_hidden(base / d):
                    continue  # hidden folders are not entered
                if (base / d).is_symlink():
                    out.skip(base / d, "dir-link")
                else:
                    keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                p = base / name
                try:
                    mode = p.stat().st_mode
                except OSError as e:
                    out.skip(p, path_kind(p, e))
                    continue
                if stat.S_ISREG(mode):
                    take(p, explicit=False)
                else:
                    out.skip(p, path_kind(p, mode=mode))
    return out


def resolved(p: Path) -> Path:
    """``p`` with its links resolved (a loop: the absolute path), to tell one file named twice."""
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(p))
