"""Blank plans made from one built workbook: many plans without prefill differ only in what
their :class:`PlanInfo` puts in them, so a roster run builds the workbook once per language,
period and generation time (:class:`BlankPlan`) and, for each plan, writes only that again
(:meth:`BlankPlan.stamp`) before saving.

What a :class:`PlanInfo` puts in a workbook, and what :meth:`~BlankPlan.stamp` writes again
exactly as the builder does (through the builder's own methods):

* the value cells of the fields taken from it (:data:`~.builder.INFO_FIELDS`), their style
  as the builder left it before writing the value (a text starting with ``=`` marks its cell
  quote-prefixed), and the heights of their rows (wrapped long text makes a row taller);
* the ``_meta`` rows of the plan's identity (plan id, account, rep, predecessor);
* the document title (docProps/core.xml) and the left part of every print header.

The language, the period and the generation time are the same for every plan of one
:class:`BlankPlan` (its :meth:`~BlankPlan.key`).  The output equals a fresh
:func:`~xltools.workbook.generate.generate_workbook` of the same PlanInfo part by part
(tests/test_stamp.py).

:meth:`BlankPlan.save` writes a plan without saving the stamped workbook: from the blank's
saved parts, with only what the stamp changed written again (:mod:`.parts`,
tests/test_stamp_parts.py).
"""
from __future__ import annotations

import os
from copy import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from openpyxl.utils.indexed_list import IndexedList

from xltools.spec.config import Settings
from xltools.spec.spec import Spec
from xltools.workbook import printing
from xltools.workbook.generate.builder import INFO_FIELDS, _Builder
from xltools.workbook.generate.plan import NoOutputFolderError, PlanInfo, _check_info, _generated_at
from xltools.workbook.generate.texts import META_SHEET
from xltools.workbook.xlwrite import write_text, write_value

#: the ``_meta`` keys whose value comes from the PlanInfo's identity fields
INFO_META = ("plan_id", "account_id", "account_name", "rep", "predecessor_plan_id")

#: the workbook's style lists, as the builder leaves them (a save adds to them)
STYLE_LISTS = ("_cell_styles", "_fonts", "_fills", "_borders", "_number_formats", "_alignments", "_protections")


def blank_key(info: PlanInfo) -> tuple[str, str, str]:
    """What the plans of one :class:`BlankPlan` share: language, period, generation time."""
    return info.lang, str(info.period), _generated_at(info.generated_at)[0] if info.generated_at else ""


class BlankPlan:
    """One blank plan built for ``info``'s :func:`blank_key`, re-stamped for each plan."""

    def __init__(self, spec: Spec, settings: Settings, info: PlanInfo):
        if info.generated_at is None:
            raise ValueError("a BlankPlan needs a fixed generated_at")
        # a neutral identity: no value cell quote-prefixed, no row made taller, no _meta row filled
        neutral = replace(info, account_name="x", rep="x", account_id=None, target=None, team_members=None,
                          plan_id=None, predecessor_plan_id=None, relationship_map=False)
        b = self.builder = _Builder(spec, settings, neutral)
        self.wb = b.build()
        self._key = blank_key(neutral)
        self.cells: list[tuple[Any, Any, Any, Any]] = []  # (field, sheet, cell, style before the value)
        self.rows: dict[Any, set[int]] = {}
        for s in b.spec.sections:
            ws = self.wb[b.sheet_names[s.key]]
            for pos in b.layouts[s.key].fields.values():
                if pos.field.key in INFO_FIELDS and not pos.field.formula:
                    cell = ws.cell(row=pos.row, column=pos.col)
                    self.cells.append((pos.field, ws, cell, copy(cell._style)))
                    self.rows.setdefault(ws, set()).add(pos.row)
        # what saving changes in a workbook: openpyxl's writer keeps the outline level of the
        # columns it wrote, and writes it into the sheet format the next time
        # and registers the cell styles it writes (their ids go by first use in the saved file)
        self.style_lists = {a: list(getattr(self.wb, a)) for a in STYLE_LISTS}
        self.outlines = [(ws.column_dimensions, ws.column_dimensions.max_outline) for ws in self.wb.worksheets]
        meta = self.wb[META_SHEET]
        self.meta_rows = {k: r for r, k in enumerate(b.spec.meta_keys, 1) if k in INFO_META}
        self.meta = meta
        self.parts: Any = None  # PlanParts, made by the first save
        self.fast_saves = self.full_saves = 0

    def key(self) -> tuple[str, str, str]:
        return self._key

    def stamp(self, info: PlanInfo) -> Any:
        """The workbook as :func:`~xltools.workbook.generate.build_workbook` makes it for
        ``info`` (same :func:`blank_key`, no prefill): the one workbook of this BlankPlan,
        changed in place."""
        _check_info(info)
        if blank_key(info) != self._key:
            raise ValueError(f"this blank plan is for {self._key}, not {blank_key(info)}")
        b = self.builder
        b.info = info
        for dims, level in self.outlines:
            dims.max_outline = level
        for a, styles in self.style_lists.items():
            setattr(self.wb, a, IndexedList(styles))
        for f, ws, cell, style in self.cells:
            cell._style = copy(style)
            cell._value = None
            cell.data_type = "n"
            value = b._field_value(f)
            if value is not None:
                write_value(cell, b._display(f, value))
        for ws, rows in self.rows.items():
            before = b.prefit_heights[ws.title]
            for r in rows:
                if r in before:
                    ws.row_dimensions[r].height = before[r]
                elif r in ws.row_dimensions:
                    del ws.row_dimensions[r]
            printing.fit_row_heights(ws, rows)
        values = b.meta_values()
        for key, r in self.meta_rows.items():
            self.meta._cells.pop((r, 2), None)
            v = values.get(key)
            if v not in (None, ""):
                write_text(self.meta.cell(row=r, column=2), str(v))
        self.wb.properties.title = b.doc_title()
        left = b.header_left()
        for ws in b.hf_sheets:
            for hf in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
                hf.left.text = left
        return self.wb

    def save(self, info: PlanInfo, path: str | os.PathLike[str]) -> Path:
        """Write the plan of ``info`` to ``path`` atomically, as
        ``save_atomic(self.stamp(info), path)`` writes it: from the saved parts of this blank
        plan (:mod:`.parts`) when they can make it, else by saving the stamped workbook."""
        from xltools.workbook.generate import save_atomic
        from xltools.workbook.generate.parts import PlanParts
        from xltools.workbook.outfile import atomic_path, write_deflated

        p = Path(path)
        if not p.parent.is_dir():
            raise NoOutputFolderError(path=p.parent)
        if self.parts is None:
            self.parts = PlanParts(self, info)
        wb = self.stamp(info)
        members = self.parts.members()
        if members is None:
            self.full_saves += 1
            return save_atomic(wb, p)
        with atomic_path(p) as tmp:
            write_deflated(tmp, members)
        self.fast_saves += 1
        return p
