"""The roster: which rep plans which account (one row per workbook to generate).

A roster is an ``.xlsx`` (first sheet with a recognisable header row) or a ``.csv``
(UTF-8, UTF-8 with BOM, or Shift_JIS/CP932 as Japanese Excel saves it; comma or tab
separated).  Header labels are recognised in Japanese or English, taken from the
spec's field labels (``rep`` 担当営業, ``account_name`` 顧客名, ``account_id`` 顧客コード,
``sales_target`` 売上目標, ``team_members`` チームメンバー) or the field keys, plus
``target`` and a language column (言語 / lang / language).  Columns may come in any
order; unknown columns are ignored.

A bad row (a required value missing, a target that is not an amount, an unknown
language) becomes an :class:`~xltools.spec.issues.Issue` naming the row and the cell; the
other rows are still returned.  A roster that cannot be used at all (unreadable, no
header row, a required column missing) raises :class:`RosterError`.
"""
from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from xltools.cells import a1
from xltools.checking.validate import name_key
from xltools.errors import XltoolsError
from xltools.spec.issues import Issue
from xltools.spec.spec import Label, Spec

#: roster columns that carry spec fields, in the order they are reported
ROSTER_FIELDS = ("rep", "account_name", "account_id", "sales_target", "team_members")
REQUIRED = ("rep", "account_name")
LANG_COLUMN = "lang"
LANG_LABEL = Label("言語", "Language")
#: extra header texts accepted besides the spec labels and keys
EXTRA_HEADERS = {"sales_target": ("target", "目標", "売上目標額"), LANG_COLUMN: ("lang", "language", "言語")}
LANG_VALUES = {"ja": ("ja", "jp", "jpn", "japanese", "日本語", "日"), "en": ("en", "eng", "english", "英語", "英")}
HEADER_SEARCH_ROWS = 10
CSV_ENCODINGS = ("utf-8-sig", "cp932")
_UNITS = {"億": 10 ** 8, "千万": 10 ** 7, "百万": 10 ** 6, "万": 10 ** 4, "千": 10 ** 3}
_AMOUNT_PART = re.compile(r"(\d+(?:\.\d+)?)(億|千万|百万|万|千)?")


class RosterError(XltoolsError):
    """The roster file cannot be used at all."""

    code = "roster"


class RosterNotFoundError(RosterError):
    code = "roster-not-found"
    template = Label("{path}: 名簿のファイルがありません", "{path}: roster file not found")


class RosterFormatError(RosterError):
    code = "roster-format"
    template = Label("{path}: 名簿は .xlsx か .csv にしてください（{suffix}）",
                     "{path}: a roster must be .xlsx or .csv (got {suffix})")


class RosterUnreadableError(RosterError):
    code = "roster-unreadable"
    template = Label("{path}: 名簿のブックを読み込めません（{reason}）", "{path}: cannot read the roster workbook ({reason})")


class RosterEncodingError(RosterError):
    code = "roster-encoding"
    template = Label("{path}: CSV が UTF-8 でも Shift_JIS でもありません。CSV UTF-8 で保存してください",
                     "{path}: the CSV is neither UTF-8 nor Shift_JIS; save it as CSV UTF-8")


class RosterColumnTwiceError(RosterError):
    code = "roster-column-twice"
    template = Label("{path}: {row} 行目に「{ja}」の列が二つあります（{first} と {second}）",
                     "{path}: row {row} has two columns for '{en}' ({first} and {second})")


class RosterHeaderError(RosterError):
    code = "roster-no-header"
    template = Label("{path}: 最初の {rows} 行に {ja} の列がある見出し行がありません",
                     "{path}: no header row with the columns {en} in the first {rows} rows")


@dataclass(frozen=True)
class RosterEntry:
    """One roster row that can be generated."""

    row: int  # row number in the sheet / line in the CSV (1-based)
    rep: str
    account_name: str
    account_id: str | None = None
    target: int | None = None  # yen
    lang: str | None = None  # None: the default language
    team_members: str | None = None


class Roster(list[RosterEntry]):
    """The usable rows (a ``list`` of :class:`RosterEntry`) plus ``errors`` for the rows
    that were left out, ``path`` and the ``sheet`` that was read."""

    #: when the roster was stored (UTC); set only on a roster loaded from the store
    stored_at: datetime | None

    def __init__(self, entries: Iterable[RosterEntry] = (), errors: Iterable[Issue] | None = None, path: str = "",
                 sheet: str | None = None):
        super().__init__(entries)
        self.errors: list[Issue] = list(errors or [])
        self.path = path
        self.sheet = sheet


def _norm_header(text: Any) -> str:
    s = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return re.sub(r"[\s_\-*・:：()（）]|必須|required", "", s)


def header_aliases(spec: Spec) -> dict[str, str]:
    """Normalised header text -> roster column key."""
    out: dict[str, str] = {}
    for key in ROSTER_FIELDS:
        f = spec.field(key)
        for text in (key, *f.label.all(), *EXTRA_HEADERS.get(key, ())):
            out[_norm_header(text)] = key
    for text in (*LANG_LABEL.all(), *EXTRA_HEADERS[LANG_COLUMN]):
        out[_norm_header(text)] = LANG_COLUMN
    return out


def column_label(spec: Spec, key: str) -> Label:
    return LANG_LABEL if key == LANG_COLUMN else spec.field(key).label


# -- values ------------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = unicodedata.normalize("NFC", str(value)).strip()
    s = re.sub(r"\s+", " ", s)
    return s or None


def parse_yen(value: Any) -> int:
    """An amount in yen from a roster cell or a command-line option: ``12000000``,
    ``12,000,000``, ``１２，０００，０００円``, ``¥12,000,000``, ``1200万``, ``1億2000万``,
    ``3千万``.  Raises ``ValueError`` for anything else (negative amounts included)."""
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(str(value))
    else:
        s = unicodedata.normalize("NFKC", str(value)).strip()
        s = re.sub(r"[\s,¥\\]|円$|^JPY|JPY$", "", s, flags=re.IGNORECASE)
        if not s:
            raise ValueError("empty")
        pos, total = 0, Decimal(0)
        last_unit = None
        while pos < len(s):
            m = _AMOUNT_PART.match(s, pos)
            if not m or (m.group(2) is None and m.end() != len(s)):
                raise ValueError("not an amount")
            unit = _UNITS[m.group(2)] if m.group(2) else 1
            if last_unit is not None and unit >= last_unit:
                raise ValueError("not an amount")
            try:
                total += Decimal(m.group(1)) * unit
            except InvalidOperation:
                raise ValueError("not an amount") from None
            last_unit, pos = unit, m.end()
        d = total
    if not d.is_finite() or d < 0:
        raise ValueError("negative or not finite")
    return int(d.to_integral_value())


def parse_lang(value: Any) -> str | None:
    s = _text(value)
    if s is None:
        return None
    s = unicodedata.normalize("NFKC", s).casefold()
    for lang, names in LANG_VALUES.items():
        if s in names:
            return lang
    raise ValueError("ja or en")


# -- files -------------------------------------------------------------------------------

def _xlsx_rows(path: Path) -> tuple[str, Iterator[tuple[Any, ...]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise RosterUnreadableError(path=str(path), reason=str(e)) from None
    ws = next((w for w in wb.worksheets if w.sheet_state == "visible"), wb.worksheets[0])
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return ws.title, iter(rows)


def _csv_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    raw = path.read_bytes()
    for enc in CSV_ENCODINGS:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterEncodingError(path=str(path))
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    return (tuple(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def read_roster(path: str | os.PathLike[str], spec: Spec) -> Roster:
    """Read a roster file.  See the module docs for the accepted layouts."""
    p = Path(path)
    if not p.is_file():
        raise RosterNotFoundError(path=str(p))
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheet, rows = _xlsx_rows(p)
    elif suffix in (".csv", ".txt", ".tsv"):
        sheet, rows = None, _csv_rows(p)
    else:
        raise RosterFormatError(path=str(p), suffix=suffix or "-")
    aliases = header_aliases(spec)
    columns: dict[str, int] = {}
    header_row = 0
    for n, row in enumerate(rows, 1):
        found: dict[str, int] = {}
        for i, cell in enumerate(row):
            key = aliases.get(_norm_header(cell))
            if key is None:
                continue
            if key in found:
                raise RosterColumnTwiceError(path=str(p), row=n, ja=column_label(spec, key).ja,
                                             en=column_label(spec, key).en, first=a1(n, found[key] + 1),
                                             second=a1(n, i + 1))
            found[key] = i
        if all(k in found for k in REQUIRED):
            columns, header_row = found, n
            break
        if n >= HEADER_SEARCH_ROWS:
            break
    if not header_row:
        raise RosterHeaderError(path=str(p), rows=HEADER_SEARCH_ROWS,
                                ja="・".join(column_label(spec, k).ja for k in REQUIRED),
                                en=", ".join(column_label(spec, k).en for k in REQUIRED))
    roster = Roster(path=str(p), sheet=sheet)
    first_row: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, header_row + 1):
        entry = _entry(spec, roster, n, row, columns)
        if entry is None:
            continue
        line = (name_key(entry.rep), account_key(entry.account_id, entry.account_name))
        if line in first_row:  # a second workbook would get a new plan_id and conflict later
            cell = a1(n, columns["account_name"] + 1)
            roster.errors.append(Issue("E-ROSTER-DUPLICATE", file=roster.path, sheet=roster.sheet, cell=cell,
                                       field="account_name", raw=entry.account_name, row=n,
                                       params={"row": n, "first": first_row[line],
                                               "detail": f"{entry.rep} × {entry.account_name}"}))
            continue
        first_row[line] = n
        roster.append(entry)
    return roster


def account_key(account_id: str | None, account_name: str) -> str:
    """Which account a line is, as the store tells accounts apart: by code, else by name."""
    return f"id:{name_key(account_id)}" if account_id else f"name:{name_key(account_name)}"


def _entry(spec: Spec, roster: Roster, n: int, row: tuple[Any, ...], columns: dict[str, int]) -> RosterEntry | None:
    def raw(key: str) -> Any:
        i = columns.get(key)
        return row[i] if i is not None and i < len(row) else None

    if all(_text(v) is None for v in row):
        return None
    errors: list[Issue] = []

    def err(code: str, key: str, value: Any = None, detail: str | Label = "") -> None:
        cell = a1(n, columns[key] + 1)
        errors.append(Issue(code, file=roster.path, sheet=roster.sheet, cell=cell,
                            field=key if key != LANG_COLUMN else None, raw=value, row=n,
                            params={"label": column_label(spec, key), "row": n, "cell": cell,
                                    "detail": detail}))

    values = {k: _text(raw(k)) for k in ROSTER_FIELDS if k != "sales_target"}
    for key in REQUIRED:
        if values[key] is None:
            err("E-ROSTER-REQUIRED", key)
    target = None
    if _text(raw("sales_target")) is not None:
        try:
            target = parse_yen(raw("sales_target"))
        except ValueError:
            err("E-ROSTER-VALUE", "sales_target", raw("sales_target"),
                Label("円の金額（例：12000000、1,200万）", "an amount in yen, e.g. 12000000"))
    lang = None
    if LANG_COLUMN in columns:
        try:
            lang = parse_lang(raw(LANG_COLUMN))
        except ValueError:
            err("E-ROSTER-VALUE", LANG_COLUMN, raw(LANG_COLUMN), Label("ja または en", "ja or en"))
    if errors:
        roster.errors.extend(errors)
        return None
    rep, account_name = values["rep"], values["account_name"]
    assert rep is not None and account_name is not None  # REQUIRED: a missing one is an error above
    return RosterEntry(row=n, rep=rep, account_name=account_name,
                       account_id=values["account_id"], target=target, lang=lang,
                       team_members=values["team_members"])


# -- lines without a plan -------------------------------------------------------------------

@dataclass(frozen=True)
class MissingSubmission:
    """A roster line (rep x account) with no plan received for the period."""

    rep: str
    account_name: str
    account_id: str | None
    period: str
    roster_row: int

    def to_dict(self) -> dict[str, Any]:
        return {"rep": self.rep, "account_name": self.account_name, "account_id": self.account_id,
                "period": self.period, "roster_row": self.roster_row}

    def issue(self, roster_path: str | None = None) -> Issue:
        """The ``W-MISSING-SUBMISSION`` issue of this line."""
        who = f"{self.rep} × {self.account_name}" + (f" ({self.account_id})" if self.account_id else "")
        return Issue("W-MISSING-SUBMISSION", file=roster_path, row=self.roster_row, field="rep", raw=self.rep,
                     params={"detail": f"{self.period} {who}"})


def _norm(value: Any) -> str:
    return name_key(value) if value is not None else ""


def missing_submissions(roster: Sequence[Any], received: Iterable[dict[str, Any]], period: str
                        ) -> list[MissingSubmission]:
    """Roster lines without a received plan for ``period``.

    ``roster``: :class:`~xltools.checking.roster.RosterEntry` items; ``received``: plan versions
    (``account_id``, ``account_name``, ``rep``) of the period, any status.  An account
    matches by account ID when both sides have one, else by name (NFKC, spaces and case
    ignored).  A plan from the roster's rep covers that line; a plan from a rep the
    roster does not name for that account covers the account's remaining line(s)."""
    def account_keys(acc_id: Any, name: Any) -> set[str]:
        keys = set()
        if _norm(acc_id):
            keys.add("id:" + _norm(acc_id))
        if _norm(name):
            keys.add("name:" + _norm(name))
        return keys

    def matches(entry: Any, version: dict[str, Any]) -> bool:
        if _norm(entry.account_id) and _norm(version.get("account_id")):
            return _norm(entry.account_id) == _norm(version.get("account_id"))
        return _norm(entry.account_name) == _norm(version.get("account_name"))

    versions = list(received)
    roster_reps: dict[str, set[str]] = {}
    for e in roster:
        for k in account_keys(e.account_id, e.account_name):
            roster_reps.setdefault(k, set()).add(_norm(e.rep))
    out = []
    for e in roster:
        same = [v for v in versions if matches(e, v)]
        if any(_norm(v.get("rep")) == _norm(e.rep) for v in same):
            continue
        listed = set().union(*(roster_reps.get(k, set()) for k in account_keys(e.account_id, e.account_name)))
        if any(_norm(v.get("rep")) not in listed for v in same):
            continue
        out.append(MissingSubmission(rep=e.rep, account_name=e.account_name, account_id=e.account_id,
                                     period=period, roster_row=e.row))
    return out
