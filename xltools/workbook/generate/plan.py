"""The arguments of one workbook: who and what it is for (:class:`PlanInfo`), checked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from xltools import clock
from xltools.errors import UsageError
from xltools.messages import LANGS
from xltools.spec.config import Settings
from xltools.spec.periods import Period, PeriodError, parse_period


class GenerateError(UsageError, ValueError):
    """The plan cannot be generated from these arguments."""



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
        raise GenerateError(str(e)) from None


def _check_info(info: PlanInfo) -> None:
    for attr in ("account_name", "rep"):
        v = getattr(info, attr)
        if not isinstance(v, str) or not v.strip():
            raise GenerateError(f"{attr} must not be empty")
    if info.lang not in LANGS:
        raise GenerateError(f"lang must be one of {', '.join(LANGS)}, got {info.lang!r}")
    if info.target is not None and (isinstance(info.target, bool) or not isinstance(info.target, int)
                                    or info.target < 0):
        raise GenerateError(f"target must be a non-negative whole number of yen, got {info.target!r}")


def _generated_at(value: datetime | str | None) -> tuple[str, datetime]:
    if value is None:
        now = clock.now().replace(microsecond=0)
        return now.isoformat(), now
    if isinstance(value, str):
        try:
            return value, datetime.fromisoformat(value)
        except ValueError:
            raise GenerateError(f"generated_at is not an ISO date-time: {value!r}") from None
    return value.isoformat(), value

