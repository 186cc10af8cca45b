"""The file and its zip container, checked before anything parses them
(:func:`xltools.workbook.safety.open_package` runs these checks, then those of the package).

* ``_read_bounded``: a regular file (never a FIFO, device or folder), at most
  ``max_file_mb``, read once into memory;
* ``_cfb_problem`` / ``_not_zip`` / ``_check_kind``: an OLE2 file (legacy ``.xls``, a
  password-protected workbook), text renamed to .xlsx, another zip format;
* ``_check_directory``: the zip directory (member count, duplicate names, encryption,
  compression method, declared sizes and compression ratios);
* ``_inflate``: each member decompressed with a hard bound at its declared size, its
  CRC checked;
* ``_check_xml`` / ``_refuse_dtd``: each XML part well-formed (expat, namespaces)
  without a DOCTYPE or entity declaration.

The problems found are :class:`FileProblem` (one file-level issue each); the size
bounds are :class:`Limits`.  Both are importable from :mod:`xltools.workbook.safety` too.
"""
from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from xltools.errors import XltoolsError
from xltools.spec.config import Settings, Thresholds
from xltools.spec.issues import ISSUE_TYPES, Issue

_MB = 1024 * 1024
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CHUNK = 1 << 20
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


def file_problem(code: str, en: str, ja: str, value: object = None) -> FileProblem:
    """A :class:`FileProblem` of issue ``code`` with its English and Japanese detail."""
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
        raise file_problem("E-FILE-UNREADABLE", e.strerror or str(e), e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we looked
        raise _too_large(len(data), max_bytes)
    if not data:
        raise file_problem("E-FILE-UNREADABLE", "empty file (0 bytes)", "空のファイルです（0 バイト）")
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
    return file_problem("E-FILE-UNREADABLE", en, ja)


def _mb(n: float) -> str:
    return f"{n / _MB:,.1f} MB"


def _too_large(size: int, limit: int) -> FileProblem:
    return file_problem("E-FILE-TOO-LARGE", f"{_mb(size)} > {_mb(limit)}",
                    f"{_mb(size)}（上限 {_mb(limit)}）")


_ENCRYPTION_INFO = ("EncryptionInfo".encode("utf-16-le"), b"EncryptionInfo")


def _cfb_problem(data: bytes) -> FileProblem:
    """An OLE2/CFB file: a password-protected .xlsx (EncryptionInfo stream) or a legacy file."""
    if any(marker in data for marker in _ENCRYPTION_INFO):
        return file_problem("E-FILE-ENCRYPTED", "encrypted workbook (EncryptionInfo)",
                        "暗号化されたブック（EncryptionInfo）")
    return file_problem("E-FILE-FORMAT", "Excel 97-2003 .xls or another OLE2 compound file",
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
        return file_problem("E-FILE-UNREADABLE", "HTML/XML text, not an .xlsx workbook",
                        "HTML/XML のテキストで、.xlsx ブックではありません")
    if text is not None and "\x00" not in text:
        return file_problem("E-FILE-UNREADABLE", "a text file (CSV?), not an .xlsx workbook",
                        "テキストファイル（CSV など）で、.xlsx ブックではありません")
    return file_problem("E-FILE-UNREADABLE", "not a zip archive", "ZIP 形式ではありません")


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_members:
        raise file_problem("E-FILE-UNSAFE", f"{len(infos):,} zip members > {limits.max_members:,}",
                       f"ZIP のメンバー数 {len(infos):,}（上限 {limits.max_members:,}）")
    seen: set[str] = set()
    total = 0
    max_total = int(limits.max_uncompressed_mb * _MB)
    for info in infos:
        if info.filename in seen:
            raise file_problem("E-FILE-UNSAFE", f"duplicate zip member {info.filename}",
                           f"ZIP メンバー {info.filename} が重複しています")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise file_problem("E-FILE-ENCRYPTED", f"encrypted zip member {info.filename}",
                           f"暗号化された ZIP メンバー {info.filename}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise file_problem("E-FILE-UNREADABLE",
                           f"{info.filename}: unsupported compression method {info.compress_type}",
                           f"{info.filename}：未対応の圧縮方式 {info.compress_type}")
        total += info.file_size
        if total > max_total:
            raise file_problem("E-FILE-TOO-LARGE", f"uncompressed content > {_mb(max_total)}",
                           f"展開後のサイズが上限 {_mb(max_total)} を超えます")
        if info.file_size >= limits.ratio_min_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise file_problem("E-FILE-TOO-LARGE",
                               f"{info.filename}: compression ratio {ratio:,.0f}:1 > {limits.max_ratio:,.0f}:1",
                               f"{info.filename}：圧縮率 {ratio:,.0f}:1（上限 {limits.max_ratio:,.0f}:1）")


def _check_kind(names: set[str], data: bytes, infos: list[zipfile.ZipInfo]) -> None:
    """Name the format of a zip that is not an .xlsx/.xlsm workbook."""
    if "xl/workbook.bin" in names:
        raise file_problem("E-FILE-FORMAT", "Excel binary workbook (.xlsb)", "Excel バイナリブック（.xlsb）")
    if "mimetype" in names and b"opendocument" in data[:200]:
        raise file_problem("E-FILE-FORMAT", "OpenDocument file (.ods)", "OpenDocument 形式（.ods）")
    if "word/document.xml" in names:
        raise file_problem("E-FILE-FORMAT", "Word document (.docx)", "Word 文書（.docx）")
    if "ppt/presentation.xml" in names:
        raise file_problem("E-FILE-FORMAT", "PowerPoint file (.pptx)", "PowerPoint ファイル（.pptx）")
    if "_rels/.rels" not in names and "xl/workbook.xml" not in names:
        raise file_problem("E-FILE-UNREADABLE", "a zip archive without a workbook",
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
        raise file_problem("E-FILE-UNREADABLE", f"{name}: bad local header", f"{name}：ローカルヘッダーが壊れています")
    start = off + _LOCAL_HEADER.size + n_len + x_len
    raw = data[start:start + info.compress_size]
    if len(raw) != info.compress_size:
        raise file_problem("E-FILE-UNREADABLE", f"{name}: truncated", f"{name}：途中で切れています")
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
                    raise file_problem("E-FILE-UNREADABLE", f"{name}: truncated data",
                                   f"{name}：データが途中で切れています")
        except zlib.error as e:
            raise file_problem("E-FILE-UNREADABLE", f"{name}: damaged data ({e})",
                           f"{name}：データが壊れています（{e}）") from None
        out = b"".join(chunks)
        if total != declared:
            raise _lying(name)
    if zlib.crc32(out) != info.CRC:
        raise file_problem("E-FILE-UNREADABLE", f"{name}: CRC mismatch", f"{name}：CRC が一致しません")
    return out


def _lying(name: str) -> FileProblem:
    return file_problem("E-FILE-UNSAFE", f"{name}: real size differs from the zip header",
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


def _check_xml(name: str, content: bytes) -> bool:
    """Well-formed XML (expat, namespace prefixes bound) without a DOCTYPE: a DTD is
    refused where expat meets it, before anything in it is read.  Legacy VML
    drawings are not strict XML (Excel writes HTML-like tags there): their DTDs are
    refused, nothing else is asked of them.

    Returns whether the part is markup only: no comment, CDATA section or processing
    instruction (after the XML declaration), so every ``<`` in it starts a tag (False
    for VML)."""
    if name.lower().endswith(".vml"):
        _refuse_dtd(name, content)
        return False
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _declaration
    parser.EntityDeclHandler = _declaration
    other: list[bool] = []
    parser.CommentHandler = parser.StartCdataSectionHandler = lambda *_: other.append(True)
    parser.ProcessingInstructionHandler = lambda *_: other.append(True)
    try:
        parser.Parse(content, True)
    except _Declaration:
        raise file_problem("E-FILE-UNSAFE", f"{name}: XML DOCTYPE declaration",
                       f"{name}：XML の DOCTYPE 宣言") from None
    except (expat.ExpatError, ValueError) as e:
        where = f"line {e.lineno}, column {e.offset}: " if isinstance(e, expat.ExpatError) else ""
        what = expat.ErrorString(e.code) if isinstance(e, expat.ExpatError) else str(e)
        raise file_problem("E-FILE-UNREADABLE", f"{name}: not well-formed XML ({where}{what})",
                       f"{name}：XML が壊れています（{where}{what}）") from None
    return not other


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
        raise file_problem("E-FILE-UNSAFE", f"{name}: XML {kind} declaration",
                       f"{name}：XML の {kind} 宣言")
