"""Render the README's picture of the roll-up's dashboard (run by `make docs`; needs
LibreOffice and pdftoppm).

`make demo`'s routine (`xltools.testing.demo.run_demo`, its default roster and seed) is run
in a temporary folder on a fixed day, and its roll-up is printed by headless LibreOffice as
`xltools report` writes it; the first PDF page (the dashboard) becomes docs/dashboard.png:

    .venv/bin/python tools/gen_dashboard.py docs/dashboard.png
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

#: the day of the demo's second collection (the dashboard's "as of")
NOW = datetime(2026, 10, 15, 9, 0, tzinfo=timezone.utc)


def main(path: str) -> int:
    from gen_summary import first_page_png  # tools/, next to this script

    from xltools.testing.demo import run_demo
    from xltools.workbook.libreoffice import to_pdf

    if not shutil.which("pdftoppm"):
        print("gen_dashboard: pdftoppm is not installed (Debian: poppler-utils); picture not made", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        run_demo(t / "demo", now=NOW, echo=lambda _: None)
        first_page_png(to_pdf(t / "demo" / "rollup.xlsx", t / "pdf"), Path(path))
    print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png"))
