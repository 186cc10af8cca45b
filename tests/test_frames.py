"""``xltools.frames`` and ``xltools.read_plan``: typed DataFrames with the same records as
``xltools export``, and pandas only imported when they are called."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone

import pandas as pd
import pytest
from click.testing import CliRunner
from test_check import NOW, make_plan

import xltools
from xltools.cli import cli
from xltools.collect import collect_paths
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.store.engine import Store

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    d = tmp_path_factory.mktemp("frames")
    inbox = d / "inbox"
    inbox.mkdir()
    make_plan(inbox / "good.xlsx")
    make_plan(inbox / "en.xlsx", lang="en")
    url = f"sqlite:///{d / 'x.db'}"
    with Store(url, SPEC) as store:
        collect_paths([inbox], store, SPEC, SETTINGS, jobs=1, now=datetime(2026, 10, 1, 3, tzinfo=timezone.utc))
    return url


def _export_json(db, table):
    r = CliRunner().invoke(cli, ["export", table, "--db", db, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _plain(v):
    """A frame cell as export's JSON writes it."""
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat() if v.tz is not None else v.date().isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


@pytest.mark.parametrize("table", ["opportunities", "contacts", "activities", "plans", "issues", "kpis"])
def test_frames_hold_the_records_of_export(db, table):
    df = xltools.frames(db, table)
    expected = _export_json(db, table)
    assert len(df) == len(expected) > 0
    got = [{k: _plain(v) for k, v in rec.items()} for rec in df.astype(object).to_dict("records")]
    for g, e in zip(got, expected):
        for k, v in e.items():
            gv = g[k]
            if k in ("collected_at", "file_mtime"):  # times: the same instant
                assert pd.Timestamp(gv) == pd.Timestamp(v), (table, k)
            elif isinstance(v, float):
                assert gv == pytest.approx(v), (table, k)
            else:
                assert gv == v, (table, k, gv, v)


def test_frames_types(db):
    opp = xltools.frames(db, "opportunities")
    assert list(opp.columns[:5]) == ["plan_id", "account_id", "account_name", "rep", "period"]
    assert str(opp["amount"].dtype) == "Int64" and str(opp["weighted"].dtype) == "Int64"
    assert str(opp["expected_close"].dtype).startswith("datetime64")
    assert isinstance(opp["stage"].dtype, pd.CategoricalDtype)
    assert list(opp["stage"].cat.categories[:6]) == SPEC.choices("stage").keys()
    assert set(opp["stage"].dropna()) <= set(SPEC.choices("stage").keys())
    assert opp["amount"].sum() > 0 and opp.loc[opp["stage"] == "lost", "weighted"].eq(0).all()
    from xltools.reports.dataframes import labels

    ja = labels(opp, "stage")
    assert set(ja.dropna()) <= set(SPEC.choices("stage").labels("ja"))
    en = labels(xltools.frames(db, "opportunities", lang="en"), "stage")
    assert set(en.dropna()) <= set(SPEC.choices("stage").labels("en"))
    plans = xltools.frames(db, "plans")
    assert str(plans["coverage_ratio"].dtype) == "Float64" and str(plans["period_pipeline"].dtype) == "Int64"
    assert str(plans["collected_at"].dtype).startswith("datetime64") and plans["collected_at"].dt.tz is not None
    assert plans["coverage_ratio"].iloc[0] == pytest.approx(3.6)
    issues = xltools.frames(db, "issues")
    assert list(issues["severity"].cat.categories) == ["error", "warning", "info"]
    with pytest.raises(Exception, match="notatable"):
        xltools.frames(db, "notatable")


def test_a_worked_example_coverage_by_rep(db):
    """The README's example: coverage by rep from the plans frame."""
    plans = xltools.frames(db, "plans", period="FY2026Q3")
    by_rep = plans.groupby("rep")[["period_pipeline", "sales_target"]].sum()
    by_rep["coverage"] = by_rep["period_pipeline"] / by_rep["sales_target"]
    assert by_rep["coverage"].iloc[0] == pytest.approx(3.6)


def test_read_plan_gives_the_checked_plan_as_frames(tmp_path):
    path = make_plan(tmp_path / "p.xlsx")
    pf = xltools.read_plan(path, settings=SETTINGS, now=NOW)
    assert pf.valid
    tables = pf.frames()
    assert set(tables) == {t.name for t in SPEC.tables}
    opp = tables["Opportunities"]
    assert len(opp) == len(pf.plan.rows("Opportunities")) == 4
    assert list(opp["amount"]) == [r["amount"] for r in pf.plan.rows("Opportunities")]
    assert str(opp["amount"].dtype) == "Int64" and str(opp["expected_close"].dtype).startswith("datetime64")
    assert opp["sheet"].iloc[0] == "③売上計画"
    f = pf.fields
    assert f["sales_target"] == 50_000_000 and f["coverage_ratio"] == pytest.approx(3.6)
    assert f["target_start"] == date(2026, 10, 1)
    assert list(pf.issues.columns[:4]) == ["code", "severity", "sheet", "cell"]


def test_pandas_is_imported_only_when_frames_are_asked_for():
    code = ("import sys, xltools, xltools.cli, xltools.checking.check; "
            "print('pandas' in sys.modules); xltools.frames; print('pandas' in sys.modules)")
    # (the attribute loads xltools.reports.dataframes, which imports pandas only inside its functions)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
