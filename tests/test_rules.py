"""Business rules: codes, cells and thresholds (``today`` injected)."""
from __future__ import annotations

import copy
import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_validate import FIELD_AT, GOOD_FIELDS, GOOD_TABLES, SETTINGS, col_cell, raw_plan

from xltools.checking.rules import RULES, run_rules
from xltools.checking.validate import validate
from xltools.errors import XltoolsError
from xltools.spec.config import Settings, Thresholds
from xltools.spec.issues import ISSUE_TYPES
from xltools.spec.model import PlanData
from xltools.spec.spec import load_spec

TODAY = date(2026, 10, 1)


def plan_of(fields=GOOD_FIELDS, tables=GOOD_TABLES, settings: Settings = SETTINGS) -> tuple[PlanData, object]:
    spec = settings.apply(load_spec())
    plan, _ = validate(raw_plan(fields, tables), spec, settings)
    return plan, spec


def check(fields=GOOD_FIELDS, tables=GOOD_TABLES, *, settings: Settings = SETTINGS, today=TODAY, win_rate=None):
    plan, spec = plan_of(fields, tables, settings)
    return run_rules(plan, spec, settings, today=today, win_rate=win_rate)


def found(issues, code=None):
    return sorted((i.code, i.sheet, i.cell) for i in issues if code is None or i.code == code)


def with_thresholds(**kw) -> Settings:
    return dataclasses.replace(SETTINGS, thresholds=dataclasses.replace(Thresholds(), **kw))


def test_registry():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert all(c in ISSUE_TYPES for c in codes)
    assert set(codes) == {
        "W-COVERAGE-LOW", "I-COVERAGE-HIGH", "W-TARGET-UNREACHABLE", "W-DECISION-MAKER-UNCOVERED",
        "W-ORG-STALE", "W-APPOINTMENT-LATE", "W-SINGLE-THREADED", "W-OPP-STALE", "I-INITIATIVE-NO-OPP",
        "W-ACTION-OVERDUE", "W-WIN-RATE-COVERAGE"}


def test_clean_plan_passes_every_rule():
    assert check() == []


# -- coverage ----------------------------------------------------------------------------

# coverage counts the 180,000千円 closing in FY2026Q3 (the won FY2026Q2 deal is outside)
@pytest.mark.parametrize("target,code", [("80,000", "W-COVERAGE-LOW"), ("35,999", "I-COVERAGE-HIGH"),
                                         ("36,000", None), ("60,000", None)])
def test_coverage_thresholds(target, code):
    issues = [i for i in check(dict(GOOD_FIELDS, sales_target=target)) if "COVERAGE" in i.code]
    if code is None:
        assert issues == []
    else:
        assert found(issues) == [(code, *FIELD_AT["coverage_ratio"])]
        assert issues[0].field == "coverage_ratio"
        assert issues[0].raw == round(180_000 / int(target.replace(",", "")), 2)


def test_coverage_thresholds_come_from_settings():
    s = with_thresholds(coverage_low=2.0, coverage_high=3.0)
    assert not [i for i in check(dict(GOOD_FIELDS, sales_target="80,000"), settings=s) if "COVERAGE" in i.code]
    assert [i.code for i in check(settings=s)] == ["I-COVERAGE-HIGH"]


def test_coverage_points_at_sales_target_when_the_ratio_cell_is_unknown():
    plan, spec = plan_of(dict(GOOD_FIELDS, sales_target="100,000"))
    del plan.field_cells["coverage_ratio"]
    issues = run_rules(plan, spec, SETTINGS, today=TODAY)
    assert found(issues, "W-COVERAGE-LOW") == [("W-COVERAGE-LOW", *FIELD_AT["sales_target"])]


@hsettings(max_examples=200, deadline=None)
@given(st.floats(0, 20, allow_nan=False), st.floats(0, 10), st.floats(0, 10))
def test_coverage_rules_property(ratio, low, span):
    s = with_thresholds(coverage_low=low, coverage_high=low + span)
    spec = s.apply(load_spec())
    plan = PlanData(meta={}, fields={}, tables={}, derived={"coverage_ratio": ratio},
                    field_cells={"coverage_ratio": ("S", "C9")})
    got = {i.code for i in run_rules(plan, spec, s, today=TODAY)}
    assert ("W-COVERAGE-LOW" in got) == (ratio < low)
    assert ("I-COVERAGE-HIGH" in got) == (ratio > low + span)


# -- target reachability -----------------------------------------------------------------

def test_target_unreachable_counts_weighted_amounts_closing_in_the_plan_period():
    # weighted in FY2026Q3 = 60,000k*50% + 120,000k*30% = 66,000k (coverage 2.73: low as well)
    assert found(check(dict(GOOD_FIELDS, sales_target="66,000")), "W-TARGET-UNREACHABLE") == []
    issues = check(dict(GOOD_FIELDS, sales_target="66,001"))
    assert found(issues, "W-TARGET-UNREACHABLE") == [("W-TARGET-UNREACHABLE", *FIELD_AT["sales_target"])]
    i = [x for x in issues if x.code == "W-TARGET-UNREACHABLE"][0]
    assert i.raw == 66_000_000 and i.params["period"] == "FY2026Q3"


def test_target_period_overrides_the_plan_period():
    # the whole fiscal year adds the won FY2026Q2 deal: 66,000k + 20,000k
    fields = dict(GOOD_FIELDS, sales_target="86,000", target_period="FY2026")
    assert not found(check(fields), "W-TARGET-UNREACHABLE")
    fields = dict(GOOD_FIELDS, sales_target="30,000", target_period="FY2027Q1")
    assert found(check(fields), "W-TARGET-UNREACHABLE")


# -- relationship map ----------------------------------------------------------------------

def _against_dm(activities):
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Contacts"][0]["stance"] = "アンチ"
    tables["Activities"] = activities
    return tables


@pytest.mark.parametrize("activities,warned", [
    ([{"planned_date": "2026/10/20", "contact": "山田太郎", "status": "予定"}], False),
    ([{"planned_date": "2026/10/01", "contact": "山田 太郎"}], False),  # today counts
    ([{"planned_date": "2026/10/20", "contact": "山田 太郎", "status": "中止"}], True),
    ([{"planned_date": "2026/09/30", "contact": "山田 太郎", "status": "完了"}], True),
    ([{"planned_date": "2026/10/20", "contact": "鈴木 花子"}], True),
])
def test_decision_maker_uncovered(activities, warned):
    issues = check(tables=_against_dm(activities))
    got = [i for i in issues if i.code == "W-DECISION-MAKER-UNCOVERED"]
    if warned:
        assert [(i.cell, i.raw, i.table, i.row) for i in got] == [(col_cell("Contacts", "name", 1), "山田 太郎",
                                                                    "Contacts", 1)]
        assert "Against" in got[0].message("en")
    else:
        assert got == []


@pytest.mark.parametrize("status,warned", [("在籍", True), (None, True), ("異動", False), ("退職", False)])
def test_a_decision_maker_who_has_gone_is_not_warned(status, warned):
    tables = _against_dm([])
    tables["Contacts"][0]["status"] = status
    assert bool(found(check(tables=tables), "W-DECISION-MAKER-UNCOVERED")) is warned


def test_unknown_stance_decision_maker_is_warned_too_but_not_favourable():
    tables = _against_dm([])
    tables["Contacts"][0]["stance"] = "?"
    assert found(check(tables=tables), "W-DECISION-MAKER-UNCOVERED")
    tables["Contacts"][0]["stance"] = "好意的"
    assert not found(check(tables=tables), "W-DECISION-MAKER-UNCOVERED")


@pytest.mark.parametrize("updated,days,warned", [
    (date(2026, 7, 3), 90, False), (date(2026, 7, 2), 90, True), (date(2026, 9, 1), 20, True)])
def test_org_stale(updated, days, warned):
    issues = check(dict(GOOD_FIELDS, org_updated=updated), settings=with_thresholds(org_stale_days=days))
    assert found(issues, "W-ORG-STALE") == ([("W-ORG-STALE", *FIELD_AT["org_updated"])] if warned else [])


def test_single_threaded_by_owner_and_by_department():
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Contacts"][1]["our_owner"] = "佐藤"
    issues = check(tables=tables)
    assert [(i.field, i.cell, i.raw) for i in issues] == [("our_owner", col_cell("Contacts", "our_owner", 1), "佐藤")]
    tables["Contacts"][1]["department"] = "情報システム部"
    assert sorted(i.field for i in check(tables=tables)) == ["department", "our_owner"]
    # a single contact is not "single-threaded" yet
    tables["Contacts"] = tables["Contacts"][:1]
    assert not found(check(tables=tables), "W-SINGLE-THREADED")


# -- activities, opportunities, initiatives, reviews ----------------------------------------

@pytest.mark.parametrize("planned,appointment,status,warned", [
    ("2026/10/15", "未依頼", "予定", True),
    ("2026/10/01", "未依頼", None, True),
    ("2026/10/16", "未依頼", "予定", False),  # 15 days ahead
    ("2026/10/15", "依頼中", "予定", False),
    ("2026/10/15", "未依頼", "中止", False),
    ("2026/09/30", "未依頼", "予定", False),  # past: not "late to book"
])
def test_appointment_late(planned, appointment, status, warned):
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Activities"][0].update(planned_date=planned, appointment=appointment, status=status)
    issues = check(tables=tables)
    assert found(issues, "W-APPOINTMENT-LATE") == (
        [("W-APPOINTMENT-LATE", "⑤活動プラン", col_cell("Activities", "appointment", 1))] if warned else [])


def test_appointment_lead_days_from_settings():
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Activities"][0].update(planned_date="2026/10/25", appointment="未依頼")
    assert not found(check(tables=tables), "W-APPOINTMENT-LATE")
    assert found(check(tables=tables, settings=with_thresholds(appointment_lead_days=30)), "W-APPOINTMENT-LATE")


def test_stale_opportunities():
    issues = check(today=date(2026, 12, 1))
    # O-1 closes 11/30 (negotiation): stale; O-3 lost and O-4 won are closed
    assert found(issues, "W-OPP-STALE") == [("W-OPP-STALE", "③売上計画", col_cell("Opportunities", "expected_close", 1))]


def test_initiative_without_opportunity():
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Initiatives"].append({"initiative": "脱炭素"})
    issues = check(tables=tables)
    assert [(i.code, i.cell, i.raw) for i in issues] == [
        ("I-INITIATIVE-NO-OPP", col_cell("Initiatives", "initiative", 2), "脱炭素")]


@pytest.mark.parametrize("due,done,warned", [
    ("2026/9/30", "未", True), ("2026/9/30", None, True), ("2026/9/30", "済", False), ("2026/10/1", "未", False)])
def test_action_overdue(due, done, warned):
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Reviews"][0].update(due=due, done=done)
    assert found(check(tables=tables), "W-ACTION-OVERDUE") == (
        [("W-ACTION-OVERDUE", "効果測定・改善", col_cell("Reviews", "due", 1))] if warned else [])


# -- historical win rate -------------------------------------------------------------------

def test_win_rate_coverage():
    # coverage 3.6 (in-period): a 28 % win rate needs 3.57x (enough), 25 % needs 4x (not enough)
    assert not found(check(win_rate=0.28), "W-WIN-RATE-COVERAGE")
    issues = check(win_rate=0.25)
    assert found(issues, "W-WIN-RATE-COVERAGE") == [("W-WIN-RATE-COVERAGE", *FIELD_AT["coverage_ratio"])]
    assert issues[0].params["value"] == "4"
    assert not found(check(), "W-WIN-RATE-COVERAGE")


@pytest.mark.parametrize("rate", [0, -0.1, 1.5, 25])
def test_win_rate_must_be_a_fraction(rate):
    with pytest.raises(XltoolsError):
        check(win_rate=rate)


def test_every_rule_issue_has_a_position_and_both_languages():
    tables = copy.deepcopy(GOOD_TABLES)
    tables["Contacts"][0]["stance"] = "アンチ"
    tables["Contacts"][1].update(our_owner="佐藤", department="情報システム部")
    tables["Activities"] = [{"planned_date": "2026/10/5", "contact": "鈴木 花子", "appointment": "未依頼"}]
    tables["Initiatives"].append({"initiative": "脱炭素"})
    tables["Reviews"][0]["done"] = "未"
    fields = dict(GOOD_FIELDS, sales_target="200,000", org_updated=date(2026, 1, 1))
    issues = check(fields, tables, today=date(2026, 10, 1), win_rate=0.1)
    assert {i.code for i in issues} == {
        "W-COVERAGE-LOW", "W-TARGET-UNREACHABLE", "W-DECISION-MAKER-UNCOVERED", "W-ORG-STALE",
        "W-APPOINTMENT-LATE", "W-SINGLE-THREADED", "I-INITIATIVE-NO-OPP", "W-ACTION-OVERDUE",
        "W-WIN-RATE-COVERAGE"}
    for i in issues:
        assert i.sheet and i.cell and i.field and i.file == "plan.xlsx"
        ja, en = i.message("ja"), i.message("en")
        assert ja and en and ja != en and "{" not in ja + en
