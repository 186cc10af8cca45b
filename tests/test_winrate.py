"""Coverage from the real win rate: numbers on a constructed history (pure and from the
store on SQLite and PostgreSQL), and ``xltools check --db``."""
from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from test_history import SETTINGS, SPEC, T0, plan, save

from xltools.checking.check import check_file
from xltools.cli import cli
from xltools.errors import XltoolsError
from xltools.reports.winrate import Observation, WinRate, compute_win_rates, format_win_rate, win_rates, window
from xltools.spec.config import Thresholds
from xltools.spec.periods import Period
from xltools.store.engine import Store
from xltools.workbook.generate import PlanInfo, generate_workbook


def opp(opp_id, amount, stage, close=None, name=None):
    return {"opp_id": opp_id, "opportunity": name or f"案件{opp_id}", "amount": amount, "stage": stage,
            "expected_close": close}


def history(store: Store) -> None:
    """Two accounts, three reps, five quarters; see the expected figures below."""
    a = dict(account_name="東都精機株式会社", account_id="C-001")
    b = dict(account_name="北陸化学工業", account_id="C-002")
    save(store, plan(**a, rep="山田 太郎", period="FY2025Q4", Opportunities=[
        opp("O-1", 10_000_000, "won", date(2026, 2, 15)),
        opp("O-2", 5_000_000, "lost", date(2026, 3, 1)),
        opp("O-3", 20_000_000, "proposal", date(2026, 6, 30))]), at=T0)
    q1 = plan(**a, rep="山田 太郎", period="FY2026Q1", Opportunities=[
        opp("O-3", 20_000_000, "negotiation", date(2026, 6, 30)),
        opp("O-4", 15_000_000, "proposal", date(2026, 5, 10))])
    save(store, q1, at=T0 + timedelta(days=10))
    q1b = plan(**a, rep="山田 太郎", period="FY2026Q1", plan_id=q1.plan_id, Opportunities=[
        opp("O-3", 20_000_000, "won", date(2026, 6, 20)),  # the same opportunity, now won: counted once
        opp("O-4", 15_000_000, "lost", date(2026, 5, 10))])
    save(store, q1b, at=T0 + timedelta(days=40))
    save(store, plan(**a, rep="田中 次郎", period="FY2026Q2", predecessor=q1.plan_id, Opportunities=[
        opp("O-6", 7_000_000, "proposal", date(2026, 9, 30))]), at=T0 + timedelta(days=100))
    save(store, plan(**b, rep="鈴木 一郎", period="FY2026Q1", Opportunities=[
        opp("O-1", 8_000_000, "won", date(2026, 4, 30)),  # same ID, other account: another opportunity
        opp("O-9", 2_000_000, "lost")]), at=T0 + timedelta(days=20))  # no close date: its plan's period
    save(store, plan(**b, rep="鈴木 一郎", period="FY2024Q4", Opportunities=[
        opp("O-5", 100_000_000, "won", date(2025, 3, 1))]), at=T0 - timedelta(days=400))  # outside the window


def test_window_of_fiscal_quarters():
    assert [str(p) for p in window(Period(2026, 1), 4)] == ["FY2025Q2", "FY2025Q3", "FY2025Q4", "FY2026Q1"]
    assert [str(p) for p in window(Period(2026, None), 2)] == ["FY2026Q3", "FY2026Q4"]
    with pytest.raises(XltoolsError):
        window(Period(2026, 1), 0)


def test_win_rate_properties():
    w = WinRate("山田", won_amount=30, lost_amount=70, won_count=1, lost_count=3)
    assert (w.sample, w.rate, w.implied_coverage) == (4, 0.3, pytest.approx(1 / 0.3))
    assert WinRate(None).rate is None and WinRate(None).implied_coverage is None
    assert WinRate(None, lost_amount=5, lost_count=1).rate == 0 and WinRate(None, lost_amount=5).implied_coverage is None


def test_compute_counts_each_opportunity_once_in_its_latest_state():
    obs = [
        Observation("id:a", "id:o1", "山田", "FY2026Q1", ((2026, 1), 1), "proposal", 10, date(2026, 5, 1)),
        Observation("id:a", "id:o1", "山田", "FY2026Q1", ((2026, 1), 2), "lost", 10, date(2026, 5, 1)),
        Observation("id:a", "id:o1", "佐藤", "FY2026Q2", ((2026, 2), 3), "won", 12, date(2026, 7, 1)),
        Observation("id:b", "id:o1", "佐藤", "FY2026Q2", ((2026, 2), 1), "lost", 4, None),
        Observation("id:b", "id:o2", "佐藤", "FY2026Q2", ((2026, 2), 1), "won", 0, None),  # no amount: ignored
    ]
    wr = compute_win_rates(obs, SETTINGS)
    assert wr.periods == ("FY2025Q3", "FY2025Q4", "FY2026Q1", "FY2026Q2")
    assert (wr.team.won_amount, wr.team.lost_amount, wr.team.won_count, wr.team.lost_count) == (12, 4, 1, 1)
    assert [w.rep for w in wr.reps] == ["佐藤"]
    assert wr.rate_for("佐藤") == pytest.approx(0.75)
    assert compute_win_rates([], SETTINGS).team.sample == 0
    with pytest.raises(XltoolsError):
        compute_win_rates(obs, SETTINGS, until="next quarter")


def test_win_rates_from_a_constructed_history(db_url):
    with Store(db_url) as store:
        history(store)
        wr = win_rates(store, SETTINGS, until="FY2026Q1")
        latest = win_rates(store, SETTINGS)  # default: up to the latest stored period (FY2026Q2)
        one = win_rates(store, dataclasses.replace(SETTINGS, thresholds=Thresholds(win_rate_periods=1)),
                        until="FY2026Q1")
        long = win_rates(store, SETTINGS, until="FY2026Q1", periods=8)

    assert wr.periods == ("FY2025Q2", "FY2025Q3", "FY2025Q4", "FY2026Q1")
    t = wr.team
    assert (t.won_amount, t.lost_amount, t.won_count, t.lost_count, t.sample) == (
        38_000_000, 22_000_000, 3, 3, 6)
    assert t.rate == pytest.approx(38 / 60) and t.implied_coverage == pytest.approx(60 / 38)
    yamada, suzuki = wr.for_rep("山田太郎"), wr.for_rep("鈴木 一郎")
    assert [w.rep for w in wr.reps] == ["山田 太郎", "鈴木 一郎"]
    assert (yamada.won_amount, yamada.lost_amount, yamada.sample) == (30_000_000, 20_000_000, 4)
    assert yamada.rate == pytest.approx(0.6) and yamada.implied_coverage == pytest.approx(1 / 0.6)
    assert (suzuki.won_amount, suzuki.lost_amount, suzuki.sample) == (8_000_000, 2_000_000, 2)
    assert wr.for_rep("田中 次郎") is None and wr.rate_for("田中 次郎") == pytest.approx(38 / 60)

    assert latest.periods[-1] == "FY2026Q2" and latest.team.won_amount == 38_000_000
    assert (one.periods, one.team.won_amount, one.team.lost_amount) == (("FY2026Q1",), 28_000_000, 17_000_000)
    assert long.team.won_amount == 138_000_000  # FY2024Q4's big win is inside eight quarters

    d = json.loads(json.dumps(wr.to_dict()))
    assert d["team"]["sample"] == 6 and d["fixed_rule"] == [3.0, 5.0]
    headers, rows = wr.table("en")
    assert len(headers) == len(rows[0]) and [r[0] for r in rows] == ["Whole team", "山田 太郎", "鈴木 一郎"]
    assert rows[0][1] == pytest.approx(38 / 60) and rows[0][8] == 6
    line = format_win_rate(wr, "en")
    assert "63%" in line and "1.6x" in line  # the rate and the coverage it implies
    assert "80%" in format_win_rate(wr, "en", rep="鈴木 一郎")


def _plan_workbook(path, *, target: int, amounts: list[int]):
    pre = plan(fields={"industry": "manufacturing"}, Opportunities=[
        {"opp_id": f"O-{i}", "opportunity": f"案件{i}", "amount": a, "stage": "proposal", "probability": 30,
         "expected_close": date(2026, 11, 30)} for i, a in enumerate(amounts, 1)])
    info = PlanInfo(account_name="東都精機株式会社", account_id="C-001", rep="山田 太郎", period="FY2026Q3", target=target)
    return generate_workbook(SPEC, SETTINGS, info, path, prefill=pre)


def test_check_judges_coverage_by_the_win_rate(tmp_path):
    wb = _plan_workbook(tmp_path / "plan.xlsx", target=10_000_000, amounts=[20_000_000, 15_000_000])  # 3.5x
    low = check_file(wb, SPEC, SETTINGS, now=datetime(2026, 10, 1, 12, 0), win_rate=0.2)  # needs 5x
    ok = check_file(wb, SPEC, SETTINGS, now=datetime(2026, 10, 1, 12, 0), win_rate=38 / 60)  # needs 1.6x
    assert "W-WIN-RATE-COVERAGE" in [i.code for i in low.issues]
    assert "W-WIN-RATE-COVERAGE" not in [i.code for i in ok.issues]
    assert "W-COVERAGE-LOW" not in [i.code for i in low.issues]  # the fixed rule alone is satisfied


def test_check_command_with_db(db_url, tmp_path):
    with Store(db_url) as store:
        save(store, plan(period="FY2026Q2", Opportunities=[
            opp("O-1", 2_000_000, "won", date(2026, 8, 1)), opp("O-2", 8_000_000, "lost", date(2026, 8, 2))]))
    wb = _plan_workbook(tmp_path / "plan.xlsx", target=10_000_000, amounts=[20_000_000, 15_000_000])
    r = CliRunner().invoke(cli, ["check", str(wb), "--db", db_url, "--format", "json", "--lang", "en"])
    assert r.exit_code in (0, 1), r.output
    issues = json.loads(r.stdout)["files"][0]["issues"]
    hit = [i for i in issues if i["code"] == "W-WIN-RATE-COVERAGE"]
    assert len(hit) == 1 and "20%" in hit[0]["message"]
    assert "20%" in r.stderr and "5.0x" in r.stderr and "3-5x" in r.stderr
    plain = CliRunner().invoke(cli, ["check", str(wb), "--format", "json"])
    assert "W-WIN-RATE-COVERAGE" not in plain.stdout
