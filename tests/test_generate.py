"""The generated workbook honours the contract and guides the rep (structure tests).

Cells are found the way every other tool finds them: fields by defined name, table
columns by table name and header label, never by fixed positions.
"""
from __future__ import annotations

import csv
import re
import time
import uuid
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils import range_boundaries

from xltools.checking.roster import RosterError, parse_yen, read_roster
from xltools.cli import cli
from xltools.generation import generate_from_roster
from xltools.spec.config import Settings, settings_from_dict
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import parse_period
from xltools.spec.spec import LANGS, SpecError, build_spec, default_spec_path, load_spec
from xltools.workbook.generate import (
    LISTS_SHEET,
    META_SHEET,
    GenerateError,
    PlanInfo,
    build_workbook,
    escape_header,
    generate_workbook,
    static_texts,
    translate_formula,
)
from xltools.workbook.xlwrite import write_table, write_value

SPEC = Settings().apply(load_spec())
INFO = dict(account_name="株式会社サンプル", rep="山田太郎", period="FY2026Q3", account_id="C-0001",
            target=30_000_000)


# -- helpers: find things by name, as the reader does ------------------------------------------

def name_cell(wb, key):
    """(worksheet, cell) of a workbook-scoped defined name pointing at one cell."""
    dests = list(wb.defined_names[key].destinations)
    assert len(dests) == 1, key
    sheet, ref = dests[0]
    return wb[sheet], wb[sheet][ref.replace("$", "")]


def name_range(wb, name):
    """(worksheet, min_col, min_row, max_col, max_row) of a defined name."""
    sheet, ref = list(wb.defined_names[name].destinations)[0]
    return (wb[sheet], *range_boundaries(ref.replace("$", "")))


def find_table(wb, name):
    for ws in wb.worksheets:
        if name in ws.tables:
            return ws, ws.tables[name]
    raise KeyError(name)


def table_columns(wb, name):
    """(worksheet, {header text: column index}, first data row, last data row)."""
    ws, t = find_table(wb, name)
    c1, r1, c2, r2 = range_boundaries(t.ref)
    headers = {ws.cell(r1, c).value: c for c in range(c1, c2 + 1)}
    return ws, headers, r1 + 1, r2


def column_cells(wb, table, key, lang):
    ws, headers, first, last = table_columns(wb, table)
    col = headers[SPEC.table(table).column(key).label(lang)]
    return ws, [ws.cell(r, col) for r in range(first, last + 1)]


def covers(sqref, ws_col, first, last) -> bool:
    """Does a data-validation / conditional-format range cover column ``ws_col`` rows first..last?"""
    for rng in str(sqref).split():
        c1, r1, c2, r2 = range_boundaries(rng)
        if c1 <= ws_col <= c2 and r1 <= first and r2 >= last:
            return True
    return False


def effective(ws, cell):
    """What Excel applies to a cell: its own style, or its column's style when the cell
    has no record of its own (how the generator keeps workbooks small)."""
    return cell if cell.has_style else ws.column_dimensions[cell.column_letter]


def input_fill_rule(ws):
    """The conditional format that paints the tables' input cells yellow."""
    found = [(cf, r) for cf in ws.conditional_formatting for r in cf.rules if r.formula == ["TRUE"]]
    assert len(found) <= 1
    return found[0] if found else (None, None)


def validation_for(ws, cell):
    found = [dv for dv in ws.data_validations.dataValidation if cell.coordinate in dv.sqref]
    assert len(found) <= 1, cell.coordinate
    return found[0] if found else None


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    d = tmp_path_factory.mktemp("books")
    out = {}
    for lang in LANGS:
        p = generate_workbook(SPEC, Settings(), PlanInfo(**INFO, lang=lang), d / f"plan_{lang}.xlsx")
        out[lang] = (p, openpyxl.load_workbook(p))
    return out


# -- the contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_every_field_has_its_defined_name_on_its_section_sheet(books, lang):
    _, wb = books[lang]
    for s in SPEC.sections:
        for f in s.fields:
            ws, cell = name_cell(wb, f.key)
            assert ws.title == s.label(lang), f.key
            assert wb.defined_names[f.key].localSheetId is None  # workbook scope
            if f.formula:
                assert cell.data_type == "f" and "[@" not in cell.value, f.key
    _, cell = name_cell(wb, "account_name")
    assert cell.value == "株式会社サンプル"
    assert name_cell(wb, "period")[1].value == "FY2026Q3"
    assert name_cell(wb, "account_id")[1].value == "C-0001"
    assert name_cell(wb, "sales_target")[1].value == 30_000_000
    assert name_cell(wb, "amount_unit")[1].value == SPEC.choices("amount_unit").get("yen").label(lang)


@pytest.mark.parametrize("lang", LANGS)
def test_every_table_exists_with_localised_headers_and_presized_rows(books, lang):
    _, wb = books[lang]
    for s in SPEC.sections:
        for t in s.tables:
            ws, xt = find_table(wb, t.name)
            assert ws.title == s.label(lang)
            _, headers, first, last = table_columns(wb, t.name)
            assert list(headers) == [c.label(lang) for c in t.columns]
            assert last - first + 1 == max(t.rows, len(SPEC.choices(t.column(t.prefill["column"]).choices).choices)
                                           if t.prefill else 0)
            # formula columns are filled in every pre-sized row, in the long this-row form
            for c in t.columns:
                if c.formula:
                    _, cells = column_cells(wb, t.name, c.key, lang)
                    assert all(x.data_type == "f" and "[@" not in x.value for x in cells), (t.name, c.key)
                    assert all(f"{t.name}[[#This Row]," in x.value for x in cells), (t.name, c.key)


@pytest.mark.parametrize("lang", LANGS)
def test_sheets_summary_first_and_active_meta_and_lists_very_hidden(books, lang):
    _, wb = books[lang]
    titles = [s.label(lang) for s in SPEC.sections]
    assert wb.sheetnames[3:3 + len(titles)] == titles
    assert wb.active.title == wb.sheetnames[0] == ("サマリー" if lang == "ja" else "Summary")
    assert wb.sheetnames[1:3] == (["ホワイトスペース", "使い方"] if lang == "ja" else ["Whitespace", "Guide"])
    assert wb[META_SHEET].sheet_state == "veryHidden" and wb[LISTS_SHEET].sheet_state == "veryHidden"
    assert all(ws.sheet_state == "visible" for ws in wb.worksheets if not ws.title.startswith("_"))


@pytest.mark.parametrize("lang", LANGS)
def test_meta_sheet_is_complete_in_spec_order(books, lang):
    _, wb = books[lang]
    ws = wb[META_SHEET]
    keys = [ws.cell(r, 1).value for r in range(1, len(SPEC.meta_keys) + 1)]
    assert keys == list(SPEC.meta_keys)
    meta = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert meta["template"] == SPEC.template and meta["template_version"] == SPEC.version
    assert uuid.UUID(meta["plan_id"]).version == 4
    assert (meta["account_id"], meta["account_name"], meta["rep"], meta["period"], meta["language"]) == (
        "C-0001", "株式会社サンプル", "山田太郎", "FY2026Q3", lang)
    assert datetime.fromisoformat(meta["generated_at"]).tzinfo is not None
    assert meta["generator_version"] and meta["predecessor_plan_id"] is None


def test_plan_ids_are_fresh_unless_given(tmp_path):
    a = generate_workbook(SPEC, Settings(), PlanInfo(**INFO), tmp_path / "a.xlsx")
    b = generate_workbook(SPEC, Settings(), PlanInfo(**INFO, plan_id="11111111-2222-4333-8444-555555555555",
                                                     predecessor_plan_id="p-0"), tmp_path / "b.xlsx")
    ma = dict(openpyxl.load_workbook(a)[META_SHEET].iter_rows(values_only=True))
    mb = dict(openpyxl.load_workbook(b)[META_SHEET].iter_rows(values_only=True))
    assert ma["plan_id"] != mb["plan_id"] == "11111111-2222-4333-8444-555555555555"
    assert mb["predecessor_plan_id"] == "p-0"


# -- what a rep sees ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_every_closed_list_has_a_dropdown_over_the_table_rows(books, lang):
    _, wb = books[lang]
    checked = 0
    for f in SPEC.iter_all_fields():
        if not f.choices or f.formula:
            continue
        if f.table:
            ws, cells = column_cells(wb, f.table, f.key, lang)
        else:
            ws, cell = name_cell(wb, f.key)
            cells = [cell]
        dv = validation_for(ws, cells[0])
        assert dv is not None and dv.type == "list", f.key
        spare = 100 if f.table else 0  # and the unlocked rows below a table
        assert covers(dv.sqref, cells[0].column, cells[0].row, cells[-1].row + spare), f.key
        lws, c1, r1, c2, r2 = name_range(wb, dv.formula1)
        assert lws.title == LISTS_SHEET
        assert [lws.cell(r, c1).value for r in range(r1, r2 + 1)] == SPEC.choices(f.choices).labels(lang)
        assert dv.showErrorMessage is (not f.open), f.key  # open lists accept free text
        if not f.open:
            assert dv.errorStyle in (None, "stop")
        checked += 1
    assert checked >= 15


SOURCES = {("Opportunities", "key_person"), ("Opportunities", "initiative"), ("Contacts", "reports_to"),
           ("Activities", "contact"), ("Activities", "related_opp"), ("Asks", "related_opp"), ("Asks", "related_contact")}


@pytest.mark.parametrize("lang", LANGS)
def test_dropdowns_fed_from_the_workbook_point_at_the_source_column(books, lang):
    _, wb = books[lang]
    seen = set()
    for f in SPEC.iter_all_fields():
        if not f.source:
            continue
        seen.add((f.table, f.key))
        ws, cells = column_cells(wb, f.table, f.key, lang)
        dv = validation_for(ws, cells[0])
        assert dv.type == "list" and covers(dv.sqref, cells[0].column, cells[0].row, cells[-1].row)
        src_table, _, src_col = f.source.partition(".")
        src_ws, src_cells = column_cells(wb, src_table, src_col, lang)
        nws, c1, r1, c2, r2 = name_range(wb, dv.formula1)
        assert nws.title == src_ws.title and c1 == c2 == src_cells[0].column
        assert r1 == src_cells[0].row and r2 >= src_cells[-1].row + 100  # table rows and the rows below
    assert seen == SOURCES


@pytest.mark.parametrize("lang", LANGS)
def test_input_messages_in_the_workbook_language(books, lang):
    _, wb = books[lang]
    for f in SPEC.iter_all_fields():
        if not f.help or f.formula:
            continue
        ws, cell = name_cell(wb, f.key) if not f.table else (lambda w, c: (w, c[0]))(*column_cells(wb, f.table, f.key, lang))
        dv = validation_for(ws, cell)
        assert dv.showInputMessage and dv.prompt == f.help(lang)[:255] and len(dv.prompt) <= 255, f.key
        assert dv.promptTitle == f.label(lang)[:32] and len(dv.promptTitle) <= 32


@pytest.mark.parametrize("lang", LANGS)
def test_formula_cells_locked_input_cells_unlocked_sheets_protected(books, lang):
    _, wb = books[lang]
    for ws in wb.worksheets:
        assert ws.protection.sheet and not ws.protection.password, ws.title
    for f in SPEC.fields:
        _, cell = name_cell(wb, f.key)
        assert cell.protection.locked is (not f.is_input), f.key
        assert cell.fill.fgColor.rgb.endswith("FFF2CC" if f.is_input else "E7E6E6"), f.key
    for t in SPEC.tables:
        for c in t.columns:
            ws, cells = column_cells(wb, t.name, c.key, lang)
            below = ws.cell(cells[-1].row + 100, cells[0].column)  # the last unlocked row below
            cf, rule = input_fill_rule(ws)
            painted = covers(cf.sqref, cells[0].column, cells[0].row, cells[-1].row)
            if c.is_input:
                assert all(effective(ws, x).protection.locked is False for x in cells + [below]), (t.name, c.key)
                assert painted and rule.dxf.fill.bgColor.rgb.endswith("FFF2CC"), (t.name, c.key)
            else:
                assert all(x.protection.locked and x.fill.fgColor.rgb.endswith("E7E6E6") for x in cells)
                assert effective(ws, below).protection.locked and not painted, (t.name, c.key)
    # the yellow has the lowest priority: a stance or overdue colour wins
    for ws in wb.worksheets:
        cf, rule = input_fill_rule(ws)
        if rule is not None:
            assert rule.priority == max(r.priority for c in ws.conditional_formatting for r in c.rules)


@pytest.mark.parametrize("lang", LANGS)
def test_number_formats_fonts_freeze_and_print_setup(books, lang):
    _, wb = books[lang]
    assert name_cell(wb, "sales_target")[1].number_format == "#,##0"
    assert name_cell(wb, "coverage_ratio")[1].number_format == ('0.0"倍"' if lang == "ja" else '0.0"x"')
    assert name_cell(wb, "plan_date")[1].number_format == "yyyy/mm/dd"
    ws, cells = column_cells(wb, "Opportunities", "probability", lang)
    assert effective(ws, cells[0]).number_format == '0"%"'
    ws, cells = column_cells(wb, "Opportunities", "expected_close", lang)
    assert effective(ws, cells[-1]).number_format == "yyyy/mm/dd"
    ws, cells = column_cells(wb, "Contacts", "name", lang)
    assert effective(ws, cells[0]).number_format == "@"  # text stays text (IDs keep leading zeros)
    assert column_cells(wb, "KPIs", "achievement", lang)[1][0].number_format == "0.0%"
    font = "Meiryo UI" if lang == "ja" else "Calibri"
    assert name_cell(wb, "account_name")[1].font.name == font
    for s in SPEC.sections:
        ws = wb[s.label(lang)]
        assert ws.freeze_panes
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows
    ws, _, first, _ = table_columns(wb, "Opportunities")
    assert ws.freeze_panes == f"A{first}"  # headers stay visible while scrolling the opportunities
    opp = SPEC.table("Opportunities")
    ws, cells = column_cells(wb, "Opportunities", "opportunity", lang)
    assert ws.column_dimensions[cells[0].column_letter].width >= opp.column("opportunity").width


@pytest.mark.parametrize("lang", LANGS)
def test_conditional_formats_stance_verdict_overdue(books, lang):
    _, wb = books[lang]

    def rules_on(ws, cell):
        return [r for cf in ws.conditional_formatting for r in cf.rules
                if covers(cf.sqref, cell.column, cell.row, cell.row) and r.formula != ["TRUE"]
                and not r.formula[0].startswith("AND(LEN(")]  # not-counted rules: the next test

    ws, cells = column_cells(wb, "Contacts", "stance", lang)
    stance = SPEC.choices("stance")
    formulas = {r.formula[0] for r in rules_on(ws, cells[-1])}
    assert formulas == {f'"{stance.get(k).label(lang)}"' for k in ("favourable", "against", "unknown")}
    ws, cell = name_cell(wb, "coverage_verdict")
    assert {r.formula[0] for r in rules_on(ws, cell)} == {f'"{c.label(lang)}"' for c in SPEC.choices("verdict").choices}
    for table, key in (("Opportunities", "expected_close"), ("Activities", "planned_date"), ("Reviews", "due")):
        ws, cells = column_cells(wb, table, key, lang)
        rules = rules_on(ws, cells[0])
        assert len(rules) == 1 and "TODAY()" in rules[0].formula[0], (table, key)
        other, keys = SPEC.table(table).column(key).overdue_unless
        for k in keys:
            label = SPEC.choices(SPEC.table(table).column(other).choices).get(k).label(lang)
            assert f'"{label}"' in rules[0].formula[0]


@pytest.mark.parametrize("lang", LANGS)
def test_values_the_formulas_cannot_count_are_highlighted_and_type_checked(books, lang):
    """A number or date typed as text (or a stage not on the list) is highlighted at once,
    and the type validation warns but never blocks (the reader still accepts 1,200万)."""
    from xltools.workbook.generate import NOT_COUNTED_FILL

    _, wb = books[lang]

    def not_counted(ws, cell):
        return [r for cf in ws.conditional_formatting for r in cf.rules
                if covers(cf.sqref, cell.column, cell.row, cell.row) and r.formula[0].startswith("AND(LEN(")]

    def validation(ws, cell):
        (dv,) = [dv for dv in ws.data_validations.dataValidation
                 if covers(str(dv.sqref), cell.column, cell.row, cell.row)]
        return dv

    for table, key, kind in (("Opportunities", "amount", "decimal"), ("Opportunities", "expected_close", "date"),
                             ("Opportunities", "probability", "decimal"), ("KPIs", "actual", "decimal")):
        ws, cells = column_cells(wb, table, key, lang)
        for cell in (cells[0], cells[-1]):
            (rule,) = not_counted(ws, cell)
            assert "NOT(ISNUMBER(" in rule.formula[0] and rule.dxf.fill.bgColor.rgb.endswith(NOT_COUNTED_FILL)
            dv = validation(ws, cell)
            assert (dv.type, dv.errorStyle, dv.showErrorMessage) == (kind, "warning", True), (table, key)
    ws, cells = column_cells(wb, "Opportunities", "stage", lang)
    (rule,) = not_counted(ws, cells[0])
    assert "MATCH(" in rule.formula[0] and "_list_stage" in rule.formula[0]
    ws, cell = name_cell(wb, "sales_target")
    (rule,) = not_counted(ws, cell)
    assert rule.formula[0] == f"AND(LEN({cell.coordinate})>0,NOT(ISNUMBER({cell.coordinate})))"
    assert validation(ws, cell).errorStyle == "warning"
    ws, cells = column_cells(wb, "Opportunities", "opportunity", lang)
    assert not_counted(ws, cells[0]) == []  # text is text


@pytest.mark.parametrize("lang", LANGS)
def test_breakdown_quarters_are_labelled_with_real_fiscal_quarters(books, lang):
    _, wb = books[lang]
    labels = []
    for n in range(1, 9):
        ws, cell = name_cell(wb, f"close_q{n}")
        labels.append(ws.cell(cell.row, cell.column - 1).value)
    # the books are FY2026Q3 plans: this fiscal year and the next
    assert labels == [f'="FY{2026 + (n - 1) // 4}Q{(n - 1) % 4 + 1}"' for n in range(1, 9)]


@pytest.mark.parametrize("lang", LANGS)
def test_guide_has_a_formula_checklist_row_per_section(books, lang):
    _, wb = books[lang]
    ws = wb["使い方" if lang == "ja" else "Guide"]
    labels = {s.label(lang): s for s in SPEC.sections}
    rows = {ws.cell(r, 2).value: r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value in labels}
    assert set(rows) == set(labels)
    for label, r in rows.items():
        s = labels[label]
        values = [ws.cell(r, c).value for c in range(4, 9)]
        # totals are formulas too (a constant would read back as a rep's stray value)
        assert values[1] == f"={sum(f.required for f in s.fields)}"
        assert values[3] == f"={sum(bool(t.required_columns) for t in s.tables) if s.required else 0}"
        assert isinstance(values[4], str) and values[4].startswith("=IF(")
    r = rows[SPEC.section("sales_plan").label(lang)]
    assert ws.cell(r, 4).value == "=(LEN(sales_target)>0)"
    assert "Opportunities[[" in ws.cell(r, 6).value


# -- formulas ---------------------------------------------------------------------------------------

def test_formula_translation_uses_long_structured_references_and_period_quarters():
    settings = Settings()
    per = parse_period("FY2026Q3")
    ltv = translate_formula(SPEC, settings, SPEC.table("Opportunities").column("ltv"), "ja", per)
    assert "Opportunities[[#This Row],[金額]]" in ltv and '"継続"' in ltv and "[@" not in ltv
    q1 = translate_formula(SPEC, settings, SPEC.field("close_q1"), "en", per)
    assert "DATE(2026,4,1)" in q1 and "DATE(2026,7,1)" in q1 and "Opportunities[[Expected close]]" in q1
    assert '"Lost"' in q1
    q4 = translate_formula(SPEC, settings, SPEC.field("close_q4"), "ja", per)
    assert "DATE(2027,1,1)" in q4 and "DATE(2027,4,1)" in q4
    jan = settings_from_dict({"fiscal_year_start_month": 1})
    q1_jan = translate_formula(SPEC, jan, SPEC.field("close_q1"), "ja", parse_period("FY2026Q3", 1))
    assert "DATE(2026,1,1)" in q1_jan and "DATE(2026,4,1)" in q1_jan
    verdict = translate_formula(SPEC, settings_from_dict({"thresholds": {"coverage_low": 2.5}}),
                                SPEC.field("coverage_verdict"), "ja", per)
    assert "coverage_ratio<2.5" in verdict and "coverage_ratio>5" in verdict and '"不足"' in verdict


def test_special_characters_in_headers_are_escaped():
    assert escape_header("a[b]#c'd") == "a'[b']'#c''d"
    raw = __import__("yaml").safe_load(default_spec_path().read_text(encoding="utf-8"))
    opp = next(t for s in raw["sections"] for t in s.get("tables") or [] if t["name"] == "Opportunities")
    next(c for c in opp["columns"] if c["key"] == "amount")["label"]["en"] = "Amount [#'JPY]"
    spec = build_spec(raw)
    f = translate_formula(spec, Settings(), spec.table("Opportunities").column("ltv"), "en", parse_period("FY2026"))
    assert "Opportunities[[#This Row],[Amount '['#''JPY']]]" in f
    assert "Opportunities[[Amount '['#''JPY']]]" in translate_formula(
        spec, Settings(), spec.field("plan_total"), "en", parse_period("FY2026"))


# -- prefill ---------------------------------------------------------------------------------------

def _row(i, **values):
    return Row(values=values, sheet="", row=0, index=i)


def test_prefill_writes_labels_scaled_amounts_dates_and_keeps_text(tmp_path):
    contacts = [_row(i, name=f"担当{i}", stance="favourable" if i % 2 else "against", relationship=3)
                for i in range(1, 46)]  # more rows than the 40 pre-sized ones
    plan = PlanData(
        meta={}, file="old.xlsx",
        fields={"amount_unit": "thousand", "industry": "automotive", "sales_target": 12_345_000,
                "employees": 5000, "org_updated": date(2026, 4, 1), "plan_total": 999,
                "business_situation": "=HYPERLINK(\"http://x\")", "headquarters": "１，２００万",
                "rep": "前任者", "account_name": "旧社名"},
        tables={"Contacts": contacts,
                "Opportunities": [_row(1, opportunity="更新案件", amount=1_500_500, stage="won",
                                       expected_close=date(2026, 11, 30), ltv=1),
                                  _row(2, opportunity="+81 campaign", amount="１，２００万", stage="独自ステージ")]})
    p = generate_workbook(SPEC, Settings(), PlanInfo(**{**INFO, "target": None}, lang="ja"), tmp_path / "p.xlsx",
                          prefill=plan)
    wb = openpyxl.load_workbook(p)
    assert name_cell(wb, "amount_unit")[1].value == "千円"
    assert name_cell(wb, "industry")[1].value == "自動車・輸送機器"
    assert name_cell(wb, "sales_target")[1].value == 12_345  # yen / 1000
    assert name_cell(wb, "org_updated")[1].value == datetime(2026, 4, 1)
    assert name_cell(wb, "plan_total")[1].data_type == "f"  # formulas are never overwritten
    cell = name_cell(wb, "business_situation")[1]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")  # text, not a formula
    assert name_cell(wb, "headquarters")[1].value == "１，２００万"
    assert name_cell(wb, "rep")[1].value == "山田太郎"  # the new plan's rep and account win
    assert name_cell(wb, "account_name")[1].value == "株式会社サンプル"
    ws, names = column_cells(wb, "Contacts", "name", "ja")
    assert len(names) == 45 and names[-1].value == "担当45"
    assert names[-1].protection.locked is False and names[-1].number_format == "@"  # prefilled: input style
    assert covers(input_fill_rule(ws)[0].sqref, names[-1].column, names[0].row, names[-1].row)
    _, stances = column_cells(wb, "Contacts", "stance", "ja")
    assert stances[0].value == "好意的" and stances[1].value == "アンチ"
    dv = validation_for(ws, stances[-1])
    assert dv is not None and covers(dv.sqref, stances[-1].column, stances[0].row, stances[-1].row + 100)
    assert ws.column_dimensions[names[-1].column_letter].protection.locked is False
    _, amounts = column_cells(wb, "Opportunities", "amount", "ja")
    assert amounts[0].value == 1500.5 and amounts[1].value == "１，２００万"
    _, ltv = column_cells(wb, "Opportunities", "ltv", "ja")
    assert all(c.data_type == "f" for c in ltv)
    _, stage = column_cells(wb, "Opportunities", "stage", "ja")
    assert stage[0].value == "受注" and stage[1].value == "独自ステージ"
    _, opp = column_cells(wb, "Opportunities", "opportunity", "ja")
    assert opp[1].data_type == "s" and opp[1].value == "+81 campaign" and opp[1].quotePrefix


def test_selection_criteria_and_kpis_are_prefilled_with_settings_weights(tmp_path):
    st = settings_from_dict({"selection_weights": {"company_size": 40, "growth": 5}})
    p = generate_workbook(load_spec(), st, PlanInfo(**INFO, lang="en"), tmp_path / "s.xlsx")
    wb = openpyxl.load_workbook(p)
    _, crit = column_cells(wb, "SelectionScores", "criterion", "en")
    _, weight = column_cells(wb, "SelectionScores", "weight", "en")
    labels = SPEC.choices("selection_criterion").labels("en")
    assert [c.value for c in crit[:len(labels)]] == labels
    assert weight[0].value == 40 and weight[1].value == 5 and weight[2].value == 15
    assert all(c.protection.locked for c in weight)  # weights come from the company settings
    _, kpi = column_cells(wb, "KPIs", "kpi", "en")
    assert [c.value for c in kpi[:5]] == SPEC.choices("kpi").labels("en")


# -- text safety, static texts -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "=cmd|' /C calc'!A0", "+81-3", "-5", "@SUM(A1)", "=HYPERLINK(\"x\")"])
def test_write_value_keeps_formula_like_text_as_text(tmp_path, text):
    wb = openpyxl.Workbook()
    write_value(wb.active["A1"], text)
    write_table(wb.active, "T", ["h", "=h2"], [[text, 1]], top=3)
    wb.save(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    for ref in ("A1", "A4", "B3"):
        assert ws[ref].data_type == "s" and ws[ref].quotePrefix, ref
    assert ws["A1"].value == text
    with zipfile.ZipFile(tmp_path / "t.xlsx") as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()


def test_account_and_rep_names_that_look_like_formulas_stay_text(tmp_path):
    evil = "=WEBSERVICE(\"http://x\")"
    p = generate_workbook(SPEC, Settings(), PlanInfo(evil, "@rep", "FY2026Q3", team_members="-a, -b"),
                          tmp_path / "e.xlsx")
    with zipfile.ZipFile(p) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "WEBSERVICE" in xml and "<f>WEBSERVICE" not in xml
    wb = openpyxl.load_workbook(p)
    assert name_cell(wb, "account_name")[1].data_type == "s"
    assert dict(wb[META_SHEET].iter_rows(values_only=True))["account_name"] == evil


@pytest.mark.parametrize("lang", LANGS)
def test_static_texts_are_exactly_the_generators_own_visible_text(books, lang):
    _, wb = books[lang]
    texts = static_texts(load_spec(), Settings(), lang)
    value_cells = set()
    for f in SPEC.fields:
        ws, cell = name_cell(wb, f.key)
        value_cells.add((ws.title, cell.coordinate))
    seen = set()
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "s" and c.value and (ws.title, c.coordinate) not in value_cells:
                    seen.add(c.value)
    assert seen <= texts
    assert {s.label(lang) for s in SPEC.sections} <= texts
    assert SPEC.choices("kpi").labels(lang)[0] in texts
    assert SPEC.table("Opportunities").column("amount").label(lang) in texts
    assert "株式会社サンプル" not in texts


# -- arguments and files ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [dict(account_name=" "), dict(rep=""), dict(lang="fr"), dict(target=-1),
                                 dict(period="FY20X"), dict(target=1.5)])
def test_bad_arguments_are_clear_errors(tmp_path, bad):
    with pytest.raises(GenerateError):
        generate_workbook(SPEC, Settings(), PlanInfo(**{**INFO, **bad}), tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())


def test_cli_output_must_be_xlsx(tmp_path):
    r = CliRunner().invoke(cli, ["generate", "--account", "a", "--rep", "b", "--period", "FY2026",
                                 "-o", str(tmp_path / "plan.xls")])
    assert r.exit_code == 2 and ".xlsx" in r.output and not list(tmp_path.iterdir())


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["sections"][0]["groups"][0]["fields"].append(
        {"key": "kpis", "label": {"ja": "重複", "en": "Clash"}, "type": "text"}), "KPIs"),
    (lambda d: d["sections"][1].update(label={"ja": "使い方", "en": "Guide"}), "unique"),
    (lambda d: d["sections"][1].update(label={"ja": "History", "en": "History"}), "History"),
])
def test_names_excel_would_repair_are_refused(tmp_path, mutate, match):
    import yaml

    raw = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    mutate(raw)
    with pytest.raises(SpecError, match=match):
        build_workbook(build_spec(raw), Settings(), PlanInfo(**INFO))


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"previous version")
    from xltools.workbook import outfile

    def boom(wb, filename):
        Path(filename).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outfile, "write_xlsx", boom)
    with pytest.raises(OSError):
        generate_workbook(SPEC, Settings(), PlanInfo(**INFO), target)
    assert target.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_no_repair_prompt_causes(books, tmp_path):
    """The classic reasons for Excel's repair prompt, checked on the saved XML."""
    for lang, (path, wb) in books.items():
        with zipfile.ZipFile(path) as z:
            tables = [n for n in z.namelist() if n.startswith("xl/tables/")]
            names = [re.search(r'displayName="([^"]+)"', z.read(n).decode()).group(1) for n in tables]
            assert len(names) == len(set(n.casefold() for n in names)) == len(SPEC.tables)
            assert "_xlfn." not in "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
        for ws in wb.worksheets:
            for t in ws.tables.values():
                c1, r1, c2, r2 = range_boundaries(t.ref)
                assert [ws.cell(r1, c).value for c in range(c1, c2 + 1)] == [c.name for c in t.tableColumns]
                assert all(isinstance(ws.cell(r1, c).value, str) for c in range(c1, c2 + 1))
                for m in ws.merged_cells.ranges:  # no merged cell overlaps a table
                    assert m.max_row < r1 or m.min_row > r2 or m.max_col < c1 or m.min_col > c2
            for dv in ws.data_validations.dataValidation:
                assert len(dv.formula1 or "") <= 255 and not (dv.formula1 or "").startswith("=")
                if dv.type == "list":
                    assert dv.formula1 in wb.defined_names  # list sources via defined names
            assert len(ws.title) <= 31
        for name in wb.defined_names:
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(r"[A-Za-z]{1,3}\d+", name)


# -- rosters --------------------------------------------------------------------------------------

ROSTER_HEADERS_JA = ["担当営業", "顧客名", "顧客コード", "売上目標", "言語", "チームメンバー", "メモ"]


def _roster_xlsx(path, rows, headers=ROSTER_HEADERS_JA):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2026年度 第3四半期 名簿"])  # a title row above the header is fine
    ws.append(headers)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_read_roster_ja_xlsx_with_errors_naming_row_and_column(tmp_path):
    p = _roster_xlsx(tmp_path / "roster.xlsx", [
        ["山田太郎", "株式会社A", "A001", "3,000万", "", "佐藤、鈴木", "x"],
        ["", "株式会社B", "B001", 1000, "ja", None, None],   # row 4: rep missing
        ["田中", "株式会社C", 12345, "たくさん", "en", None, None],  # row 5: bad target
        [None, None, None, None, None, None, None],  # blank row: skipped silently
        ["鈴木", "株式会社D", None, None, "fr", None, None],  # row 7: bad language
        ["高橋", "Ｅ社", None, 5e6, "English", None, None],
    ])
    roster = read_roster(p, SPEC)
    assert [(e.row, e.rep, e.account_name, e.account_id, e.target, e.lang) for e in roster] == [
        (3, "山田太郎", "株式会社A", "A001", 30_000_000, None, ), (8, "高橋", "Ｅ社", None, 5_000_000, "en")]
    assert roster[0].team_members == "佐藤、鈴木"
    errs = [(i.code, i.row, i.cell, i.field) for i in roster.errors]
    assert errs == [("E-ROSTER-REQUIRED", 4, "A4", "rep"), ("E-ROSTER-VALUE", 5, "D5", "sales_target"),
                    ("E-ROSTER-VALUE", 7, "E7", None)]
    assert "D5" in roster.errors[1].message("en") and "5" in roster.errors[1].message("ja")


def test_a_duplicate_rep_and_account_row_is_a_roster_error(tmp_path):
    p = _roster_xlsx(tmp_path / "roster.xlsx", [
        ["山田太郎", "株式会社A", "A001", None, "", None, None],
        ["山田太郎", "株式会社Ａ（本社）", "a001", None, "", None, None],  # row 4: the same account by its code
        ["佐藤", "株式会社A", "A001", None, "", None, None],                # another rep: a team, not a duplicate
        ["鈴木", "株式会社B", None, None, "", None, None],
        ["鈴木　", "株式会社Ｂ", None, None, "", None, None],               # row 7: the same by name
    ])
    roster = read_roster(p, SPEC)
    assert [e.row for e in roster] == [3, 5, 6]
    assert [(i.code, i.row, i.cell, i.params["first"]) for i in roster.errors] == [
        ("E-ROSTER-DUPLICATE", 4, "B4", 3), ("E-ROSTER-DUPLICATE", 7, "B7", 6)]
    msg = roster.errors[0].message("en")
    assert "row 4" in msg and "row 3" in msg and roster.errors[0].message("ja") != msg
    res = generate_from_roster(SPEC, Settings(), p, "FY2026Q3", tmp_path / "out")
    assert len(res.paths) == 3 and [i.row for i in res.errors] == [4, 7]


def test_read_roster_csv_en_headers_cp932_and_missing_columns(tmp_path):
    p = tmp_path / "roster.csv"
    with open(p, "w", encoding="cp932", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Account name", "Account manager", "Target", "Lang"])
        w.writerow(["株式会社Ａ", "山田", "￥1,200,000", "日本語"])
    roster = read_roster(p, SPEC)
    assert [(e.account_name, e.rep, e.target, e.lang) for e in roster] == [("株式会社Ａ", "山田", 1_200_000, "ja")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,owner\nA,B\n", encoding="utf-8")
    with pytest.raises(RosterError, match="担当営業"):
        read_roster(bad, SPEC)
    with pytest.raises(RosterError):
        read_roster(tmp_path / "missing.xlsx", SPEC)
    (tmp_path / "r.xls").write_bytes(b"\xd0\xcf")
    with pytest.raises(RosterError, match=".xls"):
        read_roster(tmp_path / "r.xls", SPEC)


@pytest.mark.parametrize("text, yen", [("30000000", 30_000_000), ("３，０００万円", 30_000_000), ("1億2000万", 120_000_000),
                                       ("3千万", 30_000_000), ("¥1,200,000", 1_200_000), (1.5e6, 1_500_000),
                                       ("1.5万", 15_000)])
def test_parse_yen(text, yen):
    assert parse_yen(text) == yen


@pytest.mark.parametrize("text", ["", "abc", "-5", "万", "1万2億", True, "1,2,3x"])
def test_parse_yen_rejects(text):
    with pytest.raises(ValueError):
        parse_yen(text)


def test_generate_from_roster_in_parallel_with_unique_safe_names(tmp_path):
    rows = [["山田", f"株式会社{i % 5}", f"C{i}", 10_000_000, "en" if i == 3 else "", None, None] for i in range(10)]
    rows.append(["山田", "株式会社0", "C99", "bad", "", None, None])  # bad row: reported, others still made
    rows.append(["山田/花子", 'A:B*C?"<>|', "C100", None, "", None, None])
    p = _roster_xlsx(tmp_path / "roster.xlsx", rows)
    t = time.perf_counter()
    res = generate_from_roster(load_spec(), Settings(), p, "fy2026q3", tmp_path / "out", jobs=2)
    elapsed = time.perf_counter() - t
    assert len(res.paths) == 11 and [(i.code, i.row) for i in res.errors] == [("E-ROSTER-VALUE", 13)]
    names = sorted(p.name for p in res.paths)
    assert len({n.casefold() for n in names}) == 11
    assert "FY2026Q3_株式会社0_山田.xlsx" in names and "FY2026Q3_株式会社0_山田_2.xlsx" in names
    assert "FY2026Q3_A_B_C" + "_" * 6 + "山田_花子.xlsx" in names
    assert all(p.exists() for p in res.paths)
    langs = {}
    for path in res.paths:
        meta = dict(openpyxl.load_workbook(path, read_only=True)[META_SHEET].iter_rows(values_only=True))
        langs[meta["account_id"]] = meta["language"]
        assert meta["period"] == "FY2026Q3"
    assert langs["C3"] == "en" and langs["C4"] == "ja"
    assert res.summary("en", "out").startswith("Wrote 11 workbook(s)") and "skipped" in res.summary("en")
    assert elapsed < 30


def test_prefill_lookup_is_used_per_roster_row(tmp_path):
    p = _roster_xlsx(tmp_path / "roster.xlsx", [["山田", "株式会社A", "A1", None, "", None, None],
                                                 ["佐藤", "株式会社B", "B1", None, "", None, None]])
    old_id = str(uuid.uuid4())
    plans = {"A1": PlanData(meta={"predecessor_plan_id": old_id}, fields={"corporate_strategy": "中期計画2027"},
                            tables={})}
    res = generate_from_roster(load_spec(), Settings(), p, "FY2026Q4", tmp_path / "o",
                               prefill_lookup=lambda e: plans.get(e.account_id))
    values = {}
    for path in res.paths:
        wb = openpyxl.load_workbook(path)
        meta = {r[0].value: r[1].value for r in wb[META_SHEET].iter_rows()}
        values[name_cell(wb, "account_id")[1].value] = (name_cell(wb, "corporate_strategy")[1].value,
                                                        meta["predecessor_plan_id"])
    # a hand-over records the plan it continues; a new account has no predecessor
    assert values == {"A1": ("中期計画2027", old_id), "B1": (None, None)}


# -- command line ---------------------------------------------------------------------------------

def test_cli_generate_one_plan(tmp_path):
    r = CliRunner().invoke(cli, ["generate", "--account", "株式会社サンプル", "--rep", "山田", "--period", "FY2026Q3",
                                 "--target", "3,000万", "--lang", "en", "--account-id", "X1",
                                 "--team-members", "佐藤", "-o", str(tmp_path / "p.xlsx")])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "p.xlsx")
    assert name_cell(wb, "sales_target")[1].value == 30_000_000
    assert name_cell(wb, "team_members")[1].value == "佐藤"
    assert wb.sheetnames[0] == "Summary" and wb.sheetnames[2] == "Guide"


def test_cli_generate_default_name_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["generate", "--account", "A/B", "--rep", "C", "--period", "fy2026q1"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "FY2026Q1_A_B_C.xlsx").exists()


def test_cli_generate_roster_reports_bad_rows_and_exits_1(tmp_path):
    p = _roster_xlsx(tmp_path / "roster.xlsx", [["山田", "株式会社A", "A1", None, "", None, None],
                                                 ["", "株式会社B", "B1", None, "", None, None]])
    r = CliRunner().invoke(cli, ["generate", "--roster", str(p), "--period", "FY2026Q3",
                                 "--out-dir", str(tmp_path / "out"), "--lang", "en"])
    assert r.exit_code == 1
    assert "E-ROSTER-REQUIRED" in r.output and "A4" in r.output and "Wrote 1 workbook" in r.output
    assert len(list((tmp_path / "out").glob("*.xlsx"))) == 1


@pytest.mark.parametrize("args", [
    ["--period", "FY2026Q3"],
    ["--period", "FY2026Q3", "--roster", "{roster}"],
    ["--period", "FY2026Q3", "--roster", "{roster}", "--out-dir", "o", "--rep", "x"],
    ["--period", "nonsense", "--account", "a", "--rep", "b"],
    ["--period", "FY2026", "--account", "a", "--rep", "b", "--target", "lots"],
])
def test_cli_generate_usage_errors_have_no_traceback(tmp_path, args):
    roster = _roster_xlsx(tmp_path / "roster.xlsx", [])
    r = CliRunner().invoke(cli, ["generate", *[a.format(roster=roster) for a in args]])
    assert r.exit_code in (1, 2) and "Traceback" not in r.output and "Error" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


# -- saving: xltools' writer writes what openpyxl's save writes ---------------------------------

def _parts(path):
    with zipfile.ZipFile(path) as z:
        return [(n, re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b"", z.read(n)))
                for n in z.namelist()]


def _odd_cells_book():
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.worksheet.formula import ArrayFormula

    wb = openpyxl.Workbook()
    wb.properties.created = datetime(2026, 10, 1, 9, 0)  # not the real clock: both copies made alike
    ws = wb.active
    values = ["plain", " leading", "trailing ", "   ", "", "a & b < c > d \"q\" 'x'", "行\n改行", "=text?", 0, -1,
              1.5, 1e20, 1 / 3, 10 ** 18, float("nan"), True, False, date(2026, 10, 1), datetime(2026, 10, 1, 9, 30)]
    for i, v in enumerate(values, 1):
        ws.cell(row=i, column=1).value = v
        ws.cell(row=i, column=2, value=v).font = Font(b=True)
    ws["C1"] = "=SUM(A9:A12)"
    ws["C2"] = '=IF(A1="plain","&<>","")'
    ws["C3"] = ArrayFormula("C3:C4", "=A9:A10*2")
    ws["C5"] = CellRichText(["rich ", TextBlock(InlineFont(b=True), "bold")])
    ws["C6"] = "with a comment"
    ws["C6"].comment = Comment("note", "me")
    ws["C7"] = "a link"
    ws["C7"].hyperlink = "https://example.com/"
    ws["D1"].font = Font(i=True)  # styled, empty
    ws.merge_cells("E1:F3")
    ws.row_dimensions[30].height = 40  # a row with no cells
    ws.row_dimensions[2].height = 25
    wb.create_sheet("second")["A1"] = "x"
    return wb


def test_write_xlsx_writes_what_openpyxl_saves_part_for_part(tmp_path):
    from xltools.testing.folders import corpus_entries, entry_info, make_entry_plan
    from xltools.workbook.outfile import write_xlsx

    e = corpus_entries(1, seed=5)[0]
    plan = make_entry_plan(e, SPEC, Settings(), seed=5)
    for name, make in (("odd", _odd_cells_book),
                       ("plan", lambda: build_workbook(SPEC, Settings(), entry_info(e, seed=5), plan))):
        make().save(tmp_path / f"{name}-openpyxl.xlsx")
        write_xlsx(make(), tmp_path / f"{name}-xltools.xlsx")
        ours, theirs = _parts(tmp_path / f"{name}-xltools.xlsx"), _parts(tmp_path / f"{name}-openpyxl.xlsx")
        # the one documented difference (xltools.workbook.cellxml): a text of spaces only keeps
        # xml:space="preserve", which openpyxl leaves out (Excel would read it back empty)
        theirs = [(n, x.replace(b"<t>   </t>", b'<t xml:space="preserve">   </t>')) for n, x in theirs]
        assert [n for n, _ in ours] == [n for n, _ in theirs]
        for (n, a), (_, b) in zip(ours, theirs):
            assert a == b, f"{name}: {n} differs"
        if name == "odd":  # the odd cells reached the workbook: comments, links, merged cells
            xml = dict(ours)["xl/worksheets/sheet1.xml"]
            assert b"<hyperlink " in xml and b'<mergeCell ref="E1:F3"' in xml and "xl/comments/comment1.xml" in dict(ours)
