"""The plan prints like a deliverable.

Print setup is asserted on the generated parts; a filled 33-deal plan is then printed to
PDF by headless LibreOffice and its pages are counted and read back (``pdfinfo``,
``pdftotext``): one page per sheet, every deal on paper, no page of empty input rows.
The formula print area is evaluated by LibreOffice too (a probe cell holding the same
expression) so that the row Excel prints up to is the row xltools pins for LibreOffice.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime, timezone
from xml.etree import ElementTree as ET

import openpyxl
import pytest

from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.testing import corpus
from xltools.workbook import printing
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.libreoffice import pdf_many, recalculate_many

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
NOW = datetime(2026, 10, 12, 3, tzinfo=timezone.utc)
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
DEALS = 33


def plan_33():
    """A clean corpus plan with exactly 33 opportunities (the first seed that has them)."""
    for seed in range(500):
        clean, _ = corpus.make_plan_pair(random.Random(seed), SPEC, SETTINGS,
                                         account=corpus.Account("株式会社印刷&テスト", "P1"), rep="山田",
                                         team=("佐藤",), period="FY2026Q3", as_of=date(2026, 10, 12), messy=0.0)
        if len(clean.rows("Opportunities")) == DEALS:
            return clean
    raise AssertionError("no 33-deal plan in the corpus seeds")


#: sheets before the section sheets: the summary, the whitespace map and the guide
FRONT = 3


def formula_print_areas(path):
    """The formula print areas (the section sheets'; the summary and the whitespace map
    have fixed one-page areas)."""
    return {k: v for k, v in defined_print_areas(path).items() if "INDEX(" in v}


def defined_print_areas(path):
    """``{sheet title: formula}`` of the sheet-scoped ``_xlnm.Print_Area`` names, read from
    the XML (openpyxl drops formula print areas on load)."""
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("xl/workbook.xml"))
    sheets = [s.get("name") for s in root.find("m:sheets", NS)]
    return {sheets[int(d.get("localSheetId"))]: d.text for d in root.iter(f"{{{NS['m']}}}definedName")
            if d.get("name") == "_xlnm.Print_Area"}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    d = tmp_path_factory.mktemp("print")
    info = dict(account_name="株式会社印刷&テスト", rep="山田", period="FY2026Q3", account_id="P1", generated_at=NOW)
    filled = generate_workbook(SPEC, SETTINGS, PlanInfo(**info), d / "filled.xlsx", prefill=plan_33())
    blank = generate_workbook(SPEC, SETTINGS, PlanInfo(**info, lang="en"), d / "blank.xlsx")
    return d, filled, blank


@pytest.mark.parametrize("which", ["filled", "blank"])
def test_every_sheet_prints_a4_landscape_with_titles_header_footer_and_no_gridlines(plans, which):
    _, filled, blank = plans
    path = filled if which == "filled" else blank
    lang = "ja" if which == "filled" else "en"
    wb = printing.load_workbook_quietly(path)
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert len(visible) == FRONT + len(SPEC.sections)
    for ws in visible:
        ps = ws.page_setup
        assert (ps.orientation, int(ps.paperSize), ps.fitToWidth) == ("landscape", 9, 1), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        # the summary, the whitespace map and the guide on one page each, sheets grow down
        assert ps.fitToHeight == (1 if ws in visible[:FRONT] else 0)
        assert ws.sheet_view.showGridLines is False and not ws.print_options.gridLines
        # literal "&" of the account name doubled (a single one starts a header code)
        assert "株式会社印刷&&テスト　FY2026Q3" in ws.oddHeader.left.text
        assert ws.oddHeader.center.text.endswith("&A")
        assert ws.oddHeader.right.text.endswith(printing.CONFIDENTIAL) and "社外秘 / Confidential" == printing.CONFIDENTIAL
        assert ws.oddFooter.center.text.endswith("&P / &N ページ" if lang == "ja" else "Page &P of &N")
        if ws not in visible[:FRONT]:
            assert ws.print_title_rows, ws.title


def test_print_area_is_a_formula_ending_at_the_last_used_row(plans):
    _, filled, _ = plans
    areas = formula_print_areas(filled)
    names = {s.label("ja"): s for s in SPEC.sections}
    assert set(areas) == set(names)  # every section sheet; the guide prints its used range
    fixed = {k: v for k, v in defined_print_areas(filled).items() if k not in areas}
    assert set(fixed) == {"サマリー", "ホワイトスペース"}  # one fixed page each
    wb = printing.load_workbook_quietly(filled)
    sales = SPEC.section("sales_plan").label("ja")
    ws = wb[sales]
    header_row = openpyxl.utils.range_boundaries(ws.tables["Opportunities"].ref)[1]
    f = areas[sales]
    assert f.startswith(f"'{sales}'!$A$1:INDEX('{sales}'!$A:$")
    # the input columns of the table and the spare rows below it are looked at
    assert f"ROW('{sales}'!$A${header_row + 1}:$A${header_row + 60 + 100})" in f
    assert printing.used_last_row(ws) == header_row + DEALS


def test_amount_headings_name_the_unit_and_long_text_wraps(plans):
    _, filled, blank = plans
    wb = printing.load_workbook_quietly(filled)
    ws = wb[SPEC.section("sales_plan").label("ja")]
    header_row = openpyxl.utils.range_boundaries(ws.tables["Opportunities"].ref)[1]
    title = ws.cell(header_row - 1, 2).value
    assert title == '="案件"&"（金額単位："&amount_unit&"）"'
    heads = {ws.cell(header_row, c).value: c for c in range(2, 30) if ws.cell(header_row, c).value}
    for key in ("opportunity", "next_step"):
        col = heads[SPEC.table("Opportunities").column(key).label("ja")]
        assert ws.cell(header_row + 1, col).alignment.wrap_text, key
    # a long prefilled next step grows its row: never cut on paper
    cases = wb[SPEC.section("success_cases").label("ja")]
    first = openpyxl.utils.range_boundaries(cases.tables["SuccessCases"].ref)[1] + 1
    assert cases.row_dimensions[first].height >= 2 * printing.LINE_POINTS
    en = printing.load_workbook_quietly(blank)
    ws = en[SPEC.section("sales_plan").label("en")]
    assert ws.cell(header_row - 1, 2).value == '="Opportunities"&" (amounts in "&amount_unit&")"'


def test_text_lines_count_full_width_characters_twice():
    assert printing.text_lines("ab", 10) == 1
    assert printing.text_lines("あ" * 9, 10) == 2  # 18 half-width columns in 9
    assert printing.text_lines("a\nb\nc", 30) == 3


def _pdf_pages(pdf):
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    texts = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"],
                            capture_output=True, text=True, check=True).stdout for i in range(1, pages + 1)]
    return pages, texts


@pytest.mark.libreoffice
def test_33_deal_plan_prints_one_page_per_sheet_with_every_deal(plans, soffice):
    if not (shutil.which("pdfinfo") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdfinfo, pdftotext) not installed")
    d, filled, _ = plans
    ready = printing.print_ready_copy(filled, d / "ready.xlsx")
    (pdf,) = pdf_many([ready], d / "pdf", soffice=soffice)
    pages, texts = _pdf_pages(pdf)
    sheets = [SPEC.section(s.key).label("ja") for s in SPEC.sections]
    # summary, whitespace, guide + one page per sheet: no spill, no empty-row page
    assert pages == FRONT + len(sheets)
    for i, (sheet, text) in enumerate(zip(sheets, texts[FRONT:]), FRONT + 1):
        assert sheet in text and f"{i} / {pages} ページ" in text and "社外秘 / Confidential" in text
        assert "株式会社印刷&テスト" in text
    sales = texts[FRONT + sheets.index(SPEC.section("sales_plan").label("ja"))]
    flat = re.sub(r"\s+", "", sales)
    for r in plan_33().rows("Opportunities"):
        assert r["opp_id"] in flat
    assert "案件（金額単位：円）" in flat


@pytest.mark.libreoffice
def test_formula_print_area_evaluates_to_the_pinned_row_in_libreoffice(plans, soffice, tmp_path):
    """The row the name's formula gives (what Excel prints up to) equals the row xltools
    pins for LibreOffice, on the filled plan and on the blank one."""
    _, filled, blank = plans
    probes, expect = [], []
    for path in (filled, blank):
        areas = formula_print_areas(path)
        wb = printing.load_workbook_quietly(path)
        probe = wb.create_sheet("probe")
        rows = []
        for i, (sheet, formula) in enumerate(sorted(areas.items()), 1):
            last = formula.split(",", 1)[1][:-1]  # INDEX(cols, <last row>)
            probe.cell(i, 1).value = "=" + last
            rows.append(printing.used_last_row(wb[sheet]))
        out = tmp_path / f"probe_{path.stem}.xlsx"
        wb.save(out)
        probes.append(out)
        expect.append(rows)
    for out, rows in zip(recalculate_many(probes, tmp_path / "lo", soffice=soffice), expect):
        ws = openpyxl.load_workbook(out, data_only=True)["probe"]
        assert [ws.cell(i, 1).value for i in range(1, len(rows) + 1)] == rows
