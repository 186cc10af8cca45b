"""Render the README's picture of a plan's summary page (run by `make docs`; needs
LibreOffice and pdftoppm).

The plan is the first account of the demo's roster (as in tools/gen_relmap.py), generated
with its data, recalculated and printed by headless LibreOffice exactly as
`xltools pack --pdf` and the tests print plans; the first PDF page (サマリー) becomes
docs/summary.png:

    .venv/bin/python tools/gen_summary.py docs/summary.png
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

AS_OF = date(2026, 10, 12)
PERIOD = "FY2026Q3"


def main(path: str) -> int:
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.testing.folders import corpus_entries, entry_info, make_entry_plan
    from xltools.workbook.generate import generate_workbook
    from xltools.workbook.libreoffice import to_pdf
    from xltools.workbook.printing import print_ready_copy

    if not shutil.which("pdftoppm"):
        print("gen_summary: pdftoppm is not installed (Debian: poppler-utils); picture not made", file=sys.stderr)
        return 1
    settings = Settings()
    spec = settings.apply(load_spec())
    entry = corpus_entries(12, seed=0, period=PERIOD, per_rep=4, langs=["ja", "ja", "en"])[0]
    plan = make_entry_plan(entry, spec, settings, seed=0, messy=0.0, as_of=AS_OF)
    info = entry_info(entry, seed=0, as_of=AS_OF)
    info.generated_at = datetime(2026, 10, 12, 9, 0, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "src").mkdir()
        src = generate_workbook(spec, settings, info, t / "src" / "plan.xlsx", prefill=plan)
        pdf = to_pdf(print_ready_copy(src, t / "plan.xlsx"), t / "pdf")
        first_page_png(pdf, Path(path))
    print(f"updated {path}")
    return 0


def first_page_png(pdf: Path, out: Path) -> None:
    """The first page of ``pdf`` as the PNG ``out`` (80 dpi, as every README picture)."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(page)],
                       check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page.with_suffix(".png"), out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/summary.png"))
