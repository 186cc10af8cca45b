"""The shared options are the same everywhere: --db (env XLTOOLS_DB), --config, --lang and
--format json wherever a command prints results for scripts."""
import json

import click
from click.testing import CliRunner

from xltools.cli import cli

#: commands that only write a workbook (a file, or the book open in Excel) and say where
WRITES_A_FILE = {"report", "cases export", "live map"}


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def _option(cmd: click.Command, name: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and name in p.opts), None)


def test_every_database_option_reads_xltools_db():
    with_db = [(n, _option(c, "--db")) for n, c in _commands(cli) if _option(c, "--db")]
    assert {n for n, _ in with_db} >= {"check", "collect", "export", "generate", "history", "report",
                                       "cases search", "cases show", "cases export"}
    assert all(o.envvar == "XLTOOLS_DB" and o.metavar == "URL" for _, o in with_db)


def test_every_command_takes_config_and_lang():
    missing = [n for n, c in _commands(cli) if n != "spec" and not (_option(c, "--config") and _option(c, "--lang"))]
    assert missing == []


def test_every_command_that_prints_results_can_print_json():
    missing = [n for n, c in _commands(cli) if n not in WRITES_A_FILE
               and not (_option(c, "--format") and "json" in _option(c, "--format").type.choices)]
    assert missing == []


def test_generate_one_plan_as_json(tmp_path):
    out = tmp_path / "p.xlsx"
    r = CliRunner().invoke(cli, ["generate", "--account", "ACME", "--rep", "山田", "--period", "FY2026Q3",
                                 "-o", str(out), "--format", "json"], env={"XLTOOLS_NOW": "2026-11-20T09:00:00+09:00"})
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"paths": [str(out)], "errors": [], "note": None} and out.is_file()


def test_check_reads_the_database_from_xltools_db(tmp_path):
    r = CliRunner().invoke(cli, ["generate", "--account", "ACME", "--rep", "山田", "--period", "FY2026Q3",
                                 "-o", str(tmp_path / "p.xlsx")], env={"XLTOOLS_NOW": "2026-11-20T09:00:00+09:00"})
    assert r.exit_code == 0
    missing_db = tmp_path / "none.db"
    r = CliRunner().invoke(cli, ["check", str(tmp_path / "p.xlsx"), "--lang", "en"],
                           env={"XLTOOLS_DB": f"sqlite:///{missing_db}", "XLTOOLS_NOW": "2026-11-20T09:00:00+09:00"})
    # the win-rate lookup went to XLTOOLS_DB: a missing database is reported, not ignored
    assert r.exit_code == 3 and "No database at" in r.output and not missing_db.exists()
