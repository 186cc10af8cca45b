"""Putting the roll-up together: :func:`build_rollup` and :func:`write_rollup`."""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from xltools.reports.rollup.book import _Book
from xltools.reports.rollup.common import RollupError
from xltools.reports.rollup.data import LaterWinRates, RollupData, gather, settle_win_rates
from xltools.reports.rollup.figures import account_rows, opportunity_figures, pipeline_row
from xltools.reports.rollup.sheets_dashboard import _changes, _dashboard, _page_setup
from xltools.reports.rollup.sheets_lists import (
    _activities,
    _coverage,
    _issues,
    _pipeline,
    _relationships,
    _reviews,
    _success_cases,
    _summary,
    _trend,
)
from xltools.reports.rollup.sheets_portfolio import portfolio_sheet
from xltools.reports.rollup.sheets_submissions import file_log_sheet, submissions_sheet
from xltools.reports.rollup.sheets_whitespace import whitespace_sheets
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.spec import LANGS, Spec
from xltools.store.queries import Queries, Snapshot


def build_rollup(data: RollupData, spec: Spec, settings: Settings, lang: str = "ja") -> _Book:
    """The roll-up, ready to ``save(path)`` (see :class:`_Book`)."""
    if lang not in LANGS:
        raise RollupError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    b = _Book(spec, settings, lang)
    b.snapshot = getattr(data.rows.get(T.OPPORTUNITIES), "snapshot", None)  # the records are read from it
    accounts = account_rows(data, spec, settings)
    pipeline = data.rows[T.OPPORTUNITIES].map(pipeline_row(spec, settings))
    opps = opportunity_figures(data, spec, settings, lang)  # one pass for the three sheets below
    _dashboard(b, data, accounts, opps.won)
    _changes(b, data)
    _summary(b, data, accounts, opps.quarters)
    portfolio_sheet(b, data, accounts)
    whitespace_sheets(b, data, opps.pairs)
    submissions_sheet(b, data)
    file_log_sheet(b, data)
    _pipeline(b, pipeline)
    settle_win_rates(data)
    _coverage(b, data, accounts)
    _relationships(b, data)
    _activities(b, data)
    _reviews(b, data)
    _success_cases(b, data)
    _issues(b, data)
    _trend(b, data)
    _page_setup(b, data)
    b.wb.active = 0
    return b


# -- public API --------------------------------------------------------------------------------

def write_rollup(store: Queries, spec: Spec, settings: Settings, out_path: str | os.PathLike, *,
                 period: str | None = None, lang: str = "ja", roster: str | os.PathLike | None = None,
                 now: datetime | None = None, processes: int = 2) -> Path:
    """Write the roll-up workbook of ``period`` (default: the latest period with a plan)
    to ``out_path`` atomically and return the path.  ``roster``: a roster file whose
    lines without a plan are listed as missing; ``now`` (default:
    :func:`xltools.clock.now`): the "generated at" time, and its local date is the date
    the overdue and not-met-recently lists compare against.  ``processes``: 2 writes the
    biggest sheets in a forked process (where the platform can fork) while this one writes
    the rest; 1 writes everything here.  Both give the same file."""
    if lang not in LANGS:
        raise RollupError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    out = Path(out_path)
    if out.suffix.lower() != ".xlsx":
        raise RollupError(f"{out}: the roll-up is an .xlsx workbook / 出力ファイルは .xlsx にしてください")
    if not out.parent.is_dir():
        raise RollupError(f"{out.parent}: 出力先のフォルダがありません / output folder does not exist")
    from xltools.workbook.generate import save_atomic

    with _no_cycle_collection(), Snapshot(store) as snapshot:
        data = gather(store, spec, settings, snapshot, period=period, roster=roster, now=now, lang=lang,
                      processes=processes)
        later = data.win_rates
        try:
            book = build_rollup(data, spec, settings, lang)
        finally:
            if isinstance(later, LaterWinRates):
                later.close()  # a no-op once the rates came back
        book.processes = processes
        del data  # the book keeps the rows it shows; the rest can go before the big write
        return save_atomic(book, out)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while the roll-up is written: the rows it streams
    are millions of short-lived objects freed by reference counting, and each of the
    collector's passes would scan again the long-lived ones (the plans' versions, the accounts,
    openpyxl's skeleton) -- a fifth of the CPU at 10,000 plans, for no memory back."""
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
