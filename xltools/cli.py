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

from xltools import __version__
from xltools.errors import EXIT_FAILED, EXIT_USAGE, UsageError, XltoolsError
from xltools.messages import Label

_WRITTEN = Label("{n} 件を {path} に書き出しました", "{n} records written to {path}")
_INTERRUPTED = Label("中断しました", "interrupted")
#: what is wrong with a command line beyond what click checks (exit 2, code ``usage``)
_ROSTER_WITH_ONE = Label("--roster は1件用のオプション（--account など）と一緒には使えません",
                         "--roster cannot be combined with the one-plan options")
_ROSTER_OUT_DIR = Label("--roster には --out-dir が必要です", "--roster needs --out-dir")
_ONE_OR_ROSTER = Label("1件なら --account と --rep を、名簿からなら --roster と --out-dir を指定してください",
                       "give --account and --rep for one plan, or --roster and --out-dir")
_NOT_XLSX = Label("-o: ブックは .xlsx です。.xlsx で終わるファイル名を指定してください",
                  "-o: the workbook is .xlsx: give a file name ending in .xlsx")
_FILES_OR_DB = Label("--period / --account はデータベースからプランを選びます。プランのファイルか、"
                     "--db と --period / --account のどちらかを指定してください",
                     "--period / --account select plans from the database: give either plan files "
                     "or --db with --period / --account")
_INTERNAL = Label("xltools の内部エラーです。お手数ですが報告してください: {error}",
                  "internal error, please report it: {error}")


class CommandLineError(UsageError):
    """Options that do not go together (click checks each option alone); the text is a
    :class:`Label`, shown in the command's language."""


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name X`` / ``--name=X`` on the command line (the last one), if any."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a[len(name) + 1:]
    return value


def _render(label: Label, lang: str | None, **params) -> str:
    """``label`` in ``lang``; both languages (Japanese first) when none was asked for."""
    return " / ".join(label.format(x, **params) for x in ((lang,) if lang else ("ja", "en")))


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--format json``."""
    return _option(args, "--format") == "json"


def _message_lang(args: list[str]) -> str | None:
    """The language of error messages: ``--lang``, else ``XLTOOLS_LANG``, else None (both,
    Japanese first)."""
    lang = _option(args, "--lang") or os.environ.get("XLTOOLS_LANG")
    return lang if lang in ("ja", "en") else None


class XltoolsCli(click.Group):
    """The ``xltools`` group: every failure becomes a message and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = _wants_json(argv)
        lang = _message_lang(argv)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:  # usage errors: bad options, missing arguments
            code = _fail(as_json, "usage", e.format_message(), EXIT_USAGE, e)
        except click.exceptions.Abort:  # Ctrl-C
            code = _fail(as_json, "interrupted", _render(_INTERRUPTED, lang), EXIT_FAILED)
        except XltoolsError as e:
            code = _fail(as_json, e.code, e.message(lang), e.exit_code, params=e.to_dict(lang)["params"])
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            code = _fail(as_json, "os", f"{where}{e.strerror or e}", EXIT_FAILED)
        except Exception as e:  # noqa: BLE001 - a bug: a message to report, never a traceback
            if os.environ.get("CI"):
                raise
            code = _fail(as_json, "internal", _render(_INTERNAL, lang, error=f"{type(e).__name__}: {e}"), EXIT_FAILED)
        sys.exit(code or 0)


def _echo(text: str, err: bool = False) -> None:
    """Print text output with control and format characters escaped (line breaks kept):
    file, sheet, account and case names come from untrusted workbooks and must not drive the
    terminal (:func:`xltools.textwidth.printable`).  JSON output is printed as it is."""
    from xltools.textwidth import printable

    click.echo(printable(text, newlines=True), err=err)


def _fail(as_json: bool, code: str, message: str, exit_code: int, usage: click.ClickException | None = None,
          params: dict | None = None) -> int:
    if as_json:
        error = {"code": code, "message": message, **({"params": params} if params else {})}
        click.echo(json.dumps({"error": error}, ensure_ascii=False))
    elif usage is not None:
        usage.show()
    else:
        _echo(f"Error: {message}", err=True)
    return exit_code


def command_now():
    """The time of this command, read once: the system clock, or ``XLTOOLS_NOW`` when set
    (a bad value: a usage error)."""
    from xltools.clock import now

    return now()


# -- shared options ---------------------------------------------------------------------
def config_option(fn):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        help="Company settings file (default: ./xltools.toml if present).")(fn)


DB_HELP = ("Database URL (default: sqlite:///xltools.db; env XLTOOLS_DB). "
           "PostgreSQL: postgresql+psycopg://user:pw@host/db")


def db_option(fn=None, *, help: str = DB_HELP):
    """``--db URL`` (env ``XLTOOLS_DB``) on every command that uses the database;
    ``@db_option`` or ``@db_option(help=...)``."""
    def deco(f):
        return click.option("--db", "db_url", envvar="XLTOOLS_DB", default=None, metavar="URL", help=help)(f)
    return deco(fn) if fn is not None else deco


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
    """(spec with company lists applied, settings): :func:`xltools.spec.config.load_context`."""
    from xltools.spec.config import load_context as load

    return load(config_path)


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
    _echo(f"template {spec.template} version {spec.version}")
    for s in spec.sections:
        _echo(f"\n[{s.key}] {s.title.ja} / {s.title.en}" + ("  (required)" if s.required else ""))
        for f in s.fields:
            _echo(f"  {f.key:<24} {f.type:<9} {'*' if f.required else ' '} {f.label.ja} / {f.label.en}"
                       + ("  = formula" if f.formula else ""))
        for t in s.tables:
            _echo(f"  table {t.name}: {t.label.ja} / {t.label.en}")
            for c in t.columns:
                extra = f"  [{c.choices}]" if c.choices else (f"  <- {c.source}" if c.source else "")
                _echo(f"    {c.key:<22} {c.type:<9} {'*' if c.required else ' '} "
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
@lang_option()
@config_option
def export_cmd(table, db_url, fmt, output, all_versions, period, lang, config_path):
    """Export a table of the database for BI tools (CSV or JSON).

    \b
    データベースの表を CSV / JSON で書き出します（BI ツール向け）。
    TABLE: a template table by its snake_case name (opportunities, contacts,
    activities, kpis, success_cases, ...), or plans, issues, files.
    Records carry plan_id, account_id, account_name, rep, period, source_file and the
    template's field keys; amounts in yen, dates ISO 8601.  CSV is UTF-8 with BOM.
    """
    from xltools.reports.export import export_table

    spec, settings = load_context(config_path)
    n = export_table(table, db_url=db_url, fmt=fmt, period=period, all_versions=all_versions,
                     output=output or None, spec=spec)
    if output:
        _echo(_WRITTEN.format(lang or settings.language, n=n, path=output), err=True)


@cli.command(name="check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@format_option("text", "json")
@lang_option()
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write a copy of each workbook to DIR with problem cells highlighted and commented, "
                   "plus an issue list sheet and the relationship map (関係図) redrawn from the checked data "
                   "(the checked files are never modified).")
@db_option(help="Also judge coverage by the team's historical win rate from this database "
                "(W-WIN-RATE-COVERAGE), shown next to the fixed 3-5x rule (env XLTOOLS_DB).")
@config_option
def check_cmd(files, fmt, lang, annotate_dir, db_url, config_path):
    """Check filled workbooks and list every problem with its cell.

    \b
    記入済みのブックをチェックし、問題をセル位置つきで一覧にします。
    Exit status: 0 when no file has errors, 1 when any file has errors, 2 on usage
    errors, 3 when xltools failed on a file (E-INTERNAL).  Every path gets a
    result: a file that cannot be read gets one file-level issue; the run goes on.
    """
    from xltools.checking.worker import check_worker, send_context

    worker = check_worker().start()  # it imports the reader while the spec is loaded here
    with worker:
        now = command_now()
        if not db_url:  # the worker loads the same context itself while this process does
            send_context(worker, config_path, now)
        from xltools.checking.check import check_files, exit_code, render

        spec, settings = load_context(config_path)
        lang = lang or settings.language
        win_rate = None
        if db_url:
            from xltools.reports.winrate import format_win_rate, load_win_rates

            rates = load_win_rates(db_url, spec, settings)
            win_rate = rates.rate_for(None)
            _echo(format_win_rate(rates, lang), err=True)
        reports = check_files(files, spec, settings, lang=lang, annotate_dir=annotate_dir, win_rate=win_rate,
                              now=now, worker=worker)
    output = render(reports, fmt, lang)
    click.echo(output) if fmt == "json" else _echo(output)
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
                                               "its account (relationship map, strategy, open opportunities...) "
                                               "and draw its 関係図 sheet.")
@db_option
@format_option("text", "json")
@lang_option()
@config_option
def generate_cmd(period, account, rep, account_id, target, team_members, output, roster, out_dir, jobs, prefill,
                 db_url, fmt, lang, config_path):
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
            raise CommandLineError(_ROSTER_WITH_ONE)
        if not out_dir:
            raise CommandLineError(_ROSTER_OUT_DIR)
        from xltools.generation import generate_plans

        msg_lang = lang or settings.language
        result = generate_plans(spec, settings, roster, period, out_dir, lang=lang, jobs=jobs, prefill=prefill,
                                db_url=db_url, now=now)
        if fmt == "json":
            click.echo(json.dumps(result.to_dict(msg_lang), ensure_ascii=False, indent=2))
        else:
            if result.note:
                _echo(result.note, err=True)
            for issue in result.errors:
                _echo(f"{issue.code}: {issue.message(msg_lang)}", err=True)
            _echo(result.summary(msg_lang, out_dir))
        click.get_current_context().exit(0 if result.ok else 1)
    if not account or not rep:
        raise CommandLineError(_ONE_OR_ROSTER)
    if output and not output.lower().endswith(".xlsx"):
        raise CommandLineError(_NOT_XLSX)
    from xltools.generation import generate_plan

    plan = generate_plan(spec, settings, account=account, rep=rep, period=period, account_id=account_id,
                         target=target, lang=lang, team_members=team_members, output=output, prefill=prefill,
                         db_url=db_url, now=now)
    if fmt == "json":
        click.echo(json.dumps({"paths": [str(plan.path)], "errors": [], "note": plan.note}, ensure_ascii=False))
        return
    if plan.note:
        _echo(plan.note, err=True)
    _echo(str(plan.path))


@cli.command(name="collect")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@db_option
@click.option("--roster", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Roster .xlsx or .csv: list the rep x account lines with no plan for the period; "
                   "stored as the period's roster, which report then uses.")
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
    from xltools.collect import collect_paths, render_summary
    from xltools.store.engine import Store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    with Store(db_url, spec) as store:
        summary = collect_paths(paths, store, spec, settings, roster=roster, period=period, jobs=jobs,
                                progress=fmt == "text", lang=lang, now=now)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        _echo(render_summary(summary, lang))
    click.get_current_context().exit(summary.exit_code)


@cli.command(name="report")
@db_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The roll-up workbook to write (.xlsx; replaced atomically).")
@click.option("--period", metavar="P", help="FY2026Q3, or FY2026 for the year (default: the latest period).")
@lang_option()
@click.option("--roster", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Roster .xlsx or .csv for the Submissions sheet (default: the roster collect --roster "
                   "stored for the period).")
@config_option
def report_cmd(db_url, output, period, lang, roster, config_path):
    """Write the roll-up workbook for sales leaders from the database.

    \b
    営業リーダー向けのロールアップ（集計ブック）をデータベースから作成します。
      xltools report -o rollup.xlsx --period FY2026Q3
    Sheets: dashboard, changes since last month, summary, submissions per roster
    line (the roster collect --roster stored for the period, or --roster), the file
    log, portfolio (tier and selection score against coverage, KPI achievement per
    account manager), pipeline by fiscal quarter, coverage, relationships, executive
    visits, open review actions, new success cases, data quality issues and the trend.
    """
    from xltools.reports.rollup import write_rollup
    from xltools.store.engine import Store

    now = command_now()
    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        path = write_rollup(store, spec, settings, output, period=period, lang=lang or settings.language,
                            roster=roster, now=now)
    _echo(str(path))


# -- success-case library and history (xltools/reports/cases.py, xltools/reports/history.py) -------------------
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
    from xltools.reports.cases import format_hits, search_cases
    from xltools.store.engine import Store

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
        _echo(format_hits(spec, hits, lang))


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
    from xltools.reports.cases import format_case, get_case
    from xltools.store.engine import Store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    with Store(db_url, spec, create=False) as store:
        case = get_case(store, case_ref, scope=scope, now=now)
    if fmt == "json":
        click.echo(json.dumps(case.to_dict(spec, lang), ensure_ascii=False, indent=2))
    else:
        _echo(format_case(spec, case, lang))


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
    from xltools.reports.cases import export_library
    from xltools.store.engine import Store

    now = command_now()
    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        n = export_library(store, output, scope=scope, lang=lang or settings.language, now=now)
    _echo(f"{output}: {n} 件 / {n} cases")


@cli.command(name="pack")
@click.argument("plans", nargs=-1, type=click.Path())
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the APS packs (created if missing).")
@db_option(help="From the database (with --period / --account), or, with plan files, where the previous "
                "version of each plan is looked up (env XLTOOLS_DB).")
@click.option("--period", metavar="P", help="From the database: plans of this period (FY2026Q3 or FY2026).")
@click.option("--account", metavar="NAME", help="From the database: only this account (name or ID).")
@click.option("--pdf", is_flag=True, help="Also write a PDF of each pack (needs LibreOffice).")
@format_option("text", "json")
@lang_option()
@config_option
def pack_cmd(plans, out_dir, db_url, period, account, pdf, fmt, lang, config_path):
    """APS packs: one workbook per account for its Account Planning Session.

    \b
    アカウントプランニングセッション（APS）用の資料を顧客ごとに作成します。
      xltools pack plans/*.xlsx -o aps/ --pdf
      xltools pack --db sqlite:///xltools.db --period FY2026Q3 --account 株式会社サンプル -o aps/
    Each pack: summary (figures, top opportunities, key persons, executive pairings),
    pipeline by quarter against the target, activities of the next 90 days, open
    review actions, data-quality issues, and what changed since the previous stored
    version.  Exit status 1 when a file could not be packed or no PDF could be made.
    """
    from xltools.reports.pack import pack_files, pack_from_store

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    if plans:
        if period or account:
            raise CommandLineError(_FILES_OR_DB)
        result = pack_files(plans, spec, settings, out_dir, lang=lang, db_url=db_url, pdf=pdf, now=now)
    else:
        from xltools.store.engine import Store

        with Store(db_url, spec, create=False) as store:
            result = pack_from_store(store, spec, settings, out_dir, period=period, account=account, lang=lang,
                                     pdf=pdf, now=now)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for note in result.notes:
            _echo(note, err=True)
        for p in result.paths + result.pdfs:
            _echo(str(p))
        _echo(result.summary(lang, out_dir), err=True)
    click.get_current_context().exit(0 if result.ok else 1)


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
    from xltools.reports.history import account_history, format_history
    from xltools.store.engine import Store

    spec, settings = load_context(config_path)
    with Store(db_url, spec, create=False) as store:
        h = account_history(store, account)
    if fmt == "json":
        click.echo(json.dumps(h.to_dict(), ensure_ascii=False, indent=2))
    else:
        _echo(format_history(spec, h, lang or settings.language))


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
    from xltools.checking.check import exit_code, render
    from xltools.live import connect, live_check

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    wb = connect(book)
    result = live_check(wb, spec, settings, lang=lang, now=now)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(lang), ensure_ascii=False, indent=2))
    else:
        _echo(render([result.report], "text", lang))
        _echo(result.summary(lang))
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
    from xltools.live import clear, connect

    _, settings = load_context(config_path)
    result = clear(connect(book))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _echo(result.summary(lang or settings.language))


@live_group.command(name="map")
@book_option
@lang_option()
@config_option
def live_map_cmd(book, lang, config_path):
    """Redraw the relationship map in the open workbook from its Contacts table.

    \b
    開いているブックの関係図を、現在の表 Contacts（キーマン）から描き直します。
    """
    from xltools.checking.check import render
    from xltools.live import connect, live_map

    now = command_now()
    spec, settings = load_context(config_path)
    lang = lang or settings.language
    report, done = live_map(connect(book), spec, settings, lang=lang, now=now)
    if done is None:
        _echo(render([report], "text", lang))
        click.get_current_context().exit(1)
    _echo(done)

