"""``xltools export``: the store's contents as flat records for BI tools.

Tables: every spec table by its database name (``opportunities``, ``contacts``,
``activities``, ``initiatives``, ``reviews``, ``kpis``, ``success_cases``,
``financials``, ``our_business``, ``selection_scores``) plus ``plans`` (one record
per plan version with every single-value field), ``issues`` and ``files`` (the
ledger).  Records use the spec's field keys after the plan context (``plan_id``,
``account_id``, ``account_name``, ``rep``, ``period``, ``source_file``); amounts are
integers in yen, probability 0-100, dates and times ISO 8601.  Current versions
by default, every version with ``all_versions``.

CSV is UTF-8 with a BOM (Excel then opens Japanese correctly); text beginning with
``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) gets a leading ``'`` so a
spreadsheet never runs it as a formula (CSV injection).  JSON is an array of
objects in UTF-8 with native numbers, booleans and nulls.
"""
from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime
from typing import IO, Any, Iterable

from xltools.messages import Label
from xltools.spec.spec import Spec
from xltools.store.engine import Store, StoreError, UnknownTableError

FORMATS = ("csv", "json")
#: tables that are not spec tables
EXTRA_TABLES = ("plans", "issues", "files")
#: text starting with one of these is prefixed with ' in CSV
CSV_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def table_names(spec: Spec | None = None) -> list[str]:
    """Every name ``export`` accepts (database names)."""
    from xltools.spec.spec import load_spec
    from xltools.store.schema import spec_tables

    return list(spec_tables(spec or load_spec())) + list(EXTRA_TABLES)


def export_records(store: Store, table: str, *, period: str | None = None,
                   all_versions: bool = False) -> tuple[list[str], list[dict[str, Any]]]:
    """(column keys, records) of one exportable table."""
    key = table.strip().replace("-", "_").lower()
    if key == "plans":
        cols = [c for c in store.columns("versions") if c != "meta"]
        recs = store.versions(period, all_versions)
        return cols, [{c: r[c] for c in cols} for r in recs]
    if key == "issues":
        return store.columns("issues"), store.issues(period, all_versions)
    if key == "files":
        return store.columns("files"), store.files(period)
    try:
        name = store.table_name(key)
    except UnknownTableError:
        names = ", ".join(table_names(store.spec))
        raise UnknownTableError(Label(f"書き出せる表ではありません: {table}（{names}）",
                              f"Cannot export {table!r}; choose one of: {names}")) from None
    return store.columns(name), store.rows(name, period, all_versions)


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def csv_cell(value: Any) -> str:
    """One CSV field: ISO dates, empty for None, text guarded against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(CSV_FORMULA_CHARS) else value
    return str(_plain(value))


def write_csv(columns: list[str], records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write records as CSV (header = column keys) to a text stream; returns the count."""
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    n = 0
    for rec in records:
        w.writerow([csv_cell(rec.get(c)) for c in columns])
        n += 1
    return n


def write_json(columns: list[str], records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write records as a JSON array of objects (one per line) to a text stream."""
    n = 0
    out.write("[")
    for rec in records:
        out.write(",\n" if n else "\n")
        out.write(json.dumps({c: _plain(rec.get(c)) for c in columns}, ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def _write(fmt: str, columns: list[str], records: list[dict[str, Any]], binary: IO[bytes]) -> int:
    enc = "utf-8-sig" if fmt == "csv" else "utf-8"
    text = io.TextIOWrapper(binary, encoding=enc, newline="")
    try:
        return (write_csv if fmt == "csv" else write_json)(columns, records, text)
    finally:
        text.flush()
        text.detach()


def export_table(table: str, *, db_url: str | None = None, fmt: str = "csv",
                 output: str | os.PathLike | IO[bytes] | None = None, period: str | None = None,
                 all_versions: bool = False, spec: Spec | None = None) -> int:
    """Export one table of the store to ``output`` (a path, a binary stream; None: stdout).
    A file is written atomically: on error the previous file is left as it was.
    Returns the number of records."""
    import sys

    if fmt not in FORMATS:
        raise StoreError(Label(f"形式 {fmt} には対応していません（{', '.join(FORMATS)}）",
                              f"Unsupported format {fmt!r} (choose {', '.join(FORMATS)})"))
    with Store(db_url, spec, create=False) as store:
        columns, records = export_records(store, table, period=period, all_versions=all_versions)
    if output is None or hasattr(output, "write"):
        stream = output if output is not None else sys.stdout.buffer
        return _write(fmt, columns, records, stream)
    from xltools.workbook.outfile import atomic_path

    with atomic_path(output) as tmp, open(tmp, "wb") as fh:
        n = _write(fmt, columns, records, fh)
    return n
