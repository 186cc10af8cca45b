"""The APS pack (``xltools pack``): one workbook per account, from plan files or the store,
its figures the checker's, what changed since the previous stored version, and a PDF."""
from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from test_history import CONTACTS_V1, OPPS_V1, SETTINGS, SPEC, T0, plan, save

from xltools.checking.check import check_file
from xltools.cli import cli
from xltools.reports.pack import TEXTS, pack_files, pack_from_store, plan_changes
from xltools.spec.issues import Issue
from xltools.store.engine import Store
from xltools.workbook.generate import PlanInfo, generate_workbook

NOW = datetime(2026, 8, 15, 9, 0, tzinfo=timezone.utc)
SHEETS_JA = ["サマリー", "関係図", "パイプライン", "活動計画", "改善アクション", "データ品質", "前回からの変化"]


def _values(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def _rows_with(ws, text: str) -> list[list]:
    return [r for r in _values(ws) if text in r]


def _two_versions(store: Store) -> str:
    v1 = plan(plan_id="11111111-1111-4111-8111-111111111111", fields={"sales_target": 10_000_000},
              Contacts=CONTACTS_V1, Opportunities=OPPS_V1)
    save(store, v1, at=T0, issues=(Issue("W-COVERAGE-LOW", sheet="③", cell="C5"),))
    contacts = [dict(c) for c in CONTACTS_V1]
    contacts[0]["stance"] = "favourable"
    contacts[2]["status"] = "transferred"
    contacts.append({"contact_id": "K4", "name": "伊藤 誠", "stance": "unknown", "status": "active"})
    opps = [dict(o) for o in OPPS_V1]
    opps[0].update(stage="won", probability=100.0)
    opps[1].update(stage="lost", probability=0.0)
    opps[2].update(amount=9_000_000, expected_close=date(2027, 2, 15))  # resized, and slipped a quarter
    opps.append({"opp_id": "O-4", "opportunity": "品質データ分析基盤", "amount": 12_000_000, "stage": "proposal",
                 "expected_close": date(2026, 9, 1)})
    v2 = plan(plan_id=v1.plan_id, fields={"sales_target": 10_000_000}, Contacts=contacts, Opportunities=opps,
              Activities=[{"planned_date": date(2026, 9, 1), "contact": "鈴木 一郎", "executive": "専務 高木",
                           "appointment": "requested", "status": "planned"},
                          {"planned_date": date(2027, 3, 1), "contact": "佐藤 花子", "status": "planned"}])
    save(store, v2, at=T0 + timedelta(days=30))
    return v1.plan_id


def test_a_pack_from_the_store_shows_what_changed_since_the_previous_version(db_url, tmp_path):
    with Store(db_url) as store:
        _two_versions(store)
        result = pack_from_store(store, SPEC, SETTINGS, tmp_path / "aps", period="FY2026Q2", lang="ja", now=NOW)
    assert len(result.paths) == 1 and result.ok and result.paths[0].name.startswith("FY2026Q2_東都精機株式会社")
    wb = load_workbook(result.paths[0])
    assert wb.sheetnames == SHEETS_JA
    changes = wb["前回からの変化"]
    assert _rows_with(changes, "鈴木 一郎")[0][:4] == ["関係の変化", "鈴木 一郎", "中立", "好意的"]
    assert _rows_with(changes, "高橋 健")[0][:4] == ["キーマン離脱", "高橋 健", None, "異動"]
    assert _rows_with(changes, "生産管理システム刷新")[0][:4] == ["受注", "生産管理システム刷新", None, 30_000_000]
    assert _rows_with(changes, "保守契約更新")[0][0] == "失注"
    assert _rows_with(changes, "品質データ分析基盤")[0][0] == "案件追加"
    iot = _rows_with(changes, "IoT 実証実験")
    assert ["受注予定の後ろ倒し", "IoT 実証実験", "FY2026Q3", "FY2026Q4"] in [r[:4] for r in iot]
    assert ["金額変更", "IoT 実証実験", 8_000_000, 9_000_000] in [r[:4] for r in iot]
    # the current version has no issues; the old version's warning is not shown
    assert _rows_with(wb["データ品質"], "問題はありません。")
    # activities of the next 90 days only (2026-09-01, not 2027-03-01), the pairing on the summary
    timeline = _values(wb["活動計画"])
    assert any(r[0] == datetime(2026, 9, 1) for r in timeline)
    assert not any(r[0] == datetime(2027, 3, 1) for r in timeline)
    assert _rows_with(wb["サマリー"], "専務 高木")[0][:4] == ["専務 高木", "鈴木 一郎", datetime(2026, 9, 1), "依頼中"]


def test_the_first_version_has_nothing_to_compare_and_its_issues_are_listed(db_url, tmp_path):
    with Store(db_url) as store:
        v1 = plan(fields={"sales_target": 10_000_000}, Contacts=CONTACTS_V1, Opportunities=OPPS_V1)
        save(store, v1, at=T0, issues=(Issue("W-COVERAGE-LOW", sheet="③", cell="C5"),))
        result = pack_from_store(store, SPEC, SETTINGS, tmp_path, account="C-001", lang="en", now=NOW)
    wb = load_workbook(result.paths[0])
    assert wb.sheetnames == ["Summary", "Relationship map", "Pipeline", "Activities", "Review actions", "Data quality", "Changes"]
    assert _rows_with(wb["Changes"], TEXTS["no_previous"]("en"))
    quality = _rows_with(wb["Data quality"], "W-COVERAGE-LOW")[0]
    assert quality[:4] == ["W-COVERAGE-LOW", "Warning", "③", "C5"]


def test_plan_changes_name_slipped_and_resized_deals():
    before = plan(Opportunities=[{"opp_id": "A", "opportunity": "X", "amount": 100, "stage": "proposal",
                                  "expected_close": date(2026, 5, 1)}])
    after = plan(Opportunities=[{"opp_id": "A", "opportunity": "X", "amount": 100, "stage": "proposal",
                                 "expected_close": date(2026, 5, 30)}])
    assert plan_changes(SPEC, before, after, SETTINGS, "en") == []  # same quarter, same amount
    after.tables["Opportunities"][0].values.update(expected_close=date(2026, 4, 1), amount=150)
    assert plan_changes(SPEC, before, after, SETTINGS, "en") == [("Deal resized", "X", 100, 150)]  # earlier: no slip


def _plan_file(tmp_path, name="p.xlsx", **kw):
    p = plan(period="FY2026Q3", fields={"sales_target": 10_000_000, "industry": "manufacturing"},
             Contacts=CONTACTS_V1 + [{"name": "=HYPERLINK(\"x\")", "stance": "neutral"}],
             Opportunities=OPPS_V1, **kw)
    info = PlanInfo(account_name="東都精機株式会社", rep="山田 太郎", period="FY2026Q3", account_id="C-001",
                    target=10_000_000, generated_at=T0)
    return generate_workbook(SPEC, SETTINGS, info, tmp_path / name, prefill=p)


def test_a_pack_from_a_file_shows_the_checkers_figures(tmp_path):
    path = _plan_file(tmp_path)
    report = check_file(path, SPEC, SETTINGS, now=NOW)
    result = pack_files([path], SPEC, SETTINGS, tmp_path / "aps", now=NOW)
    wb = load_workbook(result.paths[0])
    summary = wb["サマリー"]
    for key in ("target_applied", "period_pipeline", "coverage_ratio", "weighted_total", "plan_total"):
        label = SPEC.field(key).label("ja")
        row = _rows_with(summary, label)[0]
        assert row[1] == pytest.approx(report.plan.derived[key]), key
    # text typed by a rep that looks like a formula stays text
    cell = next(c for row in summary.iter_rows() for c in row if c.value == '=HYPERLINK("x")')
    assert cell.data_type == "s"
    # every issue of the check is on the data-quality sheet, with its cell
    quality = wb["データ品質"]
    assert {(r[0], r[3]) for r in _values(quality)[4:] if r[0]} >= {(i.code, i.cell) for i in report.issues}


def test_an_unreadable_file_is_noted_and_the_others_are_packed(tmp_path):
    good = _plan_file(tmp_path)
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a workbook")
    result = pack_files([bad, good], SPEC, SETTINGS, tmp_path / "aps", now=NOW)
    assert len(result.paths) == 1 and not result.ok
    assert result.notes == [TEXTS["no_plan"]("ja").format(file="broken.xlsx")]
    assert bad.read_bytes() == b"PK\x03\x04 not a workbook"  # never modified


def test_no_libreoffice_is_a_clear_note_not_a_failure(tmp_path, monkeypatch):
    from xltools.workbook import libreoffice

    def missing():
        raise libreoffice.LibreOfficeError("LibreOffice (soffice) was not found")

    monkeypatch.setattr(libreoffice, "find_soffice", missing)
    result = pack_files([_plan_file(tmp_path)], SPEC, SETTINGS, tmp_path / "aps", pdf=True, lang="en", now=NOW)
    assert result.paths and not result.pdfs
    assert result.notes == ["no PDF made: LibreOffice is not available (LibreOffice (soffice) was not found)"]


@pytest.mark.libreoffice
def test_the_pack_prints_through_libreoffice(tmp_path, soffice):
    result = pack_files([_plan_file(tmp_path)], SPEC, SETTINGS, tmp_path / "aps", pdf=True, now=NOW)
    assert result.ok and len(result.pdfs) == 1 and result.pdfs[0].stat().st_size > 0
    info = subprocess.run(["pdfinfo", str(result.pdfs[0])], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert len(SHEETS_JA) <= pages <= 10  # one page per sheet, the summary may take two


def test_cli_pack_from_the_database_as_json(db_url, tmp_path):
    with Store(db_url) as store:
        _two_versions(store)
    r = CliRunner().invoke(cli, ["pack", "--db", db_url, "--period", "FY2026Q2", "-o", str(tmp_path / "o"),
                                 "--format", "json"], env={"XLTOOLS_NOW": "2026-08-15T09:00:00+00:00"})
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert len(out["paths"]) == 1 and out["pdfs"] == [] and out["notes"] == []
    r = CliRunner().invoke(cli, ["pack", "--db", db_url, "--period", "FY2030Q1", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "FY2030Q1" in r.output
