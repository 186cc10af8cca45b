"""Company settings: built-in defaults, overridden by an optional ``xltools.toml``.

Example ``xltools.toml``::

    language = "ja"                 # default workbook language
    fiscal_year_start_month = 4     # April: FY2026 = 2026-04 .. 2027-03

    [thresholds]
    coverage_low = 3.0
    coverage_high = 5.0
    tier_a = 4.0
    tier_b = 3.0
    org_stale_days = 90
    appointment_lead_days = 14
    contact_stale_days = 90

    [report]                        # the leaders' roll-up (xltools report)
    amount_unit = "million"         # amounts shown in 百万円 (a key of the amount_unit list)
    visit_days = 30                 # dashboard: executive visits not booked in the next N days
    plan_stale_days = 30            # dashboard: plans not updated for N days
    dashboard_rows = 6              # dashboard: rows per exception list (the rest on its sheet)

    [stage_probabilities]           # default probability per stage key
    proposal = 25

    [selection_weights]             # weight per selection criterion key (defaults: the spec)
    company_size = 20

    [[industries]]                  # replaces the built-in industry list
    key = "semis"
    ja = "半導体"
    en = "Semiconductors"

    [[solutions]]                   # replaces the built-in list of our solutions (the
    key = "mes"                     # dropdown of the opportunities' solution and the
    ja = "製造実行システム"           # columns of the whitespace map)
    en = "Manufacturing execution"
    aliases = ["MES"]
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xltools.errors import XltoolsError
from xltools.spec.spec import Choice, ChoiceList, Label, Spec, SpecError

DEFAULT_CONFIG_NAME = "xltools.toml"


class ConfigError(XltoolsError, ValueError):
    """The settings file is malformed.  Each kind of problem is a subclass with its own
    ``code`` and bilingual template; ``where`` names the file and the section."""

    code = "config"


class ConfigReadError(ConfigError):
    code = "config-unreadable"
    template = Label("{where}: 読み込めません（{reason}）", "{where}: cannot read: {reason}")


class ConfigTomlError(ConfigError):
    code = "config-not-toml"
    template = Label("{where}: TOML として正しくありません: {reason}", "{where}: not valid TOML: {reason}")


class ConfigUnknownKeyError(ConfigError):
    code = "config-unknown-setting"
    template = Label("{where}: 不明な設定があります {unknown}（使える設定: {allowed}）",
                     "{where}: unknown setting(s) {unknown}; allowed: {allowed}")


class ConfigValueError(ConfigError):
    """A setting with a value of the wrong kind: ``expected`` is a :class:`Label`."""

    code = "config-bad-value"
    template = _BAD_VALUE = Label("{where}: {expected}（値: {value!r}）", "{where}: {expected}, got {value!r}")

    def __init__(self, *, where: str, expected: Label, value: object):
        self.expected = expected
        super().__init__(where=where, value=value)

    def message(self, lang: str | None = None) -> str:
        if lang is None:
            return super().message(lang)
        return self._BAD_VALUE.format(lang, where=self.params["where"], expected=self.expected(lang),
                                      value=self.params["value"])


class ConfigCoverageError(ConfigError):
    code = "config-coverage-range"
    template = Label("{where} [thresholds]: coverage_low は coverage_high 以下にしてください",
                     "{where} [thresholds]: coverage_low must not exceed coverage_high")


class ConfigListError(ConfigError):
    """A company list (``[[industries]]``, ``[[solutions]]``) that is not a list of entries."""

    code = "config-list"
    template = Label("{where}: key・ja・en を持つ [[表]] の並びにしてください",
                     "{where}: must be a list of [[tables]] with key, ja and en")


class ConfigListEntryError(ConfigError):
    code = "config-list-entry"
    template = Label("{where}: key・ja・en が必要です", "{where}: needs key, ja and en")


class ConfigAliasesError(ConfigError):
    code = "config-aliases"
    template = Label("{where} aliases: 文字列の並びにしてください", "{where} aliases: must be a list of texts")


class ConfigDuplicateError(ConfigError):
    code = "config-duplicate"
    template = Label("{where}: {text!r} は項目 {other} ですでに使われています",
                     "{where}: {text!r} is already used by entry {other}")


class UnknownSettingError(SpecError):
    """A formula token ``{cfg:name}`` naming a setting that does not exist (a spec problem)."""

    code = "spec-unknown-setting"
    template = Label("数式が不明な設定 {{cfg:{name}}} を使っています", "formula uses unknown setting {{cfg:{name}}}")


#: what a setting must be (the ``expected`` of :class:`ConfigValueError`)
_LANGUAGE = Label("language は 'ja' か 'en' にしてください", "language must be 'ja' or 'en'")
_MONTH = Label("fiscal_year_start_month は 1〜12 にしてください", "fiscal_year_start_month must be 1..12")
_NON_NEGATIVE = Label("{key} は 0 以上の数値にしてください", "{key}: must be a non-negative number")
_UNIT = Label("amount_unit は \"million\" のような文字列にしてください",
              "amount_unit: must be a text such as \"million\"")
_POSITIVE = Label("{key} は 1 以上の整数にしてください", "{key}: must be a positive whole number")
_PERCENT = Label("{key} は 0〜100 にしてください", "{key}: must be 0..100")


def _expect(label: Label, **params: str) -> Label:
    return Label(label.format("ja", **params), label.format("en", **params))


@dataclass(frozen=True)
class Thresholds:
    coverage_low: float = 3.0
    coverage_high: float = 5.0
    tier_a: float = 4.0
    tier_b: float = 3.0
    org_stale_days: int = 90
    appointment_lead_days: int = 14
    contact_stale_days: int = 90
    win_rate_periods: int = 4
    max_file_mb: int = 50
    max_uncompressed_mb: int = 300
    max_sheet_rows: int = 20000


@dataclass(frozen=True)
class ReportSettings:
    """The roll-up's display: amounts in ``amount_unit`` (a key of the spec's
    ``amount_unit`` list; exact yen stay in the database and the exports) and the windows
    of the dashboard's exception lists."""

    amount_unit: str = "million"
    visit_days: int = 30
    plan_stale_days: int = 30
    dashboard_rows: int = 6


@dataclass(frozen=True)
class Settings:
    language: str = "ja"
    fiscal_year_start_month: int = 4
    thresholds: Thresholds = field(default_factory=Thresholds)
    report: ReportSettings = field(default_factory=ReportSettings)
    stage_probabilities: dict[str, int] = field(default_factory=dict)
    selection_weights: dict[str, float] = field(default_factory=dict)  # overrides of the spec's weights
    industries: tuple[dict[str, Any], ...] = ()
    solutions: tuple[dict[str, Any], ...] = ()  # replaces the spec's ``solution`` list when set
    path: str | None = None

    def cfg_value(self, name: str) -> float:
        """A number for ``{cfg:name}`` formula tokens: a threshold or the fiscal year's start month."""
        if name == "fiscal_year_start_month":
            return self.fiscal_year_start_month
        if not hasattr(self.thresholds, name):
            raise UnknownSettingError(name=name)
        value: float = getattr(self.thresholds, name)  # an int stays an int in the formula
        return value

    def apply(self, spec: Spec) -> Spec:
        """The spec with this company's lists: industries, solutions, stage probabilities, weights."""
        lists = dict(spec.choice_lists)
        for name, items in (("industry", self.industries), ("solution", self.solutions)):
            if items and name in lists:
                lists[name] = ChoiceList(name, tuple(
                    Choice(key=i["key"], label=Label(i["ja"], i["en"]), aliases=tuple(i.get("aliases", ())))
                    for i in items))
        stages = lists["stage"]
        lists["stage"] = ChoiceList("stage", tuple(
            dataclasses.replace(c, probability=int(self.stage_probabilities.get(c.key, c.probability or 0)))
            for c in stages.choices))
        crit = lists["selection_criterion"]
        lists["selection_criterion"] = ChoiceList("selection_criterion", tuple(
            dataclasses.replace(c, weight=float(self.selection_weights.get(c.key, c.weight or 0)))
            for c in crit.choices))
        return dataclasses.replace(spec, choice_lists=lists)


def _check_keys(section: str, raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigUnknownKeyError(where=section, unknown=sorted(unknown), allowed=sorted(allowed))


def _choice_items(items: object, where: str) -> tuple[dict[str, Any], ...]:
    """A company list (``[[industries]]``, ``[[solutions]]``): key, ja and en on every
    entry, optional aliases, keys and labels unique."""
    if not isinstance(items, (list, tuple)):
        raise ConfigListError(where=where)
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(v := item.get(k), str) and v.strip()
                                                 for k in ("key", "ja", "en")):
            raise ConfigListEntryError(where=f"{where}[{i}]")
        _check_keys(f"{where}[{i}]", item, {"key", "ja", "en", "aliases"})
        aliases = item.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigAliasesError(where=f"{where}[{i}]")
        for text in (item["key"], item["ja"], item["en"]):
            if text.casefold() in seen and seen[text.casefold()] != i:
                raise ConfigDuplicateError(where=f"{where}[{i}]", text=text, other=seen[text.casefold()])
            seen[text.casefold()] = i
    return tuple(dict(item) for item in items)


def settings_from_dict(raw: dict[str, Any], path: str | None = None) -> Settings:
    where = path or "settings"
    _check_keys(where, raw, {"language", "fiscal_year_start_month", "thresholds",
                             "stage_probabilities", "selection_weights", "industries", "solutions",
                             "report"})
    lang = raw.get("language", "ja")
    if lang not in ("ja", "en"):
        raise ConfigValueError(where=where, expected=_LANGUAGE, value=lang)
    month = raw.get("fiscal_year_start_month", 4)
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise ConfigValueError(where=where, expected=_MONTH, value=month)
    th_raw = raw.get("thresholds", {})
    _check_keys(f"{where} [thresholds]", th_raw, {f.name for f in dataclasses.fields(Thresholds)})
    for k, v in th_raw.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigValueError(where=f"{where} [thresholds]", expected=_expect(_NON_NEGATIVE, key=k), value=v)
    th = Thresholds(**th_raw)
    if th.coverage_low > th.coverage_high:
        raise ConfigCoverageError(where=where)
    rep_raw = raw.get("report", {})
    _check_keys(f"{where} [report]", rep_raw, {f.name for f in dataclasses.fields(ReportSettings)})
    if not isinstance(rep_raw.get("amount_unit", ""), str):
        raise ConfigValueError(where=f"{where} [report]", expected=_UNIT, value=rep_raw["amount_unit"])
    for k, v in rep_raw.items():
        if k != "amount_unit" and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigValueError(where=f"{where} [report]", expected=_expect(_POSITIVE, key=k), value=v)
    report = ReportSettings(**rep_raw)
    probs = raw.get("stage_probabilities", {})
    for k, v in probs.items():
        if not isinstance(v, int) or not 0 <= v <= 100:
            raise ConfigValueError(where=f"{where} [stage_probabilities]", expected=_expect(_PERCENT, key=k), value=v)
    weights = dict(raw.get("selection_weights", {}))
    for k, v in weights.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigValueError(where=f"{where} [selection_weights]", expected=_expect(_NON_NEGATIVE, key=k), value=v)
    industries = _choice_items(raw.get("industries", ()), f"{where} industries")
    solutions = _choice_items(raw.get("solutions", ()), f"{where} solutions")
    return Settings(language=lang, fiscal_year_start_month=month, thresholds=th, report=report,
                    stage_probabilities=dict(probs), selection_weights=weights,
                    industries=industries, solutions=solutions, path=path)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from ``path``, else ``./xltools.toml`` if present, else defaults."""
    if path is None:
        env = os.environ.get("XLTOOLS_CONFIG")
        cand = Path(env) if env else Path(DEFAULT_CONFIG_NAME)
        if not cand.exists():
            return Settings()
        path = cand
    import tomllib  # only when there is a settings file

    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigReadError(where=str(p), reason=e.strerror or str(e)) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigTomlError(where=str(p), reason=str(e)) from None
    s = settings_from_dict(raw, str(p))
    return s


def load_context(path: str | os.PathLike[str] | None = None) -> tuple[Spec, Settings]:
    """(the template spec with the company lists applied, the settings) of ``path`` (see
    :func:`load_settings`): what every command works with."""
    from xltools.spec.spec import load_spec

    settings = load_settings(path)
    return settings.apply(load_spec()), settings
