"""Shared fixtures: real servers, real databases, an isolated home for each test.

Prefect reads its settings at import, so its home and analytics switch are set
here, before anything imports prefect.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="backchain-test-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)  # Prefect's session home, not kept
os.environ["PREFECT_HOME"] = str(_SESSION_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
# The bundled 135M plumbing model wherever a test does not name one (fixtures of every scope and
# subprocesses included): tests of request paths need a model that answers in seconds. Tests of
# judging and writing quality ask for base.
os.environ["BACKCHAIN_LOCAL_MODEL"] = "tiny"

BUILTIN_CMD = [sys.executable, "-m", "generators.builtin"]
TIME_CMD = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point backchain's home at tmp and drop endpoint settings from the caller's env."""
    monkeypatch.setenv("BACKCHAIN_HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith(("BACKCHAIN_LLM", "BACKCHAIN_JUDGE", "BACKCHAIN_DB")):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the session (about 12 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def llama_endpoint() -> Iterator[object]:
    """The real llama.cpp server with the bundled SmolLM2-135M GGUF."""
    from generators import LocalModelServer

    with LocalModelServer("tiny") as endpoint:
        yield endpoint
