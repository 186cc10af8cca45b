"""The template spec: typed objects loaded from ``workbook_templates/account_plan.yaml``.

This module is the only place that knows which sections, fields, tables, columns
and choice lists exist.  Generator, reader, normaliser, validator, database schema
and documentation all iterate over a :class:`Spec`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterator

from xltools import errors as E
from xltools.errors import SpecError as SpecError  # re-exported: the name every stage catches
from xltools.messages import LANGS as LANGS  # re-exported: every stage takes them from here
from xltools.messages import Label as Label

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
            raise E.SpecMeaningCountError(name=self.name, tag=tag, found=keys)
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
    prefill: dict[str, Any] | None = None
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

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``xltools spec --format json``."""

        def fdict(f: Field) -> dict[str, Any]:
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
        raise E.SpecLabelError(where=where, value=raw)
    return Label(ja=raw["ja"], en=raw["en"])


def _key(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not _KEY_RE.match(raw):
        raise E.SpecKeyCaseError(where=where, value=raw)
    if _CELL_LIKE_RE.match(raw):
        raise E.SpecKeyCellError(where=where, value=raw)
    return raw


_FIELD_ATTRS = {"key", "label", "type", "required", "choices", "open", "source", "formula",
                "definition", "help", "width", "default", "locked", "quarter", "overdue_unless",
                "handover", "search_weight"}
TONES = ("good", "bad", "warn", "muted")


def _field(raw: dict[str, Any], where: str, section: str, choice_lists: dict[str, ChoiceList], *, table: str | None = None,
           group: str | None = None) -> Field:
    if not isinstance(raw, dict):
        raise E.SpecMappingError(where=where, value=raw)
    key = _key(raw.get("key"), where)
    where = _where(where, key)
    unknown = set(raw) - _FIELD_ATTRS
    if unknown:
        raise E.SpecUnknownAttributeError(where=where, unknown=sorted(unknown))
    ftype = raw.get("type")
    if ftype not in TYPES:
        raise E.SpecTypeError(where=where, type=ftype, allowed=sorted(TYPES))
    choices = raw.get("choices")
    if ftype == "choice":
        if choices not in choice_lists:
            raise E.SpecUndeclaredListError(where=where, choices=choices)
    elif choices is not None:
        raise E.SpecChoicesNotChoiceError(where=where, type=ftype)
    if ftype in FORMULA_TYPES and not raw.get("formula"):
        raise E.SpecFormulaMissingError(where=where, type=ftype)
    formula = raw.get("formula")
    if formula is not None and (not isinstance(formula, str) or not formula.startswith("=")):
        raise E.SpecFormulaTextError(where=where)
    if formula and raw.get("required"):
        raise E.SpecFormulaRequiredError(where=where)
    if formula and not raw.get("definition"):
        raise E.SpecDefinitionError(where=where)
    overdue = raw.get("overdue_unless")
    if overdue is not None:
        if (table is None or ftype != "date" or not isinstance(overdue, dict)
                or not isinstance(overdue.get("column"), str) or not isinstance(overdue.get("keys"), list)):
            raise E.SpecOverdueError(where=where)
        overdue = (overdue["column"], tuple(str(k) for k in overdue["keys"]))
    default = raw.get("default")
    if default is not None and choices and default not in choice_lists[choices].keys():
        raise E.SpecDefaultError(where=where, default=default, choices=choices)
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
        raise E.SpecChoicesError()
    out = {}
    for name, entries in raw.items():
        if not isinstance(entries, list) or not entries:
            raise E.SpecChoiceListEmptyError(name=name)
        items, seen = [], set()
        for i, e in enumerate(entries):
            where = _where("choices", name, i)
            if not isinstance(e, dict) or not isinstance(e.get("key"), str):
                raise E.SpecChoiceKeyError(where=where)
            if e["key"] in seen:
                raise E.SpecDuplicateChoiceError(where=where, key=e["key"])
            seen.add(e["key"])
            if e.get("tone") is not None and e["tone"] not in TONES:
                raise E.SpecToneError(where=where, tone=e["tone"], allowed=list(TONES))
            means = e.get("means") or []
            if not isinstance(means, list) or not all(isinstance(m, str) and _KEY_RE.match(m) for m in means):
                raise E.SpecMeansError(where=where, value=means)
            items.append(Choice(key=e["key"], label=_label({"ja": e.get("ja"), "en": e.get("en")}, where),
                                aliases=tuple(e.get("aliases") or ()),
                                probability=e.get("probability"), factor=e.get("factor"),
                                weight=e.get("weight"), tone=e.get("tone"), means=tuple(means)))
        out[name] = ChoiceList(name=name, choices=tuple(items))
    return out


def _field_handover(raw: object, where: str) -> str:
    if raw not in HANDOVER_FIELD:
        raise E.SpecHandoverValueError(where=where, allowed=list(HANDOVER_FIELD), value=raw)
    return raw


def _search_weight(raw: object, where: str) -> int | None:
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool) or raw < 1):
        raise E.SpecSearchWeightError(where=where, value=raw)
    return raw


def _handover(raw: object, where: str, cols: list[Field], choice_lists: dict[str, ChoiceList]) -> Handover:
    if raw is None:
        return Handover()
    where = _where(where, "handover")
    if not isinstance(raw, dict) or set(raw) - {"carry", "drop_if", "drop_before"}:
        raise E.SpecHandoverError(where=where, value=raw)
    by_key = {c.key: c for c in cols}
    drop_if = []
    for ckey, keys in (raw.get("drop_if") or {}).items():
        col = by_key.get(ckey)
        if col is None or col.choices is None:
            raise E.SpecDropIfColumnError(where=where, column=ckey)
        keys = tuple(str(k) for k in (keys or ()))
        bad = [k for k in keys if k not in choice_lists[col.choices].keys()]
        if bad or not keys:
            raise E.SpecDropIfKeysError(where=where, column=ckey, keys=bad or list(keys), choices=col.choices)
        drop_if.append((ckey, keys))
    before = raw.get("drop_before")
    if before is not None and (before not in by_key or by_key[before].type != "date"):
        raise E.SpecDropBeforeError(where=where, column=before)
    return Handover(carry=bool(raw.get("carry", True)), drop_if=tuple(drop_if), drop_before=before)


def build_spec(data: Any, path: str = "") -> Spec:
    """Validate a parsed YAML document into a :class:`Spec`."""
    if not isinstance(data, dict):
        raise E.SpecDocumentError()
    for k in ("template", "version", "sections", "choices", "meta_keys"):
        if k not in data:
            raise E.SpecMissingKeyError(key=k)
    choice_lists = _choice_lists(data["choices"])
    seen_keys: dict[str, str]  # field key -> where it was first defined
    sections, seen_keys, seen_tables, seen_sections = [], {}, set(), set()
    for si, s in enumerate(data["sections"]):
        where = _where("sections", si)
        skey = _key(s.get("key") if isinstance(s, dict) else None, where)
        where = _where("sections", skey)
        if skey in seen_sections:
            raise E.SpecDuplicateSectionError(where=where)
        seen_sections.add(skey)
        groups = []
        for g in s.get("groups") or []:
            gkey = _key(g.get("key"), _where(where, "groups"))
            gwhere = _where(where, gkey)
            fields = []
            for f in g.get("fields") or []:
                fld = _field(f, gwhere, skey, choice_lists, group=gkey)
                if fld.key in seen_keys:
                    raise E.SpecDuplicateFieldError(where=_where(gwhere, fld.key), other=seen_keys[fld.key])
                seen_keys[fld.key] = gwhere
                fields.append(fld)
            groups.append(Group(key=gkey, title=_label(g.get("title"), gwhere), fields=tuple(fields)))
        tables = []
        for t in s.get("tables") or []:
            name = t.get("name") if isinstance(t, dict) else None
            twhere = _where(where, "tables", name)
            if not isinstance(name, str) or not _TABLE_RE.match(name):
                raise E.SpecTableNameError(where=twhere)
            if name in seen_tables:
                raise E.SpecDuplicateTableError(where=twhere)
            seen_tables.add(name)
            cols, ckeys = [], set()
            for c in t.get("columns") or []:
                col = _field(c, twhere, skey, choice_lists, table=name)
                if col.key in ckeys:
                    raise E.SpecDuplicateColumnError(where=_where(twhere, col.key))
                ckeys.add(col.key)
                cols.append(col)
            if not cols:
                raise E.SpecNoColumnsError(where=twhere)
            for lang in LANGS:
                labels = [c.label(lang) for c in cols]
                if len(set(labels)) != len(labels):
                    raise E.SpecDuplicateHeaderError(where=twhere, lang=lang)
            idc = t.get("id_column")
            if idc is not None and idc not in ckeys:
                raise E.SpecIdColumnError(where=twhere, column=idc)
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
                raise E.SpecSourceError(where=_where(f.table or f.section, f.key), source=f.source) from None
        if f.overdue_unless:
            ocol, okeys = f.overdue_unless
            assert f.table is not None  # _field allows overdue_unless only on table columns
            try:
                other = spec.table(f.table).column(ocol)
            except KeyError:
                raise E.SpecOverdueColumnError(where=_where(f.table, f.key), column=ocol) from None
            if other.choices is None or set(okeys) - set(spec.choice_lists[other.choices].keys()):
                raise E.SpecOverdueKeysError(where=_where(f.table, f.key), keys=list(okeys), column=ocol)
    from xltools.spec.contract import check_contract  # the tables, columns and meanings the code relies on

    check_contract(spec)
    for lang in LANGS:
        names = [s.label(lang) for s in spec.sections]
        if len(set(names)) != len(names):
            raise E.SpecSheetNamesError(lang=lang)
        if any(len(n) > 31 or set(n) & set("[]:*?/\\") for n in names):
            raise E.SpecSheetNameError(lang=lang)
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
    raise E.SpecNotFoundError()


def load_spec_file(path: str | os.PathLike[str]) -> Spec:
    """The spec of a YAML file; its parsed document is cached (see "The parsed spec's cache")."""
    p = Path(path)
    try:
        source = p.read_bytes()
    except OSError as e:
        raise E.SpecReadError(path=str(p), reason=e.strerror or str(e)) from None
    data = _load_cached(source)
    if data is None:
        data = _parse_yaml(source, p)
        _store_cached(source, data)
    return build_spec(data, str(p))


def _parse_yaml(source: bytes, p: Path) -> object:
    import yaml  # only when the document is not cached

    try:
        # libyaml's safe loader when PyYAML has it (ten times faster, the same data)
        return yaml.load(source.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise E.SpecYamlError(path=str(p), reason=str(e)) from None
    except UnicodeDecodeError as e:
        raise E.SpecReadError(path=str(p), reason=str(e)) from None


@lru_cache(maxsize=4)
def _cached(path: str) -> Spec:
    return load_spec_file(path)


def load_spec(path: str | os.PathLike[str] | None = None) -> Spec:
    """The template spec (cached).  ``path`` defaults to the packaged one."""
    return _cached(str(path or default_spec_path()))


# -- the parsed spec's cache ------------------------------------------------------------------
# The parsed YAML kept as JSON in the user's cache folder, so that a command's start-up neither
# imports PyYAML nor parses the YAML (about a tenth of a second of ``check``).  The key is the
# SHA-256 of the YAML file's bytes: a changed template gives another key, so a stale entry is
# never used, and the cached document still goes through build_spec, which validates it as it
# does the YAML.  A missing, damaged or foreign cache file only means the YAML is parsed again
# (and the file rewritten atomically); a document JSON cannot carry exactly (a YAML date) is
# not cached; a cache folder that cannot be written is not an error.  The folder is
# ``$XLTOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/xltools``, else ``~/.cache/xltools`` (the one
# of the generator's cached texts).

_CACHE_FORMAT = 1


def cache_dir() -> Path:
    """Where xltools keeps its caches (see the comment above)."""
    env = os.environ.get("XLTOOLS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "xltools"


def spec_key(source: bytes) -> str:
    """The cache key of a YAML document's bytes."""
    return hashlib.sha256(f"spec-{_CACHE_FORMAT}\0".encode() + source).hexdigest()


def spec_cache_path(key: str) -> Path:
    return cache_dir() / f"spec-{key[:32]}.json"


def _load_cached(source: bytes) -> Any | None:
    """The parsed document of ``source`` from the cache, or None."""
    key = spec_key(source)
    try:
        data = json.loads(spec_cache_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or "spec" not in data:
        return None
    return data["spec"]


def _store_cached(source: bytes, document: Any) -> None:
    """Keep ``document`` (the YAML parsed) for ``source`` when JSON carries it exactly."""
    try:
        text = json.dumps({"key": spec_key(source), "spec": document}, ensure_ascii=False)
    except (TypeError, ValueError):
        return
    if json.loads(text)["spec"] != document:
        return
    write_cache(spec_cache_path(spec_key(source)), text)


def write_cache(path: Path, text: str) -> None:
    """Write a cache file atomically (a temporary file, then a rename); a cache that cannot
    be written is simply not kept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
