"""Compare what two checkouts of xltools read from the same workbooks.

    python tools/compare_read.py OLD_TREE NEW_TREE FOLDER_OR_FILE... [--now 2026-11-20T09:00:00+00:00]

Each tree (a checkout of the repository, e.g. ``git archive main | tar -x -C /tmp/old``) reads
every ``.xlsx`` of the folders in a fresh process of this interpreter, with that tree first on
``sys.path``: the ``read_workbook`` result (a RawPlan, or the file-level problem) and the
``check_file`` report (timings left out) of every file, pickled.  Exit status 1 when any file
differs, with the first differences shown; 0 when both trees read every file alike.
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

_DUMP = r'''
import pickle, sys
from datetime import datetime
from pathlib import Path
from xltools.checking.check import check_file, workbook_texts
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.workbook.reader import FileProblem, Limits, read_workbook

out_path, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
settings = Settings()
spec = settings.apply(load_spec())
texts = workbook_texts(spec, settings)
limits = Limits.from_settings(settings)
out = {}
for p in map(Path, sys.argv[3:]):
    try:
        raw = read_workbook(p, spec, limits=limits, static_texts=texts)
    except FileProblem as e:
        raw = ("FileProblem", e.code, e.detail, e.detail_ja, e.value)
    report = check_file(p, spec, settings, now=now, static_texts=texts)
    report.stats = {k: v for k, v in (report.stats or {}).items() if not k.endswith("_seconds")}
    out[str(p)] = (repr(raw), pickle.dumps(raw), pickle.dumps(report))
with open(out_path, "wb") as f:
    pickle.dump(out, f)
'''


def _read(tree: Path, files: list[str], now: str, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([sys.executable, "-c", _DUMP, str(out), now, *files], check=True, env=env, cwd=tempfile.gettempdir())
    with open(out, "rb") as f:
        return pickle.load(f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--now", default="2026-11-20T09:00:00+00:00")
    args = ap.parse_args()
    files = sorted(str(f) for p in args.paths for f in ([p] if p.is_file() else p.rglob("*.xlsx")))
    with tempfile.TemporaryDirectory() as d:
        old = _read(args.old.resolve(), files, args.now, Path(d) / "old.pickle")
        new = _read(args.new.resolve(), files, args.now, Path(d) / "new.pickle")
    differ = [f for f in files if old[f] != new[f] and (
        old[f][0] != new[f][0] or pickle.loads(old[f][1]) != pickle.loads(new[f][1])
        or pickle.loads(old[f][2]) != pickle.loads(new[f][2]))]
    for f in differ[:5]:
        print(f"{f}:\n  old {old[f][0][:1500]}\n  new {new[f][0][:1500]}")
    print(f"{len(files)} files, {len(differ)} read differently")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
