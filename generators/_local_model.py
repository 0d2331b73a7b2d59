"""The embedded default model: llama.cpp's server with a bundled GGUF (generators/_bundled.py).

When no endpoint is configured, backchain starts ``python -m llama_cpp.server``
on a free loopback port with the bundled model ``--local-model`` names
(default ``base``: Qwen2.5-Coder-1.5B-Instruct; ``tiny``, the 135M plumbing
model, for tests that only exercise request paths), waits until it answers, and
stops it at the end. The server runs under the guard (it dies with the run),
with ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep instead of spinning: about
twice the generation speed when the two cores are contended) and as many
threads as cores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from schemas import ModelUnavailable

from ._bundled import BUNDLED, resolve_local_model
from ._children import guarded_command
from ._llm import Endpoint

#: Seconds one request to the bundled model may take: its own work on 2 busy CPU cores.
BUNDLED_REQUEST_TIMEOUT = 900.0


def bundled_gguf(model: str = "tiny") -> Path:
    """Path of a bundled GGUF (joined and verified on first use), or a ModelUnavailable saying how to install it."""
    return resolve_local_model(model)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """Context manager running llama.cpp's OpenAI-compatible server on loopback."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        n_ctx: int | None = None,
        startup_timeout: float = 120.0,
        log_path: Path | None = None,
        request_timeout: float = BUNDLED_REQUEST_TIMEOUT,
        note: Callable[[str], None] | None = None,
    ) -> None:
        """``model``: a bundled size (tiny, small, base), a .gguf path, or None for
        $BACKCHAIN_LOCAL_MODEL, else base."""
        self.model_path, self.alias = resolve_local_model(None if model is None else str(model), note)
        bundled = next((m for m in BUNDLED.values() if m.file_name == self.model_path.name), None)
        n_ctx = n_ctx or (bundled.n_ctx if bundled else 4096)
        # The server's verbose log (one "prompt eval time = ... / N tokens" line per
        # request); a temporary file unless a path is given to read it afterwards.
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> Endpoint:
        # llama-cpp-python's server computes one request at a time: serial, with a timeout for one
        # request's own work on a slow, possibly busy CPU.
        return Endpoint(url=f"http://127.0.0.1:{self.port}/v1", model=self.alias, flavor="llama.cpp",
                        cache_scope=self.cache_scope, timeout=self.request_timeout, serial=True)

    @property
    def cache_scope(self) -> str:
        """The model file (name and size) and the llama.cpp build: what the replies depend on, not the port."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            build = version("llama_cpp_python")
        except PackageNotFoundError:  # pragma: no cover - the server could not start without it
            build = "unknown"
        size = self.model_path.stat().st_size if self.model_path.is_file() else 0
        return f"llama.cpp-local:{self.model_path.name}:{size}:llama-cpp-python {build}:n_ctx {self.n_ctx}"

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def start(self) -> Endpoint:
        self.port = free_port()
        self._log = open(self.log_path, "w+b") if self.log_path else tempfile.TemporaryFile()
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(os.cpu_count() or 1),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        try:
            # Under the guard, in a session of its own: it dies with this process (SIGKILL included)
            # and a Ctrl+C in the terminal reaches the run, which stops it in order.
            self._proc = subprocess.Popen(
                guarded_command(cmd), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        except OSError as exc:
            raise ModelUnavailable(f"could not start llama.cpp server: {exc}") from exc
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://127.0.0.1:{self.port}/v1/models"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                tail = self._log_tail()
                self.stop()
                raise ModelUnavailable(
                    f"llama.cpp server exited with code {code} at start: {tail}"
                    " (is llama-cpp-python[server] installed? run `make install`)"
                )
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return self.endpoint
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ModelUnavailable(f"llama.cpp server did not answer on port {self.port} within {self.startup_timeout:.0f} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
