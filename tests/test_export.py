"""``xltools export``: records for BI tools, CSV (BOM, injection guard) and JSON (types)."""
from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from test_store import T0, make_plan, make_report, save

from xltools.cli import cli
from xltools.reports.export import csv_cell, export_records, export_table, table_names
from xltools.spec.issues import Issue
from xltools.store.engine import Store, StoreError


@pytest.fixture
def filled(db_url):
    """Two plans (one with a second version), one conflicting plan, one rejected file."""
    store = Store(db_url)
    pid = str(uuid.uuid4())
    save(store, make_plan(plan_id=pid), "in/東都精機.xlsx",
         Issue("W-COVERAGE-LOW", sheet="③売上計画", cell="C8", field="coverage_ratio", raw=2.5), content="v1")
    save(store, make_plan(plan_id=pid, amounts=(12_000_000, 31_000_000)), "in/東都精機.xlsx", content="v2",
         mtime=T0 + 86400)
    save(store, make_plan(account_id="C-002", account_name="北斗化学", rep="佐藤 花子", period="FY2026Q4",
                          amounts=(5_000_000,)), "in/北斗化学.xlsx")
    save(store, make_plan(rep="田中 次郎"), "in/conflict.xlsx")
    store.reject("in/broken.xlsx", 3, "f" * 64, T0,
                 make_report(None, Issue("E-FILE-UNREADABLE", params={"detail": "zip"})))
    yield db_url, store, pid
    store.close()


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Japanese correctly
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def run(*args: str) -> bytes:
    res = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout_bytes


def test_csv_records_of_current_versions(filled):
    url, store, pid = filled
    rows = read_csv(run("opportunities", "--db", url))
    assert list(rows[0])[:6] == ["plan_id", "account_id", "account_name", "rep", "period", "source_file"]
    assert {"opp_id", "amount", "probability", "expected_close", "stage", "ltv"} <= set(rows[0])
    assert [(r["account_name"], r["amount"], r["probability"], r["expected_close"]) for r in rows] == [
        ("東都精機株式会社", "12000000", "30.0", "2026-11-30"), ("東都精機株式会社", "31000000", "30.0", "2026-11-30"),
        ("北斗化学", "5000000", "30.0", "2026-11-30")]
    assert {r["plan_id"] for r in rows if r["account_name"] == "東都精機株式会社"} == {pid}
    assert rows[0]["source_file"] == "in/東都精機.xlsx" and rows[0]["version_no"] == "2"
    assert rows[0]["note"] == ""  # None is an empty cell


def test_csv_guards_text_against_formula_injection(filled):
    url, _, _ = filled
    contacts = read_csv(run("contacts", "--db", url))
    assert "'+81-3-1234" in [c["name"] for c in contacts]
    cases = read_csv(run("success_cases", "--db", url))
    assert cases[0]["title"] == "'@ライン自動化" and cases[0]["amount"] == "8000000"
    plans = read_csv(run("plans", "--db", url))
    assert plans[0]["business_situation"] == "'=HYPERLINK(\"http://evil\")"


@given(st.text(max_size=20))
def test_csv_cell_never_starts_a_formula(text):
    out = csv_cell(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out in (text, "'" + text)


def test_csv_cell_keeps_numbers_numeric():
    assert (csv_cell(-5), csv_cell(2.5), csv_cell(None), csv_cell(True)) == ("-5", "2.5", "", "true")


def test_json_keeps_types(filled, tmp_path):
    url, _, _ = filled
    out = tmp_path / "opps.json"
    res = CliRunner().invoke(cli, ["export", "opportunities", "--db", url, "--format", "json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    recs = json.loads(out.read_text(encoding="utf-8"))
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")
    first = recs[0]
    assert first["amount"] == 12_000_000 and isinstance(first["amount"], int)
    assert first["probability"] == 30.0 and isinstance(first["probability"], float)
    assert first["expected_close"] == "2026-11-30" and first["note"] is None
    assert first["is_current"] is True and first["version_no"] == 2
    assert first["collected_at"].endswith("+00:00")
    plans = json.loads(run("plans", "--db", url, "--format", "json"))
    toto = next(p for p in plans if p["account_name"] == "東都精機株式会社")
    assert toto["plan_total"] == 43_000_000 and toto["plan_date"] == "2026-09-25"
    assert isinstance(toto["coverage_ratio"], float) and "meta" not in toto


def test_all_versions_and_period(filled):
    url, _, pid = filled
    hist = json.loads(run("opportunities", "--db", url, "--format", "json", "--all-versions"))
    mine = [(r["version_no"], r["is_current"], r["amount"]) for r in hist if r["plan_id"] == pid]
    assert mine == [(1, False, 12_000_000), (1, False, 30_000_000), (1, False, 50_000_000),
                    (2, True, 12_000_000), (2, True, 31_000_000)]
    # the conflicting plan is history only
    assert any(r["rep"] == "田中 次郎" for r in hist)
    q4 = json.loads(run("opportunities", "--db", url, "--format", "json", "--period", "FY2026Q4"))
    assert [r["account_name"] for r in q4] == ["北斗化学"]
    plans = json.loads(run("plans", "--db", url, "--format", "json", "--all-versions", "--period", "FY2026"))
    assert len(plans) == 4


def test_issues_and_files(filled):
    url, _, _ = filled
    issues = read_csv(run("issues", "--db", url))
    assert {(i["code"], i["severity"], i["source_file"]) for i in issues} == {
        ("E-CONFLICT", "error", "in/conflict.xlsx"), ("E-FILE-UNREADABLE", "error", "in/broken.xlsx")}
    assert all(i["message_ja"] and i["message_en"] for i in issues)
    every = read_csv(run("issues", "--db", url, "--all-versions"))
    cov = [i for i in every if i["code"] == "W-COVERAGE-LOW"]
    assert [(i["cell"], i["field"], i["raw"], i["version_no"]) for i in cov] == [("C8", "coverage_ratio", "2.5", "1")]
    files = read_csv(run("files", "--db", url))
    assert [(f["path"], f["result"]) for f in files] == [
        ("in/東都精機.xlsx", "stored"), ("in/東都精機.xlsx", "stored"), ("in/北斗化学.xlsx", "stored"),
        ("in/conflict.xlsx", "conflict"), ("in/broken.xlsx", "rejected")]


def test_every_table_exports_with_a_header(filled):
    url, store, _ = filled
    for name in table_names(store.spec):
        cols, recs = export_records(store, name)
        data = io.BytesIO()
        n = export_table(name, db_url=url, output=data)
        rows = read_csv(data.getvalue())
        assert n == len(recs) == len(rows)
        header = data.getvalue()[3:].decode("utf-8").splitlines()[0].split(",")
        assert header == cols
    # spec names and hyphens are accepted too
    assert export_records(store, "SuccessCases")[0] == export_records(store, "success-cases")[0]


def test_bad_arguments_are_clear_errors(filled, tmp_path):
    url, _, _ = filled
    res = CliRunner().invoke(cli, ["export", "pipeline", "--db", url])
    assert res.exit_code == 2 and "opportunities" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["export", "plans", "--db", url, "--period", "someday"])
    assert res.exit_code == 2 and "Traceback" not in res.output  # a usage error
    res = CliRunner().invoke(cli, ["export", "plans", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 3 and "none.db" in res.output  # the tool could not do its job
    assert not (tmp_path / "none.db").exists()
    res = CliRunner().invoke(cli, ["export", "plans", "--db", "postgresql+psycopg://x:pw@127.0.0.1:1/db"])
    assert res.exit_code == 3 and "127.0.0.1" in res.output and "pw@" not in res.output
    with pytest.raises(StoreError):
        export_table("plans", db_url=url, fmt="xml")


def test_a_failed_export_leaves_the_previous_file(filled, tmp_path, monkeypatch):
    url, _, _ = filled
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "plans.csv"
    out.write_bytes(b"previous")
    import xltools.reports.export as ex

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ex, "write_csv", boom)
    with pytest.raises(OSError):
        export_table("plans", db_url=url, output=out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in out.parent.iterdir()] == ["plans.csv"]
