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
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, NamedTuple

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
    """Save an openpyxl workbook atomically (see :func:`atomic_path`), through
    :func:`write_xlsx`."""
    with atomic_path(path) as tmp:
        write_xlsx(wb, tmp)
    return Path(path)


# -- openpyxl's save, without its per-sheet temporary files and its per-cell element trees -----

def stream_rows(ws, rows: Iterable[str], dimension: str) -> None:
    """Have :func:`write_xlsx` write ``rows`` as the ``<sheetData>`` of ``ws`` instead of its
    openpyxl cells: ``<row>`` XML chunks made with :mod:`xltools.workbook.cellxml`, consumed
    once, as the sheet is written (so a sheet of millions of cells is never held in memory;
    the styles the rows refer to must be registered in the workbook by then).  ``dimension``
    is the sheet's used range (``A1:K1200``)."""
    ws._xltools_stream = (rows, dimension)


def stream_deflated(ws, member: Any, dimension: str) -> None:
    """Have :func:`write_xlsx` write the part of ``ws`` from a member compressed ahead:
    ``member()`` returns its :class:`Deflated` (or :class:`DeflatedFile`) when the sheet's
    turn comes -- made by :func:`deflated_sheet` of the same sheet, here or in another
    process.  ``dimension`` as :func:`stream_rows`.  The sheet must have no conditional
    formatting (its differential styles are numbered as the package is written)."""
    if ws.conditional_formatting:
        raise ValueError("a sheet compressed ahead cannot have conditional formatting")
    ws._xltools_deflated = (member, dimension)


def deflated_sheet(ws, compresslevel: int | None = None, out: BinaryIO | None = None) -> Deflated | DeflatedFile:
    """The part of ``ws`` that :func:`write_xlsx` would write, rows from
    :func:`stream_rows`, compressed as it is made (raw deflate at ``compresslevel``, default
    zlib's): a :class:`Deflated`, or with ``out`` (a binary file) a :class:`DeflatedFile`
    of the bytes appended to ``out`` -- never the whole sheet's XML in memory.  The same
    sheet gives the same bytes in any process."""
    if ws.conditional_formatting:
        raise ValueError("a sheet compressed ahead cannot have conditional formatting")
    sink = DeflateSink(compresslevel, out)
    _write_streamed(ws, {}, sink)
    # the part's name as write_xlsx numbers the sheets (openpyxl numbers them as it writes)
    return sink.finish(f"xl/worksheets/sheet{ws.parent.worksheets.index(ws) + 1}.xml")


class _Discard:
    """A binary file that forgets what is written to it."""

    def write(self, data: bytes) -> int:
        return len(data)


def write_xlsx(wb, path: str | os.PathLike, compresslevel: int | None = None) -> None:
    """What ``wb.save(path)`` writes, part for part, at a fraction of the cost: each sheet's
    XML is built in memory instead of a temporary file (openpyxl creates, copies and removes
    one per sheet), and the cells of ``<sheetData>`` are written as text
    (:mod:`xltools.workbook.cellxml`) instead of an element tree per cell.  Cells of a kind
    the fast path does not know (rich text, array formulas, comments, hyperlinks, merged
    cells) go through openpyxl's own cell writer, in place.  A sheet given rows by
    :func:`stream_rows` is written straight into the package with those rows.  A read-only
    or write-only workbook, openpyxl on lxml, or anything else with a ``save(path)`` method
    saves itself.  A sheet given by :func:`stream_deflated` is written from its member
    compressed ahead.  ``compresslevel``: the deflate level (default zlib's)."""
    from openpyxl import LXML, Workbook

    if not isinstance(wb, Workbook) or wb.read_only or wb.write_only or LXML:
        if any(getattr(ws, "_xltools_stream", None) for ws in getattr(wb, "worksheets", ())):
            raise ValueError("streamed rows need an ordinary openpyxl workbook without lxml")
        wb.save(path)
        return
    import datetime
    from zipfile import ZIP_DEFLATED

    from openpyxl.writer.excel import ExcelWriter

    dxf_ids: dict[int, tuple[Any, int | None]] = {}

    class Writer(ExcelWriter):
        def write_worksheet(self, ws):
            from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing

            ws._drawing = SpreadsheetDrawing()
            ws._drawing.charts = ws._charts
            ws._drawing.images = ws._images
            ahead = getattr(ws, "_xltools_deflated", None)
            if ahead is not None:
                # the member comes compressed; a writer without rows gives the sheet's
                # relationships (tables, drawing) as the full writer made them
                writer = _sheet_writer()(ws, dxf_ids, out=_Discard())
                writer.stream = ((), ahead[1])
                writer.write()
                member = ahead[0]()
                if member.name != ws.path[1:]:
                    raise ValueError(f"member {member.name} given for the sheet {ws.path[1:]}")
                self._archive.write_deflated(member)
            elif getattr(ws, "_xltools_stream", None):
                with self._archive.open(ws.path[1:], "w", force_zip64=True) as fh:
                    writer = _write_streamed(ws, dxf_ids, fh)
            else:
                writer = _sheet_writer()(ws, dxf_ids)
                writer.write()
                self._archive.writestr(ws.path[1:], writer.out.getvalue())
            ws._rels = writer._rels
            self.manifest.append(ws)

    with _deflated_archive()(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=compresslevel) as archive:
        wb.properties.modified = datetime.datetime.now(tz=datetime.timezone.utc).replace(tzinfo=None)
        Writer(wb, archive).write_data()


_SHEET_WRITER: list = []


def _write_streamed(ws, dxf_ids: dict, out):
    """Write the sheet ``ws`` (its rows streamed) into the file-like ``out``; the writer.  On an error the
    sheet's XML stream is ended while ``out`` is still open: left for the garbage collector,
    it would write into a closed file."""
    writer = _sheet_writer()(ws, dxf_ids, out=out)
    try:
        writer.write()
    except BaseException:
        try:
            writer.xf.close()
        except Exception:
            pass  # the first error is the one to report
        raise
    return writer


def _sheet_writer():
    """The worksheet writer class of :func:`write_xlsx` (defined on first use: openpyxl is
    imported only by what writes a workbook)."""
    if not _SHEET_WRITER:
        _SHEET_WRITER.append(_define_sheet_writer())
    return _SHEET_WRITER[0]


def _define_sheet_writer():
    from io import BytesIO
    from xml.etree.ElementTree import _escape_attrib  # type: ignore[attr-defined]

    from openpyxl.cell._writer import write_cell
    from openpyxl.cell.cell import Cell
    from openpyxl.comments.comment_sheet import CommentRecord
    from openpyxl.compat import safe_string
    from openpyxl.styles.differential import DifferentialStyle
    from openpyxl.worksheet._writer import WorksheetWriter
    from openpyxl.worksheet.dimensions import SheetDimension

    from xltools.workbook.cellxml import empty_cell, formula_cell, head, inline_cell, value_cell

    class SheetWriter(WorksheetWriter):
        """openpyxl's worksheet writer (into memory unless given ``out``), with
        ``<sheetData>`` written as text: a streamed sheet's rows, or the cells encoded by
        :mod:`xltools.workbook.cellxml` (openpyxl's bytes but for the two text cases it
        names)."""

        def __init__(self, ws, dxf_ids: dict[int, tuple[Any, int | None]], out=None):
            super().__init__(ws, out=BytesIO() if out is None else out)
            self.dxf_ids = dxf_ids  # id(differential style) -> (it, its index in the workbook's), per save
            self.stream = getattr(ws, "_xltools_stream", None)

        def write_dimensions(self):
            if self.stream is None:
                super().write_dimensions()
            else:
                self.xf.send(SheetDimension(self.stream[1]).to_tree())

        def write_formatting(self):
            """openpyxl's, with each differential style looked up once per save (rules share
            them: :func:`xltools.workbook.generate.rules.rule_dxf`)."""
            empty = DifferentialStyle()
            styles = self.ws.parent._differential_styles
            for cf in self.ws.conditional_formatting:
                for rule in cf.rules:
                    dxf = rule.dxf
                    known = self.dxf_ids.get(id(dxf))
                    if known is None:
                        known = self.dxf_ids[id(dxf)] = (dxf, styles.add(dxf) if dxf and dxf != empty else None)
                    if known[1] is not None:
                        rule.dxfId = known[1]
                self.xf.send(cf.to_tree())

        def write_rows(self):
            xf = self.xf.send(True)
            with xf.element("sheetData"):
                write = xf._file
                if self.stream is not None:
                    for chunk in self.stream[0]:
                        write(chunk)
                else:
                    self.write_cells(xf, write)
            self.xf.send(None)

        def write_cells(self, xf, write):
            """The workbook's own cells, row by row."""
            ws = self.ws
            dims = ws.row_dimensions
            for row_idx, row in self.rows():
                attrs = {"r": f"{row_idx}"}
                attrs.update(dims.get(row_idx, {}))
                write("<row" + "".join(f' {k}="{_escape_attrib(v)}"' for k, v in attrs.items()) + ">")
                for cell in row:
                    if cell._comment is not None:
                        ws._comments.append(CommentRecord.from_cell(cell))
                    value = cell._value
                    styled = cell.has_style
                    if value is None and not styled and cell._comment is None:
                        continue
                    kind = cell.data_type
                    if (type(cell) is not Cell or cell._comment is not None or cell._hyperlink is not None
                            or not (kind in ("n", "f", "b") or kind == "s" and (value is None or type(value) is str))
                            or kind == "f" and value is not None and type(value) is not str):
                        write_cell(xf, ws, cell, styled)
                        continue
                    ref, style = cell.coordinate, cell.style_id if styled else None
                    if kind == "f" and value:
                        write(formula_cell(ref, style, value))
                        continue
                    h = head(ref, style, "inlineStr" if kind == "s" else None if kind == "f" else kind)
                    if value is None or value == "":
                        write(empty_cell(h))
                    elif kind == "s":
                        write(inline_cell(h, value))
                    else:  # numbers as openpyxl formats them (see xltools.workbook.cellxml)
                        write(value_cell(h, safe_string(value)))
                write("</row>")

    return SheetWriter


# -- zip members compressed ahead (the parts of many plans that share most of their bytes) -------

class Deflated(NamedTuple):
    """One zip member compressed ahead: its name, size, CRC-32 and raw deflate bytes."""

    name: str
    size: int
    crc: int
    data: bytes


def _compressor() -> Any:
    """The compressor :func:`write_xlsx`'s ``ZipFile`` uses by default (zlib's level, raw deflate)."""
    return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)


class DeflatePrefix:
    """The constant beginning of a zip member, compressed once; :meth:`finish` compresses only
    the rest.  zlib's output does not depend on how its input is split into calls, so
    ``finish(rest)`` is, byte for byte, the compression of ``prefix + rest`` in one go."""

    def __init__(self, name: str, prefix: bytes):
        self.name = name
        self._compress = _compressor()
        self._out = self._compress.compress(prefix)
        self._crc = zlib.crc32(prefix)
        self._size = len(prefix)

    def finish(self, rest: bytes = b"") -> Deflated:
        c = self._compress.copy()
        return Deflated(self.name, self._size + len(rest), zlib.crc32(rest, self._crc),
                        self._out + c.compress(rest) + c.flush())


def deflated(name: str, data: bytes) -> Deflated:
    """The member ``name`` of ``data``, compressed as :func:`write_xlsx` compresses it."""
    return DeflatePrefix(name, data).finish()


class DeflatedFile(NamedTuple):
    """A zip member compressed ahead into a file: its name, size and CRC-32, and where its
    raw deflate bytes are (``file``, from ``offset``, ``length`` bytes)."""

    name: str
    size: int
    crc: int
    file: BinaryIO
    offset: int
    length: int

    def read(self) -> bytes:
        self.file.seek(self.offset)
        data = self.file.read(self.length)
        if len(data) != self.length:
            raise OSError(f"{self.name}: {len(data)} of {self.length} compressed bytes found")
        return data


class DeflateSink:
    """A binary file that compresses what is written to it (raw deflate, ``compresslevel``:
    zlib's default when None) and keeps its size and CRC-32; the compressed bytes are kept
    in memory, or appended to ``out``.  :meth:`finish` gives the member."""

    def __init__(self, compresslevel: int | None = None, out: BinaryIO | None = None):
        level = zlib.Z_DEFAULT_COMPRESSION if compresslevel is None else compresslevel
        self._compress = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._out = out
        self._offset = out.seek(0, os.SEEK_END) if out is not None else 0
        self._chunks: list[bytes] = []
        self._length = 0
        self.size = self.crc = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)
        self._emit(self._compress.compress(data))
        return len(data)

    def _emit(self, out: bytes) -> None:
        if out:
            self._length += len(out)
            if self._out is None:
                self._chunks.append(out)
            else:
                self._out.write(out)

    def finish(self, name: str) -> Deflated | DeflatedFile:
        self._emit(self._compress.flush())
        if self._out is None:
            return Deflated(name, self.size, self.crc, b"".join(self._chunks))
        self._out.flush()
        return DeflatedFile(name, self.size, self.crc, self._out, self._offset, self._length)


def write_deflated(path: str | os.PathLike | BinaryIO, members: Iterable[Deflated]) -> None:
    """The zip file that ``ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True)`` and one
    ``writestr(name, data)`` per member in turn write (what :func:`write_xlsx` writes), byte
    for byte -- same member order, names, headers and timestamps (the local time each member
    is written at) -- from members compressed ahead (:func:`deflated`, :class:`DeflatePrefix`)."""
    from zipfile import ZIP_DEFLATED

    with _deflated_archive()(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        for m in members:
            archive.write_deflated(m)


_ARCHIVE: list = []


def _deflated_archive():
    """The ``ZipFile`` of :func:`write_deflated` (defined on first use, like the sheet writer)."""
    if _ARCHIVE:
        return _ARCHIVE[0]
    from zipfile import ZIP64_LIMIT, ZIP_DEFLATED, ZipFile, ZipInfo

    class Archive(ZipFile):
        def write_deflated(self, m: Deflated | DeflatedFile) -> None:
            """What ``writestr(m.name, data)`` does for a member of this size on a seekable
            file, with the compressed bytes given: the same local header, and the same books
            (``filelist``), from which ``close`` writes the central directory."""
            data = m.data if isinstance(m, Deflated) else m.read()
            if m.size * 1.05 > ZIP64_LIMIT:  # a zip64 header: let ZipFile write it
                self.writestr(m.name, zlib.decompress(data, -15))
                return
            zinfo = ZipInfo(filename=m.name, date_time=time.localtime(time.time())[:6])
            zinfo.compress_type = ZIP_DEFLATED
            zinfo.external_attr = 0o600 << 16
            zinfo.flag_bits = 0
            zinfo.file_size, zinfo.CRC, zinfo.compress_size = m.size, m.crc, len(data)
            fp: Any = self.fp
            fp.seek(self.start_dir)
            zinfo.header_offset = fp.tell()
            self._writecheck(zinfo)  # type: ignore[attr-defined]
            self._didModify = True
            fp.write(zinfo.FileHeader(False))
            fp.write(data)
            self.start_dir = fp.tell()
            self.filelist.append(zinfo)
            self.NameToInfo[zinfo.filename] = zinfo

    _ARCHIVE.append(Archive)
    return Archive
