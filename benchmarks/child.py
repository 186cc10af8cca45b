"""One measured step in a fresh interpreter, so that its time and memory are its own.

    python benchmarks/child.py collect CORPUS_DIR DB_URL JOBS
    python benchmarks/child.py generate ROSTER PERIOD OUT_DIR JOBS
    python benchmarks/child.py report DB_URL OUT.xlsx

Each prints one JSON line on stdout: ``{"seconds": ..., ...}`` (the time of the library
call, start-up excluded; the parent measures wall time including start-up too).
"""
from __future__ import annotations

import json
import sys
import time


def _context():
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec

    settings = Settings()
    return settings.apply(load_spec()), settings


def collect(corpus: str, db_url: str, jobs: str) -> dict:
    from xltools.collect import collect_paths
    from xltools.store.engine import Store

    spec, settings = _context()
    store = Store(db_url, spec)
    t0 = time.perf_counter()
    summary = collect_paths([corpus], store, spec, settings, jobs=int(jobs))
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds, "files": len(summary.files), "results": summary.results,
            "plans_stored": summary.plans_stored, "issues": summary.issue_counts, "jobs": summary.jobs}


def generate(roster: str, period: str, out_dir: str, jobs: str) -> dict:
    from xltools.generation import generate_from_roster

    spec, settings = _context()
    t0 = time.perf_counter()
    result = generate_from_roster(spec, settings, roster, period, out_dir, jobs=int(jobs))
    return {"seconds": time.perf_counter() - t0, "files": len(result.paths), "errors": len(result.errors)}


def report(db_url: str, out: str) -> dict:
    from xltools.reports.rollup import write_rollup
    from xltools.store.engine import Store

    spec, settings = _context()
    store = Store(db_url, spec, create=False)
    t0 = time.perf_counter()
    write_rollup(store, spec, settings, out)
    seconds = time.perf_counter() - t0
    store.close()
    return {"seconds": seconds}


STEPS = {"collect": collect, "generate": generate, "report": report}

if __name__ == "__main__":
    step, *args = sys.argv[1:]
    print(json.dumps(STEPS[step](*args)), flush=True)
