"""pandas for analysts: the store's tables and one workbook's plan as DataFrames.

``xltools.frames(db, "opportunities", period="FY2026Q3")`` gives the same records as
``xltools export opportunities`` with typed columns: choice columns as ``category``
(the spec's keys as categories, in the spec's order; labels of either language via
:func:`labels`), amounts as nullable ``Int64`` yen, dates and times as
``datetime64``, the plan context (``plan_id``, ``account_id``, ``account_name``,
``rep``, ``period``) first.  ``xltools.read_plan(path)`` checks one workbook and
returns its validated plan, with :meth:`PlanFrame.frames` (a DataFrame per table), the
single fields as a Series and the issues as a DataFrame.

pandas is imported only when these are called: ``xltools --help`` and ``check`` never
pay for it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xltools.spec.config import Settings, load_settings
from xltools.spec.spec import Field, Spec, load_spec
from xltools.store import schema as sch

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from xltools.checking.check import FileReport
    from xltools.store.engine import Store

#: record keys that hold dates or times but are not spec date columns
_TIMES = {"collected_at", "file_mtime", "mtime"}
_SEVERITY = ("error", "warning", "info")


def _fields_of(spec: Spec, table: str, store: "Store | None" = None) -> dict[str, Field]:
    """Column key -> spec field for an exportable table (plans: the single-value fields)."""
    key = table.strip().replace("-", "_").lower()
    if key == "plans":
        return {f.key: f for f in spec.fields}
    for name, t in sch.spec_tables(spec).items():
        if key in (name, t.name.lower()):
            return {c.key: c for c in t.columns}
    return {}


def _typed(df: "pd.DataFrame", fields: dict[str, Field], spec: Spec, lang: str) -> "pd.DataFrame":
    import pandas as pd

    labels: dict[str, dict[str, str]] = {}
    for col in df.columns:
        f = fields.get(col)
        kind = sch.column_kind(f.type) if f is not None else None
        if f is not None and f.choices:
            keys = spec.choices(f.choices).keys()
            extra = sorted({v for v in df[col].dropna().unique() if v not in keys})  # open lists keep text
            df[col] = pd.Categorical(df[col], categories=keys + extra)
            labels[col] = {c.key: c.label(lang) for c in spec.choices(f.choices).choices}
        elif kind in ("amount", "integer"):
            df[col] = pd.array(df[col], dtype="Int64")
        elif kind == "float":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Float64")
        elif kind == "date" or col in _TIMES:
            df[col] = pd.to_datetime(df[col], utc=col in _TIMES, errors="coerce")
        elif col == "severity":
            df[col] = pd.Categorical(df[col], categories=list(_SEVERITY))
    df.attrs["labels"] = labels
    df.attrs["lang"] = lang
    return df


def frames(db: "str | os.PathLike | Store | None", table: str, *, period: str | None = None,
           all_versions: bool = False, lang: str = "ja", spec: Spec | None = None) -> "pd.DataFrame":
    """One exportable table of the store (``opportunities``, ``contacts``, ``activities``,
    ``plans``, ``issues``, ``success_cases``, ...) as a typed DataFrame: the records of
    ``xltools export`` (current versions, or every version with ``all_versions``).
    ``db``: a database URL (None: ``XLTOOLS_DB`` or the default), or an open Store."""
    import pandas as pd

    from xltools.reports.export import export_records
    from xltools.store.engine import Store

    if isinstance(db, Store):
        store, own = db, False
    else:
        store, own = Store(None if db is None else str(db), spec, create=False), True
    try:
        columns, records = export_records(store, table, period=period, all_versions=all_versions)
        fields = _fields_of(store.spec, table)
        df = pd.DataFrame.from_records(records, columns=columns)
        return _typed(df, fields, store.spec, lang)
    finally:
        if own:
            store.close()


def labels(df: "pd.DataFrame", column: str) -> "pd.Series":
    """A choice column of :func:`frames` shown with the labels of the frame's language."""
    mapping = df.attrs.get("labels", {}).get(column)
    if mapping is None:
        raise KeyError(f"{column!r} is not a choice column of this frame")
    return df[column].map(lambda k: mapping.get(k, k)).astype("category")


@dataclass
class PlanFrame:
    """One workbook's validated plan (``report.plan``) with DataFrame views."""

    report: "FileReport"
    spec: Spec
    lang: str = "ja"

    @property
    def plan(self):
        return self.report.plan

    @property
    def valid(self) -> bool:
        return self.report.valid

    @property
    def fields(self) -> "pd.Series":
        """Every single-value field, the computed figures included, by key."""
        import pandas as pd

        plan = self.report.plan
        values = {f.key: (plan.derived.get(f.key) if f.computed else plan.fields.get(f.key))
                  for f in self.spec.fields} if plan is not None else {}
        return pd.Series(values, dtype="object", name=self.report.file)

    def frames(self) -> "dict[str, pd.DataFrame]":
        """Spec table name -> its rows (``sheet`` / ``row`` give where each came from)."""
        import pandas as pd

        out = {}
        plan = self.report.plan
        for t in self.spec.tables:
            rows = plan.rows(t.name) if plan is not None else []
            cols = ["sheet", "row"] + [c.key for c in t.columns]
            df = pd.DataFrame.from_records([{"sheet": r.sheet, "row": r.row, **r.values} for r in rows],
                                           columns=cols)
            out[t.name] = _typed(df, {c.key: c for c in t.columns}, self.spec, self.lang)
        return out

    @property
    def issues(self) -> "pd.DataFrame":
        """One row per issue: code, severity, sheet, cell, field, table, row, raw value, message."""
        import pandas as pd

        recs = [{"code": i.code, "severity": i.severity, "sheet": i.sheet, "cell": i.cell, "field": i.field,
                 "table": i.table, "row": i.row, "raw": i.raw, "message": i.message(self.lang)}
                for i in self.report.issues]
        df = pd.DataFrame.from_records(recs, columns=["code", "severity", "sheet", "cell", "field", "table",
                                                      "row", "raw", "message"])
        df["severity"] = pd.Categorical(df["severity"], categories=list(_SEVERITY))
        df["row"] = pd.array(df["row"], dtype="Int64")
        return df


def read_plan(path: str | os.PathLike, *, settings: Settings | None = None, lang: str = "ja",
              now=None) -> PlanFrame:
    """Read and check one workbook as ``xltools check`` does (same issues, same figures)."""
    from xltools.checking.check import check_file

    settings = settings or load_settings()
    spec = settings.apply(load_spec())
    return PlanFrame(check_file(path, spec, settings, lang=lang, now=now), spec, lang)
