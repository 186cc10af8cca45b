"""The README's generated blocks (workbook contract, issue codes, CLI help) match the code."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_generated_blocks_are_current():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in mod.BLOCKS:
        assert f"<!-- BEGIN {name} -->" in text, name
    assert mod.render(text) == text, "README is out of date: run `make docs`"
    assert mod.HELPTEXT.read_text(encoding="utf-8") == mod.helptext_module(), \
        "xltools/helptext.py is out of date: run `make docs`"


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
