"""Write the next Alembic migration of the store from the difference between the
shipped migrations and ``xltools/store/schema.py``.

    .venv/bin/python tools/make_migration.py "add success-case library"

A scratch SQLite database is upgraded to the current head, compared with
``xltools.store.schema.metadata()`` and the difference is rendered as explicit DDL into
``xltools/store/migrations/versions/NNNN_<slug>.py`` (NNNN = next number).  Review the
file (autogenerate does not see renames), then run ``tests/test_migrations.py``,
which proves the migrated database equals the schema on SQLite and PostgreSQL.  Then
record the new head schema for new databases (``python -m xltools.store.headschema
PG_URL``, which needs a PostgreSQL server); until then new databases are made by the
migrations and ``tests/test_schema_direct.py`` fails with that command.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xltools.store.engine import alembic_config  # noqa: E402

VERSIONS = ROOT / "xltools" / "store" / "migrations" / "versions"


def next_rev_id() -> str:
    nums = [int(m.group(1)) for p in VERSIONS.glob("*.py") if (m := re.match(r"^(\d{4})_", p.name))]
    return f"{max(nums, default=0) + 1:04d}"


def make(message: str) -> Path | None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            cfg: Config = alembic_config(conn)
            command.upgrade(cfg, "head")
            rev_id = next_rev_id()
            script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    if script is None:
        return None
    path = Path(script.path)
    text = path.read_text(encoding="utf-8")
    # drop Alembic's "auto generated - please adjust!" markers: the file is reviewed as is
    text = re.sub(r"^ *# ### .* ###\n", "", text, flags=re.M)
    path.write_text(text, encoding="utf-8")
    if "op." not in text.split("def upgrade", 1)[1].split("def downgrade", 1)[0]:
        path.unlink()
        print("no schema differences: nothing written")
        return None
    print(f"wrote {path.relative_to(ROOT)}")
    print("then record the head schema: .venv/bin/python -m xltools.store.headschema PG_URL")
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        print(__doc__)
        return 2
    make(argv[0].strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
