"""The roll-up's submissions, file log and portfolio over a two-month history.

September: ``collect --roster`` with four roster lines; one plan arrives, one file is
not a plan (rejected).  October: the plans arrive again without a roster (a second one,
one revised), and ``report`` is run WITHOUT ``--roster``: the roster stored in September
for the period decides who is missing.  Run on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openpyxl import load_workbook
from test_collect import NOW, PERIOD, make_plan
from test_rollup import records, sheet

from xltools.cli import cli
from xltools.collect import collect_paths
from xltools.reports.rollup import write_rollup
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.store.engine import Store
from xltools.store.rosters import save_roster, stored_roster

SEPTEMBER = datetime(2026, 9, 18, 12, 0)
ROSTER = ("担当営業,顧客名,顧客コード,売上目標\n佐藤,アルファ工業,A001,1000万\n鈴木,ベータ商事,B002,500万\n"
          "高橋,デルタ物産,D004,\n田中,イプシロン化学,E005,\n")


@pytest.fixture(scope="module")
def ctx():
    settings = Settings()
    return settings.apply(load_spec()), settings


def _opp(opp_id, name, amount, stage, close):
    return {"opp_id": opp_id, "opportunity": name, "amount": amount, "probability": 50, "stage": stage,
            "expected_close": close}


def _filled(name: str) -> dict:
    """Every required section has something in it (no E-SECTION-EMPTY): a plan without errors."""
    return {"fields": {"headquarters": "東京都", "corporate_strategy": "中期経営計画でDXを推進"},
            "Contacts": [{"name": name, "role": "decision_maker", "stance": "favourable",
                          "last_contact": date(2026, 9, 1)}],
            "Activities": [{"planned_date": date(2026, 11, 2), "contact": name, "status": "planned",
                            "purpose": "定例"}]}


def _plans(d, spec, settings, *, month: int):
    """Alpha (A tier, thin plan; revised in October), beta (C tier, rich plan; from October)."""
    alpha_id, beta_id = "0f1e2d3c-0000-4000-8000-00000000000a", "0f1e2d3c-0000-4000-8000-00000000000b"
    amount = 3_000_000 if month == 9 else 5_000_000
    make_plan(d / "FY2026Q3_アルファ工業_佐藤.xlsx", spec, settings, account="アルファ工業", rep="佐藤",
              account_id="A001", target=10_000_000, plan_id=alpha_id, **_filled("山田"),
              Opportunities=[_opp("O1", "基幹更新", amount, "proposal", date(2026, 11, 10))],
              SelectionScores=[{"criterion": "売上規模", "weight": 1, "score": 5},
                               {"criterion": "成長性", "weight": 1, "score": 4}],
              KPIs=[{"kpi": "面談回数", "target": 10, "actual": 8}, {"kpi": "提案数", "target": 4, "actual": 5}])
    if month == 10:
        make_plan(d / "FY2026Q3_ベータ商事_鈴木.xlsx", spec, settings, account="ベータ商事", rep="鈴木",
                  account_id="B002", target=5_000_000, plan_id=beta_id, **_filled("鈴木"),
                  Opportunities=[_opp("B1", "全社展開", 40_000_000, "negotiation", date(2026, 12, 1))],
                  SelectionScores=[{"criterion": "売上規模", "weight": 1, "score": 2}],
                  KPIs=[{"kpi": "面談回数", "target": 10, "actual": 12}])
    else:  # a file that is not a plan, named like Epsilon's generated workbook
        (d / "FY2026Q3_イプシロン化学_田中.xlsx").write_bytes(b"not a workbook at all")


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, tmp_path, ctx):
    spec, settings = ctx
    url = (f"sqlite:///{tmp_path / 'xltools.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    roster = tmp_path / "名簿" / "roster.csv"
    roster.parent.mkdir()
    roster.write_text(ROSTER, encoding="utf-8")
    for month, when in ((9, SEPTEMBER), (10, NOW)):
        inbox = tmp_path / f"inbox{month}"
        inbox.mkdir()
        _plans(inbox, spec, settings, month=month)
        with Store(url, spec) as store:
            collect_paths([inbox], store, spec, settings, roster=roster if month == 9 else None,
                          period=PERIOD if month == 9 else None, jobs=1, now=when)
    with Store(url, spec) as store:
        out = write_rollup(store, spec, settings, tmp_path / "rollup.xlsx", period=PERIOD, now=NOW)
    return {"url": url, "out": out, "tmp": tmp_path, "roster": roster}


def test_collect_stores_the_roster_of_the_period_by_file_name(history, ctx):
    spec, _ = ctx
    with Store(history["url"], spec) as store:
        r = stored_roster(store, PERIOD)
        assert [(e.row, e.rep, e.account_name, e.account_id, e.target) for e in r] == [
            (2, "佐藤", "アルファ工業", "A001", 10_000_000), (3, "鈴木", "ベータ商事", "B002", 5_000_000),
            (4, "高橋", "デルタ物産", "D004", None), (5, "田中", "イプシロン化学", "E005", None)]
        assert r.path == "roster.csv"  # the name only: the folder stays on the ops machine
        assert stored_roster(store, "FY2026Q4") is None
        with store.engine.connect() as c:
            files = c.execute(sa.select(store.t["roster_lines"].c.roster_file).distinct()).scalars().all()
        assert files == ["roster.csv"]


def test_report_without_roster_uses_the_stored_one(history):
    wb = load_workbook(history["out"])
    rows = records(sheet(wb, "submissions"), "Submissions")
    got = [(r["担当営業"], r["顧客名"], r["顧客コード"], r["状態"], r["最新のファイル"], r["版"], r["名簿の行"])
           for r in rows]
    assert got == [
        ("佐藤", "アルファ工業", "A001", "提出済", "FY2026Q3_アルファ工業_佐藤.xlsx", 2, 2),
        ("鈴木", "ベータ商事", "B002", "提出済", "FY2026Q3_ベータ商事_鈴木.xlsx", 1, 3),
        ("高橋", "デルタ物産", "D004", "未提出", None, None, 4),
        ("田中", "イプシロン化学", "E005", "却下", "FY2026Q3_イプシロン化学_田中.xlsx", None, 5)]
    by_account = {r["顧客名"]: r for r in rows}
    assert by_account["アルファ工業"]["最終取込"] == NOW  # the October version is the latest
    assert by_account["アルファ工業"]["エラー"] == 0
    assert by_account["イプシロン化学"]["エラー"] >= 1 and by_account["イプシロン化学"]["最終取込"] == SEPTEMBER
    assert by_account["デルタ物産"]["最終取込"] is None
    ws = sheet(wb, "submissions")
    assert ws["A1"].value.startswith("提出状況（名簿の担当営業×顧客ごと") and "名簿：roster.csv" in ws["A1"].value
    # status cells carry the tones of their meaning
    status_col = [c.value for c in ws[2]].index("状態") + 1
    fills = {ws.cell(row=i, column=status_col).value: ws.cell(row=i, column=status_col).fill.fgColor.rgb
             for i in range(3, 7)}
    assert fills["未提出"] == fills["却下"] != fills["提出済"]


def test_file_log_and_dashboard_counts_say_what_they_count(history):
    wb = load_workbook(history["out"])
    log = records(sheet(wb, "file_log"), "FileLog")
    assert [(r["ファイル"], r["状態"], r["版"]) for r in log] == [
        ("FY2026Q3_アルファ工業_佐藤.xlsx", "新しい版に更新済", 1), ("FY2026Q3_イプシロン化学_田中.xlsx", "却下", None),
        ("FY2026Q3_アルファ工業_佐藤.xlsx", "取込済", 2), ("FY2026Q3_ベータ商事_鈴木.xlsx", "取込済", 1)]
    for r in log:
        assert "/" not in r["ファイル"] and str(history["tmp"]) not in str(r)
    counts = {r["項目"]: r["値"] for r in records(sheet(wb, "dashboard"), "DashCounts")}
    assert counts["未提出のプラン"] == 1 and counts["却下されたファイル"] == 1 and counts["ファイルの競合"] == 0
    assert "競合" not in counts  # never the bare word (it reads as "competitors")
    plans = [(r["担当営業"], r["顧客名"], r["状態"], r["ファイル"]) for r in records(sheet(wb, "dashboard"), "DashPlans")]
    assert plans == [("高橋", "デルタ物産", "未提出", None),
                     ("田中", "イプシロン化学", "却下", "FY2026Q3_イプシロン化学_田中.xlsx")]
    totals = {r["項目"]: r["値"] for r in records(sheet(wb, "summary"), "Totals")}
    assert totals["却下されたファイル"] == 1 and totals["ファイルの競合"] == 0 and totals["未提出"] == 1


def test_portfolio_puts_the_thin_a_tier_account_first(history):
    wb = load_workbook(history["out"])
    ws = sheet(wb, "portfolio")
    rows = records(ws, "Portfolio")
    assert [(r["ランク"], r["総合評点"], r["顧客名"], r["注目"]) for r in rows] == [
        ("A", pytest.approx(4.5), "アルファ工業", "Aランクで計画が薄い"), ("C", pytest.approx(2.0), "ベータ商事", None)]
    assert rows[0]["カバレッジ倍率"] == pytest.approx(0.5) and rows[1]["カバレッジ倍率"] == pytest.approx(8.0)
    assert rows[0]["判定"] == "不足" and rows[1]["判定"] == "過大"
    matrix = {r["ランク"]: r for r in records(ws, "TierCoverage")}
    assert (matrix["A"]["不足"], matrix["A"]["合計"], matrix["C"]["過大"]) == (1, 1, 1)
    kpi = sorted((r["担当営業"], r["指標"], r["KPI数"], round(r["平均達成率"], 4), round(r["最低達成率"], 4),
                  r["最低の顧客"]) for r in records(ws, "KpiByRep"))
    assert kpi == [("佐藤", "提案数", 1, 1.25, 1.25, "アルファ工業"), ("佐藤", "面談回数", 1, 0.8, 0.8, "アルファ工業"),
                   ("鈴木", "面談回数", 1, 1.2, 1.2, "ベータ商事")]
    detail = records(ws, "KpiRows")
    assert sorted((r["顧客名"], r["指標"], r["達成率"]) for r in detail) == [
        ("アルファ工業", "提案数", pytest.approx(1.25)), ("アルファ工業", "面談回数", pytest.approx(0.8)),
        ("ベータ商事", "面談回数", pytest.approx(1.2))]
    # the attention cell is red; the scatter chart plots score against coverage of the Portfolio table
    att = [c.value for c in ws[2]].index("注目") + 1
    assert ws.cell(row=3, column=att).fill.fgColor.rgb != ws.cell(row=4, column=att).fill.fgColor.rgb
    assert len(ws._charts) == 1


def test_stored_figures_are_the_ones_the_portfolio_shows(history, ctx):
    """One truth: tier, selection score and achievement are the stored columns."""
    spec, _ = ctx
    wb = load_workbook(history["out"])
    shown = {r["顧客名"]: (r["ランク"], r["総合評点"]) for r in records(sheet(wb, "portfolio"), "Portfolio")}
    with Store(history["url"], spec) as store:
        stored = {v["account_name"]: (v["tier"], v["selection_score"]) for v in store.current_versions(PERIOD)}
        ach = sorted(r["achievement"] for r in store.rows("KPIs", PERIOD))
    assert shown == stored
    shown_ach = sorted(r["達成率"] for r in records(sheet(wb, "portfolio"), "KpiRows"))
    assert shown_ach == ach


def test_a_later_roster_replaces_the_stored_one_and_report_roster_overrides(history, ctx, tmp_path):
    spec, settings = ctx
    with Store(history["url"], spec) as store:
        from xltools.checking.roster import read_roster

        other = tmp_path / "other.csv"
        other.write_text("担当営業,顧客名\n佐藤,アルファ工業\n", encoding="utf-8")
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period=PERIOD, roster=other, now=NOW)
        rows = records(sheet(load_workbook(out), "submissions"), "Submissions")
        # --roster wins: one line, beta is received but not on it; the rejected file is listed after
        assert [(r["顧客名"], r["状態"], r["備考"]) for r in rows] == [
            ("アルファ工業", "提出済", None), ("ベータ商事", "提出済", "名簿外"),
            (None, "却下", rows[2]["備考"])]
        assert rows[2]["最新のファイル"] == "FY2026Q3_イプシロン化学_田中.xlsx"
        assert save_roster(store, PERIOD, read_roster(other, spec), path=other, now=NOW) == 1
        assert [e.account_name for e in stored_roster(store, PERIOD)] == ["アルファ工業"]


def test_report_command_without_roster(history, ctx):
    out = history["tmp"] / "cli.xlsx"
    res = CliRunner().invoke(cli, ["report", "--db", history["url"], "-o", str(out), "--period", PERIOD],
                             env={"XLTOOLS_NOW": NOW.isoformat()})
    assert res.exit_code == 0, res.output
    rows = records(sheet(load_workbook(out), "submissions"), "Submissions")
    assert [r["状態"] for r in rows] == ["提出済", "提出済", "未提出", "却下"]
