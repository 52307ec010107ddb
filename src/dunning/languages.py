"""The customer's language from what shops write in their exports: codes, locales and names."""
from __future__ import annotations

import re

import pandas as pd
from babel import Locale, UnknownLocaleError

# Names of the languages the reminders are written in, as they are written in those languages.
NAMES = {
    "de": ("deutsch", "german", "allemand", "duits", "ger", "deu"),
    "en": ("english", "englisch", "anglais", "engels", "eng"),
    "fr": ("francais", "français", "french", "französisch", "franzoesisch", "frans", "fra", "fre"),
    "nl": ("nederlands", "dutch", "niederländisch", "niederlaendisch", "néerlandais", "neerlandais", "vlaams",
           "flemish", "nld", "dut"),
}
_BY_NAME = {name: code for code, names in NAMES.items() for name in names}
_LOCALE = re.compile(r"^([a-z]{2,3})(?:[-_ ][a-z0-9]{2,8})*$")


def code(text: str) -> str | None:
    """'de', 'de-AT', 'en us', 'Deutsch', 'english' -> a language code babel knows; '' for empty; None when unknown."""
    folded = text.strip().lower()
    if not folded:
        return ""
    if folded in _BY_NAME:
        return _BY_NAME[folded]
    match = _LOCALE.match(folded)
    if match is None:
        return None
    try:
        return Locale.parse(match.group(1)).language
    except (UnknownLocaleError, ValueError):
        return None


def resolve(languages: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Per row the language code ("" where none was given or it is not a language), and True where the
    cell held something that is not a language (those rows get the fallback language)."""
    distinct = {value: code(value) for value in languages.unique()}
    codes = languages.map(lambda v: distinct[v] or "").astype("string")
    unknown = languages.map(lambda v: distinct[v] is None).astype(bool)
    return codes, unknown


def for_templates(languages: pd.Series, available: set[str], fallback: str) -> pd.Series:
    """The language each customer's message is written and formatted in: theirs where a template exists,
    else the fallback, so that text, dates and amounts never mix languages."""
    return languages.fillna("").astype("string").where(languages.fillna("").isin(available), fallback)


def typeset(text: str, language: str) -> str:
    """The language's typography: in French a narrow no-break space (U+202F) before : ; ? and !."""
    return _FRENCH_SPACE.sub("\u202f\\1", text) if language.startswith("fr") else text


_FRENCH_SPACE = re.compile(r"[ \u00a0]([:;?!])")
