"""Query results as JSON values: what `backchain sql --format json` prints and the report's data-value holds."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any


def jsonable(value: Any) -> Any:
    """JSON scalars as they are, times as ISO text, NaN and infinities as null, anything else as text."""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
