"""The database store, against the embedded SQLite and a real PostgreSQL (``db_url``)."""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import sqlite3
import threading
import time
import uuid
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xltools.errors import XltoolsError
from xltools.spec.issues import FileReport, Issue
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import PeriodError
from xltools.store.engine import Store, StoreError, StoreLockedError, coerce, resolve_url

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc).timestamp()


# -- plans as the validator hands them over ----------------------------------------------

def opp(i: int, amount: int, *, name: str | None = None, stage: str = "proposal", prob: float = 30.0,
        close: date = date(2026, 11, 30)) -> Row:
    return Row(values={"opp_id": f"O-{i:03d}", "opportunity": name or f"案件{i}", "department": "生産技術部",
                       "amount": amount, "probability": prob, "stage": stage, "expected_close": close,
                       "recurring": "recurring", "contract_years": 3.0, "ltv": amount * 3,
                       "key_person": "鈴木 一郎"},
               sheet="③売上計画", row=14 + i, index=i, cells={"amount": f"G{14 + i}", "opportunity": f"C{14 + i}"})


def make_plan(*, plan_id: str | None = None, account_id: str | None = "C-001",
              account_name: str = "東都精機株式会社", rep: str = "山田 太郎", period: str = "FY2026Q3",
              amounts: tuple[int, ...] = (12_000_000, 30_000_000, 50_000_000),
              predecessor: str | None = None, target: int = 30_000_000, note: str = "") -> PlanData:
    plan_id = plan_id or str(uuid.uuid4())
    opps = [opp(i + 1, a) for i, a in enumerate(amounts)]
    total = sum(amounts)
    meta = {"template": "account_plan", "template_version": "1.0", "plan_id": plan_id,
            "account_id": account_id or "", "account_name": account_name, "rep": rep, "period": period,
            "language": "ja", "generated_at": "2026-09-20T10:00:00", "generator_version": "0.1.0"}
    if predecessor:
        meta["predecessor_plan_id"] = predecessor
    fields = {"account_name": account_name, "account_id": account_id, "rep": rep, "period": period,
              "team_members": "佐藤、田中", "plan_date": date(2026, 9, 25), "amount_unit": "yen",
              "industry": "manufacturing", "employees": 5200, "fiscal_year_end_month": 3,
              "sales_target": target, "target_period": period, "org_updated": date(2026, 9, 1),
              "business_situation": "=HYPERLINK(\"http://evil\")" + note}
    derived = {"plan_total": total, "weighted_total": total * 0.3, "coverage_ratio": total / target,
               "coverage_verdict": "ok", "close_q1": 0, "close_q2": 0, "close_q3": total, "close_q4": 0,
               "selection_score": 3.6, "tier": "B", "period": period, "probability_defaulted": []}
    tables = {
        "Opportunities": opps,
        "Contacts": [
            Row(values={"contact_id": "K1", "name": "鈴木 一郎", "department": "生産技術部", "title": "部長",
                        "role": "decision_maker", "stance": "against", "influence": "high",
                        "relationship": 2, "our_owner": "山田", "last_contact": date(2026, 8, 1)},
                sheet="④リレーションマップ", row=8, index=1, cells={"stance": "H8"}),
            Row(values={"contact_id": "K2", "name": "+81-3-1234", "stance": "favourable"},
                sheet="④リレーションマップ", row=9, index=2),
        ],
        "Activities": [Row(values={"act_id": "A1", "planned_date": date(2026, 10, 15), "contact": "鈴木 一郎",
                                   "executive": "高橋 常務", "appointment": "requested", "status": "planned"},
                           sheet="⑤活動プラン", row=6, index=1)],
        "KPIs": [Row(values={"kpi": "favourable_contacts", "target": 5.0, "actual": 2.0, "achievement": 0.4},
                     sheet="効果測定・改善", row=6, index=1)],
        "SuccessCases": [Row(values={"case_id": "S1", "title": "@ライン自動化", "challenge": "段取り替え",
                                     "solution": "IoT", "amount": 8_000_000, "closed_date": date(2025, 12, 1),
                                     "shareable": "company"},
                             sheet="成功事例", row=6, index=1)],
        # a blank row inside a table carries nothing and is not stored
        "Reviews": [Row(values={}, sheet="効果測定・改善", row=20, index=1)],
    }
    return PlanData(meta=meta, fields=fields, tables=tables, file=f"{account_name}_{period}.xlsx",
                    field_cells={"sales_target": ("③売上計画", "C5")}, derived=derived)


def make_report(plan: PlanData | None, *issues: Issue, file: str = "plan.xlsx") -> FileReport:
    rep = FileReport(file=file, plan=plan)
    rep.issues.extend(issues)
    return rep


def sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def save(store: Store, plan: PlanData | None, name: str, *issues: Issue, mtime: float = T0, content=None):
    """Save ``plan`` as if read from file ``name`` whose bytes are ``content`` (default: name)."""
    return store.save(make_report(plan, *issues, file=name), path=name, size=1234,
                      sha256=sha(content if content is not None else name), mtime=mtime)


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as c:
        return {n: c.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for n, t in store.metadata.tables.items()}


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


# -- saving ------------------------------------------------------------------------------

def test_save_stores_plan_version_rows_issues_and_ledger(store):
    plan = make_plan()
    cov = Issue("W-COVERAGE-LOW", sheet="③売上計画", cell="C8", field="coverage_ratio", raw=3.07,
                params={"detail": 3})
    stance = Issue("W-DECISION-MAKER-UNCOVERED", sheet="④リレーションマップ", cell="H8", field="stance",
                   table="Contacts", row=1, raw="鈴木 一郎")
    out = save(store, plan, "in/東都精機.xlsx", cov, stance)
    assert (out.result, out.file_result, out.plan_id, out.version_no) == ("stored", "stored", plan.plan_id, 1)

    [v] = store.current_versions()
    assert v["plan_id"] == plan.plan_id and v["version_id"] == out.version_id
    assert (v["account_id"], v["account_name"], v["rep"], v["period"]) == ("C-001", "東都精機株式会社",
                                                                          "山田 太郎", "FY2026Q3")
    assert v["plan_total"] == 92_000_000 and isinstance(v["plan_total"], int)
    assert v["coverage_ratio"] == pytest.approx(92 / 30) and v["close_q3"] == 92_000_000
    assert (v["tier"], v["selection_score"], v["employees"]) == ("B", 3.6, 5200)
    assert v["plan_date"] == date(2026, 9, 25) and v["industry"] == "manufacturing"
    assert v["business_situation"] == '=HYPERLINK("http://evil")'  # stored as the text it is
    assert (v["error_count"], v["warning_count"], v["info_count"]) == (0, 2, 0)
    assert v["meta"]["generator_version"] == "0.1.0" and v["template_version"] == "1.0"
    assert v["collected_at"].tzinfo is not None

    opps = store.rows("opportunities")
    assert [(o["opp_id"], o["amount"], o["row"], o["row_index"], o["sheet"]) for o in opps] == [
        ("O-001", 12_000_000, 15, 1, "③売上計画"), ("O-002", 30_000_000, 16, 2, "③売上計画"),
        ("O-003", 50_000_000, 17, 3, "③売上計画")]
    o = opps[0]
    assert isinstance(o["amount"], int) and o["probability"] == 30.0 and o["ltv"] == 36_000_000
    assert o["expected_close"] == date(2026, 11, 30) and o["stage"] == "proposal"
    assert (o["plan_id"], o["rep"], o["period"], o["source_file"]) == (plan.plan_id, "山田 太郎", "FY2026Q3",
                                                                       "in/東都精機.xlsx")
    assert store.rows("Contacts")[1]["name"] == "+81-3-1234"
    assert store.rows("kpis")[0]["achievement"] == 0.4
    assert store.rows("success_cases")[0]["title"] == "@ライン自動化"
    assert store.rows("reviews") == []  # the blank row

    issues = store.issues()
    assert [(i["code"], i["severity"], i["sheet"], i["cell"], i["field"], i["table"], i["row"], i["raw"])
            for i in issues] == [
        ("W-COVERAGE-LOW", "warning", "③売上計画", "C8", "coverage_ratio", None, None, "3.07"),
        ("W-DECISION-MAKER-UNCOVERED", "warning", "④リレーションマップ", "H8", "stance", "Contacts", 1, "鈴木 一郎")]
    assert all(i["message_ja"] != i["message_en"] for i in issues)
    assert issues[0]["plan_id"] == plan.plan_id and issues[0]["source_file"] == "in/東都精機.xlsx"

    [f] = store.files()
    assert (f["path"], f["size"], f["sha256"], f["result"], f["plan_id"], f["version_no"]) == (
        "in/東都精機.xlsx", 1234, sha("in/東都精機.xlsx"), "stored", plan.plan_id, 1)
    assert f["mtime"] == datetime.fromtimestamp(T0, tz=timezone.utc)
    assert (f["error_count"], f["warning_count"]) == (0, 2)
    rec = store.file_seen(sha("in/東都精機.xlsx"))
    assert rec and rec.result == "stored" and rec.version_id == out.version_id
    assert store.file_seen(sha("never")) is None


def test_same_file_again_stores_nothing(store):
    plan = make_plan()
    first = save(store, plan, "a.xlsx", Issue("W-ORG-STALE", field="org_updated"))
    before = counts(store)
    again = save(store, plan, "a.xlsx", Issue("W-ORG-STALE", field="org_updated"))
    assert (again.result, again.file_result, again.version_id, again.version_no) == (
        "unchanged", "stored", first.version_id, 1)
    assert counts(store) == before


def test_resaved_file_with_same_content_records_the_file_only(store):
    plan = make_plan()
    first = save(store, plan, "a.xlsx")
    before = counts(store)
    out = save(store, make_plan(plan_id=plan.plan_id), "a.xlsx", content="re-saved in Excel", mtime=T0 + 60)
    assert (out.result, out.version_id) == ("unchanged", first.version_id)
    after = counts(store)
    assert after["files"] == before["files"] + 1
    assert {k: v for k, v in after.items() if k != "files"} == {k: v for k, v in before.items() if k != "files"}
    assert [f["result"] for f in store.files()] == ["stored", "unchanged"]


def test_changed_file_stores_a_new_current_version_and_keeps_history(store):
    pid = str(uuid.uuid4())
    v1 = save(store, make_plan(plan_id=pid), "a.xlsx", content="v1")
    v2 = save(store, make_plan(plan_id=pid, amounts=(12_000_000, 31_000_000)), "a.xlsx", content="v2",
              mtime=T0 + 86400)
    assert (v2.result, v2.version_no) == ("stored", 2) and v2.version_id != v1.version_id
    [cur] = store.current_versions()
    assert (cur["version_no"], cur["plan_total"]) == (2, 43_000_000)
    assert [o["amount"] for o in store.rows("opportunities")] == [12_000_000, 31_000_000]
    hist = store.rows("opportunities", all_versions=True)
    assert [(o["version_no"], o["is_current"], o["amount"]) for o in hist] == [
        (1, False, 12_000_000), (1, False, 30_000_000), (1, False, 50_000_000),
        (2, True, 12_000_000), (2, True, 31_000_000)]
    assert [(v["version_no"], v["is_current"]) for v in store.versions_of("C-001")] == [(1, False), (2, True)]
    assert [v["version_no"] for v in store.versions_of("東都精機株式会社")] == [1, 2]
    assert store.versions_of("other") == []
    assert len(store.versions(all_versions=True)) == 2
    with store.engine.connect() as c:
        assert c.execute(sa.text("select current_version_id from plans")).scalar() == v2.version_id
    # a revert to the first content is a change against the current version: a new version
    v3 = save(store, make_plan(plan_id=pid), "a.xlsx", content="v3", mtime=T0 + 2 * 86400)
    assert (v3.result, v3.version_no) == ("stored", 3)
    assert store.current_versions()[0]["plan_total"] == 92_000_000


def test_an_older_file_arriving_late_is_kept_as_history(store):
    pid = str(uuid.uuid4())
    new = save(store, make_plan(plan_id=pid, amounts=(1_000_000,)), "new.xlsx", mtime=T0 + 3600)
    old = save(store, make_plan(plan_id=pid), "old.xlsx", mtime=T0)
    assert (old.result, old.version_no) == ("superseded", 2)
    [cur] = store.current_versions()
    assert cur["version_id"] == new.version_id and cur["source_file"] == "new.xlsx"
    assert [f["result"] for f in store.files()] == ["stored", "superseded"]
    # the late file's issues are history too
    assert store.issues() == []


def test_two_reps_planning_the_same_account_and_period_conflict(store):
    a = make_plan(rep="山田 太郎")
    b = make_plan(rep="佐藤 花子", account_id="Ｃ－００１", amounts=(5_000_000,))  # full-width: same account
    save(store, a, "yamada.xlsx")
    out = save(store, b, "sato.xlsx")
    assert (out.result, out.file_result, out.conflict_with) == ("conflict", "conflict", a.plan_id)
    assert [i.code for i in out.issues] == ["E-CONFLICT"]
    assert [v["plan_id"] for v in store.current_versions()] == [a.plan_id]
    assert {o["plan_id"] for o in store.rows("opportunities")} == {a.plan_id}
    # nothing is lost: the conflicting plan's rows are kept as history
    assert [o["amount"] for o in store.rows("opportunities", all_versions=True)
            if o["plan_id"] == b.plan_id] == [5_000_000]
    conflict = [i for i in store.issues() if i["code"] == "E-CONFLICT"]
    assert [(i["plan_id"], i["source_file"], i["severity"], i["file_result"]) for i in conflict] == [
        (b.plan_id, "sato.xlsx", "error", "conflict")]
    assert "yamada.xlsx" in conflict[0]["message_ja"] and "山田 太郎" in conflict[0]["message_en"]
    [f] = [f for f in store.files() if f["path"] == "sato.xlsx"]
    assert (f["result"], f["error_count"]) == ("conflict", 1)
    # the same rep twice (another workbook): a duplicate, not a rep conflict
    dup = save(store, make_plan(rep="山田　太郎"), "yamada2.xlsx")
    assert (dup.result, [i.code for i in dup.issues]) == ("conflict", ["E-DUPLICATE-PLAN"])
    # another period or account is no conflict
    assert save(store, make_plan(rep="佐藤 花子", period="FY2026Q4"), "q4.xlsx").result == "stored"
    assert save(store, make_plan(rep="佐藤 花子", account_id="C-002"), "c2.xlsx").result == "stored"
    assert len(store.current_versions()) == 3


def test_a_conflict_clears_once_the_other_plan_moves(store):
    a, b = make_plan(rep="山田 太郎"), make_plan(rep="佐藤 花子")
    save(store, a, "yamada.xlsx")
    assert save(store, b, "sato.xlsx").result == "conflict"
    before = counts(store)
    again = save(store, b, "sato.xlsx")  # still in conflict: nothing new
    assert (again.result, again.file_result, again.conflict_with) == ("unchanged", "conflict", a.plan_id)
    assert counts(store) == before
    # Yamada's plan was really for the next quarter
    save(store, make_plan(plan_id=a.plan_id, rep="山田 太郎", period="FY2026Q4"), "yamada.xlsx",
         content="fixed", mtime=T0 + 60)
    out = save(store, b, "sato.xlsx")
    assert (out.result, out.file_result, out.version_no) == ("stored", "stored", 1)
    assert sorted((v["plan_id"], v["period"]) for v in store.current_versions()) == sorted(
        [(a.plan_id, "FY2026Q4"), (b.plan_id, "FY2026Q3")])
    assert not [i for i in store.issues(all_versions=True) if i["code"] == "E-CONFLICT"]
    f = store.file_seen(sha("sato.xlsx"))
    assert (f.result, f.error_count) == ("stored", 0)


def test_a_successor_plan_takes_over_from_its_predecessor(store):
    old = make_plan(rep="山田 太郎")
    save(store, old, "yamada.xlsx")
    new = make_plan(rep="佐藤 花子", predecessor=old.plan_id)
    out = save(store, new, "sato.xlsx", mtime=T0 + 60)
    assert out.result == "stored"
    assert [v["plan_id"] for v in store.current_versions()] == [new.plan_id]
    # the old rep sends a late update: history, not a conflict
    late = save(store, make_plan(plan_id=old.plan_id, rep="山田 太郎", amounts=(1,)), "yamada.xlsx",
                content="late", mtime=T0 + 120)
    assert (late.result, late.issues) == ("superseded", ())
    assert [v["plan_id"] for v in store.current_versions()] == [new.plan_id]


def test_plans_without_account_or_period_never_conflict(store):
    a = make_plan(account_id=None, account_name="無名", period="")
    a.fields["period"] = a.derived["period"] = None
    b = make_plan(account_id=None, account_name="無名", period="", rep="別人")
    b.fields["period"] = b.derived["period"] = None
    assert save(store, a, "a.xlsx").result == "stored"
    assert save(store, b, "b.xlsx").result == "stored"


# -- rejected files ----------------------------------------------------------------------

def test_unreadable_and_foreign_files_are_recorded_as_rejected(store):
    broken = make_report(None, Issue("E-FILE-UNREADABLE", params={"detail": "zip"}), file="broken.xlsx")
    out = store.reject("inbox/broken.xlsx", 10, sha("broken"), T0, broken)
    assert (out.result, out.file_result, out.plan_id, out.version_id) == ("rejected", "rejected", None, None)
    # a readable workbook without plan_id in _meta: rejected with E-NOT-A-PLAN
    foreign = make_plan()
    foreign.meta.pop("plan_id")
    out2 = save(store, foreign, "inbox/foreign.xlsx")
    assert (out2.result, [i.code for i in out2.issues]) == ("rejected", ["E-NOT-A-PLAN"])
    # save() of a report without plan data rejects as well
    lock = make_report(None, Issue("E-FILE-LOCK"), file="~$plan.xlsx")
    assert save(store, None, "inbox/~$plan.xlsx", *lock.issues).result == "rejected"

    files = store.files()
    assert [(f["path"], f["result"], f["plan_id"], f["version_id"], f["error_count"], f["detail"])
            for f in files] == [
        ("inbox/broken.xlsx", "rejected", None, None, 1, "E-FILE-UNREADABLE"),
        ("inbox/foreign.xlsx", "rejected", None, None, 1, "E-NOT-A-PLAN"),
        ("inbox/~$plan.xlsx", "rejected", None, None, 1, "E-FILE-LOCK")]
    assert [(i["code"], i["source_file"], i["plan_id"]) for i in store.issues()] == [
        ("E-FILE-UNREADABLE", "inbox/broken.xlsx", None), ("E-NOT-A-PLAN", "inbox/foreign.xlsx", None),
        ("E-FILE-LOCK", "inbox/~$plan.xlsx", None)]
    assert counts(store)["plan_versions"] == 0
    before = counts(store)
    again = store.reject("inbox/broken.xlsx", 10, sha("broken"), T0, broken)
    assert (again.result, again.file_result) == ("unchanged", "rejected") and counts(store) == before
    # once a good file arrives at the same path, the old rejection leaves the default issue list
    save(store, make_plan(), "inbox/broken.xlsx", content="fixed")
    assert "E-FILE-UNREADABLE" not in [i["code"] for i in store.issues()]
    assert "E-FILE-UNREADABLE" in [i["code"] for i in store.issues(all_versions=True)]


def test_values_that_do_not_fit_their_column_become_issues(store):
    plan = make_plan()
    plan.tables["Opportunities"][0].values["amount"] = "12 million"
    plan.derived["coverage_ratio"] = float("nan")
    out = save(store, plan, "a.xlsx")
    assert out.result == "stored"
    assert store.rows("opportunities")[0]["amount"] is None
    assert store.current_versions()[0]["coverage_ratio"] is None
    bad = [(i["code"], i["field"], i["cell"], i["table"], i["row"], i["raw"]) for i in store.issues()]
    assert bad == [("E-TYPE", "coverage_ratio", None, None, None, "nan"),
                   ("E-TYPE", "amount", "G15", "Opportunities", 1, "12 million")]


def _contents(store: Store) -> dict[str, list[tuple]]:
    with store.engine.connect() as c:
        return {n: [tuple(r) for r in c.execute(sa.select(t).order_by(*t.primary_key.columns)).all()]
                for n, t in store.metadata.tables.items() if n != "alembic_version"}


def test_a_save_prepared_in_another_process_stores_what_save_stores(tmp_path, db_url):
    """collect prepares in its worker (``store.preparer``, pickled there) and the parent only
    executes (``save_prepared``): every table holds what ``save`` stores, row for row --
    coercion issues, a rejected file, a file without plan_id and a changed plan included."""
    import pickle

    pid = str(uuid.uuid4())
    odd = make_plan(plan_id=pid, account_name="=株式会社 北斗", rep="+81 佐藤")
    odd.tables["Opportunities"][0].values["amount"] = "12 million"
    odd.derived["coverage_ratio"] = float("nan")
    no_id = make_plan()
    no_id.meta.pop("plan_id")
    files = [
        (make_report(odd, Issue("W-STRAY-VALUE", sheet="③売上計画", cell="K9", raw="=1+1", file="a.xlsx"), file="a.xlsx"), "a.xlsx", T0),
        (make_report(None, Issue("E-FILE-UNREADABLE", params={"detail": "zip"}), file="b.xlsx"), "b.xlsx", T0),
        (make_report(no_id, file="c.xlsx"), "c.xlsx", T0),
        (make_report(make_plan(plan_id=pid, amounts=(5,)), file="d.xlsx"), "d.xlsx", T0 + 60),
        (make_report(make_plan(account_name="=株式会社 北斗", rep="鈴木"), file="e.xlsx"), "e.xlsx", T0),
    ]
    direct = Store(f"sqlite:///{tmp_path / 'direct.db'}")
    prepared = Store(db_url)
    try:
        worker_side = pickle.loads(pickle.dumps(prepared.preparer))  # what a spawned worker gets
        outcomes = []
        for report, name, mtime in files:
            kw = dict(path=name, size=1234, sha256=sha(name), mtime=mtime, collected_at=datetime(2026, 11, 20, 0, 0))
            a = direct.save(report, **kw)
            sent = pickle.loads(pickle.dumps(worker_side.prepare(report, source_file=name)))  # what crosses back
            b = prepared.save_prepared(sent, **kw)
            outcomes.append((a.result, b.result, [i.code for i in a.issues], [i.code for i in b.issues]))
        assert [(ra, [*ia]) for ra, _, ia, _ in outcomes] == [(rb, [*ib]) for _, rb, _, ib in outcomes]
        assert [o[0] for o in outcomes] == ["stored", "rejected", "rejected", "stored", "conflict"]
        got, want = _contents(prepared), _contents(direct)
        assert got == want and want["issues"] and want["opportunities"]
    finally:
        direct.close()
        prepared.close()


# -- queries -------------------------------------------------------------------------------

def test_period_filters(store):
    for i, period in enumerate(("FY2026Q3", "FY2026Q4", "FY2027Q1")):
        save(store, make_plan(period=period), f"{period}.xlsx")
    store.reject("junk.xlsx", 1, sha("junk"), T0, make_report(None, Issue("E-FILE-FORMAT")))
    assert [v["period"] for v in store.current_versions("FY2026Q3")] == ["FY2026Q3"]
    assert [v["period"] for v in store.current_versions("ｆｙ２０２６ｑ４")] == ["FY2026Q4"]
    assert [v["period"] for v in store.current_versions("FY2026")] == ["FY2026Q3", "FY2026Q4"]
    assert {o["period"] for o in store.rows("opportunities", period="FY2027Q1")} == {"FY2027Q1"}
    # rejected files have no known period: they stay in the ledger and issue views
    assert [f["path"] for f in store.files("FY2027Q1")] == ["FY2027Q1.xlsx", "junk.xlsx"]
    assert [i["code"] for i in store.issues("FY2027Q1")] == ["E-FILE-FORMAT"]
    with pytest.raises(PeriodError):
        store.current_versions("next spring")
    with pytest.raises(StoreError) as e:
        store.rows("Pipeline")
    assert "opportunities" in str(e.value)
    assert store.columns("opportunities")[:6] == ["plan_id", "account_id", "account_name", "rep", "period",
                                                  "source_file"]


# -- round trip of every kind of value -------------------------------------------------------

def test_values_round_trip(store):
    texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=st.lists(st.tuples(texts, st.integers(-10**15, 10**15),
                                   st.floats(0, 100, allow_nan=False), st.dates(date(1900, 1, 1))),
                         min_size=1, max_size=8))
    def check(rows):
        plan = make_plan(plan_id=str(uuid.uuid4()), account_id=str(uuid.uuid4()))
        plan.tables["Opportunities"] = [
            Row(values={"opportunity": t, "amount": a, "probability": p, "expected_close": d},
                sheet="s", row=i + 10, index=i + 1) for i, (t, a, p, d) in enumerate(rows)]
        out = save(store, plan, plan.plan_id)
        got = [(o["opportunity"], o["amount"], o["probability"], o["expected_close"])
               for o in store.rows("opportunities") if o["plan_id"] == plan.plan_id]
        want = [(t.replace("\x00", "") or None, a, p, d) for t, a, p, d in rows]
        assert out.result == "stored" and got == want

    check()


def test_coerce_normalises_clean_values():
    assert coerce("amount", 1200.0) == 1200 and coerce("amount", "1,200") == 1200
    assert coerce("float", 30) == 30.0 and coerce("date", datetime(2026, 4, 1, 9)) == date(2026, 4, 1)
    assert coerce("date", "2026-04-01") == date(2026, 4, 1) and coerce("integer", " ") is None
    assert coerce("text", date(2026, 4, 1)) == "2026-04-01" and coerce("text", 3.0) == "3"
    for kind, bad in (("amount", True), ("amount", float("inf")), ("float", "abc"), ("date", "4月1日"),
                      ("date", 3)):
        with pytest.raises((ValueError, TypeError, ArithmeticError)):
            coerce(kind, bad)


# -- bad databases give clear errors ---------------------------------------------------------

def test_bad_database_urls_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(StoreError) as e:
        Store("postgresql+psycopg://u:secret@127.0.0.1:1/none").ensure_schema()
    assert "127.0.0.1" in str(e.value) and "secret" not in str(e.value)
    with pytest.raises(StoreError):
        Store("mysql://u@localhost/db")
    with pytest.raises(StoreError):
        Store("://nonsense")
    with pytest.raises(StoreError):
        Store(f"sqlite:///{tmp_path}/no/such/dir/x.db").ensure_schema()
    with pytest.raises(StoreError) as e:
        Store(f"sqlite:///{tmp_path}/missing.db", create=False)
    assert "missing.db" in str(e.value)
    assert not (tmp_path / "missing.db").exists()
    assert issubclass(StoreError, XltoolsError)
    monkeypatch.setenv("XLTOOLS_DB", "postgresql://u@h/db")
    assert resolve_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("XLTOOLS_DB")
    assert resolve_url() == "sqlite:///xltools.db" and resolve_url("data/p.db") == "sqlite:///data/p.db"


@pytest.mark.parametrize("url", ["notascheme", "%%%", "plans", "sqlite://", "sqlite:///", "sqlite:///:memory:",
                                 "sqlite:///x.db?mode=memory", "sqlite:///x.db?mode=ro",
                                 "sqlite:///file:x.db?mode=ro&uri=true", "sqlite:x.db"])
def test_database_urls_that_would_lose_data_are_refused(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as e:
        Store(url).ensure_schema()
    assert url.split("?")[0] in str(e.value) or "memory" in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no SQLite file of that name, nothing written


def test_an_in_memory_database_only_when_asked_for(tmp_path):
    with Store("sqlite://", allow_memory=True) as store:
        store.ensure_schema()
        assert store.files() == []
    with pytest.raises(StoreError):
        Store("sqlite:///:memory:")


def test_a_plain_path_to_a_database_file_still_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Store("data.db") as store:
        store.ensure_schema()
    assert (tmp_path / "data.db").is_file()


def _hold_write_lock(path: str, seconds: float, started: threading.Event) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    started.set()
    time.sleep(seconds)
    con.execute("ROLLBACK")
    con.close()


def test_sqlite_writer_waits_for_the_lock_then_fails_clearly(tmp_path):
    db = str(tmp_path / "x.db")
    Store(f"sqlite:///{db}").ensure_schema()
    # a short lock: the writer waits and succeeds
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db, 0.5, started))
    holder.start()
    started.wait()
    t = time.monotonic()
    assert save(Store(f"sqlite:///{db}", busy_timeout=10), make_plan(), "a.xlsx").result == "stored"
    assert time.monotonic() - t >= 0.4
    holder.join()
    # a lock held past the busy timeout: a clear error, nothing half-written
    started.clear()
    holder = threading.Thread(target=_hold_write_lock, args=(db, 2.0, started))
    holder.start()
    started.wait()
    s = Store(f"sqlite:///{db}", busy_timeout=0.3)
    with pytest.raises(StoreLockedError) as e:
        save(s, make_plan(), "b.xlsx")
    assert db in str(e.value)
    holder.join()
    assert [f["path"] for f in s.files()] == ["a.xlsx"]


# -- two collects at once -------------------------------------------------------------------

def _collect_worker(url: str, jobs: list, barrier, results, tag: int) -> None:
    store = Store(url)
    barrier.wait()
    out = []
    for plan, name, content, mtime in jobs:
        o = store.save(make_report(plan, file=name), path=name, size=1, sha256=sha(content), mtime=mtime)
        out.append((name, o.result))
    store.close()
    results.put((tag, out))


def test_two_concurrent_collects_lose_and_duplicate_nothing(db_url):
    parent = Store(db_url)  # open in the parent across the fork: its connections must not leak
    parent.ensure_schema()
    pids = [str(uuid.uuid4()) for _ in range(8)]
    jobs = [(make_plan(plan_id=p, account_id=f"C-{i}"), f"p{i}.xlsx", f"p{i}", T0) for i, p in enumerate(pids)]
    # a second version of three plans, and two reps racing for the same account and period
    jobs += [(make_plan(plan_id=pids[i], account_id=f"C-{i}", amounts=(7,)), f"p{i}.xlsx", f"p{i}-v2", T0 + 60)
             for i in range(3)]
    race = [(make_plan(account_id="C-X", rep=rep), f"{rep}.xlsx", rep, T0) for rep in ("山田", "佐藤")]
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_collect_worker, args=(db_url, jobs + [race[0]], barrier, results, 0)),
             ctx.Process(target=_collect_worker, args=(db_url, list(reversed(jobs)) + [race[1]], barrier, results, 1))]
    for p in procs:
        p.start()
    try:
        outs = [out for _, out in sorted(results.get(timeout=120) for _ in procs)]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    store = Store(db_url)
    files = store.files()
    assert sorted(f["sha256"] for f in files) == sorted({sha(c) for _, _, c, _ in jobs + race})
    n = counts(store)
    assert n["plans"] == 8 + 2 and n["plan_versions"] == 8 + 3 + 2
    cur = store.current_versions()
    assert len(cur) == 9 and len({v["plan_id"] for v in cur}) == 9
    assert sorted(v["plan_total"] for v in cur if v["account_id"] in ("C-0", "C-1", "C-2")) == [7, 7, 7]
    assert n["opportunities"] == 5 * 3 + 3 * (3 + 1) + 2 * 3
    results_by_name = [dict(o) for o in outs]
    assert sorted([results_by_name[0]["山田.xlsx"], results_by_name[1]["佐藤.xlsx"]]) == ["conflict", "stored"]
    # every file was stored by exactly one of the two
    stored = sum(1 for o in outs for _, r in o if r in ("stored", "superseded"))
    assert stored == 8 + 3 + 1


def test_the_store_names_are_importable_from_the_package_and_load_the_engine_lazily():
    import subprocess
    import sys

    import xltools.store as package
    from xltools.store import engine, saving

    for name in ("Store", "SaveOutcome", "FileRecord", "coerce", "resolve_url"):
        assert getattr(package, name) is getattr(engine, name)
    assert engine.SaveOutcome is saving.SaveOutcome and engine.coerce("integer", "1,200") == 1200
    with pytest.raises(AttributeError):
        package.NoSuchName  # noqa: B018
    code = ("import sys, xltools.store, xltools.store.base; "
            "print('sqlalchemy' in sys.modules, 'xltools.store.engine' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
