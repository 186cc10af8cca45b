"""Fiscal periods: ``FY2026`` and ``FY2026Q3`` with a configurable start month.

With the Japanese default (April), ``FY2026`` runs from 2026-04-01 to 2027-03-31 and
``FY2026Q1`` is April-June 2026.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from xltools.errors import UsageError

_PERIOD_RE = re.compile(
    r"^(?:FY)?\s*(?P<year>\d{4}|\d{2})\s*(?:年度)?\s*(?:[-_ ]?\s*(?:Q|第)\s*(?P<q>[1-4])\s*(?:四半期|Q)?)?$",
    re.IGNORECASE)


class PeriodError(UsageError, ValueError):
    """Not a fiscal period (FY2026Q3, FY2026)."""


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


@dataclass(frozen=True, order=True)
class Period:
    fiscal_year: int
    quarter: int | None = None  # None: the whole fiscal year
    start_month: int = 4

    def __str__(self) -> str:
        return f"FY{self.fiscal_year}" + (f"Q{self.quarter}" if self.quarter else "")

    @property
    def start(self) -> date:
        y, m = _add_months(self.fiscal_year, self.start_month, 3 * ((self.quarter or 1) - 1))
        return date(y, m, 1)

    @property
    def end(self) -> date:
        """First day *after* the period (exclusive bound)."""
        months = 3 if self.quarter else 12
        y, m = _add_months(self.start.year, self.start.month, months)
        return date(y, m, 1)

    def contains(self, d: date) -> bool:
        return self.start <= d < self.end

    @property
    def year(self) -> "Period":
        return Period(self.fiscal_year, None, self.start_month)

    def quarters(self) -> list["Period"]:
        return [Period(self.fiscal_year, q, self.start_month) for q in (1, 2, 3, 4)]

    def next(self) -> "Period":
        if self.quarter is None:
            return Period(self.fiscal_year + 1, None, self.start_month)
        if self.quarter == 4:
            return Period(self.fiscal_year + 1, 1, self.start_month)
        return Period(self.fiscal_year, self.quarter + 1, self.start_month)


def parse_period(text: object, start_month: int = 4) -> Period:
    """``FY2026Q3``, ``fy2026-q3``, ``2026年度第3四半期``, ``ＦＹ２０２６Ｑ３`` or ``FY2026``."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip()
    m = _PERIOD_RE.match(s)
    if not m:
        raise PeriodError(f"not a fiscal period like FY2026Q3: {text!r}")
    year = int(m.group("year"))
    if year < 100:
        year += 2000
    q = int(m.group("q")) if m.group("q") else None
    return Period(year, q, start_month)


def fiscal_quarter_of(d: date, start_month: int = 4) -> Period:
    """The fiscal quarter containing ``d``."""
    offset = (d.month - start_month) % 12
    fy = d.year if d.month >= start_month else d.year - 1
    return Period(fy, offset // 3 + 1, start_month)
