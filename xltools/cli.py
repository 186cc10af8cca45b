"""The command line: a thin click layer over the library.

Each command parses options, calls one library function and turns the library's
:class:`~xltools.errors.XltoolsError` into :class:`click.ClickException`.  Heavy
modules (openpyxl, pandas, SQLAlchemy) are imported inside the commands so that
``xltools --help`` starts fast.  The library never imports click.
"""
from __future__ import annotations

import functools
import json
import sys

import click

from . import __version__


def _errors_to_click(fn):
    """Turn library errors into clean CLI errors (exit 1, no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import XltoolsError

        try:
            return fn(*args, **kwargs)
        except XltoolsError as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            raise click.ClickException(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}") from None

    return wrapper


# -- shared options ---------------------------------------------------------------------
def config_option(fn):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        help="Company settings file (default: ./xltools.toml if present).")(fn)


def db_option(fn):
    return click.option("--db", "db_url", envvar="XLTOOLS_DB", default=None, metavar="URL",
                        help="Database URL (default: sqlite:///xltools.db; env XLTOOLS_DB). "
                             "PostgreSQL: postgresql+psycopg://user:pw@host/db")(fn)


def lang_option(default: str | None = None):
    def deco(fn):
        return click.option("--lang", type=click.Choice(["ja", "en"]), default=default,
                            help="Language of labels and messages (default: from settings, ja).")(fn)
    return deco


def format_option(*choices: str):
    def deco(fn):
        return click.option("--format", "fmt", type=click.Choice(list(choices)), default=choices[0],
                            show_default=True, help="Output format.")(fn)
    return deco


def load_context(config_path: str | None):
    """(spec with company lists applied, settings)."""
    from .config import load_settings
    from .spec import load_spec

    settings = load_settings(config_path)
    return settings.apply(load_spec()), settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xltools")
def cli():
    """Account-plan workbooks: generate, check, collect, report.

    \b
    Monthly routine:
      xltools generate --roster roster.xlsx --period FY2026Q3 --out-dir plans/
      xltools check plans/*.xlsx
      xltools collect inbox/ --roster roster.xlsx
      xltools report -o rollup.xlsx
    """


@cli.command(name="spec")
@format_option("text", "json")
@config_option
@_errors_to_click
def spec_cmd(fmt, config_path):
    """Print the resolved template spec (sections, fields, tables, choices)."""
    spec, _ = load_context(config_path)
    if fmt == "json":
        click.echo(json.dumps(spec.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"template {spec.template} version {spec.version}")
    for s in spec.sections:
        click.echo(f"\n[{s.key}] {s.title.ja} / {s.title.en}" + ("  (required)" if s.required else ""))
        for f in s.fields:
            click.echo(f"  {f.key:<24} {f.type:<9} {'*' if f.required else ' '} {f.label.ja} / {f.label.en}"
                       + (f"  = formula" if f.formula else ""))
        for t in s.tables:
            click.echo(f"  table {t.name}: {t.label.ja} / {t.label.en}")
            for c in t.columns:
                extra = f"  [{c.choices}]" if c.choices else (f"  <- {c.source}" if c.source else "")
                click.echo(f"    {c.key:<22} {c.type:<9} {'*' if c.required else ' '} "
                           f"{c.label.ja} / {c.label.en}{extra}" + ("  = formula" if c.formula else ""))


# == commands added below: generate, check, collect, report, export, cases, history ==
