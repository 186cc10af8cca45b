"""Draw the README's relationship-map picture from the demo corpus (run by `make docs`).

The plan is the first account of the demo's roster (`xltools.testing.demo`: 3 reps x 4 accounts,
seed 0), filled by the corpus generator as of a fixed day, so the picture only changes
when the map's code, the spec or the corpus generator does:

    .venv/bin/python tools/gen_relmap.py docs/relmap.png
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

AS_OF = date(2026, 10, 12)
PERIOD = "FY2026Q3"


def main(path: str) -> int:
    from xltools.checking import relmap
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.testing.folders import corpus_entries, make_entry_plan

    settings = Settings()
    spec = settings.apply(load_spec())
    entry = corpus_entries(12, seed=0, period=PERIOD, per_rep=4, langs=["ja", "ja", "en"])[0]
    plan = make_entry_plan(entry, spec, settings, seed=0, messy=0.0, as_of=AS_OF)
    m = relmap.build_map(spec, plan, "ja", now=AS_OF, stale_days=settings.thresholds.contact_stale_days,
                         account=entry.account.name, period=PERIOD)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = relmap.render_png(m, 0)
    if not out.exists() or out.read_bytes() != png:
        out.write_bytes(png)
        print(f"updated {out} ({len(m.cards)} people, {len(m.pages)} page(s), {len(m.flags)} flag(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/relmap.png"))
