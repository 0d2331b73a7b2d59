"""Prefect settings that must be in place before prefect is first imported.

Prefect reads its settings at import. Without a server it starts a temporary
one per process; analytics on that server print "database is locked" and
telemetry errors, so they are off, and its home is the project's own
(data/prefect unless PREFECT_HOME is set). Its log lines go to WARNING so the
terminal shows backchain's progress, not Prefect's chatter.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from schemas import BackchainError


def home_dir() -> Path:
    """backchain's home: BACKCHAIN_HOME, else ./data."""
    return Path(os.environ.get("BACKCHAIN_HOME", "data"))


def configure_prefect_env() -> None:
    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str((home_dir() / "prefect").resolve())))
    prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")


class _ExpectedErrorFilter(logging.Filter):
    """Drop Prefect's console errors and tracebacks: backchain reports every failure itself in one line.

    The records still reach the Prefect API (the UI keeps the traceback); only
    the terminal is spared a stack trace for a bad flag or a missing server.
    With --debug (BACKCHAIN_DEBUG=1) unexpected errors are shown as Prefect logs them.
    """

    def __init__(self) -> None:
        super().__init__()
        names: set[str] = set()
        todo: list[type[BaseException]] = [BackchainError]
        while todo:
            cls = todo.pop()
            names.add(cls.__name__)
            todo.extend(cls.__subclasses__())
        self._pattern = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b[:(]")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], BackchainError):
            return False
        if record.levelno >= logging.ERROR and self._pattern.search(record.getMessage()):
            return False
        debug = os.environ.get("BACKCHAIN_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
        return debug or record.levelno < logging.ERROR


def quiet_expected_errors() -> None:
    """Attach the filter to Prefect's console handlers (call once logging is set up)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and not any(
                isinstance(f, _ExpectedErrorFilter) for f in handler.filters
            ):
                handler.addFilter(_ExpectedErrorFilter())
