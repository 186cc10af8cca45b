"""Whitespace across accounts in the roll-up: our solutions × industry and × account, counted
from the stored opportunities with the plan's own rule (xltools.spec.derive.whitespace)."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from openpyxl import load_workbook
from test_history import SETTINGS, SPEC, T0, plan, save

from xltools.reports.rollup import write_rollup
from xltools.reports.rollup.sheets_whitespace import account_statuses
from xltools.spec.derive import departments, whitespace
from xltools.store.engine import Store
from xltools.testing import corpus

NOW = datetime(2026, 8, 1, tzinfo=timezone.utc)


def _rows(ws):
    return [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]


def test_whitespace_by_industry_and_by_account(db_url, tmp_path):
    with Store(db_url) as store:
        save(store, plan(fields={"sales_target": 10_000_000, "industry": "manufacturing"}, Opportunities=[
            {"opp_id": "A", "opportunity": "ERP刷新", "amount": 100, "stage": "won", "solution": "erp",
             "department": "生産本部"},
            {"opp_id": "B", "opportunity": "BI導入", "amount": 100, "stage": "proposal", "solution": "data"}]))
        save(store, plan(account_name="B社", account_id="C-2",
                         fields={"sales_target": 10_000_000, "industry": "manufacturing"}, Opportunities=[
            {"opp_id": "A", "opportunity": "ERP", "amount": 100, "stage": "lost", "solution": "erp"},
            {"opp_id": "C", "opportunity": "ERP2", "amount": 100, "stage": "won", "solution": "erp"}]))
        save(store, plan(account_name="C社", account_id="C-3", fields={"sales_target": 10_000_000}))
        out = write_rollup(store, SPEC, SETTINGS, tmp_path / "r.xlsx", period="FY2026Q2", now=NOW)
    ws = load_workbook(out)["ホワイトスペース"]
    rows = _rows(ws)
    assert rows[1] == ("業種", "ソリューション", "受注", "商談中", "失注", "未提案", "顧客数") + (None,) * 4
    by = {(r[0], r[1]): r[2:7] for r in rows[2:] if r[1] and r[0] != "担当営業"}
    assert by[("製造業", "基幹システム・ERP")] == (2, 0, 0, 0, 2)  # won wins over lost in the same account
    assert by[("製造業", "データ活用・BI")] == (0, 1, 0, 1, 2)
    assert by[("業種なし", "基幹システム・ERP")] == (0, 0, 0, 1, 1)  # a plan with no deals: all whitespace
    accounts = {r[1]: r[3:] for r in rows if r[0] == "山田 太郎"}
    erp, data = 2, 4  # column positions of the solutions after rep, account, industry
    assert accounts["東都精機株式会社"][erp] == "受注" and accounts["東都精機株式会社"][data] == "商談中"
    assert accounts["B社"][erp] == "受注" and accounts["C社"][erp] == "未提案"


def test_an_accounts_status_is_the_plans_own_map_with_the_departments_merged():
    """The roll-up's status of a solution = the best status over the plan's map rows
    (won > in progress > lost > none), for a corpus of plans."""
    rank = {SPEC.the("whitespace", t): n for n, t in enumerate(("won", "open", "lost", "none"))}
    solutions = SPEC.choices("solution").keys()
    compared = 0
    for seed in range(12):
        p = corpus.make_plan(random.Random(seed), SPEC, SETTINGS, account=f"A{seed}", rep="r", period="FY2026Q3",
                             as_of=T0.date(), messy=0.0)
        opps = p.rows("Opportunities")
        records = [{**r.values, "plan_id": "p"} for r in opps]
        got = account_statuses(records, SPEC, solutions).get("p", {})
        per_dept = whitespace(opps, SPEC, departments(opps), solutions)
        undepartmented = [r for r in opps if not r.get("department")]
        if undepartmented:  # rows without a department are not on the plan's map
            continue
        compared += 1
        for sol in solutions:
            statuses = [status for (_, s), status in per_dept.items() if s == sol]
            want = min(statuses, key=rank.get) if statuses else SPEC.the("whitespace", "none")
            assert got.get(sol, SPEC.the("whitespace", "none")) == want, (seed, sol)
    assert compared >= 10
