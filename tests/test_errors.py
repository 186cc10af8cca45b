"""Errors are records: a stable code, a bilingual template and parameters, rendered in the
language of the command."""
import json

from click.testing import CliRunner

from xltools.cli import cli
from xltools.errors import EXIT_FAILED, EXIT_USAGE, UsageError, XltoolsError
from xltools.messages import Label


class Busy(XltoolsError):
    code = "busy"
    template = Label("{url} は使用中です（{n} 秒）", "{url} is busy ({n} s)")


def test_a_template_is_rendered_in_the_asked_language_with_its_parameters():
    e = Busy(url="sqlite:///a.db", n=30)
    assert e.message("ja") == "sqlite:///a.db は使用中です（30 秒）"
    assert e.message("en") == "sqlite:///a.db is busy (30 s)"
    assert str(e) == "sqlite:///a.db は使用中です（30 秒）\nsqlite:///a.db is busy (30 s)"
    assert e.to_dict("en") == {"code": "busy", "message": "sqlite:///a.db is busy (30 s)",
                               "params": {"url": "sqlite:///a.db", "n": 30}}
    assert e.exit_code == EXIT_FAILED and UsageError("x").exit_code == EXIT_USAGE


def test_a_ready_made_text_is_never_reformatted():
    # braces typed by a user (a file name) must not be taken for template fields
    e = XltoolsError(Label("{不明}.xlsx を開けません", "cannot open {x}.xlsx"))
    assert e.message("ja") == "{不明}.xlsx を開けません" and e.message("en") == "cannot open {x}.xlsx"
    assert XltoolsError("plain {text}").message("en") == "plain {text}"


def test_a_missing_parameter_stays_visible_instead_of_failing():
    assert Busy(url="u").message("en") == "u is busy ({n} s)"


def test_the_cli_renders_an_error_in_the_language_of_lang(tmp_path):
    db = f"sqlite:///{tmp_path / 'none.db'}"
    r = CliRunner().invoke(cli, ["history", "--db", db, "--lang", "en", "ACME"])
    assert r.exit_code == EXIT_FAILED
    assert "Run xltools collect first" in r.output and "先に" not in r.output
    r = CliRunner().invoke(cli, ["history", "--db", db, "--lang", "ja", "ACME"])
    assert "先に xltools collect" in r.output and "Run xltools" not in r.output
    r = CliRunner().invoke(cli, ["history", "--db", db, "ACME"])  # no language asked: both
    assert "先に xltools collect" in r.output and "Run xltools collect first" in r.output


def test_json_errors_carry_code_message_and_parameters(tmp_path):
    r = CliRunner().invoke(cli, ["collect", str(tmp_path), "--db", str(tmp_path / "x.txt"),
                                 "--format", "json", "--lang", "en"])
    error = json.loads(r.output)["error"]
    assert r.exit_code == EXIT_FAILED and error["code"] == "database"
    assert error["message"].startswith("Not a database URL") and "\n" not in error["message"]
