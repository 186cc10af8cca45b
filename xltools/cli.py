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


@cli.command(name="export")
@click.argument("table")
@db_option
@format_option("csv", "json")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of standard output.")
@click.option("--all-versions", is_flag=True, help="Every stored version, not only the current ones.")
@click.option("--period", metavar="P", help="Only plans of this period (FY2026Q3, or FY2026 for the year).")
@_errors_to_click
def export_cmd(table, db_url, fmt, output, all_versions, period):
    """Export a table of the database for BI tools (CSV or JSON).

    \b
    データベースの表を CSV / JSON で書き出します（BI ツール向け）。
    TABLE: a template table by its snake_case name (opportunities, contacts,
    activities, kpis, success_cases, ...), or plans, issues, files.
    Records carry plan_id, account_id, account_name, rep, period, source_file and the
    template's field keys; amounts in yen, dates ISO 8601.  CSV is UTF-8 with BOM.
    """
    from .export import export_table

    n = export_table(table, db_url=db_url, fmt=fmt, period=period, all_versions=all_versions,
                     output=output or None)
    if output:
        click.echo(f"{n} 件を {output} に書き出しました / {n} records written to {output}", err=True)


@cli.command(name="generate")
@click.option("--period", required=True, metavar="P", help="Fiscal period, e.g. FY2026Q3 (or FY2026).")
@click.option("--account", metavar="NAME", help="One plan: the account (customer) name.")
@click.option("--rep", metavar="NAME", help="One plan: the account manager.")
@click.option("--account-id", metavar="ID", help="One plan: the customer code.")
@click.option("--target", metavar="AMOUNT", help="One plan: sales target in yen (30000000, 3,000万).")
@click.option("--team-members", metavar="NAMES", help="One plan: area reps and SEs, comma-separated.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="One plan: output file (default: <period>_<account>_<rep>.xlsx here).")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Many plans: roster .xlsx or .csv, one plan per row.")
@click.option("--out-dir", type=click.Path(file_okay=False), metavar="DIR", help="Many plans: output folder.")
@click.option("--jobs", type=click.IntRange(min=1), help="Many plans: worker processes (default: all cores).")
@lang_option()
@config_option
@_errors_to_click
def generate_cmd(period, account, rep, account_id, target, team_members, output, roster, out_dir, jobs, lang,
                 config_path):
    """Generate account-plan workbooks: one (--account, --rep) or one per roster row.

    \b
    アカウントプランのブックを作成します（1件、または名簿の行ごと）。
      xltools generate --account 株式会社サンプル --rep 山田太郎 --period FY2026Q3
      xltools generate --roster roster.xlsx --period FY2026Q3 --out-dir plans/
    Roster columns (ja or en headers): 担当営業/rep, 顧客名/account_name,
    顧客コード/account_id, 売上目標/target, optional 言語/lang and チームメンバー/team_members.
    Rows with errors are listed and skipped; exit status 1 if any row was skipped.
    """
    spec, settings = load_context(config_path)
    if roster:
        if account or rep or output or account_id or target or team_members:
            raise click.UsageError("--roster cannot be combined with the one-plan options")
        if not out_dir:
            raise click.UsageError("--roster needs --out-dir")
        from .generate import generate_from_roster

        result = generate_from_roster(spec, settings, roster, period, out_dir, lang=lang, jobs=jobs)
        msg_lang = lang or settings.language
        for issue in result.errors:
            click.echo(f"{issue.code}: {issue.message(msg_lang)}", err=True)
        click.echo(result.summary(msg_lang, out_dir))
        click.get_current_context().exit(0 if result.ok else 1)
    if not account or not rep:
        raise click.UsageError("give --account and --rep for one plan, or --roster and --out-dir")
    from pathlib import Path

    from .generate import PlanInfo, generate_workbook
    from .naming import plan_filename
    from .periods import parse_period
    from .roster import parse_yen

    if output and not output.lower().endswith(".xlsx"):
        raise click.BadParameter("the workbook is .xlsx: give a file name ending in .xlsx", param_hint="-o")
    try:
        target_yen = None if target is None else parse_yen(target)
    except ValueError:
        raise click.BadParameter(f"not an amount in yen: {target!r}", param_hint="--target") from None
    per = parse_period(period, settings.fiscal_year_start_month)
    info = PlanInfo(account_name=account, rep=rep, period=str(per), account_id=account_id, target=target_yen,
                    lang=lang or settings.language, team_members=team_members)
    path = generate_workbook(spec, settings, info, output or Path.cwd() / plan_filename(per, account, rep))
    click.echo(str(path))
