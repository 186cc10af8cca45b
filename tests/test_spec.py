import copy
import json

import pytest
import yaml
from click.testing import CliRunner

from xltools.cli import cli
from xltools.spec.config import ConfigError, load_settings
from xltools.spec.periods import Period, fiscal_quarter_of, parse_period
from xltools.spec.spec import SpecError, build_spec, default_spec_path, load_spec

RAW = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))


def test_contract_tables_and_keys():
    spec = load_spec()
    assert [t.name for t in spec.tables] == [
        "Financials", "OurBusiness", "Initiatives", "Opportunities", "Contacts", "Activities",
        "Asks", "SelectionScores", "KPIs", "Reviews", "SuccessCases"]
    keys = {f.key for f in spec.fields}
    for k in ("account_name", "account_id", "rep", "team_members", "period", "plan_date", "aps_date",
              "amount_unit", "industry", "sales_target", "plan_total", "weighted_total",
              "coverage_ratio", "coverage_verdict", "org_updated", "selection_score", "tier"):
        assert k in keys
    assert spec.table("Opportunities").column("amount").required
    assert spec.table("Contacts").column("stance").choices == "stance"
    assert spec.choices("stance").labels("ja") == ["好意的", "中立", "アンチ", "不明"]
    assert spec.choices("stage").labels("ja") == ["仮説", "提案", "交渉", "内示", "受注", "失注"]
    assert [s.key for s in spec.sections if s.required] == [
        "overview", "strategy", "sales_plan", "relationship_map", "activity_plan"]


def _broken(mutate):
    data = copy.deepcopy(RAW)
    mutate(data)
    with pytest.raises(SpecError) as e:
        build_spec(data)
    return str(e.value)


def test_malformed_spec_names_the_bad_entry():
    def bad_type(d):
        d["sections"][2]["tables"][0]["columns"][5]["type"] = "money"
    msg = _broken(bad_type)
    assert "Opportunities" in msg and "amount" in msg and "money" in msg

    def bad_choice(d):
        d["sections"][3]["tables"][0]["columns"][6]["choices"] = "attitude"
    assert "stance" in _broken(bad_choice) and "attitude" in _broken(bad_choice)

    def cell_like_key(d):
        d["sections"][0]["groups"][0]["fields"][0]["key"] = "ab12"
    assert "cell reference" in _broken(cell_like_key)

    def dup_key(d):
        d["sections"][1]["groups"][0]["fields"][0]["key"] = "account_name"
    assert "duplicate field key" in _broken(dup_key)

    def bad_source(d):
        d["sections"][2]["tables"][0]["columns"][12]["source"] = "Contacts.nickname"
    assert "Contacts.nickname" in _broken(bad_source)

    def missing_label(d):
        del d["sections"][3]["tables"][0]["columns"][1]["label"]["en"]
    assert "Contacts > name" in _broken(missing_label)


def test_periods():
    p = parse_period("FY2026Q3")
    assert (p.start.isoformat(), p.end.isoformat()) == ("2026-10-01", "2027-01-01")
    assert parse_period("ＦＹ２０２６").end.isoformat() == "2027-04-01"
    assert parse_period("2026年度第1四半期") == Period(2026, 1)
    assert parse_period("FY2026Q1", start_month=1).start.isoformat() == "2026-01-01"
    from datetime import date
    assert fiscal_quarter_of(date(2027, 2, 10)) == Period(2026, 4)
    assert fiscal_quarter_of(date(2026, 4, 1)) == Period(2026, 1)
    assert str(parse_period("FY2026Q4").next()) == "FY2027Q1"


def test_settings_file(tmp_path):
    p = tmp_path / "xltools.toml"
    p.write_text('fiscal_year_start_month = 1\n[thresholds]\ncoverage_low = 2.5\n'
                 '[stage_probabilities]\nproposal = 25\n'
                 '[[industries]]\nkey="semis"\nja="半導体"\nen="Semiconductors"\n', encoding="utf-8")
    s = load_settings(p)
    assert s.fiscal_year_start_month == 1 and s.thresholds.coverage_low == 2.5
    spec = s.apply(load_spec())
    assert spec.choices("stage").get("proposal").probability == 25
    assert spec.choices("industry").labels("ja") == ["半導体"]
    assert spec.choices("selection_criterion").get("company_size").weight == 20
    p.write_text("[thresholds]\ncoverage_lo = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="coverage_lo"):
        load_settings(p)


def test_spec_json_shape():
    out = CliRunner().invoke(cli, ["spec", "--format", "json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["template"] == "account_plan" and d["version"] == "1.0"
    f = {x["key"]: x for x in d["fields"]}
    assert f["account_name"]["label"] == {"ja": "顧客名", "en": "Account name"}
    assert f["account_name"]["required"] is True and f["account_name"]["section"] == "overview"
    cols = {c["key"]: c for c in d["tables"]["Contacts"]["columns"]}
    assert [c["ja"] for c in cols["stance"]["choices"]] == ["好意的", "中立", "アンチ", "不明"]


def test_every_command_has_help():
    runner = CliRunner()

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            assert cmd.help, f"{prefix + [name]} has no help"
            res = runner.invoke(cli, prefix + [name, "--help"])
            assert res.exit_code == 0, res.output
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + [name])
    walk(cli, [])


def test_bad_config_is_a_clean_error(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("language = 'fr'\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["spec", "--config", str(p)])
    assert res.exit_code == 3 and "language" in res.output and "Traceback" not in res.output


def test_a_broken_spec_is_an_error_class_with_a_code_parameters_and_both_languages():
    data = copy.deepcopy(RAW)
    data["sections"][2]["tables"][0]["columns"][5]["type"] = "money"
    with pytest.raises(SpecError) as e:
        build_spec(data)
    err = e.value
    assert err.code == "spec-type" and err.params["type"] == "money"
    assert "'money' is not one of" in err.message("en") and "のいずれでもありません" in err.message("ja")
    assert "のいずれでもありません" not in err.message("en") and "is not one of" not in err.message("ja")
    assert err.to_dict("en")["params"]["where"] == err.params["where"]
    data = copy.deepcopy(RAW)
    del data["meta_keys"]
    with pytest.raises(SpecError) as e:
        build_spec(data)
    assert e.value.code == "spec-missing-key" and e.value.message("en") == "spec: missing top-level key 'meta_keys'"
    assert e.value.message("ja") == "spec: 最上位のキー 'meta_keys' がありません"


@pytest.mark.parametrize("toml, code, en, ja", [
    ("language = 'fr'\n", "config-bad-value", "language must be 'ja' or 'en', got 'fr'", "language は 'ja' か 'en'"),
    ("[thresholds]\ncoverage_lo = 2\n", "config-unknown-setting", "unknown setting(s) ['coverage_lo']",
     "不明な設定があります ['coverage_lo']"),
    ("[thresholds]\ncoverage_low = 6\ncoverage_high = 5\n", "config-coverage-range",
     "coverage_low must not exceed coverage_high", "coverage_low は coverage_high 以下"),
    ("[[industries]]\nkey = 'x'\n", "config-list-entry", "industries[0]: needs key, ja and en", "key・ja・en が必要です"),
    ("language = \n", "config-not-toml", "not valid TOML", "TOML として正しくありません"),
])
def test_a_broken_settings_file_gives_its_code_in_both_languages_and_exit_3(tmp_path, toml, code, en, ja):
    p = tmp_path / "bad.toml"
    p.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(p)
    assert e.value.code == code and e.value.params["where"].startswith(str(p))
    assert en in e.value.message("en") and ja in e.value.message("ja") and ja not in e.value.message("en")
    for lang, text in (("en", en), ("ja", ja)):
        res = CliRunner().invoke(cli, ["spec", "--config", str(p), "--format", "json"], env={"XLTOOLS_LANG": lang})
        error = json.loads(res.stdout)["error"]
        assert res.exit_code == 3 and error["code"] == code and text in error["message"]
    res = CliRunner().invoke(cli, ["check", "x.xlsx", "--config", str(p)])
    assert res.exit_code == 3 and en in res.output and ja in res.output and "Traceback" not in res.output


def test_the_parsed_spec_is_cached_as_json_and_never_used_for_another_template(tmp_path, monkeypatch):
    import sys

    from xltools.spec import spec as speccache
    from xltools.spec.spec import load_spec_file

    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "plan.yaml"
    src.write_bytes(default_spec_path().read_bytes())
    first = load_spec_file(src)
    (cached,) = (tmp_path / "cache").glob("spec-*.json")
    assert json.loads(cached.read_text(encoding="utf-8"))["spec"] == RAW
    monkeypatch.setitem(sys.modules, "yaml", None)  # a cached document is read without PyYAML
    assert load_spec_file(src) == first
    monkeypatch.undo()
    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(tmp_path / "cache"))
    other = copy.deepcopy(RAW)
    other["version"] = "9.9"
    src.write_text(yaml.safe_dump(other, allow_unicode=True), encoding="utf-8")
    assert load_spec_file(src).version == "9.9"  # another template: another key
    assert len(list((tmp_path / "cache").glob("spec-*.json"))) == 2
    for damaged in ("", "not json", '{"key": "other", "spec": {}}', "[1]"):
        for f in (tmp_path / "cache").glob("spec-*.json"):
            f.write_text(damaged, encoding="utf-8")
        assert load_spec_file(src).version == "9.9"
    src.write_text("template: x\nversion: 1\nwhen: 2026-01-01\n", encoding="utf-8")
    speccache._store_cached(src.read_bytes(), yaml.safe_load(src.read_text(encoding="utf-8")))  # a date: not cached
    assert speccache._load_cached(src.read_bytes()) is None
    src.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(SpecError) as e:
        load_spec_file(src)
    assert e.value.code == "spec-unreadable"
