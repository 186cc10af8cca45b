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
* a worksheet whose dimension, rows or cell area exceed ``max_sheet_rows`` /
  ``max_sheet_cells`` (checked on the raw XML, never materialised)
                                                              → ``E-SHEET-TOO-LARGE``

Every member is decompressed here with a bounded decompressor that stops as soon
as the output would exceed the size the zip declares, so a later parser (the
Rust zip reader inside python-calamine) only ever sees members whose real size is
known and bounded.  Every XML part this package parses goes through defusedxml.

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
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from .cells import col_index, col_letter, parse_range
from .config import Settings, Thresholds
from .errors import XltoolsError
from .issues import ISSUE_TYPES, Issue

_MB = 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CHUNK = 1 << 20

REL_OFFICE_DOCUMENT = "officeDocument"
REL_WORKSHEET = "worksheet"
REL_TABLE = "table"


# -- the file-level problem ---------------------------------------------------------------

class FileProblem(XltoolsError):
    """A file-level problem: the validator turns it into ONE file-level issue.

    ``code`` is a file-scope code of :data:`xltools.issues.ISSUE_TYPES`;
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
        """The one file-level :class:`~xltools.issues.Issue` for this problem."""
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
    data: bytes  # the whole file as it was checked (hand this to parsers, not the path)
    parts: dict[str, bytes]  # decompressed XML parts (member name -> bytes)
    workbook_part: str
    workbook: Element  # parsed xl/workbook.xml
    sheets: list[SheetPart] = field(default_factory=list)

    def xml(self, name: str) -> Element:
        if name not in self.parts:
            raise _problem("E-FILE-UNREADABLE", f"part {name} is missing",
                           f"パーツ {name} がありません")
        return parse_xml(self.parts[name], name)

    def rels(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type suffix, target member) of ``part``'s relationships."""
        return _rels(self.parts, part)


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
    for r in parse_xml(parts[name], name):
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
            _refuse_dtd(info.filename, content)
            parts[info.filename] = content
    wb_part = _workbook_part(parts)
    workbook = parse_xml(parts[wb_part], wb_part)
    pkg = Package(path=str(p), data=data, parts=parts, workbook_part=wb_part, workbook=workbook)
    pkg.sheets = _sheet_parts(pkg)
    for sheet in pkg.sheets:
        if sheet.part is not None and sheet.part in parts:
            check_sheet_size(parts[sheet.part], sheet.name, limits)
    return pkg


def _read_bounded(p: Path, limits: Limits) -> bytes:
    try:
        st = p.stat()
        if not p.is_file():
            raise _problem("E-FILE-UNREADABLE", "not a regular file", "通常のファイルではありません")
        max_bytes = int(limits.max_file_mb * _MB)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes)
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileProblem:
        raise
    except FileNotFoundError:
        raise _problem("E-FILE-UNREADABLE", "no such file", "ファイルがありません") from None
    except OSError as e:
        raise _problem("E-FILE-UNREADABLE", e.strerror or str(e), e.strerror or str(e)) from None
    if len(data) > max_bytes:  # grew while we looked
        raise _too_large(len(data), max_bytes)
    if not data:
        raise _problem("E-FILE-UNREADABLE", "empty file (0 bytes)", "空のファイルです（0 バイト）")
    return data


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


def _workbook_part(parts: dict[str, bytes]) -> str:
    for _, kind, target in _rels(parts, ""):
        if kind == REL_OFFICE_DOCUMENT and target in parts:
            return target
    if "xl/workbook.xml" in parts:
        return "xl/workbook.xml"
    raise _problem("E-FILE-UNREADABLE", "no workbook part in the package",
                   "ブック本体（workbook.xml）がありません")


def _sheet_parts(pkg: Package) -> list[SheetPart]:
    targets = {rid: (kind, target) for rid, kind, target in pkg.rels(pkg.workbook_part)}
    out = []
    for el in pkg.workbook.iter():
        if local(el.tag) != "sheet":
            continue
        kind, target = targets.get(rel_id(el) or "", ("", None))
        out.append(SheetPart(name=attr(el, "name") or "", state=attr(el, "state") or "visible",
                             part=target if kind == REL_WORKSHEET else None, kind=kind))
    return out


# -- worksheet size, on the raw XML ---------------------------------------------------------

_DIMENSION_RE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?ref="([^"]*)"')
_ROW_R_RE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br="(\d+)"')
_ROW_TAG_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_CELL_REF_RE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br="([A-Z]{1,3})(\d+)"')


def check_sheet_size(xml: bytes, sheet: str, limits: Limits) -> None:
    """E-SHEET-TOO-LARGE when a worksheet's dimension, rows or used area exceed the limits."""
    max_rows = limits.max_sheet_rows
    m = _DIMENSION_RE.search(xml)
    if m:
        try:
            r1, c1, r2, c2 = parse_range(m.group(1).decode("ascii", "replace"))
        except ValueError:
            r1 = r2 = 0
        if r2 > max_rows:
            raise _rows_problem(sheet, r2, max_rows, "dimension")
    last_row = max((int(r) for r in _ROW_R_RE.findall(xml)), default=0)
    n_rows = max(last_row, len(_ROW_TAG_RE.findall(xml)))
    if n_rows > max_rows:
        raise _rows_problem(sheet, n_rows, max_rows, "rows")
    refs = set(_CELL_REF_RE.findall(xml))  # distinct (letters, row) pairs, in C
    if refs:
        cols = {c for c, _ in refs}
        rows = [int(r) for r in {r for _, r in refs}]
        min_c = min(col_index(c.decode()) for c in cols)
        max_c = max(col_index(c.decode()) for c in cols)
        area = (max(rows) - min(rows) + 1) * (max_c - min_c + 1)
        if area > limits.max_sheet_cells:
            corner = f"{col_letter(max_c)}{max(rows)}"
            raise _problem("E-SHEET-TOO-LARGE",
                           f"sheet {sheet}: used area up to {corner}, {area:,} cells > {limits.max_sheet_cells:,}",
                           f"シート {sheet}：{corner} までの使用範囲 {area:,} セル（上限 {limits.max_sheet_cells:,}）")


def _rows_problem(sheet: str, rows: int, limit: int, what: str) -> FileProblem:
    return _problem("E-SHEET-TOO-LARGE", f"sheet {sheet}: {rows:,} rows ({what}) > {limit:,}",
                    f"シート {sheet}：{rows:,} 行（上限 {limit:,}）", value=rows)
