"""The saved parts of a :class:`~.stamp.BlankPlan`'s plans without openpyxl's save: the blank
plan is saved once, and each plan's parts are that file's bytes with only what a stamp
changes written again.

What a stamp changes (:mod:`.stamp`), and so what is written again for each plan -- the
*holes* of the saved blank:

* the ``<c>`` element of every value cell taken from the PlanInfo and of every identity row
  of ``_meta`` (empty when the cell is gone: ``_meta`` leaves out empty values), encoded as
  :func:`xltools.workbook.outfile.write_xlsx` encodes cells (:mod:`xltools.workbook.cellxml`);
* the ``<row>`` tag of the rows of those value cells (their height follows wrapped text);
* the ``<headerFooter>`` of every sheet whose print header names the account;
* ``docProps/core.xml`` (the title, and the time of the save).

Everything else of the saved blank is the plan's as it is -- the other parts (styles, tables,
charts, the workbook, the lists), and every byte around the holes -- as long as the stamp
left the style of each hole cell as the blank had it: openpyxl numbers cell styles by first
use while saving, so a different style (a text starting with ``=`` makes its cell
quote-prefixed) could renumber the others.  For such a plan, and for anything the cell
encoding here does not know, :meth:`PlanParts.members` answers None and the plan is saved by
openpyxl's path (:func:`xltools.workbook.outfile.write_xlsx`): exactness over speed.

The parts are compressed ahead as far as they are constant: a constant part once, and a part
with holes up to its first hole (:class:`~xltools.workbook.outfile.DeflatePrefix`), so that
a plan compresses only what follows its first hole.  Built, the blank's own parts are put
together again the way a plan's are and compared with its save, byte for byte; if they
differ, every plan takes openpyxl's path.  tests/test_stamp_parts.py proves a plan's parts
equal a fresh :func:`~xltools.workbook.generate.generate_workbook`'s, byte for byte.
"""
from __future__ import annotations

import datetime
import io
import re
import zipfile
from copy import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast
from xml.etree.ElementTree import _escape_attrib  # type: ignore[attr-defined]

from xltools.workbook.cellxml import empty_cell, formula_cell, head, inline_cell, value_cell
from xltools.workbook.generate.plan import PlanInfo
from xltools.workbook.outfile import Deflated, DeflatePrefix, deflated, write_xlsx

if TYPE_CHECKING:
    from xltools.workbook.generate.stamp import BlankPlan

CORE = "docProps/core.xml"


@dataclass
class _Hole:
    """One place of a part that a plan writes again: ``kind`` ``row`` (the row tag of row
    ``row``), ``cell`` (the cell at ``row``, ``col``) or ``hf`` (the header and footer)."""

    kind: str
    ws: Any
    row: int = 0
    col: int = 0
    start: int = 0
    end: int = 0
    style: Any = None  # the cell's style in the blank
    style_id: int | None = None  # its number in the blank's save
    group: bytes = b""  # a header and footer: the blank's


class _Part:
    """A part with holes: the compressed state up to the first hole, then, in turn, each
    hole and the constant bytes after it."""

    def __init__(self, name: str, data: bytes, holes: list[_Hole]):
        holes.sort(key=lambda h: h.start)
        for a, b in zip(holes, holes[1:]):
            if b.start < a.end:
                raise ValueError(f"overlapping holes in {name}")
        self.holes = holes
        self.prefix = DeflatePrefix(name, data[:holes[0].start])
        self.after = [data[h.end:nxt.start] for h, nxt in zip(holes, holes[1:])] + [data[holes[-1].end:]]
        self.original = data
        self.sheets_checked = {h.ws for h in holes if h.kind == "cell"}


class PlanParts:
    """The saved parts of ``blank``'s plans (see the module docs)."""

    def __init__(self, blank: BlankPlan, info: PlanInfo):
        from openpyxl.cell.cell import Cell
        from openpyxl.compat import safe_string
        from openpyxl.xml.functions import tostring

        self._cell_type, self._safe_string, self._tostring = Cell, safe_string, tostring
        self.blank = blank
        self._hf_done: dict[bytes, bytes] = {}
        # every hole filled, so that each is found in the saved blank
        filled = replace(info, account_name="x", rep="x", account_id="x", team_members="x", target=1,
                         plan_id="x", predecessor_plan_id="x", relationship_map=False)
        wb = blank.stamp(filled)
        cells = [(ws, cell.row, cell.column) for _f, ws, cell, _s in blank.cells]
        cells += [(blank.meta, r, 2) for r in blank.meta_rows.values()]
        holes = [_Hole("cell", ws, r, c, style=copy(ws._cells[r, c]._style)) for ws, r, c in cells]
        holes += [_Hole("row", ws, r) for ws, rows in blank.rows.items() for r in sorted(rows)]
        holes += [_Hole("hf", ws) for ws in blank.builder.hf_sheets]
        buf = io.BytesIO()
        write_xlsx(wb, cast(Any, buf))  # its path goes to ZipFile, which takes a file as well
        for h in holes:
            if h.kind == "cell":
                cell = h.ws._cells[h.row, h.col]
                h.style_id = cell.style_id if cell.has_style else None
        self.dimensions = {ws: ws.calculate_dimension() for ws in {h.ws for h in holes if h.kind == "cell"}}
        with zipfile.ZipFile(buf) as z:
            saved = {n: z.read(n) for n in z.namelist()}
        by_part: dict[str, list[_Hole]] = {}
        for h in holes:
            by_part.setdefault(h.ws.path[1:], []).append(h)
        self.parts: list[Deflated | _Part | str] = []
        self.core = saved[CORE]
        try:
            self._split(saved, by_part)
        except ValueError:  # a hole not found once: the blank is saved differently than assumed
            self.ok = False
            return
        # the blank put together again as a plan's parts are: equal to its save, or no plan uses them
        self.ok = self._check(wb)

    def _split(self, saved: dict[str, bytes], by_part: dict[str, list[_Hole]]) -> None:
        for name, data in saved.items():
            if name == CORE:
                self.parts.append(CORE)
            elif name in by_part:
                for h in by_part[name]:
                    h.start, h.end = _locate(data, h)
                    if h.kind == "hf":
                        h.group = data[h.start:h.end]
                self.parts.append(_Part(name, data, by_part[name]))
            else:
                self.parts.append(deflated(name, data))

    def _check(self, wb: Any) -> bool:
        self._hf_done = {}
        for p in self.parts:
            if isinstance(p, _Part):
                rest = self._fill(p)
                if rest is None or p.original[:p.holes[0].start] + rest != p.original:
                    return False
        return bool(self._tostring(wb.properties.to_tree()) == self.core)

    def members(self) -> list[Deflated] | None:
        """The parts of the blank plan's workbook as its last :meth:`~.stamp.BlankPlan.stamp`
        left it, ready for :func:`~xltools.workbook.outfile.write_deflated`; None when they
        cannot be made from the saved blank (then save the workbook)."""
        if not self.ok:
            return None
        wb = self.blank.wb
        # what write_xlsx does before writing: the save's time is the modified time
        wb.properties.modified = datetime.datetime.now(tz=datetime.timezone.utc).replace(tzinfo=None)
        self._hf_done = {}
        out = []
        for p in self.parts:
            if isinstance(p, Deflated):
                out.append(p)
            elif isinstance(p, _Part):
                rest = self._fill(p)
                if rest is None:
                    return None
                out.append(p.prefix.finish(rest))
            else:
                out.append(deflated(CORE, self._tostring(wb.properties.to_tree())))
        return out

    def _fill(self, part: _Part) -> bytes | None:
        """The bytes of ``part`` from its first hole on, for the workbook as it is now; None
        when a hole cannot be written here."""
        for ws in part.sheets_checked:  # a _meta value left out: the sheet's used range must stay
            if any((h.row, h.col) not in ws._cells for h in part.holes if h.kind == "cell" and h.ws is ws) \
                    and ws.calculate_dimension() != self.dimensions[ws]:
                return None
        chunks: list[bytes] = []
        for h, after in zip(part.holes, part.after):
            if h.kind == "cell":
                text = self._cell(h)
                if text is None:
                    return None
                chunks.append(text.encode("utf-8"))
            elif h.kind == "row":
                chunks.append(_row_tag(h.ws, h.row).encode("utf-8"))
            else:
                chunks.append(self._header_footer(h))
            chunks.append(after)
        return b"".join(chunks)

    def _header_footer(self, h: _Hole) -> bytes:
        """The ``<headerFooter>`` of the hole's sheet: the same for every sheet whose blank
        had the same (the stamp writes the same left part into all of them), so made once
        per plan and group."""
        done = self._hf_done
        if h.group not in done:
            hf = h.ws.HeaderFooter
            done[h.group] = self._tostring(hf.to_tree()) if hf else b""
        return done[h.group]

    def _cell(self, h: _Hole) -> str | None:
        """The ``<c>`` of the hole's cell as write_xlsx writes it; None when its style is not the
        blank's or it is of a kind written by openpyxl's own cell writer there."""
        cell = h.ws._cells.get((h.row, h.col))
        if cell is None:
            return ""
        if cell._style != h.style or type(cell) is not self._cell_type or cell._comment is not None \
                or cell._hyperlink is not None:
            return None
        value, styled = cell._value, cell.has_style
        if value is None and not styled:
            return ""
        kind = cell.data_type
        if not (kind in ("n", "f", "b") or kind == "s" and (value is None or type(value) is str)) \
                or kind == "f" and value is not None and type(value) is not str:
            return None
        ref, style = cell.coordinate, h.style_id if styled else None
        if kind == "f" and value:
            return formula_cell(ref, style, value)
        cell_head = head(ref, style, "inlineStr" if kind == "s" else None if kind == "f" else kind)
        if value is None or value == "":
            return empty_cell(cell_head)
        if kind == "s":
            return inline_cell(cell_head, value)
        return value_cell(cell_head, self._safe_string(value))


def _row_tag(ws: Any, r: int) -> str:
    """The ``<row>`` tag write_xlsx writes for row ``r`` of ``ws``."""
    attrs = {"r": f"{r}"}
    attrs.update(ws.row_dimensions.get(r, {}))
    return "<row" + "".join(f' {k}="{_escape_attrib(v)}"' for k, v in attrs.items()) + ">"


def _locate(data: bytes, h: _Hole) -> tuple[int, int]:
    """Where the hole ``h`` is in the saved part ``data`` (it must be there exactly once)."""
    if h.kind == "hf":
        found = [(m.start(), m.end()) for m in re.finditer(rb"<headerFooter(?:\s*/>|[ >].*?</headerFooter>)", data,
                                                          re.S)]
    else:
        tag = b"row" if h.kind == "row" else b"c"
        ref = str(h.row).encode() if h.kind == "row" else h.ws._cells[h.row, h.col].coordinate.encode()
        found = []
        for m in re.finditer(b"<" + tag + b' r="' + ref + b'"[ />]', data):
            close = data.index(b">", m.start())
            if h.kind == "row" or data[close - 1:close] == b"/":
                found.append((m.start(), close + 1))
            else:
                found.append((m.start(), data.index(b"</c>", close) + 4))
    if len(found) != 1:
        raise ValueError(f"{h.kind} hole at {h.row},{h.col} found {len(found)} times in {h.ws.title}")
    return found[0]
