"""Drive headless LibreOffice: open workbooks, recalculate every formula, save as .xlsx.

Used by the tests to prove the generated formulas with a real spreadsheet application,
and usable to put calculated values into files written by openpyxl (which stores
formulas without results).

Each run uses a private, throw-away LibreOffice profile (``-env:UserInstallation``) so
that it neither touches nor waits for the user's own LibreOffice, and so that the
profile can force recalculation on load: ``registrymodifications.xcu`` sets
``/org.openoffice.Office.Calc/Formula/Load`` ``OOXMLRecalcMode`` (and ``ODFRecalcMode``)
to 0, "always recalculate".  Without it LibreOffice trusts the cached results in the
file, which openpyxl does not write.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

from xltools.errors import XltoolsError

DEFAULT_TIMEOUT = 180
XLSX_FILTER = "xlsx:Calc MS Excel 2007 XML"
PDF_FILTER = "pdf:calc_pdf_Export"

RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse">\
<value>false</value></prop></item>
</oor:items>
"""


class LibreOfficeError(XltoolsError):
    """LibreOffice is missing, timed out or did not produce the expected file."""

    code = "libreoffice"


def find_soffice() -> str:
    """The ``soffice`` executable (env ``XLTOOLS_SOFFICE``, else ``soffice``/``libreoffice``
    on PATH, else the usual install locations)."""
    env = os.environ.get("XLTOOLS_SOFFICE")
    candidates = [env] if env else []
    candidates += [shutil.which("soffice"), shutil.which("libreoffice"),
                   "/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice",
                   "/Applications/LibreOffice.app/Contents/MacOS/soffice",
                   r"C:\Program Files\LibreOffice\program\soffice.exe"]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise LibreOfficeError("LibreOffice (soffice) was not found; install LibreOffice Calc "
                           "(Debian: apt-get install libreoffice-calc-nogui) or set XLTOOLS_SOFFICE")


def _profile(base: Path) -> str:
    user = base / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
    return base.resolve().as_uri()


def recalculate_many(srcs: Iterable[str | os.PathLike], dst_dir: str | os.PathLike, *,
                     timeout: float = DEFAULT_TIMEOUT, soffice: str | None = None) -> list[Path]:
    """Open each of ``srcs`` in one headless LibreOffice run, recalculate, and save it as
    ``dst_dir/<same name>.xlsx``.  The sources are never modified.  Returns the new paths
    in the order of ``srcs``."""
    return _convert_many(srcs, dst_dir, XLSX_FILTER, timeout=timeout, soffice=soffice)


def pdf_many(srcs: Iterable[str | os.PathLike], dst_dir: str | os.PathLike, *,
             timeout: float = DEFAULT_TIMEOUT, soffice: str | None = None) -> list[Path]:
    """Print each of ``srcs`` to ``dst_dir/<same name>.pdf`` (recalculated first) in one
    headless LibreOffice run with its own profile; checks that every PDF exists."""
    return _convert_many(srcs, dst_dir, PDF_FILTER, timeout=timeout, soffice=soffice)


def to_pdf(src: str | os.PathLike, dst_dir: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT,
           soffice: str | None = None) -> Path:
    """Print a workbook to ``dst_dir/<name>.pdf`` with LibreOffice (its page setup: what
    paper would show)."""
    return pdf_many([src], dst_dir, timeout=timeout, soffice=soffice)[0]


def _convert_many(srcs: Iterable[str | os.PathLike], dst_dir: str | os.PathLike, target: str, *,
                  timeout: float, soffice: str | None) -> list[Path]:
    srcs = [Path(s).resolve() for s in srcs]
    if not srcs:
        return []
    for s in srcs:
        if not s.is_file():
            raise LibreOfficeError(f"{s}: file not found")
    names = [s.stem.casefold() for s in srcs]
    if len(set(names)) != len(names):
        raise LibreOfficeError("recalculate: two sources have the same file name")
    dst = Path(dst_dir).resolve()
    dst.mkdir(parents=True, exist_ok=True)
    if any(s.parent == dst for s in srcs):
        raise LibreOfficeError(f"{dst}: the destination folder must differ from the sources' folder")
    exe = soffice or find_soffice()
    ext = "." + target.split(":", 1)[0]
    outs = [dst / (s.stem + ext) for s in srcs]
    for o in outs:
        if o.exists():
            o.unlink()
    with tempfile.TemporaryDirectory(prefix="xltools-lo-") as tmp:
        cmd = [exe, f"-env:UserInstallation={_profile(Path(tmp) / 'profile')}", "--headless", "--invisible",
               "--nologo", "--norestore", "--nolockcheck", "--nodefault",
               "--convert-to", target, "--outdir", str(dst), *map(str, srcs)]
        env = dict(os.environ, HOME=tmp)  # LibreOffice writes caches under $HOME
        returncode, output = _run(cmd, env, timeout, len(srcs))
    missing = [o.name for o in outs if not o.is_file()]
    if returncode != 0 or missing:
        detail = output.strip().splitlines()[-3:]
        raise LibreOfficeError(f"LibreOffice failed (exit {returncode}); missing output: "
                               f"{', '.join(missing) or '-'}; {' '.join(detail)}")
    return outs


def _run(cmd: list[str], env: dict, timeout: float, count: int) -> tuple[int, str]:
    """Run LibreOffice in its own process group so that a timeout stops all of it
    (``soffice`` starts ``oosplash`` which starts ``soffice.bin``)."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, text=True, start_new_session=(os.name == "posix"))
    except OSError as e:
        raise LibreOfficeError(f"cannot run LibreOffice ({cmd[0]}): {e.strerror or e}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise LibreOfficeError(f"LibreOffice did not finish within {timeout:g} s ({count} file(s))") from None
    return proc.returncode, out or ""


def _kill(proc: subprocess.Popen) -> None:
    if os.name == "posix":
        import signal

        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:  # pragma: no cover - Windows
        proc.kill()
    proc.communicate()


def recalculate(src: str | os.PathLike, dst_dir: str | os.PathLike, *, timeout: float = DEFAULT_TIMEOUT,
                soffice: str | None = None) -> Path:
    """Recalculate one workbook with LibreOffice; the result is ``dst_dir/<name>.xlsx``."""
    return recalculate_many([src], dst_dir, timeout=timeout, soffice=soffice)[0]
