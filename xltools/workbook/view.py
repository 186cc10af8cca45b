"""The neutral workbook view the reader core (:mod:`xltools.workbook.reader`) reads a plan from.

A view is the part of a workbook the plan contract uses, and nothing else:

* its worksheets in workbook order (chart sheets left out), each with its name, its
  visibility, the values of its non-empty cells and the cells that hold formulas;
* its defined names (lower-cased name -> first cell; workbook-scoped names win over
  sheet-scoped ones; print areas and other built-in names left out);
* its Excel tables (case-folded name -> range, header and totals rows, column names).

Two adapters implement it: a workbook file read with python-calamine after the
package checks of :mod:`xltools.workbook.safety` (``xltools.workbook.reader``, what ``xltools check``
reads), and a workbook open in Excel read through xlwings (:mod:`xltools.live`).
The reader asks for the sheets first, then the names, then the tables, and each
only once, so an adapter may compute them lazily (and a file that fails on its
sheets fails before its names are looked at, as it always did).

Cell values are as typed: ``str``, ``float``/``int``, ``bool``, ``datetime``/``date``/
``time``, :class:`~xltools.spec.model.CellError` for an error value; empty cells are not
in the grid (neither ``None`` nor ``""``).  Positions are 1-based ``(row, column)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

__all__ = ["Grid", "SheetView", "NameRef", "TableRef", "WorkbookView", "MemoryView"]

#: non-empty cells of a sheet: (row, column) 1-based -> value
Grid = dict[tuple[int, int], Any]


@dataclass
class SheetView:
    """One worksheet: ``state`` is ``visible``, ``hidden`` or ``veryHidden``."""

    name: str
    state: str
    grid: Grid
    formulas: set[tuple[int, int]] = field(default_factory=set)


@dataclass(frozen=True)
class NameRef:
    """The first cell a defined name refers to."""

    sheet: str
    row: int
    col: int


@dataclass
class TableRef:
    """An Excel table (ListObject): ``ref`` is its whole range in A1 (``B4:H30``),
    header rows included; ``column_names`` the table's own column names (what
    Excel shows when the header row is hidden)."""

    name: str
    sheet: str
    ref: str
    top: int
    left: int
    bottom: int
    right: int
    header_rows: int
    totals_rows: int
    column_names: list[str]

    @property
    def data_top(self) -> int:
        return self.top + self.header_rows

    @property
    def data_bottom(self) -> int:
        return self.bottom - self.totals_rows

    def body_contains(self, r: int, c: int) -> bool:
        """Header and data rows (a totals row is not the rep's input area)."""
        return self.top <= r <= self.data_bottom and self.left <= c <= self.right

    def contains(self, r: int, c: int) -> bool:
        return self.top <= r <= self.bottom and self.left <= c <= self.right

    @classmethod
    def of(cls, t: Any) -> "TableRef":
        """A copy of any object with the same attributes (the file adapter's table)."""
        return cls(name=t.name, sheet=t.sheet, ref=t.ref, top=t.top, left=t.left, bottom=t.bottom,
                   right=t.right, header_rows=t.header_rows, totals_rows=t.totals_rows,
                   column_names=list(t.column_names))


@runtime_checkable
class WorkbookView(Protocol):
    """What the reader core reads.  ``str(view)`` names the workbook in reports."""

    def sheets(self) -> Iterable[SheetView]:
        """The worksheets in workbook order."""
        ...

    def defined_names(self, sheet_names: list[str]) -> Mapping[str, NameRef]:
        """Lower-cased name -> first cell, for names on the sheets ``sheet_names``
        (matched case-insensitively; a name on another sheet or ``#REF!`` is left out)."""
        ...

    def tables(self) -> Mapping[str, TableRef]:
        """Case-folded table name (and display name) -> table."""
        ...


@dataclass
class MemoryView:
    """A view held in memory: a snapshot of another view, or of a workbook open in
    Excel (:func:`xltools.live.snapshot`).  ``names`` refer to the sheets by their
    exact names."""

    name: str
    sheet_list: list[SheetView]
    names: dict[str, NameRef] = field(default_factory=dict)
    table_map: dict[str, TableRef] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name

    def sheets(self) -> Iterable[SheetView]:
        return iter(self.sheet_list)

    def defined_names(self, sheet_names: list[str]) -> dict[str, NameRef]:
        known = set(sheet_names)
        return {k: n for k, n in self.names.items() if n.sheet in known}

    def tables(self) -> dict[str, TableRef]:
        return dict(self.table_map)

    @classmethod
    def of(cls, view: WorkbookView, name: str | None = None) -> "MemoryView":
        """Everything ``view`` shows, read once (sheets, then names, then tables)."""
        sheets = list(view.sheets())
        names = dict(view.defined_names([s.name for s in sheets]))
        return cls(str(view) if name is None else name, sheets, names, dict(view.tables()))
