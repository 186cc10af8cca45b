"""The one clock (``xltools.clock``): ``XLTOOLS_NOW`` parsing, and that a run with a fixed
``now`` stamps exactly that instant -- collected_at, generated_at, the "checked at" line
and the roll-up's trend month -- whatever the system clock says."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from test_collect import ctx, make_plan  # noqa: F401 - ctx is a fixture

from xltools import clock
from xltools.checking.check import check_files
from xltools.cli import cli
from xltools.collect import collect_paths
from xltools.reports.rollup import write_rollup
from xltools.store.engine import Store
from xltools.workbook.reader import read_workbook

JST = timezone(timedelta(hours=9))
#: far from any real date the suite runs on, and not at a month's edge in any zone
NOW = datetime(2031, 2, 14, 9, 30, 15, 123456, tzinfo=JST)


# -- XLTOOLS_NOW ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("2026-11-20T09:00:00+09:00", datetime(2026, 11, 20, 9, tzinfo=JST)),
    ("2026-11-20T00:00:00Z", datetime(2026, 11, 20, tzinfo=timezone.utc)),
    ("  2026-11-20T09:00:00+09:00\n", datetime(2026, 11, 20, 9, tzinfo=JST)),
])
def test_xltools_now_with_an_offset_is_that_instant(monkeypatch, value, expected):
    monkeypatch.setenv("XLTOOLS_NOW", value)
    got = clock.now()
    assert got == expected and got.utcoffset() == expected.utcoffset()


def test_a_naive_xltools_now_is_local_time_and_a_bare_date_local_midnight(monkeypatch):
    monkeypatch.setenv("XLTOOLS_NOW", "2026-11-20T09:15:00")
    got = clock.now()
    assert got.tzinfo is not None
    assert got.replace(tzinfo=None) == datetime(2026, 11, 20, 9, 15)
    assert got == datetime(2026, 11, 20, 9, 15).astimezone()  # the local wall time
    monkeypatch.setenv("XLTOOLS_NOW", "2026-11-20")
    midnight = clock.now()
    assert midnight == datetime(2026, 11, 20).astimezone()
    assert clock.today(midnight) == date(2026, 11, 20)


def test_without_xltools_now_the_system_clock_timezone_aware(monkeypatch):
    monkeypatch.delenv("XLTOOLS_NOW", raising=False)
    before = datetime.now(timezone.utc)
    got = clock.now()
    after = datetime.now(timezone.utc)
    assert got.tzinfo is not None and before <= got <= after
    monkeypatch.setenv("XLTOOLS_NOW", "")  # set but empty: as if unset
    assert clock.now().tzinfo is not None


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026/11/20", "20.11.2026", "T09:00"])
def test_an_invalid_xltools_now_is_a_clear_error_in_both_languages(monkeypatch, value):
    monkeypatch.setenv("XLTOOLS_NOW", value)
    with pytest.raises(clock.ClockError) as e:
        clock.now()
    msg = str(e.value)
    assert "XLTOOLS_NOW" in msg and repr(value) in msg
    assert "ISO 8601 の日付・日時ではありません" in msg  # ja
    assert "is not an ISO 8601 date or date-time" in msg  # en
    assert "2026-11-20T09:00:00+09:00" in msg  # an example to copy


def test_today_is_the_local_date_of_the_instant():
    assert clock.today(NOW) == NOW.astimezone().date()
    noon = datetime(2026, 7, 1, 12, 0)  # naive: local time
    assert clock.today(noon) == date(2026, 7, 1)
    assert clock.resolve(noon) == noon.astimezone() and clock.resolve(NOW) is NOW
    assert clock.resolve(None).tzinfo is not None


# -- a run with a fixed clock stamps exactly that ----------------------------------------------

def _totals(ws) -> dict:
    rows = ws[ws.tables["Totals"].ref]
    return {r[0].value: r[1].value for r in rows[1:]}


def test_collect_and_report_stamp_exactly_the_given_now(tmp_path, ctx):  # noqa: F811
    spec, settings = ctx
    inbox = tmp_path / "inbox"
    make_plan(inbox / "a.xlsx", spec, settings, account="アルファ工業", rep="佐藤", period="FY2030Q4")
    make_plan(inbox / "b.xlsx", spec, settings, account="ベータ商事", rep="鈴木", period="FY2030Q4")
    (inbox / "old.xls").write_bytes(b"not read")  # rejected: stamped too
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        summary = collect_paths([inbox], store, spec, settings, jobs=1, now=NOW)
        assert summary.count("stored") == 2 and summary.count("rejected") == 1
        stamps = {f["collected_at"] for f in store.files()}
        assert stamps == {NOW}  # the same instant (the store keeps UTC)
        assert {v["collected_at"] for v in store.versions(all_versions=True)} == stamps
        out = write_rollup(store, spec, settings, tmp_path / "r.xlsx", period="FY2030Q4", now=NOW)
    wb = load_workbook(out)
    local = NOW.astimezone().replace(tzinfo=None)
    assert _totals(wb["サマリー"])["作成日時"] == local.replace(microsecond=0)
    trend = wb["推移"]
    rows = [[c.value for c in r] for r in trend[trend.tables["Trend"].ref]][1:]
    assert [(r[0], r[1]) for r in rows] == [(local.strftime("%Y-%m"), 2)]


def test_check_and_generate_use_the_given_now(tmp_path, ctx):  # noqa: F811
    spec, settings = ctx
    path = make_plan(tmp_path / "a.xlsx", spec, settings, account="アルファ工業", rep="佐藤")
    (report,) = check_files([path], spec, settings, annotate_dir=tmp_path / "out", now=NOW)
    ws = load_workbook(report.stats["annotated"]).worksheets[0]
    assert ws["A2"].value == f"チェック日時: {NOW.astimezone():%Y-%m-%d %H:%M}"

    roster = tmp_path / "roster.csv"
    roster.write_text("担当営業,顧客名\n佐藤,アルファ工業\n", encoding="utf-8")
    from xltools.generation import generate_from_roster

    res = generate_from_roster(spec, settings, roster, "FY2030Q4", tmp_path / "plans", jobs=1, now=NOW)
    meta = read_workbook(res.paths[0], spec).meta
    assert datetime.fromisoformat(meta["generated_at"]) == NOW.replace(microsecond=0)


def test_the_cli_reads_xltools_now_once_for_every_command(tmp_path, ctx):  # noqa: F811
    spec, settings = ctx
    make_plan(tmp_path / "inbox" / "a.xlsx", spec, settings, account="アルファ工業", rep="佐藤", period="FY2030Q4")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {"XLTOOLS_NOW": NOW.isoformat()}
    run = CliRunner().invoke
    r = run(cli, ["collect", str(tmp_path / "inbox"), "--db", url, "--jobs", "1"], env=env)
    assert r.exit_code == 0, r.output
    r = run(cli, ["report", "--db", url, "-o", str(tmp_path / "r.xlsx")], env=env)
    assert r.exit_code == 0, r.output
    r = run(cli, ["generate", "--account", "ベータ商事", "--rep", "鈴木", "--period", "FY2030Q4",
                  "-o", str(tmp_path / "one.xlsx")], env=env)
    assert r.exit_code == 0, r.output
    with Store(url, spec, create=False) as store:
        assert {f["collected_at"] for f in store.files()} == {NOW}
    wb = load_workbook(tmp_path / "r.xlsx")
    assert _totals(wb["サマリー"])["作成日時"] == NOW.astimezone().replace(tzinfo=None, microsecond=0)
    meta = read_workbook(tmp_path / "one.xlsx", spec).meta
    assert datetime.fromisoformat(meta["generated_at"]) == NOW.replace(microsecond=0)


@pytest.mark.parametrize("args", [
    ["collect", "{inbox}", "--db", "{url}"],
    ["report", "--db", "{url}", "-o", "{out}"],
    ["check", "{plan}"],
    ["generate", "--account", "A", "--rep", "B", "--period", "FY2030Q4", "-o", "{out}"],
])
def test_an_invalid_xltools_now_is_a_usage_error_of_the_cli(tmp_path, ctx, args):  # noqa: F811
    spec, settings = ctx
    plan = make_plan(tmp_path / "inbox" / "a.xlsx", spec, settings, account="アルファ工業", rep="佐藤")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    argv = [a.format(inbox=tmp_path / "inbox", url=url, out=tmp_path / "o.xlsx", plan=plan) for a in args]
    r = CliRunner().invoke(cli, argv, env={"XLTOOLS_NOW": "next tuesday"})
    assert r.exit_code == 2, r.output
    assert "XLTOOLS_NOW" in r.output and "ISO 8601" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "o.xlsx").exists()  # nothing done
