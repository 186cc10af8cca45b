"""Guards for untrusted workbook files, run before anything parses them.

Reps send workbooks by mail and shared folders; a collection run must survive any
file.  :func:`check_file` (and :func:`open_package`, which the reader uses) reads
the file once into memory and, before any spreadsheet parser sees it, rejects:

* an Excel lock file ``~$…``                                  → ``E-FILE-LOCK``
* a missing/empty file, text/CSV renamed to .xlsx, a truncated
  or damaged zip, a zip that holds no workbook               → ``E-FILE-UNREADABLE``
* an OLE2 compound file (Excel 97-2003 ``.xls``), ``.xlsb``,
  an OpenDocument spreadsheet, a Word/PowerPoint document     → ``E-FILE-FORMAT``
* an OLE2 file holding an ``EncryptionInfo`` stream (a password-
  protected .xlsx), a zip with encrypted members              → ``E-FILE-ENCRYPTED``
* a file above ``max_file_mb``, a zip whose declared content exceeds
  ``max_uncompressed_mb``, a member compressed more than
  ``max_ratio`` : 1 (zip bomb)                                → ``E-FILE-TOO-LARGE``
* a member whose real size differs from its header (lying header), duplicate
  member names, XML with ``<!DOCTYPE``/``<!ENTITY`` (entity expansion / XXE)
                                                              → ``E-FILE-UNSAFE``
* an XML part that is not well-formed (expat, namespaces included), a package
  Excel would refuse: no ``[Content_Types].xml``, no root relationships to the
  workbook part, a workbook part without its content type, a sheet whose
  relationship or part is missing, duplicate sheet names, no sheet at all  → ``E-FILE-UNREADABLE``
* a worksheet that is not a ``<worksheet>`` or has no ``<sheetData>``, a cell
  reference, row number or dimension outside Excel's grid (A1:XFD1048576)
  (:mod:`xltools.workbook.sheetscan`, before any native reader sees them)    → ``E-FILE-UNREADABLE``
* a worksheet with more than ``max_sheet_rows`` rows, or whose cells with a value
  span more than ``max_sheet_rows`` / ``max_sheet_cells`` even without its
  ``max_far_cells`` farthest cells (checked on the raw XML, never materialised;
  ``<dimension>`` is not trusted)                             → ``E-SHEET-TOO-LARGE``
* a layout python-calamine would misread (it finds ``workbook.xml``,
  ``sharedStrings.xml`` and ``styles.xml`` by name)            → ``E-FILE-FORMAT``

What the checks find that the reader must work around is in the :class:`Package`:
far-away cells and error values decoded here (``Package.cells``) and the parts
python-calamine reads instead of the originals (``Package.reader_parts``: a far
cell taken out, a lying shared-string count dropped).

Every member is decompressed here with a bounded decompressor that stops as soon
as the output would exceed the size the zip declares, so a later parser (the
Rust zip reader inside python-calamine) only ever sees members whose real size is
known and bounded.  Every XML part is checked with expat (DTDs refused, nothing
expanded); the parts this package then parses as trees are read by ElementTree's
expat parser (C) -- they hold no DTD, so no entity can be declared -- and any other
XML (:func:`parse_xml`) goes through defusedxml.

``.xlsm`` is accepted: macro-enabled workbooks are read like ``.xlsx`` (cell values
only; the VBA project is never opened, let alone run).

The input file is opened read-only and never written: its bytes and mtime stay
unchanged.
"""
from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError, XMLParser
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from xltools.errors import XltoolsError
from xltools.spec.config import Settings, Thresholds
from xltools.spec.issues import ISSUE_TYPES, Issue
from xltools.workbook.sheetscan import SheetScan, SheetXmlError, scan_worksheet

_MB = 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CHUNK = 1 << 20

REL_OFFICE_DOCUMENT = "officeDocument"
REL_WORKSHEET = "worksheet"
REL_TABLE = "table"
REL_SHARED_STRINGS = "sharedStrings"
REL_STYLES = "styles"
CONTENT_TYPES = "[Content_Types].xml"
#: content types of a workbook part (.xlsx, .xlsm, templates, add-ins)
WORKBOOK_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
    "application/vnd.ms-excel.addin.macroEnabled.main+xml",
})
#: sheet kinds a workbook may list (python-calamine refuses any other)
SHEET_KINDS = ("worksheet", "chartsheet", "dialogsheet")
SHEET_STATES = ("visible", "hidden", "veryHidden")


# -- the file-level problem ---------------------------------------------------------------

class FileProblem(XltoolsError):
    """A file-level problem: the validator turns it into ONE file-level issue.

    ``code`` is a file-scope code of :data:`xltools.spec.issues.ISSUE_TYPES`;
    ``detail`` says what was found (English), ``detail_ja`` the same in Japanese;
    ``value`` is the offending value where there is one (a template version).
    ``str(problem)`` is the Japanese message, :meth:`message` gives either language.
    """

    def __init__(self, code: str, detail: str = "", *, detail_ja: str | None = None,
                 value: object = None):
        if code not in ISSUE_TYPES or ISSUE_TYPES[code].scope != "file":
            raise ValueError(f"{code!r} is not a file-level issue code")
        self.code = code
        self.detail = detail
        self.detail_ja = detail if detail_ja is None else detail_ja
        self.value = value
        super().__init__(self.message("ja"))

    @property
    def params(self) -> dict:
        return {"detail": {"ja": self.detail_ja, "en": self.detail}}

    def message(self, lang: str = "ja") -> str:
        return self.to_issue().message(lang)

    def to_issue(self, file: str | None = None) -> Issue:
        """The one file-level :class:`~xltools.spec.issues.Issue` for this problem."""
        return Issue(self.code, file=file, raw=self.value, params=self.params)


def _problem(code: str, en: str, ja: str, value: object = None) -> FileProblem:
    return FileProblem(code, en, detail_ja=ja, value=value)


# -- limits ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """Size bounds for untrusted files (the first three come from ``[thresholds]``)."""

    max_file_mb: float = Thresholds.max_file_mb
    max_uncompressed_mb: float = Thresholds.max_uncompressed_mb
    max_sheet_rows: int = Thresholds.max_sheet_rows
    #: rows x columns of a worksheet's used area (python-calamine materialises it densely)
    max_sheet_cells: int = 4_000_000
    #: uncompressed : compressed, for members of at least ``ratio_min_bytes``
    max_ratio: float = 200.0
    ratio_min_bytes: int = _MB
    max_members: int = 10_000
    #: far-away cells of a sheet read by xltools itself (and reported as stray values)
    #: rather than refusing the sheet as too large
    max_far_cells: int = 1_000

    @classmethod
    def from_settings(cls, settings: Settings | Thresholds) -> "Limits":
        th = settings.thresholds if isinstance(settings, Settings) else settings
        return cls(max_file_mb=th.max_file_mb, max_uncompressed_mb=th.max_uncompressed_mb,
                   max_sheet_rows=th.max_sheet_rows)


# -- the checked package -------------------------------------------------------------------

@dataclass(frozen=True)
class SheetPart:
    """A sheet of the workbook as listed in workbook.xml."""

    name: str
    state: str  # visible | hidden | veryHidden
    part: str | None  # zip member of the worksheet, None for chart sheets and the like
    kind: str  # relationship type suffix: worksheet, chartsheet, dialogsheet, ...


@dataclass
class Package:
    """A workbook file that passed every check: its bytes and its XML parts."""

    path: str
    data: bytes  # the whole file as it was checked (hand reader_data() to parsers, not the path)
    parts: dict[str, bytes]  # decompressed XML parts (member name -> bytes)
    workbook_part: str
    workbook: Element  # parsed xl/workbook.xml
    sheets: list[SheetPart] = field(default_factory=list)
    #: worksheet part -> cells decoded by the checks instead of python-calamine:
    #: far-away cells and error values, (row, col) -> value
    cells: dict[str, dict[tuple[int, int], Any]] = field(default_factory=dict)
    #: part -> the XML python-calamine reads instead of the original
    reader_parts: dict[str, bytes] = field(default_factory=dict)
    #: part -> its relationships, parsed once
    _rels: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict, repr=False)

    def reader_data(self, replace: dict[str, bytes] | None = None) -> bytes:
        """The file for python-calamine: the checked bytes, or -- when parts must be
        read in another form -- a package of the XML parts with those replaced."""
        replace = {**self.reader_parts, **(replace or {})}
        if not replace:
            return self.data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for name, data in self.parts.items():
                z.writestr(name, replace.get(name, data))
        return out.getvalue()

    def xml(self, name: str) -> Element:
        if name not in self.parts:
            raise _problem("E-FILE-UNREADABLE", f"part {name} is missing",
                           f"パーツ {name} がありません")
        return _parse_checked(self.parts[name], name)

    def rels(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type suffix, target member) of ``part``'s relationships (parsed once)."""
        found = self._rels.get(part)
        if found is None:
            found = self._rels[part] = _rels(self.parts, part)
        return found


def parse_xml(data: bytes, name: str = "") -> Element:
    """Parse an XML part with defusedxml: DTDs and entities are refused."""
    try:
        return _defused_fromstring(data, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)
    except DefusedXmlException as e:
        raise _problem("E-FILE-UNSAFE", f"{name}: {type(e).__name__}",
                       f"{name}：{type(e).__name__}") from None
    except (ParseError, ValueError, UnicodeError) as e:
        raise _problem("E-FILE-UNREADABLE", f"{name}: invalid XML ({e})",
                       f"{name}：XML が壊れています（{e}）") from None


def _parse_checked(data: bytes, name: str) -> Element:
    """Parse a part that passed :func:`_check_xml` (expat, namespaces bound, no DOCTYPE and
    so no entity declared): ElementTree's own expat parser in C reads it as defusedxml
    would, without its Python handlers.  Legacy VML drawings were only checked for
    declarations, so they still go through :func:`parse_xml`."""
    if name.lower().endswith(".vml"):
        return parse_xml(data, name)
    parser = XMLParser()
    try:
        parser.feed(data)
        return parser.close()
    except (ParseError, ValueError, UnicodeError) as e:
        raise _problem("E-FILE-UNREADABLE", f"{name}: invalid XML ({e})",
                       f"{name}：XML が壊れています（{e}）") from None


def local(tag: str) -> str:
    """'{ns}name' -> 'name'."""
    return tag.rsplit("}", 1)[-1]


def attr(el: Element, name: str, default: str | None = None) -> str | None:
    """An attribute by local name, whatever its namespace (transitional or strict OOXML)."""
    if name in el.attrib:
        return el.attrib[name]
    for k, v in el.attrib.items():
        if local(k) == name:
            return v
    return default


def rel_id(el: Element) -> str | None:
    """The ``r:id`` attribute (relationships namespace, transitional or strict)."""
    for k, v in el.attrib.items():
        if k.startswith("{") and local(k) == "id" and "relationships" in k:
            return v
    return None


def _rels_name(part: str) -> str:
    d, base = posixpath.split(part)
    return posixpath.join(d, "_rels", base + ".rels")


def _rels(parts: dict[str, bytes], part: str) -> list[tuple[str, str, str]]:
    name = _rels_name(part)
    if name not in parts:
        return []
    out = []
    base = posixpath.dirname(part)
    for r in _parse_checked(parts[name], name):
        if local(r.tag) != "Relationship" or attr(r, "TargetMode") == "External":
            continue
        target = attr(r, "Target") or ""
        target = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
        out.append((attr(r, "Id") or "", (attr(r, "Type") or "").rsplit("/", 1)[-1],
                    posixpath.normpath(target)))
    return out


# -- checks ---------------------------------------------------------------------------------

def check_file(path: str | os.PathLike, limits: Limits | None = None) -> None:
    """Raise :class:`FileProblem` unless ``path`` is a workbook that is safe to parse."""
    open_package(path, limits)


def open_package(path: str | os.PathLike, limits: Limits | None = None) -> Package:
    """Run every check of this module and return the checked :class:`Package`."""
    limits = limits or Limits()
    p = Path(path)
    if p.name.startswith("~$"):
        raise _problem("E-FILE-LOCK", p.name, p.name)
    data = _read_bounded(p, limits)
    return _check_package(str(p), data, limits)


def _check_package(path: str, data: bytes, limits: Limits) -> Package:
    head = data[:8]
    if head.startswith(_CFB_MAGIC):
        raise _cfb_problem(data)
    if not head.startswith(_ZIP_MAGICS):
        raise _not_zip(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as e:  # zipfile raises many kinds on damaged directories (IndexError, ...)
        raise _problem("E-FILE-UNREADABLE", f"damaged or truncated zip ({e})",
                       f"ZIP が壊れているか途中で切れています（{e}）") from None
    _check_directory(infos, limits)
    names = {i.filename for i in infos}
    _check_kind(names, data, infos)
    parts: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        content = _inflate(data, info)
        if _is_xml_part(info.filename, content):
            _check_xml(info.filename, content)
            parts[info.filename] = content
    types = _content_types(parts)
    wb_part = _workbook_part(parts, types)
    workbook = _parse_checked(parts[wb_part], wb_part)
    pkg = Package(path=path, data=data, parts=parts, workbook_part=wb_part, workbook=workbook)
    pkg.sheets = _sheet_parts(pkg, types)
    _check_layout(pkg)
    strings = _SharedStrings(pkg)
    for sheet in pkg.sheets:
        if sheet.part is not None:
            if _is_utf16(parts[sheet.part]):  # the scans (and python-calamine) read UTF-8
                parts[sheet.part] = pkg.reader_parts[sheet.part] = _to_utf8(parts[sheet.part])
            scan = check_sheet_size(parts[sheet.part], sheet.name, limits, strings)
            if scan.cells:
                pkg.cells[sheet.part] = scan.cells
            if scan.reader_xml is not None:
                pkg.reader_parts[sheet.part] = scan.reader_xml
    _drop_lying_string_count(pkg)
    return pkg


def _read_bounded(p: Path, limits: Limits) -> bytes:
    try:
        # O_NONBLOCK: a FIFO put in the file's place after the check never blocks the run
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise not_a_file(p, e) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_a_file(p, mode=st.st_mode)
        max_bytes = int(limits.max_file_mb * _MB)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise _problem("E-FILE-UNREADABLE", e.strerror or str(e), e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we looked
        raise _too_large(len(data), max_bytes)
    if not data:
        raise _problem("E-FILE-UNREADABLE", "empty file (0 bytes)", "空のファイルです（0 バイト）")
    return data


#: what a path that is not a regular file is, for E-FILE-UNREADABLE (en, ja)
_NOT_A_FILE = {
    "dir": ("a folder, not a file", "ファイルではなくフォルダです"),
    "fifo": ("a named pipe (FIFO), not a file", "名前付きパイプ（FIFO）で、ファイルではありません"),
    "socket": ("a socket, not a file", "ソケットで、ファイルではありません"),
    "device": ("a device, not a file", "デバイスで、ファイルではありません"),
    "other": ("not a regular file", "通常のファイルではありません"),
    "missing": ("no such file", "ファイルがありません"),
    "broken-link": ("a broken symbolic link (its target does not exist)",
                    "リンク切れのシンボリックリンクです（リンク先がありません）"),
    "link-loop": ("a symbolic link loop", "循環しているシンボリックリンクです"),
    "denied": ("permission denied", "読み取り権限がありません"),
}


def path_kind(p: Path, error: OSError | None = None, mode: int | None = None) -> str:
    """What ``p`` is when it is not a readable regular file: a key of ``_NOT_A_FILE``."""
    import errno

    if error is not None:
        if error.errno == errno.ELOOP:
            return "link-loop"
        if error.errno == errno.ENOENT:
            return "broken-link" if p.is_symlink() else "missing"
        if error.errno in (errno.EACCES, errno.EPERM):
            return "denied"
    if mode is None:
        try:
            mode = p.stat().st_mode
        except OSError:
            return "other"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def not_a_file(p: Path, error: OSError | None = None, mode: int | None = None,
               kind: str | None = None) -> FileProblem:
    """The E-FILE-UNREADABLE problem of a path that is not a readable regular file
    (``kind``: what :func:`path_kind` said it is, else found out here)."""
    kind = kind or path_kind(p, error, mode)
    en, ja = _NOT_A_FILE.get(kind, _NOT_A_FILE["other"])
    if kind == "other" and error is not None:
        en = ja = error.strerror or str(error)
    return _problem("E-FILE-UNREADABLE", en, ja)


def _mb(n: float) -> str:
    return f"{n / _MB:,.1f} MB"


def _too_large(size: int, limit: int) -> FileProblem:
    return _problem("E-FILE-TOO-LARGE", f"{_mb(size)} > {_mb(limit)}",
                    f"{_mb(size)}（上限 {_mb(limit)}）")


_ENCRYPTION_INFO = ("EncryptionInfo".encode("utf-16-le"), b"EncryptionInfo")


def _cfb_problem(data: bytes) -> FileProblem:
    """An OLE2/CFB file: a password-protected .xlsx (EncryptionInfo stream) or a legacy file."""
    if any(marker in data for marker in _ENCRYPTION_INFO):
        return _problem("E-FILE-ENCRYPTED", "encrypted workbook (EncryptionInfo)",
                        "暗号化されたブック（EncryptionInfo）")
    return _problem("E-FILE-FORMAT", "Excel 97-2003 .xls or another OLE2 compound file",
                    "Excel 97-2003 形式（.xls）などの OLE2 ファイル")


def _not_zip(data: bytes) -> FileProblem:
    sample = data[:4096]
    text = None
    for enc in ("utf-8", "utf-16", "cp932"):
        try:
            text = sample.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is not None and text.lstrip("\ufeff").lstrip().lower().startswith(("<html", "<!doctype html", "<?xml")):
        return _problem("E-FILE-UNREADABLE", "HTML/XML text, not an .xlsx workbook",
                        "HTML/XML のテキストで、.xlsx ブックではありません")
    if text is not None and "\x00" not in text:
        return _problem("E-FILE-UNREADABLE", "a text file (CSV?), not an .xlsx workbook",
                        "テキストファイル（CSV など）で、.xlsx ブックではありません")
    return _problem("E-FILE-UNREADABLE", "not a zip archive", "ZIP 形式ではありません")


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_members:
        raise _problem("E-FILE-UNSAFE", f"{len(infos):,} zip members > {limits.max_members:,}",
                       f"ZIP のメンバー数 {len(infos):,}（上限 {limits.max_members:,}）")
    seen: set[str] = set()
    total = 0
    max_total = int(limits.max_uncompressed_mb * _MB)
    for info in infos:
        if info.filename in seen:
            raise _problem("E-FILE-UNSAFE", f"duplicate zip member {info.filename}",
                           f"ZIP メンバー {info.filename} が重複しています")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise _problem("E-FILE-ENCRYPTED", f"encrypted zip member {info.filename}",
                           f"暗号化された ZIP メンバー {info.filename}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _problem("E-FILE-UNREADABLE",
                           f"{info.filename}: unsupported compression method {info.compress_type}",
                           f"{info.filename}：未対応の圧縮方式 {info.compress_type}")
        total += info.file_size
        if total > max_total:
            raise _problem("E-FILE-TOO-LARGE", f"uncompressed content > {_mb(max_total)}",
                           f"展開後のサイズが上限 {_mb(max_total)} を超えます")
        if info.file_size >= limits.ratio_min_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise _problem("E-FILE-TOO-LARGE",
                               f"{info.filename}: compression ratio {ratio:,.0f}:1 > {limits.max_ratio:,.0f}:1",
                               f"{info.filename}：圧縮率 {ratio:,.0f}:1（上限 {limits.max_ratio:,.0f}:1）")


def _check_kind(names: set[str], data: bytes, infos: list[zipfile.ZipInfo]) -> None:
    """Name the format of a zip that is not an .xlsx/.xlsm workbook."""
    if "xl/workbook.bin" in names:
        raise _problem("E-FILE-FORMAT", "Excel binary workbook (.xlsb)", "Excel バイナリブック（.xlsb）")
    if "mimetype" in names and b"opendocument" in data[:200]:
        raise _problem("E-FILE-FORMAT", "OpenDocument file (.ods)", "OpenDocument 形式（.ods）")
    if "word/document.xml" in names:
        raise _problem("E-FILE-FORMAT", "Word document (.docx)", "Word 文書（.docx）")
    if "ppt/presentation.xml" in names:
        raise _problem("E-FILE-FORMAT", "PowerPoint file (.pptx)", "PowerPoint ファイル（.pptx）")
    if "_rels/.rels" not in names and "xl/workbook.xml" not in names:
        raise _problem("E-FILE-UNREADABLE", "a zip archive without a workbook",
                       "ブックを含まない ZIP ファイルです")


def _inflate(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's content, decompressed with a hard bound at its declared size."""
    name = info.filename
    off = info.header_offset
    try:
        sig, *_, n_len, x_len = _LOCAL_HEADER.unpack_from(data, off)
    except struct.error:
        sig = b""
    if sig != b"PK\x03\x04":
        raise _problem("E-FILE-UNREADABLE", f"{name}: bad local header", f"{name}：ローカルヘッダーが壊れています")
    start = off + _LOCAL_HEADER.size + n_len + x_len
    raw = data[start:start + info.compress_size]
    if len(raw) != info.compress_size:
        raise _problem("E-FILE-UNREADABLE", f"{name}: truncated", f"{name}：途中で切れています")
    declared = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        out = raw
        if len(out) != declared:
            raise _lying(name)
    else:
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        chunks, total, buf = [], 0, raw
        try:
            while True:
                piece = d.decompress(buf, _CHUNK)
                total += len(piece)
                if total > declared:
                    raise _lying(name)
                chunks.append(piece)
                buf = d.unconsumed_tail
                if d.eof:
                    break
                if not buf and not piece:
                    raise _problem("E-FILE-UNREADABLE", f"{name}: truncated data",
                                   f"{name}：データが途中で切れています")
        except zlib.error as e:
            raise _problem("E-FILE-UNREADABLE", f"{name}: damaged data ({e})",
                           f"{name}：データが壊れています（{e}）") from None
        out = b"".join(chunks)
        if total != declared:
            raise _lying(name)
    if zlib.crc32(out) != info.CRC:
        raise _problem("E-FILE-UNREADABLE", f"{name}: CRC mismatch", f"{name}：CRC が一致しません")
    return out


def _lying(name: str) -> FileProblem:
    return _problem("E-FILE-UNSAFE", f"{name}: real size differs from the zip header",
                    f"{name}：実サイズが ZIP ヘッダーの記載と異なります")


_XML_EXT = (".xml", ".rels", ".vml")
_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _is_xml_part(name: str, content: bytes) -> bool:
    if name.lower().endswith(_XML_EXT) or name == "[Content_Types].xml":
        return True
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<?xml") or head.startswith((b"\xff\xfe", b"\xfe\xff"))


class _Declaration(Exception):
    pass


def _declaration(*_: object) -> None:
    raise _Declaration()


def _check_xml(name: str, content: bytes) -> None:
    """Well-formed XML (expat, namespace prefixes bound) without a DOCTYPE: a DTD is
    refused where expat meets it, before anything in it is read.  Legacy VML
    drawings are not strict XML (Excel writes HTML-like tags there): their DTDs are
    refused, nothing else is asked of them."""
    if name.lower().endswith(".vml"):
        _refuse_dtd(name, content)
        return
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _declaration
    parser.EntityDeclHandler = _declaration
    try:
        parser.Parse(content, True)
    except _Declaration:
        raise _problem("E-FILE-UNSAFE", f"{name}: XML DOCTYPE declaration",
                       f"{name}：XML の DOCTYPE 宣言") from None
    except (expat.ExpatError, ValueError) as e:
        where = f"line {e.lineno}, column {e.offset}: " if isinstance(e, expat.ExpatError) else ""
        what = expat.ErrorString(e.code) if isinstance(e, expat.ExpatError) else str(e)
        raise _problem("E-FILE-UNREADABLE", f"{name}: not well-formed XML ({where}{what})",
                       f"{name}：XML が壊れています（{where}{what}）") from None


def _is_utf16(content: bytes) -> bool:
    return content[:2] in (b"\xff\xfe", b"\xfe\xff") or content[:2] in (b"<\x00", b"\x00<")


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _to_utf8(content: bytes) -> bytes:
    """A UTF-16 part as UTF-8 (the same document; its declaration says so)."""
    enc = "utf-16" if content[:2] in (b"\xff\xfe", b"\xfe\xff") else (
        "utf-16-le" if content[:1] == b"<" else "utf-16-be")
    text = content.decode(enc, errors="replace").lstrip("\ufeff").encode("utf-8")
    return _XML_DECL.sub(b'<?xml version="1.0" encoding="UTF-8"?>', text, count=1)


def _refuse_dtd(name: str, content: bytes) -> None:
    """Refuse DOCTYPE/ENTITY declarations in any XML part (in UTF-8, UTF-16 or UTF-32)."""
    text = content
    head = content[:4]
    enc = None
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) or head in (b"<\x00\x00\x00", b"\x00\x00\x00<"):
        enc = "utf-32"
        if head in (b"<\x00\x00\x00",):
            enc = "utf-32-le"
        elif head == b"\x00\x00\x00<":
            enc = "utf-32-be"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    elif head.startswith(b"<\x00"):
        enc = "utf-16-le"
    elif head.startswith(b"\x00<"):
        enc = "utf-16-be"
    if enc:
        text = content.decode(enc, errors="replace").encode("utf-8")
    m = _DTD_RE.search(text)
    if m:
        kind = m.group(1).decode().upper()
        raise _problem("E-FILE-UNSAFE", f"{name}: XML {kind} declaration",
                       f"{name}：XML の {kind} 宣言")


# -- the package as Excel judges it ---------------------------------------------------------

def _unreadable(en: str, ja: str) -> FileProblem:
    return _problem("E-FILE-UNREADABLE", en, ja)


class _ContentTypes:
    """``[Content_Types].xml``: the content type of a part (Override, else Default)."""

    def __init__(self, root: Element):
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        for el in root:
            if local(el.tag) == "Default":
                self.defaults[(attr(el, "Extension") or "").lower()] = attr(el, "ContentType") or ""
            elif local(el.tag) == "Override":
                self.overrides[(attr(el, "PartName") or "").lstrip("/").lower()] = attr(el, "ContentType") or ""

    def of(self, part: str) -> str | None:
        found = self.overrides.get(part.lower())
        if found is None:
            found = self.defaults.get(posixpath.splitext(part)[1].lstrip(".").lower())
        return found or None


def _content_types(parts: dict[str, bytes]) -> _ContentTypes:
    if CONTENT_TYPES not in parts:
        raise _unreadable(f"no {CONTENT_TYPES}: not a valid Office package",
                          f"{CONTENT_TYPES} がありません（正しい Office ファイルではありません）")
    root = _parse_checked(parts[CONTENT_TYPES], CONTENT_TYPES)
    if local(root.tag) != "Types":
        raise _unreadable(f"{CONTENT_TYPES}: not a content type list", f"{CONTENT_TYPES}：内容が正しくありません")
    return _ContentTypes(root)


def _workbook_part(parts: dict[str, bytes], types: _ContentTypes) -> str:
    if "_rels/.rels" not in parts:
        raise _unreadable("no package relationships (_rels/.rels)", "パッケージのリレーションシップ（_rels/.rels）がありません")
    targets = [target for _, kind, target in _rels(parts, "") if kind == REL_OFFICE_DOCUMENT]
    if not targets:
        raise _unreadable("_rels/.rels names no workbook part", "_rels/.rels にブック本体の指定がありません")
    part = targets[0]
    if part not in parts:
        raise _unreadable(f"the workbook part {part} is missing", f"ブック本体 {part} がありません")
    ctype = types.of(part)
    if ctype is None:
        raise _unreadable(f"{part} has no content type in {CONTENT_TYPES}",
                          f"{part} の種類が {CONTENT_TYPES} にありません")
    if ctype in WORKBOOK_TYPES:
        return part
    if ctype.endswith(".main+xml"):  # another Office document (Word, PowerPoint...)
        raise _problem("E-FILE-FORMAT", f"{part} is {ctype}, not an Excel workbook",
                       f"{part} は {ctype} で、Excel ブックではありません")
    raise _unreadable(f"{part} is not declared as a workbook in {CONTENT_TYPES} ({ctype})",
                      f"{part} が {CONTENT_TYPES} でブックとして宣言されていません（{ctype}）")


def _sheet_parts(pkg: Package, types: _ContentTypes) -> list[SheetPart]:
    rels_part = _rels_name(pkg.workbook_part)
    if rels_part not in pkg.parts:
        raise _unreadable(f"no relationships of the workbook ({rels_part})",
                          f"ブックのリレーションシップ（{rels_part}）がありません")
    targets = {rid: (kind, target) for rid, kind, target in pkg.rels(pkg.workbook_part)}
    out: list[SheetPart] = []
    seen: set[str] = set()
    for el in pkg.workbook.iter():
        if local(el.tag) != "sheet":
            continue
        name, rid, state = attr(el, "name") or "", rel_id(el), attr(el, "state") or "visible"
        if not name.strip() or name.casefold() in seen:
            raise _unreadable(f"sheet name {name!r} is empty or used twice",
                              f"シート名 {name!r} が空か重複しています")
        seen.add(name.casefold())
        if state not in SHEET_STATES:
            raise _unreadable(f"sheet {name}: unknown state {state!r}", f"シート {name}：不明な表示状態 {state!r}")
        if rid not in targets:
            raise _unreadable(f"sheet {name}: relationship {rid or '-'} is missing",
                              f"シート {name}：リレーションシップ {rid or '-'} がありません")
        kind, target = targets[rid]
        if kind not in SHEET_KINDS:
            raise _unreadable(f"sheet {name}: unsupported sheet kind {kind!r}",
                              f"シート {name}：対応していないシートの種類 {kind!r}")
        if kind == REL_WORKSHEET:
            if target not in pkg.parts:
                raise _unreadable(f"sheet {name}: part {target} is missing", f"シート {name}：パーツ {target} がありません")
            if types.of(target) is None:
                raise _unreadable(f"sheet {name}: {target} has no content type in {CONTENT_TYPES}",
                                  f"シート {name}：{target} の種類が {CONTENT_TYPES} にありません")
        out.append(SheetPart(name=name, state=state, part=target if kind == REL_WORKSHEET else None, kind=kind))
    if not out:
        raise _unreadable("the workbook has no sheet", "ブックにシートがありません")
    return out


def _check_layout(pkg: Package) -> None:
    """python-calamine finds the workbook, shared strings and styles by name, next to each
    other, whatever the relationships say: refuse a layout it would read differently."""
    folder = posixpath.dirname(pkg.workbook_part)
    expected = {REL_OFFICE_DOCUMENT: "workbook.xml", REL_SHARED_STRINGS: "sharedStrings.xml", REL_STYLES: "styles.xml"}
    found = {REL_OFFICE_DOCUMENT: pkg.workbook_part}
    for _, kind, target in pkg.rels(pkg.workbook_part):
        if kind in (REL_SHARED_STRINGS, REL_STYLES):
            found.setdefault(kind, target)
    for kind, target in found.items():
        if target != posixpath.join(folder, expected[kind]):
            raise _problem("E-FILE-FORMAT", f"unusual package layout ({target}); open it in Excel and save it again",
                           f"パッケージの構成が標準と異なります（{target}）。Excel で開いて保存し直してください")
    sst = posixpath.join(folder, expected[REL_SHARED_STRINGS])
    if REL_SHARED_STRINGS not in found and sst in pkg.parts:  # Excel ignores it; python-calamine would not
        pkg.reader_parts[sst] = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'


def _shared_strings_part(pkg: Package) -> str | None:
    for _, kind, target in pkg.rels(pkg.workbook_part):
        if kind == REL_SHARED_STRINGS and target in pkg.parts:
            return target
    return None


class _SharedStrings:
    """The shared strings of a package, parsed when a far cell first needs one."""

    def __init__(self, pkg: Package):
        self.pkg, self.strings = pkg, None

    def __call__(self) -> list[str]:
        if self.strings is None:
            part = _shared_strings_part(self.pkg)
            self.strings = []
            if part is not None:
                for si in _parse_checked(self.pkg.parts[part], part):
                    if local(si.tag) == "si":
                        self.strings.append("".join(_item_texts(si)))
        return self.strings


def _item_texts(el: Element):
    for child in el:
        name = local(child.tag)
        if name == "t":
            yield child.text or ""
        elif name == "r":
            yield from _item_texts(child)


_UNIQUE_COUNT = re.compile(rb"(<(?:[A-Za-z_][\w.-]*:)?sst\b[^>]*?)\suniqueCount\s*=\s*[\"'](\d+)[\"']")
_MIN_ITEM_BYTES = 8  # <si><t/> -- the smallest shared string item


def _drop_lying_string_count(pkg: Package) -> None:
    """python-calamine reserves memory for the table's declared ``uniqueCount``
    up front: a count more items than the part could hold is dropped from its copy."""
    part = _shared_strings_part(pkg)
    if part is None:
        return
    data = pkg.reader_parts.get(part, pkg.parts[part])
    limit = len(data) // _MIN_ITEM_BYTES + 1
    while (m := _UNIQUE_COUNT.search(data)) and int(m.group(2)) > limit:
        data = data[:m.start()] + m.group(1) + data[m.end():]
        pkg.reader_parts[part] = data


# -- worksheets, on the raw XML (xltools.workbook.sheetscan) -------------------------------------------

def check_sheet_size(xml: bytes, sheet: str, limits: Limits, shared_strings=None) -> SheetScan:
    """Scan a worksheet part (:func:`xltools.workbook.sheetscan.scan_worksheet`): its references,
    cell container and size; far-away cells and error values are in the result.
    Raises ``E-FILE-UNREADABLE`` (damaged) or ``E-SHEET-TOO-LARGE``."""
    try:
        return scan_worksheet(xml, sheet, max_rows=limits.max_sheet_rows, max_cells=limits.max_sheet_cells,
                              max_far=limits.max_far_cells, shared_strings=shared_strings or (lambda: []))
    except SheetXmlError as e:
        code = "E-SHEET-TOO-LARGE" if e.kind == "too-large" else "E-FILE-UNREADABLE"
        raise _problem(code, e.en, e.ja, value=e.value) from None
