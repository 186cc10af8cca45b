"""The YAML's formula syntax translated into Excel's (structured references, choice labels,
settings, quarter dates)."""
from __future__ import annotations

import re

from xltools.spec.config import Settings
from xltools.spec.derive import breakdown_quarters
from xltools.spec.periods import Period
from xltools.spec.spec import Field, Spec, SpecError

_TOKEN = re.compile(
    r"\[@(?P<this>[a-z][a-z0-9_]*)\]"
    r"|\[(?P<table>[A-Z][A-Za-z0-9]*)\.(?P<col>[a-z][a-z0-9_]*)\]"
    r"|\{choice:(?P<list>[a-z_][a-z0-9_]*)\.(?P<key>[^}]+)\}"
    r"|\{choice_values:(?P<vlist>[a-z_][a-z0-9_]*)\.(?P<attr>[a-z_]+)\}"
    r"|\{choice_labels:(?P<llist>[a-z_][a-z0-9_]*)\}"
    r"|\{cfg:(?P<cfg>[a-z_][a-z0-9_]*)\}"
    r"|\{q(?P<q>[1-8])_(?P<edge>start|end)\}")
_LEFTOVER = re.compile(r"\{(?:choice|cfg|q[0-9])[^}]*\}|\[@")
_CHOICE_REF = re.compile(r"\{choice:([a-z_][a-z0-9_]*)\.")


def escape_header(header: str) -> str:
    """A header text inside a structured reference: ``'`` ``[`` ``]`` ``#`` escaped with ``'``."""
    return re.sub(r"([\[\]#'])", r"'\1", header)


def _excel_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def translate_formula(spec: Spec, settings: Settings, f: Field, lang: str, period: Period) -> str:
    """``f.formula`` in Excel syntax for a workbook in ``lang`` for ``period`` (template
    syntax: see the top of the YAML).  Structured references use the long forms
    ``Table[[Header]]`` and ``Table[[#This Row],[Header]]`` that both Excel and
    LibreOffice evaluate."""
    if not f.formula:
        raise SpecError(f"{f.key}: not a formula field")
    window = breakdown_quarters(period)

    def sub(m: re.Match[str]) -> str:
        if m.group("this"):
            if not f.table:
                raise SpecError(f"{f.key}: [@{m.group('this')}] is only allowed in table columns")
            header = spec.table(f.table).column(m.group("this")).label(lang)
            return f"{f.table}[[#This Row],[{escape_header(header)}]]"
        if m.group("table"):
            header = spec.table(m.group("table")).column(m.group("col")).label(lang)
            return f"{m.group('table')}[[{escape_header(header)}]]"
        if m.group("list"):
            return _excel_string(spec.choices(m.group("list")).get(m.group("key")).label(lang))
        if m.group("vlist"):
            values = [getattr(c, m.group("attr")) for c in spec.choices(m.group("vlist")).choices]
            return "{" + ",".join(_number(v or 0) for v in values) + "}"
        if m.group("llist"):
            return "{" + ",".join(_excel_string(x) for x in spec.choices(m.group("llist")).labels(lang)) + "}"
        if m.group("cfg"):
            return _number(settings.cfg_value(m.group("cfg")))
        quarter = window[int(m.group("q")) - 1]
        d = quarter.start if m.group("edge") == "start" else quarter.end
        return f"DATE({d.year},{d.month},{d.day})"

    try:
        out = _TOKEN.sub(sub, f.formula)
    except KeyError as e:
        raise SpecError(f"{f.table or f.section} > {f.key}: formula refers to {e}") from None
    left = _LEFTOVER.search(out)
    if left:
        raise SpecError(f"{f.table or f.section} > {f.key}: unknown formula token {left.group(0)!r}")
    return out
