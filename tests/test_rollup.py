"""``xltools report``: the roll-up workbook.  Filled plan workbooks are made with the
generator's prefill, collected into a database and rolled up; values are read back and
compared with figures computed independently from the input workbooks (openpyxl reading
their tables), the layout is checked by position, and LibreOffice opens the result."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from openpyxl import load_workbook
from test_collect import NOW, PERIOD, TODAY, make_plan

from xltools.checking.check import check_file
from xltools.cli import cli
from xltools.collect import collect_paths
from xltools.reports.rollup import SHEETS, YEN_FORMAT, RollupError, write_rollup
from xltools.spec.config import Settings, Thresholds
from xltools.spec.spec import load_spec
from xltools.store.engine import Store

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HYPERLINK = '=HYPERLINK("http://evil.example/","クリック")'
PHONE = "+81 3 1234 5678"


# -- the plans ---------------------------------------------------------------------------------

def build_inbox(d: Path, spec, settings) -> dict[str, Path]:
    """Three plans of FY2026Q3 (one English, one in thousands of yen), an earlier-period plan,
    a plan saved as .xls.  The numbers are chosen so that every flag of the roll-up fires."""
    paths = {}
    paths["alpha"] = make_plan(
        d / "alpha.xlsx", spec, settings, account="アルファ工業", rep="佐藤", account_id="A001",
        target=10_000_000,
        Opportunities=[
            {"opp_id": "O1", "opportunity": HYPERLINK, "amount": "1,200万円", "probability": "30%",
             "stage": "提案", "expected_close": "2026/11/15"},
            {"opp_id": "O2", "opportunity": "更新案件", "amount": 8_000_000, "probability": 50,
             "stage": "negotiation", "expected_close": date(2027, 1, 20)},
            {"opp_id": "O3", "opportunity": "失注案件", "amount": 5_000_000, "probability": 0,
             "stage": "lost", "expected_close": date(2026, 10, 1)}],
        Contacts=[
            {"contact_id": "C1", "name": "山田", "role": "decision_maker", "stance": "against",
             "last_contact": date(2026, 5, 1), "status": "active", "our_owner": "佐藤", "department": "購買部"},
            {"contact_id": "C2", "name": "鈴木", "role": "champion", "stance": "favourable",
             "last_contact": date(2026, 10, 1), "our_owner": "高橋", "department": "生産技術部"},
            {"contact_id": "C3", "name": "田中", "role": "decision_maker", "stance": "unknown", "status": "left"},
            {"contact_id": "C4", "name": "伊藤", "role": "decision_maker", "stance": "unknown"}],
        Activities=[
            {"act_id": "A1", "planned_date": date(2026, 10, 1), "contact": "山田", "executive": "高橋 社長",
             "appointment": "confirmed", "status": "planned", "purpose": "中期計画のご説明"},
            {"act_id": "A2", "planned_date": date(2026, 11, 10), "contact": "鈴木", "executive": "伊藤 専務",
             "appointment": "requested", "status": "planned"},
            {"act_id": "A3", "planned_date": date(2026, 12, 1), "contact": "山田", "executive": "高橋 社長",
             "appointment": "requested", "status": "planned"},
            {"act_id": "A4", "planned_date": date(2026, 9, 20), "contact": "鈴木", "status": "done"}],
        Reviews=[
            {"item": "受注率改善", "action": "提案レビュー会", "due": date(2026, 9, 30), "done": "no"},
            {"item": "済んだ件", "action": "完了済み", "due": date(2026, 9, 1), "done": "yes"},
            {"item": "-先の件", "action": "来期準備", "due": date(2026, 12, 1)}],
        SuccessCases=[
            {"case_id": "S1", "title": "製造ラインDX", "challenge": "段取り替え", "solution": "IoT",
             "shareable": "company"},
            {"case_id": "S2", "title": "秘密案件", "challenge": "x", "solution": "y", "shareable": "private"},
            {"case_id": "S3", "title": "既存事例", "challenge": "x", "solution": "y", "shareable": "company"}])
    paths["beta"] = make_plan(
        d / "beta.xlsx", spec, settings, account="Beta Trading", rep="鈴木", account_id="B002", lang="en",
        target=5_000_000, fields={"amount_unit": "thousand"},
        Opportunities=[{"opp_id": "B1", "opportunity": "Renewal", "amount": 20_000_000, "probability": 80,
                        "stage": "verbal", "expected_close": date(2026, 12, 10)}],
        Contacts=[{"contact_id": "K1", "name": PHONE, "stance": "favourable", "role": "gatekeeper",
                   "last_contact": date(2026, 1, 10)}])
    paths["gamma"] = make_plan(
        d / "gamma.xlsx", spec, settings, account="ガンマ電機", rep="佐藤", target=1_000_000,
        Opportunities=[{"opp_id": "G1", "opportunity": "新規ライン", "amount": 7_000_000, "probability": 10,
                        "stage": "hypothesis", "expected_close": date(2026, 12, 20)}])
    paths["alpha_q2"] = make_plan(
        d / "earlier" / "alpha_q2.xlsx", spec, settings, account="アルファ工業", rep="佐藤", account_id="A001",
        period="FY2026Q2", target=9_000_000,
        Opportunities=[{"opportunity": "前期案件", "amount": 3_000_000, "stage": "won",
                        "expected_close": date(2026, 8, 1)}],
        SuccessCases=[{"title": "既存事例", "challenge": "x", "solution": "y", "shareable": "company"}])
    (d / "old_plan.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    return paths


ROSTER = ("担当営業,顧客名,顧客コード\n佐藤,アルファ工業,A001\n鈴木,Beta Trading,B002\n佐藤,ガンマ電機,\n"
          "高橋,デルタ物産,D004\n")


@pytest.fixture(scope="module")
def ctx():
    settings = Settings()
    return settings.apply(load_spec()), settings


@pytest.fixture(scope="module")
def world(tmp_path_factory, ctx):
    """The plans collected into SQLite, and the Japanese and English roll-ups."""
    spec, settings = ctx
    base = tmp_path_factory.mktemp("rollup")
    paths = build_inbox(base / "inbox", spec, settings)
    roster = base / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    url = f"sqlite:///{base / 'xltools.db'}"
    with Store(url, spec) as store:
        collect_paths([base / "inbox"], store, spec, settings, jobs=1, now=NOW)
        ja = write_rollup(store, spec, settings, base / "rollup.xlsx", period=PERIOD, roster=roster, now=NOW)
        en = write_rollup(store, spec, settings, base / "rollup_en.xlsx", period=PERIOD, lang="en",
                          roster=roster, now=NOW)
    return {"base": base, "paths": paths, "roster": roster, "url": url, "ja": ja, "en": en}


@pytest.fixture(scope="module")
def book(world):
    return load_workbook(world["ja"])


#: the display unit every amount header names (``[report] amount_unit``, 百万円 by default);
#: :func:`records` keys rows by the header without it (test_amount_headers_name_the_unit checks it)
UNIT = "（百万円）"
MILLIONS = "#,##0.0,,"


def records(ws, name: str) -> list[dict]:
    """The data rows of an Excel table as dicts keyed by header without the unit (blank
    rows dropped)."""
    rows = ws[ws.tables[name].ref]
    headers = [c.value.replace(UNIT, "") if isinstance(c.value, str) else c.value for c in rows[0]]
    return [dict(zip(headers, (c.value for c in r))) for r in rows[1:] if any(c.value is not None for c in r)]


def ws_positions_ok(ws, name: str, n: int) -> bool:
    """The table's range covers its header and exactly ``n`` data rows, from A2."""
    from openpyxl.utils import range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(ws.tables[name].ref)
    return (min_col, min_row, max_row - min_row) == (1, 2, n) and ws.cell(row=max_row + 1, column=1).value is None


def sheet(book, key: str, lang: str = "ja"):
    return book[SHEETS[key](lang)]


# -- independent figures from the input workbooks ------------------------------------------------

def independent_plan(path: Path, spec) -> dict:
    """Target, plan total (excluding lost), weighted total and opportunities of one input
    workbook, read with plain openpyxl through the workbook contract (defined names and the
    Opportunities table by header label) -- not through xltools' reader."""
    wb = load_workbook(path)

    def named(key):
        (sheet_name, ref), = wb.defined_names[key].destinations
        return wb[sheet_name][ref.replace("$", "")].value

    unit = spec.choices("amount_unit")
    factor = next(c.factor for c in unit.choices if named("amount_unit") in c.label.all())
    lost = set(spec.choices("stage").get("lost").label.all())
    probs = {lab: c.probability for c in spec.choices("stage").choices for lab in c.label.all()}
    opp = spec.table("Opportunities")
    ws = next(w for w in wb.worksheets if "Opportunities" in w.tables)
    rows = ws[ws.tables["Opportunities"].ref]
    head = [c.value for c in rows[0]]
    col = {c.key: next(i for i, h in enumerate(head) if h in c.label.all()) for c in opp.columns}
    opps = []
    for r in rows[1:]:
        raw = r[col["amount"]].value
        if raw is None:
            continue
        amount = int(str(raw).replace(",", "").replace("万円", "0000")) * factor if isinstance(raw, str) \
            else int(raw * factor)
        stage = r[col["stage"]].value
        p = r[col["probability"]].value
        p = float(str(p).rstrip("%")) if p is not None else probs[stage]
        close = r[col["expected_close"]].value
        close = datetime.strptime(close, "%Y/%m/%d") if isinstance(close, str) else close
        opps.append({"amount": amount, "stage": stage, "weighted": 0 if stage in lost else amount * p / 100,
                     "name": r[col["opportunity"]].value,
                     "in_period": close is not None and datetime(2026, 10, 1) <= close < datetime(2027, 1, 1)})
    target = named("sales_target") * factor
    return {"target": target, "plan": sum(o["amount"] for o in opps if o["stage"] not in lost),
            "inside": sum(o["amount"] for o in opps if o["stage"] not in lost and o["in_period"]),
            "weighted": sum(o["weighted"] for o in opps),
            "weighted_inside": sum(o["weighted"] for o in opps if o["in_period"]), "opps": opps,
            "account": named("account_name"), "rep": named("rep")}


# -- layout ------------------------------------------------------------------------------------

TABLES = {
    "dashboard": ["DashTotals", "DashCounts", "DashReps", "DashThinCoverage", "DashDecisionMakers", "DashVisits",
                  "DashPlans", "DashChanges", "DashChartData"],
    "changes": ["Changes"],
    "summary": ["Totals", "ByRep", "ByQuarter", "ByAccount"],
    "portfolio": ["Portfolio", "TierCoverage", "KpiByRep", "KpiRows"],
    "submissions": ["Submissions"],
    "file_log": ["FileLog"],
    "pipeline": ["Pipeline"],
    "coverage": ["Coverage", "WinRates"],
    "relationships": ["StanceCounts", "DecisionMakersAtRisk", "StaleContacts"],
    "activities": ["ExecutiveSummary", "ExecutiveVisits", "OverdueActivities"],
    "reviews": ["OpenActions"],
    "success_cases": ["NewSuccessCases"],
    "issues": ["DataIssues"],
    "trend": ["Trend"],
}


def test_sheets_tables_filters_frozen_headers_and_no_formulas(book):
    assert book.sheetnames == [SHEETS[k].ja for k in SHEETS]
    for key, names in TABLES.items():
        ws = sheet(book, key)
        assert sorted(ws.tables.keys()) == sorted(names), key
        for t in ws.tables.values():
            assert t.autoFilter is not None and t.autoFilter.ref == t.ref
        for r in ws.iter_rows():
            for c in r:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula"
    # single-table sheets: title in row 1, header in row 2, frozen below it
    for key in ("changes", "submissions", "file_log", "pipeline", "reviews", "success_cases", "issues", "trend"):
        ws = sheet(book, key)
        assert next(iter(ws.tables.values())).ref.startswith("A2:"), key
        assert ws.freeze_panes == "A3"
    assert sheet(book, "summary").freeze_panes == "A2"


def test_native_charts_bar_on_summary_line_on_trend(world):
    with zipfile.ZipFile(world["ja"]) as z:
        charts = {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")}
        rels = {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/drawings/_rels/")}
    assert len(charts) == 3
    # the dashboard's coverage bars with the threshold line; the summary's bars; the trend's lines
    combo = [x for x in charts.values() if "<barChart>" in x and "<lineChart>" in x]
    assert len(combo) == 1 and "'ダッシュボード'!" in combo[0] and "顧客別カバレッジ（線：3倍）" in combo[0]
    bar = next(x for x in charts.values() if "<barChart>" in x and "<lineChart>" not in x)
    assert sum("<lineChart>" in x and "<barChart>" not in x for x in charts.values()) == 1
    # the bar chart plots target and plan total of the ByAccount table on the Summary sheet
    assert "'サマリー'!$C$" in bar and "'サマリー'!$D$" in bar
    assert len(rels) == 3


# -- values --------------------------------------------------------------------------------------

def test_summary_totals_match_the_input_workbooks(world, book, ctx):
    spec, _ = ctx
    plans = [independent_plan(world["paths"][k], spec) for k in ("alpha", "beta", "gamma")]
    ws = sheet(book, "summary")
    totals = {r["項目"].replace(UNIT, ""): r["値"] for r in records(ws, "Totals")}
    assert totals["対象期間"] == PERIOD
    assert totals["プラン数"] == 3
    assert totals["売上目標"] == sum(p["target"] for p in plans) == 16_000_000
    # FY2026Q3 (Oct-Dec 2026): alpha's O2 closes in January, outside the target period
    assert totals["目標期間の案件合計"] == sum(p["inside"] for p in plans) == 39_000_000
    assert totals["対象期間外の案件合計"] == 8_000_000
    assert totals["加重見込み（目標期間）"] == pytest.approx(sum(p["weighted_inside"] for p in plans)) == 20_300_000
    assert totals["カバレッジ倍率"] == pytest.approx(39 / 16)
    assert totals["却下されたファイル"] == 1 and totals["未提出"] == 1 and totals["受信ファイル数"] == 4
    # positions: the Totals table starts at A4, its value cells carry the yen format
    assert ws.tables["Totals"].ref.startswith("A4:")
    # exact yen in the cell, shown in millions, the unit in the label
    assert ws["A7"].value == "売上目標（百万円）" and ws["B7"].value == 16_000_000 and ws["B7"].number_format == MILLIONS

    by_account = {r["顧客名"]: r for r in records(ws, "ByAccount")}
    for p in plans:
        row = by_account[p["account"]]
        assert (row["担当営業"], row["売上目標"], row["目標期間の案件合計"]) == (p["rep"], p["target"], p["inside"])
    by_rep = {r["担当営業"]: r for r in records(ws, "ByRep")}
    assert (by_rep["佐藤"]["顧客数"], by_rep["佐藤"]["売上目標"], by_rep["佐藤"]["目標期間の案件合計"]) == \
        (2, 11_000_000, 19_000_000)
    assert by_rep["佐藤"]["カバレッジ倍率"] == pytest.approx(19 / 11)
    assert by_rep["鈴木"]["カバレッジ倍率"] == pytest.approx(4.0) and by_rep["鈴木"]["判定"] == "適正"
    quarters = {r["受注予定四半期"]: (r["件数"], r["金額"], r["加重金額"]) for r in records(ws, "ByQuarter")}
    assert quarters == {"FY2026Q3": (3, 39_000_000, 20_300_000), "FY2026Q4": (1, 8_000_000, 4_000_000)}


def test_pipeline_lists_every_opportunity_with_rep_account_and_quarter(world, book, ctx):
    spec, _ = ctx
    ws = sheet(book, "pipeline")
    rows = records(ws, "Pipeline")
    expected = [o for k in ("alpha", "beta", "gamma") for o in independent_plan(world["paths"][k], spec)["opps"]]
    assert sorted(r["金額"] for r in rows) == sorted(o["amount"] for o in expected)
    assert ws_positions_ok(ws, "Pipeline", len(expected))
    hyper = next(r for r in rows if r["案件ID"] == "O1")
    assert (hyper["担当営業"], hyper["顧客名"], hyper["顧客コード"], hyper["対象期間"]) == ("佐藤", "アルファ工業", "A001", PERIOD)
    assert (hyper["ステージ"], hyper["受注予定四半期"], hyper["加重金額"]) == ("提案", "FY2026Q3", 3_600_000)
    assert hyper["受注予定日"] == datetime(2026, 11, 15)
    lost = next(r for r in rows if r["案件ID"] == "O3")
    assert (lost["ステージ"], lost["加重金額"]) == ("失注", 0)
    # the rep's "=HYPERLINK(...)" is a text cell, never a formula
    cell = next(c for r in ws.iter_rows() for c in r if c.value == HYPERLINK)
    assert cell.data_type == "s" and cell.quotePrefix
    amount_col = [c.value for c in ws[2]].index("金額" + UNIT) + 1
    assert ws.cell(row=3, column=amount_col).number_format == MILLIONS


def test_coverage_is_flagged_by_the_settings_thresholds(world, book, ctx, tmp_path):
    ws = sheet(book, "coverage")
    flags = {r["顧客名"]: (round(r["カバレッジ倍率"], 2), r["判定"]) for r in records(ws, "Coverage")}
    # in-period pipeline / target: alpha's January deal does not count (12M / 10M)
    assert flags == {"アルファ工業": (1.2, "不足"), "Beta Trading": (4.0, "適正"), "ガンマ電機": (7.0, "過大")}
    verdict_col = [c.value for c in ws[2]].index("判定") + 1
    low_cell = next(ws.cell(row=r, column=verdict_col) for r in range(3, 6)
                    if ws.cell(row=r, column=verdict_col).value == "不足")
    assert low_cell.fill.fgColor.rgb.endswith("FFC7CE")  # the 'bad' tone of the verdict list
    # the historical win rate next to the fixed rule: won 3M (FY2026Q2) / (3M + lost 5M) = 37.5%
    rates = {r["担当"]: r for r in records(ws, "WinRates")}
    assert rates["チーム全体"]["勝率（金額）"] == pytest.approx(0.375)
    assert rates["佐藤"]["必要カバレッジ（1÷勝率）"] == pytest.approx(1 / 0.375)
    spec, _ = ctx
    lenient = Settings(thresholds=Thresholds(coverage_low=1.0, coverage_high=8.0))
    with Store(world["url"], spec) as store:
        out = write_rollup(store, lenient.apply(load_spec()), lenient, tmp_path / "lenient.xlsx",
                           period=PERIOD, now=NOW)
    flags = {r["顧客名"]: r["判定"] for r in records(load_workbook(out)["カバレッジ"], "Coverage")}
    assert set(flags.values()) == {"適正"}


def test_submissions_one_row_per_roster_line_then_the_rest(book):
    rows = records(sheet(book, "submissions"), "Submissions")
    # the roster's four lines in roster order, then the rejected file no line expects
    assert [(r["担当営業"], r["顧客名"], r["状態"], r["最新のファイル"], r["名簿の行"]) for r in rows] == [
        ("佐藤", "アルファ工業", "要修正", "alpha.xlsx", 2), ("鈴木", "Beta Trading", "要修正", "beta.xlsx", 3),
        ("佐藤", "ガンマ電機", "要修正", "gamma.xlsx", 4), ("高橋", "デルタ物産", "未提出", None, 5),
        (None, None, "却下", "old_plan.xls", None)]
    missing = rows[3]
    assert (missing["顧客コード"], missing["エラー"], missing["最終取込"]) == ("D004", None, None)
    # stored with errors (sections left empty): needs fixing
    assert all(r["エラー"] >= 1 for r in rows[:3])
    alpha = rows[0]
    assert alpha["版"] == 1 and alpha["最終取込"] is not None and alpha["警告"] >= 1
    rejected = rows[4]
    assert rejected["エラー"] == 1 and rejected["備考"] == "E-FILE-FORMAT"
    # no local path anywhere on the sheet
    for r in rows:
        assert not any(isinstance(v, str) and ("/" in v or "\\" in v) for v in r.values()), r


def test_the_file_log_has_its_own_sheet_with_file_names(book):
    rows = records(sheet(book, "file_log"), "FileLog")
    assert sorted((r["ファイル"], r["状態"]) for r in rows) == [
        ("alpha.xlsx", "取込済"), ("beta.xlsx", "取込済"), ("gamma.xlsx", "取込済"), ("old_plan.xls", "却下")]
    assert next(r for r in rows if r["ファイル"] == "old_plan.xls")["詳細"] == "E-FILE-FORMAT"


def test_relationships(book):
    ws = sheet(book, "relationships")
    stance = {r["顧客名"]: r for r in records(ws, "StanceCounts")}
    a = stance["アルファ工業"]
    assert (a["好意的"], a["中立"], a["アンチ"], a["不明"], a["合計"]) == (1, 0, 1, 2, 4)
    assert (stance["Beta Trading"]["好意的"], stance["ガンマ電機"]["合計"]) == (1, 0)
    risk = records(ws, "DecisionMakersAtRisk")
    assert sorted((r["氏名"], r["スタンス"]) for r in risk) == [("伊藤", "不明"), ("山田", "アンチ")]  # 田中 has left
    stale = records(ws, "StaleContacts")
    # not met for 90 days, never met first, then the longest ago: 田中 has left, 鈴木 is recent
    assert [(r["顧客名"], r["氏名"], r["経過日数"]) for r in stale] == [
        ("アルファ工業", "伊藤", None), ("Beta Trading", PHONE, (TODAY - date(2026, 1, 10)).days),
        ("アルファ工業", "山田", (TODAY - date(2026, 5, 1)).days)]
    phone = next(c for r in ws.iter_rows() for c in r if c.value == PHONE)
    assert phone.data_type == "s" and phone.quotePrefix
    assert ws.tables["StanceCounts"].ref.startswith("A2:")


def test_activities_executive_visits_and_overdue(book):
    ws = sheet(book, "activities")
    summary = [(r["同行役員"], r["件数"], r["今後の予定"], r["直近の予定日"]) for r in records(ws, "ExecutiveSummary")]
    assert summary == [("伊藤 専務", 1, 1, datetime(2026, 11, 10)), ("高橋 社長", 2, 1, datetime(2026, 12, 1))]
    visits = [(r["同行役員"], r["予定日"], r["アポ状況"]) for r in records(ws, "ExecutiveVisits")]
    assert visits == [("伊藤 専務", datetime(2026, 11, 10), "依頼中"), ("高橋 社長", datetime(2026, 10, 1), "確定"),
                      ("高橋 社長", datetime(2026, 12, 1), "依頼中")]
    overdue = records(ws, "OverdueActivities")
    assert [(r["ID"], r["超過日数"], r["実施状況"]) for r in overdue] == [("A1", 14, "予定")]


def test_open_review_actions(book):
    rows = records(sheet(book, "reviews"), "OpenActions")
    assert [(r["対象"], r["完了"], r["超過日数"]) for r in rows] == [("受注率改善", "未", 15), ("-先の件", None, None)]
    cell = next(c for r in sheet(book, "reviews").iter_rows() for c in r if c.value == "-先の件")
    assert cell.data_type == "s"


def test_new_success_cases_exclude_private_and_earlier_ones(book):
    rows = records(sheet(book, "success_cases"), "NewSuccessCases")
    assert [(r["事例タイトル"], r["共有範囲"], r["担当営業"]) for r in rows] == [("製造ラインDX", "社内公開", "佐藤")]


def test_issues_sheet_lists_data_quality_and_missing_submissions(book):
    rows = records(sheet(book, "issues"), "DataIssues")
    codes = {(r["コード"], r["重要度"]) for r in rows}
    assert ("E-FILE-FORMAT", "エラー") in codes and ("W-MISSING-SUBMISSION", "警告") in codes
    missing = next(r for r in rows if r["コード"] == "W-MISSING-SUBMISSION")
    assert (missing["担当営業"], missing["顧客名"]) == ("高橋", "デルタ物産") and "デルタ物産" in missing["メッセージ"]
    coverage = next(r for r in rows if r["コード"] == "W-COVERAGE-LOW")
    assert coverage["顧客名"] == "アルファ工業" and coverage["項目"] == "カバレッジ倍率"
    # the missing plans to chase first, then errors, warnings, info
    assert rows[0]["コード"] == "W-MISSING-SUBMISSION"
    severities = [r["重要度"] for r in rows[1:]]
    assert severities == sorted(severities, key=["エラー", "警告", "情報"].index)
    assert ws_positions_ok(sheet(book, "issues"), "DataIssues", len(rows))
    # plan sheet names in the roll-up's language, also for the plan kept in English
    from xltools.spec.spec import load_spec

    sections = load_spec().sections
    ja_names, en_names = {s.label.ja for s in sections}, {s.label.en for s in sections}
    shown = {r["シート"] for r in rows if r["シート"]}
    assert shown & ja_names and not shown & en_names
    beta = [r["シート"] for r in rows if r["顧客名"] == "Beta Trading" and r["シート"] in ja_names | en_names]
    assert beta and set(beta) <= ja_names


def test_trend_of_a_single_collection_equals_the_totals(book):
    rows = records(sheet(book, "trend"), "Trend")
    assert len(rows) == 1
    (r,) = rows
    assert (r["プラン数"], r["目標期間の案件合計"], r["売上目標"]) == (3, 39_000_000, 16_000_000)
    assert r["月"] == NOW.strftime("%Y-%m")  # the month collect_paths(now=NOW) stamped


def test_english_rollup(world):
    wb = load_workbook(world["en"])
    assert wb.sheetnames == [SHEETS[k].en for k in SHEETS]
    rows = records(wb["Pipeline"], "Pipeline")
    o1 = next(r for r in rows if r["Opp ID"] == "O1")
    assert (o1["Account manager"], o1["Stage"], o1["Opportunity"]) == ("佐藤", "Proposal", HYPERLINK)
    flags = {r["Account name"]: r["Verdict"] for r in records(wb["Coverage"], "Coverage")}
    assert flags["アルファ工業"] == "Too low"
    subs = {r["Status"] for r in records(wb["Submissions"], "Submissions")}
    assert subs == {"Needs fixing", "Rejected", "Missing"}
    assert {r["Status"] for r in records(wb["File log"], "FileLog")} == {"Stored", "Rejected"}
    msgs = [r["Message"] for r in records(wb["Issues"], "DataIssues") if r["Code"] == "E-FILE-FORMAT"]
    assert msgs and msgs[0].startswith("Unsupported format")


# -- history, databases, atomicity, LibreOffice, command line -------------------------------------

def test_trend_month_over_month_from_the_stored_history(tmp_path, ctx, db_url):
    spec, settings = ctx
    pid = str(uuid.uuid4())
    opp = lambda amount: [{"opportunity": "案件", "amount": amount, "probability": 50,  # noqa: E731
                           "stage": "negotiation", "expected_close": date(2026, 12, 1)}]
    v1 = make_plan(tmp_path / "v1" / "x.xlsx", spec, settings, account="X社", rep="佐藤", plan_id=pid,
                   target=10_000_000, Opportunities=opp(10_000_000))
    v2 = make_plan(tmp_path / "v2" / "x.xlsx", spec, settings, account="X社", rep="佐藤", plan_id=pid,
                   target=10_000_000, Opportunities=opp(15_000_000))
    y = make_plan(tmp_path / "y" / "y.xlsx", spec, settings, account="Y社", rep="鈴木", target=5_000_000,
                  Opportunities=opp(20_000_000))
    with Store(db_url, spec) as store:
        for path, when, mtime in ((v1, datetime(2026, 10, 5, 3, tzinfo=timezone.utc), 1),
                                  (v2, datetime(2026, 11, 5, 3, tzinfo=timezone.utc), 2),
                                  (y, datetime(2026, 11, 6, 3, tzinfo=timezone.utc), 2)):
            report = check_file(path, spec, settings, now=NOW)
            store.save(report, path=str(path), size=path.stat().st_size, sha256=uuid.uuid4().hex * 2,
                       mtime=datetime(2026, 9 + mtime, 1, tzinfo=timezone.utc), collected_at=when)
        out = write_rollup(store, spec, settings, tmp_path / "trend.xlsx", period=PERIOD, now=NOW)
    wb = load_workbook(out)
    subs = [(r["顧客名"], r["版"], r["状態"]) for r in records(wb["ファイル履歴"], "FileLog")]
    assert subs == [("X社", 1, "新しい版に更新済"), ("X社", 2, "取込済"), ("Y社", 1, "取込済")]
    rows = records(wb["推移"], "Trend")
    assert [(r["月"], r["プラン数"], r["目標期間の案件合計"], r["売上目標"]) for r in rows] == [
        ("2026-10", 1, 10_000_000, 10_000_000), ("2026-11", 2, 35_000_000, 15_000_000)]
    assert rows[1]["カバレッジ倍率"] == pytest.approx(35 / 15)


def test_postgresql_and_sqlite_give_the_same_rollup(world, ctx, db_url, tmp_path):
    spec, settings = ctx
    with Store(db_url, spec) as store:
        collect_paths([world["base"] / "inbox"], store, spec, settings, jobs=1, now=NOW)
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period=PERIOD, roster=world["roster"],
                           now=NOW)
    ref, got = load_workbook(world["ja"]), load_workbook(out)
    for key, names in TABLES.items():
        for name in names:
            if name in ("FileLog", "DataIssues", "Totals"):  # paths, timestamps
                continue
            assert records(sheet(got, key), name) == records(sheet(ref, key), name), name
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("ファイル", "取込日時")} for r in rs]  # noqa: E731
    assert strip(records(sheet(got, "file_log"), "FileLog")) == strip(records(sheet(ref, "file_log"), "FileLog"))


def test_a_failed_write_leaves_the_previous_rollup_intact(world, ctx, tmp_path, monkeypatch):
    spec, settings = ctx
    out = tmp_path / "rollup.xlsx"
    with Store(world["url"], spec) as store:
        write_rollup(store, spec, settings, out, period=PERIOD, now=NOW)
        before = out.read_bytes()
        from xltools.reports.rollup import book as rollup_book

        real_row, calls = rollup_book._row, []

        def disk_full(r, cells):  # the disk fills up while the rows are being streamed
            calls.append(r)
            if len(calls) > 40:
                raise OSError(28, "No space left on device")
            return real_row(r, cells)

        monkeypatch.setattr(rollup_book, "_row", disk_full)
        with pytest.raises(OSError):
            write_rollup(store, spec, settings, out, period=PERIOD, lang="en", now=NOW)
        assert len(calls) == 41  # it failed half-way through
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollup.xlsx"]  # no temp file left
    assert load_workbook(out).sheetnames[0] == "ダッシュボード"


def test_libreoffice_opens_the_rollup(world, soffice, tmp_path):
    from xltools.workbook.libreoffice import recalculate

    converted = recalculate(world["ja"], tmp_path / "lo", soffice=soffice)
    wb = load_workbook(converted)
    assert wb.sheetnames == [SHEETS[k].ja for k in SHEETS]
    totals = {r["項目"].replace(UNIT, ""): r["値"] for r in records(wb["サマリー"], "Totals")}
    assert (totals["プラン数"], totals["目標期間の案件合計"], totals["売上目標"]) == (3, 39_000_000, 16_000_000)
    texts = [c.value for r in wb["パイプライン"].iter_rows() for c in r]
    assert HYPERLINK in texts  # still the rep's text, not a formula LibreOffice evaluated
    phone = [c for r in wb["リレーション"].iter_rows() for c in r if c.value == PHONE]
    assert phone and all(c.data_type == "s" for c in phone)


def test_report_command(world, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.xlsx"
    r = runner.invoke(cli, ["report", "--db", world["url"], "-o", str(out), "--period", "fy2026q3", "--lang", "en",
                            "--roster", str(world["roster"])])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(out)
    assert load_workbook(out).sheetnames[0] == "Dashboard"
    r = runner.invoke(cli, ["report", "--db", f"sqlite:///{tmp_path / 'none.db'}", "-o", str(out)])
    assert r.exit_code == 3 and "Traceback" not in r.output and "xltools collect" in r.output
    r = runner.invoke(cli, ["report", "--db", world["url"], "-o", str(out), "--period", "next year"])
    assert r.exit_code == 2 and "FY2026Q3" in r.output
    r = runner.invoke(cli, ["report", "--db", world["url"], "-o", str(tmp_path / "r.csv")])
    assert r.exit_code == 2 and ".xlsx" in r.output


def test_an_empty_database_gives_an_empty_rollup(tmp_path, ctx):
    spec, settings = ctx
    with Store(f"sqlite:///{tmp_path / 'e.db'}", spec) as store:
        out = write_rollup(store, spec, settings, tmp_path / "empty.xlsx", now=NOW)
    wb = load_workbook(out)
    assert records(wb["サマリー"], "ByAccount") == []
    assert {r["項目"]: r["値"] for r in records(wb["サマリー"], "Totals")}["プラン数"] == 0
    with pytest.raises(RollupError):
        with Store(f"sqlite:///{tmp_path / 'e.db'}", spec) as store:
            write_rollup(store, spec, settings, tmp_path / "x.xlsx", lang="fr")


# -- the streaming cell writer ---------------------------------------------------------------------

class _Styles:
    """Stands in for the workbook's style registry: style ids by (format, tone, quote)."""

    def __init__(self):
        self.seen: dict[tuple, int] = {}

    def style(self, fmt=None, tone=None, quote=False, bold_size=None):
        return self.seen.setdefault((fmt, tone, quote, bold_size), len(self.seen) + 1)


@hsettings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_is_written_as_text_never_as_a_formula(text):
    from xltools.reports.rollup import _clean, _encode
    from xltools.workbook.xlwrite import clean_text

    styles = _Styles()
    el = ET.fromstring(f'<x xmlns="{NS}">{_encode("B", 7, text, YEN_FORMAT, "bad", styles)}</x>')[0]
    assert el.get("r") == "B7" and el.get("t") == "inlineStr"
    assert el.find(f"{{{NS}}}f") is None and el.find(f"{{{NS}}}v") is None
    assert "".join(el.find(f"{{{NS}}}is").itertext()) == clean_text(text) == _clean(text)
    (key,) = [k for k, v in styles.seen.items() if v == int(el.get("s"))]
    # text ignores the number format, keeps the tone, and gets the quote prefix on = + - @
    assert key == (None, "bad", text.startswith(("=", "+", "-", "@")), None)


@hsettings(max_examples=200, deadline=None)
@given(value=st.one_of(st.integers(-10 ** 15, 10 ** 15), st.floats(allow_nan=False, allow_infinity=False),
                       st.dates(), st.datetimes()))
def test_numbers_and_dates_round_trip_as_numbers(value):
    from xltools.reports.rollup import DATE_FORMAT, _encode

    styles = _Styles()
    el = ET.fromstring(f'<x xmlns="{NS}">{_encode("C", 3, value, None, None, styles)}</x>')[0]
    assert el.get("t") is None
    v = float(el.find(f"{{{NS}}}v").text)
    if isinstance(value, datetime):
        assert v == pytest.approx((value - datetime(1899, 12, 30)).total_seconds() / 86400, abs=1e-6)
    elif isinstance(value, date):
        assert v == (value - date(1899, 12, 30)).days
        assert list(styles.seen)[0][0] == DATE_FORMAT
    else:
        assert v == value


def test_every_part_of_the_package_is_well_formed_xml(world):
    with zipfile.ZipFile(world["ja"]) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet1 and 't="inlineStr"' in sheet1


def test_summary_chart_switches_to_reps_when_accounts_are_many(world, ctx, tmp_path, monkeypatch):
    from xltools.reports.rollup import sheets_lists

    spec, settings = ctx
    monkeypatch.setattr(sheets_lists, "CHART_MAX_ACCOUNTS", 2)  # 3 accounts: too many to chart one by one
    with Store(world["url"], spec) as store:
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period=PERIOD, now=NOW)
    ws = load_workbook(out)["サマリー"]
    rep_header = int(ws.tables["ByRep"].ref.split(":")[0][1:])
    with zipfile.ZipFile(out) as z:
        bar = next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/") and b"<barChart>" in z.read(n)
                   and b"<lineChart>" not in z.read(n))
    assert "計画と目標（担当営業別）" in bar
    assert f"'サマリー'!$A${rep_header + 1}:$A${rep_header + 2}" in bar  # categories: the two reps


def test_the_same_data_gives_the_same_rollup_under_any_hash_seed(world, tmp_path):
    """Style ids go by first use: the styles are made in a fixed order, not a set's."""
    parts = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.xlsx"
        env = {**os.environ, "PYTHONHASHSEED": seed, "XLTOOLS_NOW": NOW.isoformat()}
        r = subprocess.run([sys.executable, "-m", "xltools", "report", "--db", world["url"], "-o", str(out),
                            "--period", PERIOD], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        with zipfile.ZipFile(out) as z:
            parts.append({n: re.sub(rb"<dcterms:(created|modified)[^<]*</dcterms:\w+>", b"", z.read(n))
                          for n in z.namelist()})
    assert list(parts[0]) == list(parts[1]) and len(parts[0]) > 20
    assert [n for n in parts[0] if parts[0][n] != parts[1][n]] == []


# -- two processes ----------------------------------------------------------------------------

def _parts(path: Path) -> tuple[list[tuple], dict[str, bytes]]:
    """Each member's name, CRC, sizes (compressed too) and contents; the package's creation
    and modification times (openpyxl's, the real time of the run) left out."""
    with zipfile.ZipFile(path) as z:
        infos = [(i.filename, i.CRC, i.file_size, i.compress_size) for i in z.infolist()
                 if i.filename != "docProps/core.xml"]
        parts = {n: re.sub(rb"<dcterms:(created|modified)[^<]*</dcterms:\w+>", b"", z.read(n)) for n in z.namelist()}
    return infos, parts


def test_two_processes_and_one_give_the_same_file(world, ctx, tmp_path, monkeypatch):
    """The worker's sheets (portfolio, pipeline, relationships) come back compressed and
    are put in the package in their place: the same members, compressed the same, as one
    process writes -- with fork, with one process asked, and where there is no fork."""
    from xltools.reports.rollup import book as rollup_book

    spec, settings = ctx
    answered = []
    real = rollup_book._Book._far_members

    def far_members(self, worker, far, out):
        got = real(self, worker, far, out)
        answered.append(sorted(got))
        return got

    monkeypatch.setattr(rollup_book._Book, "_far_members", far_members)
    with Store(world["url"], spec) as store:
        two = write_rollup(store, spec, settings, tmp_path / "two.xlsx", period=PERIOD, roster=world["roster"], now=NOW)
        one = write_rollup(store, spec, settings, tmp_path / "one.xlsx", period=PERIOD, roster=world["roster"], now=NOW,
                           processes=1)
        monkeypatch.delattr(os, "fork")
        nofork = write_rollup(store, spec, settings, tmp_path / "nofork.xlsx", period=PERIOD, roster=world["roster"],
                              now=NOW)
    titles = [SHEETS[k]("ja") for k in ("portfolio", "pipeline", "relationships")]
    assert answered == [sorted(titles)]  # the worker wrote its three sheets, once (not when asked for one process)
    assert _parts(two) == _parts(one) == _parts(nofork)
    assert _parts(two)[1] == _parts(world["ja"])[1]
    assert records(sheet(load_workbook(two), "pipeline"), "Pipeline") == records(sheet(load_workbook(one), "pipeline"),
                                                                                   "Pipeline")


def test_the_contact_and_activity_passes_come_from_the_win_rates_process(world, ctx, tmp_path, monkeypatch):
    """With two processes the relationships and activities sheets take their passes over the
    contacts and activities from the win rates' process (the parent makes none); with one,
    the parent makes them; the passes are the same either way, and so is the file."""
    from xltools.reports.rollup import sheets_lists
    from xltools.reports.rollup.data import child_scans, gather, with_ids
    from xltools.reports.rollup.figures import CONTACT_SCAN_KEYS, activity_scan, activity_scan_keys, contact_scan
    from xltools.spec.contract import T
    from xltools.store.queries import Snapshot

    spec, settings = ctx
    made: list[str] = []
    monkeypatch.setattr(sheets_lists, "contact_scan", lambda *a: made.append("contacts") or contact_scan(*a))
    monkeypatch.setattr(sheets_lists, "activity_scan", lambda *a: made.append("activities") or activity_scan(*a))
    with Store(world["url"], spec) as store:
        two = write_rollup(store, spec, settings, tmp_path / "two.xlsx", period=PERIOD, roster=world["roster"], now=NOW)
        assert made == []
        one = write_rollup(store, spec, settings, tmp_path / "one.xlsx", period=PERIOD, roster=world["roster"], now=NOW,
                           processes=1)
        assert made == ["contacts", "activities"]
        with Snapshot(store) as snap:
            data = gather(store, spec, settings, snap, period=PERIOD, now=NOW)
            scans = child_scans(snap, settings, spec, data.today, data.period)
            here = contact_scan(spec, settings, data.today, with_ids(data, T.CONTACTS, CONTACT_SCAN_KEYS))
            assert scans["contacts"] == here and here.risk and here.stale and sum(here.stances.values()) > 0
            acts = activity_scan(spec, data.today, with_ids(data, T.ACTIVITIES, activity_scan_keys(spec)))
            assert scans["activities"] == acts and acts.visits and acts.overdue
    assert _parts(two) == _parts(one)


def test_a_database_changed_under_the_worker_is_read_from_the_parent_snapshot(world, ctx, tmp_path, monkeypatch):
    """The worker reads through its own connection; when it sees another state of the
    database than the parent (a collect committed in between), the parent writes those
    sheets from its own snapshot: the file is the one of that snapshot."""
    from xltools.store.snapshot import Snapshot

    spec, settings = ctx
    parent, real = os.getpid(), Snapshot.fingerprint
    monkeypatch.setattr(Snapshot, "fingerprint", lambda self: real(self) + ((1,) if os.getpid() != parent else ()))
    with Store(world["url"], spec) as store:
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period=PERIOD, roster=world["roster"], now=NOW)
    assert _parts(out)[1] == _parts(world["ja"])[1]


@pytest.mark.parametrize("how", ["killed", "error", "rates killed"])
def test_a_worker_that_dies_gives_a_clear_error_and_no_file(world, ctx, tmp_path, monkeypatch, how):
    """The sheets' worker killed or failing, or the win rates' worker killed: a bilingual
    error naming the sheet and how it stopped, the previous file intact, no process left."""
    import signal

    from xltools.reports.rollup import RollupWorkerError
    from xltools.reports.rollup import book as rollup_book
    from xltools.reports.rollup import data as rollup_data

    spec, settings = ctx
    out = tmp_path / "rollup.xlsx"
    out.write_bytes(b"the previous roll-up")

    def dies(_):
        if how != "error":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError("broken sheet")

    monkeypatch.setattr(*((rollup_data, "_win_rates_in_child") if how == "rates killed" else (rollup_book, "_far_sheets")),
                        dies)
    with Store(world["url"], spec) as store:
        with pytest.raises(RollupWorkerError) as e:
            write_rollup(store, spec, settings, out, period=PERIOD, now=NOW)
    ja, en = e.value.message("ja"), e.value.message("en")
    sheet_name = "カバレッジ" if how == "rates killed" else "パイプライン"
    assert sheet_name in ja and sheet_name in en and "出力ファイルは書き込まれていません" in ja
    assert "no output file was written" in en
    assert ("ValueError: broken sheet" in en) if how == "error" else ("SIGKILL" in ja and "killed by SIGKILL" in en)
    assert e.value.code == "report-worker"
    assert out.read_bytes() == b"the previous roll-up"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rollup.xlsx"]  # no temporary file left
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the worker was waited for: no process left behind
