#!/usr/bin/env python
"""What a collect run stored, as one digest per table -- to show that a change to the
reading or storing code leaves the stored results byte for byte the same.

    .venv/bin/python tools/stored_digest.py DB_URL [--write FILE] [--compare FILE] [--rows]

Every table of the xltools schema except Alembic's bookkeeping is read in primary-key
order; every row becomes one canonical JSON line (columns in schema order, values as
the database driver returns them: text, integers, exact decimals, timestamps in ISO
form).  The digest of a table is the SHA-256 of its lines.  ``--write`` saves the
digests (and the row counts) as JSON; ``--compare`` compares them with a file written
before (by ``--write``, or the bench's ``bench-out/stored-digest-N.json``) and names each
table that differs (exit 1).  ``--rows`` prints the lines.

For a before/after comparison, collect the same folder into two fresh databases with
``XLTOOLS_NOW`` fixed (the run's timestamps are stored) and from the same folder path
(paths are stored), once with each version of the code.  ``make bench`` does that for
its corpus (``bench-out/stored-digest.json``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _plain(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).hex()
    return v


def table_lines(url: str) -> Iterator[tuple[str, Iterator[str]]]:
    """(table name, its rows as canonical JSON lines), every xltools table, sorted by name."""
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(eng)
        for name in sorted(meta.tables):
            if name.startswith("alembic"):
                continue
            t = meta.tables[name]
            order = list(t.primary_key.columns) or list(t.columns)
            with eng.connect() as conn:
                rows = conn.execute(sa.select(t).order_by(*order)).all()
            cols = [c.name for c in t.columns]
            yield name, (json.dumps(dict(zip(cols, map(_plain, r))), ensure_ascii=False, sort_keys=False,
                                    separators=(",", ":"), default=str) for r in rows)
    finally:
        eng.dispose()


def digests(url: str, show: bool = False) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, lines in table_lines(url):
        h, n = hashlib.sha256(), 0
        for line in lines:
            if show:
                print(f"{name}\t{line}")
            h.update(line.encode("utf-8") + b"\n")
            n += 1
        out[name] = {"rows": n, "sha256": h.hexdigest()}
    return out


def differences(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[str]:
    """Tables whose digest differs (or that only one side has), with the row counts."""
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        if x != y:
            out.append(f"{name}: {x['rows'] if x else '-'} rows / {y['rows'] if y else '-'} rows"
                       + (" (same count, other content)" if x and y and x["rows"] == y["rows"] else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db_url")
    ap.add_argument("--write", type=Path, help="save the digests as JSON")
    ap.add_argument("--compare", type=Path, help="compare with digests saved before (exit 1 when they differ)")
    ap.add_argument("--rows", action="store_true", help="print every row's canonical line")
    args = ap.parse_args(argv)
    got = digests(args.db_url, show=args.rows)
    if args.write:
        args.write.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    total = sum(d["rows"] for d in got.values())
    if args.compare:
        saved = json.loads(args.compare.read_text(encoding="utf-8"))
        if isinstance(saved.get("tables"), dict):  # the bench's file: {"fingerprint", "commit", "tables"}
            saved = saved["tables"]
        diff = differences(saved, got)
        if diff:
            print("stored results differ / 保存結果が異なります:\n  " + "\n  ".join(diff))
            return 1
        print(f"identical / 同一: {len(got)} tables, {total:,} rows")
        return 0
    if not args.rows:
        print(json.dumps(got, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
