"""Where things go on a generated section sheet, computed from the spec.

Positions are a generator concern only: the reader finds fields by defined name and
tables by table name, never by position.  A section sheet looks like this::

    row 1   section title
    row 2   one-line hint (how to fill)
    row 4   group titles, side by side (two groups per band: label/value columns
            B:C and E:F), then one row per field: label, value
    ...     one blank row
    row T   table titles, tables side by side from column B with one gap column
    row T+1 table headers, then the pre-sized data rows (Table.rows), then
            SPARE_ROWS unlocked rows where reps keep typing when a table is full
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from xltools.cells import a1, col_letter
from xltools.spec.spec import Field, Group, Section, Table
from xltools.workbook.xlwrite import display_width

#: unlocked rows below every table (tables cannot grow on a protected sheet)
SPARE_ROWS = 100
TITLE_ROW = 1
HINT_ROW = 2
FIELDS_TOP = 4
GROUPS_PER_BAND = 2
#: columns taken by one group: label, value, gap
GROUP_STRIDE = 3
FIRST_COL = 2
MARGIN_WIDTH = 2.5
LABEL_MAX_WIDTH = 30
#: freeze below the table header only when it is this close to the top
FREEZE_MAX_ROW = 20
DEFAULT_COLUMN_WIDTH = 12
VALUE_WIDTHS = {"longtext": 44, "text": 28, "period": 14, "id": 12}
DEFAULT_VALUE_WIDTH = 16
LONGTEXT_HEIGHT = 48
LINE_HEIGHT = 15


@dataclass(frozen=True)
class FieldPos:
    """A single-value field: value cell at (row, col), its label just left of it."""

    field: Field
    row: int
    col: int

    @property
    def label_col(self) -> int:
        return self.col - 1

    @property
    def ref(self) -> str:
        return a1(self.row, self.col)

    @property
    def abs_ref(self) -> str:
        return f"${col_letter(self.col)}${self.row}"


@dataclass(frozen=True)
class TablePos:
    """A table: title above the header row, ``rows`` data rows, ``spare`` rows below."""

    table: Table
    header_row: int
    first_col: int
    rows: int
    spare: int = SPARE_ROWS

    @property
    def title_row(self) -> int:
        return self.header_row - 1

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def last_row(self) -> int:
        return self.header_row + self.rows

    @property
    def input_last_row(self) -> int:
        """The last unlocked row below the table."""
        return self.last_row + self.spare

    @property
    def last_col(self) -> int:
        return self.first_col + len(self.table.columns) - 1

    @property
    def ref(self) -> str:
        return f"{a1(self.header_row, self.first_col)}:{a1(self.last_row, self.last_col)}"

    def col(self, key: str) -> int:
        for i, c in enumerate(self.table.columns):
            if c.key == key:
                return self.first_col + i
        raise KeyError(f"table {self.table.name}: no column {key!r}")

    def column_range(self, key: str, *, spare: bool = True, absolute: bool = False) -> str:
        """The data cells of a column (and the unlocked rows below it), e.g. ``D14:D173``."""
        letter = col_letter(self.col(key))
        last = self.input_last_row if spare else self.last_row
        if absolute:
            return f"${letter}${self.first_row}:${letter}${last}"
        return f"{letter}{self.first_row}:{letter}{last}"


@dataclass(frozen=True)
class SheetLayout:
    section: Section
    group_titles: tuple[tuple[Group, int, int], ...]  # (group, row, col)
    fields: dict[str, FieldPos]
    tables: dict[str, TablePos]
    widths: dict[int, float]
    heights: dict[int, float] = dc_field(default_factory=dict)

    @property
    def header_row(self) -> int | None:
        return min((t.header_row for t in self.tables.values()), default=None)

    @property
    def freeze(self) -> str:
        """Freeze below the table headers when they are near the top, else below the hint."""
        h = self.header_row
        if h is not None and h <= FREEZE_MAX_ROW:
            return a1(h + 1, 1)
        return a1(HINT_ROW + 1, 1)

    @property
    def print_title_rows(self) -> str:
        h = self.header_row
        if h is not None and h <= FREEZE_MAX_ROW:
            return f"{h}:{h}"
        return f"{TITLE_ROW}:{HINT_ROW}"

    @property
    def last_col(self) -> int:
        return max(self.widths)


def value_width(f: Field) -> float:
    return VALUE_WIDTHS.get(f.type, DEFAULT_VALUE_WIDTH)


def sheet_layout(section: Section, lang: str, rows: dict[str, int] | None = None,
                 min_header_row: int = 0) -> SheetLayout:
    """The layout of ``section``'s sheet in ``lang``; ``rows`` overrides the number of data
    rows of a table (a prefilled table grows beyond ``Table.rows``); ``min_header_row``
    leaves room above the tables (for a chart)."""
    rows = rows or {}
    widths: dict[int, float] = {1: MARGIN_WIDTH}
    heights: dict[int, float] = {}

    def widen(col: int, w: float) -> None:
        widths[col] = max(widths.get(col, 0), w)

    titles, fields = [], {}
    row = FIELDS_TOP
    groups = section.groups
    for start in range(0, len(groups), GROUPS_PER_BAND):
        band = groups[start:start + GROUPS_PER_BAND]
        for i, g in enumerate(band):
            label_col = FIRST_COL + GROUP_STRIDE * i
            titles.append((g, row, label_col))
            widen(label_col, DEFAULT_COLUMN_WIDTH)
            for j, f in enumerate(g.fields):
                r = row + 1 + j
                fields[f.key] = FieldPos(f, r, label_col + 1)
                label_w = display_width(f.label(lang)) + 2
                widen(label_col, min(LABEL_MAX_WIDTH, label_w))
                widen(label_col + 1, value_width(f))
                if f.type == "longtext":
                    heights[r] = max(heights.get(r, 0), LONGTEXT_HEIGHT)
                elif label_w > LABEL_MAX_WIDTH:
                    lines = -(-label_w // LABEL_MAX_WIDTH)
                    heights[r] = max(heights.get(r, 0), LINE_HEIGHT * lines)
        row += 1 + max(len(g.fields) for g in band) + 1
    header_row = max(row + 1, min_header_row)
    tables, col = {}, FIRST_COL
    for t in section.tables:
        tp = TablePos(t, header_row, col, max(1, rows.get(t.name, t.rows)))
        tables[t.name] = tp
        for i, c in enumerate(t.columns):
            widen(col + i, c.width or DEFAULT_COLUMN_WIDTH)
        col = tp.last_col + 2
    header_lines = max((-(-display_width(c.label(lang)) // max(1, int(c.width or DEFAULT_COLUMN_WIDTH)))
                        for t in section.tables for c in t.columns), default=1)
    if section.tables:
        heights[header_row] = LINE_HEIGHT * max(2, min(4, header_lines))
    return SheetLayout(section, tuple(titles), fields, tables, widths, heights)
