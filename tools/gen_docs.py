"""Regenerate the README's generated blocks from the code (run `make docs`).

Blocks are delimited by `<!-- BEGIN name -->` / `<!-- END name -->`:
  fields       — the workbook contract: sections, defined names and tables (from the template spec)
  issue-codes  — every issue code with severity and messages (from xltools.spec.issues)
  cli          — `xltools --help` of every command
tests/test_docs.py fails when the README is out of date.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def fields_block() -> str:
    from xltools.spec.spec import load_spec

    spec = load_spec()
    out = []
    for s in spec.sections:
        req = " — required" if s.required else ""
        out.append(f"**{s.title.ja} / {s.title.en}** (sheet `{s.label.ja}` / `{s.label.en}`){req}\n")
        if s.fields:
            out.append("| defined name | label (ja / en) | type | required |")
            out.append("|---|---|---|---|")
            for f in s.fields:
                t = f"formula ({f.type})" if f.formula else f.type + (f" [{f.choices}]" if f.choices else "")
                out.append(f"| `{f.key}` | {f.label.ja} / {f.label.en} | {t} | {'yes' if f.required else ''} |")
            out.append("")
        for t in s.tables:
            out.append(f"Table `{t.name}` — {t.label.ja} / {t.label.en}\n")
            out.append("| column key | header (ja / en) | type | required |")
            out.append("|---|---|---|---|")
            for c in t.columns:
                ty = f"formula ({c.type})" if c.formula else c.type
                if c.choices:
                    ty += f" [{c.choices}]"
                if c.source:
                    ty += f" ← {c.source}"
                out.append(f"| `{c.key}` | {c.label.ja} / {c.label.en} | {ty} | {'yes' if c.required else ''} |")
            out.append("")
    out.append("Choice lists (stored as the key; shown as the label of the workbook's language):\n")
    out.append("| list | choices (key: ja / en) |")
    out.append("|---|---|")
    for name, cl in spec.choice_lists.items():
        out.append(f"| `{name}` | " + ", ".join(f"`{c.key}`: {c.label.ja} / {c.label.en}" for c in cl.choices) + " |")
    return "\n".join(out)


def issue_codes_block() -> str:
    from xltools.spec.issues import issue_codes_markdown

    return issue_codes_markdown()


def cli_block() -> str:
    from click.testing import CliRunner

    from xltools.cli import cli

    runner = CliRunner()
    parts = []

    def walk(group, prefix):
        for name in sorted(group.commands):
            cmd = group.commands[name]
            res = runner.invoke(cli, prefix + [name, "--help"], terminal_width=100)
            parts.append(f"### `xltools {' '.join(prefix + [name])}`\n\n```text\n{res.output.rstrip()}\n```\n")
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + [name])
    walk(cli, [])
    return "\n".join(parts)


BLOCKS = {"fields": fields_block, "issue-codes": issue_codes_block, "cli": cli_block}


def render(text: str) -> str:
    for name, fn in BLOCKS.items():
        pat = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if pat.search(text):
            body = fn()
            text = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(path: str) -> int:
    p = Path(path)
    old = p.read_text(encoding="utf-8")
    new = render(old)
    if new != old:
        p.write_text(new, encoding="utf-8")
        print(f"updated {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
