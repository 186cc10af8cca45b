"""Generate account-plan workbooks from the template spec.

One workbook per rep x account x period.  What a workbook contains is driven by the
typed :class:`~xltools.spec.Spec` (sections, fields, tables, choices, formulas); this
module only decides how it looks.  The contract other tools rely on:

* a ``veryHidden`` sheet ``_meta`` with key/value rows in ``spec.meta_keys`` order;
* a workbook-scoped defined name per single-value field, equal to its key, pointing at
  the value cell;
* an Excel table per list section with the spec's table name and headers equal to the
  column labels of the workbook language;
* localised sheet names (``Section.label``); first the Summary (the account on a page,
  :mod:`xltools.workbook.summary`), the Whitespace map (:mod:`xltools.workbook.whitespace`), then the
  Guide and the section sheets.

Besides those: a ``veryHidden`` sheet ``_lists`` holding the dropdown lists
(defined names ``_list_<choice list>``), and defined names ``_src_<Table>_<column>``
for dropdowns fed from the workbook itself (a table column plus the unlocked rows
below it).  Names starting with ``_`` never collide with field keys.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from xltools.spec.config import Settings
from xltools.spec.model import PlanData
from xltools.spec.spec import Spec
from xltools.workbook.generate.builder import _Builder, _check_names
from xltools.workbook.generate.formulas import _excel_string, _number, escape_header, translate_formula
from xltools.workbook.generate.plan import GenerateError, NoOutputFolderError, PlanInfo, plan_period
from xltools.workbook.generate.rules import NUMERIC_CHECKS, TYPE_CHECKS
from xltools.workbook.generate.styles import (
    BORDER_COLOUR,
    FONTS,
    FORMULA_FILL,
    HEADER_FILL,
    HEADER_REQUIRED_FILL,
    INPUT_FILL,
    LABEL_FILL,
    NOT_COUNTED_FILL,
    NUMBER_FORMATS,
    RATIO_FORMATS,
    REQUIRED_FONT,
    STYLE_TAGS,
    TONES,
    WRAP_MIN_WIDTH,
    _number_format,
)
from xltools.workbook.generate.texts import (
    ERROR_MAX,
    LIST_NAME_PREFIX,
    LISTS_SHEET,
    META_SHEET,
    PROMPT_MAX,
    PROMPT_TITLE_MAX,
    SOURCE_NAME_PREFIX,
    TABLE_STYLE,
    TEXTS,
)

__all__ = [
    "BORDER_COLOUR", "ERROR_MAX", "FONTS", "FORMULA_FILL", "HEADER_FILL", "HEADER_REQUIRED_FILL", "INPUT_FILL",
    "LABEL_FILL", "LISTS_SHEET", "LIST_NAME_PREFIX", "META_SHEET", "NOT_COUNTED_FILL", "NUMBER_FORMATS",
    "NUMERIC_CHECKS", "PROMPT_MAX", "PROMPT_TITLE_MAX", "RATIO_FORMATS", "REQUIRED_FONT", "SOURCE_NAME_PREFIX",
    "STYLE_TAGS", "TABLE_STYLE", "TEXTS", "TONES", "TYPE_CHECKS", "WRAP_MIN_WIDTH", "GenerateError", "PlanInfo",
    "build_workbook", "escape_header", "generate_workbook", "plan_period", "save_atomic", "static_texts",
    "translate_formula", "_Builder", "_check_names", "_excel_string", "_merge", "_number", "_number_format",
]


def build_workbook(spec: Spec, settings: Settings, info: PlanInfo, prefill: PlanData | None = None, *,
                   finish: Callable[[Any], None] | None = None):
    """The workbook as an (unsaved) openpyxl ``Workbook``; ``finish(wb)``, when given, adds
    what a later stage draws from the plan's data (the relationship map of a hand-over)."""
    b = _Builder(spec, settings, info, prefill)
    b.finish = finish
    return b.build()


def save_atomic(wb, path: str | os.PathLike) -> Path:
    """Save ``wb`` to a temporary file next to ``path``, then rename it into place: a
    crash or a full disk never leaves a half-written workbook under the final name
    (:func:`xltools.workbook.outfile.save_workbook`)."""
    from xltools.workbook.outfile import save_workbook

    p = Path(path)
    if not p.parent.is_dir():
        raise NoOutputFolderError(path=p.parent)
    return save_workbook(wb, p)


def generate_workbook(spec: Spec, settings: Settings, info: PlanInfo, path: str | os.PathLike,
                      prefill: PlanData | None = None, *, finish: Callable[[Any], None] | None = None) -> Path:
    """Write one plan workbook (.xlsx content, whatever ``path`` ends in) to ``path``
    atomically and return the path."""
    return save_atomic(build_workbook(spec, settings, info, prefill, finish=finish), path)


def static_texts(spec: Spec, settings: Settings, lang: str) -> set[str]:
    """Every text the generator itself writes into visible cells of a ``lang`` workbook:
    titles, labels, headers, guide and legend texts, prefilled choice labels and input
    messages.  The reader uses it to tell the generator's text from a rep's."""
    b = _Builder(spec, settings, PlanInfo(account_name="-", rep="-", period="FY2000", lang=lang))
    b.build()
    spec = b.spec
    for t in spec.tables:
        if t.prefill:
            b.static.update(spec.choices(t.column(t.prefill["column"]).choices).labels(lang))
    for f in spec.fields:
        if f.default and f.choices:
            b.static.add(spec.choices(f.choices).get(f.default).label(lang))
    return b.static
