"""The command line: a thin click layer over the library.

Each command parses options and calls one library function.  Errors never show a
traceback: :class:`XltoolsCli` turns the library's
:class:`~xltools.errors.XltoolsError` (and an ``OSError``, and any other exception:
an internal error, "please report") into a message and the exit code every command
shares -- 0 all good, 1 data problems found, 2 usage error, 3 the tool could not do
its job.  Under ``--format json`` the error is JSON on standard output:
``{"error": {"code": ..., "message": ...}}``.  Under the ``CI`` environment
variable an internal error is raised, so that a test run fails.  A command that
stamps or compares time reads the clock once (:func:`command_now`: the system clock,
or ``XLTOOLS_NOW``; a bad value is a usage error) and passes that ``now`` to the
library.  Heavy modules (openpyxl, pandas, SQLAlchemy) are imported inside the
commands so that
``xltools --help`` starts fast.  The library never imports click.
"""
from __future__ import annotations

import json
import os
import sys

import click

from . import __version__
from .errors import EXIT_FAILED, EXIT_USAGE, XltoolsError


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--format json``."""
    return any(a == "--format=json" or (a == "--format" and args[i + 1:i + 2] == ["json"])
               for i, a in enumerate(args))


class XltoolsCli(click.Group):
    """The ``xltools`` group: every failure becomes a message and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = _wants_json(argv)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:  # usage errors: bad options, missing arguments
            code = _fail(as_json, "usage", e.format_message(), EXIT_USAGE, e)
        except click.exceptions.Abort:  # Ctrl-C
            code = _fail(as_json, "interrupted", "中断しました / interrupted", EXIT_FAILED)
        except XltoolsError as e:
            code = _fail(as_json, e.code, str(e), e.exit_code)
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            code = _fail(as_json, "os", f"{where}{e.strerror or e}", EXIT_FAILED)
        except Exception as e:  # noqa: BLE001 - a bug: a message to report, never a traceback
            if os.environ.get("CI"):
                raise
            code = _fail(as_json, "internal", "xltools の内部エラーです。お手数ですが報告してください / internal error, "
                                              f"please report it: {type(e).__name__}: {e}", EXIT_FAILED)
        sys.exit(code or 0)


def _fail(as_json: bool, code: str, message: str, exit_code: int, usage: click.ClickException | None = None) -> int:
    if as_json:
        click.echo(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))
    elif usage is not None:
        usage.show()
    else:
        click.echo(f"Error: {message}", err=True)
    return exit_code


def command_now():
    """The time of this command, read once: the system clock, or ``XLTOOLS_NOW`` when set
    (a bad value: a usage error)."""
    from .clock import now

    return now()


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


@click.group(cls=XltoolsCli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xltools")
def cli():
    """Account-plan workbooks: generate, check, collect, report.

    \b
    Exit status of every command: 0 all good, 1 data problems found, 2 usage
    error, 3 the tool could not do its job.

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


@cli.command(name="check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@format_option("text", "json")
@lang_option()
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write a copy of each workbook to DIR with problem cells highlighted and commented, "
                   "plus an issue list sheet (the checked files are never modified).")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="Also judge coverage by the team's historical win rate from this database "
                   "(W-WIN-RATE-COVERAGE), shown next to the fixed 3-5x rule.")
@config_option
def check_cmd(files, fmt, lang, annotate_dir, db_url, config_path):
    """Check filled workbooks and list every problem with its cell.

    \b
    記入済みのブックをチェックし、問題をセル位置つきで一覧にします。
    Exit status: 0 when no file has errors, 1 when any file has errors, 2 on usage
    errors, 3 when xltools failed on a file (E-INTERNAL).  Every path gets a
    result: a file that cannot be read gets one file-level issue; the run goes on.
    """
    from .check import check_files, exit_code, render

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    win_rate = None
    if db_url:
        from .winrate import format_win_rate, load_win_rates

        rates = load_win_rates(db_url, spec, settings)
        win_rate = rates.rate_for(None)
        click.echo(format_win_rate(rates, lang), err=True)
    reports = check_files(files, spec, settings, lang=lang, annotate_dir=annotate_dir, win_rate=win_rate, now=now)
    click.echo(render(reports, fmt, lang))
    click.get_current_context().exit(exit_code(reports))


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
@click.option("--prefill", is_flag=True, help="Hand-over: pre-fill each plan from the latest stored plan of "
                                               "its account (relationship map, strategy, open opportunities...).")
@db_option
@lang_option()
@config_option
def generate_cmd(period, account, rep, account_id, target, team_members, output, roster, out_dir, jobs, prefill,
                 db_url, lang, config_path):
    """Generate account-plan workbooks: one (--account, --rep) or one per roster row.

    \b
    アカウントプランのブックを作成します（1件、または名簿の行ごと）。
      xltools generate --account 株式会社サンプル --rep 山田太郎 --period FY2026Q3
      xltools generate --roster roster.xlsx --period FY2026Q3 --out-dir plans/
    Roster columns (ja or en headers): 担当営業/rep, 顧客名/account_name,
    顧客コード/account_id, 売上目標/target, optional 言語/lang and チームメンバー/team_members.
    Rows with errors are listed and skipped; exit status 1 if any row was skipped.
    """
    now = command_now()
    spec, settings = load_context(config_path)
    if roster:
        if account or rep or output or account_id or target or team_members:
            raise click.UsageError("--roster cannot be combined with the one-plan options")
        if not out_dir:
            raise click.UsageError("--roster needs --out-dir")
        from .generate import generate_from_roster

        from .history import open_prefill

        msg_lang = lang or settings.language
        with open_prefill(prefill, db_url, spec, now=now) as src:
            result = generate_from_roster(spec, settings, roster, period, out_dir, lang=lang, jobs=jobs,
                                          prefill_lookup=src, now=now)
        if src and src.note(msg_lang):
            click.echo(src.note(msg_lang), err=True)
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
                    lang=lang or settings.language, team_members=team_members,
                    generated_at=now.replace(microsecond=0))
    from .history import open_prefill

    with open_prefill(prefill, db_url, spec, now=now) as src:
        pre = src.get(account_id, account) if src else None
    if pre is not None:
        info.predecessor_plan_id = pre.meta.get("predecessor_plan_id")
    elif src and src.note(info.lang):
        click.echo(src.note(info.lang), err=True)
    path = generate_workbook(spec, settings, info, output or Path.cwd() / plan_filename(per, account, rep),
                             prefill=pre)
    click.echo(str(path))


@cli.command(name="collect")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@db_option
@click.option("--roster", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Roster .xlsx or .csv: list the rep x account lines with no plan for the period.")
@click.option("--period", metavar="P", help="Collection period for --roster, e.g. FY2026Q3 "
                                            "(default: the period most collected plans are for).")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@format_option("text", "json")
@lang_option()
@config_option
def collect_cmd(paths, db_url, roster, period, jobs, fmt, lang, config_path):
    """Collect filled workbooks (files or folders) into the database.

    \b
    記入済みのブック（ファイルまたはフォルダ）をデータベースに取り込みます。
      xltools collect inbox/ --roster roster.xlsx --period FY2026Q3
    Folders are walked recursively; lock, temporary and hidden files are skipped;
    .xls/.xlsb/.ods files are recorded as rejected (save as .xlsx); other files are
    ignored.  Idempotent: files already collected are skipped without being read.
    Exit status: 0 when every file is stored, 1 when any file is rejected or in
    conflict (E-CONFLICT: another rep's plan for the same account and period), 2 on
    usage errors, 3 when the run could not be done (or xltools failed on a file).
    """
    from .collect import collect_paths, render_summary
    from .store import Store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    with Store(db_url, spec) as store:
        summary = collect_paths(paths, store, spec, settings, roster=roster, period=period, jobs=jobs,
                                progress=fmt == "text", lang=lang, now=now)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_summary(summary, lang))
    click.get_current_context().exit(summary.exit_code)


@cli.command(name="report")
@db_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The roll-up workbook to write (.xlsx; replaced atomically).")
@click.option("--period", metavar="P", help="FY2026Q3, or FY2026 for the year (default: the latest period).")
@lang_option()
@click.option("--roster", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Roster .xlsx or .csv: list missing submissions on the Submissions sheet.")
@config_option
def report_cmd(db_url, output, period, lang, roster, config_path):
    """Write the roll-up workbook for sales leaders from the database.

    \b
    営業リーダー向けのロールアップ（集計ブック）をデータベースから作成します。
      xltools report -o rollup.xlsx --period FY2026Q3 --roster roster.xlsx
    Sheets: summary with plan vs target chart, submissions, pipeline by fiscal
    quarter, coverage, relationships, executive visits, open review actions, new
    success cases, data quality issues and the month-over-month trend.
    """
    from .rollup import write_rollup
    from .store import Store

    now = command_now()
    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        path = write_rollup(store, spec, settings, output, period=period, lang=lang or settings.language,
                            roster=roster, now=now)
    click.echo(str(path))


# -- success-case library and history (xltools/cases.py, xltools/history.py) -------------------
def scope_option(fn):
    return click.option("--scope", default="company", show_default=True, metavar="company|department|all",
                        help="Sharing scope of the cases shown: company = 社内公開 (the default), "
                             "department = 部内限定 only, all = both.  非公開 (private) cases never leave "
                             "the database.")(fn)


@cli.group(name="cases")
def cases_group():
    """Success-case library: search, show and export the cases of every collected plan.

    \b
    成功事例ライブラリ：取り込んだ全プランの成功事例を検索・表示・書き出しします。
      xltools cases search 在庫削減
      xltools cases show 12
      xltools cases export -o case_library.xlsx
    """


@cases_group.command(name="search")
@click.argument("query")
@click.option("--industry", metavar="X", help="Only cases of this industry (key, 製造業, Manufacturing...).")
@click.option("--product", metavar="X", help="Only cases whose products contain X.")
@click.option("--department", metavar="X", help="Only cases whose department contains X.")
@scope_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Most cases shown.")
@format_option("text", "json")
@lang_option()
@db_option
@config_option
def cases_search_cmd(query, industry, product, department, scope, limit, fmt, lang, db_url, config_path):
    """Search the cases (title, challenge, solution, value, success factors, reusable-for).

    \b
    成功事例を検索します（事例タイトル・顧客課題・ソリューション・提供価値・成功要因・横展開先）。
    Substring search, full-width/half-width and case insensitive; several words
    separated by spaces must all occur.  Best matches first, with a snippet.
    """
    from .cases import format_hits, search_cases
    from .store import Store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    with Store(db_url, spec, create=False) as store:
        hits = search_cases(store, query, industry=industry, product=product, department=department,
                            scope=scope, limit=limit, now=now)
    if fmt == "json":
        click.echo(json.dumps({"query": query, "scope": scope, "hits": [h.to_dict(spec, lang) for h in hits]},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(format_hits(spec, hits, lang))


@cases_group.command(name="show")
@click.argument("case_ref", metavar="ID")
@scope_option
@format_option("text", "json")
@lang_option()
@db_option
@config_option
def cases_show_cmd(case_ref, scope, fmt, lang, db_url, config_path):
    """Show one case by its number (as search lists it) or its case ID.

    \b
    事例を1件表示します（検索結果の番号、または事例ID）。
    """
    from .cases import format_case, get_case
    from .store import Store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    with Store(db_url, spec, create=False) as store:
        case = get_case(store, case_ref, scope=scope, now=now)
    if fmt == "json":
        click.echo(json.dumps(case.to_dict(spec, lang), ensure_ascii=False, indent=2))
    else:
        click.echo(format_case(spec, case, lang))


@cases_group.command(name="export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The library workbook to write (.xlsx; replaced atomically).")
@scope_option
@lang_option()
@db_option
@config_option
def cases_export_cmd(output, scope, lang, db_url, config_path):
    """Write the case library workbook for reps: a filterable list and a card per case.

    \b
    営業向けの成功事例集（フィルター付き一覧と事例カード）を書き出します。
    """
    from .cases import export_library
    from .store import Store

    now = command_now()
    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        n = export_library(store, output, scope=scope, lang=lang or settings.language, now=now)
    click.echo(f"{output}: {n} 件 / {n} cases")


@cli.command(name="history")
@click.argument("account")
@format_option("text", "json")
@lang_option()
@db_option
@config_option
def history_cmd(account, fmt, lang, db_url, config_path):
    """Every stored version of an account's plans and what changed between them.

    \b
    顧客のプランの全バージョンと、版ごとの変化（スタンス、キーマン、案件）を表示します。
    ACCOUNT: the account name or ID.
      xltools history "株式会社サンプル製作所"
    """
    from .history import account_history, format_history
    from .store import Store

    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        h = account_history(store, account)
    if fmt == "json":
        click.echo(json.dumps(h.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_history(spec, h, lang or settings.language))


# -- the plan open in Excel (xltools/live.py; Windows/macOS with pip install 'xltools[excel]') ---
@cli.group(name="live")
def live_group():
    """Check the plan that is open in Excel and mark the problems in place.

    \b
    Excel で開いているプランをチェックし、問題のセルに色とメモを付けます（Windows/macOS）。
      xltools live check            the active workbook / アクティブなブック
      xltools live check --book plan.xlsx
      xltools live clear            remove the marks / 印を消す
      xltools live map              redraw the relationship map / 関係図を描き直す
    Needs Excel on Windows or macOS and pip install 'xltools[excel]'; elsewhere every
    live command exits with status 2.  The workbook is never saved.
    """


def book_option(fn):
    return click.option("--book", metavar="NAME",
                        help="The open workbook (file name, with or without .xlsx; default: the active one).")(fn)


@live_group.command(name="check")
@book_option
@format_option("text", "json")
@lang_option()
@config_option
def live_check_cmd(book, fmt, lang, config_path):
    """Check the open workbook as `xltools check` checks the saved file, and mark it.

    \b
    開いているブックを `xltools check` と同じ基準でチェックし、問題のセルに色とメモ、
    先頭に指摘一覧シート（セルへのリンク付き）を付けます。保存はしません。
    Exit status as for check: 0 no errors, 1 errors found, 2 no Excel, 3 failure.
    """
    from .check import exit_code, render
    from .live import connect, live_check

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    wb = connect(book)
    result = live_check(wb, spec, settings, lang=lang, now=now)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(lang), ensure_ascii=False, indent=2))
    else:
        click.echo(render([result.report], "text", lang))
        click.echo(result.summary(lang))
    click.get_current_context().exit(exit_code([result.report]))


@live_group.command(name="clear")
@book_option
@format_option("text", "json")
@lang_option()
@config_option
def live_clear_cmd(book, fmt, lang, config_path):
    """Remove the marks of `xltools live check` and restore what they replaced.

    \b
    `xltools live check` が付けた色・メモ・指摘一覧シートを消し、元の色とメモに戻します。
    A cell changed after it was marked is left as it is (and listed).
    """
    from .live import clear, connect

    _, settings = load_context(config_path)
    result = clear(connect(book))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(result.summary(lang or settings.language))


@live_group.command(name="map")
@book_option
@lang_option()
@config_option
def live_map_cmd(book, lang, config_path):
    """Redraw the relationship map in the open workbook from its Contacts table.

    \b
    開いているブックの関係図を、現在の表 Contacts（キーマン）から描き直します。
    """
    from .check import render
    from .live import connect, live_map

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    report, done = live_map(connect(book), spec, settings, lang=lang, now=now)
    if done is None:
        click.echo(render([report], "text", lang))
        click.get_current_context().exit(1)
    click.echo(done)
