"""``check_file`` / ``check_files`` / ``xltools check`` end to end on generated workbooks:
codes and cells, one file-level issue per bad file, annotated copies, exit codes, output."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from test_safety import cfb, rezip
from test_validate import GOOD_FIELDS, good, raw_plan

from xltools.cells import a1, parse_range
from xltools.checking.annotate import FILLS
from xltools.checking.check import check_file, check_files, exit_code, render, workbook_texts
from xltools.checking.validate import ANNOTATION_SHEET, validate
from xltools.cli import cli
from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.issues import sort_issues
from xltools.spec.model import PlanData, Row
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.xlwrite import display_width, write_value

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
TEXTS = workbook_texts(SPEC, SETTINGS)
NOW = datetime(2026, 10, 1, 12, 0)  # local noon: the rules' today is 2026-10-01 in any zone


# -- building workbooks --------------------------------------------------------------------

def prefill() -> PlanData:
    """The test_validate plan as clean values (numbers, dates, choice keys): written by the
    generator, it is a workbook a rep filled cleanly."""
    plan, _ = validate(raw_plan(*good()), SPEC, SETTINGS)
    fields = {k: v for k, v in plan.fields.items() if k not in ("account_name", "rep", "period")}
    tables = {t: [Row(values=dict(r.values), sheet="", row=0, index=r.index) for r in rows]
              for t, rows in plan.tables.items()}
    return PlanData(meta={}, fields=fields, tables=tables)


def make_plan(path: Path, *, filled: bool = True, lang: str = "ja") -> Path:
    info = PlanInfo(account_name=GOOD_FIELDS["account_name"], rep=GOOD_FIELDS["rep"], period="FY2026Q3", lang=lang)
    return generate_workbook(SPEC, SETTINGS, info, path, prefill() if filled else None)


@pytest.fixture(scope="module")
def good_plan(tmp_path_factory) -> Path:
    return make_plan(tmp_path_factory.mktemp("plans") / "good.xlsx")


def name_cell(wb, key: str) -> tuple[str, str]:
    sheet, ref = next(wb.defined_names[key].destinations)
    return sheet, ref.replace("$", "")


def table_cell(wb, table: str, column: str, index: int, lang: str = "ja") -> tuple[str, str]:
    """(sheet, A1) of data row ``index`` (1-based; beyond the table for rows typed below it)."""
    label = SPEC.table(table).column(column).label(lang)
    for ws in wb.worksheets:
        if table in ws.tables:
            top, left, _, right = parse_range(ws.tables[table].ref)
            for col in range(left, right + 1):
                if ws.cell(top, col).value == label:
                    return ws.title, a1(top + index, col)
    raise KeyError((table, column))


def edit(src: Path, dst: Path, changes: dict[tuple[str, str], object]) -> Path:
    """Type values into a copy of a workbook (text stays text, as a rep's typing does)."""
    wb = openpyxl.load_workbook(src)
    for (sheet, ref), value in changes.items():
        write_value(wb[sheet][ref], value)
    wb.save(dst)
    return dst


def check(path, **kw):
    kw.setdefault("now", NOW)
    return check_file(path, SPEC, SETTINGS, static_texts=TEXTS, **kw)


def positions(report, exclude=()):
    return sorted((i.code, i.sheet, i.cell) for i in report.issues if (i.sheet, i.cell) not in exclude)


def baseline(path: Path) -> set[tuple[str, str]]:
    """Cells that have issues in an untouched workbook (the tests add their own on top)."""
    return {(i.sheet, i.cell) for i in check(path).issues}


# -- a good plan -----------------------------------------------------------------------------

def test_generated_and_filled_plan_is_valid_with_normalised_values(good_plan):
    r = check(good_plan)
    assert r.valid and r.readable and r.issues == []
    plan = r.plan
    assert plan.fields["sales_target"] == 50_000_000
    assert [row["amount"] for row in plan.rows("Opportunities")] == [60_000_000, 120_000_000, 30_000_000, 20_000_000]
    assert [row["probability"] for row in plan.rows("Opportunities")] == [50.0, 30.0, 0.0, 100.0]
    assert plan.derived["plan_total"] == 200_000_000 and plan.derived["coverage_ratio"] == pytest.approx(3.6)
    assert plan.derived["close_quarters"] == {"FY2026Q2": 20_000_000, "FY2026Q3": 180_000_000}
    assert plan.meta["period"] == "FY2026Q3" and plan.meta["template"] == "account_plan"
    wb = openpyxl.load_workbook(good_plan)
    assert plan.field_cells["sales_target"] == name_cell(wb, "sales_target")
    assert plan.rows("Contacts")[0].cells["stance"] == table_cell(wb, "Contacts", "stance", 1)[1]
    st = r.stats
    assert st["rows"]["Opportunities"] == 4 and st["rows"]["Contacts"] == 2
    assert st["fields_filled"] >= len(GOOD_FIELDS) and st["read_seconds"] > 0 and st["validate_seconds"] > 0


def test_blank_generated_workbook_has_no_stray_values(tmp_path):
    r = check(make_plan(tmp_path / "blank.xlsx", filled=False))
    assert not [i for i in r.issues if i.code == "W-STRAY-VALUE"]


def test_blank_generated_workbook_reports_required_input(tmp_path):
    path = make_plan(tmp_path / "blank.xlsx", filled=False, lang="en")
    r = check(path)
    wb = openpyxl.load_workbook(path)
    assert ("E-REQUIRED", *name_cell(wb, "sales_target")) in positions(r)
    empty = [i for i in r.issues if i.code == "E-SECTION-EMPTY"]
    assert {i.params["label"].en for i in empty} == {s.title.en for s in SPEC.sections if s.required}
    assert not r.valid


def test_messy_workbook_codes_and_cells(good_plan, tmp_path):
    wb = openpyxl.load_workbook(good_plan)
    sales = name_cell(wb, "sales_target")[0]
    changes = {
        (sales, "Z3"): "メモ：来期に再検討",                                      # stray
        name_cell(wb, "plan_total"): 123,                                        # formula overwritten
        table_cell(wb, "Opportunities", "amount", 2): "たくさん",                  # unreadable amount
        table_cell(wb, "Opportunities", "note", 1): "=1+2 は概算",                  # text, not a formula
        name_cell(wb, "period"): "FY2026Q2",                                     # != _meta period
        table_cell(wb, "Contacts", "name", SPEC.table("Contacts").rows + 1): "高橋 一郎",  # typed below
        table_cell(wb, "Contacts", "stance", SPEC.table("Contacts").rows + 1): "×",
        table_cell(wb, "Activities", "contact", 1): "伊藤",                         # unknown contact
    }
    path = edit(good_plan, tmp_path / "messy.xlsx", changes)
    r = check(path)
    got = positions(r, exclude=baseline(good_plan))
    keys = list(changes)
    assert got == sorted([
        ("W-STRAY-VALUE", *keys[0]),
        ("W-FORMULA-OVERWRITTEN", *keys[1]),
        ("E-TYPE", *keys[2]),
        ("W-PERIOD-MISMATCH", *keys[4]),
        ("I-ROW-BELOW-TABLE", *table_cell(wb, "Contacts", "name", SPEC.table("Contacts").rows + 1)),
        ("E-UNKNOWN-CONTACT", *keys[7]),
        # the unreadable amount drops out of the plan total (80,000k -> coverage 1.6), and the
        # plan period the rep typed (Q2) moves the target window
        ("W-COVERAGE-LOW", *name_cell(wb, "coverage_ratio")),
        ("W-TARGET-UNREACHABLE", *name_cell(wb, "sales_target")),
    ])
    by_code = {i.code: i for i in r.issues}
    assert by_code["W-STRAY-VALUE"].raw == "メモ：来期に再検討"
    assert by_code["W-FORMULA-OVERWRITTEN"].raw == 123
    assert by_code["E-TYPE"].raw == "たくさん" and by_code["E-TYPE"].field == "amount"
    assert r.plan.rows("Opportunities")[0]["note"] == "=1+2 は概算"
    below = r.plan.rows("Contacts")[-1]
    assert (below["name"], below["stance"]) == ("高橋 一郎", "against")
    assert not r.valid


def test_english_workbook_reads_the_same(tmp_path):
    r = check(make_plan(tmp_path / "en.xlsx", lang="en"))
    assert r.valid
    assert r.plan.derived["plan_total"] == 200_000_000
    assert [row["stage"] for row in r.plan.rows("Opportunities")] == ["negotiation", "proposal", "lost", "won"]


def test_win_rate_passes_through(good_plan):
    # coverage 3.6: 25 % needs 4x, 28 % needs 3.57x
    assert "W-WIN-RATE-COVERAGE" in {i.code for i in check(good_plan, win_rate=0.25).issues}
    assert "W-WIN-RATE-COVERAGE" not in {i.code for i in check(good_plan, win_rate=0.28).issues}
    with pytest.raises(XltoolsError):
        check(good_plan, win_rate=2)
    with pytest.raises(XltoolsError):
        check(good_plan, lang="fr")


# -- bad files: one file-level issue each, the run goes on -------------------------------------

def _zip_bomb(good: Path, dst: Path) -> Path:
    return rezip(good, dst, add={"xl/media/padding.bin": b"\0" * (20 * 1024 * 1024)})


def _entities(good: Path, dst: Path) -> Path:
    with zipfile.ZipFile(good) as z:
        xml = z.read("xl/workbook.xml")
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    evil = b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' + body
    return rezip(good, dst, replace={"xl/workbook.xml": evil})


def sheet_part(path: Path, sheet: str) -> str:
    """The zip member of a worksheet, by sheet name."""
    from xltools.workbook.safety import open_package

    return next(s.part for s in open_package(path).sheets if s.name == sheet)


def edit_part(src: Path, dst: Path, part: str, edit) -> Path:
    with zipfile.ZipFile(src) as z:
        xml = z.read(part)
    return rezip(src, dst, replace={part: edit(xml)})


def sales_sheet() -> str:
    return SPEC.sections[2].label("ja")


def _too_many_rows(good: Path, dst: Path) -> Path:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) for r in range(1000, 21_500))
    return edit_part(good, dst, sheet_part(good, sales_sheet()),
                     lambda xml: xml.replace(b"</sheetData>", rows + b"</sheetData>"))


def _no_sheet_data(good: Path, dst: Path) -> Path:
    return edit_part(good, dst, sheet_part(good, sales_sheet()), lambda xml: xml.replace(b"sheetData", b"sheetDatx"))


def _not_well_formed(good: Path, dst: Path) -> Path:
    return edit_part(good, dst, sheet_part(good, sales_sheet()), lambda xml: xml.replace(b"</row>", b"</rox>", 1))


def _beyond_the_grid(good: Path, dst: Path) -> Path:
    return edit_part(good, dst, sheet_part(good, sales_sheet()),
                     lambda xml: xml.replace(b'<c r="C5"', b'<c r="XFE5"', 1))


def _no_content_types(good: Path, dst: Path) -> Path:
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename != "[Content_Types].xml":
                zout.writestr(info.filename, zin.read(info.filename))
    return dst


def _truncated(good: Path, dst: Path) -> Path:
    data = good.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _not_a_zip(good: Path, dst: Path) -> Path:
    dst.write_text("顧客名,担当\nサンプル,佐藤\n", encoding="cp932")
    return dst


def _lock_file(good: Path, dst: Path) -> Path:
    lock = dst.with_name("~$" + dst.name)
    lock.write_bytes(b"\x04sato" + b"\x20" * 50 + b"\x04\x00s\x00a\x00t\x00o\x00" + b"\x20\x00" * 50)
    return lock


def _encrypted(good: Path, dst: Path) -> Path:
    dst.write_bytes(cfb({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + b"\0" * 64,
                         "EncryptedPackage": os.urandom(2048)}))
    return dst


def _not_a_plan(good: Path, dst: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "見積書"
    wb.save(dst)
    return dst


BAD_FILES = {
    "not a zip": (_not_a_zip, "E-FILE-UNREADABLE"),
    "truncated": (_truncated, "E-FILE-UNREADABLE"),
    "lock file": (_lock_file, "E-FILE-LOCK"),
    "password-protected": (_encrypted, "E-FILE-ENCRYPTED"),
    "zip bomb": (_zip_bomb, "E-FILE-TOO-LARGE"),
    "XML entities": (_entities, "E-FILE-UNSAFE"),
    "too many rows": (_too_many_rows, "E-SHEET-TOO-LARGE"),
    "not a plan": (_not_a_plan, "E-NOT-A-PLAN"),
    "a sheet without its cells": (_no_sheet_data, "E-FILE-UNREADABLE"),
    "XML not well-formed": (_not_well_formed, "E-FILE-UNREADABLE"),
    "a cell beyond column XFD": (_beyond_the_grid, "E-FILE-UNREADABLE"),
    "no content types": (_no_content_types, "E-FILE-UNREADABLE"),
}


def _fingerprint(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_file_level_issue(case, good_plan, tmp_path):
    make, code = BAD_FILES[case]
    path = make(good_plan, tmp_path / "plan.xlsx")
    before = _fingerprint(path)
    r = check(path)
    assert [(i.code, i.sheet, i.cell, i.file) for i in r.issues] == [(code, None, None, str(path))]
    assert r.issues[0].message("ja") and r.issues[0].message("en")
    assert not r.valid and r.plan is None and "read_seconds" in r.stats
    assert _fingerprint(path) == before


def _values(report) -> tuple:
    plan = report.plan
    return plan.fields, {t: [r.values for r in rows] for t, rows in plan.tables.items()}


def test_far_stray_values_are_reported_and_the_rest_is_read(good_plan, tmp_path):
    sales, guide = sales_sheet(), SPEC.sections[0].label("ja")
    path = edit(good_plan, tmp_path / "far.xlsx", {(sales, "XFD300"): "メモ", (guide, "A1048576"): 42})
    r, good = check(path), check(good_plan)
    assert r.valid and r.readable
    stray = {(i.sheet, i.cell): i.raw for i in r.issues if i.code == "W-STRAY-VALUE"}
    assert stray == {(sales, "XFD300"): "メモ", (guide, "A1048576"): 42}
    assert positions(r, exclude=set(stray)) == positions(good)
    assert _values(r) == _values(good)


def test_a_lying_dimension_does_not_reject_the_workbook(good_plan, tmp_path):
    path = edit_part(good_plan, tmp_path / "dim.xlsx", sheet_part(good_plan, sales_sheet()),
                     lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml))
    r = check(path)
    assert r.readable and positions(r) == positions(check(good_plan)) and _values(r) == _values(check(good_plan))


def set_cells(src: Path, dst: Path, cells: dict[tuple[str, str], str]) -> Path:
    """Replace cells in the worksheet XML: (sheet, A1) -> the new element's attributes and content."""
    with zipfile.ZipFile(src) as z:
        parts = {}
        for (sheet, ref), body in cells.items():
            part = sheet_part(src, sheet)
            xml = parts.get(part) or z.read(part)
            pattern = rb'<c r="%s"(?:[^>]*/>|[^>]*>.*?</c>)' % ref.encode()
            assert re.search(pattern, xml), (sheet, ref)
            parts[part] = re.sub(pattern, f'<c r="{ref}" {body}</c>'.encode(), xml, count=1)
    return rezip(src, dst, replace=parts)


def test_error_values_are_reported_with_the_error_as_raw_never_as_blank(good_plan, tmp_path):
    wb = openpyxl.load_workbook(good_plan)
    sales = sales_sheet()
    typed = openpyxl.load_workbook(good_plan)
    typed[sales]["Z3"] = "#N/A"  # openpyxl writes an error cell (t="e"), as Excel does when #N/A is typed
    typed.save(tmp_path / "typed.xlsx")
    rep, amount, close = name_cell(wb, "rep"), table_cell(wb, "Opportunities", "amount", 1), \
        table_cell(wb, "Opportunities", "expected_close", 2)
    path = set_cells(tmp_path / "typed.xlsx", tmp_path / "errors.xlsx", {
        rep: 't="e"><v>#REF!</v>',                       # typed (or a broken reference)
        amount: 't="e"><f>1/0</f><v>#DIV/0!</v>',       # computed by a formula the rep typed
        close: 't="e"><v>#SPILL!</v>',                   # a newer error value
    })
    r = check(path)
    errors = {(i.sheet, i.cell): (i.raw, i.field) for i in r.issues if i.code == "E-ERROR-VALUE"}
    assert errors == {rep: ("#REF!", "rep"), amount: ("#DIV/0!", "amount"), close: ("#SPILL!", "expected_close")}
    assert not [i for i in r.issues if i.code == "E-REQUIRED" and (i.sheet, i.cell) in errors]
    assert [(i.raw, i.code) for i in r.issues if (i.sheet, i.cell) == (sales, "Z3")] == [("#N/A", "W-STRAY-VALUE")]
    assert r.readable and not r.valid
    msg = next(i for i in r.issues if i.code == "E-ERROR-VALUE").message("en")
    assert "#" in msg and msg != next(i for i in r.issues if i.code == "E-ERROR-VALUE").message("ja")


@pytest.mark.libreoffice
def test_old_xls_saved_by_libreoffice(soffice, good_plan, tmp_path):
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "xls",
                    "--outdir", str(tmp_path), str(good_plan)], check=True, capture_output=True, timeout=120)
    path = tmp_path / "good.xls"
    before = _fingerprint(path)
    r = check(path)
    assert [i.code for i in r.issues] == ["E-FILE-FORMAT"]
    assert _fingerprint(path) == before


def _boom(*a, **k):
    raise RuntimeError("boom in validation")


def test_a_bug_is_an_internal_error_not_a_damaged_file(good_plan, monkeypatch):
    import xltools.checking.validate

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(xltools.checking.validate, "validate", _boom)
    r = check(good_plan)
    assert [(i.code, i.type.scope) for i in r.issues] == [("E-INTERNAL", "file")]
    assert "RuntimeError: boom in validation" in r.issues[0].message("en")
    assert r.issues[0].message("ja") != r.issues[0].message("en") and r.plan is None
    (w,) = check_files([good_plan], SPEC, SETTINGS, now=NOW)  # in a worker process: the same
    assert [i.code for i in w.issues] == ["E-INTERNAL"] and "boom in validation" in w.issues[0].message("en")


def test_under_ci_a_bug_fails_the_run(good_plan, monkeypatch):
    import xltools.checking.validate

    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(xltools.checking.validate, "validate", _boom)
    with pytest.raises(RuntimeError, match="boom in validation"):
        check(good_plan)
    with pytest.raises(RuntimeError, match="boom in validation"):
        check_files([good_plan], SPEC, SETTINGS, now=NOW)


def _six_letter_column(good: Path, dst: Path) -> Path:
    """A cell in column ZZZZZZ: python-calamine 0.9 aborts the process on it (Rust OOM)."""
    return edit_part(good, dst, sheet_part(good, sales_sheet()),
                     lambda xml: xml.replace(b'<c r="C5"', b'<c r="ZZZZZZ5"', 1))


#: runs check_files as if the safety checks had missed a file that kills python-calamine
CRASH_CHECK = """
import json, sys
from datetime import datetime
import xltools.workbook.safety
from xltools.checking.check import check_files
from xltools.spec.config import Settings
from xltools.workbook.sheetscan import SheetScan
from xltools.spec.spec import load_spec

xltools.workbook.safety.check_sheet_size = lambda *a, **k: SheetScan()  # the guard misses the crashing file
settings = Settings()
reports = check_files(sys.argv[1:], settings.apply(load_spec()), settings, now=datetime(2026, 10, 1, 12, 0))
print(json.dumps([[r.file, [i.code for i in r.issues], r.issues[0].message("en") if r.issues else ""]
                  for r in reports]))
"""


def _without_ci() -> dict:
    return {k: v for k, v in os.environ.items() if k != "CI"}


def test_a_file_that_kills_its_reader_costs_only_that_file(good_plan, tmp_path):
    import sys

    crash = _six_letter_column(good_plan, tmp_path / "crash.xlsx")
    bad, not_plan = _truncated(good_plan, tmp_path / "bad.xlsx"), _not_a_plan(good_plan, tmp_path / "np.xlsx")
    paths = [good_plan, crash, bad, not_plan, shutil.copy(good_plan, tmp_path / "good2.xlsx")]
    res = subprocess.run([sys.executable, "-c", CRASH_CHECK, *map(str, paths)], capture_output=True, text=True,
                         timeout=300, env=_without_ci())
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout)
    assert [f for f, _, _ in got] == [str(p) for p in paths]
    assert [codes for _, codes, _ in got] == [[], ["E-INTERNAL"], ["E-FILE-UNREADABLE"], ["E-NOT-A-PLAN"], []]
    assert "SIGABRT" in got[1][2]


def test_the_run_goes_on_after_bad_files(good_plan, tmp_path):
    paths = []
    for n, (make, _) in enumerate(BAD_FILES.values()):
        d = tmp_path / str(n)
        d.mkdir()
        paths.append(make(good_plan, d / "plan.xlsx"))
    paths.append(good_plan)
    reports = check_files(paths, SPEC, SETTINGS, lang="en", now=NOW)
    assert [r.file for r in reports] == [str(p) for p in paths]
    assert [[i.code for i in r.issues] for r in reports[:-1]] == [[c] for _, c in BAD_FILES.values()]
    assert reports[-1].valid and exit_code(reports) == 1
    assert exit_code(reports[-1:]) == 0


def odd_paths(d: Path) -> dict[str, Path]:
    """A folder named like a workbook, a symlink loop, a dangling symlink, a FIFO, a missing file."""
    d.mkdir(parents=True, exist_ok=True)
    folder = d / "dir.xlsx"
    folder.mkdir()
    loop = d / "loop.xlsx"
    loop.symlink_to(loop)
    dangling = d / "gone.xlsx"
    dangling.symlink_to(d / "nowhere.xlsx")
    fifo = d / "pipe.xlsx"
    os.mkfifo(fifo)
    return {"folder": folder, "loop": loop, "dangling": dangling, "fifo": fifo, "missing": d / "missing.xlsx"}


ODD_DETAILS = {"folder": "a folder", "loop": "symbolic link loop", "dangling": "broken symbolic link",
               "fifo": "named pipe", "missing": "no such file"}


def test_every_path_gets_a_result_and_the_run_goes_on(good_plan, tmp_path):
    odd = odd_paths(tmp_path / "odd")
    paths = [odd["folder"], good_plan, odd["loop"], odd["dangling"], odd["fifo"], odd["missing"]]
    reports = check_files(paths, SPEC, SETTINGS, now=NOW, annotate_dir=tmp_path / "out")
    assert [r.file for r in reports] == [str(p) for p in paths]
    assert [[i.code for i in r.issues] for r in reports] == [["E-FILE-UNREADABLE"], [], *[["E-FILE-UNREADABLE"]] * 4]
    for kind, r in zip(["folder", None, "loop", "dangling", "fifo", "missing"], reports):
        if kind:
            assert ODD_DETAILS[kind] in r.issues[0].message("en"), (kind, r.issues[0].message("en"))
    assert reports[1].stats["annotated"]
    res = run_cli(*paths, "--lang", "en")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "6 file(s): 1 OK, 5 with errors" in res.output


# -- annotated copies --------------------------------------------------------------------------

def _messy(good_plan: Path, tmp_path: Path) -> tuple[Path, dict]:
    wb = openpyxl.load_workbook(good_plan)
    sales = name_cell(wb, "sales_target")[0]
    changes = {
        (sales, "Z3"): "=HYPERLINK(\"http://example.com\")",
        table_cell(wb, "Opportunities", "amount", 2): "たくさん",
        table_cell(wb, "Opportunities", "expected_close", 1): "未定",
    }
    return edit(good_plan, tmp_path / "messy.xlsx", changes), changes


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_annotated_copy(good_plan, tmp_path, lang):
    path, changes = _messy(good_plan, tmp_path)
    before = _fingerprint(path)
    out = tmp_path / "returned"
    (report,) = check_files([path], SPEC, SETTINGS, lang=lang, annotate_dir=out, now=NOW)
    assert _fingerprint(path) == before
    copy = out / "messy.xlsx"
    assert report.stats["annotated"] == str(copy)
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames[0] == ANNOTATION_SHEET(lang) and wb.active.title == ANNOTATION_SHEET(lang)
    by_cell: dict = {}
    for i in report.issues:
        if i.sheet and i.cell:
            by_cell.setdefault((i.sheet, i.cell), []).append(i)
    for (sheet, ref), found in by_cell.items():
        cell = wb[sheet][ref]
        worst = min(found, key=lambda i: ("error", "warning", "info").index(i.severity)).severity
        assert cell.fill.fgColor.rgb[-6:] == FILLS[worst], (sheet, ref)
        for i in found:
            assert f"[{i.code}]" in cell.comment.text and i.message(lang) in cell.comment.text
    # the type error, and the placeholder in a required column (info + error: the error's colour)
    for sheet, ref in list(changes)[1:]:
        assert wb[sheet][ref].fill.fgColor.rgb[-6:] == FILLS["error"]
        assert (sheet, ref) in by_cell
    # the issue list: one row per issue, rep text as text (never a formula)
    ws = wb[ANNOTATION_SHEET(lang)]
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    assert len(rows) == len(report.issues)
    assert {r[2] for r in rows} == {i.code for i in report.issues}
    stray_row = next(n for n, r in enumerate(rows, 5) if r[2] == "W-STRAY-VALUE" and r[6] and "HYPERLINK" in r[6])
    raw_cell = ws.cell(stray_row, 7)
    assert raw_cell.data_type == "s" and raw_cell.value == "=HYPERLINK(\"http://example.com\")"
    assert not any(isinstance(c.value, str) and c.data_type == "f" for row in ws.iter_rows() for c in row)
    # checking the annotated copy finds the same problems (the issue list is not a stray value)
    again = check(copy)
    assert positions(again) == positions(report)


def test_the_annotated_copy_keeps_the_formula_print_areas_without_a_warning(good_plan, tmp_path):
    import warnings

    from xltools.workbook.printing import formula_print_areas

    before = formula_print_areas(good_plan)
    assert sum("INDEX(" in f for f in before.values()) >= 8  # the plan sheets follow their filled rows
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (report,) = check_files([good_plan], SPEC, SETTINGS, annotate_dir=tmp_path / "out", now=NOW)
    assert [str(w.message) for w in caught if "Print area" in str(w.message)] == []
    def by_sheet(path):  # the copy has more sheets (the list of issues first, the map)
        names = openpyxl.load_workbook(path, read_only=True).sheetnames
        return {names[i]: f for i, f in formula_print_areas(path).items()}

    assert by_sheet(report.stats["annotated"]).items() >= by_sheet(good_plan).items()


def test_annotate_refuses_to_overwrite_the_checked_file(good_plan, tmp_path):
    path = shutil.copy(good_plan, tmp_path / "plan.xlsx")
    before = _fingerprint(Path(path))
    with pytest.raises(XltoolsError):
        check_files([path], SPEC, SETTINGS, annotate_dir=tmp_path)
    assert _fingerprint(Path(path)) == before


def test_annotated_copies_get_unique_names_and_unreadable_files_none(good_plan, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p1 = shutil.copy(good_plan, tmp_path / "a" / "plan.xlsx")
    p2 = shutil.copy(good_plan, tmp_path / "b" / "plan.xlsx")
    bad = _truncated(good_plan, tmp_path / "b" / "bad.xlsx")
    reports = check_files([p1, p2, bad], SPEC, SETTINGS, annotate_dir=tmp_path / "out", now=NOW)
    assert [Path(r.stats.get("annotated", "-")).name for r in reports] == ["plan.xlsx", "plan (2).xlsx", "-"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plan (2).xlsx", "plan.xlsx"]


def test_a_failed_copy_does_not_stop_the_run(good_plan, tmp_path, monkeypatch):
    import xltools.checking.annotate

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xltools.checking.annotate, "annotate_workbook", fail)
    reports = check_files([good_plan, good_plan], SPEC, SETTINGS, annotate_dir=tmp_path / "out", now=NOW)
    assert [r.valid for r in reports] == [True, True]
    assert all("No space left" in r.stats["annotate_error"] for r in reports)
    assert "No space left" in render(reports, "text", "en")


def test_a_broken_generator_text_list_is_an_internal_error_not_a_traceback(good_plan, monkeypatch, tmp_path):
    import xltools.workbook.generate
    import xltools.workbook.statictexts

    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(tmp_path / "empty-cache"))  # nothing cached: computed now
    monkeypatch.setattr(xltools.workbook.statictexts, "_memo", {})

    def broken(*a, **k):
        raise KeyError("guide_sheet")

    monkeypatch.setattr(xltools.workbook.generate, "static_texts", broken)
    monkeypatch.delenv("CI", raising=False)
    (r,) = check_files([good_plan], SPEC, SETTINGS)
    assert [i.code for i in r.issues] == ["E-INTERNAL"] and "KeyError" in r.issues[0].message("en")


# -- output and the command --------------------------------------------------------------------

def test_text_output_groups_by_file_and_aligns_by_display_width(good_plan, tmp_path):
    path, _ = _messy(good_plan, tmp_path)
    reports = check_files([path, good_plan], SPEC, SETTINGS, lang="ja", now=NOW)
    text = render(reports, "text", "ja")
    lines = text.splitlines()
    assert lines[0].startswith(str(path)) and "NG" in lines[0]
    n = len(reports[0].issues)
    assert lines[1].startswith("  FY2026Q") and "÷" in lines[1]  # the coverage line, then the issues
    issue_lines = lines[2:2 + n]
    # most severe first
    sev = [ln.split()[0] for ln in issue_lines]
    order = {"エラー": 0, "警告": 1, "情報": 2}
    assert sev == sorted(sev, key=order.get)
    # the message column starts at the same display column on every line
    starts = set()
    for ln, i in zip(issue_lines, sort_issues(reports[0].issues)):
        assert i.code in ln
        where = f"{i.sheet}!{i.cell}" if i.cell else "-"
        after = ln.index(where, ln.index(i.code)) + len(where)
        msg_at = after + len(ln[after:]) - len(ln[after:].lstrip(" "))
        assert ln[msg_at:].startswith(f"[{i.field}]" if i.field else i.message("ja")[:5])
        starts.add(display_width(ln[:msg_at]))
    assert len(starts) == 1
    assert lines[2 + n].startswith(str(good_plan))
    assert lines[-1].startswith("2 ファイル")


def test_json_output_shape(good_plan, tmp_path):
    path, _ = _messy(good_plan, tmp_path)
    data = json.loads(render(check_files([path], SPEC, SETTINGS, lang="en", now=NOW), "json", "en"))
    (f,) = data["files"]
    assert set(f) >= {"file", "valid", "stats", "issues"} and f["valid"] is False
    assert f["stats"]["rows"]["Opportunities"] == 4 and f["stats"]["errors"] >= 2
    for i in f["issues"]:
        assert set(i) >= {"code", "severity", "sheet", "cell", "field", "raw", "message"}
    t = next(i for i in f["issues"] if i["code"] == "E-TYPE")
    assert (t["raw"], t["field"]) == ("たくさん", "amount")
    assert t["message"].startswith("'")  # English


def run_cli(*args, **kw):
    return CliRunner().invoke(cli, ["check", *map(str, args)], **kw)


def test_cli_exit_codes(good_plan, tmp_path):
    assert run_cli(good_plan).exit_code == 0
    bad = _truncated(good_plan, tmp_path / "bad.xlsx")
    res = run_cli(good_plan, bad, "--lang", "en")
    assert res.exit_code == 1 and "E-FILE-UNREADABLE" in res.output and "Traceback" not in res.output
    assert run_cli().exit_code == 2
    assert run_cli(tmp_path / "missing.xlsx").exit_code == 1  # a result for the path, not a usage error
    assert run_cli(good_plan, "--format", "xml").exit_code == 2
    assert run_cli(good_plan, "--lang", "fr").exit_code == 2


def test_cli_json_lang_config_and_annotate(good_plan, tmp_path):
    res = run_cli(good_plan, "--format", "json", "--lang", "en")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["files"][0]["valid"] is True
    cfg = tmp_path / "xltools.toml"
    cfg.write_text("[thresholds]\ncoverage_low = 4.5\ncoverage_high = 6.0\n", encoding="utf-8")
    res = run_cli(good_plan, "--format", "json", "--config", cfg, "--annotate", tmp_path / "out")
    data = json.loads(res.output)
    low = [i for i in data["files"][0]["issues"] if i["code"] == "W-COVERAGE-LOW"]
    wb = openpyxl.load_workbook(good_plan)
    assert [(i["sheet"], i["cell"]) for i in low] == [name_cell(wb, "coverage_ratio")]
    assert "カバレッジ" in low[0]["message"]  # Japanese by default
    assert (tmp_path / "out" / "good.xlsx").exists()
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[thresholds]\ncoverage_low = 'x'\n", encoding="utf-8")
    res = run_cli(good_plan, "--config", bad_cfg)
    assert res.exit_code == 3 and "coverage_low" in res.output and "Traceback" not in res.output


def test_cli_text_output_in_english(good_plan, tmp_path):
    path, _ = _messy(good_plan, tmp_path)
    res = run_cli(path, "--lang", "en")
    assert res.exit_code == 1
    assert "error" in res.output and "E-TYPE" in res.output and "1 file(s): 0 OK, 1 with errors" in res.output


def test_text_output_escapes_what_could_drive_the_terminal(good_plan, tmp_path):
    """File names and typed values come from untrusted workbooks: a CSI (C1) or a
    bidirectional override is shown escaped, and so is an ESC in a file name."""
    wb = openpyxl.load_workbook(good_plan)
    hostile = "\u202e多い\x9b2J"
    path = edit(good_plan, tmp_path / "a\x1b[2Jb.xlsx", {table_cell(wb, "Opportunities", "amount", 2): hostile})
    (report,) = check_files([path], SPEC, SETTINGS, lang="en", now=NOW)
    (typed,) = [i for i in report.issues if i.code == "E-TYPE"]
    assert typed.raw == hostile  # the report keeps the value as typed
    for text in (render([report], "text", "en"), run_cli(path, "--lang", "en").output):
        assert all(ch.isprintable() for ch in text.replace("\n", "")), text
        assert str(tmp_path / "a\\x1b[2Jb.xlsx") in text.splitlines()[0]
        (line,) = [ln for ln in text.splitlines() if "E-TYPE" in ln]
        assert "\\u202e多い\\x9b2J" in line
    res = run_cli(path, "--format", "json")
    assert json.loads(res.output)["files"][0]["file"] == str(path)  # JSON carries the exact values
    assert hostile in [i["raw"] for i in json.loads(res.output)["files"][0]["issues"]]


def test_check_shows_the_coverage_the_workbook_shows(good_plan):
    """The one coverage: the text line and the JSON figures are the in-period figures."""
    r = check(good_plan)
    text = render([r], "text", "ja").splitlines()
    assert text[1] == ("  FY2026Q3: 目標期間の案件合計 180,000,000円 ÷ 売上目標 50,000,000円 = カバレッジ倍率 3.60倍 (適正)"
                       "・加重見込み（目標期間） 66,000,000円・対象期間外の案件合計 20,000,000円")
    assert "Coverage ratio 3.60x (Healthy)" in render([r], "text", "en").splitlines()[1]
    figures = json.loads(render([r], "json"))["files"][0]["figures"]
    assert figures["coverage_ratio"] == pytest.approx(3.6) and figures["period_pipeline"] == 180_000_000
    assert figures["target_start"] == "2026-10-01" and figures["coverage_verdict"] == "ok"
