"""Exceptions the library raises for user-facing problems.  The CLI turns every
:class:`XltoolsError` into a clean message (text, or JSON under ``--format json``)
in the command's language and its ``exit_code``; the library never imports click.

An error is a record like an issue: a stable ``code``, a message ``template``
(:class:`~xltools.messages.Label`, Japanese and English) and its ``params``::

    class StoreLockedError(StoreError):
        code = "db-locked"
        template = Label("データベースが使用中です: {url}", "the database is busy: {url}")

    raise StoreLockedError(url=url)          # str(e): Japanese; e.message("en")

A plain text (``raise XltoolsError("...")``) is shown as it is, in either language.

Exit codes, for scripts: 0 all good, 1 data problems found (files with errors,
rejected files, roster rows skipped), 2 usage error (the command line is wrong:
:class:`UsageError`), 3 the tool could not do its job (every other error).
"""
from __future__ import annotations

from typing import Any

from xltools.messages import Label

#: exit codes of every command (see the module docs)
EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class XltoolsError(Exception):
    """A problem the user can fix: a bad settings file, an unusable database, a
    file that cannot be written.  ``code`` is stable (``{"error": {"code": ...}}``)."""

    code = "failed"
    exit_code = EXIT_FAILED
    #: the message of this class, filled from the parameters (None: the text given)
    template: Label | None = None

    def __init__(self, text: str | Label | None = None, /, **params: Any):
        self._params = params
        self._text = text
        super().__init__(self.message())

    @property
    def params(self) -> dict[str, Any]:
        """The values the message is made of (also in the JSON output)."""
        return self._params

    def message(self, lang: str | None = None) -> str:
        """The message in ``lang`` (``ja`` / ``en``); both, Japanese first, when no language
        is asked for (``str(error)``)."""
        text = self._text if self._text is not None else self.template
        if text is None:
            return self.code
        if isinstance(text, Label):
            if lang is None:
                return "\n".join(dict.fromkeys(self.message(x) for x in ("ja", "en")))
            return text.format(lang, **self.params) if self.params else text(lang)
        return text.format_map(_Params(self.params)) if self.params else text

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        """``{"code", "message", "params"}``: what ``--format json`` prints."""
        return {"code": self.code, "message": self.message(lang),
                "params": {k: v if isinstance(v, (int, float, bool)) or v is None else str(v)
                           for k, v in self.params.items()}}


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class UsageError(XltoolsError):
    """The command line is wrong: a bad option value, a missing or unknown argument."""

    code = "usage"
    exit_code = EXIT_USAGE


class UnknownLanguageError(UsageError):
    code = "unknown-language"
    template = Label("言語は {allowed} のいずれかにしてください（指定: {value!r}）",
                     "language must be one of {allowed}, got {value!r}")


class WinRateError(UsageError):
    code = "bad-win-rate"
    template = Label("勝率は 0 より大きく 1 以下の割合にしてください（指定: {value!r}）",
                     "win rate must be a fraction between 0 and 1, got {value!r}")


class UnknownFormatError(UsageError):
    code = "unknown-format"
    template = Label("形式 {value!r} は使えません（{allowed}）", "unknown format {value!r}: {allowed}")


# -- the template spec ------------------------------------------------------------------------
# What can be wrong with a template spec (xltools.spec.spec builds it): ``where`` names the
# entry (``sections > overview > account_name``).  SpecError itself still takes a plain text
# for the checks other stages make of the spec.

class SpecError(XltoolsError, ValueError):
    """The template spec (or a config that modifies it) is malformed."""

    code = "spec"


class SpecNotFoundError(SpecError):
    code = "spec-not-found"
    template = Label("workbook_templates/account_plan.yaml が見つかりません",
                     "cannot find workbook_templates/account_plan.yaml")


class SpecReadError(SpecError):
    code = "spec-unreadable"
    template = Label("{path}: 読み込めません（{reason}）", "{path}: cannot read: {reason}")


class SpecYamlError(SpecError):
    code = "spec-not-yaml"
    template = Label("{path}: YAML として正しくありません: {reason}", "{path}: not valid YAML: {reason}")


class SpecDocumentError(SpecError):
    code = "spec-document"
    template = Label("spec: 文書はマッピングにしてください", "spec: the document must be a mapping")


class SpecMissingKeyError(SpecError):
    code = "spec-missing-key"
    template = Label("spec: 最上位のキー {key!r} がありません", "spec: missing top-level key {key!r}")


class SpecLabelError(SpecError):
    code = "spec-label"
    template = Label("{where}: 空でない 'ja' と 'en' のラベルが必要です（値: {value!r}）",
                     "{where}: needs a label with non-empty 'ja' and 'en' texts, got {value!r}")


class SpecKeyCaseError(SpecError):
    code = "spec-key-case"
    template = Label("{where}: キー {value!r} は小文字のスネークケースにしてください",
                     "{where}: key {value!r} must be lower snake_case")


class SpecKeyCellError(SpecError):
    code = "spec-key-cell"
    template = Label("{where}: キー {value!r} がセル番地のように見えます",
                     "{where}: key {value!r} looks like a cell reference")


class SpecMappingError(SpecError):
    code = "spec-mapping"
    template = Label("{where}: マッピングが必要です（値: {value!r}）", "{where}: expected a mapping, got {value!r}")


class SpecUnknownAttributeError(SpecError):
    code = "spec-unknown-attribute"
    template = Label("{where}: 不明な属性があります {unknown}", "{where}: unknown attribute(s) {unknown}")


class SpecTypeError(SpecError):
    code = "spec-type"
    template = Label("{where}: 型 {type!r} は {allowed} のいずれでもありません",
                     "{where}: type {type!r} is not one of {allowed}")


class SpecUndeclaredListError(SpecError):
    code = "spec-undeclared-list"
    template = Label("{where}: 選択肢リスト {choices!r} が 'choices' に宣言されていません",
                     "{where}: choice list {choices!r} is not declared under 'choices'")


class SpecChoicesNotChoiceError(SpecError):
    code = "spec-choices-not-choice"
    template = Label("{where}: 'choices' が指定されていますが型は {type!r} です",
                     "{where}: 'choices' given but type is {type!r}")


class SpecFormulaMissingError(SpecError):
    code = "spec-formula-missing"
    template = Label("{where}: 型 {type!r} には数式が必要です", "{where}: type {type!r} needs a formula")


class SpecFormulaTextError(SpecError):
    code = "spec-formula-text"
    template = Label("{where}: 数式は '=' で始まる文字列にしてください",
                     "{where}: formula must be a string starting with '='")


class SpecFormulaRequiredError(SpecError):
    code = "spec-formula-required"
    template = Label("{where}: 数式の項目を必須入力にはできません", "{where}: a formula cannot be required input")


class SpecDefinitionError(SpecError):
    code = "spec-definition"
    template = Label("{where}: 数式の項目には 'definition' {{ja, en}}（その数値のただ一つの定義）が必要です",
                     "{where}: a formula field needs a 'definition' {{ja, en}} (the one definition of the figure)")


class SpecOverdueError(SpecError):
    code = "spec-overdue-unless"
    template = Label("{where}: overdue_unless は日付の列と {{column: ..., keys: [...]}} が必要です",
                     "{where}: overdue_unless needs a date column and {{column: ..., keys: [...]}}")


class SpecDefaultError(SpecError):
    code = "spec-default"
    template = Label("{where}: 既定値 {default!r} は {choices!r} のキーではありません",
                     "{where}: default {default!r} is not a key of {choices!r}")


class SpecChoicesError(SpecError):
    code = "spec-choices"
    template = Label("choices: リスト名 -> 項目 のマッピングが必要です",
                     "choices: expected a mapping of list name -> entries")


class SpecChoiceListEmptyError(SpecError):
    code = "spec-choice-list-empty"
    template = Label("choices > {name}: 空でないリストが必要です", "choices > {name}: expected a non-empty list")


class SpecChoiceKeyError(SpecError):
    code = "spec-choice-key"
    template = Label("{where}: 選択肢には 'key' が必要です", "{where}: each choice needs a 'key'")


class SpecDuplicateChoiceError(SpecError):
    code = "spec-duplicate-choice"
    template = Label("{where}: 選択肢のキー {key!r} が重複しています", "{where}: duplicate choice key {key!r}")


class SpecToneError(SpecError):
    code = "spec-tone"
    template = Label("{where}: tone {tone!r} は {allowed} のいずれでもありません",
                     "{where}: tone {tone!r} is not one of {allowed}")


class SpecMeansError(SpecError):
    code = "spec-means"
    template = Label("{where}: means は小文字スネークケースの語の並びにしてください（値: {value!r}）",
                     "{where}: means must be a list of lower snake_case words, got {value!r}")


class SpecMeaningCountError(SpecError):
    code = "spec-meaning-count"
    template = Label("choices > {name}: {tag!r} を意味する選択肢はちょうど一つにしてください（{found}）",
                     "choices > {name}: exactly one choice must mean {tag!r}, found {found}")


class SpecHandoverValueError(SpecError):
    code = "spec-handover-value"
    template = Label("{where}: handover は {allowed} のいずれかにしてください（値: {value!r}）",
                     "{where}: handover must be one of {allowed}, got {value!r}")


class SpecSearchWeightError(SpecError):
    code = "spec-search-weight"
    template = Label("{where}: search_weight は正の整数にしてください（値: {value!r}）",
                     "{where}: search_weight must be a positive integer, got {value!r}")


class SpecHandoverError(SpecError):
    code = "spec-handover"
    template = Label("{where}: carry / drop_if / drop_before のマッピングが必要です（値: {value!r}）",
                     "{where}: expected a mapping with carry / drop_if / drop_before, got {value!r}")


class SpecDropIfColumnError(SpecError):
    code = "spec-drop-if-column"
    template = Label("{where}: drop_if の列 {column!r} は表の選択肢の列ではありません",
                     "{where}: drop_if column {column!r} is not a choice column of the table")


class SpecDropIfKeysError(SpecError):
    code = "spec-drop-if-keys"
    template = Label("{where}: drop_if {column}: {keys} は {choices!r} のキーではありません",
                     "{where}: drop_if {column}: {keys} are not keys of {choices!r}")


class SpecDropBeforeError(SpecError):
    code = "spec-drop-before"
    template = Label("{where}: drop_before {column!r} は表の日付の列ではありません",
                     "{where}: drop_before {column!r} is not a date column of the table")


class SpecDuplicateSectionError(SpecError):
    code = "spec-duplicate-section"
    template = Label("{where}: セクションが重複しています", "{where}: duplicate section")


class SpecDuplicateFieldError(SpecError):
    code = "spec-duplicate-field"
    template = Label("{where}: 項目のキーが重複しています（{other} にもあります）",
                     "{where}: duplicate field key (also in {other})")


class SpecTableNameError(SpecError):
    code = "spec-table-name"
    template = Label("{where}: 表の名前は英字と数字のキャメルケースにしてください",
                     "{where}: table name must be CamelCase letters and digits")


class SpecDuplicateTableError(SpecError):
    code = "spec-duplicate-table"
    template = Label("{where}: 表の名前が重複しています", "{where}: duplicate table name")


class SpecDuplicateColumnError(SpecError):
    code = "spec-duplicate-column"
    template = Label("{where}: 列のキーが重複しています", "{where}: duplicate column key")


class SpecNoColumnsError(SpecError):
    code = "spec-no-columns"
    template = Label("{where}: 表には列が必要です", "{where}: a table needs columns")


class SpecDuplicateHeaderError(SpecError):
    code = "spec-duplicate-header"
    template = Label("{where}: {lang} の見出しが重複しています", "{where}: duplicate {lang} header labels")


class SpecIdColumnError(SpecError):
    code = "spec-id-column"
    template = Label("{where}: id_column {column!r} は列ではありません", "{where}: id_column {column!r} is not a column")


class SpecSourceError(SpecError):
    code = "spec-source"
    template = Label("{where}: source {source!r} は表の列を指していません",
                     "{where}: source {source!r} does not name a table column")


class SpecOverdueColumnError(SpecError):
    code = "spec-overdue-column"
    template = Label("{where}: overdue_unless の列 {column!r} は表の列ではありません",
                     "{where}: overdue_unless column {column!r} is not a column of the table")


class SpecOverdueKeysError(SpecError):
    code = "spec-overdue-keys"
    template = Label("{where}: overdue_unless のキー {keys} は列 {column!r} の選択肢ではありません",
                     "{where}: overdue_unless keys {keys} are not choices of column {column!r}")


class SpecSheetNamesError(SpecError):
    code = "spec-sheet-names"
    template = Label("sections: {lang} のシート名が重複しています", "sections: duplicate {lang} sheet names")


class SpecSheetNameError(SpecError):
    code = "spec-sheet-name"
    template = Label("sections: {lang} のシート名が長すぎるか使えない文字を含みます",
                     "sections: a {lang} sheet name is too long or has a forbidden character")


class SpecContractError(SpecError):
    code = "spec-contract"
    template = Label("{where}: xltools が必要とするものが spec にありません: {problems}",
                     "{where}: the spec does not give what xltools relies on: {problems}")


class SpecRulesTableError(SpecError):
    code = "spec-rules-table"
    template = Label("ルールが表 {table!r} を必要としていますが spec にありません",
                     "rules ask for table {table!r}, which the spec does not have")
