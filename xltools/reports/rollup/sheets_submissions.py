"""提出状況 / Submissions (one row per roster line, then the plans no line expects) and
ファイル履歴 / File log (every file received, by name only).

A roster line (rep x account) is matched to the period's plans the way
:func:`xltools.collect.missing_submissions` does: by account ID when both sides have
one, else by account name (NFKC, spaces and case ignored); a plan by the line's rep
covers the line, a plan by a rep the roster does not name for the account covers the
account's lines.  Its status:

* 提出済 / Submitted -- a current plan without errors;
* 要修正 / Needs fixing -- a current plan with errors, or only a conflicting file;
* 却下 / Rejected -- no plan, but a rejected file (the latest at its path) whose name
  carries the account name (as generated plans are named, ``FY2026Q3_<account>_<rep>``);
* 未提出 / Missing -- nothing received.

The roster is the one given to ``report --roster``, else the one ``collect --roster``
stored for the period.
"""
from __future__ import annotations

from typing import Any

from xltools.checking.validate import name_key
from xltools.reports.rollup.book import _Book
from xltools.reports.rollup.common import DATETIME_FORMAT, INT_FORMAT, TEXTS, Col, _local, _text
from xltools.reports.rollup.data import RollupData
from xltools.spec.spec import Label
from xltools.store.schema import FILE_RESULTS as COLLECT_UI

#: status keys -> label and tone (in this order in the sheet's legend)
STATUS: dict[str, tuple[Label, str]] = {
    "submitted": (Label("提出済", "Submitted"), "good"),
    "fix": (Label("要修正", "Needs fixing"), "warn"),
    "rejected": (Label("却下", "Rejected"), "bad"),
    "missing": (Label("未提出", "Missing"), "bad"),
}

SUB_TEXTS: dict[str, Label] = {
    "sub_title": Label("提出状況（名簿の担当営業×顧客ごと、名簿外のプランは後）",
                       "Submissions (per roster line: account manager × account; plans not on the roster after)"),
    "sub_no_roster": Label("提出状況（名簿なし：collect --roster で名簿を登録すると未提出もわかります）",
                           "Submissions (no roster: store one with collect --roster to see missing plans)"),
    "sub_roster": Label("名簿：{name}", "Roster: {name}"),
    "roster_line": Label("名簿の行", "Roster row"),
    "note": Label("備考", "Note"),
    "not_on_roster": Label("名簿外", "Not on the roster"),
    "file_conflict": Label("ファイルの競合", "File conflict"),
    "no_plan_read": Label("プランとして読めないファイル", "Not readable as a plan"),
    "file_log": Label("受信したファイル（取込順）", "Files received (in collection order)"),
    "latest_file": Label("最新のファイル", "Latest file"),
    "last_collected": Label("最終取込", "Last collected"),
}


def _t(b: _Book, key: str, **params: Any) -> str:
    text = SUB_TEXTS[key](b.lang)
    return text.format(**params) if params else text


def basename(path: Any) -> str | None:
    """A file name without the folders it was collected from (local paths stay local)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(path, str) and path else None


def _norm(v: Any) -> str:
    return name_key(v) if v is not None else ""


def _same_account(entry: Any, v: dict) -> bool:
    if _norm(entry.account_id) and _norm(v.get("account_id")):
        return _norm(entry.account_id) == _norm(v.get("account_id"))
    return _norm(entry.account_name) == _norm(v.get("account_name"))


def _latest_files(data: RollupData) -> list[dict]:
    """The latest file at each path (files come in collection order)."""
    latest: dict[Any, dict] = {}
    for x in data.files:
        latest[x.get("path")] = x
    return list(latest.values())


def submission_rows(data: RollupData) -> list[dict]:
    """The records of the Submissions table: ``status`` (a :data:`STATUS` key), rep,
    account, file name, version, issue counts, last collected, ``line`` (roster row or
    None) and ``note`` (a :data:`SUB_TEXTS` key or error codes).  Computed once per roll-up."""
    cached = getattr(data, "_submission_rows", None)
    if cached is None:
        cached = data._submission_rows = _submission_rows(data)
    return cached


def missing_count(data: RollupData) -> int | None:
    """Roster lines with nothing received (None without a roster)."""
    return None if data.roster is None else sum(r["status"] == "missing" for r in submission_rows(data))


def _submission_rows(data: RollupData) -> list[dict]:
    history = [v for v in data.history]
    current = {v["version_id"]: v for v in data.versions}
    rejected = [x for x in _latest_files(data) if x.get("result") == "rejected"]
    used_versions: set[int] = set()
    used_files: set[int] = set()
    out: list[dict] = []

    def from_version(v: dict, **extra: Any) -> dict:
        conflict = v["version_id"] not in current and v.get("conflict_with")
        status = "fix" if conflict or (v.get("error_count") or 0) > 0 else "submitted"
        return {"status": status, "rep": v.get("rep"), "account_name": v.get("account_name"),
                "account_id": v.get("account_id"), "file": basename(v.get("source_file")),
                "version_no": v.get("version_no"), "error_count": v.get("error_count"),
                "warning_count": v.get("warning_count"), "info_count": v.get("info_count"),
                "collected_at": _local(v.get("collected_at")), "note": "file_conflict" if conflict else None,
                **extra}

    roster = data.roster
    if roster is not None:
        listed: dict[str, set[str]] = {}
        for e in roster:
            for k in ("id:" + _norm(e.account_id) if _norm(e.account_id) else None, "name:" + _norm(e.account_name)):
                if k:
                    listed.setdefault(k, set()).add(_norm(e.rep))
        for e in roster:
            reps = listed.get("id:" + _norm(e.account_id), set()) | listed.get("name:" + _norm(e.account_name), set())
            same = [v for v in history if _same_account(e, v)]
            mine = [v for v in same if _norm(v.get("rep")) == _norm(e.rep)]
            others = [v for v in same if _norm(v.get("rep")) not in reps]
            found = None
            for pool in (mine, others):
                live = [v for v in pool if v["version_id"] in current]
                found = (live or [v for v in pool if v.get("conflict_with")] or [None])[-1]
                if found is not None:
                    break
            base = {"line": e.row}
            if found is not None:
                used_versions.add(found["version_id"])
                out.append(from_version(found, **base, rep=e.rep, account_name=e.account_name,
                                        account_id=e.account_id or found.get("account_id")))
                continue
            key = _norm(e.account_name)
            hit = next((x for x in rejected if x["id"] not in used_files and key
                        and key in _norm(basename(x.get("path")))), None)
            if hit is not None:
                used_files.add(hit["id"])
                out.append({**base, "status": "rejected", "rep": e.rep, "account_name": e.account_name,
                            "account_id": e.account_id, "file": basename(hit.get("path")),
                            "error_count": hit.get("error_count"), "warning_count": hit.get("warning_count"),
                            "info_count": hit.get("info_count"), "collected_at": _local(hit.get("collected_at")),
                            "note": hit.get("detail") or "no_plan_read"})
            else:
                out.append({**base, "status": "missing", "rep": e.rep, "account_name": e.account_name,
                            "account_id": e.account_id})
    extra = "not_on_roster" if roster is not None else None
    for v in sorted(data.versions, key=lambda v: (name_key(v.get("rep") or ""), name_key(v.get("account_name") or ""))):
        if v["version_id"] not in used_versions:
            out.append(from_version(v, note=extra))
    for x in rejected:
        if x["id"] not in used_files:
            out.append({"status": "rejected", "file": basename(x.get("path")), "error_count": x.get("error_count"),
                        "warning_count": x.get("warning_count"), "info_count": x.get("info_count"),
                        "collected_at": _local(x.get("collected_at")), "note": x.get("detail") or "no_plan_read"})
    return out


def _note(b: _Book, r: dict) -> Any:
    n = r.get("note")
    if n in SUB_TEXTS:
        return _t(b, n)
    return n


def submissions_sheet(b: _Book, data: RollupData) -> None:
    ws = b.sheet("submissions")
    title = _t(b, "sub_title") if data.roster is not None else _t(b, "sub_no_roster")
    if data.roster is not None and data.roster_path:
        title += "　" + _t(b, "sub_roster", name=basename(data.roster_path))
    cols = b.cols.context("rep", "account_name", "account_id") + [
        Col(TEXTS["status"], lambda r: STATUS[r["status"]][0](b.lang), tone=lambda r: STATUS[r["status"]][1]),
        Col(SUB_TEXTS["latest_file"], _text("file"), width=28),
        Col(TEXTS["version"], _text("version_no"), INT_FORMAT),
        Col(TEXTS["errors"], _text("error_count"), INT_FORMAT),
        Col(TEXTS["warnings"], _text("warning_count"), INT_FORMAT),
        Col(TEXTS["infos"], _text("info_count"), INT_FORMAT),
        Col(SUB_TEXTS["last_collected"], _text("collected_at"), DATETIME_FORMAT),
        Col(SUB_TEXTS["note"], lambda r: _note(b, r)),
        Col(SUB_TEXTS["roster_line"], _text("line"), INT_FORMAT),
    ]
    b.table(ws, "Submissions", title, cols, submission_rows(data), 1)
    b.freeze(ws, 3)


def file_log_sheet(b: _Book, data: RollupData) -> None:
    """Every file received for the period, in collection order, by file name."""
    ws = b.sheet("file_log")
    current = {v["version_id"] for v in data.versions}
    records = []
    for x in data.files:
        result = x.get("result")
        if result == "stored" and x.get("version_id") not in current:
            status = b.t("replaced")  # stored then, a newer version is current now
        else:
            status = COLLECT_UI[result](b.lang) if result in COLLECT_UI else result
        if result == "conflict":
            status = _t(b, "file_conflict")
        records.append({**x, "status": status, "file": basename(x.get("path")),
                        "collected_at": _local(x.get("collected_at"))})
    status_tone = {"rejected": "bad", "conflict": "bad", "superseded": "muted"}
    cols = b.cols.context("rep", "account_name", "account_id", "period") + [
        Col(TEXTS["status"], _text("status"), tone=lambda r: status_tone.get(r.get("result"))),
        Col(TEXTS["file"], _text("file"), width=28),
        Col(TEXTS["version"], _text("version_no"), INT_FORMAT),
        Col(TEXTS["collected_at"], _text("collected_at"), DATETIME_FORMAT),
        Col(TEXTS["errors"], _text("error_count"), INT_FORMAT),
        Col(TEXTS["warnings"], _text("warning_count"), INT_FORMAT),
        Col(TEXTS["infos"], _text("info_count"), INT_FORMAT),
        Col(TEXTS["detail"], _text("detail")),
    ]
    b.table(ws, "FileLog", _t(b, "file_log"), cols, records, 1)
    b.freeze(ws, 3)
