"""Plan history and hand-over: ``history`` diffs, ``prefill_from_store`` round trips
through the real generator and reader, on SQLite and a real PostgreSQL (``db_url``)."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from itertools import count

import pytest
from click.testing import CliRunner

from xltools.checking.check import check_file
from xltools.cli import cli
from xltools.errors import XltoolsError
from xltools.reports.history import (
    PrefillSource,
    account_history,
    diff_plans,
    format_history,
    handover_plan,
    load_plans,
    prefill_from_store,
)
from xltools.spec.config import Settings
from xltools.spec.issues import FileReport, Issue
from xltools.spec.model import PlanData, Row
from xltools.spec.spec import load_spec
from xltools.store.engine import Store
from xltools.workbook.generate import PlanInfo, generate_workbook

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
T0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)
_FILES = count(1)


# -- building stored history (shared with test_cases and test_winrate) ----------------------

def rows(table: str, *records: dict) -> list[Row]:
    return [Row(values=dict(r), sheet=table, row=10 + i, index=i + 1) for i, r in enumerate(records)]


def plan(*, account_name: str = "東都精機株式会社", account_id: str | None = "C-001", rep: str = "山田 太郎",
         period: str = "FY2026Q2", plan_id: str | None = None, predecessor: str | None = None,
         fields: dict | None = None, **tables: list[dict]) -> PlanData:
    """A clean plan as the validator hands it to the store."""
    plan_id = plan_id or str(uuid.uuid4())
    meta = {"template": "account_plan", "template_version": SPEC.version, "plan_id": plan_id,
            "account_id": account_id or "", "account_name": account_name, "rep": rep, "period": period,
            "language": "ja"}
    if predecessor:
        meta["predecessor_plan_id"] = predecessor
    f = {"account_name": account_name, "account_id": account_id, "rep": rep, "period": period,
         "amount_unit": "yen"}
    f.update(fields or {})
    opps = tables.get("Opportunities", [])
    live = sum(o.get("amount") or 0 for o in opps if o.get("stage") != "lost")
    target = f.get("sales_target")
    derived = {"plan_total": live, "coverage_ratio": live / target if target else None}
    return PlanData(meta=meta, fields=f, tables={name: rows(name, *recs) for name, recs in tables.items()},
                    derived=derived, file=f"{plan_id}.xlsx")


def save(store: Store, p: PlanData, *, at: datetime | None = None, issues: tuple = ()):
    """Store ``p`` as if collected from a file made at ``at``."""
    n = next(_FILES)
    at = at or T0 + timedelta(days=n)
    report = FileReport(file=f"plan{n}.xlsx", plan=p, issues=list(issues))
    digest = hashlib.sha256(f"{n}|{p.plan_id}|{uuid.uuid4()}".encode()).hexdigest()
    out = store.save(report, path=f"inbox/plan{n}.xlsx", size=1000 + n, sha256=digest, mtime=at)
    assert out.version_id is not None, out
    return out


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


# -- a lineage: FY2026Q2 v1 -> v2 (same plan), FY2026Q3 by a new rep (hand-over) -------------

CONTACTS_V1 = [
    {"contact_id": "K1", "name": "鈴木 一郎", "department": "生産本部", "title": "本部長", "role": "decision_maker",
     "stance": "neutral", "influence": "high", "status": "active"},
    {"contact_id": "K2", "name": "佐藤 花子", "department": "生産技術部", "title": "部長", "reports_to": "鈴木 一郎",
     "role": "champion", "stance": "favourable", "status": "active"},
    {"contact_id": "K3", "name": "高橋 健", "department": "購買部", "title": "課長", "role": "evaluator",
     "stance": "against", "status": "active"},
]
OPPS_V1 = [
    {"opp_id": "O-1", "opportunity": "生産管理システム刷新", "amount": 30_000_000, "stage": "negotiation",
     "probability": 50.0, "expected_close": date(2026, 9, 30)},
    {"opp_id": "O-2", "opportunity": "保守契約更新", "amount": 5_000_000, "stage": "proposal",
     "expected_close": date(2026, 8, 31)},
    {"opp_id": "O-3", "opportunity": "IoT 実証実験", "amount": 8_000_000, "stage": "hypothesis",
     "expected_close": date(2026, 12, 15)},
]


def lineage(store: Store) -> dict:
    """Three stored versions of one account; returns their plan ids."""
    q2 = str(uuid.uuid4())
    v1 = plan(plan_id=q2, fields={"sales_target": 10_000_000}, Contacts=CONTACTS_V1, Opportunities=OPPS_V1)
    save(store, v1, at=T0, issues=(Issue("W-COVERAGE-LOW"), Issue("I-PLACEHOLDER")))
    contacts_v2 = [dict(c) for c in CONTACTS_V1]
    contacts_v2[0]["stance"] = "favourable"  # 鈴木: neutral -> favourable
    contacts_v2.append({"contact_id": "K4", "name": "伊藤 誠", "department": "情報システム部", "title": "部長",
                        "role": "influencer", "stance": "unknown", "status": "active"})
    contacts_v2[2]["status"] = "transferred"  # 高橋 moved away
    opps_v2 = [dict(o) for o in OPPS_V1]
    opps_v2[0].update(stage="won", probability=100.0)  # O-1 won
    opps_v2[1].update(stage="lost", probability=0.0)  # O-2 lost
    opps_v2.append({"opp_id": "O-4", "opportunity": "品質データ分析基盤", "amount": 12_000_000, "stage": "proposal",
                    "expected_close": date(2027, 1, 31)})
    v2 = plan(plan_id=q2, fields={"sales_target": 10_000_000}, Contacts=contacts_v2, Opportunities=opps_v2)
    save(store, v2, at=T0 + timedelta(days=30))
    q3 = str(uuid.uuid4())
    contacts_v3 = [c for c in contacts_v2 if c["name"] != "高橋 健"]
    v3 = plan(plan_id=q3, predecessor=q2, rep="田中 次郎", period="FY2026Q3", fields={"sales_target": 15_000_000},
              Contacts=contacts_v3, Opportunities=[o for o in opps_v2 if o["stage"] not in ("won", "lost")])
    save(store, v3, at=T0 + timedelta(days=95))
    return {"q2": q2, "q3": q3}


def test_diff_plans_reports_changes_as_data():
    before = plan(Contacts=CONTACTS_V1, Opportunities=OPPS_V1)
    contacts = [dict(c) for c in CONTACTS_V1[:2]]  # 高橋 removed
    contacts[1]["stance"] = "against"
    contacts[0]["status"] = "left"
    contacts.append({"name": "伊藤　誠", "stance": "neutral"})
    opps = [dict(OPPS_V1[0], stage="won"), dict(OPPS_V1[2], opp_id=None, opportunity="ＩｏＴ 実証実験"),
            {"opp_id": "O-9", "opportunity": "新規案件", "amount": 1_000_000, "stage": "proposal"},
            {"opp_id": "O-10", "opportunity": "即決案件", "amount": 2_000_000, "stage": "lost"}]
    after = plan(rep="田中 次郎", Contacts=contacts, Opportunities=opps)
    ch = diff_plans(before, after, before_id=1, after_id=2)
    assert (ch.before, ch.after) == (1, 2)
    assert ch.rep == ("山田 太郎", "田中 次郎")
    assert ch.stance_changes == [{"name": "佐藤 花子", "old": "favourable", "new": "against"}]
    assert [p["name"] for p in ch.contacts_added] == ["伊藤　誠"]
    assert ch.contacts_left == [{"name": "鈴木 一郎", "reason": "left"}, {"name": "高橋 健", "reason": "removed"}]
    assert [o["opp_id"] for o in ch.opportunities_won] == ["O-1"]
    assert [o["opp_id"] for o in ch.opportunities_lost] == ["O-10"]  # lost at once: not "added"
    assert [o["opp_id"] for o in ch.opportunities_added] == ["O-9"]
    # O-3 lost its ID but kept its (width-variant) name: the same opportunity, not dropped
    assert [o["opp_id"] for o in ch.opportunities_dropped] == ["O-2"]
    assert not ch.empty
    assert diff_plans(before, before).empty


def test_history_lists_every_version_and_what_changed(store):
    ids = lineage(store)
    h = account_history(store, "東都精機株式会社")
    assert [(v.period, v.plan_id, v.version_no, v.rep) for v in h.versions] == [
        ("FY2026Q2", ids["q2"], 1, "山田 太郎"), ("FY2026Q2", ids["q2"], 2, "山田 太郎"),
        ("FY2026Q3", ids["q3"], 1, "田中 次郎")]
    v1, v2, v3 = h.versions
    assert (v1.sales_target, v1.plan_total, v1.contacts, v1.opportunities) == (10_000_000, 43_000_000, 3, 3)
    assert v1.coverage_ratio == pytest.approx(4.3)
    assert (v1.errors, v1.warnings, v1.infos) == (0, 1, 1)
    assert (v2.contacts, v2.opportunities, v2.plan_total) == (4, 4, 50_000_000)
    assert (v3.sales_target, v3.contacts, v3.opportunities) == (15_000_000, 3, 2)
    assert [v.is_current for v in h.versions] == [False, True, True]
    assert v1.collected_at is not None and v1.collected_at.tzinfo is not None

    c12, c23 = h.changes
    assert c12.rep is None
    assert c12.stance_changes == [{"name": "鈴木 一郎", "old": "neutral", "new": "favourable"}]
    assert [p["name"] for p in c12.contacts_added] == ["伊藤 誠"]
    assert c12.contacts_left == [{"name": "高橋 健", "reason": "transferred"}]
    assert [o["opp_id"] for o in c12.opportunities_won] == ["O-1"]
    assert [(o["opp_id"], o["amount"]) for o in c12.opportunities_lost] == [("O-2", 5_000_000)]
    assert [o["opp_id"] for o in c12.opportunities_added] == ["O-4"]
    assert c23.rep == ("山田 太郎", "田中 次郎")
    assert c23.contacts_left == [{"name": "高橋 健", "reason": "removed"}]
    assert not (c23.opportunities_won or c23.opportunities_lost or c23.opportunities_dropped)

    # by account ID as well, and the same figures as JSON
    by_id = account_history(store, "C-001")
    assert [v.version_id for v in by_id.versions] == [v.version_id for v in h.versions]
    d = json.loads(json.dumps(h.to_dict(), ensure_ascii=False))
    assert d["changes"][0]["opportunities_won"][0]["opportunity"] == "生産管理システム刷新"
    text = format_history(SPEC, h, "ja")
    assert "FY2026Q3" in text and "田中 次郎" in text


def test_history_of_an_unknown_account_is_a_clear_error(store):
    lineage(store)
    with pytest.raises(XltoolsError):
        account_history(store, "存在しない商事")
    with pytest.raises(XltoolsError):
        account_history(store, "  ")


def test_load_plans_gives_back_what_was_stored(store):
    p = plan(fields={"sales_target": 10_000_000, "plan_date": date(2026, 6, 20)}, Contacts=CONTACTS_V1,
             Opportunities=OPPS_V1)
    out = save(store, p)
    back = load_plans(store, [out.version_id])[out.version_id]
    assert back.plan_id == p.plan_id
    assert back.fields["plan_date"] == date(2026, 6, 20) and back.fields["sales_target"] == 10_000_000
    assert back.derived["plan_total"] == 43_000_000
    assert [r["name"] for r in back.rows("Contacts")] == [c["name"] for c in CONTACTS_V1]
    assert back.rows("Contacts")[1]["reports_to"] == "鈴木 一郎"
    assert back.rows("Opportunities")[0]["expected_close"] == date(2026, 9, 30)


# -- hand-over ----------------------------------------------------------------------------------

FILLED = dict(
    fields={"sales_target": 20_000_000, "target_period": "FY2026Q2", "plan_date": date(2026, 6, 1),
            "aps_date": date(2026, 6, 10), "industry": "automotive", "headquarters": "愛知県豊田市",
            "employees": 12000, "main_business": "自動車部品の製造", "corporate_strategy": "EV シフトと DX",
            "team_members": "佐藤、小林", "org_updated": date(2026, 5, 20), "amount_unit": "thousand",
            "business_situation": "=SUM(A1:A3) のような文字も文字のまま"},
    Financials=[{"fiscal_year": "FY2025", "revenue": 500_000_000_000, "operating_profit": 30_000_000_000}],
    Initiatives=[{"initiative": "工場の自動化", "department": "生産本部", "horizon": "mid", "priority": "high",
                  "our_hypothesis": "予知保全で停止時間を半減"}],
    Contacts=CONTACTS_V1,
    Opportunities=OPPS_V1 + [
        {"opp_id": "O-7", "opportunity": "受注済み案件", "amount": 3_000_000, "stage": "won",
         "expected_close": date(2026, 5, 31)},
        {"opp_id": "O-8", "opportunity": "失注案件", "amount": 4_000_000, "stage": "lost",
         "expected_close": date(2026, 5, 31)}],
    Activities=[
        {"act_id": "A1", "planned_date": date(2026, 6, 5), "contact": "鈴木 一郎", "purpose": "過去の面談",
         "status": "done", "done_date": date(2026, 6, 5)},
        {"act_id": "A2", "planned_date": date(2026, 6, 20), "contact": "佐藤 花子", "purpose": "期限切れの予定",
         "status": "planned"},
        {"act_id": "A3", "planned_date": date(2026, 7, 20), "contact": "鈴木 一郎", "purpose": "役員同行",
         "executive": "常務 中村", "appointment": "requested", "status": "planned"},
        {"act_id": "A4", "planned_date": date(2026, 8, 1), "contact": "高橋 健", "purpose": "中止",
         "status": "cancelled"}],
    KPIs=[{"kpi": "favourable_contacts", "target": 5, "actual": 3},
          {"kpi": "executive_meetings", "target": 2, "actual": 1}],
    Reviews=[{"item": "役員面談", "action": "面談を前倒し", "owner": "山田", "due": date(2026, 7, 31), "done": "no"},
             {"item": "提案書", "action": "完了した改善", "owner": "山田", "due": date(2026, 6, 30), "done": "yes"}],
    SuccessCases=[{"title": "在庫削減", "challenge": "過剰在庫", "solution": "需要予測"}],
)
NOW = datetime(2026, 7, 1, 12, 0)  # local noon: today is 2026-07-01 in any zone


def test_handover_plan_follows_the_spec():
    src = plan(**FILLED)
    out = handover_plan(src, SPEC, now=NOW)
    assert out.meta["predecessor_plan_id"] == src.plan_id and "plan_id" not in out.meta
    cleared = {f.key for f in SPEC.fields if f.handover == "clear"}
    assert cleared == {"period", "plan_date", "aps_date", "sales_target", "target_period"}
    assert not cleared & set(out.fields)
    assert out.fields["corporate_strategy"] == "EV シフトと DX" and out.fields["amount_unit"] == "thousand"
    assert out.fields["org_updated"] == date(2026, 5, 20)
    assert not any(f.computed for f in SPEC.fields if f.key in out.fields)
    assert [r["opp_id"] for r in out.rows("Opportunities")] == ["O-1", "O-2", "O-3"]
    assert [r["act_id"] for r in out.rows("Activities")] == ["A3"]
    assert [r["item"] for r in out.rows("Reviews")] == ["役員面談"]
    assert [(r["kpi"], r["target"], r["actual"]) for r in out.rows("KPIs")] == [
        ("favourable_contacts", 5, None), ("executive_meetings", 2, None)]
    assert out.rows("SuccessCases") == []
    assert out.rows("Contacts")[1].values["reports_to"] == "鈴木 一郎"
    assert [r.index for r in out.rows("Opportunities")] == [1, 2, 3]


def test_prefill_round_trip_through_generator_and_reader(store, tmp_path):
    # the predecessor: a real workbook filled through the generator, checked and stored
    info = PlanInfo(account_name="東都精機株式会社", account_id="C-001", rep="山田 太郎", period="FY2026Q2",
                    target=20_000_000)
    first = generate_workbook(SPEC, SETTINGS, info, tmp_path / "q2.xlsx", prefill=plan(**FILLED))
    report = check_file(first, SPEC, SETTINGS, now=NOW)
    assert report.plan is not None
    old_id = report.plan.plan_id
    store.save(report, path=str(first), size=first.stat().st_size,
               sha256=hashlib.sha256(first.read_bytes()).hexdigest(), mtime=T0)

    pre = prefill_from_store(store, SPEC, account_id="C-001", now=NOW)
    assert pre is not None and pre.meta["predecessor_plan_id"] == old_id
    new_info = PlanInfo(account_name="東都精機株式会社", account_id="C-001", rep="田中 次郎", period="FY2026Q3",
                        predecessor_plan_id=pre.meta["predecessor_plan_id"])
    second = generate_workbook(SPEC, SETTINGS, new_info, tmp_path / "q3.xlsx", prefill=pre)
    back = check_file(second, SPEC, SETTINGS, now=NOW).plan
    old = report.plan

    assert back.plan_id and back.plan_id != old_id
    assert back.meta["predecessor_plan_id"] == old_id
    assert back.meta["rep"] == "田中 次郎" and back.fields["rep"] == "田中 次郎"
    assert back.fields["period"] == "FY2026Q3"
    for key in ("plan_date", "aps_date", "sales_target", "target_period"):
        assert back.fields.get(key) is None, key
    for key in ("corporate_strategy", "industry", "headquarters", "employees", "team_members", "org_updated",
                "business_situation", "amount_unit"):
        assert back.fields[key] == old.fields[key], key

    def table(p, name, *cols):
        return [tuple(r.get(c) for c in cols) for r in p.rows(name)]

    assert table(back, "Contacts", "name", "stance", "reports_to", "role", "status") == \
        table(old, "Contacts", "name", "stance", "reports_to", "role", "status")
    assert table(back, "Opportunities", "opp_id", "opportunity", "amount", "stage", "expected_close") == [
        r for r in table(old, "Opportunities", "opp_id", "opportunity", "amount", "stage", "expected_close")
        if r[3] not in ("won", "lost")]
    assert len(table(back, "Opportunities", "opp_id")) == 3
    assert table(back, "Activities", "act_id", "planned_date", "executive") == [("A3", date(2026, 7, 20), "常務 中村")]
    assert table(back, "Reviews", "item", "done") == [("役員面談", "no")]
    assert table(back, "KPIs", "kpi", "target", "actual")[:2] == [("favourable_contacts", 5, None),
                                                                  ("executive_meetings", 2, None)]
    assert table(back, "Initiatives", "initiative", "priority") == table(old, "Initiatives", "initiative", "priority")
    assert table(back, "Financials", "fiscal_year", "revenue") == table(old, "Financials", "fiscal_year", "revenue")
    assert back.rows("SuccessCases") == []


def test_prefill_picks_the_latest_current_version(store):
    ids = lineage(store)
    pre = prefill_from_store(store, SPEC, account_name="東都精機株式会社", now=NOW)
    assert pre.meta["predecessor_plan_id"] == ids["q3"]
    assert [r["opp_id"] for r in pre.rows("Opportunities")] == ["O-3", "O-4"]
    assert prefill_from_store(store, SPEC, account_id="NOPE", account_name="存在しない商事") is None
    with pytest.raises(XltoolsError):
        prefill_from_store(store, SPEC)


def test_prefill_source_serves_roster_entries(db_url):
    s = Store(db_url)
    ids = lineage(s)
    s.close()

    class Entry:
        account_id, account_name = "C-001", "東都精機株式会社"

    class Unknown:
        account_id, account_name = None, "新規顧客株式会社"

    with PrefillSource(db_url, SPEC, now=NOW) as src:
        assert src(Entry()).meta["predecessor_plan_id"] == ids["q3"]
        assert src(Unknown()) is None
        assert src.misses == ["新規顧客株式会社"]


# -- command line ---------------------------------------------------------------------------------

def test_history_command_text_and_json(db_url):
    s = Store(db_url)
    ids = lineage(s)
    s.close()
    r = CliRunner().invoke(cli, ["history", "東都精機株式会社", "--db", db_url, "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert [v["plan_id"] for v in d["versions"]] == [ids["q2"], ids["q2"], ids["q3"]]
    assert d["changes"][0]["stance_changes"] == [{"name": "鈴木 一郎", "old": "neutral", "new": "favourable"}]
    r = CliRunner().invoke(cli, ["history", "C-001", "--db", db_url, "--lang", "en"])
    assert r.exit_code == 0 and "FY2026Q3" in r.output
    r = CliRunner().invoke(cli, ["history", "存在しない商事", "--db", db_url])
    assert r.exit_code == 3 and "Traceback" not in r.output  # the tool could not do its job


def test_generate_prefill_command(db_url, tmp_path):
    s = Store(db_url)
    ids = lineage(s)
    s.close()
    out = tmp_path / "next.xlsx"
    r = CliRunner().invoke(cli, ["generate", "--account", "東都精機株式会社", "--account-id", "C-001",
                                 "--rep", "木村 三郎", "--period", "FY2026Q4", "-o", str(out), "--prefill",
                                 "--db", db_url])
    assert r.exit_code == 0, r.output
    back = check_file(out, SPEC, SETTINGS, now=NOW).plan
    assert back.meta["predecessor_plan_id"] == ids["q3"]
    assert back.meta["rep"] == "木村 三郎" and back.fields["period"] == "FY2026Q4"
    assert [r["name"] for r in back.rows("Contacts")] == ["鈴木 一郎", "佐藤 花子", "伊藤 誠"]

    # an account with no history: a blank plan, and a note on stderr
    blank = tmp_path / "blank.xlsx"
    r = CliRunner().invoke(cli, ["generate", "--account", "新規顧客株式会社", "--rep", "木村 三郎",
                                 "--period", "FY2026Q4", "-o", str(blank), "--prefill", "--db", db_url])
    assert r.exit_code == 0, r.output
    assert check_file(blank, SPEC, SETTINGS, now=NOW).plan.rows("Contacts") == []


def test_generate_prefill_from_roster(db_url, tmp_path):
    s = Store(db_url)
    ids = lineage(s)
    s.close()
    roster = tmp_path / "roster.csv"
    roster.write_text("担当営業,顧客名,顧客コード,売上目標\n木村 三郎,東都精機株式会社,C-001,25000000\n"
                      "木村 三郎,新規顧客株式会社,N-9,1000000\n", encoding="utf-8")
    out = tmp_path / "plans"
    r = CliRunner().invoke(cli, ["generate", "--roster", str(roster), "--period", "FY2026Q4", "--out-dir", str(out),
                                 "--prefill", "--db", db_url, "--jobs", "1"])
    assert r.exit_code == 0, r.output
    plans = {p.name: check_file(p, SPEC, SETTINGS, now=NOW).plan for p in out.glob("*.xlsx")}
    assert len(plans) == 2
    handed = next(p for p in plans.values() if p.fields["account_name"] == "東都精機株式会社")
    fresh = next(p for p in plans.values() if p.fields["account_name"] == "新規顧客株式会社")
    assert handed.fields["sales_target"] == 25_000_000  # the roster's target, not the old one
    assert [r["opp_id"] for r in handed.rows("Opportunities")] == ["O-3", "O-4"]
    assert [r["name"] for r in handed.rows("Contacts")] == ["鈴木 一郎", "佐藤 花子", "伊藤 誠"]
    assert handed.plan_id != ids["q3"]
    assert fresh.rows("Contacts") == [] and fresh.rows("Opportunities") == []
    assert "新規顧客株式会社" in r.stderr


def test_handover_declarations_are_validated():
    import copy

    import yaml

    from xltools.spec.spec import SpecError, build_spec, default_spec_path

    raw = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))

    def broken(mutate) -> str:
        data = copy.deepcopy(raw)
        mutate(data)
        with pytest.raises(SpecError) as e:
            build_spec(data)
        return str(e.value)

    def table(data, name):
        return next(t for s in data["sections"] for t in s.get("tables") or [] if t["name"] == name)

    assert "Opportunities" in broken(lambda d: table(d, "Opportunities").update(handover={"drop_if": {"stage": ["closed"]}}))
    assert "amount" in broken(lambda d: table(d, "Opportunities").update(handover={"drop_if": {"amount": ["won"]}}))
    assert "opportunity" in broken(lambda d: table(d, "Opportunities").update(handover={"drop_before": "opportunity"}))
    assert "keep_all" in broken(lambda d: table(d, "Opportunities").update(handover={"keep_all": True}))
    assert "forget" in broken(lambda d: d["sections"][0]["groups"][0]["fields"][0].update(handover="forget"))
    assert "search_weight" in broken(lambda d: table(d, "SuccessCases")["columns"][1].update(search_weight=0))
