"""The arguments of one workbook: who and what it is for (:class:`PlanInfo`), checked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from xltools import clock
from xltools.errors import UsageError
from xltools.messages import LANGS, Label
from xltools.spec.config import Settings
from xltools.spec.periods import Period, PeriodError, parse_period


class GenerateError(UsageError, ValueError):
    """The plan cannot be generated from these arguments."""

    code = "generate"


class EmptyFieldError(GenerateError):
    code = "generate-empty"
    template = Label("{attr} を空にはできません", "{attr} must not be empty")


class UnknownLangError(GenerateError):
    code = "generate-unknown-language"
    template = Label("言語は {allowed} のいずれかにしてください（指定: {value!r}）",
                     "lang must be one of {allowed}, got {value!r}")


class BadTargetError(GenerateError):
    code = "generate-bad-target"
    template = Label("売上目標は 0 以上の円の整数にしてください（指定: {value!r}）",
                     "target must be a non-negative whole number of yen, got {value!r}")


class BadGeneratedAtError(GenerateError):
    code = "generate-bad-time"
    template = Label("generated_at が ISO 形式の日時ではありません: {value!r}",
                     "generated_at is not an ISO date-time: {value!r}")


class BadPeriodError(GenerateError):
    code = "generate-bad-period"
    template = Label("期間が読めません: {reason}", "not a fiscal period: {reason}")


class NoOutputFolderError(GenerateError):
    code = "generate-no-folder"
    template = Label("{path}: 出力フォルダがありません", "{path}: output folder does not exist")


class OutputFolderError(GenerateError):
    code = "generate-folder-failed"
    template = Label("{path}: 出力フォルダを作成できません（{reason}）", "{path}: cannot create the output folder ({reason})")


def check_lang(lang: str) -> None:
    """``lang`` must be a workbook language (:data:`~xltools.messages.LANGS`)."""
    if lang not in LANGS:
        raise UnknownLangError(allowed=", ".join(LANGS), value=lang)


@dataclass
class PlanInfo:
    """Who and what one workbook is for."""

    account_name: str
    rep: str
    period: str
    account_id: str | None = None
    target: int | None = None  # yen
    lang: str = "ja"
    team_members: str | None = None
    plan_id: str | None = None
    predecessor_plan_id: str | None = None
    generated_at: datetime | str | None = None
    relationship_map: bool = False  # draw the prefill's 関係図 sheet (xltools.generation.write_plan)


def plan_period(text: str | Period, settings: Settings) -> Period:
    if isinstance(text, Period):
        return text
    try:
        return parse_period(text, settings.fiscal_year_start_month)
    except PeriodError as e:
        raise BadPeriodError(reason=str(e)) from None


def _check_info(info: PlanInfo) -> None:
    for attr in ("account_name", "rep"):
        v = getattr(info, attr)
        if not isinstance(v, str) or not v.strip():
            raise EmptyFieldError(attr=attr)
    check_lang(info.lang)
    if info.target is not None and (isinstance(info.target, bool) or not isinstance(info.target, int)
                                    or info.target < 0):
        raise BadTargetError(value=info.target)


def _generated_at(value: datetime | str | None) -> tuple[str, datetime]:
    if value is None:
        now = clock.now().replace(microsecond=0)
        return now.isoformat(), now
    if isinstance(value, str):
        try:
            return value, datetime.fromisoformat(value)
        except ValueError:
            raise BadGeneratedAtError(value=value) from None
    return value.isoformat(), value

