"""Texts people read, in Japanese and English.

:class:`Label` is one text in both languages (``label(lang)``); a template's ``{name}``
fields are filled from parameters (``label.format(lang, **params)``).  Error classes
(:mod:`xltools.errors`) carry a ``template`` Label and their parameters, so a message is
rendered in the language of the command (``--lang``), like an issue.  This module imports
nothing else of xltools: every layer may use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

#: the languages of every text (Japanese first: the default of workbooks)
LANGS = ("ja", "en")
DEFAULT_LANG = "ja"

#: the parameters of a message: any value ``str.format`` shows (text, numbers, dates), and
#: a :class:`Bilingual` or :class:`Label`, shown in the language of the message
Params = dict[str, Any]


class Bilingual(TypedDict):
    """A message parameter in both languages, as stored and printed in JSON."""

    ja: str
    en: str


@dataclass(frozen=True)
class Label:
    """One text in Japanese and English."""

    ja: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja

    def all(self) -> tuple[str, str]:
        return (self.ja, self.en)

    def format(self, lang: str, /, **params: Any) -> str:
        """The text in ``lang`` with ``{name}`` fields filled (a missing parameter stays
        visible as ``{name}`` rather than failing: a message must always be shown)."""
        return self(lang).format_map(_Keep(params))


class _Keep(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
