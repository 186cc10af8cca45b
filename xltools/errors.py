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
