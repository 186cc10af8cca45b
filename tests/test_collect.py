"""``xltools collect``: discovery, the ledger, versions, conflicts, the roster, parallel and
concurrent runs -- with real workbooks made by the generator and filled through its prefill,
against SQLite and PostgreSQL (``db_url``) where the database matters."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools import collect as collect_mod
from xltools.checking.roster import RosterEntry
from xltools.cli import cli
from xltools.collect import (
    PLAN_SUFFIXES,
    WRONG_FORMAT_SUFFIXES,
    CollectError,
    collect_paths,
    discover,
    is_lock_or_temp,
    missing_submissions,
    render_summary,
)
from xltools.spec.config import Settings
from xltools.spec.model import PlanData, Row
from xltools.spec.spec import load_spec
from xltools.store.engine import Store
from xltools.workbook.generate import PlanInfo, generate_workbook

NOW = datetime(2026, 10, 15, 12, 0)  # local noon: the run's today is 2026-10-15 in any zone
TODAY = NOW.date()
PERIOD = "FY2026Q3"
XLTOOLS = str(Path(sys.executable).with_name("xltools"))


# -- filled workbooks ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctx():
    settings = Settings()
    return settings.apply(load_spec()), settings


def row(**values) -> Row:
    return Row(values=values, sheet="", row=0, index=0)


def make_plan(path: Path, spec, settings, *, account: str, rep: str, period: str = PERIOD,
              account_id: str | None = None, target: int | None = 10_000_000, lang: str = "ja",
              plan_id: str | None = None, fields: dict | None = None, **tables: list[dict]) -> Path:
    """A plan workbook as a rep leaves it: generated, then filled through the generator's
    prefill (values may be raw strings as typed).  Table rows are given as dicts."""
    prefill = PlanData(meta={}, fields=dict(fields or {}),
                       tables={name: [row(**r) for r in rows] for name, rows in tables.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PlanInfo(account_name=account, rep=rep, period=period, account_id=account_id, target=target,
                    lang=lang, plan_id=plan_id or str(uuid.uuid4()))
    if path.suffix.lower() == ".xlsx":
        return generate_workbook(spec, settings, info, path, prefill=prefill)
    # another extension (.xlsm): the same workbook saved under that name
    return generate_workbook(spec, settings, info, path.with_suffix(".xlsx"), prefill=prefill).rename(path)


def simple_plan(path: Path, spec, settings, account: str, rep: str, amount: int = 30_000_000, **kw) -> Path:
    opps = [{"opp_id": "O1", "opportunity": f"{account} 更新案件", "amount": amount, "probability": 50,
             "stage": "negotiation", "expected_close": date(2026, 12, 10)}]
    return make_plan(path, spec, settings, account=account, rep=rep, Opportunities=opps, **kw)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(store: Store, table: str) -> int:
    with store.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(store.t[table])).scalar()


@pytest.fixture
def inbox(tmp_path, ctx):
    """Three plans (one in a subfolder), an .xls, a broken .xlsx, a PDF, an Excel lock file,
    a LibreOffice lock file, a temp file and a hidden folder with a plan in it."""
    spec, settings = ctx
    d = tmp_path / "inbox"
    simple_plan(d / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤", account_id="A001")
    simple_plan(d / "beta.xlsx", spec, settings, "ベータ商事", "鈴木", lang="en")
    simple_plan(d / "east" / "gamma.xlsm", spec, settings, "ガンマ電機", "佐藤")
    simple_plan(d / ".hidden" / "delta.xlsx", spec, settings, "デルタ物産", "高橋")
    (d / "old_plan.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    (d / "broken.xlsx").write_bytes(b"this is not a workbook")
    (d / "minutes.pdf").write_bytes(b"%PDF-1.4")
    (d / "~$alpha.xlsx").write_bytes(b"\0lock")
    (d / ".~lock.beta.xlsx#").write_text("lock")
    (d / "east" / "A1B2C3.tmp").write_bytes(b"tmp")
    return d


# -- discovery -------------------------------------------------------------------------------

def test_discover_walks_folders_and_sorts_files(inbox):
    found = discover([inbox])
    names = lambda ps: sorted(p.name for p in ps)  # noqa: E731
    assert names(found.plans) == ["alpha.xlsx", "beta.xlsx", "broken.xlsx", "gamma.xlsm"]
    assert names(found.wrong_format) == ["old_plan.xls"]
    assert names(found.ignored) == ["minutes.pdf"]
    # lock and temp files skipped; the hidden folder is not entered at all
    assert names(found.skipped) == [".~lock.beta.xlsx#", "A1B2C3.tmp", "~$alpha.xlsx"]
    assert not any("delta" in str(p) for p in found.plans + found.skipped)


def test_discover_takes_explicit_files_and_deduplicates(inbox):
    hidden = inbox / ".hidden" / "delta.xlsx"
    found = discover([inbox / "alpha.xlsx", hidden, inbox / "alpha.xlsx", inbox / "~$alpha.xlsx", inbox])
    assert [p.name for p in found.plans].count("alpha.xlsx") == 1
    assert hidden in found.plans  # named explicitly: taken even though hidden
    assert [p.name for p in found.skipped].count("~$alpha.xlsx") == 1  # a lock file never is


def test_a_named_path_that_is_no_file_gets_a_result(tmp_path):
    from test_check import odd_paths

    odd = odd_paths(tmp_path / "odd")
    found = discover([odd["loop"], odd["dangling"], odd["fifo"], odd["missing"]])
    assert [(p.name, kind) for p, kind in found.unreadable] == [
        ("loop.xlsx", "link-loop"), ("gone.xlsx", "broken-link"), ("pipe.xlsx", "fifo"), ("missing.xlsx", "missing")]
    assert not found.plans


def test_a_folder_walk_lists_what_it_skips_and_why(tmp_path, ctx):
    import socket

    spec, settings = ctx
    d = tmp_path / "in"
    simple_plan(d / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤")
    (d / "loop.xlsx").symlink_to(d / "loop.xlsx")
    (d / "gone.xlsx").symlink_to(d / "nowhere.xlsx")
    os.mkfifo(d / "pipe.xlsx")
    (tmp_path / "elsewhere").mkdir()
    (d / "linked").symlink_to(tmp_path / "elsewhere")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(d / "s.sock"))
        found = discover([d])
    finally:
        sock.close()
    assert [p.name for p in found.plans] == ["alpha.xlsx"]
    assert {p.name: found.reasons[p] for p in found.skipped} == {
        "loop.xlsx": "link-loop", "gone.xlsx": "broken-link", "pipe.xlsx": "fifo", "s.sock": "socket",
        "linked": "dir-link"}


def test_every_path_gets_a_result_in_collect_and_the_run_goes_on(tmp_path, ctx):
    from test_check import odd_paths

    spec, settings = ctx
    odd = odd_paths(tmp_path / "odd")
    good = simple_plan(tmp_path / "good" / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤")
    os.mkfifo(tmp_path / "good" / "pipe.xlsx")
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        s = collect_paths([odd["folder"], odd["loop"], good.parent, odd["dangling"], odd["missing"]], store, spec,
                          settings, jobs=1, now=NOW)
    got = {Path(f.path).name: (f.result, f.codes) for f in s.files}
    assert got == {"alpha.xlsx": ("stored", ("E-SECTION-EMPTY",)),
                   **{n: ("rejected", ("E-FILE-UNREADABLE",)) for n in ("loop.xlsx", "gone.xlsx", "missing.xlsx")}}
    assert s.skip_reasons == {str(tmp_path / "good" / "pipe.xlsx"): "fifo"} and s.exit_code == 1
    r = CliRunner().invoke(cli, ["collect", str(odd["loop"]), str(good.parent), "--db",
                                 f"sqlite:///{tmp_path / 'c.db'}", "--jobs", "1", "--format", "json"])
    assert r.exit_code == 1, r.output
    data = __import__("json").loads(r.output)
    assert data["skipped_reasons"] == {str(tmp_path / "good" / "pipe.xlsx"): "fifo"}
    assert [(Path(f["path"]).name, f["result"]) for f in data["files"]] == [("loop.xlsx", "rejected"),
                                                                             ("alpha.xlsx", "stored")]


_name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\0")


@hsettings(max_examples=150, deadline=None)
@given(stem=st.text(_name_chars, min_size=1, max_size=20),
       suffix=st.sampled_from(PLAN_SUFFIXES + WRONG_FORMAT_SUFFIXES + (".pdf", ".csv", ".docx", "", ".XLSX", ".Xls")),
       prefix=st.sampled_from(["", "~$", ".~lock.", "."]))
def test_every_file_name_lands_in_exactly_one_bucket(tmp_path_factory, stem, suffix, prefix):
    name = prefix + stem + suffix
    if name in (".", "..") or len(name.encode()) > 200:
        return
    d = tmp_path_factory.mktemp("names")
    p = d / name
    try:
        p.write_bytes(b"x")
    except OSError:
        return
    found = discover([d])
    buckets = [b for b in (found.plans, found.wrong_format, found.ignored, found.skipped) if p in b]
    assert len(buckets) == 1
    if name.startswith(("~$", ".")) or name.lower().endswith(".tmp"):
        assert p in found.skipped
    elif suffix.lower() in PLAN_SUFFIXES and not is_lock_or_temp(name):
        assert p in found.plans
    elif suffix.lower() in WRONG_FORMAT_SUFFIXES and not is_lock_or_temp(name):
        assert p in found.wrong_format


# -- collecting --------------------------------------------------------------------------------

def by_name(summary) -> dict[str, object]:
    return {Path(f.path).name: f for f in summary.files}


def test_collect_stores_plans_rejects_bad_files_and_is_idempotent(inbox, db_url, ctx):
    spec, settings = ctx
    before = {p: sha(p) for p in inbox.rglob("*") if p.is_file()}
    with Store(db_url, spec) as store:
        s = collect_paths([inbox], store, spec, settings, jobs=1, now=NOW)
        f = by_name(s)
        assert {n: r.result for n, r in f.items()} == {
            "alpha.xlsx": "stored", "beta.xlsx": "stored", "broken.xlsx": "rejected",
            "gamma.xlsm": "stored", "old_plan.xls": "rejected"}
        assert f["old_plan.xls"].codes == ("E-FILE-FORMAT",)
        assert f["broken.xlsx"].codes and f["broken.xlsx"].codes[0].startswith("E-")
        assert (f["alpha.xlsx"].account_name, f["alpha.xlsx"].account_id, f["alpha.xlsx"].rep,
                f["alpha.xlsx"].period, f["alpha.xlsx"].version_no) == ("アルファ工業", "A001", "佐藤", PERIOD, 1)
        assert s.results == {"stored": 3, "superseded": 0, "unchanged": 0, "conflict": 0, "rejected": 2}
        assert s.plans_stored == 3
        assert len(s.ignored) == 1 and len(s.skipped) == 3
        assert s.issue_counts["error"] >= 2
        assert s.exit_code == 1

        ledger = {Path(r["path"]).name: r["result"] for r in store.files()}
        assert ledger == {"alpha.xlsx": "stored", "beta.xlsx": "stored", "gamma.xlsm": "stored",
                          "old_plan.xls": "rejected", "broken.xlsx": "rejected"}
        assert sorted(v["account_name"] for v in store.current_versions(PERIOD)) == [
            "アルファ工業", "ガンマ電機", "ベータ商事"]
        fmt = [i for i in store.issues() if i["code"] == "E-FILE-FORMAT"]
        assert [Path(i["source_file"]).name for i in fmt] == ["old_plan.xls"]

        counts = {t: count(store, t) for t in ("files", "plan_versions", "opportunities", "issues")}
        again = collect_paths([inbox], store, spec, settings, jobs=1, now=NOW)
        assert again.results["unchanged"] == 5 and again.plans_stored == 0
        assert {t: count(store, t) for t in counts} == counts  # nothing new stored
        # the ledger still knows the rejected files: the inbox is still not clean
        assert again.exit_code == 1
        assert {Path(f.path).name for f in again.failed} == {"old_plan.xls", "broken.xlsx"}
        # unchanged files carry their context from the ledger
        assert by_name(again)["alpha.xlsx"].account_name == "アルファ工業"
    # the user's files are only read
    assert {p: sha(p) for p in before} == before


def test_known_files_are_skipped_before_any_parsing(inbox, ctx, tmp_path, monkeypatch):
    spec, settings = ctx
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        collect_paths([inbox], store, spec, settings, jobs=1, now=NOW)

        def boom(path):
            raise AssertionError(f"parsed again: {path}")

        monkeypatch.setattr(collect_mod, "_check_one", boom)
        s = collect_paths([inbox], store, spec, settings, jobs=1, now=NOW)
    assert s.results["unchanged"] == 5


def test_a_changed_plan_gets_a_new_current_version_and_keeps_history(tmp_path, ctx, db_url):
    spec, settings = ctx
    pid = str(uuid.uuid4())
    path = tmp_path / "in" / "alpha.xlsx"
    simple_plan(path, spec, settings, "アルファ工業", "佐藤", amount=30_000_000, plan_id=pid)
    with Store(db_url, spec) as store:
        first = collect_paths([path.parent], store, spec, settings, jobs=1, now=NOW)
        assert first.files[0].result == "stored" and first.exit_code == 0
        simple_plan(path, spec, settings, "アルファ工業", "佐藤", amount=45_000_000, plan_id=pid)
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
        second = collect_paths([path.parent], store, spec, settings, jobs=1, now=NOW)
        f = second.files[0]
        assert (f.result, f.plan_id, f.version_no) == ("stored", pid, 2)
        current = store.current_versions(PERIOD)
        assert [(v["plan_id"], v["version_no"], v["plan_total"]) for v in current] == [(pid, 2, 45_000_000)]
        history = store.versions(PERIOD, all_versions=True)
        assert sorted((v["version_no"], v["plan_total"], v["is_current"]) for v in history) == [
            (1, 30_000_000, False), (2, 45_000_000, True)]


def test_two_reps_planning_one_account_is_a_conflict(tmp_path, ctx, db_url):
    spec, settings = ctx
    d = tmp_path / "in"
    simple_plan(d / "a_sato.xlsx", spec, settings, "アルファ工業", "佐藤", account_id="A001")
    with Store(db_url, spec) as store:
        assert collect_paths([d], store, spec, settings, jobs=1, now=NOW).exit_code == 0
        simple_plan(d / "b_suzuki.xlsx", spec, settings, "アルファ工業 ", "鈴木", account_id="A001")
        s = collect_paths([d], store, spec, settings, jobs=1, now=NOW)
        f = by_name(s)
        assert f["a_sato.xlsx"].result == "unchanged"
        assert f["b_suzuki.xlsx"].result == "conflict"
        assert "E-CONFLICT" in f["b_suzuki.xlsx"].codes
        assert f["b_suzuki.xlsx"].conflict_with == store.current_versions(PERIOD)[0]["plan_id"]
        assert s.results["conflict"] == 1 and s.exit_code == 1
        assert [v["rep"] for v in store.current_versions(PERIOD)] == ["佐藤"]
        assert "E-CONFLICT" in render_summary(s, "en")


def test_the_same_content_twice_in_one_run_is_stored_once(tmp_path, ctx):
    spec, settings = ctx
    a = simple_plan(tmp_path / "in" / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤")
    (tmp_path / "in" / "copy").mkdir()
    b = tmp_path / "in" / "copy" / "alpha (1).xlsx"
    b.write_bytes(a.read_bytes())
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        s = collect_paths([tmp_path / "in"], store, spec, settings, jobs=1, now=NOW)
        assert [(Path(f.path).name, f.result) for f in s.files] == [("alpha.xlsx", "stored"),
                                                                     ("alpha (1).xlsx", "unchanged")]
        assert count(store, "files") == 1 and count(store, "plan_versions") == 1
    assert s.exit_code == 0


# -- roster ----------------------------------------------------------------------------------

ROSTER = "担当営業,顧客名,顧客コード,売上目標\n佐藤,アルファ工業,A001,10000000\n鈴木,ベータ商事,,5000000\n" \
         "佐藤,ガンマ電機,,1000000\n高橋,デルタ物産,D004,2000000\n"


def test_roster_lists_missing_submissions(inbox, tmp_path, ctx, db_url):
    spec, settings = ctx
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with Store(db_url, spec) as store:
        s = collect_paths([inbox], store, spec, settings, roster=roster, period="fy2026-q3", jobs=1, now=NOW)
    assert s.period == PERIOD
    assert [(m.rep, m.account_name, m.account_id, m.period, m.roster_row) for m in s.missing] == [
        ("高橋", "デルタ物産", "D004", PERIOD, 5)]
    iss = s.missing[0].issue(str(roster))
    assert (iss.code, iss.severity, iss.row) == ("W-MISSING-SUBMISSION", "warning", 5)
    assert "デルタ物産" in render_summary(s, "ja")


def test_roster_period_defaults_to_the_collected_plans(inbox, tmp_path, ctx):
    spec, settings = ctx
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        s = collect_paths([inbox], store, spec, settings, roster=roster, jobs=1, now=NOW)
        assert s.period == PERIOD and len(s.missing) == 1
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(CollectError):
            collect_paths([empty], store, spec, settings, roster=roster, jobs=1)


def test_missing_submissions_matching_rules():
    e = lambda n, rep, name, acc=None: RosterEntry(row=n, rep=rep, account_name=name, account_id=acc)  # noqa: E731
    roster = [e(2, "佐藤", "アルファ工業", "A001"), e(3, "鈴木", "ベータ商事"), e(4, "田中", "ベータ商事"),
              e(5, "高橋", "ガンマ電機")]
    received = [
        # an ID wins over a differently written name
        {"account_id": "a001", "account_name": "アルファ工業株式会社", "rep": "佐藤"},
        # full-width / spaces / case do not matter; the roster's rep covers exactly their line
        {"account_id": None, "account_name": "ベータ　商事", "rep": "鈴木"},
        # a rep the roster does not name for the account covers its remaining line (hand-over)
        {"account_id": None, "account_name": "ガンマ電機", "rep": "新人"},
    ]
    missing = missing_submissions(roster, received, PERIOD)
    assert [(m.roster_row, m.rep) for m in missing] == [(4, "田中")]
    assert [m.roster_row for m in missing_submissions(roster, [], PERIOD)] == [2, 3, 4, 5]


# -- parallel, concurrent, command line ----------------------------------------------------------

def test_parallel_collect_matches_serial(inbox, tmp_path, ctx):
    spec, settings = ctx
    for i in range(4):
        simple_plan(inbox / "more" / f"p{i}.xlsx", spec, settings, f"顧客{i}", "山本", amount=(i + 1) * 1_000_000)
    results = {}
    for jobs in (1, 2):
        with Store(f"sqlite:///{tmp_path / f'j{jobs}.db'}", spec) as store:
            s = collect_paths([inbox], store, spec, settings, jobs=jobs, now=NOW)
            results[jobs] = ({Path(f.path).name: (f.result, f.counts["error"], f.codes) for f in s.files},
                             sorted((v["account_name"], v["plan_total"]) for v in store.current_versions()))
            assert s.jobs == jobs
    assert results[1] == results[2]
    assert len(results[2][1]) == 7


def _run_collect(folder: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([XLTOOLS, "collect", str(folder), "--db", url, "--jobs", "1", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _concurrent(folder: Path, url: str) -> list[tuple[int, str, str]]:
    procs = [_run_collect(folder, url), _run_collect(folder, url)]
    return [(p.wait(timeout=180), *p.communicate()) for p in procs]


@pytest.fixture
def plans_only(tmp_path, ctx):
    spec, settings = ctx
    d = tmp_path / "plans"
    for i in range(6):
        simple_plan(d / f"p{i}.xlsx", spec, settings, f"顧客{i}", f"担当{i % 2}")
    return d


def test_two_concurrent_collects_on_postgresql_store_every_plan_once(plans_only, pg_url, ctx):
    spec, _ = ctx
    outcomes = _concurrent(plans_only, pg_url)
    assert [rc for rc, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
    with Store(pg_url, spec) as store:
        assert count(store, "files") == 6 and count(store, "plan_versions") == 6 and count(store, "plans") == 6
        assert len(store.current_versions()) == 6


def test_two_concurrent_collects_on_sqlite_wait_or_fail_clearly(plans_only, tmp_path, ctx):
    spec, _ = ctx
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    outcomes = _concurrent(plans_only, url)
    for rc, out, err in outcomes:
        assert "Traceback" not in err
        assert rc == 0 or ("database" in err.lower() or "データベース" in err), err
    assert any(rc == 0 for rc, _, _ in outcomes)
    with Store(url, spec) as store:
        assert count(store, "files") == 6 and count(store, "plan_versions") == 6


def test_cli_collect_exit_codes_and_json(inbox, tmp_path, ctx):
    spec, settings = ctx
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    good = tmp_path / "good"
    simple_plan(good / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤")
    r = runner.invoke(cli, ["collect", str(good), "--db", url, "--jobs", "1", "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "Stored" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["collect", str(inbox), "--db", url, "--jobs", "1", "--format", "json"])
    assert r.exit_code == 1
    import json

    data = json.loads(r.output)
    assert data["results"]["rejected"] == 2 and data["exit_code"] == 1
    assert {Path(f["path"]).name for f in data["files"] if f["result"] == "rejected"} == {"old_plan.xls",
                                                                                       "broken.xlsx"}
    r = runner.invoke(cli, ["collect", str(tmp_path / "nope"), "--db", url, "--format", "json"])
    assert r.exit_code == 1  # the path gets a result: rejected, no such file
    assert [(f["result"], f["codes"]) for f in json.loads(r.output)["files"]] == [("rejected", ["E-FILE-UNREADABLE"])]
    r = runner.invoke(cli, ["collect", str(good), "--db", url, "--roster", str(good / "alpha.xlsx")])
    assert r.exit_code == 3 and "Traceback" not in r.output  # not a roster: a clear error


def test_coverage_is_also_judged_by_the_reps_historical_win_rate(tmp_path, ctx):
    spec, settings = ctx
    closed = [{"opportunity": "受注", "amount": 1_000_000, "stage": "won", "expected_close": date(2026, 8, 1)},
              {"opportunity": "失注", "amount": 3_000_000, "stage": "lost", "expected_close": date(2026, 8, 20)}]
    make_plan(tmp_path / "q2" / "alpha_q2.xlsx", spec, settings, account="アルファ工業", rep="佐藤",
              period="FY2026Q2", Opportunities=closed)
    with Store(f"sqlite:///{tmp_path / 'x.db'}", spec) as store:
        collect_paths([tmp_path / "q2"], store, spec, settings, jobs=1, now=NOW)
        # won 1M / (1M + 3M) = 25%: the plan needs 4x coverage, 3.5x is not enough
        simple_plan(tmp_path / "q3" / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤", amount=35_000_000)
        simple_plan(tmp_path / "q3" / "beta.xlsx", spec, settings, "ベータ商事", "佐藤", amount=45_000_000)
        collect_paths([tmp_path / "q3"], store, spec, settings, jobs=1, now=NOW)
        hits = {(Path(i["source_file"]).name, i["raw"]) for i in store.issues(PERIOD) if i["code"] == "W-WIN-RATE-COVERAGE"}
    assert hits == {("alpha.xlsx", "3.5")}


# -- a file that kills its reader -----------------------------------------------------

#: collect_paths as if the safety checks had missed a file that kills python-calamine
CRASH_COLLECT = """
import json, sys
from datetime import datetime
import xltools.workbook.safety
from xltools.collect import collect_paths
from xltools.spec.config import Settings
from xltools.workbook.sheetscan import SheetScan
from xltools.spec.spec import load_spec
from xltools.store.engine import Store

xltools.workbook.safety.check_sheet_size = lambda *a, **k: SheetScan()  # the guard misses the crashing file
folder, url, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings()
spec = settings.apply(load_spec())
with Store(url, spec) as store:
    s = collect_paths([folder], store, spec, settings, jobs=jobs, now=datetime(2026, 10, 15, 12, 0))
print(json.dumps({f.path.rsplit("/", 1)[-1]: [f.result, list(f.codes)] for f in s.files}))
"""


@pytest.fixture
def crash_inbox(tmp_path, ctx):
    """Eight plans, a plan with a cell in column ZZZZZZ (python-calamine aborts on it), a
    truncated workbook and a workbook that is no plan."""
    from test_check import _not_a_plan, _six_letter_column, _truncated

    spec, settings = ctx
    d = tmp_path / "inbox"
    for i in range(8):
        simple_plan(d / f"p{i}.xlsx", spec, settings, f"顧客{i}", "山本", amount=(i + 1) * 1_000_000)
    base = simple_plan(tmp_path / "src.xlsx", spec, settings, "クラッシュ工業", "佐藤")
    _six_letter_column(base, d / "p3_crash.xlsx")
    _truncated(base, d / "p5_truncated.xlsx")
    _not_a_plan(base, d / "p6_not_a_plan.xlsx")
    return d


def _crash_collect(folder: Path, url: str, jobs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    res = subprocess.run([sys.executable, "-c", CRASH_COLLECT, str(folder), url, str(jobs)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return __import__("json").loads(res.stdout)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_that_kills_its_reader_costs_only_that_file_and_is_read_again_next_time(crash_inbox, tmp_path,
                                                                                        ctx, jobs):
    spec, settings = ctx
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    got = _crash_collect(crash_inbox, url, jobs)
    alone = tmp_path / "good_only"
    alone.mkdir()
    for i in range(8):
        shutil.copy(crash_inbox / f"p{i}.xlsx", alone)
    with Store(f"sqlite:///{tmp_path / 'good.db'}", spec) as store:
        without_bad = collect_paths([alone], store, spec, settings, jobs=jobs, now=NOW)
    good = {Path(f.path).name: [f.result, list(f.codes)] for f in without_bad.files}
    assert set(good) == {f"p{i}.xlsx" for i in range(8)}
    assert got == {**good, "p3_crash.xlsx": ["rejected", ["E-INTERNAL"]],
                   "p5_truncated.xlsx": ["rejected", ["E-FILE-UNREADABLE"]],
                   "p6_not_a_plan.xlsx": ["rejected", ["E-NOT-A-PLAN"]]}
    with Store(url, spec) as store:
        assert len(store.current_versions()) == 8
        # the next run reads the file again (unchanged bytes), now with the guard in place
        again = collect_paths([crash_inbox], store, spec, settings, jobs=jobs, now=NOW)
        files = {Path(i["path"]).name: i["detail"] for i in store.files()}
    after = {Path(f.path).name: (f.result, f.codes) for f in again.files}
    assert after["p3_crash.xlsx"] == ("rejected", ("E-FILE-UNREADABLE",))
    assert after["p5_truncated.xlsx"] == ("unchanged", ("E-FILE-UNREADABLE",))
    assert files["p3_crash.xlsx"] == "E-FILE-UNREADABLE" and len(files) == 11
