"""A bigger SQLite store for the roll-up's benchmark, without generating and collecting more
workbooks: every plan of a collected database copied ``copies - 1`` more times by SQL.

    .venv/bin/python benchmarks/multiply_db.py SRC.db DST.db [--copies 10]

Copy k (1 .. copies-1) of each table's rows (all tables but the case library, the roster and
Alembic's) gets every integer key and reference (``id``, ``version_id``, ``file_id``,
``current_version_id``) offset by k × 1,000,000, its plan ids, account ids and keys, slots and
hashes suffixed ``-k``, its account names suffixed ``k`` and its file paths ``-k.xlsx``: as many
distinct accounts, plans, versions, files and rows as ``copies`` collections of the corpus.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
from pathlib import Path

OFFSET = 1_000_000
#: table -> its text columns that get a per-copy suffix
SUFFIXED = {
    "plans": ("plan_id", "account_key", "account_id", "account_name", "slot", "predecessor_plan_id"),
    "plan_versions": ("plan_id", "content_hash", "file_sha256", "account_name", "account_id", "source_file"),
    "files": ("path", "sha256", "plan_id"),
}
OFFSET_COLUMNS = frozenset({"id", "version_id", "file_id", "current_version_id"})
SKIPPED = frozenset({"alembic_version", "roster_lines", "case_sources"})


def _copied(column: str, table: str, k: int) -> str:
    q = f'"{column}"'
    if column in OFFSET_COLUMNS:
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} + {k * OFFSET} END"
    if column not in SUFFIXED.get(table, ()):
        return q
    if column == "account_name":
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} || '{k}' END"
    if column in ("path", "source_file"):
        return f"CASE WHEN {q} IS NULL THEN NULL ELSE replace({q}, '.xlsx', '-{k}.xlsx') END"
    return f"CASE WHEN {q} IS NULL THEN NULL ELSE {q} || '-{k}' END"


def multiply(src: Path, dst: Path, copies: int) -> dict[str, int]:
    """Write ``dst``: ``src`` with its plans ``copies`` times; rows per main table."""
    shutil.copyfile(src, dst)
    db = sqlite3.connect(dst)
    try:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")
                  if not r[0].startswith(("case_library", "sqlite_")) and r[0] not in SKIPPED]
        for t in tables:
            db.execute(f'create temp table "orig_{t}" as select * from main."{t}"')
        for k in range(1, copies):
            for t in tables:
                cols = [r[1] for r in db.execute(f'pragma table_info("{t}")')]
                names = ", ".join(f'"{c}"' for c in cols)
                db.execute(f'insert into main."{t}" ({names}) '
                           f'select {", ".join(_copied(c, t, k) for c in cols)} from temp."orig_{t}"')
        db.commit()
        return {t: db.execute(f'select count(*) from "{t}"').fetchone()[0]
                for t in ("plans", "plan_versions", "files", "opportunities", "issues") if t in tables}
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--copies", type=int, default=10)
    a = ap.parse_args(argv)
    for table, n in multiply(a.src, a.dst, a.copies).items():
        print(f"{table}: {n:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
