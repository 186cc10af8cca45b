"""The reader: fields by defined name, tables by name and header label (either
language), rows below tables, stray values, overwritten formulas, _meta checks.
Positions (sheet, A1) and values are asserted; the workbooks are built here with
openpyxl from the spec (defined names + tables + a veryHidden ``_meta``)."""
from __future__ import annotations

import io
import math
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table as XlTable

from xltools.cells import a1, parse_a1, parse_range
from xltools.spec.issues import ISSUE_TYPES
from xltools.spec.spec import load_spec
from xltools.workbook import reader as reader_module
from xltools.workbook.reader import FileProblem, formula_cells, header_key, read_workbook, spec_texts, split_ref

SPEC = load_spec()
META = {"template": "account_plan", "template_version": SPEC.version, "plan_id": "p-1",
        "account_id": "C001", "account_name": "テスト工業", "rep": "山田", "period": "FY2026Q3",
        "language": "ja", "generated_at": "2026-07-01T09:00:00", "generator_version": "0.1.0"}


# -- a small workbook that honours the contract -------------------------------------------------

@dataclass
class Layout:
    """Where the builder put things (ground truth for the assertions)."""

    fields: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (sheet, A1)
    tables: dict[str, tuple[str, int, int, int]] = field(default_factory=dict)  # name -> (sheet, header row, first col, last row)
    columns: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> key -> column
    sheets: dict[str, str] = field(default_factory=dict)  # section key -> sheet name


def build(path: Path, lang: str = "ja", *, meta: dict | None = None, values: dict | None = None,
          rows: dict[str, list[dict]] | None = None, n_rows: int = 3, top: int = 3, left: int = 2,
          sheet_names: dict[str, str] | None = None, order: dict[str, list[str]] | None = None,
          headers: dict[tuple[str, str], str] | None = None, drop_names: set[str] = frozenset(),
          drop_tables: set[str] = frozenset(), meta_state: str = "veryHidden",
          extra=None) -> Layout:
    """Lay out every section of the spec: fields (label | value, defined name), then
    each table (title row, header row, ``n_rows`` data rows) below them."""
    values, rows, order, headers = values or {}, rows or {}, order or {}, headers or {}
    wb = openpyxl.Workbook()
    guide = wb.active
    guide.title = "使い方" if lang == "ja" else "Guide"
    guide["B2"] = SPEC.sections[0].title(lang)
    guide["C4"] = "=COUNTA(B:B)"
    lay = Layout()
    for s in SPEC.sections:
        name = (sheet_names or {}).get(s.key, s.label(lang))
        ws = wb.create_sheet(name)
        lay.sheets[s.key] = name
        ws.cell(1, left, s.title(lang))
        r = top
        for f in s.fields:
            ws.cell(r, left, f.label(lang))
            cell = ws.cell(r, left + 1)
            if f.computed:
                cell.value = "=1+1"
            elif f.key in values:
                cell.value = values[f.key]
                if isinstance(values[f.key], str):
                    cell.data_type = "s"  # text stays text, even "=..."
            if f.key not in drop_names:
                ref = f"'{name.replace(chr(39), chr(39) * 2)}'!${cell.column_letter}${r}"
                wb.defined_names[f.key] = DefinedName(f.key, attr_text=ref)
            lay.fields[f.key] = (name, cell.coordinate)
            r += 1
        r += 1
        for t in s.tables:
            ws.cell(r, left, t.label(lang))
            hr = r + 1
            keys = order.get(t.name, [c.key for c in t.columns])
            lay.columns[t.name] = {}
            for j, key in enumerate(keys):
                col = left + j
                text = headers.get((t.name, key)) or (t.column(key).label(lang) if key in
                                                      [c.key for c in t.columns] else key)
                ws.cell(hr, col, text)
                lay.columns[t.name][key] = col
            data = rows.get(t.name, [])
            last = hr + max(n_rows, len(data))
            for i in range(last - hr):
                row = data[i] if i < len(data) else {}
                for key, col in lay.columns[t.name].items():
                    is_formula = key in [c.key for c in t.columns] and t.column(key).computed
                    c = ws.cell(hr + 1 + i, col)
                    if key in row:
                        c.value = row[key]
                        if isinstance(row[key], str):
                            c.data_type = "s"
                    elif is_formula:
                        c.value = "=1"
            if t.name not in drop_tables:
                ref = f"{a1(hr, left)}:{a1(last, left + len(keys) - 1)}"
                ws.add_table(XlTable(displayName=t.name, ref=ref))
            lay.tables[t.name] = (name, hr, left, last)
            r = last + 3
    lists = wb.create_sheet("_lists")
    lists.sheet_state = "hidden"
    for i, c in enumerate(SPEC.choices("stage").choices, 1):
        lists.cell(i, 1, c.label(lang))
    m = wb.create_sheet("_meta")
    m.sheet_state = meta_state
    for i, (k, v) in enumerate((META | {"language": lang} if meta is None else meta).items(), 1):
        m.cell(i, 1, k)
        m.cell(i, 2, v).data_type = "s"
    if extra:
        extra(wb, lay)
    wb.save(path)
    return lay


def cell_of(plan, sheet: str, ref: str):
    return [c for c in plan.stray if (c.sheet, c.cell) == (sheet, ref)]


def shift(ref: str, dr: int = 0, dc: int = 0) -> str:
    r, c = parse_a1(ref)
    return a1(r + dr, c + dc)


# -- fields ------------------------------------------------------------------------------------------

def test_fields_are_read_by_defined_name_with_positions(tmp_path):
    p = tmp_path / "plan.xlsx"
    lay = build(p, values={"account_name": "テスト工業", "employees": 1200, "sales_target": 5e7,
                           "plan_date": datetime(2026, 7, 1), "rep": "=SUM(A1)"})
    plan = read_workbook(p, SPEC)
    assert plan.missing_fields == [] and plan.missing_tables == []
    assert set(plan.fields) == {f.key for f in SPEC.fields}
    for key, (sheet, ref) in lay.fields.items():
        assert (plan.fields[key].sheet, plan.fields[key].cell) == (sheet, ref)
    assert plan.fields["account_name"].value == "テスト工業"
    assert plan.fields["employees"].value == 1200
    assert plan.fields["sales_target"].value == 5e7
    assert plan.fields["plan_date"].value == date(2026, 7, 1)
    assert plan.fields["rep"].value == "=SUM(A1)"  # a rep's text that looks like a formula stays text
    assert plan.fields["headquarters"].value is None
    # formula fields never carry a (cached) value; intact formulas are not "overwritten"
    assert all(plan.fields[f.key].value is None for f in SPEC.fields if f.computed)
    assert plan.overwritten == []
    assert plan.meta == META
    assert plan.stray == []


def test_missing_and_broken_names_are_recorded_not_raised(tmp_path):
    p = tmp_path / "plan.xlsx"

    def breaks(wb, lay):
        wb.defined_names["rep"] = DefinedName("rep", attr_text="#REF!")
        wb.defined_names["period"] = DefinedName("period", attr_text="'No such sheet'!$C$4")

    build(p, drop_names={"headquarters"}, drop_tables={"Reviews"}, extra=breaks)
    plan = read_workbook(p, SPEC)
    assert sorted(plan.missing_fields) == ["headquarters", "period", "rep"]
    assert plan.missing_tables == ["Reviews"]
    assert "Reviews" not in plan.tables


def test_names_found_case_insensitively_and_sheet_scoped_names_as_fallback(tmp_path):
    p = tmp_path / "plan.xlsx"

    def rescope(wb, lay):
        sheet, ref = lay.fields["account_id"]
        del wb.defined_names["account_id"]
        ws = wb[sheet]
        ws.defined_names["account_id"] = DefinedName("account_id", attr_text=f"'{sheet}'!{ref}")
        sheet, ref = lay.fields["rep"]
        del wb.defined_names["rep"]
        wb.defined_names["REP"] = DefinedName("REP", attr_text=f"'{sheet}'!{ref}")

    lay = build(p, values={"account_id": "C9", "rep": "佐藤"}, extra=rescope)
    plan = read_workbook(p, SPEC)
    assert plan.fields["account_id"].value == "C9" and plan.fields["rep"].value == "佐藤"
    assert (plan.fields["rep"].sheet, plan.fields["rep"].cell) == lay.fields["rep"]


def test_overwritten_formula_field(tmp_path):
    p = tmp_path / "plan.xlsx"

    def overwrite(wb, lay):
        sheet, ref = lay.fields["coverage_ratio"]
        wb[sheet][ref] = 4.2

    lay = build(p, extra=overwrite)
    plan = read_workbook(p, SPEC)
    sheet, ref = lay.fields["coverage_ratio"]
    assert [(k, c.sheet, c.cell, c.value) for k, c in plan.overwritten] == [("coverage_ratio", sheet, ref, 4.2)]
    assert plan.fields["coverage_ratio"].value is None
    assert plan.stray == []


# -- tables ----------------------------------------------------------------------------------------

OPP = [{"opp_id": "O1", "opportunity": "基幹刷新", "amount": 3000, "stage": "提案"},
       {},
       {"opportunity": "保守", "amount": 500, "probability": 0.3}]


def test_table_rows_with_positions_blank_rows_skipped(tmp_path):
    p = tmp_path / "plan.xlsx"
    lay = build(p, rows={"Opportunities": OPP}, n_rows=5)
    plan = read_workbook(p, SPEC)
    rt = plan.tables["Opportunities"]
    sheet, hr, left, last = lay.tables["Opportunities"]
    assert rt.sheet == sheet == lay.sheets["sales_plan"]
    assert rt.ref == f"{a1(hr, left)}:{a1(last, left + len(SPEC.table('Opportunities').columns) - 1)}"
    assert rt.columns == {k: a1(hr, c) for k, c in lay.columns["Opportunities"].items()}
    assert rt.unknown_columns == {} and rt.missing_columns == []
    assert [r.index for r in rt.rows] == [1, 3]  # the blank second row is skipped
    assert not any(r.below_table for r in rt.rows)
    first, third = rt.rows
    cols = lay.columns["Opportunities"]
    assert first.cells["opportunity"].value == "基幹刷新"
    assert first.cells["opportunity"].cell == a1(hr + 1, cols["opportunity"])
    assert first.cells["amount"].value == 3000
    assert first.cells["probability"].value is None  # found column, empty cell: still addressed
    assert first.cells["probability"].cell == a1(hr + 1, cols["probability"])
    assert third.cells["probability"].value == 0.3 and third.cells["amount"].cell == a1(hr + 3, cols["amount"])
    assert first.cells["ltv"].value is None  # formula column: never a cached value
    assert plan.overwritten == [] and plan.stray == []
    # prefilled-free tables with only formula cells read as empty
    assert plan.tables["KPIs"].rows == []


def test_columns_by_label_in_either_language_any_order_tolerant(tmp_path):
    p = tmp_path / "plan.xlsx"
    t = SPEC.table("Contacts")
    keys = [c.key for c in t.columns][::-1]
    heads = {("Contacts", "name"): "  Ｎａｍｅ ",  # en label, full-width, spaces
             ("Contacts", "stance"): "スタンス",  # ja label in an en workbook
             ("Contacts", "last_contact"): "last\ncontact"}
    lay = build(p, "en", order={"Contacts": keys}, headers=heads,
                rows={"Contacts": [{"name": "鈴木", "stance": "Against", "last_contact": datetime(2026, 5, 1)}]})
    plan = read_workbook(p, SPEC)
    rt = plan.tables["Contacts"]
    assert rt.missing_columns == [] and rt.unknown_columns == {}
    sheet, hr, _, _ = lay.tables["Contacts"]
    assert rt.columns["name"] == a1(hr, lay.columns["Contacts"]["name"])
    (row,) = rt.rows
    assert (row.cells["name"].value, row.cells["stance"].value) == ("鈴木", "Against")
    assert row.cells["last_contact"].value == date(2026, 5, 1)


def test_unknown_and_missing_columns(tmp_path):
    p = tmp_path / "plan.xlsx"
    keys = [c.key for c in SPEC.table("Initiatives").columns if c.key != "priority"] + ["メモ欄"]
    lay = build(p, order={"Initiatives": keys},
                rows={"Initiatives": [{"initiative": "DX推進", "メモ欄": "社長案件"}, {"メモ欄": "only memo"}]})
    plan = read_workbook(p, SPEC)
    rt = plan.tables["Initiatives"]
    sheet, hr, _, _ = lay.tables["Initiatives"]
    memo_col = lay.columns["Initiatives"]["メモ欄"]
    assert rt.missing_columns == ["priority"]
    assert rt.unknown_columns == {"メモ欄": a1(hr, memo_col)}
    assert [r.index for r in rt.rows] == [1]  # the row with only an unknown-column value is no row
    assert "メモ欄" not in rt.rows[0].cells
    assert sorted((c.cell, c.value) for c in plan.stray) == sorted(
        [(a1(hr + 1, memo_col), "社長案件"), (a1(hr + 2, memo_col), "only memo")])
    assert all(c.sheet == sheet for c in plan.stray)


def test_duplicate_header_for_one_key_is_an_unknown_column(tmp_path):
    p = tmp_path / "plan.xlsx"
    keys = [c.key for c in SPEC.table("Financials").columns] + ["dup"]
    lay = build(p, order={"Financials": keys}, headers={("Financials", "dup"): "Revenue"},
                rows={"Financials": [{"revenue": 10, "dup": 20}]})
    plan = read_workbook(p, SPEC)
    rt = plan.tables["Financials"]
    _, hr, _, _ = lay.tables["Financials"]
    assert rt.columns["revenue"] == a1(hr, lay.columns["Financials"]["revenue"])
    assert rt.unknown_columns == {"Revenue": a1(hr, lay.columns["Financials"]["dup"])}
    assert [c.value for c in plan.stray] == [20]


def test_overwritten_formula_column(tmp_path):
    p = tmp_path / "plan.xlsx"
    lay = build(p, rows={"Opportunities": [{"opportunity": "A", "amount": 100, "ltv": 999}]})
    plan = read_workbook(p, SPEC)
    _, hr, _, _ = lay.tables["Opportunities"]
    ref = a1(hr + 1, lay.columns["Opportunities"]["ltv"])
    assert [(k, c.cell, c.value) for k, c in plan.overwritten] == [("ltv", ref, 999)]
    assert plan.tables["Opportunities"].rows[0].cells["ltv"].value is None


def test_rows_typed_below_a_table_that_did_not_expand(tmp_path):
    p = tmp_path / "plan.xlsx"
    below: dict[str, int] = {}

    def type_below(wb, lay):
        sheet, hr, left, last = lay.tables["Contacts"]
        ws = wb[sheet]
        cols = lay.columns["Contacts"]
        ws.cell(last + 1, cols["name"], "追加一郎")
        ws.cell(last + 1, cols["stance"], "中立")
        ws.cell(last + 2, cols["note"], "メモ")
        ws.cell(last + 3, cols["title"], "氏名")  # a generator label typed under the table: still a row
        ws.cell(last + 2, cols["contact_id"] + len(cols) + 1, "right of the table")
        ws.cell(last + 5, cols["name"], "after a blank row")  # stray: the blank row ends the table
        below.update(last=last, hr=hr)

    lay = build(p, rows={"Contacts": [{"name": "鈴木", "stance": "好意的"}]}, n_rows=2, extra=type_below)
    plan = read_workbook(p, SPEC)
    rt = plan.tables["Contacts"]
    last = below["last"]
    cols = lay.columns["Contacts"]
    assert [(r.index, r.below_table) for r in rt.rows] == [(1, False), (3, True), (4, True), (5, True)]
    assert rt.rows[3].cells["title"].value == "氏名"
    assert rt.rows[1].cells["name"].value == "追加一郎"
    assert rt.rows[1].cells["name"].cell == a1(last + 1, cols["name"])
    assert rt.rows[2].cells["note"].value == "メモ"
    sheet = lay.sheets["relationship_map"]
    assert sorted((c.sheet, c.cell, c.value) for c in plan.stray) == sorted([
        (sheet, a1(last + 2, cols["contact_id"] + len(cols) + 1), "right of the table"),
        (sheet, a1(last + 5, cols["name"]), "after a blank row")])


def test_renamed_sheets_inserted_rows_moved_tables_still_read(tmp_path):
    p = tmp_path / "plan.xlsx"
    names = {s.key: f"Sheet {i} 'x'" for i, s in enumerate(SPEC.sections)}
    order = {"Opportunities": [c.key for c in SPEC.table("Opportunities").columns][3:]
             + [c.key for c in SPEC.table("Opportunities").columns][:3]}
    lay = build(p, sheet_names=names, top=9, left=5, order=order,
                values={"account_name": "移動後"}, rows={"Opportunities": OPP})
    plan = read_workbook(p, SPEC)
    assert plan.fields["account_name"].value == "移動後"
    assert (plan.fields["account_name"].sheet, plan.fields["account_name"].cell) == lay.fields["account_name"]
    rt = plan.tables["Opportunities"]
    assert rt.sheet == "Sheet 2 'x'"
    assert [r.cells["opportunity"].value for r in rt.rows] == ["基幹刷新", "保守"]
    assert plan.missing_fields == [] and plan.missing_tables == [] and plan.stray == []


# -- stray -----------------------------------------------------------------------------------------

def test_stray_values_everywhere_but_meta_helper_sheets_labels_and_formulas(tmp_path):
    p = tmp_path / "plan.xlsx"

    def scribble(wb, lay):
        wb["使い方"]["F10"] = "メモ：来週確認"
        wb["使い方"]["F11"] = 42
        wb["使い方"]["F12"] = "顧客名"  # a generator label: not stray
        wb["使い方"]["F13"] = "=1+2"  # a formula: not stray
        sheet, ref = lay.fields["account_name"]
        wb[sheet][shift(ref, 0, 1)] = "right of a field"
        wb["_lists"]["D4"] = "list helper"
        wb["_meta"]["D1"] = "meta note"

    lay = build(p, extra=scribble)
    plan = read_workbook(p, SPEC)
    sheet, ref = lay.fields["account_name"]
    assert sorted((c.sheet, c.cell, c.value) for c in plan.stray) == sorted([
        ("使い方", "F10", "メモ：来週確認"), ("使い方", "F11", 42), (sheet, shift(ref, 0, 1), "right of a field")])


def test_a_table_the_rep_added_is_no_hiding_place(tmp_path):
    p = tmp_path / "plan.xlsx"

    def own_table(wb, lay):
        ws = wb["使い方"]
        ws["H20"], ws["I20"] = "メモ", "締切日メモ"
        ws["H21"], ws["I21"] = "要確認", 45000
        ws.add_table(XlTable(displayName="RepNotes", ref="H20:I21"))

    build(p, extra=own_table)
    plan = read_workbook(p, SPEC)
    assert sorted((c.cell, c.value) for c in plan.stray) == [
        ("H20", "メモ"), ("H21", "要確認"), ("I20", "締切日メモ"), ("I21", 45000)]
    assert plan.missing_tables == []


def test_static_texts_given_by_the_caller(tmp_path):
    p = tmp_path / "plan.xlsx"

    def scribble(wb, lay):
        wb["使い方"]["B20"] = "このブックの使い方"

    build(p, extra=scribble)
    texts = spec_texts(SPEC)
    assert [c.value for c in read_workbook(p, SPEC, static_texts=texts).stray] == ["このブックの使い方"]
    assert read_workbook(p, SPEC, static_texts=texts | {"このブックの使い方"}).stray == []
    # with an empty set every label is stray: the set really is what is used
    assert len(read_workbook(p, SPEC, static_texts=set()).stray) > len(SPEC.fields)


# -- _meta ----------------------------------------------------------------------------------------

def test_meta_sheet_may_be_plain_hidden(tmp_path):
    p = tmp_path / "plan.xlsx"
    build(p, meta_state="hidden")
    assert read_workbook(p, SPEC).meta["plan_id"] == "p-1"


@pytest.mark.parametrize("meta, code, value", [
    ({}, "E-NOT-A-PLAN", None),
    ({"template": "other_plan", "template_version": "1.0"}, "E-NOT-A-PLAN", "other_plan"),
    ({"template": "account_plan", "template_version": "0.9"}, "E-TEMPLATE-VERSION", "0.9"),
    ({"template": "account_plan"}, "E-TEMPLATE-VERSION", "-"),
])
def test_meta_problems_are_file_problems(tmp_path, meta, code, value):
    p = tmp_path / "plan.xlsx"
    build(p, meta=meta)
    with pytest.raises(FileProblem) as ei:
        read_workbook(p, SPEC)
    assert ei.value.code == code and ei.value.value == value
    if code == "E-TEMPLATE-VERSION":
        assert SPEC.version in ei.value.detail


def test_workbook_without_meta_sheet(tmp_path):
    p = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "hello"
    wb.save(p)
    with pytest.raises(FileProblem) as ei:
        read_workbook(p, SPEC)
    assert ei.value.code == "E-NOT-A-PLAN"


def test_macro_enabled_workbook_is_read_like_xlsx(tmp_path):
    p = tmp_path / "plan.xlsx"
    build(p, values={"account_name": "マクロ付き"})
    m = tmp_path / "plan.xlsm"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(m, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert read_workbook(m, SPEC).fields["account_name"].value == "マクロ付き"


def test_reading_never_modifies_the_file(tmp_path):
    p = tmp_path / "plan.xlsx"
    build(p, rows={"Opportunities": OPP})
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    read_workbook(p, SPEC)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before


def test_a_number_that_is_no_date_in_a_date_cell_does_not_fail_the_file(tmp_path, capfd, monkeypatch):
    p = tmp_path / "plan.xlsx"

    def dates(wb, lay):
        for key, value in (("plan_date", -3e16), ("aps_date", datetime(2026, 8, 1)), ("employees", -5),
                           ("fiscal_year_end_month", 99_999_999_999)):
            sheet, ref = lay.fields[key]
            wb[sheet][ref] = value
            wb[sheet][ref].number_format = "yyyy/mm/dd"
        sheet, ref = lay.fields["org_updated"]
        wb[sheet][ref] = datetime(2026, 6, 1)
        wb[sheet][ref].number_format = "yyyy/mm/dd"

    build(p, extra=dates)
    plan = read_workbook(p, SPEC)
    # python-calamine panics on -3e16 and reads -5 as 00:00 in a date-formatted cell: that
    # sheet is read without number formats, numbers as typed and dates as Excel serials
    assert plan.fields["plan_date"].value == -3e16
    assert plan.fields["employees"].value == -5
    assert plan.fields["fiscal_year_end_month"].value == 99_999_999_999
    assert plan.fields["aps_date"].value == 46235.0  # 2026-08-01
    assert plan.fields["org_updated"].value == date(2026, 6, 1)  # other sheets keep their dates
    assert "panicked" not in capfd.readouterr().err
    # the safety net: a python-calamine failure on a sheet retries it without number formats
    monkeypatch.setattr(reader_module, "_impossible_dates", lambda *a: False)
    again = read_workbook(p, SPEC)
    assert again.fields["plan_date"].value == -3e16 and again.fields["aps_date"].value == 46235.0


# -- building blocks ------------------------------------------------------------------------------

def test_formula_cells_scan():
    xml = (b'<x:worksheet xmlns:x="m"><x:sheetData>'
           b'<x:row r="2"><x:c r="B2"><x:f>1+1</x:f><x:v>2</x:v></x:c><x:c r="C2" t="s"><x:v>0</x:v></x:c></x:row>'
           b'<x:row r="3"><x:c r="B3"><x:f t="shared" ref="B3:B4" si="0">A3</x:f></x:c></x:row>'
           b'<x:row r="4"><x:c r="B4"><x:f t="shared" si="0"/></x:c></x:row>'
           b'<x:row r="5"><x:c r="A5"><x:f t="array" ref="A5:B5">A1:B1</x:f></x:c></x:row>'
           b'<x:row><x:c><x:v>1</x:v></x:c><x:c><x:f>9</x:f></x:c></x:row>'
           b'</x:sheetData><x:extLst><x14:dataValidation><xm:f>_lists!$A$1:$A$6</xm:f></x14:dataValidation></x:extLst>'
           b'</x:worksheet>')
    # B2, shared B3:B4, the array A5:B5, and B6 of a row and cells without r attributes
    assert formula_cells(xml) == {(2, 2), (3, 2), (4, 2), (5, 1), (5, 2), (6, 2)}
    assert formula_cells(b"<worksheet><sheetData/></worksheet>") == set()


_WS = st.sampled_from([" ", "\u3000", "\n", "\t"])


@given(label=st.sampled_from(sorted({c.label(lang) for t in SPEC.tables for c in t.columns for lang in ("ja", "en")})),
       pre=st.lists(_WS, max_size=2), post=st.lists(_WS, max_size=2), wide=st.booleans(), upper=st.booleans())
def test_header_key_tolerates_width_space_and_case(label, pre, post, wide, upper):
    variant = label.upper() if upper else label
    if wide:  # ASCII -> full-width forms
        variant = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in variant)
    assert header_key("".join(pre) + variant + "".join(post)) == header_key(label)


@given(sheet=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="[]:*?/\\"), min_size=1, max_size=31),
       row=st.integers(1, 1_048_576), col=st.integers(1, 16384))
def test_split_ref_round_trips_quoted_sheet_names(sheet, row, col):
    ref = a1(row, col)
    quoted = "'" + sheet.replace("'", "''") + "'!$" + ref.rstrip("0123456789") + "$" + str(row)
    assert split_ref(quoted) == (sheet, "$" + ref.rstrip("0123456789") + "$" + str(row))
    assert split_ref("=" + quoted + ",'x'!$A$1")[0] == sheet


# -- damaged content behind a valid zip: only FileProblem ---------------------------------------------

_BASE: list[bytes] = []


def base_plan(tmp_path: Path) -> bytes:
    if not _BASE:
        build(tmp_path / "base.xlsx", rows={"Opportunities": OPP}, n_rows=2)
        _BASE.append((tmp_path / "base.xlsx").read_bytes())
    return _BASE[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_parts_raise_only_file_problems(tmp_path, data):
    src = zipfile.ZipFile(io.BytesIO(base_plan(tmp_path)))
    names = [n for n in src.namelist() if n.endswith((".xml", ".rels"))]
    target = data.draw(st.sampled_from(names))
    content = src.read(target)
    how = data.draw(st.sampled_from(["truncate", "garbage", "flip"]))
    if how == "truncate":
        content = content[:data.draw(st.integers(0, len(content)))]
    elif how == "garbage":
        content = data.draw(st.binary(max_size=200))
    else:
        b = bytearray(content)
        for _ in range(data.draw(st.integers(1, 5))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.sampled_from(b'<>/"=&x\x00 ' + bytes([0xff])))
        content = bytes(b)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, content if n == target else src.read(n))
    p = tmp_path / "damaged.xlsx"
    p.write_bytes(out.getvalue())
    try:
        read_workbook(p, SPEC)
    except FileProblem as e:
        assert ISSUE_TYPES[e.code].scope == "file"


# -- LibreOffice -------------------------------------------------------------------------------------

def lo_convert(soffice: str, src: Path, outdir: Path, profile: Path) -> Path:
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{profile}",
                    "--convert-to", "xlsx", "--outdir", str(outdir), str(src)],
                   check=True, capture_output=True, timeout=180)
    return outdir / src.name


@pytest.mark.libreoffice
def test_workbook_saved_by_libreoffice_reads_the_same(tmp_path, soffice):
    p = tmp_path / "plan.xlsx"
    build(p, values={"account_name": "LO工業", "sales_target": 1000},
          sheet_names={"overview": "Sheet with space"}, rows={"Opportunities": OPP})
    lo = lo_convert(soffice, p, tmp_path / "lo", tmp_path / "profile")
    a, b = read_workbook(p, SPEC), read_workbook(lo, SPEC)
    with zipfile.ZipFile(lo) as z:
        assert b'state="hidden"' in z.read("xl/workbook.xml")  # LibreOffice: _meta only hidden
    assert b.meta == a.meta
    assert {k: (c.sheet, c.cell, c.value) for k, c in b.fields.items()} == \
           {k: (c.sheet, c.cell, c.value) for k, c in a.fields.items()}
    for name, ta in a.tables.items():
        tb = b.tables[name]
        assert (tb.sheet, tb.ref, tb.columns) == (ta.sheet, ta.ref, ta.columns)
        assert [(r.index, {k: (c.cell, c.value) for k, c in r.cells.items()}) for r in tb.rows] == \
               [(r.index, {k: (c.cell, c.value) for k, c in r.cells.items()}) for r in ta.rows]
    assert b.stray == a.stray == [] and b.overwritten == a.overwritten == []


# == real generated workbooks (ja and en), also as saved by LibreOffice =================================

from xltools.spec.config import Settings  # noqa: E402
from xltools.workbook.generate import PlanInfo, generate_workbook, static_texts  # noqa: E402

SETTINGS = Settings()
GSPEC = SETTINGS.apply(SPEC)
TEXTS = static_texts(GSPEC, SETTINGS, "ja") | static_texts(GSPEC, SETTINGS, "en")
LANGS = ("ja", "en")


class _Generated(dict):
    """lang -> bytes of a freshly generated workbook (a short repr: hypothesis prints it)."""

    def __repr__(self) -> str:
        return f"<generated workbooks {sorted(self)}>"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("gen")
    out = _Generated()
    for lang in LANGS:
        p = d / f"plan_{lang}.xlsx"
        generate_workbook(GSPEC, SETTINGS, PlanInfo(account_name="テスト工業株式会社", rep="山田太郎", period="FY2026Q3",
                                                   account_id="C-001", target=50_000_000, lang=lang), p)
        out[lang] = p.read_bytes()
    return out


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def name_target(wb, key: str) -> tuple[str, str]:
    ((sheet, ref),) = list(wb.defined_names[key].destinations)
    return sheet, ref.replace("$", "")


def table_of(wb, name: str):
    for ws in wb.worksheets:
        if name in ws.tables:
            return ws, ws.tables[name]
    raise KeyError(name)


def put(ws, ref: str, value) -> None:
    cell = ws[ref]
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # what the rep typed is text, even "=..."


def rename(wb, ws, new: str) -> None:
    """Rename a sheet the way Excel does: defined names follow."""
    old = ws.title
    ws.title = new
    q = lambda n: "'" + n.replace("'", "''") + "'!"  # noqa: E731
    for dn in wb.defined_names.values():
        dn.attr_text = dn.attr_text.replace(q(old), q(new)).replace(old + "!", q(new))


@pytest.mark.parametrize("lang", LANGS)
def test_generated_workbook_reads_by_its_contract(generated, lang, tmp_path):
    p = tmp_path / "plan.xlsx"
    p.write_bytes(generated[lang])
    wb = load(generated[lang])
    plan = read_workbook(p, GSPEC, static_texts=TEXTS)
    assert plan.missing_fields == [] and plan.missing_tables == [] and plan.overwritten == []
    assert (plan.meta["template"], plan.meta["language"], plan.meta["period"]) == ("account_plan", lang, "FY2026Q3")
    for f in GSPEC.fields:
        assert (plan.fields[f.key].sheet, plan.fields[f.key].cell) == name_target(wb, f.key)
    assert plan.fields["account_name"].value == "テスト工業株式会社"
    assert plan.fields["period"].value == "FY2026Q3"
    for t in GSPEC.tables:
        ws, xt = table_of(wb, t.name)
        rt = plan.tables[t.name]
        assert (rt.sheet, rt.ref) == (ws.title, xt.ref)
        assert rt.missing_columns == [] and rt.unknown_columns == {}
        top, left, _, _ = parse_range(xt.ref)
        assert rt.columns == {c.key: a1(top, left + i) for i, c in enumerate(t.columns)}
    crit = [r.cells["criterion"].value for r in plan.tables["SelectionScores"].rows]
    assert crit == GSPEC.choices("selection_criterion").labels(lang)  # prefilled rows
    assert [r.cells["kpi"].value for r in plan.tables["KPIs"].rows] == GSPEC.choices("kpi").labels(lang)
    assert all(not plan.tables[t].rows for t in ("Opportunities", "Contacts", "Activities", "Financials"))


_FRESH_STRAY: dict[str, list[tuple]] = {}


def generator_stray(generated, lang: str) -> list[tuple]:
    """(sheet, cell, value) of the stray cells of a freshly generated workbook: the
    generator's own non-text cells (see test_fresh_generated_workbook_has_no_stray)."""
    if lang not in _FRESH_STRAY:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "fresh.xlsx"
            p.write_bytes(generated[lang])
            _FRESH_STRAY[lang] = [(c.sheet, c.cell, c.value)
                                  for c in read_workbook(p, GSPEC, static_texts=TEXTS).stray]
    return _FRESH_STRAY[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_fresh_generated_workbook_has_no_stray(generated, lang):
    assert generator_stray(generated, lang) == []


def fill(wb, lang: str) -> tuple:
    """What a rep does to a generated workbook; returns the (renamed) Opportunities sheet,
    the table's bounds and its columns."""
    sheet, ref = name_target(wb, "account_name")
    put(wb[sheet], ref, "改名工業")
    sheet, ref = name_target(wb, "sales_target")
    put(wb[sheet], ref, "5,000万円")
    ws, xt = table_of(wb, "Opportunities")
    top, left, bottom, right = parse_range(xt.ref)
    heads = [c.key for c in GSPEC.table("Opportunities").columns]
    col = {k: left + i for i, k in enumerate(heads)}
    for i in range(bottom - top):  # every pre-sized row: 60 opportunities
        r = top + 1 + i
        put(ws, a1(r, col["opportunity"]), f"案件{i + 1}")
        put(ws, a1(r, col["amount"]), 1000 * (i + 1))
        put(ws, a1(r, col["stage"]), GSPEC.choices("stage").labels(lang)[i % 6])
    put(ws, a1(top + 2, col["ltv"]), 12345)  # overwrites the LTV formula
    put(ws, a1(bottom + 1, col["opportunity"]), "=表の下の案件")  # under the table, text that looks like a formula
    put(ws, a1(bottom + 1, col["amount"]), 777)
    put(ws, a1(top + 5, right + 2), "右のメモ")  # right of the table
    guide = wb["使い方" if lang == "ja" else "Guide"]
    put(guide, "J3", "ガイドへのメモ")
    rename(wb, ws, "売上計画（改）" if lang == "ja" else "Sales plan (mine)")
    return ws.title, top, left, bottom, right, col


@pytest.mark.libreoffice
def test_filled_generated_workbooks_read_alike_from_openpyxl_and_libreoffice(generated, tmp_path, soffice):
    from xltools.workbook.libreoffice import recalculate_many

    paths = []
    where = {}
    for lang in LANGS:
        wb = load(generated[lang])
        where[lang] = fill(wb, lang)
        p = tmp_path / f"filled_{lang}.xlsx"
        wb.save(p)
        paths.append(p)
    lo_paths = recalculate_many(paths, tmp_path / "lo", soffice=soffice)
    for lang, p, lo in zip(LANGS, paths, lo_paths):
        sheet, top, left, bottom, right, col = where[lang]
        for path in (p, lo):
            plan = read_workbook(path, GSPEC, static_texts=TEXTS)
            assert plan.missing_fields == [] and plan.missing_tables == []
            assert plan.fields["account_name"].value == "改名工業"
            assert plan.fields["sales_target"].value == "5,000万円"
            assert plan.fields["sales_target"].sheet == sheet
            rt = plan.tables["Opportunities"]
            assert rt.sheet == sheet and len(rt.rows) == 61
            assert [r.index for r in rt.rows] == list(range(1, 62))
            assert rt.rows[0].cells["amount"].value == 1000 and rt.rows[0].cells["amount"].cell == a1(top + 1, col["amount"])
            last = rt.rows[-1]
            assert last.below_table and last.cells["opportunity"].value == "=表の下の案件"
            assert (last.cells["amount"].cell, last.cells["amount"].value) == (a1(bottom + 1, col["amount"]), 777)
            assert [(k, c.sheet, c.cell, c.value) for k, c in plan.overwritten] == [
                ("ltv", sheet, a1(top + 2, col["ltv"]), 12345)]
            assert sorted((c.sheet, c.cell, c.value) for c in plan.stray) == sorted(generator_stray(generated, lang) + [
                (sheet, a1(top + 5, right + 2), "右のメモ"),
                ("使い方" if lang == "ja" else "Guide", "J3", "ガイドへのメモ")])


# -- THE invariant: every non-empty cell the rep wrote is in a field, a table row or stray -------------

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: s not in TEXTS and "_x" not in s)
_VALUE = st.one_of(_TEXT, st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False, width=32),
                   st.dates(date(1990, 1, 1), date(2100, 12, 31)), st.booleans())


def _targets(wb) -> st.SearchStrategy:
    """Random cells, plus cells right of and under every table, and field cells."""
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    anywhere = st.tuples(st.sampled_from(visible), st.integers(1, 90), st.integers(1, 20))
    near = []
    for t in GSPEC.tables:
        ws, xt = table_of(wb, t.name)
        top, left, bottom, right = parse_range(xt.ref)
        near.append(st.tuples(st.just(ws.title), st.integers(bottom + 1, bottom + 4), st.integers(left, right)))
        near.append(st.tuples(st.just(ws.title), st.integers(top, bottom + 2), st.integers(right + 1, right + 2)))
        near.append(st.tuples(st.just(ws.title), st.integers(top + 1, bottom), st.integers(left, right)))
    fields = [(s, *parse_a1(r)) for s, r in (name_target(wb, f.key) for f in GSPEC.fields)]
    return st.one_of(anywhere, st.one_of(near), st.sampled_from(fields))


def _serial(v) -> float | None:
    """A date/time value calamine derived from a number in a date-formatted cell, as that number."""
    if isinstance(v, datetime):
        return (v - datetime(1899, 12, 30)).total_seconds() / 86400
    if isinstance(v, date):
        return float((v - date(1899, 12, 30)).days)
    if isinstance(v, dt_time):
        return (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6) / 86400
    if isinstance(v, timedelta):
        return v.total_seconds() / 86400
    return None


def _same(read, written) -> bool:
    if isinstance(written, bool) or isinstance(read, bool):
        return read is written or read == written
    if isinstance(written, (int, float)) and _serial(read) is not None:  # a number in a date-formatted cell
        return math.isclose(_serial(read), written, rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(written, date):  # a sheet with impossible dates reads its dates as serials
        return (read == written or (isinstance(read, datetime) and read.date() == written and read.time().hour == 0)
                or (isinstance(read, float) and read == _serial(written)))
    if isinstance(written, (int, float)):  # openpyxl writes 16 significant digits, as Excel does
        return isinstance(read, (int, float)) and math.isclose(read, written, rel_tol=1e-14, abs_tol=1e-300)
    return read == written


_TEMPLATES: dict[str, dict] = {}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), lang=st.sampled_from(LANGS), do_rename=st.booleans())
def test_every_cell_the_rep_wrote_is_read_somewhere(generated, tmp_path, data, lang, do_rename):
    wb = load(generated[lang])
    targets = _TEMPLATES.setdefault(lang, {}).setdefault("targets", _targets(wb))
    writes: dict[tuple[str, int, int], object] = {}
    for _ in range(data.draw(st.integers(1, 12), label="n")):
        sheet, r, c = data.draw(targets, label="cell")
        cell = wb[sheet].cell(r, c)
        if type(cell).__name__ == "MergedCell" or (sheet, r, c) in writes:
            # a second value in one cell keeps the first one's number format (a date
            # typed, then 1: Excel shows 1900/01/01), so each cell is written once
            continue
        value = data.draw(_VALUE, label="value")
        put(wb[sheet], cell.coordinate, value)
        writes[(sheet, r, c)] = value
    renamed = {}
    if do_rename:
        ws = wb[data.draw(st.sampled_from([ws.title for ws in wb.worksheets[1:] if ws.sheet_state == "visible"]))]
        renamed[ws.title] = f"R{len(ws.title)} {lang}'s"
        rename(wb, ws, renamed[ws.title])
    p = tmp_path / "rep.xlsx"
    wb.save(p)
    plan = read_workbook(p, GSPEC, static_texts=TEXTS)
    seen: dict[tuple[str, str], object] = {}
    for c in plan.fields.values():
        seen[(c.sheet, c.cell)] = c.value
    for rt in plan.tables.values():
        for row in rt.rows:
            for c in row.cells.values():
                seen[(c.sheet, c.cell)] = c.value
        for header, ref in rt.unknown_columns.items():
            seen[(rt.sheet, ref)] = header
    for c in plan.stray:
        seen[(c.sheet, c.cell)] = c.value
    for _, c in plan.overwritten:
        seen[(c.sheet, c.cell)] = c.value
    for (sheet, r, c), value in writes.items():
        key = (renamed.get(sheet, sheet), a1(r, c))
        assert key in seen, f"{key} = {value!r} was lost"
        got = seen[key]
        header = any(key == (rt.sheet, ref) for rt in plan.tables.values() for ref in rt.unknown_columns.values())
        assert header or _same(got, value) or (got is None and key in {(c.sheet, c.cell) for c in plan.fields.values()}
                                               and any(f.computed for f in GSPEC.fields
                                                       if (plan.fields[f.key].sheet, plan.fields[f.key].cell) == key)), \
            f"{key}: wrote {value!r}, read {got!r}"


def test_formula_cells_are_the_same_with_or_without_prefixes():
    """A part without prefixed tags is scanned with patterns that skip the prefix; a part
    with one is scanned as before: the same formula cells either way."""
    import re

    from xltools.workbook.reader import _impossible_dates
    from xltools.workbook.sheetscan import has_prefixed_tags

    xml = (b'<worksheet><sheetData>'
           b'<row r="2"><c r="B2"><f>1+1</f><v>2</v></c><c r="C2" s="1"><v>-5</v></c></row>'
           b'<row r="3"><c r="B3"><f t="shared" ref="B3:B4" si="0">A3</f></c></row>'
           b'<row r="4"><c r="B4"><f t="shared" si="0"/></c></row>'
           b'<row r="5"><c r="A5"><f t="array" ref="A5:B5">A1:B1</f></c></row>'
           b'<row><c><v>1</v></c><c><f>9</f></c></row>'
           b'</sheetData></worksheet>')
    prefixed = re.sub(rb"<(/?)([A-Za-z])", rb"<\1x:\2", xml).replace(b"<x:worksheet", b'<x:worksheet xmlns:x="m"', 1)
    assert not has_prefixed_tags(xml) and has_prefixed_tags(prefixed)
    assert formula_cells(xml) == formula_cells(prefixed) == {(2, 2), (3, 2), (4, 2), (5, 1), (5, 2), (6, 2)}
    # a negative number in a date-formatted cell is found either way
    assert _impossible_dates(xml, {1}) and _impossible_dates(prefixed, {1})
    assert not _impossible_dates(xml, {2}) and not _impossible_dates(prefixed, {2})
