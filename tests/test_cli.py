"""Every command shares one exit-code contract -- 0 all good, 1 data problems found,
2 usage error, 3 the tool could not do its job -- and under ``--format json`` its
errors are JSON too (``{"error": {"code", "message"}}``); never a traceback."""
from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from test_collect import simple_plan

from xltools.cli import cli
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    good = simple_plan(d / "in" / "alpha.xlsx", SPEC, SETTINGS, "アルファ工業", "佐藤",
                       fields={"plan_date": date(2026, 7, 1)})
    (d / "broken.xlsx").write_bytes(b"not a workbook")
    (d / "bad.toml").write_text("[thresholds]\ncoverage_low = 'x'\n", encoding="utf-8")
    db = f"sqlite:///{d / 'x.db'}"
    assert CliRunner().invoke(cli, ["collect", str(d / "in"), "--db", db, "--jobs", "1"]).exit_code == 0
    return {"dir": d, "good": good, "broken": d / "broken.xlsx", "config": d / "bad.toml", "db": db}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


CASES = [
    # (name, arguments, exit code, JSON error code or None)
    ("check: data problems", lambda w: ["check", w["broken"]], 1, None),
    ("check: no file", lambda w: ["check"], 2, "usage"),
    ("check: unknown option", lambda w: ["check", w["good"], "--nope"], 2, "usage"),
    ("check: bad settings file", lambda w: ["check", w["good"], "--config", w["config"]], 3, "config-bad-value"),
    ("collect: bad --period", lambda w: ["collect", w["good"], "--db", w["db"], "--period", "FY20X"], 2, "usage"),
    ("collect: no database URL", lambda w: ["collect", w["good"], "--db", "notascheme"], 3, "database"),
    ("collect: in-memory database", lambda w: ["collect", w["good"], "--db", "sqlite://"], 3, "database"),
    ("report: not .xlsx", lambda w: ["report", "--db", w["db"], "-o", w["dir"] / "r.xls"], 2, "usage"),
    ("report: no database", lambda w: ["report", "--db", f"sqlite:///{w['dir'] / 'none.db'}",
                                       "-o", w["dir"] / "r.xlsx"], 3, "database"),
    ("export: unknown table", lambda w: ["export", "opportunitiez", "--db", w["db"]], 2, "usage"),
    ("history: unknown account", lambda w: ["history", "存在しない商事", "--db", w["db"]], 3, "failed"),
    ("cases: bad scope", lambda w: ["cases", "search", "在庫", "--db", w["db"], "--scope", "private"], 2, "usage"),
    ("cases: no such case", lambda w: ["cases", "show", "99999", "--db", w["db"]], 3, "not-found"),
    ("generate: no rep", lambda w: ["generate", "--account", "a", "--period", "FY2026Q3"], 2, "usage"),
    ("spec: bad settings file", lambda w: ["spec", "--config", w["config"]], 3, "config-bad-value"),
]


@pytest.mark.parametrize("name, args, code, json_code", CASES, ids=[c[0] for c in CASES])
def test_exit_codes_and_json_errors(world, name, args, code, json_code):
    argv = args(world)
    r = run(*argv)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    if json_code is None:
        return
    has_format = argv[0] in ("check", "collect", "export", "history", "spec") or argv[:2] == ["cases", "search"] \
        or argv[:2] == ["cases", "show"]
    if not has_format:
        return
    r = run(*argv, "--format", "json")
    assert r.exit_code == code
    err = json.loads(r.stdout)["error"]
    assert err["code"] == json_code and err["message"] and set(err) <= {"code", "message", "params"}


def test_all_good_is_zero(world):
    assert run("check", world["good"]).exit_code in (0, 1)  # the plan has validation errors of its own
    assert run("export", "plans", "--db", world["db"]).exit_code == 0
    assert run("history", "アルファ工業", "--db", world["db"]).exit_code == 0
    assert run("spec").exit_code == 0 and run("--help").exit_code == 0


def test_an_internal_error_is_a_message_to_report_and_fails_under_ci(world, monkeypatch):
    import xltools.reports.export

    def bug(*a, **k):
        raise KeyError("columns")

    monkeypatch.setattr(xltools.reports.export, "export_records", bug)
    monkeypatch.delenv("CI", raising=False)
    r = run("export", "plans", "--db", world["db"])
    assert r.exit_code == 3 and "please report" in r.output and "KeyError" in r.output
    assert "Traceback" not in r.output
    r = run("export", "plans", "--db", world["db"], "--format", "json")
    assert r.exit_code == 3 and json.loads(r.stdout)["error"]["code"] == "internal"
    monkeypatch.setenv("CI", "1")
    r = run("export", "plans", "--db", world["db"])
    assert isinstance(r.exception, KeyError)
