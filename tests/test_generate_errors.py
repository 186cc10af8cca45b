"""GenerateError's cases: a stable code and a Japanese and English message each, through
the library and through the ``generate`` command (``--lang``, ``--format json``)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xltools.cli import cli
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.workbook.generate import GenerateError, PlanInfo, build_workbook, generate_workbook

SPEC = load_spec()


def info(**kw) -> PlanInfo:
    return PlanInfo(**{"account_name": "A社", "rep": "山田", "period": "FY2026Q3", **kw})


@pytest.mark.parametrize("kw, code, en, ja", [
    (dict(rep="  "), "generate-empty", "rep must not be empty", "rep を空にはできません"),
    (dict(lang="fr"), "generate-unknown-language", "lang must be one of ja, en, got 'fr'",
     "言語は ja, en のいずれかにしてください（指定: 'fr'）"),
    (dict(target=-5), "generate-bad-target", "target must be a non-negative whole number of yen, got -5",
     "売上目標は 0 以上の円の整数にしてください（指定: -5）"),
    (dict(generated_at="yesterday"), "generate-bad-time", "generated_at is not an ISO date-time: 'yesterday'",
     "generated_at が ISO 形式の日時ではありません: 'yesterday'"),
])
def test_codes_and_both_languages(kw, code, en, ja):
    with pytest.raises(GenerateError) as e:
        build_workbook(SPEC, Settings(), info(**kw))
    assert (e.value.code, e.value.message("en"), e.value.message("ja")) == (code, en, ja)
    assert e.value.exit_code == 2 and e.value.to_dict("en")["code"] == code


def test_bad_period_and_missing_folder(tmp_path):
    with pytest.raises(GenerateError) as e:
        build_workbook(SPEC, Settings(), info(period="next year"))
    assert e.value.code == "generate-bad-period" and e.value.message("en").startswith("not a fiscal period: ")
    with pytest.raises(GenerateError) as e:
        generate_workbook(SPEC, Settings(), info(), tmp_path / "nowhere" / "x.xlsx")
    assert e.value.code == "generate-no-folder"
    assert e.value.message("en") == f"{tmp_path / 'nowhere'}: output folder does not exist"
    assert e.value.message("ja") == f"{tmp_path / 'nowhere'}: 出力フォルダがありません"


def test_through_the_command(tmp_path):
    runner = CliRunner()
    argv = ["generate", "--account", " ", "--rep", "R", "--period", "FY2026Q3", "-o", str(tmp_path / "x.xlsx")]
    r = runner.invoke(cli, [*argv, "--lang", "en", "--format", "json"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    err = json.loads(r.stdout)["error"]
    assert (err["code"], err["message"]) == ("generate-empty", "account_name must not be empty")
    r = runner.invoke(cli, [*argv, "--lang", "ja"])
    assert r.exit_code == 2 and "account_name を空にはできません" in r.output and "must not" not in r.output
    assert not (tmp_path / "x.xlsx").exists()
