"""The generated formulas, proven with a real spreadsheet application.

Generated workbooks are filled with openpyxl (cells found through defined names and
table headers, as a rep's entries would be), recalculated and saved by headless
LibreOffice, then read back: every formula's value is compared with the value worked
out by hand.  Three workbooks go through one LibreOffice run.
"""
from __future__ import annotations

import time
from datetime import date, datetime

import openpyxl
import pytest
from test_generate import SPEC, name_cell, table_columns

from xltools.spec.config import Settings, settings_from_dict
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.libreoffice import LibreOfficeError, recalculate, recalculate_many

pytestmark = pytest.mark.libreoffice

# (opportunity, amount, probability, stage, expected close, recurring, contract years)
OPPORTUNITIES = [
    ("A", 20_000_000, 50, "proposal", date(2026, 5, 15), "recurring", 3),
    ("B", 10_000_000, 80, "verbal", date(2026, 8, 1), "one_off", None),
    ("C", 5_000_000, 0, "lost", date(2026, 10, 10), None, None),
    ("D", 7_000_000, 30, "negotiation", date(2027, 2, 1), "recurring", None),
    ("E", 3_000_000, 100, "won", date(2027, 4, 1), None, None),
    ("F", None, None, None, None, None, None),
]
REVENUE = [100, 110, 99, None, 120]
SCORES = {"company_size": 5, "growth": 4, "industry_influence": 3, "profitability": 4, "model_potential": None,
          "relationship": 2, "track_record": 5}
KPIS = [(10, 5), (4, 6), (None, 3)]


class Filler:
    """Writes values into a generated workbook the way a rep would: by field and column."""

    def __init__(self, wb, lang):
        self.wb, self.lang = wb, lang

    def field(self, key, value):
        name_cell(self.wb, key)[1].value = value

    def table(self, table, rows):
        ws, headers, first, _ = table_columns(self.wb, table)
        for i, values in enumerate(rows):
            for key, value in values.items():
                col = headers[SPEC.table(table).column(key).label(self.lang)]
                ws.cell(first + i, col).value = value

    def label(self, choice_list, key):
        return None if key is None else SPEC.choices(choice_list).get(key).label(self.lang)


def fill(path, lang, target_period=None):
    wb = openpyxl.load_workbook(path)
    f = Filler(wb, lang)
    if target_period:
        f.field("target_period", target_period)
    f.table("Opportunities", [
        dict(opportunity=n, amount=a, probability=p, stage=f.label("stage", s), expected_close=d,
             recurring=f.label("recurring", r), contract_years=y) for n, a, p, s, d, r, y in OPPORTUNITIES])
    f.table("Financials", [dict(fiscal_year=f"FY{2021 + i}", revenue=v) for i, v in enumerate(REVENUE)])
    ws, headers, first, last = table_columns(wb, "SelectionScores")
    crit_col = headers[SPEC.table("SelectionScores").column("criterion").label(lang)]
    score_col = headers[SPEC.table("SelectionScores").column("score").label(lang)]
    by_label = {SPEC.choices("selection_criterion").get(k).label(lang): v for k, v in SCORES.items()}
    for r in range(first, last + 1):
        if ws.cell(r, crit_col).value in by_label:
            ws.cell(r, score_col).value = by_label[ws.cell(r, crit_col).value]
    f.table("KPIs", [dict(target=t, actual=a) for t, a in KPIS])
    f.table("Initiatives", [dict(initiative="DX推進")])
    f.table("Contacts", [dict(name="佐藤部長", stance=f.label("stance", "favourable"))])
    out = path.with_name(path.stem + "_filled.xlsx")
    wb.save(out)
    return out


def read(original, recalculated):
    """Values of the recalculated file, addressed through the original's names and tables
    (positions do not move, so this does not depend on how LibreOffice re-exports tables)."""
    src = openpyxl.load_workbook(original)
    vals = openpyxl.load_workbook(recalculated, data_only=True)

    def field(key):
        ws, cell = name_cell(src, key)
        return vals[ws.title][cell.coordinate].value

    def column(table, key, lang):
        ws, headers, first, last = table_columns(src, table)
        col = headers[SPEC.table(table).column(key).label(lang)]
        return [vals[ws.title].cell(r, col).value for r in range(first, last + 1)]

    def checklist():
        ws = next(w for w in vals.worksheets if w.title in ("使い方", "Guide"))  # after the summary
        labels = {s.label(lang): s.key for lang in ("ja", "en") for s in SPEC.sections}
        return {labels[ws.cell(r, 2).value]: tuple(ws.cell(r, c).value for c in range(4, 9))
                for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value in labels}

    return field, column, checklist


@pytest.fixture(scope="module")
def recalculated(soffice, tmp_path_factory):
    d = tmp_path_factory.mktemp("lo")
    cases = {  # (settings, plan, target period typed by the rep)
        "ja": (Settings(), PlanInfo("株式会社サンプル", "山田", "FY2026Q3", target=10_000_000, lang="ja"), "FY2026"),
        "en": (settings_from_dict({"thresholds": {"tier_a": 3.5}}),
               PlanInfo("Sample Corp", "Yamada", "FY2026Q3", target=100_000_000, lang="en"), None),
        "jan": (settings_from_dict({"fiscal_year_start_month": 1}),
                PlanInfo("株式会社一月", "田中", "FY2026Q3", target=5_000_000, lang="ja"), "fy2026"),
    }
    filled = {}
    for name, (settings, info, tp) in cases.items():
        path = generate_workbook(load_spec(), settings, info, d / f"{name}.xlsx")
        filled[name] = fill(path, info.lang, tp)
    t = time.perf_counter()
    outs = recalculate_many(list(filled.values()), d / "out", soffice=soffice)
    seconds = time.perf_counter() - t
    return {name: read(filled[name], out) for name, out in zip(filled, outs)}, seconds


def test_sales_plan_totals_coverage_and_verdict(recalculated):
    books, _ = recalculated
    field, _, _ = books["ja"]
    assert field("plan_total") == 40_000_000  # 失注 (lost) excluded
    assert field("weighted_total") == pytest.approx(23_100_000)  # (20*50 + 10*80 + 5*0 + 7*30 + 3*100) / 100 M
    # target period FY2026 (April 2026 - March 2027): E (won, 2027-04-01) is outside
    assert field("target_applied") == "FY2026"
    assert (field("target_start"), field("target_end")) == (datetime(2026, 4, 1), datetime(2027, 3, 31))
    assert field("period_pipeline") == 37_000_000 and field("outside_period_total") == 3_000_000
    assert field("period_weighted") == pytest.approx(20_100_000)
    assert field("coverage_ratio") == pytest.approx(3.7)
    assert field("coverage_verdict") == "適正"
    en, _, _ = books["en"]  # the plan period FY2026Q3 (October - December): nothing closes in it
    assert en("target_applied") == "FY2026Q3" and en("period_pipeline") == 0
    assert en("coverage_ratio") == 0 and en("coverage_verdict") == "Too low"
    jan, _, _ = books["jan"]  # January start, "fy2026" typed in lower case: calendar 2026
    assert (jan("target_start"), jan("target_end")) == (datetime(2026, 1, 1), datetime(2026, 12, 31))
    assert jan("coverage_ratio") == pytest.approx(6.0) and jan("coverage_verdict") == "過大"


def test_quarter_buckets_follow_the_fiscal_year(recalculated):
    books, _ = recalculated
    field, _, _ = books["ja"]  # April start: FY2026 = 2026-04 .. 2027-03
    assert [field(f"close_q{q}") for q in range(1, 9)] == [20_000_000, 10_000_000, 0, 7_000_000,
                                                            3_000_000, 0, 0, 0]  # E: FY2027Q1
    assert field("close_other") == 0
    jan, _, _ = books["jan"]  # January start: FY2026 = calendar 2026
    assert [jan(f"close_q{q}") for q in range(1, 9)] == [0, 20_000_000, 10_000_000, 0, 7_000_000, 3_000_000, 0, 0]


@pytest.mark.parametrize("book, lang", [("ja", "ja"), ("en", "en")])
def test_row_formulas_ltv_growth_rate_kpi_achievement(recalculated, book, lang):
    books, _ = recalculated
    _, column, _ = books[book]
    ltv = column("Opportunities", "ltv", lang)
    assert ltv[:6] == [60_000_000, 10_000_000, 5_000_000, 7_000_000, 3_000_000, ""] or \
        ltv[:6] == [60_000_000, 10_000_000, 5_000_000, 7_000_000, 3_000_000, None]
    assert all(v in ("", None) for v in ltv[6:])  # pre-sized empty rows stay blank
    growth = column("Financials", "growth_rate", lang)
    assert growth[0] in ("", None) and growth[1] == pytest.approx(0.1) and growth[2] == pytest.approx(-0.1)
    assert growth[3] in ("", None) and growth[4] in ("", None)  # blank revenue, blank previous year
    ach = column("KPIs", "achievement", lang)
    assert ach[0] == pytest.approx(0.5) and ach[1] == pytest.approx(1.5) and ach[2] in ("", None)


def test_selection_score_and_tier_use_settings(recalculated):
    books, _ = recalculated
    expected = (20 * 5 + 15 * 4 + 15 * 3 + 15 * 4 + 15 * 2 + 10 * 5) / (20 + 15 + 15 + 15 + 15 + 10)
    field, _, _ = books["ja"]
    assert field("selection_score") == pytest.approx(expected)  # 3.83: unscored criteria do not count
    assert field("tier") == "B"
    en, _, _ = books["en"]
    assert en("selection_score") == pytest.approx(expected) and en("tier") == "A"  # tier_a = 3.5


def test_completion_checklist(recalculated):
    books, _ = recalculated
    _, _, checklist = books["ja"]
    rows = checklist()
    assert rows["overview"] == (3, 3, 0, 0, "完了")
    assert rows["strategy"] == (0, 0, 1, 1, "完了")
    # opportunity "F" has a name but no amount and no expected close: E-REQUIRED in check, so
    # the table is not complete here either
    assert rows["sales_plan"] == (1, 1, 0, 1, "未完了")
    assert rows["relationship_map"] == (0, 0, 1, 1, "完了")
    assert rows["activity_plan"] == (0, 0, 0, 1, "未完了")  # no activity yet
    # optional sections never need a row: complete while empty
    assert rows["review"] == (0, 0, 0, 0, "完了") and rows["selection"][4] == "完了"
    _, _, checklist_en = books["en"]
    assert checklist_en()["activity_plan"] == (0, 0, 0, 1, "Incomplete")


def test_one_libreoffice_run_is_fast_enough(recalculated):
    _, seconds = recalculated
    assert seconds < 60


def test_recalculate_errors_are_clear(soffice, tmp_path):
    with pytest.raises(LibreOfficeError, match="not found"):
        recalculate(tmp_path / "missing.xlsx", tmp_path / "out", soffice=soffice)
    p = generate_workbook(load_spec(), Settings(), PlanInfo("A", "B", "FY2026Q1"), tmp_path / "p.xlsx")
    with pytest.raises(LibreOfficeError, match="must differ"):
        recalculate(p, tmp_path, soffice=soffice)
    t = time.perf_counter()
    with pytest.raises(LibreOfficeError, match="did not finish"):
        recalculate(p, tmp_path / "out", timeout=0.05, soffice=soffice)
    assert time.perf_counter() - t < 10
    with pytest.raises(LibreOfficeError, match="cannot run"):
        recalculate(p, tmp_path / "out", soffice=str(tmp_path / "no-soffice"))
    before = p.read_bytes()
    out = recalculate(p, tmp_path / "out2", soffice=soffice)
    assert out.exists() and p.read_bytes() == before  # the source is never modified
