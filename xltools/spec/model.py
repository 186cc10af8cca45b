"""Typed boundaries between the pipeline's stages.

``reader`` produces a :class:`RawPlan` (every value as typed, with its cell);
``normalize`` + ``rules`` turn it into a :class:`PlanData` (clean values, keyed by
the spec's field keys) plus issues; ``store`` saves PlanData; ``report`` reads
the store.  Values in PlanData:

* amounts: ``int`` yen;  percent: ``float`` 0-100;  dates: ``datetime.date``;
* choices: the choice *key* from the spec (``"favourable"``), or the typed text
  for ``open`` lists;  text: stripped ``str``;  missing: ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CellError(str):
    """An Excel error value in a cell (``#REF!``, ``#VALUE!``, ``#N/A``, ``#SPILL!``...),
    typed or left by a formula: never a blank and never text to store."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"CellError({str.__repr__(self)})"


@dataclass
class RawCell:
    """One cell as the rep left it."""

    sheet: str
    cell: str  # A1
    value: Any  # str | int | float | bool | datetime | date | CellError | None


@dataclass
class RawRow:
    """One data row of a table: column key -> RawCell (only the columns found)."""

    index: int  # 1-based data row number inside the table
    cells: dict[str, RawCell]
    below_table: bool = False  # typed just under a table that did not expand


@dataclass
class RawTable:
    name: str
    sheet: str
    ref: str  # the table's A1 range in the file
    rows: list[RawRow]
    columns: dict[str, str]  # column key -> header cell A1
    unknown_columns: dict[str, str] = field(default_factory=dict)  # header text -> A1
    missing_columns: list[str] = field(default_factory=list)  # spec column keys without a header


@dataclass
class RawPlan:
    file: str
    meta: dict[str, str]
    fields: dict[str, RawCell]  # field key -> cell (defined name found)
    tables: dict[str, RawTable]
    stray: list[RawCell] = field(default_factory=list)  # non-empty cells outside any field/table
    overwritten: list[tuple[str, RawCell]] = field(default_factory=list)  # (key, cell) formula replaced by a value
    missing_fields: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)


@dataclass
class Row:
    """A clean table row: field key -> value, with where it came from."""

    values: dict[str, Any]
    sheet: str
    row: int  # worksheet row number (1-based)
    index: int  # 1-based data row inside the table
    cells: dict[str, str] = field(default_factory=dict)  # field key -> A1

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


@dataclass
class PlanData:
    """A plan after reading and normalising; the unit that is stored."""

    meta: dict[str, str]
    fields: dict[str, Any]
    tables: dict[str, list[Row]]
    file: str = ""
    field_cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (sheet, A1)
    derived: dict[str, Any] = field(default_factory=dict)  # recomputed figures (plan_total, ...)

    @property
    def plan_id(self) -> str | None:
        return self.meta.get("plan_id")

    def rows(self, table: str) -> list[Row]:
        return self.tables.get(table, [])
