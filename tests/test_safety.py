"""The untrusted-file guards: every bad kind of file is one FileProblem with its code,
nothing else escapes, and the input file is never modified."""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xltools.spec.config import Settings, Thresholds
from xltools.spec.issues import ISSUE_TYPES
from xltools.workbook.safety import FileProblem, Limits, check_file, check_sheet_size, open_package

# -- building files -------------------------------------------------------------------------

def small_xlsx(path: Path, rows: int = 3) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, rows + 1):
        ws.cell(r, 1, f"row {r}")
        ws.cell(r, 2, r)
    wb.save(path)
    return path


def rezip(src: Path, dst: Path, replace: dict[str, bytes] | None = None,
          add: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Copy an xlsx, replacing or adding members."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal but valid Compound File Binary (v3, 512-byte sectors, no mini stream)."""
    sect, free, end, fatsect, nostream = 512, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    # CFB orders siblings by name length, then upper-case name
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    body, fat, entries, nxt = b"", [fatsect, end], [], 2
    for name in names:
        payload = streams[name].ljust(4096, b"\0")
        n = -(-len(payload) // sect)
        entries.append((name, nxt, len(payload)))
        body += payload.ljust(n * sect, b"\0")
        fat += [nxt + i + 1 for i in range(n - 1)] + [end]
        nxt += n
    assert len(fat) <= 128 and len(entries) <= 3
    fat_sector = struct.pack("<128I", *(fat + [free] * (128 - len(fat))))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = (name.encode("utf-16-le") + b"\0\0") if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, nostream, right, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", start, size))

    dir_sector = entry("Root Entry", 5, 1, nostream, end, 0)
    for i, (name, start, size) in enumerate(entries):
        right = i + 2 if i + 1 < len(entries) else nostream
        dir_sector += entry(name, 2, nostream, right, start, size)
    dir_sector = dir_sector.ljust(sect, b"\0")
    header = bytearray(sect)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<I", header, 76, 0)
    struct.pack_into("<108I", header, 80, *([free] * 108))
    return bytes(header) + fat_sector + dir_sector + body


def expect(code: str, path: Path, limits: Limits | None = None) -> FileProblem:
    before = (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
    with pytest.raises(FileProblem) as ei:
        check_file(path, limits)
    if before is not None:
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before  # never modified
    assert ei.value.code == code, ei.value.detail
    return ei.value


# -- the happy path ---------------------------------------------------------------------------

def test_a_normal_workbook_passes_and_is_not_modified(tmp_path):
    p = small_xlsx(tmp_path / "ok.xlsx")
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    assert check_file(p) is None
    pkg = open_package(p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before
    assert pkg.data == before[0]
    assert [(s.name, s.state, s.part) for s in pkg.sheets] == [("Data", "visible", "xl/worksheets/sheet1.xml")]
    assert pkg.workbook_part == "xl/workbook.xml"
    assert "xl/worksheets/sheet1.xml" in pkg.parts


def test_xlsm_with_a_vba_project_is_accepted(tmp_path):
    p = rezip(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "macro.xlsm",
              add={"xl/vbaProject.bin": cfb({"VBA": b"Attribute VB_Name = \"x\""})})
    check_file(p)  # read like .xlsx; the VBA project is never opened


# -- each bad kind of file ---------------------------------------------------------------------

def test_excel_lock_file(tmp_path):
    p = tmp_path / "~$plan.xlsx"
    p.write_bytes(b"\x05yamada" + b"\x00" * 158)
    expect("E-FILE-LOCK", p)


def test_missing_file_and_directory_and_empty_file(tmp_path):
    expect("E-FILE-UNREADABLE", tmp_path / "nope.xlsx")
    d = tmp_path / "dir.xlsx"
    d.mkdir()
    expect("E-FILE-UNREADABLE", d)
    e = tmp_path / "empty.xlsx"
    e.write_bytes(b"")
    expect("E-FILE-UNREADABLE", e)


def test_garbage_bytes(tmp_path):
    p = tmp_path / "garbage.xlsx"
    p.write_bytes(bytes(range(256)) * 40)
    expect("E-FILE-UNREADABLE", p)


def test_csv_renamed_to_xlsx(tmp_path):
    p = tmp_path / "plan.xlsx"
    p.write_text("顧客名,金額\nACME,1200\n", encoding="cp932")
    problem = expect("E-FILE-UNREADABLE", p)
    assert "CSV" in problem.detail


def test_truncated_xlsx(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    data = src.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        p = tmp_path / f"cut{cut}.xlsx"
        p.write_bytes(data[:cut])
        expect("E-FILE-UNREADABLE", p)


def test_corrupted_member_data_fails_the_crc(tmp_path):
    src = rezip(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "stored.xlsx", compression=zipfile.ZIP_STORED)
    data = bytearray(src.read_bytes())
    i = data.index(b"row 2")
    data[i:i + 5] = b"row X"
    p = tmp_path / "crc.xlsx"
    p.write_bytes(bytes(data))
    assert "CRC" in expect("E-FILE-UNREADABLE", p).detail


def test_legacy_xls_compound_file(tmp_path):
    p = tmp_path / "old.xls"
    p.write_bytes(cfb({"Workbook": b"\x09\x08" + b"\0" * 100, "\x05SummaryInformation": b"\0" * 64}))
    expect("E-FILE-FORMAT", p)


def test_encrypted_ooxml_compound_file(tmp_path):
    p = tmp_path / "secret.xlsx"
    p.write_bytes(cfb({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00<encryption/>",
                       "EncryptedPackage": os.urandom(512)}))
    expect("E-FILE-ENCRYPTED", p)


@pytest.mark.libreoffice
def test_real_xls_saved_by_libreoffice(tmp_path, soffice):
    src = small_xlsx(tmp_path / "a.xlsx")
    out = tmp_path / "out"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "xls", "--outdir", str(out), str(src)],
                   check=True, capture_output=True, timeout=120)
    expect("E-FILE-FORMAT", out / "a.xls")


def test_other_zip_formats(tmp_path):
    base = small_xlsx(tmp_path / "a.xlsx")
    xlsb = tmp_path / "b.xlsb"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert "xlsb" in expect("E-FILE-FORMAT", xlsb).detail
    ods = tmp_path / "c.xlsx"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    assert "ods" in expect("E-FILE-FORMAT", ods).detail
    docx = rezip(base, tmp_path / "d.xlsx", add={"word/document.xml": b"<w:document/>"})
    expect("E-FILE-FORMAT", docx)
    plain = tmp_path / "e.xlsx"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("readme.txt", "hello")
    expect("E-FILE-UNREADABLE", plain)


BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n')


def test_entity_declaration_in_workbook_xml(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    wb = member(src, "xl/workbook.xml")
    body = wb.split(b"?>", 1)[1] if wb.startswith(b"<?xml") else wb
    p = rezip(src, tmp_path / "lol.xlsx", replace={"xl/workbook.xml": BILLION_LAUGHS + body})
    problem = expect("E-FILE-UNSAFE", p)
    assert "xl/workbook.xml" in problem.detail


def test_external_entity_in_a_sheet_and_utf16_doctype(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           + member(src, "xl/worksheets/sheet1.xml").split(b"?>", 1)[-1])
    expect("E-FILE-UNSAFE", rezip(src, tmp_path / "xxe.xlsx", replace={"xl/worksheets/sheet1.xml": xxe}))
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY b "c">]><a/>'.encode("utf-16")
    expect("E-FILE-UNSAFE", rezip(src, tmp_path / "u16.xlsx", add={"docProps/custom.xml": utf16}))


def test_zip_bomb_by_compression_ratio(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    p = rezip(src, tmp_path / "bomb.xlsx", add={"xl/media/zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert p.stat().st_size < 200_000
    problem = expect("E-FILE-TOO-LARGE", p)
    assert "xl/media/zeros.bin" in problem.detail


def test_zip_bomb_by_total_uncompressed_size(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    chunk = os.urandom(300_000)  # incompressible: only the total is too large
    p = rezip(src, tmp_path / "big.xlsx", add={f"xl/media/{i}.bin": chunk for i in range(4)})
    check_file(p)
    expect("E-FILE-TOO-LARGE", p, Limits(max_uncompressed_mb=1))


def test_file_larger_than_max_file_mb(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    p = rezip(src, tmp_path / "big.xlsx", add={"xl/media/noise.bin": os.urandom(1_200_000)})
    expect("E-FILE-TOO-LARGE", p, Limits(max_file_mb=1))


def _patch_sizes(data: bytearray, name: bytes, new_size: int) -> None:
    """Rewrite the uncompressed size of member ``name`` in its local and central headers."""
    # (signature, offset of the name length, offset of the name, offset of the size)
    for sig, len_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        i = 0
        while (i := data.find(sig, i)) >= 0:
            n_len = struct.unpack_from("<H", data, i + len_at)[0]
            if data[i + name_at:i + name_at + n_len] == name:
                struct.pack_into("<I", data, i + size_at, new_size)
            i += 4


def test_lying_zip_header_is_caught_by_bounding_the_bytes_read(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    p = rezip(src, tmp_path / "liar.xlsx", add={"xl/media/zeros.bin": b"\0" * 500_000})
    data = bytearray(p.read_bytes())
    _patch_sizes(data, b"xl/media/zeros.bin", 1000)  # claims 1,000 bytes, inflates to 500,000
    p.write_bytes(bytes(data))
    with zipfile.ZipFile(p) as z:
        assert z.getinfo("xl/media/zeros.bin").file_size == 1000
    problem = expect("E-FILE-UNSAFE", p)
    assert "xl/media/zeros.bin" in problem.detail


def test_duplicate_member_names(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    p = tmp_path / "dup.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        with pytest.warns(UserWarning):
            zout.writestr("xl/worksheets/sheet1.xml", b"<worksheet/>")
    expect("E-FILE-UNSAFE", p)


def test_a_lying_dimension_is_not_trusted(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    sheet = member(src, "xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:B3"' in sheet
    huge = sheet.replace(b'<dimension ref="A1:B3"', b'<dimension ref="A1:XFD1048576"')
    pkg = open_package(rezip(src, tmp_path / "million.xlsx", replace={"xl/worksheets/sheet1.xml": huge}))
    assert pkg.cells == {} and pkg.reader_parts == {}  # bounded by the cells that exist


def test_rows_beyond_the_threshold_without_dimension(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx", rows=150)
    check_file(src)
    expect("E-SHEET-TOO-LARGE", src, Limits(max_sheet_rows=100))
    sheet = member(src, "xl/worksheets/sheet1.xml")
    nodim = sheet.replace(b'<dimension ref="A1:B150"/>', b"").replace(b'<dimension ref="A1:B150" />', b"")
    assert b"<dimension" not in nodim
    p = rezip(src, tmp_path / "nodim.xlsx", replace={"xl/worksheets/sheet1.xml": nodim})
    expect("E-SHEET-TOO-LARGE", p, Limits(max_sheet_rows=100))


def test_sheet_size_is_checked_on_raw_xml_without_materialising():
    row = '<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="inlineStr"><is><t>x{r}</t></is></c></row>'
    sheet = lambda *rs: ('<worksheet><sheetData>' + "".join(row.format(r=r) for r in rs)  # noqa: E731
                         + '</sheetData></worksheet>').encode()
    # one row far below the others: its cells are read apart (stray values), the sheet is kept
    scan = check_sheet_size(sheet(5, 6, 1_000_000), "S", Limits())
    assert scan.far == {(1_000_000, 1), (1_000_000, 2)}
    assert scan.cells == {(1_000_000, 1): 1_000_000.0, (1_000_000, 2): "x1000000"}
    assert b"x1000000" not in scan.reader_xml and b"<v>1000000<" not in scan.reader_xml and b"x6" in scan.reader_xml
    # one value in column XFD of a sheet whose area would then exceed the cells limit
    wide = sheet(*range(1, 201)).replace(b"</row></sheetData>", b'<c r="XFD200"><v>7</v></c></row></sheetData>')
    assert check_sheet_size(wide, "S", Limits()).far == set()  # 200 x 16384 cells is within the default area
    scan = check_sheet_size(wide, "S", Limits(max_sheet_cells=1_000_000))
    assert scan.far == {(200, 16384)} and scan.cells == {(200, 16384): 7.0}
    # more rows than allowed, or too many far cells: too large
    with pytest.raises(FileProblem) as ei:
        check_sheet_size(sheet(*range(1, 120)), "S", Limits(max_sheet_rows=100))
    assert ei.value.code == "E-SHEET-TOO-LARGE" and ei.value.value == 119
    with pytest.raises(FileProblem) as ei:
        check_sheet_size(sheet(*range(1, 50), *range(500_000, 500_050)), "S", Limits(max_far_cells=10))
    assert ei.value.code == "E-SHEET-TOO-LARGE"


def test_cells_without_addresses_are_numbered_as_python_calamine_numbers_them():
    xml = (b'<worksheet><sheetData><row r="3"><c><v>1</v></c><c/><c r="E3"><v>2</v></c><c><v>3</v></c></row>'
           b'<row><c t="e"><v>#SPILL!</v></c></row></sheetData></worksheet>')
    scan = check_sheet_size(xml, "S", Limits())
    assert scan.cells == {(4, 1): "#SPILL!"}  # the error value, the row after row 3
    assert b"#SPILL!" not in scan.reader_xml  # python-calamine fails on it: blanked in its copy
    from xltools.workbook.sheetscan import _cells_in_order

    assert [pos for pos, _, _ in _cells_in_order(xml, "S")] == [(3, 1), (3, 5), (3, 6), (4, 1)]


# -- FileProblem and Limits ------------------------------------------------------------------------

def test_file_problem_is_a_bilingual_file_level_issue(tmp_path):
    p = tmp_path / "plan.xlsx"
    p.write_text("a,b\n1,2\n")
    problem = expect("E-FILE-UNREADABLE", p)
    issue = problem.to_issue(str(p))
    assert (issue.code, issue.file, issue.severity) == ("E-FILE-UNREADABLE", str(p), "error")
    assert ISSUE_TYPES[problem.code].scope == "file"
    assert problem.message("ja") != problem.message("en")
    assert str(problem) == problem.message("ja") == issue.message("ja")
    assert problem.detail in problem.message("en") and problem.detail_ja in problem.message("ja")
    with pytest.raises(ValueError):
        FileProblem("E-REQUIRED", "not a file-level code")


def test_limits_come_from_settings_thresholds():
    th = Thresholds(max_file_mb=7, max_uncompressed_mb=70, max_sheet_rows=700)
    lim = Limits.from_settings(Settings(thresholds=th))
    assert (lim.max_file_mb, lim.max_uncompressed_mb, lim.max_sheet_rows) == (7, 70, 700)
    assert Limits.from_settings(th) == lim
    d = Thresholds()
    assert (Limits().max_file_mb, Limits().max_uncompressed_mb, Limits().max_sheet_rows) == (
        d.max_file_mb, d.max_uncompressed_mb, d.max_sheet_rows)


# -- nothing but FileProblem escapes ----------------------------------------------------------------

_VALID: list[bytes] = []


def valid_bytes(tmp_path: Path) -> bytes:
    if not _VALID:
        _VALID.append(small_xlsx(tmp_path / "v.xlsx", rows=5).read_bytes())
    return _VALID[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_only_file_problems(tmp_path, data):
    raw = bytearray(valid_bytes(tmp_path))
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=64))
    p = tmp_path / "fuzz.xlsx"
    p.write_bytes(bytes(raw))
    try:
        check_file(p)
    except FileProblem as e:
        assert ISSUE_TYPES[e.code].scope == "file"
    assert p.read_bytes() == bytes(raw)


# -- references beyond Excel's grid never reach python-calamine ----------------------

SHEET = "xl/worksheets/sheet1.xml"


def with_sheet(src: Path, dst: Path, edit) -> Path:
    """A copy of ``src`` whose first worksheet XML is ``edit(xml)``."""
    return rezip(src, dst, replace={SHEET: edit(member(src, SHEET))})


def one_value_at(ref: str, quote: str = '"'):
    """Move the value of A1 to ``ref``."""
    return lambda xml: xml.replace(b'<c r="A1"', f"<c r={quote}{ref}{quote}".encode(), 1)


@pytest.mark.parametrize("ref", ["XFE1", "ZZZZZZ1", "zzzzzz1", "A1048577", "A99999999999", "A0", "A01", "1A", "A-1",
                                 "A1B", "$A$1", ""])
def test_a_cell_reference_outside_excels_grid_is_refused_before_any_native_reader(tmp_path, ref):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "far.xlsx", one_value_at(ref))
    problem = expect("E-FILE-UNREADABLE", p)
    assert "Data" in problem.detail and (ref in problem.detail or "cell reference" in problem.detail)


def test_single_quoted_references_are_checked_too(tmp_path):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "q.xlsx", one_value_at("ZZZZZZ1", "'"))
    expect("E-FILE-UNREADABLE", p)


@pytest.mark.parametrize("edit", [
    lambda x: x.replace(b'<row r="2"', b'<row r="1048577"', 1),
    lambda x: x.replace(b'<row r="2"', b'<row r="0"', 1),
    lambda x: x.replace(b'<dimension ref="A1:B3"', b'<dimension ref="A1:ZZZZZZ3"', 1),
    lambda x: x.replace(b'<dimension ref="A1:B3"', b'<dimension ref="A1:B3:C4"', 1),
], ids=["row beyond 1048576", "row 0", "dimension beyond XFD", "dimension of three corners"])
def test_row_numbers_and_the_dimension_are_checked_against_excels_grid(tmp_path, edit):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "bad.xlsx", edit)
    expect("E-FILE-UNREADABLE", p)


def _crashing_file(tmp_path: Path) -> Path:
    """A cell six letters wide: python-calamine 0.9 aborts the process on it (Rust OOM)."""
    return with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "crash.xlsx", one_value_at("ZZZZZZ6"))


def test_the_process_survives_a_file_that_aborts_python_calamine(tmp_path):
    p = _crashing_file(tmp_path)
    code = ("import sys; from xltools.workbook.safety import FileProblem, open_package\n"
            "try:\n    open_package(sys.argv[1])\nexcept FileProblem as e:\n    print(e.code)\n")
    res = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert (res.returncode, res.stdout.strip()) == (0, "E-FILE-UNREADABLE"), res.stderr[-500:]


SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def with_shared_strings(src: Path, dst: Path, target: str = "sharedStrings.xml") -> Path:
    """A copy of ``src`` whose text cells use a shared string table (as Excel saves them)."""
    sheet = member(src, SHEET)
    texts = re.findall(rb'<c r="[A-Z]+\d+" t="inlineStr"><is><t>([^<]*)</t></is></c>', sheet)
    for i, t in enumerate(texts):
        sheet = sheet.replace(b't="inlineStr"><is><t>' + t + b"</t></is>", b't="s"><v>%d</v>' % i, 1)
    sst = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
           % (len(texts), len(texts)) + b"".join(b"<si><t>" + t + b"</t></si>" for t in texts) + b"</sst>")
    rels = member(src, "xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>", f'<Relationship Id="rIdS" Type="{SST_REL}" Target="{target}"/></Relationships>'.encode())
    types = member(src, "[Content_Types].xml").replace(
        b"</Types>", f'<Override PartName="/xl/{target}" ContentType="{SST_TYPE}"/></Types>'.encode())
    return rezip(src, dst, replace={SHEET: sheet, "xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types},
                 add={f"xl/{target}": sst})


def test_shared_strings_are_read(tmp_path):
    from xltools.workbook.reader import _grid, _open_calamine

    pkg = open_package(with_shared_strings(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "sst.xlsx"))
    assert _grid(_open_calamine(pkg.reader_data()), "Data")[(2, 1)] == "row 2"


def test_a_lying_shared_string_count_is_not_handed_to_the_reader(tmp_path):
    src = with_shared_strings(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "s.xlsx")
    sst = member(src, "xl/sharedStrings.xml")
    lie = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="99999999999999"', sst)
    assert lie != sst
    pkg = open_package(rezip(src, tmp_path / "sst.xlsx", replace={"xl/sharedStrings.xml": lie}))
    assert b"99999999999999" not in pkg.reader_parts["xl/sharedStrings.xml"]
    assert pkg.parts["xl/sharedStrings.xml"] == lie  # what was checked stays as it was
    from xltools.workbook.reader import _grid, _open_calamine

    assert _grid(_open_calamine(pkg.reader_data()), "Data")[(3, 1)] == "row 3"


# -- well-formed XML and a cell container ------------------------------------------------

@pytest.mark.parametrize("edit", [
    lambda x: x.replace(b"</row>", b"</rox>", 1),
    lambda x: x.replace(b"</sheetData>", b"", 1),
    lambda x: x.replace(b"<sheetData>", b"<sheetData><x:row>", 1),
    lambda x: x[: len(x) // 2],
], ids=["mismatched end tag", "unclosed element", "unbound prefix", "cut in half"])
def test_a_part_that_is_not_well_formed_xml_is_refused(tmp_path, edit):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "bad.xlsx", edit)
    assert SHEET in expect("E-FILE-UNREADABLE", p).detail


def test_any_xml_part_must_be_well_formed(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    p = rezip(src, tmp_path / "core.xlsx", replace={"docProps/core.xml": member(src, "docProps/core.xml")[:-20]})
    assert "docProps/core.xml" in expect("E-FILE-UNREADABLE", p).detail


@pytest.mark.parametrize("edit", [
    lambda x: x.replace(b"sheetData", b"sheetDatx"),
    lambda x: re.sub(rb"<sheetData>.*</sheetData>", b"", x, flags=re.S),
], ids=["renamed", "removed"])
def test_a_worksheet_without_its_cell_container_is_refused_not_read_as_empty(tmp_path, edit):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "nodata.xlsx", edit)
    problem = expect("E-FILE-UNREADABLE", p)
    assert "Data" in problem.detail and "sheetData" in problem.detail


def test_an_empty_worksheet_is_still_a_worksheet(tmp_path):
    p = with_sheet(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "empty.xlsx",
                   lambda x: re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData/>", x, flags=re.S))
    check_file(p)


# -- a package as Excel judges it ----------------------------------------------------------

def without(src: Path, dst: Path, *names: str) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename not in names:
                zout.writestr(info.filename, zin.read(info.filename))
    return dst


def test_a_package_without_content_types_is_refused(tmp_path):
    p = without(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "noct.xlsx", "[Content_Types].xml")
    assert "[Content_Types].xml" in expect("E-FILE-UNREADABLE", p).detail


def test_the_workbook_part_needs_its_content_type(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    ct = re.sub(rb'<Override[^>]*PartName="/xl/workbook.xml"[^>]*/>', b"", member(src, "[Content_Types].xml"))
    p = rezip(src, tmp_path / "nowbct.xlsx", replace={"[Content_Types].xml": ct})
    assert "xl/workbook.xml" in expect("E-FILE-UNREADABLE", p).detail
    docx = ct.replace(b"</Types>", b'<Override PartName="/xl/workbook.xml" ContentType="application/'
                      b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    expect("E-FILE-FORMAT", rezip(src, tmp_path / "wbdocx.xlsx", replace={"[Content_Types].xml": docx}))


def test_a_package_without_root_relationships_is_refused(tmp_path):
    p = without(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "norels.xlsx", "_rels/.rels")
    expect("E-FILE-UNREADABLE", p)


def test_root_relationships_must_lead_to_the_workbook(tmp_path):
    src = small_xlsx(tmp_path / "a.xlsx")
    rels = member(src, "_rels/.rels").replace(b'Target="xl/workbook.xml"', b'Target="xl/nothing.xml"')
    assert b"nothing" in rels
    expect("E-FILE-UNREADABLE", rezip(src, tmp_path / "r.xlsx", replace={"_rels/.rels": rels}))


@pytest.mark.parametrize("edit", [
    lambda wb, rels: (wb.replace(b'r:id="rId1"', b'r:id="rId99"'), rels),
    lambda wb, rels: (wb, re.sub(rb'<Relationship [^>]*worksheets/sheet1.xml"[^>]*/>', b"", rels)),
    lambda wb, rels: (wb, rels.replace(b"worksheets/sheet1.xml", b"worksheets/gone.xml")),
    lambda wb, rels: (wb.replace(b"</sheets>", b'<sheet name="data" sheetId="2" r:id="rId1"/></sheets>'), rels),
    lambda wb, rels: (wb.replace(b'state="visible" r:id', b'state="gone" r:id'), rels),
    lambda wb, rels: (re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", wb, flags=re.S), rels),
], ids=["unknown r:id", "relationship removed", "target missing", "duplicate sheet name", "bad state", "no sheet"])
def test_broken_workbook_relationships_are_refused(tmp_path, edit):
    src = small_xlsx(tmp_path / "a.xlsx")
    wb, rels = edit(member(src, "xl/workbook.xml"), member(src, "xl/_rels/workbook.xml.rels"))
    p = rezip(src, tmp_path / "broken.xlsx", replace={"xl/workbook.xml": wb, "xl/_rels/workbook.xml.rels": rels})
    expect("E-FILE-UNREADABLE", p)


def test_a_layout_python_calamine_would_misread_is_refused(tmp_path):
    """python-calamine looks for <dir>/workbook.xml, sharedStrings.xml and styles.xml by name."""
    p = with_shared_strings(small_xlsx(tmp_path / "a.xlsx"), tmp_path / "layout.xlsx", target="strings.xml")
    expect("E-FILE-FORMAT", p)


def _prefixed(xml: bytes, prefix: bytes = b"x") -> bytes:
    """The same worksheet with every element tag written with a namespace prefix."""
    out = re.sub(rb"<(/?)([A-Za-z])", lambda m: b"<" + m.group(1) + prefix + b":" + m.group(2), xml)
    return out.replace(b"<" + prefix + b":worksheet", b"<" + prefix + b":worksheet xmlns:" + prefix + b'="m"', 1)


def test_a_prefixed_worksheet_is_scanned_as_the_same_worksheet_without_prefixes():
    """Parts without a prefixed tag are scanned with patterns that skip the prefix: both
    ways find the same cells, rows, far cells and error values."""
    from xltools.workbook.sheetscan import _cells_in_order, has_prefixed_tags

    rows = "".join(f'<row r="{r}"><c r="A{r}" s="1"/><c r="B{r}"><v>{r}</v></c></row>' for r in range(1, 60))
    xml = (f'<worksheet><dimension ref="A1:C900000"/><sheetData>{rows}'
           '<row r="60"><c r="C60" t="e"><v>#SPILL!</v></c><c r="D60" t="e"><v>#N/A</v></c></row>'
           '<row r="900000"><c r="C900000" t="inlineStr"><is><t>far</t></is></c></row>'
           '</sheetData></worksheet>').encode()
    pxml = _prefixed(xml)
    assert not has_prefixed_tags(xml) and has_prefixed_tags(pxml)
    limits = Limits(max_sheet_rows=1000)
    plain, prefixed = check_sheet_size(xml, "S", limits), check_sheet_size(pxml, "S", limits)
    assert plain.far == prefixed.far == {(900000, 3)}
    assert plain.cells == prefixed.cells == {(900000, 3): "far", (60, 3): "#SPILL!", (60, 4): "#N/A"}
    assert b"far" not in plain.reader_xml and b"#SPILL!" not in plain.reader_xml and b"#N/A" in plain.reader_xml
    assert _prefixed(plain.reader_xml) == prefixed.reader_xml
    # cells without an address: numbered the same way with or without prefixes
    noaddr = b'<worksheet><sheetData><row r="3"><c><v>1</v></c><c/><c r="E3"><v>2</v></c></row></sheetData></worksheet>'
    assert ([p for p, _, _ in _cells_in_order(noaddr, "S")] == [p for p, _, _ in _cells_in_order(_prefixed(noaddr), "S")]
            == [(3, 1), (3, 5)])
    # a damaged reference is refused either way
    bad = xml.replace(b'r="B7"', b'r="B07"')
    for part in (bad, _prefixed(bad)):
        with pytest.raises(FileProblem) as ei:
            check_sheet_size(part, "S", limits)
        assert ei.value.code == "E-FILE-UNREADABLE" and "B07" in ei.value.message("en")


def test_one_prefixed_tag_makes_the_whole_part_scanned_with_prefixes():
    from xltools.workbook.sheetscan import has_prefixed_tags

    mixed = (b'<worksheet xmlns:x="m"><sheetData><row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>1</v></c>'
             b'<x:c r="XFD1000000"><v>2</v></x:c></row></sheetData></worksheet>')
    plain = mixed.replace(b"<x:c ", b"<c ").replace(b"</x:c>", b"</c>")
    assert has_prefixed_tags(mixed) and not has_prefixed_tags(plain)
    limits = Limits(max_sheet_rows=100)
    scan, same = check_sheet_size(mixed, "S", limits), check_sheet_size(plain, "S", limits)
    assert scan.far == same.far == {(1_000_000, 16384)} and scan.cells == same.cells == {(1_000_000, 16384): 2.0}
    # text that only looks like a prefixed tag (in a formula or a string) just takes the slower patterns
    assert has_prefixed_tags(b"<worksheet><sheetData><row r='1'><c r='A1' t='str'><v>a:c b</v></c></row></sheetData></worksheet>")


def test_checked_parts_are_parsed_once_and_vml_stays_with_defusedxml(tmp_path):
    import xltools.workbook.safety as safety

    pkg = open_package(small_xlsx(tmp_path / "a.xlsx"))
    first = pkg.rels(pkg.workbook_part)
    assert first and pkg.rels(pkg.workbook_part) is first  # parsed once, then shared
    assert [kind for _, kind, _ in first].count("worksheet") == len([s for s in pkg.sheets if s.part])
    vml = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><shape/></xml>'
    with pytest.raises(FileProblem) as ei:
        safety._parse_checked(vml, "xl/drawings/vmlDrawing1.vml")
    assert ei.value.code == "E-FILE-UNSAFE"


def test_the_size_scan_finds_the_formula_cells_only_where_it_can_tell():
    from xltools.workbook.cellscan import formula_cells
    from xltools.workbook.zipsafety import _check_xml

    row = (b'<row r="2"><c r="B2"><f>1+1</f><v>2</v></c><c r="C2" t="s"><v>0</v></c>'
           b'<c r="D2">\n  <f t="array" ref="D2:E3">A1:B2</f></c><c r="F2"><f t="shared" si="0"/></c></row>')
    base = b'<worksheet><cols><col min="1" max="2"/></cols><sheetData>%s</sheetData>%s</worksheet>'
    plain = base % (row, b'<conditionalFormatting><cfRule><formula>A1</formula></cfRule></conditionalFormatting>')
    scan = check_sheet_size(plain, "S", Limits(), markup_only=_check_xml("s.xml", plain))
    assert scan.formulas == formula_cells(plain) == {(2, 2), (2, 4), (2, 5), (3, 4), (3, 5), (2, 6)}
    assert check_sheet_size(plain, "S", Limits()).formulas is None  # not known to be markup only
    # what the one pass cannot tell is left to formula_cells: the same cells either way
    unclear = [
        base % (row.replace(b"</row>", b'<c r="G2"><v>1</v><f>2</f></c></row>'), b""),  # a formula after the value
        base % (row, b'<extLst><c r="H9"><f>1</f></c></extLst>'),  # a cell outside sheetData
        base % (row.replace(b"<row ", b'<row><foo xmlns="u"/></row><row '), b""),  # another tag starting with f
        base % (row.replace(b'r="C2"', b"r='C2'"), b""),  # an address in single quotes
    ]
    for xml in unclear:
        assert _check_xml("s.xml", xml)
        assert check_sheet_size(xml, "S", Limits(), markup_only=True).formulas is None
    for xml in (base % (b"<!-- " + row + b" -->" + row, b""), base % (row, b"<?pi x?>"),
                base % (row.replace(b"<v>0</v>", b"<v><![CDATA[0]]></v>"), b"")):
        assert not _check_xml("s.xml", xml)  # a comment, a processing instruction, a CDATA section
    assert check_sheet_size(base % (b"", b""), "S", Limits(), markup_only=True).formulas is None  # no cells
    empty = b'<worksheet><sheetData/><c r="A1"><f>1</f></c></worksheet>'
    assert check_sheet_size(empty, "S", Limits(), markup_only=True).formulas == formula_cells(empty) == set()
