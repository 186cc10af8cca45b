"""Reading rules: one raw cell value -> the clean PlanData value, or a precise problem.

Reps type the way people type.  :func:`normalize_value` takes a value as
python-calamine returns it (``str``, ``int``, ``float``, ``bool``,
``datetime.datetime``, ``datetime.date``, ``datetime.time``, ``datetime.timedelta``
or ``None``) for one spec :class:`~xltools.spec.Field` and returns a
:class:`Normalized`: the clean value (see :mod:`xltools.spec.model`) plus, when
something is worth saying, an issue code from :data:`xltools.spec.issues.ISSUE_TYPES`
and its message parameters.  It never raises.  The ``parse_*`` functions are the
building blocks; they raise :class:`NormalizeError` (code + params).

Pure functions: no I/O, no openpyxl.  Everything that depends on the template
(choice labels, aliases, amount factors) comes from the :class:`~xltools.spec.Spec`.

Rules, by field type
--------------------
Every type
    Surrounding whitespace (including full-width spaces and zero-width
    characters) is stripped; an empty result is empty (``Normalized(None)``).
    Placeholders -- ``-`` ``－`` ``—`` ``ー`` (any run of dashes), ``?`` ``？``,
    ``…``, ``未定`` ``未`` ``TBD`` ``TBA`` ``なし`` ``無し`` ``N/A`` ``none``
    ``不明`` ``未入力`` ``未記入`` ``未確認`` ``該当なし`` (NFKC, any case) -- are
    empty with ``I-PLACEHOLDER``, in every field type including text.  In choice
    fields the choice list is tried first (``未`` is a label of the ``done`` list,
    ``?`` an alias of ``unknown`` stance).
text, longtext, id
    Kept as typed (no NFKC), only stripped.  Numbers become text without a
    trailing ``.0``; ``True`` -> ``"TRUE"``; dates -> ISO ``2026-04-01``.  Text that
    begins with ``=`` stays a plain ``str`` (writers must store it as text).
amount -> ``int`` yen
    Full-width digits, thousands commas, ``¥``/``￥``/``\\``/``JPY`` prefix,
    ``円``/``JPY``/``yen`` suffix, the ``¥1,000-`` style, ``約`` prefix, negatives
    ``-`` ``−`` ``▲`` ``△`` and accounting ``(1,200)``, kanji multipliers
    (``1億2,000万``, ``1.2億``, ``3千円``, ``12百万円``, ``1万5千``) and ``k``/``M``/
    ``bn``.  A number without any unit is multiplied by the workbook's
    ``amount_unit`` factor; an explicit unit in the text (a multiplier, ``円`` or
    ``¥``) overrides it.  Arithmetic is decimal (no float noise); the result is
    rounded half up (away from zero for negatives: 四捨五入).  A dropped fraction
    of at least one sen (0.01 yen) is reported as ``I-AMOUNT-ROUNDED`` with the
    rounded value; smaller ones are float noise.  ``|amount| <= 999,999,999,999,999``
    (``E-RANGE``).  A trailing minus without ``¥``/``円`` (``1,000-``) is ambiguous
    (SAP-style negative or the yen style) and is reported, not guessed; so is
    ``1万5`` (colloquially 15,000, literally 10,005) unless ``円`` follows.
percent -> ``float`` 0-100
    ``30``, ``30%``, ``３０％``, ``30.5%``, ``30パーセント``, ``3割``, ``3割5分``.  Without
    a ``%`` sign, numbers strictly between 0 and 1 are fractions (``0.3`` -> 30).
    Decision on the ambiguous 1: a *numeric* cell value 1 (what a 100 %-formatted
    cell holds) is 100; the *text* ``"1"`` is 1 %.  Outside 0-100 -> ``E-RANGE``.
date -> ``datetime.date``
    Real dates/datetimes (time dropped); Excel serial numbers (1900 date system)
    whose date is inside the sensible range; ``2026/4/1``, ``2026-04-01``,
    ``2026.4.1``, ``26/4/1``, ``20260401``, ``2026年4月1日``, wareki ``令和8年4月1日``,
    ``令和元年5月1日``, ``R8.4.1``, ``R8/4/1``, ``H31.4.30``, ``平成31年4月30日``,
    ``S64.1.7`` (era years are not capped: ``平成32年`` is 2020); a trailing weekday
    ``(水)`` and time ``10:00`` are ignored.  Year-less ``4月1日`` / ``4/1`` take the
    year that puts the date inside the plan's fiscal year (``ctx.period``; FY2026Q4
    and ``1月15日`` -> 2027-01-15); without a plan period they are ``E-TYPE``.
    Dates outside 1950-01-01..2099-12-31 -> ``E-RANGE``; numbers that are not a
    serial in that window -> ``E-TYPE``.  A month without a day is not a date.
integer -> ``int`` (a count: 0 or more), number -> ``int`` or ``float``
    Full-width digits, commas, signs, ``約``, kanji multipliers (``1.2万人``) and a
    counter suffix (``人 名 件 回 社 年 年間 か月 ヶ月 個 台 部門 部署 倍 点 歳``).
    An integer field rejects fractions (``E-TYPE``).  ``|value| < 10^15``.
month -> ``int`` 1-12
    ``3``, ``3月``, ``３月``, ``3月末``, ``3月期``, ``March``/``Mar``; a date gives its month.
rating -> ``int`` 1-5
    ``3``, ``3点``, ``3/5``, ``★★★``, ``★★★☆☆`` (filled stars are counted).
period -> ``str`` canonical ``FY2026Q3`` / ``FY2026``
    Via :func:`xltools.spec.periods.parse_period`; a number 2026 is ``FY2026``.
    Fiscal years 1950-2099.
choice -> the choice ``key``
    NFKC, trimmed, case-insensitive, runs of spaces/``_``/``-`` equal, symbol
    variants (``◯``=``○``, ``✔``=``✓``, ``✕``=``×``) matched against the key, the ja
    label, the en label and the aliases of the field's :class:`ChoiceList` (keys
    and labels win over aliases).  Unknown text in an ``open`` list is kept as
    typed (``I-CHOICE-OPEN``); in a closed list it is ``E-CHOICE`` with the
    allowed labels (ja and en) as ``detail``.  A checkbox ``True``/``False`` is
    matched as ``TRUE``/``FALSE``, then ``yes``/``no``.
ratio, score, fraction (formula results) -> number.

Every issue's params carry ``value`` (the raw value as display text); ``E-TYPE``
has ``expected`` and ``E-RANGE`` has ``min``, ``max`` and ``detail`` as bilingual
``{"ja", "en"}`` dicts or plain values.
"""
from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

from xltools.messages import Bilingual, Params
from xltools.spec.model import CellError
from xltools.spec.periods import Period, PeriodError, parse_period
from xltools.spec.spec import ChoiceList, Field, Spec

__all__ = [
    "NormContext", "Normalized", "NormalizeError", "normalize_value", "parse_amount",
    "parse_percent", "parse_date", "parse_choice", "parse_number", "parse_integer",
    "parse_month", "parse_rating", "parse_period_text", "is_placeholder", "display_text",
    "AMOUNT_MAX", "NUMBER_MAX", "DATE_MIN", "DATE_MAX", "SLOW", "fast_normalizer",
]

#: the largest amount in yen (999兆円); beyond that a value is not an amount
AMOUNT_MAX = 10**15 - 1
#: integers and numbers must be smaller than this in magnitude
NUMBER_MAX = 10**15
#: the sensible range of dates in a plan
DATE_MIN = date(1950, 1, 1)
DATE_MAX = date(2099, 12, 31)


@dataclass(frozen=True)
class NormContext:
    amount_factor: int = 1          # from the workbook's amount_unit
    period: Period | None = None    # the plan period (xltools.spec.periods.Period) for year-less dates
    start_month: int = 4


@dataclass(frozen=True)
class Normalized:
    value: Any                      # clean value or None
    code: str | None = None         # issue code from xltools.spec.issues.ISSUE_TYPES, or None when clean
    params: Params = dataclasses.field(default_factory=dict)  # message params (expected/detail may be {"ja","en"})


class NormalizeError(ValueError):
    """A value cannot be normalised: ``code`` (an issue code) and message ``params``."""

    def __init__(self, code: str, params: Params | None = None):
        self.code = code
        self.params = dict(params or {})
        super().__init__(f"{code}: {self.params}")


# -- what each type expects (the E-TYPE ``expected`` param) -------------------------------
EXPECTED: dict[str, Bilingual] = {
    "amount": {"ja": "金額", "en": "an amount"},
    "integer": {"ja": "整数", "en": "a whole number"},
    "number": {"ja": "数値", "en": "a number"},
    "percent": {"ja": "パーセント", "en": "a percentage"},
    "date": {"ja": "日付", "en": "a date"},
    "date_with_year": {"ja": "年を含む日付（対象期間が未設定のため年を補えません）",
                       "en": "a date with a year (there is no plan period to take the year from)"},
    "month": {"ja": "月（1〜12）", "en": "a month (1-12)"},
    "rating": {"ja": "1〜5の評点", "en": "a rating from 1 to 5"},
    "period": {"ja": "期間（例：FY2026Q3）", "en": "a period such as FY2026Q3"},
}


def _type_error(kind: str, raw: Any = None) -> NormalizeError:
    params: dict[str, Any] = {"expected": EXPECTED[kind]}
    if raw is not None:
        params["value"] = display_text(raw)
    return NormalizeError("E-TYPE", params)


def _range_error(lo: Any, hi: Any, raw: Any = None, fmt: Callable[[Any], str] = str) -> NormalizeError:
    params: dict[str, Any] = {"min": lo, "max": hi,
                              "detail": {"ja": f"{fmt(lo)}〜{fmt(hi)}", "en": f"{fmt(lo)} to {fmt(hi)}"}}
    if raw is not None:
        params["value"] = display_text(raw)
    return NormalizeError("E-RANGE", params)


# -- text helpers ----------------------------------------------------------------------------
#: whitespace to strip: everything str.isspace() knows, plus zero-width characters and the BOM
_WS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
       "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff")


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip(_WS) if not s.isascii() else s.strip(_WS)


def _fmt_float(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    if 1e-6 <= abs(x) < 1e16:
        return format(Decimal(repr(x)), "f")
    return repr(x)


def display_text(raw: Any) -> str:
    """A raw cell value as the text a person would read: ``1200.0`` -> ``"1200"``."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.strip(_WS)
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _fmt_float(raw)
    if isinstance(raw, datetime):
        if raw.time() == time(0):
            return raw.date().isoformat()
        return raw.isoformat(sep=" ", timespec="seconds" if not raw.microsecond else "auto")
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, time):
        return raw.isoformat(timespec="minutes" if not raw.second and not raw.microsecond else "auto")
    return str(raw)


# -- placeholders ----------------------------------------------------------------------------
_PLACEHOLDER_WORDS = frozenset({
    "未定", "未", "tbd", "tba", "なし", "無し", "n/a", "none", "不明", "未入力", "未記入", "未確認",
    "該当なし",
})
_PLACEHOLDER_RE = re.compile(r"[-‐‑‒–—―−ー─━]+|\?+|…+|\.{2,}|・+")
_SPACES_RE = re.compile(r"\s+")


def is_placeholder(raw: Any) -> bool:
    """``-``, ``未定``, ``TBD``, ``N/A``, ``？``...: text that means "nothing entered yet"."""
    if not isinstance(raw, str) or len(raw) > 24:
        return False
    s = _SPACES_RE.sub("", unicodedata.normalize("NFKC", raw)).casefold()
    return bool(s) and (s in _PLACEHOLDER_WORDS or _PLACEHOLDER_RE.fullmatch(s) is not None)


# -- numbers ---------------------------------------------------------------------------------
_NEG_SIGNS = frozenset("-−‐‒–▲△")
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_PLAIN_RE = re.compile(rf"(?:{_NUM})(?:[eE][+-]?\d{{1,3}})?")
_EN_UNIT_RE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>k|m|mn|mm|b|bn)", re.IGNORECASE)
_EN_UNITS = {"k": 10**3, "m": 10**6, "mn": 10**6, "mm": 10**6, "b": 10**9, "bn": 10**9}
_CHUNK_RE = re.compile(rf"\s*(?P<num>{_NUM})\s*(?P<small>[千百十])?\s*(?P<big>[万億兆])?")
_SMALL = {None: 1, "十": 10, "百": 100, "千": 1000}
_BIG = {None: 1, "万": 10**4, "億": 10**8, "兆": 10**12}
_COUNTER_RE = re.compile(r"\s*(?:人|名|件|回|社|年間|年|か月|ヶ月|ヵ月|カ月|ケ月|個|台|部門|部署|倍|点|歳)$")
_YEN_SUFFIX_RE = re.compile(r"\s*(?:円|jpy|yen)$", re.IGNORECASE)


class _Unreadable(Exception):
    """Internal: the text is not a number of the expected shape."""


def _dec(s: str) -> Decimal:
    try:
        return Decimal(s.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regexes only let valid numbers through
        raise _Unreadable(s) from None


def _num_decimal(x: int | float) -> Decimal:
    if isinstance(x, float):
        if not math.isfinite(x):
            raise _Unreadable(x)
        return Decimal(repr(x))
    return Decimal(x)


def _body(s: str, yen_suffix: bool = False) -> tuple[Decimal, bool]:
    """The unsigned number in ``s``: ``1,200``, ``1.2億``, ``1億2,000万``, ``500k``.

    Returns (value, True when the text carries a multiplier).  ``1万5`` is refused
    (colloquially 15,000, literally 10,005) unless a ``円`` follows (``1万5円``), and so is
    ``1億5千`` (colloquially 1億5千万, literally 100,005,000)."""
    if _PLAIN_RE.fullmatch(s):
        return _dec(s), False
    m = _EN_UNIT_RE.fullmatch(s)
    if m:
        return _dec(m.group("num")) * _EN_UNITS[m.group("unit").lower()], True
    total, pos, prev_unit, prev_decimal, n = Decimal(0), 0, 0, False, len(s)
    while pos < n:
        m = _CHUNK_RE.match(s, pos)
        if m is None or prev_decimal:
            raise _Unreadable(s)
        num = _dec(m.group("num"))
        unit = _SMALL[m.group("small")] * _BIG[m.group("big")]
        value = num * unit
        if pos and not (prev_unit > 1 and value < prev_unit):
            raise _Unreadable(s)  # 12 34, 1万20000, 1億2億
        if pos and unit == 1 and not yen_suffix and len(m.group("num").split(".")[0].replace(",", "")) < 3:
            raise _Unreadable(s)
        if (pos and not yen_suffix and prev_unit >= 10 ** 8 and _BIG[m.group("big")] == 1
                and _SMALL[m.group("small")] > 1):
            raise _Unreadable(s)  # 1億5千: colloquially 1億5千万, literally 100,005,000
        total += value
        prev_unit, prev_decimal, pos = unit, "." in m.group("num"), m.end()
        if pos < n and unit == 1:
            raise _Unreadable(s)
    if pos == 0:
        raise _Unreadable(s)
    return total, True


def _signed(s: str, *, money: bool) -> tuple[Decimal, bool]:
    """Parse a signed quantity.  Returns (value, explicit unit given)."""
    if s[:1] == "約":
        s = s[1:].lstrip()
    neg = signed = cur = yen_suffix = False
    if s[:1] == "(" and s[-1:] == ")":
        neg = signed = True
        s = s[1:-1].strip()
    for _ in range(3):
        c = s[:1]
        if c and c in _NEG_SIGNS and not signed:
            neg = signed = True
            s = s[1:].lstrip()
        elif c == "+" and not signed:
            signed = True
            s = s[1:].lstrip()
        elif money and not cur and c in ("¥", "\\"):
            cur = True
            s = s[1:].lstrip()
        elif money and not cur and s[:3].upper() == "JPY":
            cur = True
            s = s[3:].lstrip()
        else:
            break
    if not signed and s[:1] == "(" and s[-1:] == ")":  # ¥(1,200)
        neg = signed = True
        s = s[1:-1].strip()
    if money:
        if s[-1:] == "-" and (cur or _YEN_SUFFIX_RE.search(s[:-1].rstrip())):
            s = s[:-1].rstrip()  # ¥1,000- : the yen style, not a minus
        m = _YEN_SUFFIX_RE.search(s)
        if m:
            cur = yen_suffix = True
            s = s[:m.start()]
    else:
        m = _COUNTER_RE.search(s)
        if m:
            s = s[:m.start()]
    value, multiplied = _body(s.strip(), yen_suffix)
    return (-value if neg else value), (multiplied or cur)


def _round_yen(d: Decimal, raw: Any) -> tuple[int, bool]:
    if abs(d) > AMOUNT_MAX:
        raise _range_error(-AMOUNT_MAX, AMOUNT_MAX, raw, fmt=lambda v: f"{v:,}")
    q = d.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q) + 0, abs(d - q) >= Decimal("0.01")


def _amount(raw: Any, factor: int) -> tuple[int, bool]:
    """(yen, True when a fraction of at least one sen was rounded away)."""
    try:
        if isinstance(raw, bool):
            raise _Unreadable(raw)
        if isinstance(raw, (int, float)):
            d = _num_decimal(raw) * factor
        elif isinstance(raw, str):
            s = _nfkc(raw)
            d, explicit = _signed(s, money=True)
            if not explicit:
                d *= factor
        else:
            raise _Unreadable(raw)
    except _Unreadable:
        raise _type_error("amount", raw) from None
    return _round_yen(d, raw)


def parse_amount(raw: Any, factor: int = 1) -> int:
    """An amount in integer yen.  ``factor`` is the workbook's amount unit (円 1, 千円 1000,
    百万円 1000000); an explicit unit in the text overrides it."""
    return _amount(raw, factor)[0]


def _quantity(raw: Any, kind: str) -> Decimal:
    try:
        if isinstance(raw, bool):
            raise _Unreadable(raw)
        if isinstance(raw, (int, float)):
            d = _num_decimal(raw)
        elif isinstance(raw, str):
            d = _signed(_nfkc(raw), money=False)[0]
        else:
            raise _Unreadable(raw)
    except _Unreadable:
        raise _type_error(kind, raw) from None
    return d


def _int_or_float(d: Decimal) -> int | float:
    if d == d.to_integral_value():
        return int(d) + 0
    return float(d)


def parse_number(raw: Any) -> float | int:
    """A number: ``1,234.5``, ``１２３``, ``▲5``, ``1.2万``, ``3年``.  ``int`` when whole."""
    d = _quantity(raw, "number")
    if abs(d) >= NUMBER_MAX:
        raise _range_error(-(NUMBER_MAX - 1), NUMBER_MAX - 1, raw, fmt=lambda v: f"{v:,}")
    return _int_or_float(d)


def parse_integer(raw: Any) -> int:
    """A count (0 or more): ``1,200``, ``約3,000人``, ``1.2万人``."""
    d = _quantity(raw, "integer")
    if d != d.to_integral_value():
        raise _type_error("integer", raw)
    if not 0 <= d < NUMBER_MAX:
        raise _range_error(0, NUMBER_MAX - 1, raw, fmt=lambda v: f"{v:,}")
    return int(d) + 0


def _whole(raw: Any, kind: str, lo: int, hi: int, d: Decimal) -> int:
    if d != d.to_integral_value():
        raise _type_error(kind, raw)
    if not lo <= d <= hi:
        raise _range_error(lo, hi, raw)
    return int(d) + 0


# -- percent ---------------------------------------------------------------------------------
_PCT_SUFFIX_RE = re.compile(r"\s*(?:%|パーセント|percent|pct)$", re.IGNORECASE)
_SIGNED_PLAIN_RE = re.compile(rf"[-−+]?\s*(?:{_NUM})")
_WARI_RE = re.compile(r"(?P<wari>\d+(?:\.\d+)?)\s*割(?:\s*(?P<bu>\d)\s*分)?")


def parse_percent(raw: Any) -> float:
    """A percentage 0-100: ``30``, ``30%``, ``0.3`` (a fraction), ``３０％``, ``3割``."""
    try:
        if isinstance(raw, bool):
            raise _Unreadable(raw)
        if isinstance(raw, (int, float)):
            d = _num_decimal(raw)
            if 0 < d <= 1:  # a fraction; a numeric 1 is what a 100 %-formatted cell holds
                d *= 100
        elif isinstance(raw, str):
            s = _nfkc(raw)
            if s[:1] == "約":
                s = s[1:].lstrip()
            m = _PCT_SUFFIX_RE.search(s)
            explicit = m is not None
            if m:
                s = s[:m.start()]
            w = None if explicit else _WARI_RE.fullmatch(s)
            if w:
                d = _dec(w.group("wari")) * 10 + int(w.group("bu") or 0)
            elif _SIGNED_PLAIN_RE.fullmatch(s):
                d = _dec(s.replace("−", "-").replace(" ", ""))
                if not explicit and 0 < d < 1:
                    d *= 100
            else:
                raise _Unreadable(raw)
        else:
            raise _Unreadable(raw)
    except _Unreadable:
        raise _type_error("percent", raw) from None
    if not 0 <= d <= 100:
        raise _range_error(0, 100, raw)
    return round(float(d), 10) + 0.0


# -- dates -----------------------------------------------------------------------------------
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 = 1900-03-01 (Excel's 1900 leap-year bug before)
_SERIAL_MIN = (DATE_MIN - _EXCEL_EPOCH).days
_SERIAL_MAX = (DATE_MAX - _EXCEL_EPOCH).days
_WEEKDAY_RE = re.compile(
    r"\s*\(\s*(?:[月火水木金土日](?:曜日?)?|(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?)\s*\)", re.IGNORECASE)
_TIME_RE = re.compile(r"(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_YMD_RE = re.compile(r"(?P<y>\d{4}|\d{2})\s*(?P<sep>[/.\-])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})")
_KANJI_YMD_RE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?")
_WAREKI_RE = re.compile(
    r"(?P<era>令和|平成|昭和|[RHS])\s*(?P<y>\d{1,2}|元)\s*"
    r"(?:年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"
    r"|(?P<sep>[/.\-])\s*(?P<m2>\d{1,2})\s*(?P=sep)\s*(?P<d2>\d{1,2}))", re.IGNORECASE)
_MD_RE = re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?|(?P<m2>\d{1,2})\s*/\s*(?P<d2>\d{1,2})")
_YYYYMMDD_RE = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_SERIAL_TEXT_RE = re.compile(r"\d{5}(?:\.\d+)?")
#: year before the first year of each era (令和元年 = 2019)
_ERA_BASE = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988, "昭和": 1925, "s": 1925}


def _date_range_error(raw: Any) -> NormalizeError:
    return _range_error(DATE_MIN.isoformat(), DATE_MAX.isoformat(), raw, fmt=lambda d: d.replace("-", "/"))


def _from_serial(x: int | float, raw: Any) -> date:
    if isinstance(x, float) and not math.isfinite(x):
        raise _type_error("date", raw)
    if not _SERIAL_MIN <= x < _SERIAL_MAX + 1:
        raise _type_error("date", raw)  # a plain number (a year, a day), not a date serial
    return _EXCEL_EPOCH + timedelta(days=math.floor(x))


def _ymd(y: int, m: int, d: int, raw: Any) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise _type_error("date", raw) from None


def _date_from_text(raw: str, ctx: NormContext) -> date:
    s = _nfkc(raw)
    s = _WEEKDAY_RE.sub("", s)
    s = _TIME_RE.sub("", s).strip()
    if m := _YMD_RE.fullmatch(s):
        y = int(m.group("y"))
        return _ymd(y + 2000 if y < 100 else y, int(m.group("m")), int(m.group("d")), raw)
    if m := _KANJI_YMD_RE.fullmatch(s):
        return _ymd(int(m.group("y")), int(m.group("m")), int(m.group("d")), raw)
    if m := _WAREKI_RE.fullmatch(s):
        n = 1 if m.group("y") == "元" else int(m.group("y"))
        if n < 1:
            raise _type_error("date", raw)
        base = _ERA_BASE[m.group("era").lower()]
        return _ymd(base + n, int(m.group("m") or m.group("m2")), int(m.group("d") or m.group("d2")), raw)
    if m := _MD_RE.fullmatch(s):
        month, day = int(m.group("m") or m.group("m2")), int(m.group("d") or m.group("d2"))
        if ctx.period is None:
            raise _type_error("date_with_year", raw)
        fy = ctx.period.fiscal_year
        year = fy if month >= ctx.period.start_month else fy + 1
        return _ymd(year, month, day, raw)
    if m := _YYYYMMDD_RE.fullmatch(s):
        return _ymd(int(m.group("y")), int(m.group("m")), int(m.group("d")), raw)
    if _SERIAL_TEXT_RE.fullmatch(s):
        return _from_serial(float(s), raw)
    raise _type_error("date", raw)


def parse_date(raw: Any, ctx: NormContext) -> date:
    """A date from a real date, an Excel serial or text in the usual Japanese styles."""
    if isinstance(raw, bool):
        raise _type_error("date", raw)
    if isinstance(raw, datetime):
        d = raw.date()
    elif isinstance(raw, date):
        d = raw
    elif isinstance(raw, (int, float)):
        d = _from_serial(raw, raw)
    elif isinstance(raw, str):
        d = _date_from_text(raw, ctx)
    else:
        raise _type_error("date", raw)
    if not DATE_MIN <= d <= DATE_MAX:
        raise _date_range_error(raw)
    return d


# -- month, rating, period -------------------------------------------------------------------
_MONTH_RE = re.compile(r"(?P<m>\d{1,2})(?:\s*月)?(?:\s*(?:末|期末|期|決算))*")
_MONTH_NAMES = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}
_RATING_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?:点)?(?:\s*/\s*5)?")
_STARS = frozenset("★☆*")


def parse_month(raw: Any) -> int:
    """A month 1-12: ``3``, ``3月``, ``３月末``, ``March``; a date gives its month."""
    if isinstance(raw, (datetime, date)):
        return raw.month
    if isinstance(raw, str):
        s = _nfkc(raw)
        if m := _MONTH_RE.fullmatch(s):
            return _whole(raw, "month", 1, 12, Decimal(m.group("m")))
        month = _MONTH_NAMES.get(s.rstrip(".").casefold())
        if month:
            return month
    return _whole(raw, "month", 1, 12, _quantity(raw, "month"))


def parse_rating(raw: Any) -> int:
    """A rating 1-5: ``3``, ``3点``, ``3/5``, ``★★★``, ``★★★☆☆``."""
    if isinstance(raw, str):
        s = _nfkc(raw).replace(" ", "")
        if s and set(s) <= _STARS:
            return _whole(raw, "rating", 1, 5, Decimal(s.count("★") + s.count("*")))
        if m := _RATING_RE.fullmatch(s):
            return _whole(raw, "rating", 1, 5, Decimal(m.group("n")))
        raise _type_error("rating", raw)
    return _whole(raw, "rating", 1, 5, _quantity(raw, "rating"))


def parse_period_text(raw: Any, start_month: int = 4) -> str:
    """A fiscal period as its canonical text: ``fy2026 q3`` -> ``FY2026Q3``; 2026 -> ``FY2026``."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise _type_error("period", raw)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise _type_error("period", raw)
        raw_text = str(int(raw))
    else:
        raw_text = str(raw)
    try:
        p = parse_period(raw_text, start_month)
    except PeriodError:
        raise _type_error("period", raw) from None
    if not DATE_MIN.year <= p.fiscal_year <= DATE_MAX.year:
        raise _range_error(f"FY{DATE_MIN.year}", f"FY{DATE_MAX.year}", raw)
    return str(p)


# -- choices ---------------------------------------------------------------------------------
_FOLD_SEP_RE = re.compile(r"[\s_\-]+")
_SYMBOL_VARIANTS = str.maketrans({"◯": "○", "〇": "○", "✔": "✓", "✅": "✓", "✕": "×", "✖": "×", "╳": "×"})
_LOOKUPS: dict[int, tuple[ChoiceList, dict[str, str]]] = {}


def _fold(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).casefold().translate(_SYMBOL_VARIANTS)
    return _FOLD_SEP_RE.sub(" ", s).strip()


def _lookup(choices: ChoiceList) -> dict[str, str]:
    """folded text -> choice key, built once per ChoiceList object."""
    hit = _LOOKUPS.get(id(choices))
    if hit is not None and hit[0] is choices:
        return hit[1]
    table: dict[str, str] = {}
    for c in choices.choices:  # keys and labels first: they win over aliases
        for t in (c.key, c.label.ja, c.label.en):
            table.setdefault(_fold(str(t)), c.key)
    for c in choices.choices:
        for a in c.aliases:
            table.setdefault(_fold(str(a)), c.key)
    table.pop("", None)
    if len(_LOOKUPS) >= 256:
        _LOOKUPS.clear()
    _LOOKUPS[id(choices)] = (choices, table)
    return table


def _choice_error(raw: Any, choices: ChoiceList) -> NormalizeError:
    return NormalizeError("E-CHOICE", {
        "value": display_text(raw),
        "detail": {"ja": "／".join(choices.labels("ja")), "en": " / ".join(choices.labels("en"))},
        "choices": choices.keys(),
    })


def parse_choice(raw: Any, choices: ChoiceList) -> str:
    """The key of the choice whose key, label (ja/en) or alias ``raw`` is."""
    table = _lookup(choices)
    candidates: tuple[str, ...]
    if isinstance(raw, bool):
        candidates = ("TRUE", "yes") if raw else ("FALSE", "no")
    else:
        candidates = (display_text(raw),)
    for text in candidates:
        key = table.get(_fold(text))
        if key is not None:
            return key
    raise _choice_error(raw, choices)


# -- one value for one field -----------------------------------------------------------------
def _issue(code: str, value: Any, raw: Any, **params: Any) -> Normalized:
    return Normalized(value, code, {"value": display_text(raw), **params})


def _norm_amount(raw: Any, ctx: NormContext) -> Normalized:
    yen, rounded = _amount(raw, ctx.amount_factor)
    if rounded:
        return _issue("I-AMOUNT-ROUNDED", yen, raw, detail=f"{yen:,}")
    return Normalized(yen)


_PARSERS: dict[str, Callable[[Any, NormContext], Any]] = {
    "integer": lambda raw, ctx: parse_integer(raw),
    "number": lambda raw, ctx: parse_number(raw),
    "ratio": lambda raw, ctx: parse_number(raw),
    "score": lambda raw, ctx: parse_number(raw),
    "fraction": lambda raw, ctx: parse_number(raw),
    "percent": lambda raw, ctx: parse_percent(raw),
    "date": parse_date,
    "month": lambda raw, ctx: parse_month(raw),
    "rating": lambda raw, ctx: parse_rating(raw),
    "period": lambda raw, ctx: parse_period_text(raw, ctx.start_month),
}


def _norm_choice(fld: Field, raw: Any, text: str | None, spec: Spec) -> Normalized:
    choices = spec.choice_lists.get(fld.choices or "")
    if choices is None:  # a spec without the list: keep the text rather than lose it
        return Normalized(text if text is not None else display_text(raw))
    try:
        return Normalized(parse_choice(raw if text is None else text, choices))
    except NormalizeError as e:
        if text is not None and is_placeholder(text):
            return _issue("I-PLACEHOLDER", None, text)
        if fld.open:
            return _issue("I-CHOICE-OPEN", text if text is not None else display_text(raw), raw)
        return Normalized(None, e.code, e.params)


def normalize_value(field: Field, raw: Any, ctx: NormContext, spec: Spec) -> Normalized:
    """The clean value of ``raw`` for ``field``, or the issue that explains why not.  Never raises."""
    if raw is None:
        return Normalized(None)
    if isinstance(raw, CellError):  # #REF!, #N/A...: reported with the error, never blank
        return _issue("E-ERROR-VALUE", None, raw)
    text = None
    if isinstance(raw, str):
        text = raw.strip(_WS)
        if not text:
            return Normalized(None)
    ftype = field.type
    if ftype == "choice":
        return _norm_choice(field, raw, text, spec)
    if text is not None and is_placeholder(text):
        return _issue("I-PLACEHOLDER", None, text)
    try:
        if ftype == "amount":
            return _norm_amount(text if text is not None else raw, ctx)
        parser = _PARSERS.get(ftype)
        if parser is None:  # text, longtext, id (and any type this module does not know)
            return Normalized(text if text is not None else display_text(raw))
        return Normalized(parser(text if text is not None else raw, ctx))
    except NormalizeError as e:
        params = dict(e.params)
        params.setdefault("value", display_text(raw))
        return Normalized(None, e.code, params)


# -- the usual values, read directly -----------------------------------------------------------
class _Slow:
    """The type of :data:`SLOW`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SLOW"


#: what a :func:`fast_normalizer` returns for a value it leaves to :func:`normalize_value`
SLOW: Any = _Slow()
#: floats of smaller magnitude hold whole numbers exactly (``int(x)`` is ``Decimal(repr(x))``)
_EXACT_FLOAT = 2.0 ** 53
#: memo sizes: each memo is emptied when it reaches its size (hostile input cannot grow it)
_MEMO_SIZE = 4096
#: the longest text a memo keeps (dropdown labels and names are short)
_MEMO_TEXT = 64
_PLACEHOLDER_MEMO: dict[str, bool] = {}


def _short_placeholder(text: str) -> bool:
    """:func:`is_placeholder` of a text of at most 24 characters, memoised."""
    hit = _PLACEHOLDER_MEMO.get(text)
    if hit is None:
        if len(_PLACEHOLDER_MEMO) >= _MEMO_SIZE:
            _PLACEHOLDER_MEMO.clear()
        hit = _PLACEHOLDER_MEMO[text] = is_placeholder(text)
    return hit


def _fast_text(raw: Any, ctx: NormContext) -> Any:
    if type(raw) is str:
        text = raw.strip(_WS)
        if len(text) > 24:
            return text
        placeholder = _PLACEHOLDER_MEMO.get(text)
        if placeholder is None:
            placeholder = _short_placeholder(text)
        if text and not placeholder:
            return text
    return SLOW


def _fast_amount(raw: Any, ctx: NormContext) -> Any:
    kind, factor = type(raw), ctx.amount_factor
    if type(factor) is not int:
        return SLOW
    if kind is float:
        if not (-_EXACT_FLOAT < raw < _EXACT_FLOAT and raw.is_integer()):
            return SLOW  # a fraction of a yen (rounded, maybe reported), nan, huge
        yen = int(raw) * factor
    elif kind is int:
        yen = raw * factor
    else:
        return SLOW
    return yen if -AMOUNT_MAX <= yen <= AMOUNT_MAX else SLOW


def _fast_number(raw: Any, ctx: NormContext) -> Any:
    kind = type(raw)
    if kind is float:
        if -NUMBER_MAX < raw < NUMBER_MAX:  # false for nan and the infinities
            return int(raw) if raw.is_integer() else raw
    elif kind is int and -NUMBER_MAX < raw < NUMBER_MAX:
        return raw
    return SLOW


def _fast_whole(lo: int, hi: int) -> Callable[[Any, NormContext], Any]:
    """Integer, month and rating cells: a whole number from ``lo`` to ``hi``."""

    def fast(raw: Any, ctx: NormContext) -> Any:
        kind = type(raw)
        if (kind is float or kind is int) and lo <= raw <= hi and (kind is int or raw.is_integer()):
            return int(raw)
        return SLOW

    return fast


def _fast_percent(raw: Any, ctx: NormContext) -> Any:
    kind = type(raw)
    if (kind is float or kind is int) and 0 <= raw <= 100 and (kind is int or raw.is_integer()):
        return 100.0 if raw == 1 else float(raw) + 0.0  # a numeric 1 is 100 %
    return SLOW


def _fast_date(raw: Any, ctx: NormContext) -> Any:
    kind = type(raw)
    if kind is date:
        d = raw
    elif kind is datetime:
        d = raw.date()
    else:
        return SLOW
    return d if DATE_MIN <= d <= DATE_MAX else SLOW


def _fast_choice(choices: ChoiceList) -> Callable[[Any, NormContext], Any]:
    table = _lookup(choices)
    memo: dict[str, str] = {}  # typed text -> choice key

    def fast(raw: Any, ctx: NormContext) -> Any:
        if type(raw) is not str:
            return SLOW
        key = memo.get(raw)
        if key is None:
            text = raw.strip(_WS)
            key = table.get(_fold(text)) if text else None
            if key is None:  # a placeholder, open text or an error: the full path says which
                return SLOW
            if len(raw) <= _MEMO_TEXT:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[raw] = key
        return key

    return fast


_FAST: dict[str, Callable[[Any, NormContext], Any]] = {
    "amount": _fast_amount, "number": _fast_number, "ratio": _fast_number, "score": _fast_number,
    "fraction": _fast_number, "integer": _fast_whole(0, NUMBER_MAX - 1), "month": _fast_whole(1, 12),
    "rating": _fast_whole(1, 5), "percent": _fast_percent, "date": _fast_date,
}


def fast_normalizer(field: Field, spec: Spec) -> Callable[[Any, NormContext], Any] | None:
    """A function ``(raw, ctx) -> clean value`` for the values of ``field`` that read as they
    are -- a number in a number field, a date cell in a date field, a text in a text field, a
    label or alias in a choice field -- and :data:`SLOW` for every other value; None for a
    field without such values (a period).  Whenever it returns a value ``v``,
    ``normalize_value(field, raw, ctx, spec)`` is ``Normalized(v)`` (no issue): anything that
    would be reported (a placeholder, a rounded amount, a value out of range) is left to
    :func:`normalize_value`.  Text in a number or date field is always left to it.

    Built once per field of a spec: a choice field's function keeps its list's lookup and the
    texts it has resolved (a spec is not changed after it is built)."""
    ftype = field.type
    if ftype == "choice":
        choices = spec.choice_lists.get(field.choices or "")
        return None if choices is None else _fast_choice(choices)
    if ftype == "period":
        return None
    if ftype in _PARSERS or ftype == "amount":
        return _FAST.get(ftype)
    return _fast_text
