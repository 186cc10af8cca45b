"""The leaders' dashboard (ダッシュボード), the changes since last month (前月比) and the page
setup of every roll-up sheet.  The world is test_rollup's three plans, a rejected file and a
roster line without a plan (collected at ``NOW``); the history test builds two months of one
plan.  No test reads the real clock: every run passes ``now``."""
from __future__ import annotations

import subprocess
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_collect import NOW, PERIOD, make_plan
from test_rollup import MILLIONS, UNIT, book, ctx, records, world  # noqa: F401  (fixtures)

from xltools.checking.check import check_file
from xltools.reports.rollup import SHEETS, RollupError, write_rollup
from xltools.spec.config import ConfigError, ReportSettings, Settings, settings_from_dict
from xltools.store.engine import Store


def dash(book):
    return book[SHEETS["dashboard"].ja]


def items(ws, name: str) -> dict:
    return {r["項目"]: r["値"] for r in records(ws, name)}


def test_dashboard_totals_rag_and_counts(book):
    ws = dash(book)
    assert book.sheetnames[0] == "ダッシュボード" and book.active.title == "ダッシュボード"
    assert ws["A1"].value == "ダッシュボード  FY2026Q3"
    assert "金額単位 百万円" in ws["A2"].value and "作成 2026-10-15" in ws["A2"].value
    totals = items(ws, "DashTotals")
    # coverage is the stored in-period figure: alpha's January deal is outside FY2026Q3
    assert totals == {"売上目標（百万円）": 16_000_000, "目標期間の案件合計（百万円）": 39_000_000,
                      "カバレッジ倍率": pytest.approx(39 / 16), "加重見込み（目標期間）（百万円）": 20_300_000,
                      "受注済（目標期間）（百万円）": 0, "目標までの残り（目標−受注済）（百万円）": 16_000_000}
    target_cell = next(r[1] for r in ws.iter_rows(min_row=5, max_row=12) if r[0].value == "売上目標（百万円）")
    assert target_cell.number_format == MILLIONS  # exact yen, shown in millions
    counts = items(ws, "DashCounts")
    # alpha 1.2x red, Beta 4.0x green, gamma 7.0x amber; counts say what they count
    assert counts == {"プラン数": 3, "顧客数：赤": 1, "顧客数：黄": 1, "顧客数：緑": 1, "未提出のプラン": 1,
                      "却下されたファイル": 1, "ファイルの競合": 0}
    reps = [(r["担当営業"], round(r["カバレッジ倍率"], 2), r["RAG"]) for r in records(ws, "DashReps")]
    assert reps == [("佐藤", 1.73, "赤"), ("鈴木", 4.0, "緑")]  # worst first
    thin = [(r["顧客名"], r["カバレッジ倍率"]) for r in records(ws, "DashThinCoverage")]
    assert thin == [("アルファ工業", pytest.approx(1.2))]


def test_dashboard_exception_lists(book):
    ws = dash(book)
    dms = [(r["顧客名"], r["氏名"], r["スタンス"], r["当社担当"], r["予定の活動"]) for r in records(ws, "DashDecisionMakers")]
    # 田中 has left; 伊藤 has nothing planned (listed first), 山田 has open visits planned
    assert dms == [("アルファ工業", "伊藤", "不明", None, "なし"), ("アルファ工業", "山田", "アンチ", "佐藤", "あり")]
    visits = [(r["同行役員"], r["予定日"], r["アポ状況"]) for r in records(ws, "DashVisits")]
    # within 30 days of 2026-10-15 and not booked: A2 (requested); A3 is 47 days out, A1 confirmed
    assert visits == [("伊藤 専務", datetime(2026, 11, 10), "依頼中")]
    plans = [(r["担当営業"], r["顧客名"], r["状態"], r["ファイル"]) for r in records(ws, "DashPlans")]
    assert plans == [("高橋", "デルタ物産", "未提出", None), (None, None, "却下", "old_plan.xls")]
    assert records(ws, "DashChanges") == []  # one collection: nothing changed since last month


def test_dashboard_and_every_sheet_have_a_page_setup(book):
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, ws.title
        assert ws.oddHeader.center.text == "社外秘" and ws.oddHeader.right.text == "作成 2026-10-15"
        assert "FY2026Q3" in ws.oddHeader.left.text and ws.oddFooter.center.text == "&P / &N ページ"
    assert dash(book).page_setup.fitToHeight == 1
    assert book["パイプライン"].print_title_rows == "$1:$2"
    assert book["リレーション"].row_breaks.brk  # each table of a many-table sheet starts a page


def test_amount_headers_name_the_unit(book):
    ws = book["パイプライン"]
    headers = [c.value for c in ws[2]]
    assert "金額（百万円）" in headers and "加重金額（百万円）" in headers and "金額" not in headers


def test_amount_unit_from_the_settings(world, ctx, tmp_path):
    spec, _ = ctx
    thousands = Settings(report=ReportSettings(amount_unit="thousand"))
    with Store(world["url"], spec) as store:
        out = write_rollup(store, spec, thousands, tmp_path / "k.xlsx", period=PERIOD, now=NOW, lang="en")
        with pytest.raises(RollupError, match="amount_unit"):
            write_rollup(store, spec, Settings(report=ReportSettings(amount_unit="lakh")), tmp_path / "x.xlsx",
                         period=PERIOD, now=NOW)
    wb = load_workbook(out)
    ws = wb["Dashboard"]
    totals = {r["Item"]: r["Value"] for r in records(ws, "DashTotals")}
    assert totals["Sales target (JPY thousands)"] == 16_000_000
    assert ws.oddHeader.center.text == "Confidential" and ws.oddFooter.center.text == "Page &P of &N"
    cell = next(r[1] for r in ws.iter_rows(min_row=5, max_row=12) if r[0].value == "Sales target (JPY thousands)")
    assert cell.number_format == "#,##0,"
    assert settings_from_dict({"report": {"amount_unit": "yen", "visit_days": 14}}).report.visit_days == 14
    with pytest.raises(ConfigError):
        settings_from_dict({"report": {"visit_days": 0}})
    with pytest.raises(ConfigError):
        settings_from_dict({"report": {"colour": "red"}})


def _pages_of(pdf: Path, marker: str) -> tuple[int, list[int]]:
    n = int(next(line.split()[-1] for line in subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                             check=True).stdout.splitlines()
                 if line.startswith("Pages:")))
    hits = []
    for i in range(1, n + 1):
        text = subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        if marker in text:
            hits.append(i)
    return n, hits


#: pages of test_rollup's roll-up (3 plans) printed by LibreOffice: dashboard 1 + the other sheets
WORLD_PAGE_BUDGET = 26


def test_libreoffice_prints_the_dashboard_on_exactly_one_page(world, soffice, tmp_path):
    from xltools.workbook.libreoffice import to_pdf

    pdf = to_pdf(world["ja"], tmp_path, soffice=soffice)
    total, pages = _pages_of(pdf, "金額単位 百万円")
    assert pages == [1]  # the dashboard subtitle (period, unit, date made) is on its one page only
    assert total <= WORLD_PAGE_BUDGET


# -- changes since last month ---------------------------------------------------------------------

def _save(store, spec, settings, path: Path, when: datetime) -> None:
    report = check_file(path, spec, settings, now=when)
    store.save(report, path=str(path), size=path.stat().st_size, sha256=uuid.uuid4().hex * 2,
               mtime=when, collected_at=when)


def test_changes_since_last_month_from_a_two_month_history(tmp_path, ctx, db_url):
    spec, settings = ctx
    pid = str(uuid.uuid4())
    common = dict(account="X社", rep="佐藤", account_id="X1", plan_id=pid, target=3_000_000)
    v1 = make_plan(tmp_path / "sep" / "x.xlsx", spec, settings, **common,
                   Opportunities=[
                       {"opp_id": "O1", "opportunity": "基幹更新", "amount": 5_000_000, "stage": "proposal",
                        "expected_close": date(2026, 11, 10)},
                       {"opp_id": "O2", "opportunity": "保守契約", "amount": 3_000_000, "stage": "negotiation",
                        "expected_close": date(2026, 12, 1)},
                       {"opp_id": "O3", "opportunity": "=増設", "amount": 2_000_000, "stage": "proposal",
                        "expected_close": date(2026, 11, 1)}],
                   Contacts=[{"name": "山田", "stance": "neutral", "role": "decision_maker"},
                             {"name": "佐々木", "stance": "favourable"}])
    v2 = make_plan(tmp_path / "oct" / "x.xlsx", spec, settings, **common,
                   Opportunities=[
                       {"opp_id": "O1", "opportunity": "基幹更新", "amount": 5_000_000, "stage": "won",
                        "expected_close": date(2026, 11, 10)},
                       {"opp_id": "O2", "opportunity": "保守契約", "amount": 3_000_000, "stage": "negotiation",
                        "expected_close": date(2027, 2, 1)},
                       {"opp_id": "O3", "opportunity": "=増設", "amount": 4_000_000, "stage": "proposal",
                        "expected_close": date(2026, 11, 1)},
                       {"opp_id": "O4", "opportunity": "新工場", "amount": 10_000_000, "stage": "hypothesis",
                        "expected_close": date(2026, 12, 15)}],
                   Contacts=[{"name": "山田", "stance": "against", "role": "decision_maker"},
                             {"name": "木村", "stance": "unknown", "department": "情報システム部"}])
    with Store(db_url, spec) as store:
        _save(store, spec, settings, v1, datetime(2026, 9, 20, 3, tzinfo=timezone.utc))
        _save(store, spec, settings, v2, datetime(2026, 10, 10, 3, tzinfo=timezone.utc))
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period=PERIOD, now=NOW)
    wb = load_workbook(out)
    rows = [(r["担当営業"], r["顧客名"], r["変化"], r["対象"], r["前"], r["後"], r["プランの版"])
            for r in records(wb["前月比"], "Changes")]
    assert sorted(rows, key=str) == sorted([
        ("佐藤", "X社", "受注", "基幹更新", None, 5_000_000, "v1 → v2"),
        ("佐藤", "X社", "案件追加", "新工場", None, 10_000_000, "v1 → v2"),
        ("佐藤", "X社", "受注予定の後ろ倒し", "保守契約", "FY2026Q3", "FY2026Q4", "v1 → v2"),
        ("佐藤", "X社", "金額変更", "=増設", 2_000_000, 4_000_000, "v1 → v2"),
        ("佐藤", "X社", "スタンス変更", "山田", "中立", "アンチ", "v1 → v2"),
        ("佐藤", "X社", "キーマン追加", "木村", None, "情報システム部", "v1 → v2"),
        ("佐藤", "X社", "キーマン異動・退職・削除", "佐々木", None, "一覧から削除", "v1 → v2"),
        # in-period: (5+3+2)/3 = 3.33x healthy -> (5+4+10)/3 = 6.33x too high
        ("佐藤", "X社", "カバレッジ判定の変化", "適正 → 過大", pytest.approx(10 / 3), pytest.approx(19 / 3),
         "v1 → v2")], key=str)
    text = next(c for r in wb["前月比"].iter_rows() for c in r if c.value == "=増設")
    assert text.data_type == "s" and text.quotePrefix  # a rep's text never becomes a formula
    # the dashboard shows the biggest ones first: the threshold crossing and the stance change
    top = [(r["変化"], r["対象"]) for r in records(wb["ダッシュボード"], "DashChanges")]
    assert top[:2] == [("カバレッジ判定の変化", "適正 → 過大"), ("スタンス変更", "山田")]
    assert top[2] == ("案件追加", "新工場") and len(top) == 6  # dashboard_rows
    # one trend point per month collected
    trend = [(r["月"], r["目標期間の案件合計"]) for r in records(wb["推移"], "Trend")]
    assert trend == [("2026-09", 10_000_000), ("2026-10", 19_000_000)]


#: the demo's roll-up (3 reps x 4 accounts, two collections) printed by LibreOffice: measured
#: 25 A4 landscape pages (README, "Roll-up"); the budget leaves room for a few more rows
DEMO_PAGE_BUDGET = 32


def test_the_demo_rollup_prints_within_the_page_budget(tmp_path, soffice):
    from xltools.testing.demo import run_demo
    from xltools.workbook.libreoffice import to_pdf

    r = run_demo(tmp_path / "demo", echo=lambda *_: None, now=NOW)
    pdf = to_pdf(r.rollup, tmp_path / "pdf", soffice=soffice)
    total, pages = _pages_of(pdf, "金額単位 百万円")
    assert pages == [1] and total <= DEMO_PAGE_BUDGET
