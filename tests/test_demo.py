"""``make demo``: the whole pipeline in a folder, re-runnable, never clearing a stranger's folder."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from xltools.checking.roster import read_roster
from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.store.engine import Store
from xltools.testing.demo import MARKER, run_demo

NOW = datetime(2026, 11, 24, 12, 0)  # local noon


def table_rows(path: Path, name: str) -> list[list]:
    wb = load_workbook(path, read_only=False)
    for ws in wb.worksheets:
        if name in ws.tables:
            rows = [[c.value for c in r] for r in ws[ws.tables[name].ref]]
            return rows[1:]
    raise AssertionError(f"no table {name} in {path}")


def test_the_demo_runs_the_whole_pipeline(tmp_path):
    out = tmp_path / "demo"
    lines: list[str] = []
    r = run_demo(out, echo=lines.append, now=NOW)
    spec = Settings().apply(load_spec())

    assert r.period == "FY2026Q3"
    roster = read_roster(r.roster, spec)
    assert len(roster) == 12 and not roster.errors
    assert {e.lang for e in roster} == {"ja", "en"}
    assert len({e.rep for e in roster}) == 3
    assert len(r.plans) == 12 and all(p.parent == out / "plans" and p.is_file() for p in r.plans)

    names = sorted(p.name for p in r.inbox)
    assert sum(n.endswith(".xlsx") and not n.startswith("~$") for n in names) == 12
    assert sum(n.startswith("~$") for n in names) == 1

    # month 1: the broken file is rejected (11 plans); month 2: resent, all 12 stored
    assert r.plans_after_month1 == 11
    assert r.plans_in_db == 12
    store = Store(r.db_url, spec, create=False)
    try:
        assert len(store.versions(r.period)) == 12
        assert len(store.versions(r.period, all_versions=True)) > 12  # the changed plans have history
    finally:
        store.close()

    trend = table_rows(r.rollup, "Trend")
    assert [row[0] for row in trend] == r.months
    assert [row[1] for row in trend] == [11, 12]
    if r.case_library is not None:
        assert r.case_library.is_file() and r.cases > 0

    text = r.check.read_text(encoding="utf-8")
    assert "E-UNKNOWN-CONTACT" in text and "W-COVERAGE-LOW" in text
    assert r.annotated is not None and r.annotated.is_file()
    printed = "\n".join(lines)
    assert str(r.rollup) in printed and str(r.check) in printed


def test_running_again_clears_and_rebuilds(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(out, reps=1, accounts=3, echo=lambda s: None, now=NOW)
    (out / "plans" / "leftover.xlsx").write_bytes(b"old")
    second = run_demo(out, reps=1, accounts=3, echo=lambda s: None, now=NOW)
    assert not (out / "plans" / "leftover.xlsx").exists()
    assert (out / MARKER).exists()
    assert first.plans_in_db == second.plans_in_db == 3  # a fresh database, not two runs' worth
    assert [p.name for p in first.plans] == [p.name for p in second.plans]


def test_a_folder_the_demo_did_not_make_is_never_cleared(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("important", encoding="utf-8")
    with pytest.raises(XltoolsError):
        run_demo(mine, echo=lambda s: None, now=NOW)
    assert (mine / "keep.txt").read_text(encoding="utf-8") == "important"
    assert sorted(p.name for p in mine.iterdir()) == ["keep.txt"]


def test_python_m_xltools_demo(tmp_path):
    out = tmp_path / "d"
    proc = subprocess.run([sys.executable, "-m", "xltools.testing.demo", str(out), "--reps", "1", "--accounts", "2",
                           "--lang", "en"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "rollup.xlsx").is_file() and (out / "xltools.db").is_file()
    assert "What to open" in proc.stdout and str(out / "rollup.xlsx") in proc.stdout

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "x.txt").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "xltools.testing.demo", str(stranger)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and str(stranger) in proc.stderr
