"""``xltools check --annotate DIR``: a copy of a checked workbook for the rep.

Every cell with an issue gets a fill by severity (the most severe issue wins) and a
comment with each issue's code and message in the chosen language; an issue list
sheet (:data:`xltools.checking.validate.ANNOTATION_SHEET`) lists every issue, with links to
the cells.  Everything that came from the rep is written as text or as the value it
was, never as a formula (:func:`xltools.workbook.xlwrite.write_value`).

The original file is only read; the copy is written to a temporary file in the
target directory and moved into place, and a target that is the original itself is
refused.
"""
from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Sequence

from xltools import clock
from xltools.checking.validate import ANNOTATION_SHEET
from xltools.errors import UsageError, XltoolsError
from xltools.spec.config import Settings
from xltools.spec.issues import SEVERITIES, FileReport, Issue, sort_issues
from xltools.spec.spec import Label, Spec

#: fill colour (RGB) of a problem cell, by severity
FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7"}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_AUTHOR = "xltools"
_TABLE = "xltoolsIssues"

#: the columns of the issue list (the annotated copy's sheet and ``xltools live``'s) and their widths
ISSUE_HEADERS = (
    Label("No.", "No."), Label("重要度", "Severity"), Label("コード", "Code"), Label("シート", "Sheet"),
    Label("セル", "Cell"), Label("項目", "Field"), Label("入力値", "Value"), Label("内容", "Message"),
)
ISSUE_WIDTHS = (6, 10, 28, 18, 8, 26, 24, 80)
_SEVERITY = {"error": Label("エラー", "Error"), "warning": Label("警告", "Warning"), "info": Label("情報", "Info")}
_TITLE = Label("xltools のチェック結果", "xltools check results")
_CHECKED = Label("チェック日時", "Checked at")


class AnnotateDirError(UsageError):
    code = "annotate-not-a-folder"
    template = Label("{path}: フォルダではありません", "{path}: not a directory")


class AnnotateSameFolderError(UsageError):
    code = "annotate-same-folder"
    template = Label("{path}: チェックしたファイル {file} があるフォルダです。注記付きのコピーには別のフォルダを指定してください",
                     "{path}: choose another folder for the annotated copies; it holds the checked file {file}")


class AnnotateMkdirError(XltoolsError):
    code = "annotate-folder"
    template = Label("{path}: フォルダを作成できません（{reason}）", "{path}: cannot create the folder ({reason})")


class AnnotateOverwriteError(UsageError):
    code = "annotate-overwrite"
    template = Label("{path}: 注記付きのコピーがチェックしたファイルを上書きしてしまいます",
                     "{path}: the annotated copy would overwrite the checked file")


def prepare_dir(out_dir: Path, checked: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Create the annotation directory; refuse the folder of a checked file (a copy
    must never replace the file the rep sent)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise AnnotateDirError(path=str(out_dir))
    target = out_dir.resolve()
    for p in checked:
        try:
            where = Path(p).resolve().parent
        except (OSError, RuntimeError):  # a symlink loop: no file there to overwrite
            continue
        if where == target:
            raise AnnotateSameFolderError(path=str(out_dir), file=Path(p).name)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AnnotateMkdirError(path=str(out_dir), reason=e.strerror or str(e)) from None


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``stem (2).xlsx`` ... when an earlier file of this run took it."""
    stem, suffix = os.path.splitext(name)
    cand, n = name, 1
    while cand.casefold() in used:
        n += 1
        cand = f"{stem} ({n}){suffix}"
    used.add(cand.casefold())
    return cand


def results_heading(name: str, checked_at: datetime, lang: str) -> tuple[str, str]:
    """The two heading lines of an issue list: its title with the workbook's ``name``, and
    the time it was checked."""
    return f"{_TITLE(lang)}: {name}", f"{_CHECKED(lang)}: {checked_at:%Y-%m-%d %H:%M}"


IssueRow = tuple[int, str, str, "str | None", "str | None", "str | None", "str | int | float | None", str]


def issue_rows(issues: Sequence[Issue], spec: Spec | None, lang: str) -> list[IssueRow]:
    """One row per issue under :data:`ISSUE_HEADERS`: number, severity, code, sheet, cell,
    field label (with its key), the value as entered and the message, in ``lang``."""
    return [(n, _SEVERITY[i.severity](lang), i.code, i.sheet, i.cell, _field_label(spec, i, lang) or None,
             i.raw if isinstance(i.raw, (str, int, float)) or i.raw is None else str(i.raw), i.message(lang))
            for n, i in enumerate(issues, 1)]


def _field_label(spec: Spec | None, i: Issue, lang: str) -> str:
    if not i.field:
        return ""
    label = None
    if spec is not None:
        try:
            label = (spec.table(i.table).column(i.field) if i.table else spec.field(i.field)).label
        except KeyError:
            label = None
    return f"{label(lang)} ({i.field})" if label else i.field


def annotate_workbook(report: FileReport, dest: str | os.PathLike[str], *, spec: Spec | None = None,
                      lang: str = "ja", now: datetime | None = None, settings: Settings | None = None) -> Path:
    """Write an annotated copy of ``report.file`` to ``dest`` and return its path.
    ``now`` (default: :func:`xltools.clock.now`): the "checked at" time, in local time, and
    the day the relationship map (:mod:`xltools.checking.relmap`, redrawn from the checked data
    when ``spec`` is given) is judged against; ``settings``: its thresholds."""
    checked_at = clock.resolve(now).astimezone()
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.cell_range import CellRange
    from openpyxl.worksheet.hyperlink import Hyperlink

    from xltools.workbook.printing import load_workbook_keeping_print_areas
    from xltools.workbook.xlwrite import write_table, write_value

    src, dest = Path(report.file), Path(dest)
    if dest.exists() and dest.resolve() == src.resolve():
        raise AnnotateOverwriteError(path=str(dest))
    # the plan's print areas are formulas (they follow the filled rows): kept in the copy
    wb = load_workbook_keeping_print_areas(src, keep_vba=src.suffix.lower() == ".xlsm", keep_links=True)
    for name in ANNOTATION_SHEET.all():  # a copy of an annotated copy: replace the old list
        if name in wb.sheetnames:
            del wb[name]

    if spec is not None and report.plan is not None:
        from xltools.checking.relmap import add_to_workbook

        plan_lang = report.plan.meta.get("language")
        add_to_workbook(wb, spec, report.plan, plan_lang if plan_lang in ("ja", "en") else lang, checked_at,
                        settings=settings)
    issues = sort_issues(report.issues)
    by_cell: dict[tuple[str, str], list[Issue]] = defaultdict(list)
    for i in issues:
        if i.sheet is not None and i.sheet in wb.sheetnames and i.cell:
            by_cell[(i.sheet, i.cell)].append(i)
    for (sheet, ref), found in by_cell.items():
        ws = wb[sheet]
        cell = ws[ref]
        for rng in ws.merged_cells.ranges:  # a merged area is annotated on its top-left cell
            if ref in CellRange(rng.coord):
                cell = ws.cell(row=rng.min_row, column=rng.min_col)
                break
        worst = min(found, key=lambda i: _RANK[i.severity]).severity
        cell.fill = PatternFill(fill_type="solid", fgColor=FILLS[worst])
        text = "\n".join(f"[{i.code}] {i.message(lang)}" for i in found)
        if cell.comment is not None and cell.comment.author != _AUTHOR:
            text = f"{cell.comment.text}\n---\n{text}"
        lines = sum(1 + len(t) // 40 for t in text.split("\n"))
        cell.comment = Comment(text, _AUTHOR, height=min(40 + 18 * lines, 600), width=320)

    ws = wb.create_sheet(ANNOTATION_SHEET(lang), 0)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0
    title, checked = results_heading(src.name, checked_at, lang)
    write_value(ws["A1"], title)
    ws["A1"].font = Font(bold=True, size=12)
    write_value(ws["A2"], checked)
    write_table(ws, _TABLE, [h(lang) for h in ISSUE_HEADERS], issue_rows(issues, spec, lang), top=4, left=1,
                widths=dict(enumerate(ISSUE_WIDTHS)))
    for n, i in enumerate(issues, 1):
        if (i.sheet, i.cell) in by_cell:
            assert i.sheet is not None  # by_cell holds only issues with a sheet
            link = ws.cell(row=4 + n, column=5)
            quoted = i.sheet.replace("'", "''")
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{quoted}'!{i.cell}")
            link.font = Font(name=link.font.name, size=link.font.sz, color="0563C1", underline="single")
        ws.cell(row=4 + n, column=2).fill = PatternFill(fill_type="solid", fgColor=FILLS[i.severity])
    ws.freeze_panes = "A5"

    dest.parent.mkdir(parents=True, exist_ok=True)
    from xltools.workbook.outfile import save_workbook

    return save_workbook(wb, dest)
