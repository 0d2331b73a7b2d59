"""What a text states that no recorded value does: the `grounded` gate's reading.

A rewrite may only repeat the numbers, dates and times that the recorded outputs and the
user's words hold. This reads a text with the normaliser's own readers (``schemas._text``);
it is not part of the answer checker that a trl-grpo export inlines.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable
from typing import Any

from ._text import (
    _CLOCK,
    _DAY_RE,
    _ISO_DATE,
    _ISO_DATETIME,
    _MONTH_RE,
    _MONTHS,
    _number_matches,
    _seconds,
    dates_in,
    normalise_text,
    numbers_in,
    parse_when,
    times_in,
)

_DAY_ONLY = [
    re.compile(rf"(?<![\w]){_MONTH_RE}\s+{_DAY_RE}(?![\d:])(?!,?\s+\d{{4}})"),
    re.compile(rf"(?<![\w\d]){_DAY_RE}\s+(?:of\s+)?{_MONTH_RE}(?!,?\s+\d{{4}})"),
]


def _days_in(text: str) -> list[tuple[str, int, int]]:
    """Days of the year written without a year ('February 25', '25th of February'): (text, month, day)."""
    norm = normalise_text(text)
    out = []
    for pattern in _DAY_ONLY:
        for m in pattern.finditer(norm):
            month, day = _MONTHS[m.group("mon")], int(m.group("day"))
            if 1 <= day <= 31:
                out.append((m.group(0), month, day))
    return out



def unsupported_numbers(text: str, allowed_texts: Iterable[str], allowed_values: Iterable[Any] = ()) -> list[str]:
    """Numbers (and dates, times) ``text`` states that none of the allowed texts or values state.

    A rewrite may only repeat what the recorded outputs and the user's words contain:
    "sqrt(144) + 7 is 25.83" is caught when no output says 25.83. Ordinals and numbers
    inside dates and times are read as the dates and times they are part of.
    """
    allowed_text = " \n ".join(allowed_texts)
    allowed = [v for v in allowed_values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    allowed_strings = [v for v in allowed_values if isinstance(v, str)]
    pool = numbers_in(allowed_text)
    pool_dates = set(dates_in(allowed_text))
    for s in allowed_strings:
        pool += numbers_in(s)
        pool_dates |= set(dates_in(s))
        if _ISO_DATE.match(s.strip()) or _ISO_DATETIME.match(s.strip()):
            when = parse_when(s)
            if when is not None:
                pool_dates.add(when.date() if isinstance(when, _dt.datetime) else when)
    pool_times = set(times_in(allowed_text))
    pool_times |= {int(v) * 3600 for v in allowed if float(v).is_integer() and 0 <= v <= 23}  # an hour 8 = 8 a.m.
    for s in allowed_strings:
        pool_times |= set(times_in(s))
        if _ISO_DATETIME.match(s.strip()):
            when = parse_when(s)
            if isinstance(when, _dt.datetime):
                pool_times.add(_seconds(when))
        clock = _CLOCK.match(s.strip())
        if clock:
            pool_times.add(int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + int(clock.group(3) or 0))
    targets = [n.value for n in pool] + [float(v) for v in allowed]
    targets += [float(d.year) for d in pool_dates] + [float(d.day) for d in pool_dates]
    targets += [float(d.month) for d in pool_dates]
    targets += [float(t // 3600) for t in pool_times] + [float(t // 3600 % 12 or 12) for t in pool_times]
    targets += [float(t // 60 % 60) for t in pool_times]
    bad: list[str] = [d.isoformat() for d in dates_in(text) if d not in pool_dates]
    days = {(d.month, d.day) for d in pool_dates}
    bad += [said for said, month, day in _days_in(text) if (month, day) not in days]  # "on February 25"
    for t in times_in(text):
        if not any(abs(t - p) < 60 for p in pool_times):
            bad.append(f"{t // 3600:02d}:{t // 60 % 60:02d}")
    for n in numbers_in(text):
        if n.word and n.value <= 2:
            continue  # "one of", "two things": not a claim
        if any(_number_matches(t, n, unit=None, rounding="stated") or t == n.value
               or (n.percent and math.isclose(t * 100, n.value)) for t in targets):
            continue
        bad.append(f"{n.value:g}")
    return bad
