"""The relationship map (関係図): the Contacts table drawn as an org chart.

The package: :mod:`~xltools.checking.relmap.model` (constants, texts, people, cards, pages),
:mod:`~xltools.checking.relmap.layout` (the hierarchy and the pages),
:mod:`~xltools.checking.relmap.build` (:func:`build_map` and the flags) and
:mod:`~xltools.checking.relmap.draw` (the picture and the workbook sheet).

Two steps, kept apart:

* :func:`build_map` — pure data.  One :class:`Card` per named contact, placed by
  ``reports_to`` (people whose manager is not in the table, or who have none, are
  roots; a cycle is broken at its first row and reported), the reports-to lines as
  polylines, the notes and the plan's flags (no decision maker, no champion, decision
  makers at risk with no planned activity, key persons not met for
  ``thresholds.contact_stale_days``), split into :class:`Page`\\ s of at most
  :data:`MAX_CARDS` cards that fit a legible A4 landscape grid (by department, then by
  level when a department alone is too big).  Positions are in grid slots: a card
  fills one slot, ``x`` to the right, ``y`` downwards.
* :func:`render_png` — one PNG per page with matplotlib, in the IPAex Gothic font that
  ships inside the ``matplotlib-fontja`` package (the font file is named explicitly, so
  no system font is ever looked up).

:func:`add_to_workbook` puts the pictures on their own sheet 関係図 / Relationship map
right after the sheet of the Contacts table, one picture per printed A4 landscape page.

Meanings come from the spec: who is a decision maker or champion (``role``), which
stances are a risk (``stance``), who is gone (``employment``), the stance colours
(``tone``); "decision makers at risk with no planned activity" is the business rule
``W-DECISION-MAKER-UNCOVERED`` itself (:func:`xltools.checking.rules.decision_maker_uncovered`), less
the people who are gone.
"""
from xltools.checking.relmap.build import build_map
from xltools.checking.relmap.draw import add_to_workbook, font_path, remove_from_workbook, render_png, render_relmap_png
from xltools.checking.relmap.layout import _forest
from xltools.checking.relmap.model import (
    CARD_BOTTOM,
    CARD_LEFT,
    CARD_RIGHT,
    CARD_TOP,
    DPI,
    FIG_H,
    FIG_W,
    GONE,
    MAX_CARDS,
    MAX_COLS,
    MAX_ROWS,
    PLAIN,
    PX_H,
    PX_W,
    SHEET,
    TEXTS,
    Card,
    Flag,
    Page,
    Person,
    RelMap,
    people_of,
)

__all__ = ["CARD_BOTTOM", "CARD_LEFT", "CARD_RIGHT", "CARD_TOP", "DPI", "FIG_H", "FIG_W", "GONE", "MAX_CARDS",
           "MAX_COLS", "MAX_ROWS", "PLAIN", "PX_H", "PX_W", "SHEET", "TEXTS", "Card", "Flag", "Page", "Person",
           "RelMap", "_forest", "add_to_workbook", "build_map", "font_path", "people_of", "remove_from_workbook",
           "render_png", "render_relmap_png"]
