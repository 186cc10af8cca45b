"""What a collection run did: one :class:`FileResult` per file, the :class:`CollectSummary` and
its tables (:func:`render_summary`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xltools.checking.roster import MissingSubmission, missing_submissions  # noqa: F401 (re-exported)
from xltools.errors import EXIT_DATA, EXIT_FAILED, EXIT_OK
from xltools.spec.issues import INTERNAL, SEVERITIES, Issue
from xltools.spec.spec import Label
from xltools.store.schema import FILE_RESULTS
from xltools.textwidth import display_width, printable

#: results of a file in one run, in summary order
RESULTS = ("stored", "superseded", "unchanged", "conflict", "rejected")
#: a result (or ledger status) that makes the run exit 1
FAILED = ("rejected", "conflict")


#: words of the summary (results are also the roll-up's status labels)
UI: dict[str, Label] = {
    **FILE_RESULTS,
    "missing": Label("未提出", "Missing"),
    "files": Label("ファイル", "Files"),
    "plans_stored": Label("保存したプラン", "Plans stored"),
    "ignored": Label("対象外のファイル", "Other files ignored"),
    "skipped": Label("スキップ（ロック・一時・隠し・ファイル以外）", "Skipped (lock, temp, hidden, no file)"),
    "error": Label("エラー", "Errors"),
    "warning": Label("警告", "Warnings"),
    "info": Label("情報", "Info"),
    "seconds": Label("所要時間（秒）", "Seconds"),
    "item": Label("項目", "Item"),
    "count": Label("件数", "Count"),
    "title": Label("取り込み結果", "Collection summary"),
    "problems": Label("対応が必要なファイル", "Files that need attention"),
    "missing_title": Label("未提出（名簿との突き合わせ）", "Missing submissions (against the roster)"),
    "progress": Label("取り込み中", "Collecting"),
    "rep": Label("担当営業", "Account manager"),
    "account": Label("顧客名", "Account"),
    "period": Label("対象期間", "Period"),
    "file": Label("ファイル", "File"),
    "result": Label("結果", "Result"),
    "codes": Label("エラー", "Errors"),
    "not_read": Label("読み込まなかったもの（通常のファイルではない）", "Not read (no regular file)"),
    "reason": Label("理由", "Reason"),
    "fifo": Label("名前付きパイプ（FIFO）", "named pipe (FIFO)"),
    "socket": Label("ソケット", "socket"),
    "device": Label("デバイス", "device"),
    "broken-link": Label("リンク切れのシンボリックリンク", "broken symbolic link"),
    "link-loop": Label("循環しているシンボリックリンク", "symbolic link loop"),
    "dir-link": Label("フォルダへのリンク（たどりません）", "link to a folder (not followed)"),
    "denied": Label("読み取り権限がありません", "permission denied"),
    "other": Label("通常のファイルではありません", "not a regular file"),
}


# -- results -------------------------------------------------------------------------------

@dataclass
class FileResult:
    """What one run did with one file.

    ``result``: what this run did (``stored``, ``superseded``, ``unchanged``, ``conflict``,
    ``rejected``); ``status``: what the ledger says about the file (for a file seen
    before, the result it got then).  ``counts`` are the issues of the file by severity,
    ``codes`` its error codes."""

    path: str
    result: str
    status: str
    sha256: str | None = None
    plan_id: str | None = None
    version_no: int | None = None
    account_name: str | None = None
    account_id: str | None = None
    rep: str | None = None
    period: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SEVERITIES})
    codes: tuple[str, ...] = ()
    conflict_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "result": self.result, "status": self.status, "sha256": self.sha256,
                "plan_id": self.plan_id,
                "version_no": self.version_no, "account_name": self.account_name,
                "account_id": self.account_id, "rep": self.rep, "period": self.period,
                "errors": self.counts["error"], "warnings": self.counts["warning"],
                "infos": self.counts["info"], "codes": list(self.codes), "conflict_with": self.conflict_with}


@dataclass
class CollectSummary:
    """The outcome of :func:`collect_paths`."""

    files: list[FileResult] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skip_reasons: dict[str, str] = field(default_factory=dict)  # skipped path -> one of SKIP_REASONS
    missing: list[MissingSubmission] | None = None  # None: no roster given
    roster_errors: list[Issue] = field(default_factory=list)
    period: str | None = None
    jobs: int = 1
    seconds: float = 0.0

    def count(self, result: str) -> int:
        return sum(1 for f in self.files if f.result == result)

    @property
    def results(self) -> dict[str, int]:
        return {r: self.count(r) for r in RESULTS}

    @property
    def plans_stored(self) -> int:
        """Distinct plans that got a new current version in this run."""
        return len({f.plan_id for f in self.files if f.result == "stored" and f.plan_id})

    @property
    def issue_counts(self) -> dict[str, int]:
        """Issues by severity of the files read in this run (unchanged files not counted)."""
        c = {s: 0 for s in SEVERITIES}
        for f in self.files:
            if f.result != "unchanged":
                for s in SEVERITIES:
                    c[s] += f.counts[s]
        return c

    @property
    def failed(self) -> list[FileResult]:
        """Files that are rejected or in conflict (now or in the ledger already)."""
        return [f for f in self.files if f.result in FAILED or f.status in FAILED]

    @property
    def exit_code(self) -> int:
        """0 every file stored, 1 a file rejected or in conflict, 3 xltools failed on a file."""
        if any(INTERNAL in f.codes for f in self.files):
            return EXIT_FAILED
        return EXIT_DATA if self.failed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "results": self.results,
                "plans_stored": self.plans_stored, "ignored": self.ignored, "skipped": self.skipped,
                "skipped_reasons": self.skip_reasons,
                "issues": self.issue_counts, "period": self.period,
                "missing": None if self.missing is None else [m.to_dict() for m in self.missing],
                "roster_errors": [i.to_dict() for i in self.roster_errors],
                "exit_code": self.exit_code, "seconds": round(self.seconds, 3)}


# -- output --------------------------------------------------------------------------------

@dataclass
class TextTable:
    """A titled table of texts (``right``: the columns aligned to the right)."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    right: frozenset[int] = frozenset()

    def render(self) -> str:
        """The table in box-drawing characters, aligned by display width (East Asian wide
        characters take two columns); control characters in a cell (a file name may hold
        any) are shown escaped, so that no text can move the cursor or recolour the
        terminal."""
        heads = [printable(h) for h in self.headers]
        rows = [[printable(c) for c in r] for r in self.rows]
        widths = [max([display_width(h), *(display_width(r[i]) for r in rows)]) for i, h in enumerate(heads)]

        def line(cells: list[str], bar: str) -> str:
            out = []
            for i, (c, w) in enumerate(zip(cells, widths)):
                pad = " " * (w - display_width(c))
                out.append(f" {pad}{c} " if i in self.right else f" {c}{pad} ")
            return bar + bar.join(out) + bar

        def rule(left: str, mid: str, right: str, h: str) -> str:
            return left + mid.join(h * (w + 2) for w in widths) + right

        total = sum(widths) + 3 * len(widths) + 1
        title = printable(self.title)
        lead = max(0, (total - display_width(title)) // 2)
        return "\n".join([" " * lead + title, rule("┏", "┳", "┓", "━"), line(heads, "┃"),
                          rule("┡", "╇", "┩", "━"), *(line(r, "│") for r in rows), rule("└", "┴", "┘", "─")])


def summary_tables(summary: CollectSummary, lang: str = "ja") -> list[TextTable]:
    """The counts table, the files that need attention and the missing submissions (the
    last two only when there are any)."""
    rows = [("files", len(summary.files)), ("plans_stored", summary.plans_stored)]
    rows += [(r, summary.count(r)) for r in RESULTS]
    rows += [(s, summary.issue_counts[s]) for s in SEVERITIES]
    rows += [("ignored", len(summary.ignored)), ("skipped", len(summary.skipped))]
    if summary.missing is not None:
        rows.append(("missing", len(summary.missing)))
    out = [TextTable(UI["title"](lang), [UI["item"](lang), UI["count"](lang)],
                     [[UI[key](lang), str(n)] for key, n in rows], right=frozenset({1}))]
    if summary.failed:
        p = TextTable(UI["problems"](lang), [UI[k](lang) for k in ("file", "result", "rep", "account", "codes")])
        for f in summary.failed:
            status = f.result if f.result != "unchanged" else f.status
            p.rows.append([f.path, UI[status](lang), f.rep or "", f.account_name or "", ", ".join(f.codes)])
        out.append(p)
    odd = [(path, why) for path, why in summary.skip_reasons.items() if why not in ("lock", "hidden")]
    if odd:
        out.append(TextTable(UI["not_read"](lang), [UI["file"](lang), UI["reason"](lang)],
                             [[path, UI[why](lang)] for path, why in odd]))
    if summary.missing:
        m = TextTable(f"{UI['missing_title'](lang)} {summary.period}",
                      [UI[k](lang) for k in ("rep", "account", "period")])
        for sub in summary.missing:
            m.rows.append([sub.rep, sub.account_name + (f" ({sub.account_id})" if sub.account_id else ""),
                           sub.period])
        out.append(m)
    return out


def render_summary(summary: CollectSummary, lang: str = "ja") -> str:
    """The summary tables as text (what the command prints), one blank line after each."""
    return "".join(t.render() + "\n\n" for t in summary_tables(summary, lang))
