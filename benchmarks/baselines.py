"""The two reference points ``collect`` is measured against.

* :func:`naive_pandas` -- what an ops analyst would write first: every sheet of every file
  with ``pandas.read_excel(path, sheet_name=None, engine="openpyxl")``, concatenated.
  One process, as such a script runs.
* :func:`calamine_cells` -- the limit: a bare python-calamine read of every cell of every
  sheet, nothing else, with the same number of processes as ``collect``.
"""
from __future__ import annotations

import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def naive_pandas(paths: Sequence[Path]) -> tuple[float, float, int]:
    """(seconds, CPU seconds, rows of the concatenated frame)."""
    import pandas as pd

    c0 = time.process_time()
    t0 = time.perf_counter()
    frames = []
    for p in paths:
        for sheet, df in pd.read_excel(p, sheet_name=None, engine="openpyxl").items():
            df.insert(0, "_sheet", sheet)
            df.insert(0, "_file", p.name)
            frames.append(df)
    rows = len(pd.concat(frames, ignore_index=True)) if frames else 0
    return time.perf_counter() - t0, time.process_time() - c0, rows


def _cells_of(path: str) -> int:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(path)
    try:
        n = 0
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False):
                n += len(row)
        return n
    finally:
        wb.close()


def calamine_cells(paths: Sequence[Path], jobs: int) -> tuple[float, float, int]:
    """(seconds, CPU seconds of all processes, cells read) for every cell of every sheet of
    ``paths`` on ``jobs`` processes."""
    c0 = time.process_time() + _children_cpu()
    t0 = time.perf_counter()
    strs = [str(p) for p in paths]
    if jobs <= 1:
        cells = sum(_cells_of(p) for p in strs)
    else:
        with ProcessPoolExecutor(jobs) as ex:
            cells = sum(ex.map(_cells_of, strs, chunksize=max(1, len(strs) // (jobs * 8))))
    wall = time.perf_counter() - t0
    return wall, time.process_time() + _children_cpu() - c0, cells
