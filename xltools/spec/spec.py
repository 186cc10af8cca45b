"""The template spec: typed objects loaded from ``workbook_templates/account_plan.yaml``.

This module is the only place that knows which sections, fields, tables, columns
and choice lists exist.  Generator, reader, normaliser, validator, database schema
and documentation all iterate over a :class:`Spec`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator

import yaml

from xltools.errors import XltoolsError
from xltools.messages import LANGS, Label

#: value types of fields and columns
INPUT_TYPES = {
    "text", "longtext", "id", "period", "amount", "integer", "number", "percent",
    "date", "month", "rating", "choice",
}
#: types only produced by formulas
FORMULA_TYPES = {"ratio", "score", "fraction"}
TYPES = INPUT_TYPES | FORMULA_TYPES

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CELL_LIKE_RE = re.compile(r"^[a-z]{1,3}[0-9]+$|^r[0-9]*c[0-9]*$")
_TABLE_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_FORMULA_COLUMN = re.compile(r"\[([A-Z][A-Za-z0-9]*)\.([a-z][a-z0-9_]*)\]")
_FORMULA_THIS_ROW = re.compile(r"\[@([a-z][a-z0-9_]*)\]")
_FORMULA_WORD = re.compile(r"(?<![\w.@\[{:])([a-z][a-z0-9_]*)(?![\w(\]])")


class SpecError(XltoolsError, ValueError):
    """The template spec (or a config that modifies it) is malformed."""


@dataclass(frozen=True)
class Choice:
    key: str
    label: Label
    aliases: tuple[str, ...] = ()
    probability: int | None = None  # stages
    factor: int | None = None  # amount units
    weight: float | None = None  # selection criteria (default in the spec, xltools.toml may override)
    tone: str | None = None  # good | bad | warn | muted: colour where the label is shown
    means: tuple[str, ...] = ()  # business meanings: won, lost, closed, risk, gone... (xltools.spec.contract)


@dataclass(frozen=True)
class ChoiceList:
    name: str
    choices: tuple[Choice, ...]

    def keys(self) -> list[str]:
        return [c.key for c in self.choices]

    def labels(self, lang: str) -> list[str]:
        return [c.label(lang) for c in self.choices]

    def get(self, key: str | None) -> Choice:
        """The choice ``key``; :class:`KeyError` for any other key, a blank (None) included."""
        for c in self.choices:
            if c.key == key:
                return c
        raise KeyError(f"{self.name}: no choice {key!r}")

    def meaning(self, tag: str) -> frozenset[str]:
        """Keys of the choices that mean ``tag`` (``stage`` / ``won``, ``stance`` / ``risk``)."""
        return frozenset(c.key for c in self.choices if tag in c.means)

    def the(self, tag: str) -> str:
        """The one key that means ``tag`` (the contract guarantees exactly one)."""
        keys = [c.key for c in self.choices if tag in c.means]
        if len(keys) != 1:
            raise SpecError(f"choices > {self.name}: exactly one choice must mean {tag!r}, found {keys}")
        return keys[0]


@dataclass(frozen=True)
class Field:
    """A single-value field (a defined name) or a table column."""

    key: str
    label: Label
    type: str
    section: str
    required: bool = False
    choices: str | None = None
    open: bool = False
    source: str | None = None  # "Table.column" for in-workbook dropdowns
    formula: str | None = None
    definition: Label | None = None  # the one definition of a computed figure
    help: Label | None = None
    width: float | None = None
    default: str | None = None
    locked: bool = False
    quarter: int | None = None
    #: (column, choice keys): a date column is overdue when past unless that column holds one of the keys
    overdue_unless: tuple[str, tuple[str, ...]] | None = None
    handover: str = "keep"  # "clear": not inherited by a pre-filled successor plan
    search_weight: int | None = None  # success-case search: a searched column and its rank weight
    table: str | None = None  # set for columns
    group: str | None = None  # set for single fields

    @property
    def computed(self) -> bool:
        return self.formula is not None

    @property
    def is_input(self) -> bool:
        return self.formula is None and not self.locked


HANDOVER_FIELD = ("keep", "clear")


@dataclass(frozen=True)
class Handover:
    """Which rows of a table a pre-filled successor plan inherits (``xltools.reports.history``)."""

    carry: bool = True  # False: no rows are inherited
    drop_if: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (choice column, keys): such rows are dropped
    drop_before: str | None = None  # a date column: rows dated before the new plan's date are dropped


@dataclass(frozen=True)
class Table:
    name: str
    label: Label
    section: str
    columns: tuple[Field, ...]
    rows: int = 10
    id_column: str | None = None
    prefill: dict | None = None
    handover: Handover = field(default_factory=Handover)

    def column(self, key: str) -> Field:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(f"table {self.name}: no column {key!r}")

    @property
    def input_columns(self) -> tuple[Field, ...]:
        return tuple(c for c in self.columns if c.is_input)

    @property
    def required_columns(self) -> tuple[Field, ...]:
        return tuple(c for c in self.columns if c.required)


@dataclass(frozen=True)
class Group:
    key: str
    title: Label
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Section:
    key: str
    label: Label  # sheet name
    title: Label
    required: bool
    groups: tuple[Group, ...]
    tables: tuple[Table, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for g in self.groups for f in g.fields)


@dataclass(frozen=True)
class Spec:
    template: str
    version: str
    meta_keys: tuple[str, ...]
    choice_lists: dict[str, ChoiceList]
    sections: tuple[Section, ...]
    path: str = ""

    # -- lookups -----------------------------------------------------------
    @property
    def fields(self) -> tuple[Field, ...]:
        """Every single-value field, in workbook order."""
        return tuple(f for s in self.sections for f in s.fields)

    @property
    def input_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_input)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for s in self.sections for t in s.tables)

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(f"no field {key!r}")

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table {name!r}")

    @cached_property
    def formula_inputs(self) -> frozenset[tuple[str | None, str]]:
        """(table or None, key) of every field and column some formula reads."""
        out: set[tuple[str | None, str]] = set()
        names = {f.key for f in self.fields}
        for f in self.iter_all_fields():
            if not f.formula:
                continue
            out.update((t, c) for t, c in _FORMULA_COLUMN.findall(f.formula))
            out.update((f.table, c) for c in _FORMULA_THIS_ROW.findall(f.formula))
            out.update((None, w) for w in _FORMULA_WORD.findall(f.formula) if w in names)
        return frozenset(out)

    def formula_uses(self, f: Field) -> bool:
        """Does a formula read this field or column?"""
        return (f.table, f.key) in self.formula_inputs

    def meaning(self, choice_list: str, tag: str) -> frozenset[str]:
        """Keys of ``choice_list`` that mean ``tag`` (see :meth:`ChoiceList.meaning`)."""
        return self.choice_lists[choice_list].meaning(tag)

    def the(self, choice_list: str, tag: str) -> str:
        """The one key of ``choice_list`` that means ``tag``."""
        return self.choice_lists[choice_list].the(tag)

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r}")

    def choices(self, name: str) -> ChoiceList:
        return self.choice_lists[name]

    def iter_all_fields(self) -> Iterator[Field]:
        """Single fields, then every table column."""
        yield from self.fields
        for t in self.tables:
            yield from t.columns

    def to_dict(self) -> dict:
        """The JSON shape of ``xltools spec --format json``."""

        def fdict(f: Field) -> dict:
            d = {"key": f.key, "label": {"ja": f.label.ja, "en": f.label.en}, "type": f.type,
                 "required": f.required}
            if f.choices:
                d["choices"] = [{"key": c.key, "ja": c.label.ja, "en": c.label.en}
                                for c in self.choice_lists[f.choices].choices]
            if f.source:
                d["source"] = f.source
            if f.formula:
                d["formula"] = f.formula
            return d

        return {
            "template": self.template,
            "version": self.version,
            "meta_keys": list(self.meta_keys),
            "sections": [{"key": s.key, "label": {"ja": s.label.ja, "en": s.label.en},
                          "required": s.required,
                          "fields": [f.key for f in s.fields],
                          "tables": [t.name for t in s.tables]} for s in self.sections],
            "fields": [dict(fdict(f), section=f.section) for f in self.fields],
            "tables": {t.name: {"label": {"ja": t.label.ja, "en": t.label.en},
                                "section": t.section,
                                "columns": [fdict(c) for c in t.columns]}
                       for t in self.tables},
        }


# -- loading -------------------------------------------------------------------

def _where(*parts: object) -> str:
    return " > ".join(str(p) for p in parts if p is not None)


def _label(raw: object, where: str) -> Label:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw.get(k) for k in LANGS):
        raise SpecError(f"{where}: needs a label with non-empty 'ja' and 'en' texts, got {raw!r}")
    return Label(ja=raw["ja"], en=raw["en"])


def _key(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not _KEY_RE.match(raw):
        raise SpecError(f"{where}: key {raw!r} must be lower snake_case")
    if _CELL_LIKE_RE.match(raw):
        raise SpecError(f"{where}: key {raw!r} looks like a cell reference")
    return raw


_FIELD_ATTRS = {"key", "label", "type", "required", "choices", "open", "source", "formula",
                "definition", "help", "width", "default", "locked", "quarter", "overdue_unless",
                "handover", "search_weight"}
TONES = ("good", "bad", "warn", "muted")


def _field(raw: dict, where: str, section: str, choice_lists: dict, *, table: str | None = None,
           group: str | None = None) -> Field:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping, got {raw!r}")
    key = _key(raw.get("key"), where)
    where = _where(where, key)
    unknown = set(raw) - _FIELD_ATTRS
    if unknown:
        raise SpecError(f"{where}: unknown attribute(s) {sorted(unknown)}")
    ftype = raw.get("type")
    if ftype not in TYPES:
        raise SpecError(f"{where}: type {ftype!r} is not one of {sorted(TYPES)}")
    choices = raw.get("choices")
    if ftype == "choice":
        if choices not in choice_lists:
            raise SpecError(f"{where}: choice list {choices!r} is not declared under 'choices'")
    elif choices is not None:
        raise SpecError(f"{where}: 'choices' given but type is {ftype!r}")
    if ftype in FORMULA_TYPES and not raw.get("formula"):
        raise SpecError(f"{where}: type {ftype!r} needs a formula")
    formula = raw.get("formula")
    if formula is not None and (not isinstance(formula, str) or not formula.startswith("=")):
        raise SpecError(f"{where}: formula must be a string starting with '='")
    if formula and raw.get("required"):
        raise SpecError(f"{where}: a formula cannot be required input")
    if formula and not raw.get("definition"):
        raise SpecError(f"{where}: a formula field needs a 'definition' {{ja, en}} (the one definition of the figure)")
    overdue = raw.get("overdue_unless")
    if overdue is not None:
        if (table is None or ftype != "date" or not isinstance(overdue, dict)
                or not isinstance(overdue.get("column"), str) or not isinstance(overdue.get("keys"), list)):
            raise SpecError(f"{where}: overdue_unless needs a date column and {{column: ..., keys: [...]}}")
        overdue = (overdue["column"], tuple(str(k) for k in overdue["keys"]))
    default = raw.get("default")
    if default is not None and choices and default not in choice_lists[choices].keys():
        raise SpecError(f"{where}: default {default!r} is not a key of {choices!r}")
    return Field(
        key=key,
        label=_label(raw.get("label"), where),
        type=ftype,
        section=section,
        required=bool(raw.get("required", False)),
        choices=choices,
        open=bool(raw.get("open", False)),
        source=raw.get("source"),
        formula=formula,
        definition=_label(raw["definition"], _where(where, "definition")) if raw.get("definition") else None,
        help=_label(raw["help"], _where(where, "help")) if raw.get("help") else None,
        width=raw.get("width"),
        default=default,
        locked=bool(raw.get("locked", False)),
        quarter=raw.get("quarter"),
        overdue_unless=overdue,
        handover=_field_handover(raw.get("handover", "keep"), where),
        search_weight=_search_weight(raw.get("search_weight"), where),
        table=table,
        group=group,
    )


def _choice_lists(raw: object) -> dict[str, ChoiceList]:
    if not isinstance(raw, dict) or not raw:
        raise SpecError("choices: expected a mapping of list name -> entries")
    out = {}
    for name, entries in raw.items():
        if not isinstance(entries, list) or not entries:
            raise SpecError(f"choices > {name}: expected a non-empty list")
        items, seen = [], set()
        for i, e in enumerate(entries):
            where = _where("choices", name, i)
            if not isinstance(e, dict) or not isinstance(e.get("key"), str):
                raise SpecError(f"{where}: each choice needs a 'key'")
            if e["key"] in seen:
                raise SpecError(f"{where}: duplicate choice key {e['key']!r}")
            seen.add(e["key"])
            if e.get("tone") is not None and e["tone"] not in TONES:
                raise SpecError(f"{where}: tone {e['tone']!r} is not one of {list(TONES)}")
            means = e.get("means") or []
            if not isinstance(means, list) or not all(isinstance(m, str) and _KEY_RE.match(m) for m in means):
                raise SpecError(f"{where}: means must be a list of lower snake_case words, got {means!r}")
            items.append(Choice(key=e["key"], label=_label({"ja": e.get("ja"), "en": e.get("en")}, where),
                                aliases=tuple(e.get("aliases") or ()),
                                probability=e.get("probability"), factor=e.get("factor"),
                                weight=e.get("weight"), tone=e.get("tone"), means=tuple(means)))
        out[name] = ChoiceList(name=name, choices=tuple(items))
    return out


def _field_handover(raw: object, where: str) -> str:
    if raw not in HANDOVER_FIELD:
        raise SpecError(f"{where}: handover must be one of {list(HANDOVER_FIELD)}, got {raw!r}")
    return raw


def _search_weight(raw: object, where: str) -> int | None:
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool) or raw < 1):
        raise SpecError(f"{where}: search_weight must be a positive integer, got {raw!r}")
    return raw


def _handover(raw: object, where: str, cols: list[Field], choice_lists: dict) -> Handover:
    if raw is None:
        return Handover()
    where = _where(where, "handover")
    if not isinstance(raw, dict) or set(raw) - {"carry", "drop_if", "drop_before"}:
        raise SpecError(f"{where}: expected a mapping with carry / drop_if / drop_before, got {raw!r}")
    by_key = {c.key: c for c in cols}
    drop_if = []
    for ckey, keys in (raw.get("drop_if") or {}).items():
        col = by_key.get(ckey)
        if col is None or col.choices is None:
            raise SpecError(f"{where}: drop_if column {ckey!r} is not a choice column of the table")
        keys = tuple(str(k) for k in (keys or ()))
        bad = [k for k in keys if k not in choice_lists[col.choices].keys()]
        if bad or not keys:
            raise SpecError(f"{where}: drop_if {ckey}: {bad or list(keys)} are not keys of {col.choices!r}")
        drop_if.append((ckey, keys))
    before = raw.get("drop_before")
    if before is not None and (before not in by_key or by_key[before].type != "date"):
        raise SpecError(f"{where}: drop_before {before!r} is not a date column of the table")
    return Handover(carry=bool(raw.get("carry", True)), drop_if=tuple(drop_if), drop_before=before)


def build_spec(data: dict, path: str = "") -> Spec:
    """Validate a parsed YAML document into a :class:`Spec`."""
    if not isinstance(data, dict):
        raise SpecError("spec: the document must be a mapping")
    for k in ("template", "version", "sections", "choices", "meta_keys"):
        if k not in data:
            raise SpecError(f"spec: missing top-level key {k!r}")
    choice_lists = _choice_lists(data["choices"])
    seen_keys: dict[str, str]  # field key -> where it was first defined
    sections, seen_keys, seen_tables, seen_sections = [], {}, set(), set()
    for si, s in enumerate(data["sections"]):
        where = _where("sections", si)
        skey = _key(s.get("key") if isinstance(s, dict) else None, where)
        where = _where("sections", skey)
        if skey in seen_sections:
            raise SpecError(f"{where}: duplicate section")
        seen_sections.add(skey)
        groups = []
        for g in s.get("groups") or []:
            gkey = _key(g.get("key"), _where(where, "groups"))
            gwhere = _where(where, gkey)
            fields = []
            for f in g.get("fields") or []:
                fld = _field(f, gwhere, skey, choice_lists, group=gkey)
                if fld.key in seen_keys:
                    raise SpecError(f"{gwhere} > {fld.key}: duplicate field key (also in {seen_keys[fld.key]})")
                seen_keys[fld.key] = gwhere
                fields.append(fld)
            groups.append(Group(key=gkey, title=_label(g.get("title"), gwhere), fields=tuple(fields)))
        tables = []
        for t in s.get("tables") or []:
            name = t.get("name") if isinstance(t, dict) else None
            twhere = _where(where, "tables", name)
            if not isinstance(name, str) or not _TABLE_RE.match(name):
                raise SpecError(f"{twhere}: table name must be CamelCase letters and digits")
            if name in seen_tables:
                raise SpecError(f"{twhere}: duplicate table name")
            seen_tables.add(name)
            cols, ckeys = [], set()
            for c in t.get("columns") or []:
                col = _field(c, twhere, skey, choice_lists, table=name)
                if col.key in ckeys:
                    raise SpecError(f"{twhere} > {col.key}: duplicate column key")
                ckeys.add(col.key)
                cols.append(col)
            if not cols:
                raise SpecError(f"{twhere}: a table needs columns")
            for lang in LANGS:
                labels = [c.label(lang) for c in cols]
                if len(set(labels)) != len(labels):
                    raise SpecError(f"{twhere}: duplicate {lang} header labels")
            idc = t.get("id_column")
            if idc is not None and idc not in ckeys:
                raise SpecError(f"{twhere}: id_column {idc!r} is not a column")
            tables.append(Table(name=name, label=_label(t.get("label"), twhere), section=skey,
                                columns=tuple(cols), rows=int(t.get("rows", 10)), id_column=idc,
                                prefill=t.get("prefill"),
                                handover=_handover(t.get("handover"), twhere, cols, choice_lists)))
        sections.append(Section(key=skey, label=_label(s.get("label"), where),
                                title=_label(s.get("title"), where), required=bool(s.get("required")),
                                groups=tuple(groups), tables=tuple(tables)))
    spec = Spec(template=str(data["template"]), version=str(data["version"]),
                meta_keys=tuple(data["meta_keys"]), choice_lists=choice_lists,
                sections=tuple(sections), path=path)
    # cross references: sources must point at existing table columns
    for f in spec.iter_all_fields():
        if f.source:
            tname, _, ckey = f.source.partition(".")
            try:
                spec.table(tname).column(ckey)
            except KeyError:
                raise SpecError(f"{f.table or f.section} > {f.key}: source {f.source!r} "
                                f"does not name a table column") from None
        if f.overdue_unless:
            ocol, okeys = f.overdue_unless
            assert f.table is not None  # _field allows overdue_unless only on table columns
            try:
                other = spec.table(f.table).column(ocol)
            except KeyError:
                raise SpecError(f"{f.table} > {f.key}: overdue_unless column {ocol!r} is not a column "
                                f"of the table") from None
            if other.choices is None or set(okeys) - set(spec.choice_lists[other.choices].keys()):
                raise SpecError(f"{f.table} > {f.key}: overdue_unless keys {list(okeys)} are not choices "
                                f"of column {ocol!r}")
    from xltools.spec.contract import check_contract  # the tables, columns and meanings the code relies on

    check_contract(spec)
    for lang in LANGS:
        names = [s.label(lang) for s in spec.sections]
        if len(set(names)) != len(names):
            raise SpecError(f"sections: duplicate {lang} sheet names")
        if any(len(n) > 31 or set(n) & set("[]:*?/\\") for n in names):
            raise SpecError(f"sections: a {lang} sheet name is too long or has a forbidden character")
    return spec


def default_spec_path() -> Path:
    env = os.environ.get("XLTOOLS_TEMPLATE")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent  # the xltools package
    for cand in (here / "templates" / "account_plan.yaml",
                 here.parent / "workbook_templates" / "account_plan.yaml"):
        if cand.exists():
            return cand
    raise SpecError("cannot find workbook_templates/account_plan.yaml")


def load_spec_file(path: str | os.PathLike) -> Spec:
    p = Path(path)
    try:
        # libyaml's safe loader when PyYAML has it (ten times faster, the same data)
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise SpecError(f"{p}: not valid YAML: {e}") from None
    except OSError as e:
        raise SpecError(f"{p}: cannot read: {e.strerror}") from None
    return build_spec(data, str(p))


@lru_cache(maxsize=4)
def _cached(path: str) -> Spec:
    return load_spec_file(path)


def load_spec(path: str | os.PathLike | None = None) -> Spec:
    """The template spec (cached).  ``path`` defaults to the packaged one."""
    return _cached(str(path or default_spec_path()))
