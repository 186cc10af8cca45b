"""Hypothesis strategies built from the template spec, so that failing examples shrink.

Everything is read from a :class:`~xltools.spec.Spec` (field types, choice lists with
their labels and aliases, required flags, table columns and their ``source``, id
columns, prefilled tables, required sections, the plan period); no field key is
written here.  Hypothesis is a development dependency: import this module from tests
only.

* :func:`cells` -- clean :mod:`xltools.spec.model` values for one field or column, per type
  (amounts in yen, percentages, dates, choice keys, text with Japanese and text that
  begins with ``=``...);
* :func:`messy` -- ``(typed text, value meant)``: the spellings the normaliser reads
  (全角数字, ``1億2千万円``, aliases, 和暦, ``3割``, ``★★★``...);
* :func:`plans` -- a valid :class:`~xltools.spec.model.PlanData`: required fields and
  columns filled, every reference resolvable, ids unique, required sections entered,
  prefilled tables one row per choice;
* :func:`invalid` -- a plan broken by exactly one validation rule (:data:`RULES`), as a
  :class:`Broken` carrying the issue code and where it must be reported;
* :func:`plan_info` -- the :class:`~xltools.workbook.generate.PlanInfo` that generates a plan's
  workbook.

The domain is what a workbook can hold: numbers have at most 15 significant digits (Excel's
precision; openpyxl writes 16), and a percentage strictly between 0 and 1 is not drawn,
because a number cell holding 0.5 reads as 50 % (the documented reading of fractions in
:mod:`xltools.checking.normalize`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

from hypothesis import strategies as st

from xltools.checking.normalize import (
    AMOUNT_MAX,
    DATE_MAX,
    DATE_MIN,
    NUMBER_MAX,
    NormalizeError,
    display_text,
    is_placeholder,
    parse_choice,
)
from xltools.checking.validate import REFERENCE_CODES, name_key
from xltools.spec.config import Settings
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import Period, parse_period
from xltools.spec.spec import Field, Section, Spec, Table, load_spec
from xltools.workbook.xlwrite import clean_text

__all__ = ["RULES", "RULE_CODES", "PLACEHOLDERS", "Broken", "cells", "messy", "periods", "plans", "invalid", "plan_info", "texts",
           "placeholders", "unit_field", "spellings", "sources"]

#: the validation rules :func:`invalid` breaks, and the issue code each one gives (a reference
#: gives the code :data:`xltools.checking.validate.REFERENCE_CODES` names for its column)
RULE_CODES: dict[str, str | None] = {
    "required_field": "E-REQUIRED",
    "required_column": "E-REQUIRED",
    "closed_choice": "E-CHOICE",
    "type": "E-TYPE",
    "range": "E-RANGE",
    "duplicate_id": "E-DUPLICATE-ID",
    "reference": None,
    "empty_section": "E-SECTION-EMPTY",
}
RULES = tuple(RULE_CODES)

#: value types read as numbers or dates (the ones :func:`invalid` breaks by type and range)
_TYPED = ("amount", "integer", "number", "percent", "date", "month", "rating", "period")

# -- text -------------------------------------------------------------------------------------

_WORDS = ("在庫削減", "DX推進", "株式会社東邦精機", "営業本部", "山田 太郎", "ｶﾌﾞｼｷｶﾞｲｼｬ", "ＡＢＣ商事", "①第一期",
          "Cloud ERP", "SaaS 導入", "〒100-0001 東京都千代田区", "決裁者へ提案", "見積提出済み")
_ALPHABET = st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\u2028\u2029")


def _clean(s: str) -> bool:
    """Text a cell holds exactly as written and the reader keeps as typed."""
    return bool(s) and display_text(s) == s and clean_text(s) == s and not is_placeholder(s)


@lru_cache(maxsize=None)
def texts(*, multiline: bool = False, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text as reps type it: Japanese and English words, symbols, full-width forms, text
    beginning with ``=`` ``+`` ``-`` ``@`` (it must stay text); never blank, never a
    placeholder (``未定``, ``-``), without surrounding whitespace."""
    alphabet = st.one_of(_ALPHABET, st.just("\n")) if multiline else _ALPHABET
    free = st.text(alphabet, min_size=1, max_size=max_size)
    formula_like = st.tuples(st.sampled_from("=+-@"), free).map("".join)
    words = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map("・".join)
    return st.one_of(words, free, formula_like, st.just("=SUM(A1:A3)"), st.just("=1+1")).filter(_clean)


#: text that means "nothing entered yet" (``I-PLACEHOLDER``)
PLACEHOLDERS = ("-", "－", "ー", "—", "?", "？", "…", "未定", "TBD", "tba", "N/A", "なし", "該当なし", "未入力")


def placeholders() -> st.SearchStrategy[str]:
    """Text that means "nothing entered yet" (``I-PLACEHOLDER``)."""
    return st.sampled_from(PLACEHOLDERS)


# -- periods ------------------------------------------------------------------------------------

def periods(start_month: int = 4, *, lo: int = DATE_MIN.year + 1, hi: int = DATE_MAX.year - 2) -> st.SearchStrategy[Period]:
    """Fiscal periods (a year or one of its quarters) whose dates lie inside the sensible range."""
    return st.builds(Period, st.integers(lo, hi), st.one_of(st.none(), st.integers(1, 4)), st.just(start_month))


# -- clean values per type ------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _default_spec() -> Spec:
    return Settings().apply(load_spec())


def _spec(spec: Spec | None) -> Spec:
    """``spec``, or the packaged spec with the default company settings."""
    return spec if spec is not None else _default_spec()


def _excel_float(x: float) -> float:
    """``x`` to the 15 significant digits Excel keeps (openpyxl writes 16, Excel shows 15)."""
    return float(f"{x:.15g}")


def _percent() -> st.SearchStrategy[float]:
    # 0, or 1.01 .. 100 in hundredths: a number cell in (0, 1] is read as a fraction
    return st.one_of(st.just(0.0), st.integers(101, 10_000).map(lambda n: n / 100))


def _open_text(spec: Spec, f: Field) -> st.SearchStrategy[str]:
    choices = spec.choices(f.choices)

    def free(s: str) -> bool:
        try:
            parse_choice(s, choices)
        except NormalizeError:
            return True
        return False

    return texts(max_size=20).filter(free)


#: built strategies by (spec, field, period, optional) -> (spec, strategy): building one costs
#: more than drawing from it (the spec is kept so that its id is never reused)
_CACHE: dict[tuple, tuple[Spec, st.SearchStrategy]] = {}


def _cached(spec: Spec, field: Field, period: Period | None, optional: bool,
            build: Callable[[], st.SearchStrategy]) -> st.SearchStrategy:
    key = (id(spec), field, period, optional)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not spec:
        hit = _CACHE[key] = (spec, build())
    return hit[1]


def cells(field: Field, spec: Spec | None = None, *, period: Period | None = None) -> st.SearchStrategy[Any]:
    """Clean values for ``field`` as :class:`~xltools.spec.model.PlanData` holds them."""
    spec = _spec(spec)
    return _cached(spec, field, period, False, lambda: _cells(field, spec, period))


def _maybe(field: Field, spec: Spec, period: Period | None) -> st.SearchStrategy[Any]:
    """Nothing, or a clean value."""
    return _cached(spec, field, period, True, lambda: st.one_of(st.none(), cells(field, spec, period=period)))


def _cells(field: Field, spec: Spec, period: Period | None) -> st.SearchStrategy[Any]:
    t = field.type
    if t == "amount":
        return st.one_of(st.integers(0, 10**10), st.integers(-AMOUNT_MAX, AMOUNT_MAX),
                         st.integers(1, 10**5).map(lambda n: n * 10_000))
    if t == "integer":
        return st.one_of(st.integers(0, 10**6), st.integers(0, NUMBER_MAX - 1))
    if t == "number":
        return st.one_of(st.integers(-10**6, 10**6), st.integers(-(NUMBER_MAX - 1), NUMBER_MAX - 1),
                         st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False).map(_excel_float))
    if t == "percent":
        return _percent()
    if t == "date":
        inside = st.dates(period.start, period.end - timedelta(days=1)) if period else st.nothing()
        return st.one_of(st.dates(DATE_MIN, DATE_MAX), inside)
    if t == "month":
        return st.integers(1, 12)
    if t == "rating":
        return st.integers(1, 5)
    if t == "period":
        return periods(period.start_month if period else 4).map(str)
    if t == "choice":
        keys = st.sampled_from(spec.choices(field.choices).keys())
        return st.one_of(keys, _open_text(spec, field)) if field.open else keys
    if t == "longtext":
        return texts(multiline=True, max_size=80)
    if t in ("text", "id"):
        return texts()
    raise ValueError(f"{field.key}: no clean values for type {t!r}")


# -- messy spellings --------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
#: (era, abbreviation, first day, year before its first year)
_ERAS = (("令和", "R", date(2019, 5, 1), 2018), ("平成", "H", date(1989, 1, 8), 1988),
         ("昭和", "S", date(1926, 12, 25), 1925))
_WEEKDAYS = "月火水木金土日"
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_PADS = (" ", "\u3000", "\u200b", "\t", "\ufeff")


def _fw(s: str) -> str:
    return s.translate(_FULLWIDTH)


def _dec_text(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _kanji_amount(v: int) -> str | None:
    """``120000000`` -> ``1億2千万円``; ``123456789`` -> ``1億2345万6789円``."""
    if v <= 0:
        return None
    parts, rest = [], v
    for unit, size in (("兆", 10**12), ("億", 10**8), ("万", 10**4)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n // 1000}千{unit}" if n % 1000 == 0 and n < 10_000 else f"{n}{unit}")
    if not parts:
        return None
    return "".join(parts) + (f"{rest}" if rest else "") + "円"


def _amount_forms(v: int, factor: int) -> list[str]:
    a = abs(v)
    forms = [f"{a:,}円", f"¥{a:,}", f"￥{a:,}", f"JPY {a:,}", f"{a}円", _fw(f"{a:,}") + "円", f"約{a:,}円",
             f"¥{a:,}-"]
    if (k := _kanji_amount(a)) is not None:
        forms += [k, _fw(k)]
    if a and a % 10**7 == 0 and a >= 10**8:
        forms.append(_dec_text(Decimal(a) / 10**8) + "億")
    if a and a % 10**4 == 0:
        forms.append(f"{a // 10**4:,}万円")
    if a and a % 1000 == 0:
        forms.append(f"{a // 1000}k")
    if a % factor == 0:
        forms += [f"{a // factor:,}", _fw(str(a // factor))]
    if v >= 0:
        return forms
    # a sign goes before the currency and the number, never after 約 or a trailing yen dash
    return [s for f in forms if not f.endswith("-") and not f.startswith("約")
            for s in (f"▲{f}", f"-{f}", f"△{f}")] + \
        [f"({a // factor:,})"] * (a % factor == 0)


def _date_forms(d: date, period: Period | None) -> list[str]:
    y, m, dd = d.year, d.month, d.day
    forms = [f"{y}/{m}/{dd}", f"{y}-{m:02d}-{dd:02d}", f"{y}.{m}.{dd}", f"{y}{m:02d}{dd:02d}", f"{y}年{m}月{dd}日",
             _fw(f"{y}/{m}/{dd}"), f"{y}/{m}/{dd}({_WEEKDAYS[d.weekday()]})", f"{y}/{m}/{dd} 10:00"]
    if 2000 <= y <= 2099:
        forms.append(f"{y % 100:02d}/{m}/{dd}")
    for era, abbr, first, base in _ERAS:
        if d >= first:
            n = y - base
            forms += [f"{era}{'元' if n == 1 else n}年{m}月{dd}日", f"{abbr}{n}.{m}.{dd}", f"{abbr.lower()}{n}/{m}/{dd}"]
            break
    if period is not None and period.year.contains(d):
        forms += [f"{m}月{dd}日", f"{m}/{dd}"]
    return forms


def _percent_forms(v: float) -> list[str]:
    d = Decimal(repr(v))
    p = _dec_text(d)
    forms = [f"{p}%", _fw(p) + "％", f"{p}パーセント", f"約{p}%"]
    if 0 < d < 100:
        forms.append(_dec_text(d / 100))  # a fraction typed as text
    if d == d.to_integral_value() and 10 <= d <= 100:
        wari, bu = divmod(int(d), 10)
        forms.append(f"{wari}割" + (f"{bu}分" if bu else ""))
    if d >= 1 and d != 1:
        forms.append(p)
    return forms


def _number_forms(v: int | float, counters: bool) -> list[str]:
    d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    a = abs(d)
    body = [f"{a:,}" if a == a.to_integral_value() else _dec_text(a), _fw(_dec_text(a))]
    if a == a.to_integral_value() and a >= 10**4 and a % 1000 == 0:
        body.append(_dec_text(a / 10**4) + "万")
    if counters:
        body += [b + suffix for b in body[:1] for suffix in ("人", "名", "件", "社")] + [f"約{body[0]}"]
    if d >= 0:
        return body
    return [f"{sign}{b}" for b in body for sign in ("-", "▲", "−")]


def _choice_forms(spec: Spec, f: Field, key: str) -> list[str]:
    try:
        c = spec.choices(f.choices).get(key)
    except KeyError:  # free text in an open list: kept as typed
        return [key]
    forms = [c.key, c.label.ja, c.label.en, c.label.en.upper(), c.label.en.lower(), _fw(c.label.en),
             f" {c.label.ja} "]
    # an alias that is also another choice's key or label means that other choice (keys and labels win)
    forms += [a for a in c.aliases if _reads_as(spec, f, a) == key]
    return [s for s in forms if _reads_as(spec, f, s) == key]


def _reads_as(spec: Spec, f: Field, text: str) -> str | None:
    try:
        return parse_choice(text, spec.choices(f.choices))
    except NormalizeError:
        return None


def spellings(f: Field, value: Any, spec: Spec, *, period: Period | None = None, factor: int = 1) -> list[str]:
    """Every messy spelling of ``value`` for ``f`` that :func:`messy` draws from (before the
    whitespace around it); ``None`` gives placeholders."""
    t = f.type
    if value is None:  # in a choice list ``?`` may be a choice (an alias of "unknown")
        return [p for p in PLACEHOLDERS if f.type != "choice" or _reads_as(spec, f, p) is None]
    if t == "amount":
        return _amount_forms(value, factor)
    if t == "date":
        return _date_forms(value, period)
    if t == "percent":
        return _percent_forms(value)
    if t in ("integer", "number"):
        return _number_forms(value, counters=t == "integer")
    if t == "month":
        return [f"{value}月", _fw(str(value)) + "月", f"{value}月末", f"{value}月期", _MONTHS_EN[value - 1],
                _MONTHS_EN[value - 1][:3], _fw(str(value))]
    if t == "rating":
        return ["★" * value, "★" * value + "☆" * (5 - value), f"{value}点", f"{value}/5", _fw(str(value))]
    if t == "period":
        p = parse_period(value)
        q = f"Q{p.quarter}" if p.quarter else ""
        forms = [value.lower(), _fw(value), f"FY{p.fiscal_year} {q}".strip(), f"{p.fiscal_year}年度"
                 + (f"第{p.quarter}四半期" if p.quarter else "")]
        return forms
    if t == "choice":
        return _choice_forms(spec, f, value)
    return [value]  # text: only the whitespace around it (see messy)


def unit_field(spec: Spec) -> Field | None:
    """The single field whose choices carry an amount ``factor`` (the workbook's amount unit)."""
    for f in spec.fields:
        if f.choices and all(c.factor for c in spec.choices(f.choices).choices):
            return f
    return None


def messy(field: Field, spec: Spec | None = None, *, value: Any = dataclasses.MISSING,
          period: Period | None = None, factor: int = 1) -> st.SearchStrategy[tuple[str, Any]]:
    """``(text as a person types it, the value it means)`` for ``field``.

    ``value`` fixes the value meant (``None``: a placeholder such as ``未定``); by default it
    is drawn from :func:`cells`.  ``period`` is the plan period (year-less dates such as
    ``4月1日`` are drawn only with it); ``factor`` the workbook's amount unit in yen (a
    number typed without a unit is in that unit)."""
    spec = _spec(spec)
    values = cells(field, spec, period=period) if value is dataclasses.MISSING else st.just(value)

    @st.composite
    def draw(data) -> tuple[str, Any]:
        v = data(values)
        text = data(st.sampled_from(spellings(field, v, spec, period=period, factor=factor)))
        left = data(st.text(st.sampled_from(_PADS), max_size=2))
        right = data(st.text(st.sampled_from(_PADS), max_size=2))
        return left + text + right, v

    return draw()


# -- valid plans --------------------------------------------------------------------------------

def plan_info(plan: PlanData, spec: Spec, *, lang: str = "ja"):
    """The :class:`~xltools.workbook.generate.PlanInfo` of ``plan``: its fields that are ``_meta``
    keys and PlanInfo arguments (account, rep, period...)."""
    from xltools.workbook.generate import PlanInfo

    names = {f.name for f in dataclasses.fields(PlanInfo)}
    kw = {k: plan.fields[k] for k in spec.meta_keys if k in names and plan.fields.get(k) is not None}
    return PlanInfo(lang=lang, plan_id=plan.meta.get("plan_id"), **kw)


def sources(spec: Spec) -> list[tuple[Table, Field, str, str]]:
    """(table, column, source table, source column) of every column fed from a table."""
    out = []
    for t in spec.tables:
        for c in t.columns:
            if c.source:
                src_table, _, src_col = c.source.partition(".")
                out.append((t, c, src_table, src_col))
    return out


def _prefill_choices(spec: Spec, t: Table):
    return list(spec.choices(t.column(t.prefill["column"]).choices).choices) if t.prefill else []


def _typed(t: Table) -> list[Field]:
    """The columns a value can be written into (inputs and locked ones, not formulas)."""
    return [c for c in t.columns if not c.computed]


@st.composite
def _row(draw, spec: Spec, t: Table, period: Period, fixed: dict | None = None) -> dict[str, Any]:
    """One row: required columns filled, at least one value, sources and ids left to the plan."""
    fixed = dict(fixed or {})
    free = [c for c in t.input_columns if not c.source and c.key != t.id_column and c.key not in fixed]
    anchor = draw(st.sampled_from(free)).key if free and not t.required_columns and not fixed else None
    values: dict[str, Any] = {}
    for c in _typed(t):
        if c.key in fixed:
            values[c.key] = fixed[c.key]
        elif not c.is_input or c.source or c.key == t.id_column:
            values[c.key] = None
        elif c.required or c.key == anchor:
            values[c.key] = draw(cells(c, spec, period=period))
        else:
            values[c.key] = draw(_maybe(c, spec, period))
    return values


def _entered(spec: Spec, plan_fields: dict, f: Field) -> bool:
    v = plan_fields.get(f.key)
    return v is not None and v != f.default and f.key not in spec.meta_keys


def _keep_entered(draw, spec: Spec, fields: dict, tables: dict[str, list[dict]], p: Period,
                  broken: str | None = None) -> None:
    """Every required section keeps an entry (a row of its first table, else a field) besides
    the ``broken`` field, whose value the checker does not read."""
    for s in spec.sections:
        if s.required and not any(_entered(spec, fields, f) for f in s.fields if f.is_input and f.key != broken) \
                and not any(tables[t.name] for t in s.tables):
            if s.tables:
                tables[s.tables[0].name].append(draw(_row(spec, s.tables[0], p)))
            else:
                f = next(f for f in s.fields if f.is_input and f.key not in spec.meta_keys and f.key != broken)
                fields[f.key] = draw(cells(f, spec, period=p))


def _rows(t: Table, dicts: list[dict]) -> list[Row]:
    return [Row(values=d, sheet="", row=0, index=i + 1) for i, d in enumerate(dicts)]


@st.composite
def _ids(draw, spec: Spec, t: Table, n: int) -> list[str | None]:
    col = t.column(t.id_column)
    ids = draw(st.lists(cells(col, spec), min_size=n, max_size=n, unique_by=name_key))
    return [draw(st.one_of(st.none(), st.just(i))) for i in ids]


def _resolve(draw, spec: Spec, tables: dict[str, list[dict]]) -> None:
    """Fill the columns fed from another table with values that table holds (or nothing)."""
    for t, c, src_table, src_col in sources(spec):
        known = list(dict.fromkeys(r[src_col] for r in tables[src_table] if r.get(src_col) is not None))
        for r in tables[t.name]:
            r[c.key] = draw(st.one_of(st.none(), st.sampled_from(known))) if known else None


def _unresolved(spec: Spec, tables: dict[str, list[dict]]) -> None:
    """Clear values that no longer name a row of their source table."""
    for t, c, src_table, src_col in sources(spec):
        known = {name_key(r[src_col]) for r in tables[src_table] if r.get(src_col) is not None}
        for r in tables[t.name]:
            if r.get(c.key) is not None and name_key(r[c.key]) not in known:
                r[c.key] = None


@st.composite
def plans(draw, spec: Spec | None = None, settings: Settings | None = None, *,
          period: Period | str | None = None, max_rows: int = 3) -> PlanData:
    """A valid plan: written by the generator and read back it gives no error and the same
    values.  Tables get 0..``max_rows`` rows (prefilled tables one row per choice)."""
    settings = settings or Settings()
    spec = spec if spec is not None else settings.apply(load_spec())
    start = settings.fiscal_year_start_month
    if period is None:
        p = draw(periods(start))
    else:
        p = period if isinstance(period, Period) else parse_period(str(period), start)
    fields: dict[str, Any] = {}
    for f in spec.input_fields:
        if f.type == "period" and f.key in spec.meta_keys:
            fields[f.key] = str(p)
        elif f.required or f.default is not None:
            fields[f.key] = draw(cells(f, spec, period=p))
        else:
            fields[f.key] = draw(_maybe(f, spec, p))
    tables: dict[str, list[dict]] = {}
    for t in spec.tables:
        if t.prefill:
            col = t.column(t.prefill["column"])
            rows = []
            for choice in _prefill_choices(spec, t):
                row = draw(_row(spec, t, p, {col.key: choice.key}))
                for c in _typed(t):
                    if not c.is_input:  # locked columns take the choice's attribute (weight)
                        row[c.key] = getattr(choice, c.key, None)
                rows.append(row)
        else:
            rows = draw(st.lists(_row(spec, t, p), max_size=max_rows))
        tables[t.name] = rows
    _keep_entered(draw, spec, fields, tables, p)
    for t in spec.tables:
        if t.id_column and tables[t.name]:
            for r, i in zip(tables[t.name], draw(_ids(spec, t, len(tables[t.name])))):
                r[t.id_column] = i
    _resolve(draw, spec, tables)
    return PlanData(meta={}, fields=fields, tables={t.name: _rows(t, tables[t.name]) for t in spec.tables})


# -- plans broken by one rule ----------------------------------------------------------------------

@dataclass
class Broken:
    """A plan broken by one rule, and the issue the check must report for it.

    The position is a field (``field``), a table cell (``table``, ``field`` = column,
    ``row`` = 1-based data row) or, for an empty section, ``section`` (the first input
    field of the section, or the first data cell of its first table)."""

    plan: PlanData
    rule: str
    code: str
    field: str | None = None
    table: str | None = None
    row: int | None = None
    section: str | None = None
    value: Any = None


def _copy_tables(plan: PlanData) -> dict[str, list[dict]]:
    return {name: [dict(r.values) for r in rows] for name, rows in plan.tables.items()}


def _bad_words() -> st.SearchStrategy[str]:
    """Text no number, date, month, rating, period or choice reader accepts."""
    return st.text(st.sampled_from("qxzQXZぬゐ"), min_size=2, max_size=8)


def _out_of_range(f: Field) -> st.SearchStrategy[Any] | None:
    t = f.type
    if t == "amount":
        return st.one_of(st.integers(AMOUNT_MAX + 1, 10**17), st.integers(-(10**17), -(AMOUNT_MAX + 1)))
    if t == "integer":
        return st.integers(-(10**9), -1)
    if t == "number":
        return st.integers(NUMBER_MAX, 10**17)
    if t == "percent":
        return st.one_of(st.integers(101, 10**6), st.integers(-100, -1))
    if t == "month":
        return st.one_of(st.just(0), st.integers(13, 99))
    if t == "rating":
        return st.one_of(st.just(0), st.integers(6, 99))
    if t == "date":
        return st.one_of(st.dates(date(1901, 1, 1), DATE_MIN - timedelta(days=1)),
                         st.dates(DATE_MAX + timedelta(days=1), date(2999, 12, 31)))
    if t == "period":
        return st.one_of(st.integers(1900, DATE_MIN.year - 1), st.integers(DATE_MAX.year + 1, 2999)).map(
            lambda y: f"FY{y}")
    return None


def _places(spec: Spec, plan: PlanData, pred: Callable[[Field], bool]) -> list[tuple[Table | None, Field]]:
    """Single fields (not generated from PlanInfo) and table columns a value can be typed into."""
    out: list[tuple[Table | None, Field]] = [(None, f) for f in spec.input_fields
                                             if f.key not in spec.meta_keys and pred(f)]
    out += [(t, c) for t in spec.tables for c in t.input_columns if pred(c) and not t.prefill]
    return out


@st.composite
def _into(draw, spec: Spec, plan: PlanData, place: tuple[Table | None, Field],
          values: Callable[[dict[str, list[dict]]], st.SearchStrategy[Any]], rule: str, code: str) -> Broken:
    """``plan`` with a value typed into ``place`` (a field, or a column of an existing or
    added row); ``values(tables)`` gives the strategy for it once the row is in place."""
    t, f = place
    fields, tables = dict(plan.fields), _copy_tables(plan)
    if t is None:
        fields[f.key] = value = draw(values(tables))
        _keep_entered(draw, spec, fields, tables, _plan_period(spec, plan), broken=f.key)
        return Broken(_rebuilt(spec, plan, fields, tables), rule, code, field=f.key, value=value)
    rows = tables[t.name]
    if not rows or draw(st.booleans()):
        rows.append(draw(_row(spec, t, _plan_period(spec, plan))))
    i = draw(st.integers(0, len(rows) - 1))
    rows[i][f.key] = value = draw(values(tables))
    return Broken(_rebuilt(spec, plan, fields, tables), rule, code, field=f.key, table=t.name, row=i + 1,
                  value=value)


def _plan_period(spec: Spec, plan: PlanData) -> Period:
    for f in spec.fields:
        if f.type == "period" and f.key in spec.meta_keys and plan.fields.get(f.key):
            return parse_period(plan.fields[f.key])
    raise ValueError("the plan has no period")


def _rebuilt(spec: Spec, plan: PlanData, fields: dict, tables: dict[str, list[dict]]) -> PlanData:
    return PlanData(meta=dict(plan.meta), fields=fields,
                    tables={t.name: _rows(t, tables[t.name]) for t in spec.tables})


def invalid(rule: str, spec: Spec | None = None, settings: Settings | None = None, *,
            period: Period | str | None = None, max_rows: int = 3) -> st.SearchStrategy[Broken]:
    """A valid plan (:func:`plans`) broken by exactly one rule of :data:`RULES`."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; one of {sorted(RULES)}")
    settings = settings or Settings()
    spec = spec if spec is not None else settings.apply(load_spec())
    return _invalid(rule, spec, settings, period, max_rows)


@st.composite
def _invalid(draw, rule: str, spec: Spec, settings: Settings, period: Period | str | None,
             max_rows: int) -> Broken:
    plan = draw(plans(spec, settings, period=period, max_rows=max_rows))
    p = _plan_period(spec, plan)
    code = RULE_CODES[rule] or ""
    if rule == "required_field":
        f = draw(st.sampled_from([f for f in spec.input_fields if f.required and f.key not in spec.meta_keys]))
        fields, tables = {**plan.fields, f.key: None}, _copy_tables(plan)
        _keep_entered(draw, spec, fields, tables, p, broken=f.key)
        return Broken(_rebuilt(spec, plan, fields, tables), rule, code, field=f.key)
    if rule == "required_column":
        t = draw(st.sampled_from([t for t in spec.tables if t.required_columns and not t.prefill]))
        c = draw(st.sampled_from(t.required_columns))
        tables = _copy_tables(plan)
        rows = tables[t.name]
        if not rows or draw(st.booleans()):
            rows.append(draw(_row(spec, t, p)))
        i = draw(st.integers(0, len(rows) - 1))
        rows[i][c.key] = None
        if all(v is None for v in rows[i].values()):
            other = draw(st.sampled_from([x for x in t.input_columns if x.key != c.key and not x.source
                                          and x.key != t.id_column]))
            rows[i][other.key] = draw(cells(other, spec, period=p))
        _unresolved(spec, tables)
        return Broken(_rebuilt(spec, plan, dict(plan.fields), tables), rule, code, field=c.key, table=t.name,
                      row=i + 1)
    if rule == "closed_choice":
        place = draw(st.sampled_from(_places(spec, plan, lambda f: f.type == "choice" and not f.open)))
        return draw(_into(spec, plan, place, lambda _: _bad_words(), rule, code))
    if rule == "type":
        place = draw(st.sampled_from(_places(spec, plan, lambda f: f.type in _TYPED and not f.source)))
        return draw(_into(spec, plan, place, lambda _: _bad_words(), rule, code))
    if rule == "range":
        place = draw(st.sampled_from(_places(spec, plan, lambda f: _out_of_range(f) is not None)))
        return draw(_into(spec, plan, place, lambda _: _out_of_range(place[1]), rule, code))
    if rule == "duplicate_id":
        t = draw(st.sampled_from([t for t in spec.tables if t.id_column]))
        tables = _copy_tables(plan)
        rows = tables[t.name]
        while len(rows) < 2:
            rows.append(draw(_row(spec, t, p)))
        i, j = sorted(draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True)))
        if rows[i][t.id_column] is None:
            taken = {name_key(r[t.id_column]) for r in rows if r[t.id_column] is not None}
            rows[i][t.id_column] = draw(cells(t.column(t.id_column), spec).filter(lambda v: name_key(v) not in taken))
        rows[j][t.id_column] = rows[i][t.id_column]
        return Broken(_rebuilt(spec, plan, dict(plan.fields), tables), rule, code, field=t.id_column,
                      table=t.name, row=j + 1, value=rows[i][t.id_column])
    if rule == "reference":
        t, c, src_table, src_col = draw(st.sampled_from(
            [s for s in sources(spec) if f"{s[0].name}.{s[1].key}" in REFERENCE_CODES]))

        def strangers(tables: dict[str, list[dict]]) -> st.SearchStrategy[str]:
            known = {name_key(r[src_col]) for r in tables[src_table] if r.get(src_col) is not None}
            return texts(max_size=12).filter(lambda v: name_key(v) not in known)

        return draw(_into(spec, plan, (t, c), strangers, rule, REFERENCE_CODES[f"{t.name}.{c.key}"]))
    # empty_section
    candidates = [s for s in spec.sections if _can_empty(spec, s)]
    s = draw(st.sampled_from(candidates))
    fields = {k: (spec.field(k).default if spec.field(k).section == s.key and k not in spec.meta_keys
                  else v) for k, v in plan.fields.items()}
    tables = _copy_tables(plan)
    for t in s.tables:
        tables[t.name] = []
    _unresolved(spec, tables)
    for name, rows in tables.items():  # a row that only named the emptied rows is gone with them
        tables[name] = [r for r in rows if any(v is not None for v in r.values())]
    return Broken(_rebuilt(spec, plan, fields, tables), rule, code, section=s.key)


def _can_empty(spec: Spec, s: Section) -> bool:
    """A required section that can be left empty without any other error: no required input
    besides what generation writes (``_meta`` keys), no prefilled table."""
    return s.required and not any(f.required and f.is_input and f.key not in spec.meta_keys for f in s.fields) \
        and not any(t.prefill for t in s.tables)
