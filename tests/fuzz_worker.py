"""The subprocess of ``test_fuzz.py``: runs ``check_files`` and ``collect_paths`` on the
files it is sent, so that a crash (an abort, exit 134) is caught by the test instead of
killing it.

Reads one JSON request per line on stdin -- ``{"paths": [...], "good": [...], "jobs": n}``
-- and answers one JSON line: the check reports and collect results of every path, with
and without the bad files, and, for every readable file, the non-empty cells that are
neither stored nor reported (``lost``; read independently with openpyxl).  Usage:
``python fuzz_worker.py WORKDIR``.
"""
from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

NOW = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)  # the business rules' today is 2026-10-01 here


def main() -> int:
    from xltools.checking.check import check_files, workbook_texts
    from xltools.collect import collect_paths
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store

    work = Path(sys.argv[1])
    settings = Settings()
    spec = settings.apply(load_spec())
    texts = workbook_texts(spec, settings)
    template = work / "template.db"
    with Store(f"sqlite:///{template}", spec) as store:
        store.ensure_schema()
    n = 0

    def collect(paths: list[str], jobs: int) -> dict:
        nonlocal n
        n += 1
        db = work / f"run{n}.db"
        shutil.copy(template, db)
        with Store(f"sqlite:///{db}", spec) as store:
            s = collect_paths(paths, store, spec, settings, jobs=jobs, now=NOW)
        db.unlink()
        return {f.path: [f.result, list(f.codes), f.counts, f.plan_id, f.version_no, f.account_name]
                for f in s.files}

    for line in sys.stdin:
        req = json.loads(line)
        paths, good, jobs = req["paths"], req["good"], req["jobs"]
        reports = check_files(paths, spec, settings, now=NOW)
        alone = check_files(good, spec, settings, now=NOW)
        out = {"check": [_summary(r, texts) for r in reports], "check_good": [_summary(r, texts, False) for r in alone],
               "collect": collect(paths, jobs), "collect_good": collect(good, jobs)}
        print(json.dumps(out, ensure_ascii=False, default=str), flush=True)
    return 0


def _summary(report, texts: set[str], cells: bool = True) -> dict:
    d = report.to_dict("en")
    d.pop("stats")
    out = {"file": report.file, "readable": report.readable, "report": d}
    if report.readable:
        plan = report.plan
        out["plan"] = {"fields": plan.fields, "tables": {t: [r.values for r in rows] for t, rows in plan.tables.items()}}
        if cells:
            out["lost"] = lost_cells(report, texts)
    return out


def lost_cells(report, texts: set[str]) -> list | None:
    """Non-empty cells (as openpyxl reads the file) that are neither in the plan nor at an
    issue; None when openpyxl cannot read the file."""
    import openpyxl

    from xltools.cells import parse_range
    from xltools.checking.validate import is_blank
    from xltools.workbook.xlwrite import clean_text

    try:
        wb = openpyxl.load_workbook(report.file)
    except Exception:  # noqa: BLE001 - nothing to compare against
        return None
    plan = report.plan
    kept = {plan.field_cells[k] for k, v in plan.fields.items() if v is not None and k in plan.field_cells}
    for rows in plan.tables.values():
        for row in rows:
            kept |= {(row.sheet, row.cells[k]) for k, v in row.values.items() if v is not None and k in row.cells}
    reported = {(i.sheet, i.cell) for i in report.issues}
    lost = []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or ws.title == "_meta":
            continue
        headers = set()
        for _, ref in ws.tables.items():
            try:
                top, left, _, right = parse_range(ref)
            except ValueError:
                continue
            headers |= {(top, c) for c in range(left, right + 1)}
        for (r, c), cell in list(ws._cells.items()):
            v = cell.value
            if v is None or cell.data_type == "f" or (r, c) in headers:
                continue
            if isinstance(v, str) and (is_blank(v) or clean_text(v) in texts):
                continue
            if (ws.title, cell.coordinate) not in kept | reported:
                lost.append([ws.title, cell.coordinate, str(v)[:40]])
    return lost


if __name__ == "__main__":
    sys.exit(main())
