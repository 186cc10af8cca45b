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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar
from xml.etree.ElementTree import Element, ParseError, XMLParser

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

from xltools.workbook.sheetscan import SheetScan, SheetXmlError, scan_worksheet
from xltools.workbook.zipsafety import (
    _CFB_MAGIC,
    _ZIP_MAGICS,
    FileProblem,
    Limits,
    _cfb_problem,
    _check_directory,
    _check_kind,
    _check_xml,
    _inflate,
    _is_utf16,
    _is_xml_part,
    _not_zip,
    _read_bounded,
    _to_utf8,
    file_problem,
    not_a_file,
    path_kind,
)

__all__ = ["FileProblem", "Limits", "Package", "SheetPart", "check_file", "open_package", "check_sheet_size",
           "parse_xml", "not_a_file", "path_kind"]

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
    #: worksheet part -> its formula cells, where the size scan found them (the others:
    #: :func:`xltools.workbook.cellscan.formula_cells`)
    formulas: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
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
            raise file_problem("E-FILE-UNREADABLE", f"part {name} is missing",
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
        raise file_problem("E-FILE-UNSAFE", f"{name}: {type(e).__name__}",
                       f"{name}：{type(e).__name__}") from None
    except (ParseError, ValueError, UnicodeError) as e:
        raise file_problem("E-FILE-UNREADABLE", f"{name}: invalid XML ({e})",
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
        raise file_problem("E-FILE-UNREADABLE", f"{name}: invalid XML ({e})",
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


#: what a part of a given content (and place) parses to, for the parts that workbooks made from
#: one template share (relationships, content types): each is parsed once
_PARSED: dict[tuple[str, str, bytes], Any] = {}
_T = TypeVar("_T")


def _memo(kind: str, where: str, data: bytes, parse: Callable[[], _T]) -> _T:
    key = (kind, where, data)
    if key in _PARSED:
        found: _T = _PARSED[key]
        return found
    if len(_PARSED) >= 256:
        _PARSED.clear()
    made = _PARSED[key] = parse()
    return made


def _rels(parts: dict[str, bytes], part: str) -> list[tuple[str, str, str]]:
    name = _rels_name(part)
    if name not in parts:
        return []
    return list(_memo("rels", part, parts[name], lambda: tuple(_parse_rels(parts[name], name, part))))


def _parse_rels(data: bytes, name: str, part: str) -> list[tuple[str, str, str]]:
    out = []
    base = posixpath.dirname(part)
    for r in _parse_checked(data, name):
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
        raise file_problem("E-FILE-LOCK", p.name, p.name)
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
        raise file_problem("E-FILE-UNREADABLE", f"damaged or truncated zip ({e})",
                       f"ZIP が壊れているか途中で切れています（{e}）") from None
    _check_directory(infos, limits)
    names = {i.filename for i in infos}
    _check_kind(names, data, infos)
    parts: dict[str, bytes] = {}
    markup_only: set[str] = set()
    for info in infos:
        if info.is_dir():
            continue
        content = _inflate(data, info)
        if _is_xml_part(info.filename, content):
            if _check_xml(info.filename, content):
                markup_only.add(info.filename)
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
            scan = check_sheet_size(parts[sheet.part], sheet.name, limits, strings,
                                    markup_only=sheet.part in markup_only)
            if scan.cells:
                pkg.cells[sheet.part] = scan.cells
            if scan.reader_xml is not None:
                pkg.reader_parts[sheet.part] = scan.reader_xml
            if scan.formulas is not None:
                pkg.formulas[sheet.part] = scan.formulas
    _drop_lying_string_count(pkg)
    return pkg


# -- the package as Excel judges it ---------------------------------------------------------

def _unreadable(en: str, ja: str) -> FileProblem:
    return file_problem("E-FILE-UNREADABLE", en, ja)


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
    return _memo("types", "", parts[CONTENT_TYPES], lambda: _parse_content_types(parts[CONTENT_TYPES]))


def _parse_content_types(data: bytes) -> _ContentTypes:
    root = _parse_checked(data, CONTENT_TYPES)
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
        raise file_problem("E-FILE-FORMAT", f"{part} is {ctype}, not an Excel workbook",
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
            raise file_problem("E-FILE-FORMAT", f"unusual package layout ({target}); open it in Excel and save it again",
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

def check_sheet_size(xml: bytes, sheet: str, limits: Limits, shared_strings=None, *,
                     markup_only: bool = False) -> SheetScan:
    """Scan a worksheet part (:func:`xltools.workbook.sheetscan.scan_worksheet`): its references,
    cell container and size; far-away cells and error values are in the result (and, for a
    part the XML check found ``markup_only``, its formula cells).
    Raises ``E-FILE-UNREADABLE`` (damaged) or ``E-SHEET-TOO-LARGE``."""
    try:
        return scan_worksheet(xml, sheet, max_rows=limits.max_sheet_rows, max_cells=limits.max_sheet_cells,
                              max_far=limits.max_far_cells, shared_strings=shared_strings or (lambda: []),
                              markup_only=markup_only)
    except SheetXmlError as e:
        code = "E-SHEET-TOO-LARGE" if e.kind == "too-large" else "E-FILE-UNREADABLE"
        raise file_problem(code, e.en, e.ja, value=e.value) from None
