"""Boundaries of the business rules: what mutation testing found unguarded.

Through :func:`run_rules` on plans validated like the real ones: the exact ends of
every threshold, a win rate of exactly 1.0, a fiscal year that does not start in
April, the fallback positions of plan- and row-level issues, and each issue's
``raw``, ``params`` and rendered Japanese and English message.  ``today`` is always
given (or fixed with ``XLTOOLS_NOW``), never read from the calendar.

Coverage: every opportunity of these plans closes inside the target period and none
is lost, so the in-period pipeline and the whole pipeline are the same figure.
"""
from __future__ import annotations

import copy
import dataclasses
from contextlib import contextmanager
from datetime import date, datetime

import pytest
from test_validate import FIELD_AT, GOOD_FIELDS, GOOD_TABLES, SETTINGS, TABLE_AT, col_cell, raw_plan

from xltools.checking.rules import RULES, rule, run_rules
from xltools.checking.validate import validate
from xltools.errors import XltoolsError
from xltools.spec.config import Settings, Thresholds
from xltools.spec.issues import Issue
from xltools.spec.spec import SpecError, load_spec

TODAY = date(2026, 10, 1)
#: FY2026Q3 (April start) = 2026-10-01 .. 2026-12-31; 90,000千円 in total, 42,000千円 weighted
IN_PERIOD_OPPS = [
    {"opp_id": "O-1", "opportunity": "生産管理システム刷新", "initiative": "DX推進", "amount": 60000,
     "probability": 50, "stage": "交渉", "expected_close": date(2026, 11, 30)},
    {"opp_id": "O-2", "opportunity": "工場IoT", "initiative": "DX推進", "amount": 30000,
     "probability": 40, "stage": "提案", "expected_close": date(2026, 12, 15)},
]
PIPELINE, WEIGHTED = 90_000, 42_000  # 千円
#: a target the pipeline covers 3.6x and the weighted forecast reaches: no rule fires
CLEAN = {"sales_target": "25,000"}


def tables(**overrides) -> dict:
    t = copy.deepcopy(GOOD_TABLES)
    t["Opportunities"] = copy.deepcopy(IN_PERIOD_OPPS)
    t.update(copy.deepcopy(overrides))
    return t


def plan_of(fields=None, tabs=None, settings: Settings = SETTINGS):
    spec = settings.apply(load_spec())
    plan, _ = validate(raw_plan({**GOOD_FIELDS, **CLEAN, **(fields or {})}, tabs or tables()), spec, settings)
    return plan, spec


def issues_of(fields=None, tabs=None, *, settings: Settings = SETTINGS, today=TODAY, win_rate=None, code=None):
    plan, spec = plan_of(fields, tabs, settings)
    got = run_rules(plan, spec, settings, today=today, win_rate=win_rate)
    return [i for i in got if code is None or i.code == code]


def one(issues) -> Issue:
    assert len(issues) == 1, issues
    return issues[0]


def thresholds(**kw) -> Settings:
    return dataclasses.replace(SETTINGS, thresholds=dataclasses.replace(Thresholds(), **kw))


def target(ratio_denominator: int) -> dict:
    return {"sales_target": f"{ratio_denominator:,}"}


# -- coverage ----------------------------------------------------------------------------

def test_the_plans_pipeline_is_all_in_period():
    plan, spec = plan_of()
    assert run_rules(plan, spec, SETTINGS, today=TODAY) == []
    plan, _ = plan_of(target(30_000))
    assert plan.derived["coverage_ratio"] == pytest.approx(3.0)
    assert plan.derived["period_weighted"] == WEIGHTED * 1000


@pytest.mark.parametrize("denominator,code", [
    (30_000, None),             # exactly 3.0: not below
    (18_000, None),             # exactly 5.0: not above
    (36_000, "W-COVERAGE-LOW"),  # 2.5
    (15_000, "I-COVERAGE-HIGH"),  # 6.0
])
def test_coverage_threshold_ends(denominator, code):
    got = [i for i in issues_of(target(denominator)) if "COVERAGE" in i.code]
    assert [i.code for i in got] == ([code] if code else [])


def test_coverage_low_issue_in_full():
    i = one(issues_of(target(36_000), code="W-COVERAGE-LOW"))
    assert (i.sheet, i.cell, i.field, i.file) == (*FIELD_AT["coverage_ratio"], "coverage_ratio", "plan.xlsx")
    assert i.raw == 2.5 and i.params == {"value": "2.5", "detail": "3"}
    assert "カバレッジ倍率 2.5 倍は 3 倍未満です" in i.message("ja")
    assert "Coverage ratio 2.5x is below 3x" in i.message("en")


def test_coverage_high_issue_in_full():
    i = one(issues_of(target(15_000), code="I-COVERAGE-HIGH"))
    assert (i.sheet, i.cell, i.field) == (*FIELD_AT["coverage_ratio"], "coverage_ratio")
    assert i.raw == 6.0 and i.params == {"value": "6", "detail": "5"}
    assert "6 倍は 5 倍を超えています" in i.message("ja") and "Coverage ratio 6x is above 5x" in i.message("en")


@pytest.mark.parametrize("code,denominator", [("W-COVERAGE-LOW", 36_000), ("I-COVERAGE-HIGH", 15_000)])
def test_coverage_falls_back_to_the_target_cell_then_to_no_cell(code, denominator):
    plan, spec = plan_of(target(denominator))
    del plan.field_cells["coverage_ratio"]
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == code])
    assert (i.sheet, i.cell, i.field) == (*FIELD_AT["sales_target"], "sales_target")
    del plan.field_cells["sales_target"]
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == code])
    # no cell known: the first key names the field; raw, params and file are kept
    assert (i.sheet, i.cell, i.field, i.file) == (None, None, "coverage_ratio", "plan.xlsx")
    assert i.raw == round(PIPELINE / denominator, 2) and i.params["detail"] in ("3", "5")
    assert i.message("ja") != i.message("en")


# -- target reachability -----------------------------------------------------------------

def test_target_unreachable_ends():
    assert issues_of(target(WEIGHTED), code="W-TARGET-UNREACHABLE") == []
    i = one(issues_of(target(WEIGHTED + 1), code="W-TARGET-UNREACHABLE"))
    assert (i.sheet, i.cell, i.field) == (*FIELD_AT["sales_target"], "sales_target")
    assert i.raw == 42_000_000
    assert i.params == {"value": {"ja": "42,000,000円", "en": "JPY 42,000,000"},
                        "detail": {"ja": "42,001,000円", "en": "JPY 42,001,000"}, "period": "FY2026Q3"}
    assert "加重見込み 42,000,000円 が売上目標 42,001,000円 に届きません" in i.message("ja")
    assert "(JPY 42,000,000) is below the sales target (JPY 42,001,000)" in i.message("en")


def test_target_unreachable_without_a_known_cell():
    plan, spec = plan_of(target(50_000))
    plan.field_cells.clear()
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == "W-TARGET-UNREACHABLE"])
    assert (i.sheet, i.cell, i.field, i.raw) == (None, None, "sales_target", 42_000_000)
    assert i.params["detail"] == {"ja": "50,000,000円", "en": "JPY 50,000,000"}


def test_a_fiscal_year_starting_in_january():
    """FY2026Q3 is July-September 2026 when the fiscal year starts in January."""
    opps = [dict(o, expected_close=d) for o, d in zip(IN_PERIOD_OPPS, (date(2026, 8, 31), date(2026, 9, 15)))]
    jan = dataclasses.replace(SETTINGS, fiscal_year_start_month=1)
    tabs = tables(Opportunities=opps)
    assert issues_of(target(WEIGHTED), tabs, settings=jan, today=date(2026, 7, 1), code="W-TARGET-UNREACHABLE") == []
    i = one(issues_of(target(WEIGHTED + 1), tabs, settings=jan, today=date(2026, 7, 1), code="W-TARGET-UNREACHABLE"))
    assert i.raw == 42_000_000 and i.params["period"] == "FY2026Q3"
    # with the April default the same deals close in FY2026Q2, outside the period
    i = one(issues_of(target(WEIGHTED), tabs, today=date(2026, 7, 1), code="W-TARGET-UNREACHABLE"))
    assert i.raw == 0


def test_a_custom_rule_sees_the_plan_period_in_the_settings_fiscal_year():
    seen = []

    def spy(ctx):
        seen.append(ctx.period)
        return iter(())

    jan = dataclasses.replace(SETTINGS, fiscal_year_start_month=1)
    with extra_rule("W-ORG-STALE", spy):
        plan, spec = plan_of(settings=jan)
        run_rules(plan, spec, jan, today=TODAY)
        plan, spec = plan_of()
        run_rules(plan, spec, SETTINGS, today=TODAY)
    assert [(p.start, p.end) for p in seen] == [(date(2026, 7, 1), date(2026, 10, 1)),
                                                (date(2026, 10, 1), date(2027, 1, 1))]


# -- historical win rate -------------------------------------------------------------------

def test_a_win_rate_of_exactly_one():
    assert issues_of(target(PIPELINE), win_rate=1.0, code="W-WIN-RATE-COVERAGE") == []  # 1.0x: enough
    i = one(issues_of(target(PIPELINE + 1), win_rate=1.0, code="W-WIN-RATE-COVERAGE"))
    assert (i.sheet, i.cell, i.field) == (*FIELD_AT["coverage_ratio"], "coverage_ratio")
    assert i.raw == 1.0 and i.params == {"value": "1", "detail": "100%"}
    assert "実績の勝率 100% から必要なカバレッジは 1 倍" in i.message("ja")
    assert "At the historical win rate (100%) the plan needs 1x coverage" in i.message("en")


def test_win_rate_coverage_ends():
    assert issues_of(target(22_500), win_rate=0.25, code="W-WIN-RATE-COVERAGE") == []  # 4.0x == 1/0.25
    i = one(issues_of(target(22_501), win_rate=0.25, code="W-WIN-RATE-COVERAGE"))
    assert i.params == {"value": "4", "detail": "25%"} and i.raw == 4.0


def test_win_rate_coverage_without_a_known_cell():
    plan, spec = plan_of(target(PIPELINE * 2))
    plan.field_cells.clear()
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY, win_rate=0.5)
             if i.code == "W-WIN-RATE-COVERAGE"])
    assert (i.sheet, i.cell, i.field, i.raw) == (None, None, "coverage_ratio", 0.5)
    assert i.params == {"value": "2", "detail": "50%"}


@pytest.mark.parametrize("rate", [0, 0.0, -0.25, 1.0000001, 1.5, 100])
def test_win_rates_outside_0_to_1_are_refused(rate):
    plan, spec = plan_of()
    with pytest.raises(XltoolsError, match=rf"win rate must be a fraction between 0 and 1, got {rate!r}"):
        run_rules(plan, spec, SETTINGS, today=TODAY, win_rate=rate)


# -- relationship map ------------------------------------------------------------------------

def _against_dm():
    t = tables(Activities=[])
    t["Contacts"][0]["stance"] = "アンチ"
    return t


def test_decision_maker_issue_in_full():
    i = one(issues_of(tabs=_against_dm(), code="W-DECISION-MAKER-UNCOVERED"))
    assert (i.sheet, i.cell, i.table, i.row, i.field) == (TABLE_AT["Contacts"][0], col_cell("Contacts", "name", 1),
                                                          "Contacts", 1, "name")
    assert i.raw == "山田 太郎" and i.params == {"detail": {"ja": "アンチ", "en": "Against"}}
    assert "決裁者「山田 太郎」のスタンスがアンチですが" in i.message("ja")
    assert "Decision maker '山田 太郎' is Against and has no planned activity" in i.message("en")


def test_a_row_issue_falls_back_to_the_rows_first_cell_then_to_none():
    plan, spec = plan_of(tabs=_against_dm())
    row = plan.rows("Contacts")[0]
    sheet = row.sheet
    del row.cells["name"]
    first = next(c for c in spec.table("Contacts").columns if c.key in row.cells).key
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == "W-DECISION-MAKER-UNCOVERED"])
    assert (i.sheet, i.cell, i.field, i.table, i.row) == (sheet, col_cell("Contacts", first, 1), "name", "Contacts", 1)
    row.cells.clear()
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == "W-DECISION-MAKER-UNCOVERED"])
    assert (i.sheet, i.cell, i.field, i.table, i.row, i.raw) == (sheet, None, "name", "Contacts", 1, "山田 太郎")


@pytest.mark.parametrize("updated,warned", [
    (date(2026, 7, 3), False), (datetime(2026, 7, 3, 0, 1), False),   # 90 days ago: not more than 90
    (date(2026, 7, 2), True), (datetime(2026, 7, 2, 23, 59), True),   # 91 days ago
])
def test_org_stale_ends(updated, warned):
    got = issues_of({"org_updated": updated}, code="W-ORG-STALE")
    if not warned:
        assert got == []
        return
    i = one(got)
    assert (i.sheet, i.cell, i.field, i.raw, i.params) == (*FIELD_AT["org_updated"], "org_updated", "2026-07-02",
                                                           {"detail": 90})
    assert "90 日以上前" in i.message("ja") and "more than 90 days ago" in i.message("en")


def test_org_stale_without_a_known_cell():
    plan, spec = plan_of({"org_updated": date(2026, 1, 1)})
    del plan.field_cells["org_updated"]
    i = one([i for i in run_rules(plan, spec, SETTINGS, today=TODAY) if i.code == "W-ORG-STALE"])
    assert (i.sheet, i.cell, i.field, i.raw) == (None, None, "org_updated", "2026-01-01")


def test_single_threaded_issue_in_full():
    t = tables()
    t["Contacts"][1]["our_owner"] = "佐藤"
    i = one(issues_of(tabs=t, code="W-SINGLE-THREADED"))
    assert (i.cell, i.field, i.table, i.row, i.raw) == (col_cell("Contacts", "our_owner", 1), "our_owner",
                                                        "Contacts", 1, "佐藤")
    assert i.params == {"detail": "佐藤"}
    assert "佐藤 に偏っています" in i.message("ja") and "every contact is through 佐藤" in i.message("en")


# -- activities, opportunities, reviews: the day boundaries ---------------------------------

@pytest.mark.parametrize("planned,warned", [(date(2026, 9, 30), False), (date(2026, 10, 1), True),
                                            (date(2026, 10, 15), True), (date(2026, 10, 16), False)])
def test_appointment_window_is_today_to_14_days(planned, warned):
    t = tables()
    t["Activities"][0].update(planned_date=planned, appointment="未依頼", status="予定")
    got = issues_of(tabs=t, code="W-APPOINTMENT-LATE")
    if not warned:
        assert got == []
        return
    i = one(got)
    assert (i.cell, i.field, i.table, i.row) == (col_cell("Activities", "appointment", 1), "appointment",
                                                 "Activities", 1)
    assert i.raw == planned.isoformat() and i.params == {"detail": 14}
    assert "14 日以内の活動のアポが未依頼です" in i.message("ja") and "within 14 days" in i.message("en")


@pytest.mark.parametrize("close,stage,warned", [
    (date(2026, 9, 30), "交渉", True), (date(2026, 10, 1), "交渉", False),
    (date(2026, 9, 30), "受注", False), (date(2026, 9, 30), "失注", False),
])
def test_opportunity_stale_ends(close, stage, warned):
    t = tables()
    t["Opportunities"][0].update(expected_close=close, stage=stage)
    got = issues_of(tabs=t, code="W-OPP-STALE")
    if not warned:
        assert got == []
        return
    i = one(got)
    assert (i.cell, i.field, i.table, i.row, i.raw) == (col_cell("Opportunities", "expected_close", 1),
                                                        "expected_close", "Opportunities", 1, "2026-09-30")
    assert "受注予定日を過ぎています" in i.message("ja") and "expected close date has passed" in i.message("en")


@pytest.mark.parametrize("due,warned", [(date(2026, 9, 30), True), (datetime(2026, 9, 30, 23, 0), True),
                                        (date(2026, 10, 1), False)])
def test_action_overdue_ends(due, warned):
    t = tables()
    t["Reviews"][0].update(due=due, done="未")
    got = issues_of(tabs=t, code="W-ACTION-OVERDUE")
    assert [(i.cell, i.raw) for i in got] == ([(col_cell("Reviews", "due", 1), "2026-09-30")] if warned else [])


def test_initiative_issue_in_full():
    t = tables()
    t["Initiatives"].append({"initiative": "脱炭素"})
    i = one(issues_of(tabs=t, code="I-INITIATIVE-NO-OPP"))
    assert (i.cell, i.field, i.table, i.row, i.raw) == (col_cell("Initiatives", "initiative", 2), "initiative",
                                                        "Initiatives", 2, "脱炭素")
    assert "重点施策「脱炭素」" in i.message("ja") and "Initiative '脱炭素' has no opportunity" in i.message("en")


# -- the clock ---------------------------------------------------------------------------------

def test_without_today_the_rules_use_the_fixed_clock(monkeypatch):
    monkeypatch.setenv("XLTOOLS_NOW", "2026-12-01T12:00:00")
    plan, spec = plan_of()
    got = run_rules(plan, spec, SETTINGS)
    assert got == run_rules(plan, spec, SETTINGS, today=date(2026, 12, 1))
    assert ("W-OPP-STALE", col_cell("Opportunities", "expected_close", 1)) in [(i.code, i.cell) for i in got]
    assert [i.code for i in run_rules(plan, spec, SETTINGS, today=TODAY)] == []


# -- the registry: what a rule author relies on --------------------------------------------------

@contextmanager
def extra_rule(code, fn):
    """Register ``fn`` for ``code`` for the duration of a test."""
    n = len(RULES)
    try:
        assert rule(code)(fn) is fn
        yield RULES[n]
    finally:
        del RULES[n:]


def test_a_rule_code_must_be_registered():
    n = len(RULES)
    with pytest.raises(ValueError, match="rule code 'W-NO-SUCH-CODE' is not registered in xltools.spec.issues"):
        rule("W-NO-SUCH-CODE")
    assert len(RULES) == n


def test_a_registered_rule_runs_last_and_its_issues_get_the_file():
    def my_rule(ctx):
        yield Issue("W-ORG-STALE", field="custom", raw=ctx.today.isoformat())

    with extra_rule("W-ORG-STALE", my_rule) as rd:
        assert (rd.code, rd.check, rd.name) == ("W-ORG-STALE", my_rule, "my_rule")
        plan, spec = plan_of()
        got = run_rules(plan, spec, SETTINGS, today=TODAY)
    assert [(i.code, i.field, i.raw, i.file) for i in got] == [("W-ORG-STALE", "custom", "2026-10-01", "plan.xlsx")]


def test_a_rule_may_emit_only_its_own_code():
    def wrong(ctx):
        yield Issue("W-OPP-STALE")

    with extra_rule("W-ORG-STALE", wrong):
        plan, spec = plan_of()
        with pytest.raises(AssertionError, match="rule wrong emitted W-OPP-STALE, registered W-ORG-STALE"):
            run_rules(plan, spec, SETTINGS, today=TODAY)


def test_rule_context_helpers_for_rule_authors():
    seen = {}

    def probe(ctx):
        seen["labels"] = [ctx.choice_label("stance", k) for k in ("against", "no_such_key", None)]
        seen["missing list"] = ctx.choice_label("no_such_list", "x")
        with pytest.raises(SpecError, match="rules ask for table 'NoSuchTable', which the spec does not have"):
            ctx.rows("NoSuchTable")
        seen["rows"] = len(ctx.rows("Contacts"))
        return iter(())

    with extra_rule("W-ORG-STALE", probe):
        plan, spec = plan_of()
        run_rules(plan, spec, SETTINGS, today=TODAY)
    assert seen == {"labels": [{"ja": "アンチ", "en": "Against"}, "no_such_key", ""], "missing list": "x", "rows": 2}


# -- found by mutation testing ------------------------------------------------------------------

# the rules compare the exact ratio; the message shows it on its own side of the threshold
# (never 'カバレッジ倍率 3 倍は 3 倍未満です' / 'Coverage ratio 3x is below 3x')
@pytest.mark.parametrize("code,denominator", [("W-COVERAGE-LOW", 30_001), ("I-COVERAGE-HIGH", 17_999)])
def test_a_coverage_message_never_says_3x_is_below_3x(code, denominator):
    i = one(issues_of(target(denominator), code=code))
    assert i.params["value"] != i.params["detail"]
