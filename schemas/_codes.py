"""Standard codes and the names people say for them: ISO 3166-1 countries, ISO 4217 currencies.

A tool takes ``country_code: "FR"``; a person asks about France. The writers say the name, and
every comparison of a user value with text (provenance, leakage, a withheld value) accepts either
spelling, whether or not a recorded output gives the pair (`schemas._text.code_name_aliases`
covers the pairs an output gives). Which parameters hold such codes is read from their names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_CODE = re.compile(r"^[A-Za-z]{2,3}$")
# Names read with "the": "holidays in the United States", "the Netherlands".
_THE = re.compile(r"^United\b|\b(?:States|Kingdom|Emirates|Republic|Federation|Islands|Netherlands|Philippines|"
                  r"Bahamas|Gambia|Maldives|Comoros|Seychelles)$")


def code_kind(param: str) -> str | None:
    """'country' or 'currency' when a parameter's name says it holds such a code, else None."""
    words = set(re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", param).lower()))
    if words & {"country", "nation"}:
        return "country"
    if "currency" in words:
        return "currency"
    return None


@lru_cache(maxsize=2048)
def standard_name(kind: str, code: str) -> str | None:
    """The name people use for a country or currency code ('FR' -> 'France', 'US' -> 'the United
    States', 'INR' -> 'the Indian Rupee'), or None when the code is not a standard one."""
    if not isinstance(code, str) or not _CODE.match(code.strip()):
        return None
    import pycountry  # its tables load on first use

    code = code.strip().upper()
    if kind == "country":
        country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
        if country is None:
            return None
        name = getattr(country, "common_name", None) or country.name
        if "," in name or "(" in name:
            return None
        return f"the {name}" if _THE.search(name) else name
    if kind == "currency" and len(code) == 3:
        currency = pycountry.currencies.get(alpha_3=code)
        if currency is None or "," in currency.name or "(" in currency.name or code.startswith("X"):
            return None  # X..: gold, drawing rights, test codes: no everyday name
        return f"the {currency.name}"
    return None


def bare(name: str) -> str:
    """The name without its article ('the United States' -> 'United States')."""
    return name[4:] if name.startswith("the ") else name


def standard_code_aliases(arguments: Iterable[tuple[str, Any]]) -> dict[str, set[str]]:
    """Code <-> name pairs for the standard codes among (parameter, value) pairs, keyed like
    `code_name_aliases` (normalised text), so the two merge."""
    from ._text import normalise_text

    aliases: dict[str, set[str]] = {}
    for param, value in arguments:
        kind = code_kind(param)
        name = standard_name(kind, value) if kind is not None and isinstance(value, str) else None
        if name is None:
            continue
        aliases.setdefault(normalise_text(value), set()).add(bare(name))
        aliases.setdefault(normalise_text(bare(name)), set()).add(value)
    return aliases
