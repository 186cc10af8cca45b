"""The validator: RawPlan -> PlanData + issues (codes, cells, normalised values)."""
from __future__ import annotations

import copy
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools.cells import a1, col_letter
from xltools.checking import validate as validate_module
from xltools.checking.validate import ANNOTATION_SHEET, is_blank, name_key, plan_stats, validate
from xltools.spec.config import Settings
from xltools.spec.model import RawCell, RawPlan, RawRow, RawTable
from xltools.spec.spec import load_spec

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())


# -- a RawPlan as the reader would produce it, laid out deterministically ------------------

def _layout(spec):
    """field key -> (sheet, A1); table name -> (sheet, header row, first column)."""
    fields, tables = {}, {}
    for s in spec.sections:
        sheet = s.label.ja
        r = 3
        for f in s.fields:
            fields[f.key] = (sheet, f"C{r}")
            r += 1
        r += 2
        for t in s.tables:
            tables[t.name] = (sheet, r, 2)
            r += t.rows + 4
    return fields, tables


FIELD_AT, TABLE_AT = _layout(SPEC)


def col_cell(table: str, column: str, index: int) -> str:
    """A1 of data row ``index`` (1-based) of ``column`` in the builder's layout."""
    _, top, left = TABLE_AT[table]
    keys = [c.key for c in SPEC.table(table).columns]
    return a1(top + index, left + keys.index(column))


def raw_plan(fields: dict | None = None, tables: dict | None = None, *, meta: dict | None = None,
             below: dict | None = None, stray=(), overwritten=(), missing_fields=(), missing_tables=(),
             drop_columns: dict | None = None, extra_columns: dict | None = None,
             spec=SPEC) -> RawPlan:
    fields = fields or {}
    meta = {"template": "account_plan", "template_version": "1.0", "plan_id": "p-1",
            **({k: str(fields[k]) for k in ("account_name", "rep", "period") if fields.get(k)}),
            **(meta or {})}
    rp = RawPlan(file="plan.xlsx", meta=meta, fields={}, tables={},
                 stray=[RawCell(*s) for s in stray], missing_fields=list(missing_fields),
                 missing_tables=list(missing_tables))
    for f in spec.fields:
        if f.key in missing_fields:
            continue
        sheet, cell = FIELD_AT[f.key]
        rp.fields[f.key] = RawCell(sheet, cell, None if f.computed else fields.get(f.key))
    for key, value in overwritten:
        sheet, cell = FIELD_AT[key]
        rp.overwritten.append((key, RawCell(sheet, cell, value)))
    for t in spec.tables:
        if t.name in missing_tables:
            continue
        sheet, top, left = TABLE_AT[t.name]
        dropped = set((drop_columns or {}).get(t.name, ()))
        cols = {c.key: a1(top, left + i) for i, c in enumerate(t.columns) if c.key not in dropped}
        n = len(t.columns)
        unknown = {}
        for j, header in enumerate((extra_columns or {}).get(t.name, ())):
            unknown[header] = a1(top, left + n + j)
        rt = RawTable(t.name, sheet, f"B{top}:{col_letter(left + n - 1)}{top + t.rows}", [], cols, unknown)

        def add_rows(rows, start, is_below):
            for i, values in enumerate(rows, start=start):
                if not values or all(v is None for v in values.values()):
                    continue
                cells = {k: RawCell(sheet, col_cell(t.name, k, i), None if t.column(k).computed else values.get(k))
                         for k in cols}
                rt.rows.append(RawRow(i, cells, below_table=is_below))

        add_rows((tables or {}).get(t.name, []), 1, False)
        add_rows((below or {}).get(t.name, []), t.rows + 1, True)
        rp.tables[t.name] = rt
    return rp


GOOD_FIELDS = {
    "account_name": "株式会社サンプル製作所", "rep": "佐藤 健", "period": "FY2026Q3", "amount_unit": "千円",
    "industry": "製造業", "employees": "約3,000人", "fiscal_year_end_month": "3月",
    "corporate_strategy": "中期経営計画2028：DXで生産性20%向上", "sales_target": "50,000",
    "org_updated": datetime(2026, 9, 1), "plan_date": "2026/9/20",
}
GOOD_TABLES = {
    "Financials": [{"fiscal_year": "FY2024", "revenue": "1,000,000", "operating_profit": "50,000"},
                   {"fiscal_year": "FY2025", "revenue": 1100000, "operating_profit": "60,000"}],
    "Initiatives": [{"initiative": "DX推進", "horizon": "中期", "priority": "高"}],
    "Opportunities": [
        {"opp_id": "O-1", "opportunity": "生産管理システム刷新", "initiative": "DX推進", "amount": "60,000",
         "probability": "50%", "stage": "交渉", "expected_close": "2026/11/30", "recurring": "継続",
         "contract_years": 3, "key_person": "山田 太郎"},
        {"opp_id": "O-2", "opportunity": "工場IoT", "initiative": "DX推進", "amount": "1.2億",
         "stage": "提案", "expected_close": "R8.12.15"},
        {"opp_id": "O-3", "opportunity": "保守更改", "initiative": "DX推進", "amount": 30000, "stage": "失注",
         "expected_close": date(2026, 10, 10)},
        {"opp_id": "O-4", "opportunity": "ライセンス追加", "initiative": "DX推進", "amount": "２０，０００",
         "probability": 1, "stage": "受注", "expected_close": "2026-08-01"},
    ],
    "Contacts": [
        {"contact_id": "C-1", "name": "山田 太郎", "department": "情報システム部", "role": "決裁者",
         "stance": "好意的", "our_owner": "佐藤"},
        {"contact_id": "C-2", "name": "鈴木 花子", "department": "製造部", "reports_to": "山田太郎",
         "role": "推進者", "stance": "中立", "our_owner": "田中"},
    ],
    "Activities": [{"act_id": "A-1", "planned_date": "2026/10/20", "contact": "山田　太郎",
                    "appointment": "確定", "status": "予定"}],
    "SelectionScores": [{"criterion": "企業規模", "weight": 20, "score": 5},
                        {"criterion": "成長性", "weight": 15, "score": "3点"},
                        {"criterion": "収益性", "weight": 15}],
    "KPIs": [{"kpi": "役員面談数", "target": 4, "actual": 3}, {"kpi": "接点部門数", "target": 5}],
    "Reviews": [{"item": "役員面談", "due": "2026/9/30", "done": "済"}],
}


def good(**overrides) -> tuple[dict, dict]:
    fields = dict(GOOD_FIELDS)
    tables = copy.deepcopy(GOOD_TABLES)
    for k, v in overrides.items():
        if k in tables:
            tables[k] = v
        else:
            fields[k] = v
    return fields, tables


def run(rp: RawPlan, settings: Settings = SETTINGS, *, not_counted: bool = False):
    """Validate ``rp``.  The test plans type numbers and dates as text on purpose (the
    reading rules); the W-NOT-COUNTED that follow are left out unless ``not_counted``
    (test_values_the_workbook_cannot_count_are_reported asserts them)."""
    spec = settings.apply(load_spec())
    plan, issues = validate(rp, spec, settings)
    return plan, [i for i in issues if not_counted or i.code != "W-NOT-COUNTED"]


def codes(issues) -> list[tuple[str, str | None, str | None]]:
    return sorted((i.code, i.sheet, i.cell) for i in issues)


def only(issues, code):
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, (code, codes(issues))
    return found[0]


# -- a clean plan ----------------------------------------------------------------------

def test_clean_plan_has_no_issues_and_normalised_values():
    plan, issues = run(raw_plan(*good()))
    assert issues == []
    assert plan.fields["sales_target"] == 50_000_000  # 千円
    assert plan.fields["amount_unit"] == "thousand"
    assert plan.fields["employees"] == 3000
    assert plan.fields["fiscal_year_end_month"] == 3
    assert plan.fields["org_updated"] == date(2026, 9, 1)
    assert plan.fields["plan_date"] == date(2026, 9, 20)
    opps = plan.rows("Opportunities")
    assert [r["amount"] for r in opps] == [60_000_000, 120_000_000, 30_000_000, 20_000_000]
    assert [r["stage"] for r in opps] == ["negotiation", "proposal", "lost", "won"]
    assert [r["expected_close"] for r in opps] == [date(2026, 11, 30), date(2026, 12, 15),
                                                   date(2026, 10, 10), date(2026, 8, 1)]
    # a blank probability takes the stage default (proposal 30); a numeric 1 is 100 %
    assert [r["probability"] for r in opps] == [50.0, 30.0, 0.0, 100.0]
    assert plan.derived["probability_defaulted"] == [2, 3]
    assert [r.cells["amount"] for r in opps] == [col_cell("Opportunities", "amount", i) for i in (1, 2, 3, 4)]
    assert opps[0].sheet == "③売上計画" and opps[0].index == 1
    assert plan.field_cells["sales_target"] == FIELD_AT["sales_target"]
    assert plan.rows("Contacts")[1]["reports_to"] == "山田太郎"


def test_derived_figures_are_recomputed():
    plan, _ = run(raw_plan(*good()))
    d = plan.derived
    assert d["plan_total"] == 200_000_000  # lost excluded
    # the won O-4 closes in FY2026Q2: outside the target period, never in the coverage
    assert (d["target_applied"], d["target_start"], d["target_end"]) == ("FY2026Q3", date(2026, 10, 1),
                                                                         date(2026, 12, 31))
    assert d["period_pipeline"] == 180_000_000 and d["outside_period_total"] == 20_000_000
    assert d["weighted_total"] == 30_000_000 + 36_000_000 + 20_000_000
    assert d["period_weighted"] == 30_000_000 + 36_000_000
    assert d["coverage_ratio"] == pytest.approx(3.6)
    assert d["coverage_verdict"] == "ok"
    assert d["period"] == "FY2026Q3"
    assert d["close_quarters"] == {"FY2026Q2": 20_000_000, "FY2026Q3": 180_000_000}
    assert [d[f"close_q{n}"] for n in range(1, 9)] == [0, 20_000_000, 180_000_000, 0, 0, 0, 0, 0]
    assert d["close_other"] == 0
    assert [r["weighted"] for r in plan.rows("Opportunities")] == [30_000_000, 36_000_000, 0, 20_000_000]
    assert [r["ltv"] for r in plan.rows("Opportunities")] == [180_000_000, 120_000_000, 30_000_000, 20_000_000]
    fin = plan.rows("Financials")
    assert fin[0]["growth_rate"] is None and fin[1]["growth_rate"] == pytest.approx(0.1)
    assert [r["achievement"] for r in plan.rows("KPIs")] == [0.75, 0.0]
    assert d["selection_score"] == pytest.approx((20 * 5 + 15 * 3) / 35)
    assert d["tier"] == "A"


# in-period pipeline 180,000千円: 5x at 36,000, 3x at 60,000
@pytest.mark.parametrize("target,verdict", [("80,000", "low"), ("35,999", "high"), ("36,000", "ok"), ("60,000", "ok"),
                                            ("60,001", "low")])
def test_coverage_verdict_uses_thresholds(target, verdict):
    plan, _ = run(raw_plan(*good(sales_target=target)))
    assert plan.derived["coverage_verdict"] == verdict


def test_verdict_and_tier_follow_settings():
    s = Settings(thresholds=type(SETTINGS.thresholds)(coverage_low=4.5, coverage_high=6, tier_a=4.5, tier_b=4.0))
    plan, _ = run(raw_plan(*good()), s)
    assert plan.derived["coverage_verdict"] == "low"
    assert plan.derived["tier"] == "B"


def test_selection_score_counts_the_weights_in_the_cells_as_the_workbook_does():
    # the workbook's SUMPRODUCT counts a blank weight as 0: so does xltools (the generator
    # pre-fills the weights from the settings, see test_generate)
    rows = [{"criterion": "企業規模", "weight": 10, "score": 5}, {"criterion": "成長性", "weight": 30, "score": 2},
            {"criterion": "収益性", "score": 5}, {"criterion": "関係性", "weight": 20}]
    plan, _ = run(raw_plan(*good(SelectionScores=rows)))
    assert plan.derived["selection_score"] == pytest.approx((10 * 5 + 30 * 2) / 40)
    assert plan.derived["tier"] == "C"
    plan, _ = run(raw_plan(*good(SelectionScores=[{"criterion": "企業規模", "score": 5}])))
    assert plan.derived["selection_score"] is None and plan.derived["tier"] is None


def test_values_the_workbook_cannot_count_are_reported():
    _, issues = run(raw_plan(*good()), not_counted=True)
    nc = [i for i in issues if i.code == "W-NOT-COUNTED"]
    by_field = {(i.table, i.field, i.row): i for i in nc}
    # amounts, dates and percentages typed as text; a number (30000) or a real date is fine
    assert (None, "sales_target", None) in by_field and (None, "plan_date", None) in by_field
    assert ("Opportunities", "amount", 1) in by_field and ("Opportunities", "amount", 3) not in by_field
    assert ("Opportunities", "expected_close", 2) in by_field and ("Opportunities", "expected_close", 3) not in by_field
    assert ("Opportunities", "probability", 1) in by_field
    assert (None, "org_updated", None) not in by_field and (None, "period", None) not in by_field
    i = by_field[("Opportunities", "amount", 2)]
    assert (i.sheet, i.cell, i.raw) == ("③売上計画", col_cell("Opportunities", "amount", 2), "1.2億")
    assert "120,000,000円" in i.message("ja") and "JPY 120,000,000" in i.message("en")
    assert "数値" in i.message("ja") and "a number" in i.message("en")
    # a period the workbook's formula cannot read, a stage typed as an alias
    opps = [dict(GOOD_TABLES["Opportunities"][0], stage="交渉中")]
    _, issues = run(raw_plan(*good(target_period="2026年度", Opportunities=opps)), not_counted=True)
    nc = {(i.field, i.raw): i for i in issues if i.code == "W-NOT-COUNTED"}
    assert ("target_period", "2026年度") in nc and "FY2026Q3" in nc[("target_period", "2026年度")].message("en")
    assert ("stage", "交渉中") in nc and "「交渉」" in nc[("stage", "交渉中")].message("ja")
    _, issues = run(raw_plan(*good(target_period="fy2026")), not_counted=True)
    assert not [i for i in issues if i.code == "W-NOT-COUNTED" and i.field == "target_period"]


def test_stage_probabilities_follow_settings():
    s = Settings(stage_probabilities={"proposal": 25})
    plan, _ = run(raw_plan(*good()), s)
    assert plan.rows("Opportunities")[1]["probability"] == 25.0


def test_fiscal_year_start_month_moves_quarter_buckets():
    s = Settings(fiscal_year_start_month=1)
    plan, _ = run(raw_plan(*good(period="FY2026Q4")), s)
    # calendar quarters: Aug -> Q3, Oct-Dec -> Q4
    assert plan.derived["close_quarters"] == {"FY2026Q3": 20_000_000, "FY2026Q4": 180_000_000}
    assert plan.derived["close_q4"] == 180_000_000


# -- structure -------------------------------------------------------------------------

def test_missing_names_tables_and_columns():
    rp = raw_plan(*good(), missing_fields=["industry"], missing_tables=["Reviews"],
                  drop_columns={"Contacts": ["stance"]})
    plan, issues = run(rp)
    i = only(issues, "E-NAME-MISSING")
    assert (i.field, i.sheet, i.cell) == ("industry", None, None)
    assert i.message("en") == "Field 'Industry' (name industry) is missing from the workbook."
    t = only(issues, "E-TABLE-MISSING")
    assert t.table == "Reviews"
    c = only(issues, "E-COLUMN-MISSING")
    _, top, left = TABLE_AT["Contacts"]
    assert (c.table, c.field, c.sheet, c.cell) == ("Contacts", "stance", "④リレーションマップ", a1(top, left))
    # a missing required column is one structural error, not one E-REQUIRED per row
    assert not [x for x in issues if x.code == "E-REQUIRED"]
    assert plan.rows("Reviews") == []
    assert plan.fields["industry"] is None


def test_unknown_columns_stray_cells_and_overwritten_formulas():
    rp = raw_plan(*good(), extra_columns={"Opportunities": ["競合"]},
                  stray=[("③売上計画", "Q5", "=1+1"), ("③売上計画", "R6", 123)],
                  overwritten=[("plan_total", 999)])
    _, issues = run(rp)
    u = only(issues, "W-COLUMN-UNKNOWN")
    _, top, left = TABLE_AT["Opportunities"]
    assert (u.cell, u.raw, u.table) == (a1(top, left + len(SPEC.table("Opportunities").columns)), "競合",
                                        "Opportunities")
    stray = sorted((i.cell, i.raw) for i in issues if i.code == "W-STRAY-VALUE")
    assert stray == [("Q5", "=1+1"), ("R6", 123)]
    o = only(issues, "W-FORMULA-OVERWRITTEN")
    assert (o.field, o.cell, o.raw) == ("plan_total", FIELD_AT["plan_total"][1], 999)


def test_stray_cells_on_the_annotation_sheet_are_not_reported():
    rp = raw_plan(*good(), stray=[(ANNOTATION_SHEET.ja, "B3", "E-REQUIRED"), (ANNOTATION_SHEET.en, "A1", "x"),
                                  ("⑤活動プラン", "Z1", "memo")])
    _, issues = run(rp)
    assert [(i.sheet, i.cell) for i in issues] == [("⑤活動プラン", "Z1")]


def test_rows_below_the_table_are_read_and_reported():
    below = {"Contacts": [{"contact_id": "C-3", "name": "高橋 一郎", "stance": "アンチ", "department": "購買部",
                           "our_owner": "田中"}]}
    plan, issues = run(raw_plan(*good(), below=below))
    i = only(issues, "I-ROW-BELOW-TABLE")
    idx = SPEC.table("Contacts").rows + 1
    assert (i.table, i.row, i.cell, i.raw) == ("Contacts", idx, col_cell("Contacts", "contact_id", idx), "C-3")
    last = plan.rows("Contacts")[-1]
    assert (last["name"], last["stance"], last.index) == ("高橋 一郎", "against", idx)


# -- values ----------------------------------------------------------------------------

def test_required_fields_and_required_columns_of_non_empty_rows():
    opps = copy.deepcopy(GOOD_TABLES["Opportunities"])
    opps[1]["amount"] = None
    opps[2]["expected_close"] = "未定"
    opps[3]["amount"] = "たくさん"
    plan, issues = run(raw_plan(*good(rep=None, account_name="  ", Opportunities=opps)))
    req = sorted((i.field, i.cell) for i in issues if i.code == "E-REQUIRED")
    assert req == sorted([("rep", FIELD_AT["rep"][1]), ("account_name", FIELD_AT["account_name"][1]),
                          ("amount", col_cell("Opportunities", "amount", 2)),
                          ("expected_close", col_cell("Opportunities", "expected_close", 3))])
    ph = only(issues, "I-PLACEHOLDER")
    assert (ph.cell, ph.raw) == (col_cell("Opportunities", "expected_close", 3), "未定")
    # an unreadable value is one E-TYPE (with the raw value), not also E-REQUIRED
    t = only(issues, "E-TYPE")
    assert (t.field, t.cell, t.raw, t.table, t.row) == ("amount", col_cell("Opportunities", "amount", 4),
                                                         "たくさん", "Opportunities", 4)
    assert plan.rows("Opportunities")[3]["amount"] is None


def test_amount_unit_scales_every_amount_column():
    for unit, factor in (("円", 1), ("千円", 1000), ("百万円", 1_000_000), (None, 1)):
        fields, tables = good(amount_unit=unit)
        plan, _ = run(raw_plan(fields, tables))
        assert plan.fields["sales_target"] == 50_000 * factor
        assert plan.rows("Financials")[0]["revenue"] == 1_000_000 * factor
        assert plan.rows("Opportunities")[1]["amount"] == 120_000_000  # explicit 億 overrides the unit


def test_bad_amount_unit_is_reported_and_amounts_read_as_yen():
    plan, issues = run(raw_plan(*good(amount_unit="ドル")))
    i = only(issues, "E-CHOICE")
    assert (i.field, i.cell, i.raw) == ("amount_unit", FIELD_AT["amount_unit"][1], "ドル")
    assert plan.fields["sales_target"] == 50_000


def test_period_mismatch_and_fallback_to_meta_period():
    _, issues = run(raw_plan(*good(), meta={"period": "FY2026Q2"}))
    i = only(issues, "W-PERIOD-MISMATCH")
    assert (i.cell, i.raw, i.params["value"], i.params["detail"]) == (FIELD_AT["period"][1], "FY2026Q3",
                                                                      "FY2026Q3", "FY2026Q2")
    # blank period on the sheet: _meta's period dates year-less input (and the field is still required)
    opps = [{"opportunity": "x", "amount": 1, "stage": "提案", "expected_close": "1月15日"}]
    plan, issues = run(raw_plan(*good(period=None, Opportunities=opps), meta={"period": "FY2026Q4"}))
    assert plan.derived["period"] == "FY2026Q4"
    assert plan.rows("Opportunities")[0]["expected_close"] == date(2027, 1, 15)
    assert [i.field for i in issues if i.code == "E-REQUIRED"] == ["period"]
    assert not [i for i in issues if i.code == "W-PERIOD-MISMATCH"]


def test_meta_mismatch_for_account_and_rep():
    _, issues = run(raw_plan(*good(), meta={"account_name": "株式会社サンプル製作所", "rep": "田中 一郎",
                                            "account_id": ""}))
    i = only(issues, "I-META-MISMATCH")
    assert (i.field, i.cell, i.raw) == ("rep", FIELD_AT["rep"][1], "佐藤 健")
    # the same name with other spacing or width is no mismatch
    _, issues = run(raw_plan(*good(rep="佐藤　健"), meta={"rep": "佐藤健"}))
    assert not [i for i in issues if i.code == "I-META-MISMATCH"]


def test_empty_required_sections():
    fields = {"account_name": "A社", "rep": "佐藤", "period": "FY2026Q3", "amount_unit": "円"}
    plan, issues = run(raw_plan(fields, {}))
    empty = {i.params["label"].en: (i.sheet, i.cell) for i in issues if i.code == "E-SECTION-EMPTY"}
    # overview holds only what the generator wrote (the _meta values, the default unit)
    assert set(empty) == {s.title.en for s in SPEC.sections if s.required}
    _, top, left = TABLE_AT["Activities"]
    assert empty[SPEC.section("activity_plan").title.en] == ("⑤活動プラン", a1(top + 1, left))
    assert empty[SPEC.section("sales_plan").title.en] == FIELD_AT["sales_target"]
    # one real entry fills a section; optional sections are never "empty"
    _, issues = run(raw_plan(dict(fields, headquarters="東京都"), {"Activities": [{"planned_date": "2026/10/1"}]}))
    labels = {i.params["label"].en for i in issues if i.code == "E-SECTION-EMPTY"}
    assert SPEC.section("overview").title.en not in labels
    assert SPEC.section("activity_plan").title.en not in labels


def test_duplicate_ids():
    opps = copy.deepcopy(GOOD_TABLES["Opportunities"])
    opps[2]["opp_id"] = "O-1"
    opps[3]["opp_id"] = "Ｏ－１"  # the same ID in full-width
    _, issues = run(raw_plan(*good(Opportunities=opps)))
    dup = sorted((i.cell, i.row) for i in issues if i.code == "E-DUPLICATE-ID")
    assert dup == [(col_cell("Opportunities", "opp_id", 3), 3), (col_cell("Opportunities", "opp_id", 4), 4)]


def test_references_to_contacts():
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Activities"].append({"planned_date": "2026/11/1", "contact": "伊藤"})
    tables["Contacts"][1]["reports_to"] = "部長"
    tables["Opportunities"][1]["key_person"] = "渡辺"
    _, issues = run(raw_plan(GOOD_FIELDS, tables))
    got = sorted((i.code, i.cell, i.raw) for i in issues)
    assert got == sorted([("E-UNKNOWN-CONTACT", col_cell("Activities", "contact", 2), "伊藤"),
                          ("E-UNKNOWN-MANAGER", col_cell("Contacts", "reports_to", 2), "部長"),
                          ("W-UNKNOWN-KEY-PERSON", col_cell("Opportunities", "key_person", 2), "渡辺")])


def test_references_are_not_checked_against_a_missing_table():
    rp = raw_plan(*good(), missing_tables=["Contacts"])
    _, issues = run(rp)
    assert {i.code for i in issues} == {"E-TABLE-MISSING"}


def test_blank_rows_inside_tables_are_skipped_and_zero_width_text_is_blank():
    rows = [{"initiative": "A"}, None, {"initiative": "\u200b\u3000"}, {"initiative": "B"}]
    plan, issues = run(raw_plan(*good(Initiatives=rows)))
    assert [(r["initiative"], r.index) for r in plan.rows("Initiatives")] == [("A", 1), ("B", 4)]
    assert is_blank("\u3000\u200b") and not is_blank("0") and not is_blank(0)


def test_stats():
    plan, _ = run(raw_plan(*good()))
    stats = plan_stats(plan, SPEC)
    assert stats["rows"]["Opportunities"] == 4 and stats["rows"]["SuccessCases"] == 0
    assert stats["fields_filled"] == len([k for k in GOOD_FIELDS]) and stats["fields_total"] == len(
        [f for f in SPEC.fields if f.is_input])


def test_name_key():
    assert name_key("山田　太郎") == name_key("山田太郎") == name_key(" 山田 太郎 ")
    assert name_key("ＡＢＣ") == name_key("abc")


# -- property: nothing is lost ---------------------------------------------------------

_INPUT_CELLS = [("field", f.key) for f in SPEC.fields if f.is_input] + [
    ("column", t.name, c.key) for t in SPEC.tables for c in t.columns if not c.computed]

_values = st.one_of(
    st.text(min_size=1, max_size=12).filter(lambda s: not is_blank(s)),
    st.integers(-10**16, 10**16),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    st.sampled_from(["未定", "-", "1,200万円", "令和8年4月1日", "30%", "アンチ", "=SUM(A1)", "+81", "@x", "FY2026Q3"]),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_INPUT_CELLS), _values, st.integers(1, 3)), max_size=25),
       st.lists(_values, max_size=3))
def test_every_non_blank_cell_is_in_the_plan_or_in_an_issue(placements, strays):
    fields, tables = {}, {}
    for target, value, row in placements:
        if target[0] == "field":
            fields[target[1]] = value
        else:
            rows = tables.setdefault(target[1], [{}, {}, {}])
            rows[row - 1][target[2]] = value
    rp = raw_plan(fields, tables, stray=[("⑤活動プラン", f"Z{i + 1}", v) for i, v in enumerate(strays)])
    plan, issues = run(rp)
    reported = {(i.sheet, i.cell) for i in issues}
    kept = {plan.field_cells[k] for k, v in plan.fields.items() if v is not None}
    for name, rows in plan.tables.items():
        for r in rows:
            kept |= {(r.sheet, r.cells[k]) for k, v in r.values.items() if v is not None}
    cells = [c for c in rp.fields.values()] + rp.stray + [c for t in rp.tables.values() for r in t.rows
                                                          for c in r.cells.values()]
    for c in cells:
        if not is_blank(c.value):
            assert (c.sheet, c.cell) in kept | reported, (c, codes(issues))
    assert all(i.code and i.severity for i in issues)


def _everything(plan, issues) -> tuple[str, str, list[tuple[str, str]]]:
    """The plan and the issues as text that shows every value's type and every dict's order."""
    return repr(plan), repr(issues), [(i.message("ja"), i.message("en")) for i in issues]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_INPUT_CELLS), _values, st.integers(1, 3)), max_size=25),
       st.sampled_from(["ja", "en"]))
def test_reading_the_usual_values_directly_changes_nothing(placements, language):
    """The same plan, issues (order included) and messages as with every value through the
    full reading rules (no ``fast_normalizer``)."""
    fields, tables = {}, {}
    for target, value, row in placements:
        if target[0] == "field":
            fields[target[1]] = value
        else:
            tables.setdefault(target[1], [{}, {}, {}])[row - 1][target[2]] = value
    rp = raw_plan(fields, tables, meta={"language": language})
    direct = _everything(*validate(copy.deepcopy(rp), SPEC, SETTINGS))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate_module, "fast_normalizer", lambda field, spec: None)
        mp.setattr(validate_module, "_SPEC_COLUMNS", {})
        full = _everything(*validate(copy.deepcopy(rp), SPEC, SETTINGS))
    assert direct == full


def test_is_blank_decides_letters_and_digits_by_the_first_character():
    """No letter or digit is a space or a format character: the shortcut is exact."""
    import unicodedata
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isalnum():
            assert not ch.isspace() and unicodedata.category(ch) != "Cf", hex(cp)
